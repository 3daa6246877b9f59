"""Libris record reads: ``GET /<id>``, ``/<id>/data``, ``/<id>/data.<ext>`` and ``/context.jsonld``.

Follows the server code as described in ``libris-services.md`` §2:

* ids: short id, record IRI or main-entity IRI in the path; ``sameAs`` and merged
  ids answer **302** (query string kept), deleted records **410**, others **404**;
* content negotiation: ``Accept`` sorted by ``q`` (ties → more specific type),
  a missing or unmatched ``Accept`` falls back to JSON-LD (never 406); an extension
  overrides ``Accept``; an unknown extension is a 404; a malformed ``Accept`` a 400;
* ``embellished`` (default true: linked records and terms appended as named graphs
  ``{"@id": "<iri>?lens=card", "@graph": […]}``), ``framed`` (default only for
  ``application/json``), ``lens=chip|card|none`` (implies framed; root = main entity),
  ``profile=`` or ``Accept-Profile`` (mapped by :func:`linkeddata.profiles.map_to_profile`);
* headers: ``ETag`` (``"<checksum>"`` or ``"<checksum>:<embellished checksum>"``) with
  ``If-None-Match`` → 304, ``Vary``, ``Content-Profile``, ``Content-Location``,
  ``Document`` and ``Link`` (for ``application/json`` only the context link);
* history (§2.8): ``/<id>/_changesets`` lists a ChangeSet per version (oldest first, with the
  JSON paths added and removed), ``?version=<n>`` answers that version (not embellished by
  default); an unknown version is a 404.

RDF bodies are made by expanding the JSON-LD with the KBV context
(:func:`linkeddata.jsonld.to_nquads`) and serialising with pyoxigraph: Turtle merges
the named graphs, TriG keeps them, RDF/XML holds the default graph only.
"""

from __future__ import annotations

import copy
import functools
import re
import time
from typing import Any
from urllib.parse import unquote, urlencode

from ..config import KBV_PROFILE
from .corpus import BASE, checksum, short_id
from .server import Request, Response, Service

#: Media types the record API produces, in the order wildcards pick them.
PRODUCIBLE: tuple[str, ...] = ("application/ld+json", "application/json", "application/trig", "text/turtle",
                               "application/rdf+xml", "text/n3")
#: ``/data.<ext>`` extensions.
EXTENSIONS: dict[str, str] = {"jsonld": "application/ld+json", "json": "application/json", "ttl": "text/turtle",
                              "trig": "application/trig", "rdf": "application/rdf+xml", "xml": "application/rdf+xml",
                              "n3": "text/n3"}
_EXT_OF = {"application/ld+json": "jsonld", "application/json": "json", "text/turtle": "ttl", "application/trig": "trig",
           "application/rdf+xml": "rdf", "text/n3": "n3"}
CONTEXT_PATH = "/context.jsonld"
CONTEXT_LINK = f'<{CONTEXT_PATH}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
_PATH = re.compile(r"/(?P<id>.+?)(?P<view>/(?:data|data-view|_changesets)(?:\.(?P<ext>\w+))?)?")
_MEDIA_RANGE = re.compile(r"[\w.+*!#$&^-]+/[\w.+*!#$&^-]+")
_SERVER_START = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
#: How deep framing embeds referenced nodes (``Crud.frameRecord``).
FRAME_DEPTH = 3


class BadRequest(Exception):
    """A 400 with this message."""


# ------------------------------------------------------------------ negotiation


