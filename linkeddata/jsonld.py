"""JSON-LD processing with the KBV context resolved locally first.

* :class:`LocalFirstLoader` — a pyld document loader that serves the pinned contexts in
  ``contexts/`` (see ``contexts/SOURCES.md``) and only then goes to the network through
  the shared session; ``offline=True`` refuses the network (tests, reproducible runs).
* The real KBV context needs two repairs before a JSON-LD 1.1 processor accepts it:
  its relative ``@import`` of ``./shared.jsonld`` is resolved against the context URL and
  merged in, and ``bibdb:*ByLang`` terms written as compact IRIs whose ``@id`` expands
  elsewhere (rejected as "term in form of IRI must expand to definition") are dropped
  (logged once). :func:`kbv_context` returns the repaired context object.
* Libris bodies refer to the context relatively (``"@context": "/context.jsonld"``) and
  records from OAI-PMH, the change feed and ``/find`` carry none; :func:`with_kbv_context`
  gives any of them the inline KBV context.
* :func:`expand`, :func:`compact`, :func:`frame`, :func:`to_nquads` wrap pyld (the
  reference path); :func:`record_quads` is the fast path through pyoxigraph's own
  JSON-LD parser, many records per document, each in its own named graph.

>>> doc = {"@graph": [{"@id": "https://libris.kb.se/x1", "@type": "Record",
...                    "mainEntity": {"@id": "https://libris.kb.se/x1#it"}}]}
>>> expand(doc)[0]["@type"]
['https://id.kb.se/vocab/Record']
>>> "<https://libris.kb.se/x1> <https://id.kb.se/vocab/mainEntity>" in to_nquads(doc)
True
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import pyoxigraph as ox
from pyld import jsonld as pyld
from pyld.documentloader.base import DocumentLoader

from .config import to_canonical_iri
from .errors import JsonLdError, NotFoundError
from .resources import asset_path

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

KBV_CONTEXT_IRI = "https://id.kb.se/context.jsonld"
KBV_VOCAB = "https://id.kb.se/vocab/"

#: Frames bundled with the package, by name.
FRAMES: dict[str, dict[str, Any]] = {
    "instance": {
        "@type": ["Instance", "Print", "Electronic", "PhysicalResource", "DigitalResource", "Manuscript",
                  "Tactile", "StillImageInstance", "SoundRecording", "VideoRecording"],
        "@embed": "@always",
        "instanceOf": {"@embed": "@always"},
        "@reverse": {"itemOf": {"@embed": "@always"}},
    },
    "record": {"@type": "Record", "mainEntity": {"@embed": "@always"}},
}


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = json.loads(asset_path("contexts", "index.json").read_text("utf-8"))
    return index


def bundled_context_urls() -> list[str]:
    """URLs answered from the pinned copies without any network request."""
    return sorted(_index())


@functools.lru_cache(maxsize=None)
def _read_bundled(filename: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(asset_path("contexts", filename).read_text("utf-8"))
    return document


def _lookup_bundled(url: str) -> dict[str, Any] | None:
    canonical = to_canonical_iri(url.split("#", 1)[0])
    filename = _index().get(canonical)
    if filename is None and urlsplit(canonical).path in ("/context.jsonld", "/sys/context/kbv"):
        filename = "kbv.jsonld"  # a configured base (emulator, mirror) serving the KBV context
    if filename is None:
        return None
    if canonical not in _index():  # resolve imports as if fetched from the published URL
        canonical = next(url for url, name in _index().items() if name == filename)
    return _repaired(filename, canonical)


@functools.lru_cache(maxsize=None)
def _repaired(filename: str, url: str) -> dict[str, Any]:
    """A pinned context document with ``@import`` merged and invalid terms dropped."""
    document = copy.deepcopy(_read_bundled(filename))
    context = document.get("@context")
    if isinstance(context, dict):
        document["@context"] = _repair_context(context, url)
    return document


_warned: set[str] = set()


def _repair_context(context: dict[str, Any], url: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    imported = context.get("@import")
    if isinstance(imported, str):
        import_url = urljoin(url, imported)
        sub = _lookup_bundled(import_url)
        if sub is None:
            raise JsonLdError(f"context {url} imports {import_url}, which is not bundled")
        merged.update(sub["@context"])
    merged.update({k: v for k, v in context.items() if k != "@import"})
    for term in [t for t, d in merged.items() if _is_bad_iri_term(t, d, merged)]:
        del merged[term]
        if term not in _warned:
            _warned.add(term)
            log.info("dropped KBV context term %s: a compact-IRI term must expand to its own IRI", term)
    return merged


def _is_bad_iri_term(term: str, definition: Any, context: dict[str, Any]) -> bool:
    if ":" not in term or term.startswith("@") or not isinstance(definition, dict):
        return False
    target = definition.get("@id")
    if not isinstance(target, str):
        return False
    prefix, _, local = term.partition(":")
    base = context.get(prefix)
    base = base.get("@id") if isinstance(base, dict) else base
    if not isinstance(base, str):
        return False
    return _expand_compact(target, context) != base + local


def _expand_compact(value: str, context: dict[str, Any]) -> str:
    prefix, sep, local = value.partition(":")
    base = context.get(prefix)
    base = base.get("@id") if isinstance(base, dict) else base
    return base + local if sep and isinstance(base, str) else value


def kbv_context() -> dict[str, Any]:
    """The repaired KBV context object (the value of ``@context``), usable inline.

    >>> kbv_context()["@vocab"]
    'https://id.kb.se/vocab/'
    """
    document = _lookup_bundled(KBV_CONTEXT_IRI)
    assert document is not None, "the KBV context is bundled"
    context: dict[str, Any] = document["@context"]
    return context


@functools.lru_cache(maxsize=1)
def compact_context() -> dict[str, Any]:
    """The KBV context without its language-map terms (``mainTitleByLang``…), for output.

    With them, a JSON-LD 1.1 compactor puts plain strings under ``{"@none": …}`` of the
    ``…ByLang`` terms; without them plain values stay under ``mainTitle`` and language-
    tagged ones become ``{"@value", "@language"}`` objects, which is what people expect.
    """
    return {t: d for t, d in kbv_context().items()
            if not (isinstance(d, dict) and d.get("@container") == "@language")}


@functools.lru_cache(maxsize=1)
def _kbv_context_json() -> str:
    return json.dumps(kbv_context(), ensure_ascii=False)


def pinned_context(iri: str) -> dict[str, Any] | None:
    """The ``@context`` of a bundled (pinned) context document, ``None`` when not bundled
    (:func:`linkeddata.profiles.target_context` is the one for profiles)."""
    doc = _lookup_bundled(iri)
    return doc["@context"] if doc else None


class LocalFirstLoader(DocumentLoader):
    """pyld document loader: pinned contexts first, then the network via our session.

    :param session: the shared :func:`linkeddata.http.make_session` session (built
        lazily when needed and none is given).
    :param offline: refuse every URL that is not bundled.
    """

    def __init__(self, session: requests.Session | None = None, offline: bool = False, extra: dict[str, Any] | None = None):
        self.session = session
        self.offline = offline
        self.extra = dict(extra or {})

    def __call__(self, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        if url in self.extra:
            return _remote(url, self.extra[url])
        document = _lookup_bundled(url)
        if document is not None:
            return _remote(url, document)
        if self.offline or not url.startswith(("http://", "https://")):
            raise pyld.JsonLdError(
                f"{url} is not a bundled context and the loader is offline",
                "jsonld.LoadDocumentError", {"url": url}, code="loading document failed")
        return _remote(url, self._fetch(url))

    def _fetch(self, url: str) -> Any:
        from .config import to_request_url
        from .http import make_session, request

        if self.session is None:
            self.session = make_session()
        try:
            response = request(self.session, "GET", to_request_url(url),
                               headers={"Accept": "application/ld+json, application/json;q=0.9"}, what=f"context {url}",
                               kind="context")
        except NotFoundError as exc:
            raise pyld.JsonLdError(str(exc), "jsonld.LoadDocumentError", {"url": url},
                                   code="loading document failed") from exc
        return response.json()


def _remote(url: str, document: Any) -> dict[str, Any]:
    return {"contextUrl": None, "documentUrl": url, "document": document}


def make_document_loader(session: requests.Session | None = None, offline: bool = False) -> LocalFirstLoader:
    """A :class:`LocalFirstLoader`; pass it as ``loader=`` to the functions here."""
    return LocalFirstLoader(session=session, offline=offline)


_OFFLINE = LocalFirstLoader(offline=True)


def _is_kbv_reference(context: Any) -> bool:
    return isinstance(context, str) and (context.endswith("/context.jsonld") or context.endswith("/sys/context/kbv"))


def with_kbv_context(doc: Any) -> Any:
    """``doc`` with its context inline: the KBV context when it has none or a (relative)
    KBV reference, a pinned target context for a profile IRI. Other contexts are kept.

    >>> with_kbv_context({"@graph": []})["@context"]["@vocab"]
    'https://id.kb.se/vocab/'
    """
    if isinstance(doc, list):
        return {"@context": kbv_context(), "@graph": doc}
    if not isinstance(doc, dict):
        raise JsonLdError(f"expected a JSON-LD object, got {type(doc).__name__}")
    context = doc.get("@context")
    if context is None or _is_kbv_reference(context):
        return {**doc, "@context": kbv_context()}
    if isinstance(context, str):
        bundled = _lookup_bundled(context)
        if bundled is not None:
            return {**doc, "@context": bundled["@context"]}
    return doc


def _options(loader: Any, base: str | None, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"documentLoader": loader or _OFFLINE, **extra}
    if base:
        options["base"] = base
    return options


def _call(what: str, func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except pyld.JsonLdError as exc:
        raise JsonLdError(f"JSON-LD {what} failed: {_first_line(exc)}") from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise JsonLdError(f"JSON-LD {what} failed: {exc}") from exc
    except RecursionError as exc:
        raise JsonLdError(f"JSON-LD {what} failed: nested too deeply") from exc


def _first_line(exc: BaseException) -> str:
    """The innermost cause's first line (pyld wraps loader errors in generic ones)."""
    cause: BaseException = exc
    for _ in range(10):
        inner = getattr(cause, "cause", None) or cause.__cause__ or cause.__context__
        if not isinstance(inner, BaseException):
            break
        cause = inner
    message = cause.args[0] if cause.args and isinstance(cause.args[0], str) else str(cause)
    text = message.strip().splitlines()
    return text[0] if text else type(exc).__name__


