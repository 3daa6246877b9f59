"""linkeddata.testing: the emulator's public face and the pytest plugin (its wheel test is in test_packaging)."""

from __future__ import annotations

import ast
from pathlib import Path

import linkeddata.testing as testing
from linkeddata.emulator import Emulator
from linkeddata.testing import pytest_plugin

CONFTEST = Path(__file__).with_name("conftest.py")


def _fixture_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and any(
        "fixture" in ast.unparse(d) for d in node.decorator_list)}


def test_testing_re_exports_the_emulator():
    assert testing.Emulator is Emulator
    assert set(testing.__all__) <= set(dir(testing))
    for name in testing.__all__:
        assert getattr(testing, name) is not None


def test_the_plugin_is_loaded_here_and_its_names_do_not_clash(pytestconfig):
    assert pytestconfig.pluginmanager.get_plugin("linkeddata") is pytest_plugin
    plugin = _fixture_names(Path(pytest_plugin.__file__))
    assert {"ld_emulator", "ld_session", "ld_store", "ld_emulator_options"} <= plugin
    assert not plugin & _fixture_names(CONFTEST)


def test_ld_store_is_empty_and_private(ld_store):
    assert len(ld_store) == 0 and ld_store.path is None
