"""The emulated id.kb.se: contexts, target contexts, the vocabulary and a few term records.

Routes (content negotiation as the Libris record API: JSON-LD unless ``Accept``
prefers Turtle or plain JSON):

* ``GET /context.jsonld``, ``/sys/context/kbv`` — the pinned KBV context (with its
  relative ``@import`` of ``shared.jsonld``, served at ``/shared.jsonld`` and
  ``/sys/context/shared.jsonld``);
* ``GET /sys/context/target/<name>`` — the five target contexts of the profiles;
* ``GET /vocab/`` and ``/vocab`` — the fixture vocabulary (Turtle or JSON-LD);
* ``GET /language/swe``, ``/country/sw``, ``/relator/author``, ``/term/sao/<Name>``,
  ``/marc/<Name>`` … — the id.kb.se terms the corpus links to, as stored-shape
  records ``{"@graph": [Record, term]}``.

:func:`fixture_vocab` gives the emulator's vocabulary already parsed for
:func:`linkeddata.profiles.map_to_profile`, so the emulated Libris can apply
profiles without HTTP.

>>> from linkeddata.emulator.server import Request
>>> class _E: corpus = None
>>> svc = build(_E())
>>> svc.handle(Request("GET", "/sys/context/target/sdo-w3c", {}, {}, b"", "http://x")).headers["Content-Type"]
'application/ld+json'
"""

from __future__ import annotations

import functools
import json
import logging
import zlib
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote

from ..resources import asset_path
from .server import Request, Response, Service

log = logging.getLogger(__name__)

ID_BASE = "https://id.kb.se"
VOCAB_FILE = "kbv-fixture.ttl"
TARGET_NAMES = ("sdo-w3c", "bibo-w3c", "loc-w3c-sdo", "loc-dcmi-w3c", "sdo")
_ID_ALPHABET = "0123456789bcdfghjklmnpqrstvwxz"
_TERM_MODIFIED = "2024-05-13T09:12:40.551+02:00"
_TERM_CREATED = "2014-03-20T10:21:06.342+01:00"

#: Terms served even when the corpus knows none (IRI → node, stored shape).
FALLBACK_TERMS: dict[str, dict[str, Any]] = {
    f"{ID_BASE}/language/swe": {"@id": f"{ID_BASE}/language/swe", "@type": "Language", "code": "swe",
                                "prefLabelByLang": {"sv": "svenska", "en": "Swedish"}, "langTag": "sv"},
    f"{ID_BASE}/country/sw": {"@id": f"{ID_BASE}/country/sw", "@type": "Country", "code": "sw",
                              "prefLabelByLang": {"sv": "Sverige", "en": "Sweden"}},
    f"{ID_BASE}/relator/author": {"@id": f"{ID_BASE}/relator/author", "@type": "Role", "code": "aut",
                                  "prefLabelByLang": {"sv": "författare", "en": "author"}},
    f"{ID_BASE}/term/sao/Vinter": {"@id": f"{ID_BASE}/term/sao/Vinter", "@type": "Topic", "prefLabel": "Vinter",
                                   "inScheme": {"@id": f"{ID_BASE}/term/sao"}},
}


# ---------------------------------------------------------------- package data


def vocab_text() -> str:
    """The fixture vocabulary as Turtle."""
    return resources.files(__package__).joinpath("data").joinpath("vocab").joinpath(VOCAB_FILE).read_text("utf-8")


@functools.lru_cache(maxsize=1)
def fixture_vocab() -> dict[str, Any]:
    """The fixture vocabulary parsed for TRLD (the same object on every call, so target maps cache)."""
    from ..profiles import vocab_from_turtle

    return vocab_from_turtle(vocab_text(), base=ID_BASE + "/vocab/", source="fixture vocabulary")


@functools.lru_cache(maxsize=1)
def vocab_jsonld() -> list[dict[str, Any]]:
    """The fixture vocabulary as expanded JSON-LD (no context needed)."""
    graph: list[dict[str, Any]] = fixture_vocab()["@graph"]
    return graph


def _context_bytes(*parts: str) -> bytes:
    return asset_path("contexts", *parts).read_bytes()


# ---------------------------------------------------------------- negotiation


def negotiate(req: Request, default: str = "application/ld+json",
              offered: tuple[str, ...] = ("application/ld+json", "application/json", "text/turtle")) -> str:
    """The best offered media type for ``Accept`` (ties go to the earlier listed type);
    like the Libris REST server, unknown or missing types fall back to JSON-LD."""
    accept = req.headers.get("Accept") or "*/*"
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q <= 0 or media not in offered:
            continue
        specificity = -offered.index(media)
        key = (q, specificity, media)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else default