def expand(doc: Any, base: str | None = None, loader: Any = None) -> list[Any]:
    """Expand a document (KBV context applied when it has none)."""
    expanded: list[Any] = _call("expansion", pyld.expand, with_kbv_context(doc), _options(loader, base))
    return expanded


def compact(doc: Any, context: Any = None, loader: Any = None, base: str | None = None) -> dict[str, Any]:
    """Compact with ``context`` (default: the KBV context, see :func:`compact_context`)."""
    ctx = context if context is not None else compact_context()
    compacted: dict[str, Any] = _call("compaction", pyld.compact, with_kbv_context(doc), ctx, _options(loader, base))
    return compacted


def frame(doc: Any, frame_doc: dict[str, Any] | str, loader: Any = None, base: str | None = None) -> dict[str, Any]:
    """Frame a document; ``frame_doc`` may be a bundled frame name (``instance``, ``record``).

    The frame gets the KBV context when it has none, so results use KBV terms.
    """
    if isinstance(frame_doc, str):
        if frame_doc not in FRAMES:
            raise JsonLdError(f"unknown frame {frame_doc!r}; bundled: {', '.join(FRAMES)}")
        frame_doc = FRAMES[frame_doc]
    if "@context" not in frame_doc:
        frame_doc = {"@context": compact_context(), **frame_doc}
    frame_doc = with_kbv_context(frame_doc)
    framed: dict[str, Any] = _call("framing", pyld.frame, with_kbv_context(doc), frame_doc,
                                   _options(loader, base, omitGraph=False))
    return framed


