"""The package's layers: each module imports only from its own layer or the ones below.

The order, lowest first (issue 12)::

    core     errors, config, http, records, auth, resources, tables, progress
    rdf      formats, jsonld, readers, profiles
    clients  libris/, organisations/
    store    the Store protocol, local and remote stores, queries, sources
    jobs     harvest, harvest_files, checkpoints, sync, build
    front    cli/, notebook, serve, the package's lazy API (``linkeddata/__init__``)
    testing  the emulator, linkeddata.testing, demo

Nothing outside ``testing`` imports the emulator, except the demo entry points in
:data:`DEMO`. Every ``import`` statement counts, also those inside functions and under
``TYPE_CHECKING`` (dynamic ``importlib`` imports of the lazy API do not).

There is no allow-list: every violation fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "linkeddata"

#: Layers, lowest first: module names relative to ``linkeddata`` (a name covers its submodules).
LAYERS: list[tuple[str, list[str]]] = [
    ("core", ["__about__", "errors", "config", "http", "records", "auth", "resources", "tables", "progress"]),
    ("rdf", ["jsonld", "readers", "profiles", "formats"]),
    ("clients", ["libris", "organisations"]),
    ("store", ["store_protocol", "store", "remote", "stores", "query", "query_run", "sources", "dump"]),
    ("jobs", ["checkpoints", "harvest", "harvest_files", "sync", "build", "buildconfig"]),
    ("front", ["", "__main__", "cli", "notebook", "serve"]),
    ("testing", ["emulator", "testing", "demo"]),
]

#: Modules outside ``testing`` that may import it: they exist to run the emulator for users.
DEMO: dict[str, str] = {
    "linkeddata.cli.emulator": "the `linkeddata emulator` and `linkeddata demo` commands run the emulator",
    "linkeddata": "the lazy API offers Emulator and run_demo (imported only under TYPE_CHECKING, for type checkers)",
}

def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``linkeddata/libris/read.py`` → ``linkeddata.libris.read``; a package's ``__init__`` → the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, source: str, is_package: bool = False) -> set[str]:
    """The ``linkeddata`` modules (or packages) that ``source`` imports anywhere in its text.

    ``from X import name`` counts as importing ``X.name`` when that is a module of the
    package, else ``X``.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "linkeddata")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "linkeddata":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _covers(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of the longest name that covers ``module``; ``None`` when none does."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            full = f"linkeddata.{name}" if name else "linkeddata"
            if (module == full or (name and _covers(full, module))) and (best is None or len(full) > best[0]):
                best = (len(full), index)
    return None if best is None else best[1]


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    graph = {}
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        graph[name] = imports_of(name, path.read_text("utf-8"), is_package=path.name == "__init__.py")
    return graph


def violations(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports from a higher layer, outside :data:`DEMO`."""
    found = []
    testing = next(i for i, (name, _) in enumerate(LAYERS) if name == "testing")
    for importer, targets in graph.items():
        own = layer_of(importer)
        for target in sorted(targets):
            theirs = layer_of(target)
            if own is None or theirs is None or theirs <= own:
                continue
            if theirs == testing and importer in DEMO:
                continue
            found.append((importer, target))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_layer(graph):
    missing = [m for m in graph if layer_of(m) is None]
    assert not missing, f"modules with no layer (add them to LAYERS in tests/test_layers.py): {missing}"


def test_modules_import_only_downward(graph):
    new = [f"{a} imports {b} ({LAYERS[layer_of(a)][0]} → {LAYERS[layer_of(b)][0]})"  # type: ignore[index]
           for a, b in violations(graph)]
    assert not new, "imports against the layer order:\n" + "\n".join(new)


def test_demo_entry_points_exist(graph):
    assert set(DEMO) <= set(graph)


def test_the_checker_finds_imports_in_every_form():
    source = (
        "import linkeddata.http\n"
        "from . import jsonld\n"
        "from ..emulator import Emulator\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from linkeddata.store import LocalStore\n"
        "def f():\n    from .harvest import harvest_find\n"
        "import os, requests\n"
    )
    assert imports_of("linkeddata.libris.read", source) == {
        "linkeddata.http", "linkeddata.libris", "linkeddata.emulator", "linkeddata.store", "linkeddata.libris.harvest"}
    assert imports_of("linkeddata.query", "from . import jsonld\nfrom .records import Record\n") == {
        "linkeddata.jsonld", "linkeddata.records"}
    assert imports_of("linkeddata.libris", "from .read import fetch_record\n", is_package=True) == {
        "linkeddata.libris.read"}


def test_the_checker_flags_upward_imports():
    graph = {
        "linkeddata.http": {"linkeddata.errors"},
        "linkeddata.store": {"linkeddata.harvest", "linkeddata.emulator"},
        "linkeddata.libris.read": {"linkeddata.libris.find", "linkeddata.profiles"},
        "linkeddata.cli.emulator": {"linkeddata.emulator"},
        "linkeddata.cli.core": {"linkeddata.testing", "linkeddata.build"},
        "linkeddata.testing.pytest_plugin": {"linkeddata.store", "linkeddata.emulator"},
    }
    assert violations(graph) == [("linkeddata.store", "linkeddata.emulator"), ("linkeddata.store", "linkeddata.harvest"),
                                 ("linkeddata.cli.core", "linkeddata.testing")]
    assert LAYERS[layer_of("linkeddata.notebook.session")][0] == "front"  # type: ignore[index]
    assert LAYERS[layer_of("linkeddata.store_protocol")][0] == "store"  # type: ignore[index]
    assert LAYERS[layer_of("linkeddata")][0] == "front"  # type: ignore[index]
    assert layer_of("linkeddata.unknown") is None