def parse_accept(header: str | None) -> list[tuple[str, float, int]]:
    """``Accept`` → ``[(media type, q, number of params)]`` best first; raises :class:`BadRequest`.

    >>> [m for m, _, _ in parse_accept("text/turtle;q=0.1, application/json;q=0.8")]
    ['application/json', 'text/turtle']
    >>> [m for m, _, _ in parse_accept("*/*, text/*, text/turtle")]
    ['text/turtle', 'text/*', '*/*']
    """
    if not header or not header.strip():
        return [("*/*", 1.0, 0)]
    ranges = []
    for position, part in enumerate(p for p in header.split(",") if p.strip()):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not _MEDIA_RANGE.fullmatch(media):
            raise BadRequest(f"Malformed media type in Accept: {part.strip()}")
        q, params = 1.0, 0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    raise BadRequest(f"Malformed q value in Accept: {part.strip()}") from None
                if not 0 <= q <= 1:
                    raise BadRequest(f"Malformed q value in Accept: {part.strip()}")
            elif param:
                params += 1
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media, q, params, specificity, position))
    ranges.sort(key=lambda r: (-r[1], -r[3], -r[2], r[4]))
    return [(m, q, n) for m, q, n, _, _ in ranges]


def best_content_type(accept: str | None) -> str:
    """The media type the server answers with for an ``Accept`` header (JSON-LD fallback).

    >>> best_content_type("*/*"), best_content_type("application/x-octet-stream")
    ('application/ld+json', 'application/ld+json')
    >>> best_content_type("text/turtle;q=0.1, application/json;q=0.8")
    'application/json'
    """
    for media, q, _ in parse_accept(accept):
        if q <= 0:
            continue
        if media in PRODUCIBLE:
            return media
        if media.endswith("/*"):
            prefix = media[:-1]
            for candidate in PRODUCIBLE:
                if candidate.startswith(prefix) or prefix == "*/":
                    return candidate
    return "application/ld+json"


# ------------------------------------------------------------------ lenses

#: Lens groups (a small table modelled on the vocabulary's ``display.jsonld``):
#: type → properties; a tuple lists alternatives of which the first present is kept.
CHIPS: dict[str, list[Any]] = {
    "Resource": [("prefLabel", "prefLabelByLang", "label", "name", "code")],
    "Record": ["controlNumber", "encodingLevel"],
    "Instance": [("hasTitle", "identifiedBy"), ("publication", "production")],
    "Work": ["hasTitle", "language", "contribution"],
    "Title": ["mainTitle", "subtitle", "partNumber", "partName"],
    "Identifier": ["value", "qualifier"],
    "Publication": ["country", "place", "agent", "year", "date"],
    "Agent": [("prefLabel", "label", "name")],
    "Person": ["familyName", "givenName", "name", "lifeSpan"],
    "Organization": ["name", "isPartOf"],
    "Library": ["name", "sigel"],
    "Contribution": ["agent", "role"],
    "Item": ["heldBy", "itemOf", "shelfMark"],
    "ShelfMark": ["label"],
    "Classification": ["code", "inScheme"],
    "ConceptScheme": [("code", "prefLabel", "label")],
    "Concept": [("prefLabel", "prefLabelByLang", "label", "code"), "inScheme"],
    "Language": [("prefLabel", "prefLabelByLang", "label", "code")],
    "Extent": ["label"],
    "Place": ["label"],
}
CARDS: dict[str, list[Any]] = {
    "Resource": ["exactMatch", "closeMatch", "comment"],
    "Record": ["created", "modified", "descriptionCreator", "recordStatus", "encodingLevel", "descriptionConventions"],
    "Instance": ["issuanceType", "identifiedBy", "instanceOf", "responsibilityStatement", "publication", "extent",
                 "carrierType", "mediaType", "genreForm", "classification"],
    "Work": ["hasTitle", "contribution", "language", "genreForm", "classification", "subject", "intendedAudience"],
    "Item": ["hasComponent", "physicalLocation", "shelfMark"],
    "Person": ["hasVariant", "description", "nationality", "identifiedBy"],
    "Organization": ["hasVariant", "description", "identifiedBy"],
    "Concept": ["inScheme", "altLabel", "broader", "exactMatch", "code"],
    "Language": ["code", "langTag", "altLabel"],
}
#: Type → its superclass, enough for the fixture records.
SUPERCLASS: dict[str, str] = {
    "Print": "Instance", "Electronic": "Instance", "Manuscript": "Instance", "Instance": "Resource",
    "Text": "Work", "NotatedMusic": "Work", "Cartography": "Work", "Work": "Resource",
    "ISBN": "Identifier", "ISSN": "Identifier", "LibrisIIINumber": "Identifier",
    "PrimaryPublication": "Publication", "PrimaryContribution": "Contribution",
    "Person": "Agent", "Family": "Agent", "Organization": "Agent", "Library": "Organization", "Bibliography": "Library",
    "Meeting": "Agent", "Jurisdiction": "Organization",
    "Topic": "Concept", "Geographic": "Concept", "GenreForm": "Concept", "ComplexSubject": "Concept",
    "Country": "Concept", "Role": "Concept", "CarrierType": "Concept", "MediaType": "Concept",
    "marc:BooksLiteraryFormType": "Concept", "marc:TargetAudience": "Concept",
}