def to_nquads(doc: Any, base: str | None = None, loader: Any = None, graph: str | None = None) -> str:
    """N-Quads of a document through pyld (the reference path).

    With ``graph``, every triple is put in that named graph and blank nodes are
    relabelled so that several documents' output can be concatenated safely.
    """
    text: str = _call("to RDF", pyld.to_rdf, with_kbv_context(doc), _options(loader, base, format="application/n-quads"))
    if graph is None:
        return text
    quads = ox.parse(text.encode("utf-8"), format=ox.RdfFormat.N_QUADS)
    g = ox.NamedNode(graph)
    return "".join(f"{q.subject} {q.predicate} {q.object} {g} .\n" for q in _fresh_bnodes(quads, g))


def _fresh_bnodes(quads: Iterable[ox.Quad], graph: ox.NamedNode | ox.DefaultGraph) -> Iterator[ox.Quad]:
    """Quads with every blank node replaced by a fresh one (unique per call)."""
    mapping: dict[str, ox.BlankNode] = {}

    def fresh(term: Any) -> Any:
        if isinstance(term, ox.BlankNode):
            if term.value not in mapping:
                mapping[term.value] = ox.BlankNode()
            return mapping[term.value]
        return term

    for q in quads:
        yield ox.Quad(fresh(q.subject), q.predicate, fresh(q.object), graph)


