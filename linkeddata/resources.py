"""Package data: bundled contexts, queries and frames.

In an installed wheel the top-level ``contexts/`` and ``queries/`` folders of the
source tree live inside the package (``linkeddata/contexts``, ``linkeddata/queries``);
in a source checkout they are read from the repository root.

>>> asset_path("contexts", "kbv.jsonld").name
'kbv.jsonld'
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """The folder of a kind of bundled asset (``contexts``, ``queries``, ``frames``)."""
    packaged = files("linkeddata") / name
    if packaged.is_dir():
        return Path(str(packaged))
    source_tree = _PACKAGE_DIR.parent / name
    if source_tree.is_dir():
        return source_tree
    raise FileNotFoundError(f"bundled asset folder {name!r} is missing from this installation")


def asset_path(name: str, *parts: str) -> Path:
    """A file inside a bundled asset folder."""
    return asset_dir(name).joinpath(*parts)