def _lens_props(node_type: Any, table: dict[str, list[Any]]) -> list[Any] | None:
    types = node_type if isinstance(node_type, list) else [node_type]
    for t in types:
        while t:
            if t in table:
                return table[t]
            t = SUPERCLASS.get(t, "Resource" if t != "Resource" else None)
    return table.get("Resource")


def _select(node: dict[str, Any], props: list[Any]) -> list[str]:
    keep: list[str] = []
    for prop in props:
        if isinstance(prop, tuple):
            hit = next((p for p in prop if p in node), None)
            if hit:
                keep.append(hit)
        elif prop in node and prop not in keep:
            keep.append(prop)
    return keep


def _is_node(value: Any) -> bool:
    """A node with properties to reduce (not a reference, value object or language map)."""
    return isinstance(value, dict) and "@type" in value and "@value" not in value


def to_chip(value: Any) -> Any:
    """Reduce a node (and its nested values) to the chip lens."""
    if isinstance(value, list):
        return [to_chip(v) for v in value]
    if not _is_node(value):
        return value
    out = {k: value[k] for k in ("@id", "@type") if k in value}
    for prop in _select(value, _lens_props(value.get("@type"), CHIPS) or []):
        out[prop] = to_chip(value[prop])
    return out


def to_card(value: Any) -> Any:
    """Reduce a node to the card lens (chip properties plus card ones; nested values as chips).

    A card that would keep fewer than two properties falls back to the chip.
    """
    if isinstance(value, list):
        return [to_card(v) for v in value]
    if not _is_node(value):
        return value
    props = (_lens_props(value.get("@type"), CHIPS) or []) + (_lens_props(value.get("@type"), CARDS) or [])
    keep = _select(value, props)
    if len(keep) < 2:
        return to_chip(value)
    out = {k: value[k] for k in ("@id", "@type") if k in value}
    for prop in keep:
        out[prop] = to_chip(value[prop])
    return out


# ------------------------------------------------------------------ shaping


def embellish(doc: dict[str, Any], record_iri: str, corpus: Any) -> dict[str, Any]:
    """Append linked records and terms as card-level named graphs (``<iri>?lens=card``)."""
    graph = list(doc["@graph"])
    for other in corpus.linked_records(record_iri):
        nodes = [to_card(copy.deepcopy(node)) for node in corpus.records[other]["@graph"]]
        graph.append({"@id": other + "?lens=card", "@graph": nodes})
    for term in corpus.linked_terms(record_iri):
        graph.append({"@id": term + "?lens=card", "@graph": [to_card(copy.deepcopy(corpus.terms[term]))]})
    return {**doc, "@graph": graph}


def _index_nodes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for node in doc.get("@graph", []):
        if "@graph" in node:  # a graph wrapper: index its nodes, not itself
            for inner in node["@graph"]:
                if inner.get("@id"):
                    index.setdefault(inner["@id"], inner)
        elif node.get("@id"):
            index[node["@id"]] = node
    return index


def _embed(value: Any, index: dict[str, dict[str, Any]], depth: int, seen: frozenset[str]) -> Any:
    if isinstance(value, list):
        return [_embed(v, index, depth, seen) for v in value]
    if not isinstance(value, dict):
        return value
    ref = value.get("@id")
    if set(value) == {"@id"}:
        if ref in index and ref not in seen and depth < FRAME_DEPTH:
            return _embed(index[ref], index, depth + 1, seen | {ref})
        return value
    return {k: (v if k in ("@id", "@type", "sameAs") else _embed(v, index, depth, seen | ({ref} if ref else set())))
            for k, v in value.items()}