# ------------------------------------------------------------------ fast path

def record_body(doc: Any) -> list[Any]:
    """The nodes of a Libris record document, ready to be placed in one named graph.

    Accepts the stored shape (``{"@graph": [...]}``), framed and lens views (one root
    node) and embellished documents, whose nested graph objects (linked records as
    ``{"@id": "…?lens=card", "@graph": [...]}``) are flattened into the same graph.
    """
    if isinstance(doc, list):
        nodes = doc
    elif "@graph" in doc:
        nodes = doc["@graph"]
        nodes = nodes if isinstance(nodes, list) else [nodes]
    else:
        nodes = [{k: v for k, v in doc.items() if k != "@context"}]
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, dict) and "@graph" in node and set(node) <= {"@id", "@graph", "@context"}:
            out.extend(record_body(node))
        else:
            out.append(node)
    return out


def record_iri_of(doc: Any) -> str | None:
    """The record IRI a Libris document describes (``@graph[0]``, a framed Record, or ``meta``)."""
    if isinstance(doc, dict) and "@graph" in doc:
        nodes = doc["@graph"] if isinstance(doc["@graph"], list) else [doc["@graph"]]
        for node in nodes:
            if isinstance(node, dict) and "mainEntity" in node and isinstance(node.get("@id"), str):
                return str(node["@id"])
        first = nodes[0] if nodes else None
        return first.get("@id") if isinstance(first, dict) else None
    if isinstance(doc, dict):
        if "mainEntity" in doc and isinstance(doc.get("@id"), str):
            return str(doc["@id"])
        meta = doc.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("@id"), str):
            return str(meta["@id"])
        if isinstance(doc.get("@id"), str):
            return str(doc["@id"]).split("#", 1)[0]
    return None


@functools.lru_cache(maxsize=None)
def _bundled_context_json(url: str) -> str | None:
    document = _lookup_bundled(url)
    return None if document is None else json.dumps(document["@context"], ensure_ascii=False)


