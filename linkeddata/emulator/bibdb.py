"""Emulated Swedish library database (Biblioteksdatabasen) API.

Routes (JSON shape: see :mod:`linkeddata.organisations.bibdb`, an assumption):

* ``GET /api?sigel=*&holdings=True&org_type=library&start=<n>``: ``{"libraries": [...]}``
  sorted by sigel, ``page size`` items from ``start``; an empty array past the end.
  ``sigel`` is ``*``, an exact sigel, or a prefix ending in ``*``; ``org_type`` is
  ``library`` (default) or ``bibliography``. The page size is 200, or
  ``emu.options["bibdb_page_size"]``, or the hidden ``_pagesize`` parameter (tests).
* ``GET /api/library?sigel=<sigel>``: the library object; 404 when unknown.

Data: ``data/organisations/bibdb-libraries.json``. Sigels S, Uu, L, G, Umu, Lkp and Sthm
match the real libraries (names, cities and approximate coordinates are public facts);
the other sigels are invented. The sigel ``Zz`` deliberately does not exist.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from .server import Request, Response, Route, Service

DATA_FILE = Path(__file__).resolve().parent / "data" / "organisations" / "bibdb-libraries.json"
PAGE_SIZE = 200


@lru_cache(maxsize=1)
def load_libraries() -> tuple[dict[str, Any], ...]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return tuple(sorted(data["libraries"], key=lambda lib: lib["sigel"]))


def _sigel_matches(sigel: str, pattern: str) -> bool:
    if pattern in ("", "*"):
        return True
    if pattern.endswith("*"):
        return sigel.startswith(pattern[:-1])
    return sigel == pattern


def build(emu: Any) -> Service:
    default_size = int(emu.options.get("bibdb_page_size", PAGE_SIZE))
    service = Service("bibdb")

    def listing(req: Request) -> Response:
        try:
            start = max(int(req.arg("start", "0") or 0), 0)
            size = int(req.arg("_pagesize", str(default_size)) or default_size)
        except ValueError:
            return Response.json({"error": "start must be a number"}, status=400)
        size = max(size, 1)
        org_type = (req.arg("org_type") or "library").lower()
        pattern = req.arg("sigel", "*") or "*"
        hits = [lib for lib in load_libraries()
                if (lib.get("org_type") or "library") == org_type and _sigel_matches(lib["sigel"], pattern)]
        return Response.json({"libraries": hits[start:start + size]})

    def library(req: Request) -> Response:
        sigel = req.arg("sigel")
        if not sigel:
            return Response.json({"error": "sigel is required"}, status=400)
        for lib in load_libraries():
            if lib["sigel"] == sigel:
                return Response.json(lib)
        return Response.error(404, f"Library {sigel} not found")

    service.routes += [
        Route("GET", r"/api/?", listing),
        Route("GET", r"/api/library/?", library),
    ]
    return service
