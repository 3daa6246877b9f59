"""Emulated German ISIL agency JSON-LD API (seed 004).

Routes:

* ``GET /api/org.jsonld?q=…&size=…&page=…[&compact=1]``: a ``Collection`` with
  ``totalItems``, ``member`` and a ``PartialCollectionView`` (``first``, ``last``,
  ``previous``/``next`` as absolute links, ``pageIndex``, ``numberOfPages``, ``offset``,
  ``limit``, and ``totalItems`` = items on this page). ``size`` defaults to 10 and is
  clamped to ``emu.options["isil_max_size"]`` (default 100); ``page`` defaults to 1.
  No hits: ``totalItems`` 0, no ``member`` key, ``numberOfPages`` 0. A page past the
  end has no members and no ``next``. Missing ``q``: 400.
* ``GET /api/org/<ISIL>.jsonld``: one record (the member object with ``@context``);
  404 for an unknown ISIL.
* JSONP (seed 004): ``callback=<name>`` wraps the answer in ``name(…);``
  (``application/javascript``); with it, ``format=lookup`` answers only the most common data of
  each hit (``id``, ``identifier``, ``name``, ``location``, ``addressRegion``, ``type``) and
  ``format=data`` only the PICA+ ``data`` objects, as a JSON array. A callback name outside
  ``[A-Za-z_$][\\w$.]*`` is a 400.

Query language (as far as the emulator understands the agency's): terms
``field=value`` joined by ``AND``/``OR`` (``AND`` binds tighter), values matched as
case-insensitive substrings (``*`` is a wildcard; a lone ``*`` matches everything), a
bare term searches all fields. Fields: ``nam`` (names), ``ort`` (city), ``isl`` (ISIL,
whole-value match), ``sig`` (sigel), ``plz`` (postcode), ``str`` (street), ``lvr``
(interlibrary-loan region). Unknown fields match nothing.

Data: ``data/organisations/isil-records.json``, hand-written PICA+ records as JSON.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ..organisations.pica import PicaRecord, pica_from_json, pica_to_compact, pica_to_json
from .server import Request, Response, Route, Service

DATA_FILE = Path(__file__).resolve().parent / "data" / "organisations" / "isil-records.json"
DEFAULT_SIZE = 10
DEFAULT_MAX_SIZE = 100
CONTEXT = "http://www.w3.org/ns/hydra/context.jsonld"

_FIELDS = {
    "nam": (("029A", "a"), ("029@", "a")),
    "ort": (("032P", "b"),),
    "isl": (("008H", "e"),),
    "sig": (("008H", "d"),),
    "plz": (("032P", "e"),),
    "str": (("032P", "a"),),
    "lvr": (("035I", "a"),),
}


@lru_cache(maxsize=1)
def load_records() -> tuple[PicaRecord, ...]:
    """The fixture records, parsed once."""
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return tuple(pica_from_json(item, f"{DATA_FILE.name} item {i}") for i, item in enumerate(raw))


def _isil(rec: PicaRecord) -> str:
    return rec.first("008H", "e") or ""


def _values(rec: PicaRecord, field: str | None) -> list[str]:
    if field is None:
        return [v for spec in _FIELDS.values() for tag, code in spec for v in rec.values(tag, code)]
    return [v for tag, code in _FIELDS.get(field, ()) for v in rec.values(tag, code)]


def _term_matches(rec: PicaRecord, term: str) -> bool:
    field, sep, value = term.partition("=")
    if not sep:
        field, value = None, term  # type: ignore[assignment]
    else:
        field = field.strip().lower()
        if field not in _FIELDS:
            return False
    value = value.strip().strip('"').casefold()
    if value in ("", "*"):
        return bool(_values(rec, field)) or value == "*"
    pattern = ".*".join(re.escape(part) for part in value.split("*"))
    if field == "isl" and "*" not in value:
        return any(v.casefold() == value for v in _values(rec, field))
    return any(re.search(pattern, v.casefold()) for v in _values(rec, field))


def matches(rec: PicaRecord, query: str) -> bool:
    """Does a record match an agency query (``AND`` before ``OR``)?"""
    query = query.strip()
    if query == "*":
        return True
    for disjunct in re.split(r"\s+OR\s+", query, flags=re.IGNORECASE):
        terms = [t for t in re.split(r"\s+AND\s+", disjunct, flags=re.IGNORECASE) if t.strip()]
        if terms and all(_term_matches(rec, t) for t in terms):
            return True
    return False


def _types(rec: PicaRecord) -> list[str]:
    libtype = rec.first("035E", "f") or ""
    if _isil(rec).upper().startswith("DE-MUS-"):
        return ["Museum"]
    if _isil(rec).upper().startswith("ZDB-"):
        return ["Collection"]
    if libtype.isdigit() and int(libtype) >= 85:
        return ["Organization"]
    return ["Library"]


def member(rec: PicaRecord, base: str, compact: bool) -> dict[str, Any]:
    """One ``member`` object in the full or compact form."""
    isil = _isil(rec)
    if compact:
        return {"_id": isil, "record": pica_to_compact(rec)}
    return {
        "id": f"{base}/isil/{quote(isil, safe='-:')}",
        "type": _types(rec),
        "seeAlso": f"{base}/isil/{quote(isil, safe='-:')}.rdf",
        "sameAs": f"{base}/isil/{quote(isil, safe='-:')}.rdf",
        "identifier": isil,
        "location": rec.first("032P", "b"),
        "addressRegion": rec.first("035I", "a"),
        "data": pica_to_json(rec),
    }


def _int_arg(req: Request, name: str, default: int) -> int:
    try:
        value = int(req.arg(name, str(default)) or default)
    except ValueError:
        return default
    return value if value >= 1 else default


def build(emu: Any) -> Service:
    max_size = int(emu.options.get("isil_max_size", DEFAULT_MAX_SIZE))
    service = Service("isil")

    def search(req: Request) -> Response:
        query = req.arg("q")
        if query is None or not query.strip():
            return Response.error(400, "Parameter q is missing")
        size = min(_int_arg(req, "size", DEFAULT_SIZE), max_size)
        page = _int_arg(req, "page", 1)
        compact = (req.arg("compact") or "0") != "0"
        hits = [r for r in load_records() if matches(r, query)]
        total = len(hits)
        pages = math.ceil(total / size) if total else 0
        start = (page - 1) * size
        on_page = hits[start:start + size]

        def link(p: int) -> str:
            params = {"q": query, "size": size, "page": p}
            if compact:
                params["compact"] = 1
            return f"{req.base_url}/api/org.jsonld?{urlencode(params)}"

        view: dict[str, Any] = {"id": link(page), "type": "PartialCollectionView", "first": link(1),
                                "last": link(max(pages, 1)), "totalItems": len(on_page), "pageIndex": page,
                                "numberOfPages": pages, "offset": start + 1 if on_page else 0, "limit": size}
        if 1 < page <= pages + 1:
            view["previous"] = link(page - 1)
        if page < pages:
            view["next"] = link(page + 1)
        body: dict[str, Any] = {"@context": CONTEXT, "id": link(page), "type": "Collection",
                                "freetextQuery": query, "totalItems": total}
        if on_page:
            body["member"] = [member(r, req.base_url, compact) for r in on_page]
        body["view"] = view
        callback = req.arg("callback")
        if callback is None:
            return Response.json(body, content_type="application/ld+json; charset=utf-8")
        if not re.fullmatch(r"[A-Za-z_$][\w$.]{0,63}", callback):
            return Response.error(400, "Invalid callback")
        fmt = (req.arg("format") or "").lower()
        payload: Any = body
        if fmt == "lookup":
            payload = [{"id": f"{req.base_url}/isil/{quote(_isil(r), safe='-:')}", "identifier": _isil(r),
                        "name": r.first("029A", "a"), "location": r.first("032P", "b"),
                        "addressRegion": r.first("035I", "a"), "type": _types(r)} for r in on_page]
        elif fmt == "data":
            payload = [pica_to_json(r) for r in on_page]
        text = json.dumps(payload, ensure_ascii=False)
        return Response.text(f"{callback}({text});", content_type="application/javascript; charset=utf-8")

    def one(req: Request, isil: str) -> Response:
        wanted = isil.casefold()
        for rec in load_records():
            if _isil(rec).casefold() == wanted:
                return Response.json({"@context": CONTEXT, **member(rec, req.base_url, False)},
                                     content_type="application/ld+json; charset=utf-8")
        return Response.error(404, f"ISIL {isil} not found")

    service.routes += [
        Route("GET", r"/api/org\.jsonld", search),
        Route("GET", r"/api/org/(?P<isil>.+)\.jsonld", one),
    ]
    return service