_inline_contexts: dict[int, tuple[Any, str]] = {}


def _context_json_for(docs: list[Any]) -> str | None:
    """One inline context shared by all docs, or ``None`` when they differ."""
    contexts = set()
    for doc in docs:
        context = doc.get("@context") if isinstance(doc, dict) else None
        if context is None or _is_kbv_reference(context):
            contexts.add(_kbv_context_json())
        elif isinstance(context, str) and _bundled_context_json(context) is not None:
            contexts.add(_bundled_context_json(context))  # type: ignore[arg-type]
        elif isinstance(context, dict):  # inline (a dump's context item): serialised once per object
            cached = _inline_contexts.get(id(context))
            if cached is None or cached[0] is not context:
                if len(_inline_contexts) > 32:
                    _inline_contexts.clear()
                cached = _inline_contexts[id(context)] = (context, json.dumps(context, ensure_ascii=False))
            contexts.add(cached[1])
        else:
            return None
        if len(contexts) > 1:
            return None
    return contexts.pop() if contexts else _kbv_context_json()


#: Deepest nesting of a record accepted: Libris records nest about a dozen levels, and
#: pyoxigraph's JSON-LD parser needs memory per level (a 900-deep record took 300 MB).
MAX_DEPTH = 100
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_EMPTY_PAIR = re.compile(rb"\{\}|\[\]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]")


def depth_over(data: bytes, limit: int) -> bool:
    """``True`` when the JSON text ``data`` nests objects/arrays deeper than ``limit``.

    >>> depth_over(b'{"a": [{"b": "[[[["}]}', 2), depth_over(b'{"a": [{"b": "[[[["}]}', 3)
    (True, False)
    """
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _EMPTY_PAIR.sub(b"", brackets)
    return bool(brackets)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


_CONTAINERS = (dict, list)


