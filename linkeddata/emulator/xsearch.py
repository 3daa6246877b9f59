"""Emulated xsearch (``/xsearch``, also at ``/``) over the shared corpus' bibliographic records.

As ``XSearchServlet`` (docs/libris-services.md §7): ``query``/``q`` (all words must
occur in the record's title, names, ISBNs, publisher or year), ``start`` (1-based),
``n`` (default 10, at most 200, negative → 10), ``format`` ``marcxml`` (default and
for unknown names), ``json``, ``mods`` or ``refworks``; ``ris``, ``dc``, ``rdfdc``,
``bibtex``, ``harvard`` and ``oxford`` are refused. Errors are
``<xsearch error="…"/>`` with HTTP 200, even when JSON was asked for.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from .libris_write import _graph, kbv_to_marc, record_xml
from .server import Request, Response, Service

REFUSED = {"ris", "dc", "rdfdc", "bibtex", "harvard", "oxford"}
XML_TYPE = "text/xml; charset=utf-8"


def _error(kind: str) -> Response:
    return Response.text(f'<?xml version="1.0" encoding="UTF-8"?>\n<xsearch error="{escape(kind)}"/>\n',
                         content_type=XML_TYPE)


def _one_or_list(values: list[str]) -> Any:
    values = [v for v in values if v]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def build(emu: Any) -> Service:
    service = Service("xsearch")
    corpus = emu.corpus

    def lookup(iri: str) -> dict[str, Any] | None:
        return corpus.get(iri) if iri.startswith("https://libris.kb.se/") else None

    def summary(iri: str) -> dict[str, Any]:
        doc = corpus.get(iri)
        marc = kbv_to_marc(doc, lookup)
        fields: dict[str, list[dict[str, Any]]] = {}
        for f in marc["fields"]:
            tag, value = next(iter(f.items()))
            if isinstance(value, dict):
                fields.setdefault(tag, []).append({k: v for s in value["subfields"] for k, v in s.items()})
        graph = _graph(doc)
        record, thing = graph[0], graph[1]
        same = [s.get("@id", "") for s in record.get("sameAs") or thing.get("sameAs") or [] if isinstance(s, dict)]
        legacy = next((s for s in same if "/bib/" in s), None)
        identifier = legacy or f"http://libris.kb.se/bib/{record.get('controlNumber') or iri.rsplit('/', 1)[-1]}"
        names = [f.get("a", "") for tag in ("100", "110", "700", "710") for f in fields.get(tag, [])]
        lang = next((f["008"][35:38] for f in marc["fields"] if "008" in f), "")
        return {
            "identifier": identifier,
            "title": _one_or_list([" : ".join(x for x in (f.get("a"), f.get("b")) if x) for f in fields.get("245", [])]),
            "creator": _one_or_list(names),
            "isbn": _one_or_list([f.get("a", "") for f in fields.get("020", [])]),
            "issn": _one_or_list([f.get("a", "") for f in fields.get("022", [])]),
            "type": "book" if "Print" in str(thing.get("@type")) else "E-book" if "Electronic" in str(thing.get("@type")) else "other",
            "publisher": _one_or_list([f.get("b", "") for f in fields.get("264", [])]),
            "date": _one_or_list([f.get("c", "") for f in fields.get("264", [])]),
            "language": lang.strip() or None,
            "free": None,
            "_marc": marc,
        }

    def text_of(iri: str) -> str:
        s = summary(iri)
        s.pop("_marc")
        return json.dumps(s, ensure_ascii=False).lower()

    def search(req: Request) -> Response:
        query = (req.arg("query") or req.arg("q") or "").strip()
        fmt = (req.arg("format") or "marcxml").lower()
        if not query:
            return _error("empty_query")
        if fmt in REFUSED:
            return _error("format unsupported")
        if fmt not in ("json", "mods", "refworks"):
            fmt = "marcxml"
        if re.search(r'^[)(|]|[(]$|"[^"]*$', query):
            return _error("parse")
        try:
            start = int(req.arg("start") or 1)
            n = int(req.arg("n") or 10)
        except ValueError:
            return _error("parse")
        n = 10 if n < 0 else min(n, 200)
        start = max(start, 1)
        terms = [t for t in re.split(r"\s+", query.lower().replace('"', " ")) if t and t not in ("and",)]
        hits = [iri for iri in corpus.iter_records(kind="bib") if all(t in text_of(iri) for t in terms)]
        page = hits[start - 1:start - 1 + n]
        to = start - 1 + len(page)
        if fmt == "json":
            items = []
            for iri in page:
                s = summary(iri)
                s.pop("_marc")
                items.append({k: v for k, v in s.items() if v is not None})
            return Response.json({"xsearch": {"from": start, "to": to, "records": len(hits), "list": items}},
                                 content_type="application/json; charset=utf-8")
        head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<xsearch xmlns:marc="http://www.loc.gov/MARC21/slim" '
                f'to="{to}" from="{start}" records="{len(hits)}">\n')
        if fmt == "marcxml":
            body = ['<collection xmlns="http://www.loc.gov/MARC21/slim">']
            body += [record_xml(summary(iri)["_marc"]) for iri in page]
            body.append("</collection>")
        elif fmt == "mods":
            body = ['<modsCollection xmlns="http://www.loc.gov/mods/v3">']
            for iri in page:
                s = summary(iri)
                title = s["title"] if isinstance(s["title"], str) else (s["title"] or [""])[0]
                parts = [f"<mods><titleInfo><title>{escape(title or '')}</title></titleInfo>"]
                for name in _as_list(s["creator"]):
                    parts.append(f'<name type="personal"><namePart>{escape(name)}</namePart></name>')
                for isbn in _as_list(s["isbn"]):
                    parts.append(f'<identifier type="isbn">{escape(isbn)}</identifier>')
                parts.append(f'<recordInfo><recordIdentifier>{escape(s["identifier"])}</recordIdentifier></recordInfo></mods>')
                body.append("".join(parts))
            body.append("</modsCollection>")
        else:  # refworks
            body = ["<refworks>"]
            for iri in page:
                s = summary(iri)
                body.append(f'<reference><rt>Book, Whole</rt><t1>{escape(str(_as_list(s["title"])[:1] and _as_list(s["title"])[0]))}</t1>'
                            f'<ul>{escape(s["identifier"])}</ul></reference>')
            body.append("</refworks>")
        return Response.text(head + "\n".join(body) + "\n</xsearch>\n", content_type=XML_TYPE)

    service.add("GET", r"/(?:xsearch/?)?")(search)
    return service


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
