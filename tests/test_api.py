"""The public API in ``linkeddata/__init__``: every name resolves, and type checkers see the lazy ones."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import linkeddata as ld

INIT = Path(ld.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name → module (relative to ``linkeddata``) imported under ``if TYPE_CHECKING:`` in ``__init__``."""
    tree = ast.parse(INIT.read_text("utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1 and node.module, ast.unparse(node)
        for alias in node.names:
            assert alias.asname == alias.name, f"{ast.unparse(node)}: re-export as `import {alias.name} as {alias.name}`"
            found[alias.name] = node.module
    return found


def test_type_checkers_see_every_lazy_name():
    lazy = ld._LAZY
    seen = _type_checking_imports()
    missing = {n: m for n, m in lazy.items() if seen.get(n) != m}
    extra = {n: m for n, m in seen.items() if lazy.get(n) != m}
    assert not missing and not extra, (
        "linkeddata/__init__.py: each _LAZY entry needs `from .MODULE import NAME as NAME` under TYPE_CHECKING; "
        f"missing or different there: {missing}; there but not in _LAZY: {extra}")


def test_every_public_name_is_what_it_says_even_after_all_submodules_load():
    """A lazy name that equals a submodule's turns into the module once that submodule is imported."""
    for info in pkgutil.walk_packages(ld.__path__, "linkeddata."):
        if info.name.startswith(("linkeddata.notebook", "linkeddata.emulator", "linkeddata.testing.pytest_plugin")):
            continue  # optional extras / heavy; names from them are checked below through the lazy table
        importlib.import_module(info.name)
    for name in ld.__all__:
        value = getattr(ld, name)
        assert not isinstance(value, types.ModuleType), f"linkeddata.{name} is a module, not the public object"
    assert callable(ld.progress)