def streaming_order(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with ``@context`` and ``@type`` first in every object, as pyoxigraph's
    streaming JSON-LD parser requires (the other keys keep their order; key order means
    nothing in JSON-LD). The input is never changed.

    Raises :class:`JsonLdError` for a value nested deeper than :data:`MAX_DEPTH`.

    >>> streaming_order({"name": "x", "@id": "_:a", "@type": "T", "p": [{"v": 1, "@type": "U"}]})
    {'@type': 'T', 'name': 'x', '@id': '_:a', 'p': [{'@type': 'U', 'v': 1}]}
    """
    if depth > MAX_DEPTH:
        raise JsonLdError(f"nested deeper than {MAX_DEPTH} levels")
    if type(value) is list:
        return [streaming_order(v, depth + 1) if type(v) in _CONTAINERS else v for v in value]
    if type(value) is not dict:
        return value
    out: dict[str, Any] = {}
    if "@context" in value:
        out["@context"] = value["@context"]
    if "@type" in value:
        out["@type"] = value["@type"]
    for key, item in value.items():
        if type(item) in _CONTAINERS:
            if key != "@context":
                item = streaming_order(item, depth + 1)
        elif key in out:
            continue
        out[key] = item
    return out


def _as_is(value: Any) -> Any:
    return value


def records_parts(pairs: list[tuple[str, Any]], streaming: bool = False) -> tuple[str, list[str]] | None:
    """The shared inline context (JSON) of ``(graph_iri, doc)`` pairs and, per pair, the
    JSON text of its named graph object; ``None`` when their contexts differ.
    ``streaming``: keys in the order of JSON-LD's streaming profile (:func:`streaming_order`).

    Raises :class:`JsonLdError` for a record nested deeper than :data:`MAX_DEPTH`.
    """
    context_json = _context_json_for([d for _, d in pairs])
    if context_json is None:
        return None
    order: Callable[[Any], Any] = streaming_order if streaming else _as_is
    try:
        bodies = ['{"@id":' + json.dumps(g) + ',"@graph":' + json.dumps(order(record_body(d)), ensure_ascii=False) + "}"
                  for g, d in pairs]
    except RecursionError as exc:
        raise JsonLdError(f"nested deeper than {MAX_DEPTH} levels") from exc
    except (TypeError, ValueError) as exc:
        raise JsonLdError(f"not a JSON-LD document ({exc})") from exc
    if not streaming:  # streaming_order checked the depth as it went
        for body in bodies:
            if depth_over(body.encode("utf-8"), MAX_DEPTH + 2):
                raise JsonLdError(f"nested deeper than {MAX_DEPTH} levels")
    return context_json, bodies


def join_parts(context_json: str, bodies: list[str]) -> bytes:
    """One JSON-LD document of named graph objects (see :func:`records_parts`)."""
    return ('{"@context":' + context_json + ',"@graph":[' + ",".join(bodies) + "]}").encode("utf-8")


def records_text(pairs: list[tuple[str, Any]]) -> bytes | None:
    """One JSON-LD document (UTF-8) holding every ``(graph_iri, doc)`` pair in its named graph,
    with their shared bundled context inlined once; ``None`` when their contexts differ."""
    parts = records_parts(pairs)
    return None if parts is None else join_parts(*parts)


def record_quads(pairs: list[tuple[str, Any]], loader: Any = None) -> list[ox.Quad]:
    """Quads of many ``(graph_iri, json_ld_doc)`` pairs, each doc in its own named graph.

    Fast path: when the documents share one bundled context (KBV, or one target
    context), they are parsed together by pyoxigraph's JSON-LD parser with the context
    inlined once (:func:`records_text`). Otherwise each document goes through pyld.
    Blank nodes never leak between records.
    """
    if not pairs:
        return []
    data = records_text(pairs)
    if data is not None:
        try:
            return list(ox.parse(data, format=ox.RdfFormat.JSON_LD))
        except (SyntaxError, ValueError) as exc:
            raise JsonLdError(f"JSON-LD to RDF failed: {_short(exc)}") from exc
        except MemoryError as exc:  # pyoxigraph's parser caps its buffer at 16 MB
            raise ValueTooLargeError(f"a value is too large for the JSON-LD parser ({_short(exc)})") from exc
    return reference_quads(pairs, loader)


class ValueTooLargeError(JsonLdError):
    """pyoxigraph's JSON-LD parser cannot take a value this large (:func:`reference_quads` can)."""


def reference_quads(pairs: list[tuple[str, Any]], loader: Any = None) -> list[ox.Quad]:
    """Quads of ``(graph_iri, json_ld_doc)`` pairs through pyld (slow; no size limit on values).

    Blank nodes are fresh per document, and every triple goes into the document's graph."""
    quads: list[ox.Quad] = []
    for g, doc in pairs:
        dataset = _call("to RDF", pyld.to_rdf, with_kbv_context(doc), _options(loader, None))
        graph = ox.NamedNode(g)
        blanks: dict[str, ox.BlankNode] = {}
        for triples in dataset.values():
            for t in triples:
                quads.append(ox.Quad(_pyld_term(t["subject"], blanks), _pyld_term(t["predicate"], blanks),
                                     _pyld_term(t["object"], blanks), graph))
    return quads


def _pyld_term(term: dict[str, Any], blanks: dict[str, ox.BlankNode]) -> Any:
    kind, value = term["type"], term["value"]
    if kind == "IRI":
        return ox.NamedNode(value)
    if kind == "blank node":
        return blanks.setdefault(value, ox.BlankNode())
    if term.get("language"):
        return ox.Literal(value, language=term["language"])
    datatype = term.get("datatype")
    return ox.Literal(value, datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(value)


def load_json(path: str | Path) -> Any:
    """Read a JSON(-LD) file with a clear error."""
    from .errors import ParseError

    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ParseError(f"{path}: not valid JSON ({exc})") from exc