def frame_record(doc: dict[str, Any], record_iri: str) -> dict[str, Any]:
    """The record as a tree: root = Record, ``mainEntity`` and other references embedded (depth ≤ 3)."""
    index = _index_nodes(doc)
    return copy.deepcopy(_embed(index[record_iri], index, 0, frozenset({record_iri})))


def frame_thing(doc: dict[str, Any], record_iri: str, lens: str) -> dict[str, Any]:
    """Root = the main entity with ``meta`` = its record, reduced by the ``chip`` or ``card`` lens."""
    index = _index_nodes(doc)
    record = index[record_iri]
    thing_iri = record["mainEntity"]["@id"]
    thing = _embed(index[thing_iri], index, 0, frozenset({thing_iri, record_iri}))
    reduced = to_chip(thing) if lens == "chip" else to_card(thing)
    reduced["meta"] = to_chip(record)
    return copy.deepcopy(reduced)


# ------------------------------------------------------------------ RDF


@functools.lru_cache(maxsize=8)
def _prefixes(profile: str | None) -> dict[str, str]:
    from ..jsonld import kbv_context, pinned_context

    context = (pinned_context(profile) if profile else None) or kbv_context()
    contexts = context if isinstance(context, list) else [context]
    prefixes: dict[str, str] = {}
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        for term, value in ctx.items():
            if term == "@vocab" and isinstance(value, str):
                prefixes[""] = value
            elif isinstance(value, str) and not term.startswith("@") and value.endswith(("/", "#")) and ":" not in term:
                prefixes.setdefault(term, value)
    seen: set[str] = set()
    unique: dict[str, str] = {}
    for term in sorted(prefixes, key=lambda t: (t != "", len(t), t)):  # one (the shortest) name per namespace
        if prefixes[term] not in seen:
            seen.add(prefixes[term])
            unique[term] = prefixes[term]
    return unique


