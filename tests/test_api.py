"""The public API in ``linkeddata/__init__``: every name is the object it names."""

from __future__ import annotations

import importlib
import pkgutil
import types

import linkeddata as ld


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


def test_type_checkers_see_every_lazy_name():
    """``linkeddata/__init__`` imports each ``_LAZY`` name from its module under TYPE_CHECKING, and no other."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(ld.__file__).read_text("utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    seen = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.unparse(node)
        for alias in node.names:
            assert alias.asname == alias.name, f"{alias.name}: re-export it as itself (`X as X`)"
            seen[alias.name] = node.module
    assert seen == ld._LAZY