def _jsonld_response(doc: Any, req: Request, *, context: str | None = "/context.jsonld") -> Response:
    media = negotiate(req)
    if media == "text/turtle":
        return Response.text(_to_turtle(doc), content_type="text/turtle; charset=utf-8")
    body = doc
    headers: dict[str, str] = {}
    if media == "application/json":
        if context:
            headers["Link"] = f'<{context}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        return Response.json(body, 200, "application/json", **headers)
    if context and isinstance(doc, dict) and "@context" not in doc:
        body = {"@context": context, **doc}
    return Response.json(body, content_type="application/ld+json")


def _to_turtle(doc: Any) -> str:
    import pyoxigraph as ox

    from ..jsonld import to_nquads

    quads = ox.parse(to_nquads(doc).encode("utf-8"), format=ox.RdfFormat.N_QUADS)
    triples = [q.triple for q in quads]
    prefixes = {"kbv": ID_BASE + "/vocab/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
    return (ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes) or b"").decode("utf-8")


# ---------------------------------------------------------------- terms


def _short_id(iri: str) -> str:
    n = zlib.crc32(iri.encode("utf-8")) * 7919 + len(iri)
    chars = []
    for _ in range(15):
        n, r = divmod(n, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[r])
        n = n * 31 + r + 17
    return "".join(chars)


def term_record(node: dict[str, Any]) -> dict[str, Any]:
    """A stored-shape id.kb.se record for a term node."""
    iri = node["@id"]
    record = {
        "@id": f"{ID_BASE}/{_short_id(iri)}",
        "@type": "Record",
        "created": _TERM_CREATED,
        "modified": _TERM_MODIFIED,
        "mainEntity": {"@id": iri},
    }
    return {"@graph": [record, node]}


def _terms(emu: Any) -> dict[str, dict[str, Any]]:
    terms = dict(FALLBACK_TERMS)
    corpus = getattr(emu, "corpus", None)
    known = getattr(corpus, "terms", None) if corpus is not None else None
    if isinstance(known, dict):
        terms.update(known)
    return terms


# ---------------------------------------------------------------- service


def build(emu: Any) -> Service:
    """The id.kb.se service."""
    svc = Service("id")
    terms_cache: dict[str, dict[str, dict[str, Any]]] = {}

    def terms() -> dict[str, dict[str, Any]]:
        if "t" not in terms_cache:
            terms_cache["t"] = _terms(emu)
        return terms_cache["t"]

    @svc.add("GET", r"/(?:context\.jsonld|sys/context/kbv)")
    def kbv_context(req: Request) -> Response:
        return Response.text(_context_bytes("kbv.jsonld"), content_type="application/ld+json")

    @svc.add("GET", r"/(?:sys/context/)?shared\.jsonld")
    def shared_context(req: Request) -> Response:
        return Response.text(_context_bytes("shared.jsonld"), content_type="application/ld+json")

    @svc.add("GET", r"/sys/context/target/(?P<name>[\w.-]+?)(?:\.jsonld)?")
    def target(req: Request, name: str) -> Response:
        if name not in TARGET_NAMES:
            return Response.error(404, "Document not found.")
        return Response.text(_context_bytes("target", f"{name}.jsonld"), content_type="application/ld+json")

    @svc.add("GET", r"/vocab/?(?:data\.(?P<ext>jsonld|ttl))?")
    def vocab(req: Request, ext: str | None = None) -> Response:
        media = {"jsonld": "application/ld+json", "ttl": "text/turtle"}.get(ext or "") or negotiate(req)
        if media == "text/turtle":
            return Response.text(vocab_text(), content_type="text/turtle; charset=utf-8")
        return Response.json(vocab_jsonld(), content_type=media)

    @svc.add("GET", r"/(?P<path>(?:term|language|country|relator|marc|nationality)/.+)")
    def term(req: Request, path: str) -> Response:
        known = terms()
        for candidate in (path, quote(unquote(path), safe="/")):
            node = known.get(f"{ID_BASE}/{candidate}")
            if node is not None:
                return _jsonld_response(term_record(json.loads(json.dumps(node))), req)
        return Response.error(404, "Document not found.")

    @svc.add("GET", r"/")
    def index(req: Request) -> Response:
        return Response.json({"@id": ID_BASE + "/", "title": "id.kb.se (linkeddata emulator)",
                              "contexts": [f"/sys/context/target/{n}" for n in TARGET_NAMES]})

    return svc