def to_rdf(doc: dict[str, Any], media_type: str, profile: str | None = None, base: str | None = None) -> bytes:
    """Serialise a JSON-LD document as Turtle (merged), TriG (graphs kept), RDF/XML (default graph) or N3."""
    import pyoxigraph as ox

    from ..jsonld import to_nquads

    quads = list(ox.parse(to_nquads(doc, base=base).encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    prefixes = _prefixes(profile)
    if media_type == "application/trig":
        # Libris' serializer writes named graphs as lowercase ``graph <g> { … }`` blocks
        text = (ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=prefixes) or b"").decode("utf-8")
        return re.sub(r"(?m)^(<[^<>\s]*>) \{$", r"graph \1 {", text).encode("utf-8")
    if media_type == "application/rdf+xml":
        triples = [q.triple for q in quads if isinstance(q.graph_name, ox.DefaultGraph)]
        return ox.serialize(triples, format=ox.RdfFormat.RDF_XML, prefixes=prefixes) or b""
    merged = list(dict.fromkeys(q.triple for q in quads))
    return ox.serialize(merged, format=ox.RdfFormat.TURTLE, prefixes=prefixes) or b""


# ------------------------------------------------------------------ handlers


def _bool(value: str | None, default: bool) -> bool:
    """Java ``Boolean.parseBoolean``: only ``true`` (any case) is true."""
    return default if value is None else value.strip().lower() == "true"


def _requested_profile(req: Request) -> str | None:
    profile = req.arg("profile")
    if profile:
        return profile.strip()
    header = (req.headers.get("Accept-Profile") or "").strip()
    if header.startswith("<") and header.endswith(">"):
        header = header[1:-1]
    return header or None


def _map_profile(doc: dict[str, Any], profile: str, emu: Any) -> dict[str, Any]:
    try:
        from ..profiles import AVAILABLE_PROFILES, map_to_profile
    except ImportError:
        raise BadRequest(f"Profile <{profile}> is not available") from None
    if profile not in AVAILABLE_PROFILES:
        raise BadRequest(f"Profile <{profile}> is not available")
    vocab = None
    try:
        from .idkbse import fixture_vocab

        vocab = fixture_vocab()
    except ImportError:
        raise BadRequest(f"Profile <{profile}> is not available (no vocabulary in this emulator)") from None
    return map_to_profile(doc, profile, vocab=vocab)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*":
            return True
        if value.startswith("W/"):
            value = value[2:]
        value = value.strip('"')
        if value.endswith("-gzip"):
            value = value[:-5]
        if value == etag:
            return True
    return False


def _redirect(req: Request, target_iri: str, view: str | None, ext: str | None) -> Response:
    location = req.base_url + "/" + short_id(target_iri)
    if view:
        location += "/data" + (f".{ext}" if ext else "")
    if req.query:
        location += "?" + urlencode([(k, v) for k, values in req.query.items() for v in values])
    return Response(302, b"", {"Location": location})


def _repair_id(raw: str) -> str:
    ident = unquote(raw)
    return re.sub(r"^(https?):/(?!/)", r"\1://", ident)


def handle_record(req: Request, path: str, emu: Any) -> Response:
    """``GET /<id>[/data[.<ext>]]``."""
    corpus = emu.corpus
    m = _PATH.fullmatch("/" + path)
    if m is None:
        return Response.error(404, "Document not found.")
    ident, view, ext = _repair_id(m.group("id")), m.group("view"), m.group("ext")
    found = corpus.lookup(ident) or (corpus.lookup(BASE + ident) if not ident.startswith("http") else None)
    if found is None:
        return Response.error(404, "Document not found.")
    record_iri, how = found
    if how == "deleted":
        return Response.error(410, "Document has been deleted.")
    if how == "sameAs":
        return _redirect(req, record_iri, view, ext)
    if view and view.startswith("/_changesets"):
        return Response.json(changesets(corpus, record_iri), content_type="application/ld+json")
    version = req.arg("version")
    try:
        if ext:
            if ext not in EXTENSIONS:
                return Response.error(404, ext)
            media_type = EXTENSIONS[ext]
        else:
            media_type = best_content_type(req.headers.get("Accept"))
        lens = (req.arg("lens") or "none").lower()
        if lens not in ("chip", "card", "none"):
            raise BadRequest(f"Unknown lens: {req.arg('lens')}")
        embellished = _bool(req.arg("embellished"), req.arg("version") is None)
        framed = _bool(req.arg("framed"), media_type == "application/json") or lens != "none"
        profile = _requested_profile(req)
        with corpus.lock:  # a consistent snapshot (ETag and body) while writers may be changing the corpus
            if record_iri not in corpus.records:  # deleted since the lookup above
                return Response.error(410, "Document has been deleted.")
            if version is not None:
                chain = versions(corpus, record_iri)
                if not version.isdigit() or int(version) >= len(chain):
                    return Response.error(404, "Document not found.")
                doc = copy.deepcopy(chain[int(version)])
                etag = checksum(doc)
            else:
                etag = corpus.etag(record_iri, embellished=embellished)
                doc = copy.deepcopy(corpus.records[record_iri])
            if _etag_matches(req.headers.get("If-None-Match"), etag):
                return Response(304, b"", {"ETag": f'"{etag}"', "Server-Start-Time": _SERVER_START})
            if embellished:
                doc = embellish(doc, record_iri, corpus)
        if lens != "none":
            body: dict[str, Any] = frame_thing(doc, record_iri, lens)
        elif framed:
            body = frame_record(doc, record_iri)
        else:
            body = doc
        mapped_profile = None
        if profile and profile != KBV_PROFILE:
            body = _map_profile(body, profile, emu)
            mapped_profile = profile
    except BadRequest as exc:
        return Response.error(400, str(exc))
    content_profile = mapped_profile or KBV_PROFILE
    headers = {"ETag": f'"{etag}"', "Vary": "Accept, Accept-Profile", "Content-Profile": f"<{content_profile}>",
               "Document": record_iri, "Cache-Control": "no-cache"}
    location_query = [(k, v) for k, v in (("lens", lens if lens != "none" else None), ("profile", mapped_profile)) if v]
    headers["Content-Location"] = f"{record_iri}/data.{_EXT_OF[media_type]}" + (
        "?" + urlencode(location_query) if location_query else "")
    if media_type == "application/json":
        body.pop("@context", None)
        headers["Link"] = CONTEXT_LINK
        return Response.json(body, content_type="application/json", **headers)
    headers["Link"] = f'<{content_profile}>; rel="profile", <{record_iri}>; rel=describedby'
    if media_type == "application/ld+json":
        if "@context" not in body:
            body = {"@context": CONTEXT_PATH, **body}
        return Response.json(body, content_type="application/ld+json", **headers)
    try:
        data = to_rdf(body, media_type, mapped_profile)
    except Exception as exc:  # the real server answers 500 with a generic body too
        return Response.error(500, f"Could not serialise {record_iri} as {media_type}: {exc}")
    return Response.text(data, content_type=f"{media_type}; charset=utf-8", **headers)


GENERATOR = "https://id.kb.se/generator/crud"


def versions(corpus: Any, record_iri: str) -> list[dict[str, Any]]:
    """Every version of a live record, oldest first. A seeded record changed before the emulator
    started (``created`` before ``modified``) gets its first version back: the document as created."""
    with corpus.lock:
        chain = [*corpus.versions.get(record_iri, []), corpus.records[record_iri]]
    first = chain[0]["@graph"][0]
    if first.get("created") and first.get("created") != first.get("modified"):
        original = copy.deepcopy(chain[0])
        original["@graph"][0]["modified"] = first["created"]
        original["@graph"][0]["recordStatus"] = "marc:New"
        chain.insert(0, original)
    return chain


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    if isinstance(value, dict):
        out: dict[tuple[Any, ...], Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, path + (key,)))
        return out
    if isinstance(value, list):
        out = {}
        for n, item in enumerate(value):
            out.update(_leaves(item, path + (n,)))
        return out
    return {path: value}


def changesets(corpus: Any, record_iri: str) -> dict[str, Any]:
    """``GET /<id>/_changesets`` (``History.java``): one ChangeSet per version with its changed paths."""
    chain = versions(corpus, record_iri)
    sets = []
    previous: dict[tuple[Any, ...], Any] = {}
    for n, doc in enumerate(chain):
        record = doc["@graph"][0]
        leaves = _leaves(doc)
        ignored = {("@graph", 0, "modified")}
        added = [list(p) for p, v in leaves.items() if n and p not in ignored and previous.get(p, object()) != v]
        removed = [list(p) for p, v in previous.items() if p not in ignored and leaves.get(p, object()) != v]
        agent = record.get("descriptionLastModifier") or record.get("descriptionCreator") or {}
        sets.append({"@type": "ChangeSet", "version": {"@id": f"{record_iri}/data?version={n}"},
                     "date": record.get("modified") or record.get("generationDate"),
                     "agent": {"@id": agent.get("@id", "https://libris.kb.se/library/SEK")},
                     "tool": {"@id": GENERATOR}, "addedPaths": added, "removedPaths": removed})
        previous = leaves
    return {"@id": f"{record_iri}/_changesets", "changeSets": sets}


def handle_context(req: Request) -> Response:
    """``GET /context.jsonld``: the KBV context."""
    from ..jsonld import kbv_context

    return Response.json({"@context": kbv_context()}, content_type="application/ld+json", Cache_Control="max-age=3600")


def add_routes(service: Service, emu: Any) -> None:
    """Add the read routes; the ``/<id>`` catch-all comes last."""
    service.add("GET", re.escape(CONTEXT_PATH))(handle_context)
    service.add("GET", r"/(?P<path>.+)")(lambda req, path: handle_record(req, path, emu))
