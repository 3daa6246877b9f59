"""Profiles: map KBV records onto other vocabularies (schema.org, bibo, BIBFRAME) offline.

Libris answers ``?profile=<target context IRI>`` by expanding a record with the KBV
context, rewriting it with TRLD's *target vocabulary map* (built from the RDFS/OWL
axioms of the KBV vocabulary: subClassOf, subPropertyOf, equivalentClass/Property,
propertyChainAxiom, qualified roles) and compacting it with the target context, with
terms that have no mapping dropped. This module does the same locally:

* :data:`PROFILES` names the target contexts; :func:`resolve_profile` turns a name or
  IRI into the profile IRI.
* :func:`load_vocab` reads the vocabulary (Turtle or JSON-LD, a local file or the
  configured id.kb.se ``/vocab/``) into the expanded JSON-LD form TRLD wants.
* :func:`target_map` compiles (and caches) the TRLD map of one profile.
* :func:`map_to_profile` maps one document; :func:`map_document` reads a file or a
  :class:`~linkeddata.records.Record` first.

TRLD is an optional dependency (the ``map`` extra).

>>> resolve_profile("sdo")
'https://id.kb.se/sys/context/target/sdo-w3c'
>>> vocab = vocab_from_turtle('''
... @prefix : <https://id.kb.se/vocab/> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
... :mainTitle owl:equivalentProperty <http://schema.org/name> .''')
>>> out = map_to_profile({"@id": "https://libris.kb.se/x#it", "mainTitle": "Ny bok"}, "sdo", vocab)
>>> out["name"], out["@context"]
('Ny bok', 'https://id.kb.se/sys/context/target/sdo-w3c')
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TYPE_CHECKING

from .config import KBV_PROFILE, SERVICES
from .errors import InvalidInputError, LinkedDataError, MissingExtraError, ParseError
from .records import Record

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

TARGET_BASE = SERVICES["id"] + "/sys/context/target/"

#: Short names of the target profiles.
PROFILES: dict[str, str] = {
    "sdo": TARGET_BASE + "sdo-w3c",
    "bibo": TARGET_BASE + "bibo-w3c",
    "loc": TARGET_BASE + "loc-w3c-sdo",
}

#: Every target context Libris offers (``syscore.py`` ``contexts()``).
AVAILABLE_PROFILES: tuple[str, ...] = tuple(
    TARGET_BASE + name for name in ("sdo-w3c", "bibo-w3c", "loc-w3c-sdo", "loc-dcmi-w3c", "sdo")
)

_ALIASES: dict[str, str] = {
    **{iri[len(TARGET_BASE):]: iri for iri in AVAILABLE_PROFILES},
    **PROFILES,
    "schema": PROFILES["sdo"],
    "schema.org": PROFILES["sdo"],
    "bibframe": PROFILES["loc"],
    "bf": PROFILES["loc"],
    "loc-dcmi": TARGET_BASE + "loc-dcmi-w3c",
}

VOCAB_MEDIA_TYPES = "text/turtle, application/ld+json;q=0.9"

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_TYPE, _RDF_FIRST, _RDF_REST, _RDF_NIL = _RDF + "type", _RDF + "first", _RDF + "rest", _RDF + "nil"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _trld() -> Any:
    try:
        from trld.tvm import mapmaker, mapper
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MissingExtraError("profile mapping needs trld, a dependency of linkeddata: pip install 'trld>=0.3,<0.4'"
                                ) from exc
    return mapmaker, mapper


# ---------------------------------------------------------------- profile names


def resolve_profile(name_or_iri: str) -> str:
    """The profile IRI of a short name (``sdo``, ``bibo``, ``loc``, ``loc-dcmi-w3c``…) or an IRI.

    IRIs are returned unchanged (unknown ones fail later, as on the server).

    >>> resolve_profile("bibo")
    'https://id.kb.se/sys/context/target/bibo-w3c'
    >>> resolve_profile("https://id.kb.se/sys/context/target/sdo")
    'https://id.kb.se/sys/context/target/sdo'
    """
    value = (name_or_iri or "").strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    if value.lower() in _ALIASES:
        return _ALIASES[value.lower()]
    if value.startswith(("http://", "https://")):
        return value
    names = ", ".join(sorted(PROFILES))
    raise InvalidInputError(f"unknown profile {name_or_iri!r}; use one of {names} or a target context IRI")


def is_kbv_profile(profile: str | None) -> bool:
    """True for no profile or the KBV system context (data stays as it is)."""
    return not profile or profile in (KBV_PROFILE, "kbv", "https://id.kb.se/context.jsonld")


def target_context(profile: str) -> Any:
    """The ``@context`` value of a target profile (from the pinned copies).

    :raises InvalidInputError: ``Profile <…> is not available`` for other IRIs.
    """
    from .jsonld import pinned_context

    iri = resolve_profile(profile)
    context = pinned_context(iri) if iri in AVAILABLE_PROFILES else None
    if context is None:
        raise InvalidInputError(f"Profile <{iri}> is not available")
    return context


def to_turtle(mapped: dict[str, Any], profile: str) -> str:
    """Turtle of a document mapped to ``profile``, with the target context's prefixes."""
    import pyoxigraph as ox

    from .jsonld import to_nquads

    context = target_context(profile)
    doc = {**mapped, "@context": context}
    quads = ox.parse(to_nquads(doc).encode("utf-8"), format=ox.RdfFormat.N_QUADS)
    prefixes: dict[str, str] = {}
    for part in context if isinstance(context, list) else [context]:
        for key, value in part.items():
            if isinstance(value, str) and not key.startswith("@"):
                prefixes[key] = value
            elif key == "@vocab" and isinstance(value, str):
                prefixes["sdo" if "schema.org" in value else "vocab"] = value
    turtle = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.TURTLE, prefixes=prefixes)
    return (turtle or b"").decode("utf-8")


# ---------------------------------------------------------------- vocabulary


def vocab_from_turtle(text: str | bytes, base: str | None = None, source: str = "vocabulary") -> dict[str, Any]:
    """Parse Turtle into expanded, flat JSON-LD (``{"@graph": [...]}``) with RDF lists as ``@list``."""
    import pyoxigraph as ox

    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        triples = list(ox.parse(data, format=ox.RdfFormat.TURTLE, base_iri=base))
    except (SyntaxError, ValueError) as exc:
        raise ParseError(f"{source}: not valid Turtle ({str(exc).splitlines()[0] if str(exc) else exc})") from exc
    return {"@graph": triples_to_jsonld(triples)}


def triples_to_jsonld(triples: Iterable[Any], embed_blank: bool = False) -> list[dict[str, Any]]:
    """pyoxigraph triples → expanded JSON-LD node objects (well-formed RDF lists become ``@list``).

    With ``embed_blank``, blank nodes referenced exactly once are nested in their
    referrer, the shape Libris records have (property chains need it).
    """
    import pyoxigraph as ox

    def ref(term: Any) -> str:
        return f"_:{term.value}" if isinstance(term, ox.BlankNode) else term.value

    def value(term: Any) -> dict[str, Any]:
        if isinstance(term, ox.Literal):
            out: dict[str, Any] = {"@value": term.value}
            if term.language:
                out["@language"] = term.language
            elif term.datatype.value != _XSD_STRING:
                out["@type"] = term.datatype.value
            return out
        return {"@id": ref(term)}

    nodes: dict[str, dict[str, Any]] = {}
    rest_targets: set[str] = set()
    for triple in triples:
        subject = ref(triple.subject)
        node = nodes.setdefault(subject, {"@id": subject})
        predicate = triple.predicate.value
        if predicate == _RDF_TYPE and not isinstance(triple.object, ox.Literal):
            node.setdefault("@type", []).append(ref(triple.object))
            continue
        node.setdefault(predicate, []).append(value(triple.object))
        if predicate == _RDF_REST:
            rest_targets.add(ref(triple.object))

    def list_items(head: str) -> tuple[list[Any], set[str]] | None:
        items: list[Any] = []
        seen: set[str] = set()
        current = head
        while current != _RDF_NIL:
            node = nodes.get(current)
            if node is None or current in seen or not current.startswith("_:"):
                return None
            if set(node) - {"@id", _RDF_FIRST, _RDF_REST}:
                return None
            if len(node.get(_RDF_FIRST, ())) != 1 or len(node.get(_RDF_REST, ())) != 1:
                return None
            seen.add(current)
            items.append(node[_RDF_FIRST][0])
            nxt = node[_RDF_REST][0].get("@id")
            if nxt is None:
                return None
            current = nxt
        return items, seen

    consumed: set[str] = set()
    for node in list(nodes.values()):
        for key, values in node.items():
            if key.startswith("@") or key in (_RDF_FIRST, _RDF_REST):
                continue
            for i, val in enumerate(values):
                target = val.get("@id")
                if target == _RDF_NIL:
                    values[i] = {"@list": []}
                elif target and target.startswith("_:") and target not in rest_targets and _RDF_FIRST in nodes.get(target, {}):
                    found = list_items(target)
                    if found is not None:
                        values[i] = {"@list": found[0]}
                        consumed |= found[1]
    if embed_blank:
        consumed |= _embed_blank_nodes(nodes, consumed)
    return [node for key, node in nodes.items() if key not in consumed]


def _embed_blank_nodes(nodes: dict[str, dict[str, Any]], skip: set[str]) -> set[str]:
    """Nest blank nodes that are referenced once, walking down from the other nodes (cycle-safe)."""

    def refs(value: Any) -> Iterable[dict[str, Any]]:
        if isinstance(value, dict):
            if "@list" in value:
                for item in value["@list"]:
                    yield from refs(item)
            elif "@id" in value and len(value) == 1:
                yield value

    def node_refs(node: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for prop, values in node.items():
            if not prop.startswith("@"):
                for val in values:
                    yield from refs(val)

    counts: dict[str, int] = {}
    for key, node in nodes.items():
        if key not in skip:
            for ref in node_refs(node):
                counts[ref["@id"]] = counts.get(ref["@id"], 0) + 1

    def embeddable(target: str) -> bool:
        return target.startswith("_:") and counts.get(target) == 1 and target in nodes and target not in skip

    embedded: set[str] = set()

    def walk(node: dict[str, Any], path: set[str]) -> None:
        for ref in list(node_refs(node)):
            target = ref["@id"]
            if embeddable(target) and target not in path and target not in embedded:
                embedded.add(target)
                child = nodes[target]
                walk(child, path | {target})
                ref.update({k: v for k, v in child.items() if k != "@id"})
                del ref["@id"]

    for key, node in nodes.items():
        if key not in skip and not embeddable(key):
            walk(node, {key})
    return embedded


def _vocab_from_jsonld(doc: Any, source: str) -> dict[str, Any]:
    from .jsonld import expand

    graph = expand(doc)
    from trld.jsonld.flattening import flatten  # flat nodes, lists kept

    return {"@graph": flatten(graph)}


def _read_text(path: Path) -> str:
    """A file's UTF-8 text; undecodable or unreadable files are library errors, not tracebacks."""
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _is_turtle(text: str) -> bool:
    return not text.lstrip().startswith(("{", "["))


def vocab_from_text(text: str | bytes, source: str = "vocabulary", base: str | None = None) -> dict[str, Any]:
    """A vocabulary from Turtle or JSON-LD text (sniffed)."""
    try:
        s = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as exc:
        raise ParseError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if _is_turtle(s):
        return vocab_from_turtle(s, base=base, source=source)
    try:
        doc = json.loads(s)
    except ValueError as exc:
        raise ParseError(f"{source}: not valid JSON-LD ({exc})") from exc
    return _vocab_from_jsonld(doc, source)


#: Files read from a vocabulary folder (RDF only: Turtle, JSON-LD).
VOCAB_SUFFIXES = (".ttl", ".jsonld", ".json")
_VOCAB_CACHE: dict[str, dict[str, Any]] = {}
_LOCK = threading.RLock()


def load_vocab(source: str | Path | Iterable[str | Path] | None = None, session: requests.Session | None = None) -> dict[str, Any]:
    """The KBV vocabulary as expanded JSON-LD for TRLD (``{"@graph": [...]}``).

    :param source: a Turtle (``.ttl``) or JSON-LD file, a folder of them, or several
        paths; ``None`` fetches ``<id.kb.se>/vocab/`` (``LINKEDDATA_ID_URL``) through
        the shared session (cached on disk, and in this process).
    """
    if source is None:
        return _fetch_vocab(session)
    paths: list[tuple[Path, bool]] = []  # (file, inside a folder)
    for item in [source] if isinstance(source, (str, Path)) else source:
        path = Path(item)
        if path.is_dir():
            paths += [(p, True) for p in sorted(path.iterdir()) if p.is_file() and p.suffix in VOCAB_SUFFIXES]
        elif path.is_file():
            paths.append((path, False))
        else:
            raise InvalidInputError(f"vocabulary file not found: {path}")
    graph: list[dict[str, Any]] = []
    read = 0
    for path, in_folder in paths:
        try:
            text = _read_text(path)
            if path.suffix == ".ttl":
                graph += vocab_from_turtle(text, base="https://id.kb.se/vocab/", source=str(path))["@graph"]
            else:
                graph += vocab_from_text(text, source=str(path))["@graph"]
            read += 1
        except LinkedDataError as exc:
            if not in_folder:
                raise
            # a folder of the published vocabulary also holds display.jsonld (lens definitions, not RDF
            # terms, and not expandable as RDF): files that are not vocabulary RDF are left out
            log.warning("vocabulary folder: skipped %s (%s)", path.name, str(exc).splitlines()[0])
    if paths and not read:
        raise ParseError(f"no readable vocabulary file in {', '.join(str(p) for p, _ in paths[:3])}")
    return {"@graph": graph}


def _fetch_vocab(session: requests.Session | None = None) -> dict[str, Any]:
    from .config import service_url
    from .http import make_session, request

    url = service_url("id") + "/vocab/"
    with _LOCK:
        if url in _VOCAB_CACHE:
            return _VOCAB_CACHE[url]
    own = session is None
    session = session or make_session()
    try:
        response = request(session, "GET", url, what=f"vocabulary {url}", headers={"Accept": VOCAB_MEDIA_TYPES},
                           kind="context")
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media == "text/html":
            from .errors import NegotiationError

            raise NegotiationError(f"{url}: got HTML instead of the vocabulary", url=url)
        vocab = vocab_from_text(response.content, source=url, base="https://id.kb.se/vocab/")
    finally:
        if own:
            session.close()
    with _LOCK:
        _VOCAB_CACHE[url] = vocab
    return vocab


# ---------------------------------------------------------------- mapping

_MAP_CACHE: OrderedDict[tuple[str, int], tuple[Any, dict[str, Any]]] = OrderedDict()
_MAP_CACHE_SIZE = 16


def target_map(profile: str, vocab: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """The TRLD target map of ``profile`` compiled from ``vocab`` (cached per profile and vocab)."""
    iri = resolve_profile(profile)
    key = (iri, id(vocab))
    with _LOCK:
        hit = _MAP_CACHE.get(key)
        if hit is not None and hit[0] is vocab:
            _MAP_CACHE.move_to_end(key)
            return hit[1]
    context = target_context(iri)
    mapmaker, _ = _trld()
    try:
        tmap = mapmaker.make_target_map(vocab, {"@context": context})
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise LinkedDataError(f"cannot build the map for profile <{iri}> from this vocabulary: {exc!r}") from exc
    with _LOCK:
        _MAP_CACHE[key] = (vocab, tmap)
        while len(_MAP_CACHE) > _MAP_CACHE_SIZE:
            _MAP_CACHE.popitem(last=False)
    target: dict[str, Any] = tmap
    return target


def map_to_profile(doc: Any, profile: str, vocab: dict[str, Any] | list[Any] | None = None,
                   drop_unmapped: bool = True, session: requests.Session | None = None) -> dict[str, Any]:
    """Map a KBV JSON-LD document to a target profile, as Libris does for ``?profile=``.

    The document is expanded with the KBV context (documents without ``@context`` or
    with a relative ``/context.jsonld`` get KBV), rewritten with TRLD, compacted with
    the target context, and its ``@context`` set to the profile IRI. ``vocab`` defaults
    to :func:`load_vocab` (the configured id.kb.se vocabulary). A KBV profile returns
    the document unchanged.
    """
    from .jsonld import compact, expand

    iri = resolve_profile(profile) if not is_kbv_profile(profile) else KBV_PROFILE
    if iri == KBV_PROFILE:
        unchanged: dict[str, Any] = doc
        return unchanged
    context = target_context(iri)
    if vocab is None:
        vocab = load_vocab(session=session)
    tmap = target_map(iri, vocab)
    _, mapper = _trld()
    expanded = expand(doc)
    had_reverse = {id(node) for node in expanded if isinstance(node, dict) and "@reverse" in node}
    mapped = mapper.map_to(tmap, expanded, drop_unmapped)
    # TRLD's index adds "@reverse" to the top-level input nodes it maps; keep only original ones.
    for node_in, node_out in zip(expanded, mapped if isinstance(mapped, list) else []):
        if isinstance(node_out, dict) and id(node_in) not in had_reverse:
            node_out.pop("@reverse", None)
    mapped = _prune(mapped)
    result = compact(mapped, {"@context": context})
    result["@context"] = iri
    return result


def _prune(value: Any) -> Any:
    """Drop nodes left empty by ``drop_unmapped`` (blank nodes with nothing but ``@type``)."""
    if isinstance(value, list):
        out = [_prune(v) for v in value]
        return [v for v in out if v is not _EMPTY]
    if isinstance(value, dict):
        out_d: dict[str, Any] = {}
        for k, v in value.items():
            pv = _prune(v)
            if isinstance(pv, list) and not pv and k not in ("@list", "@set"):
                continue
            if pv is _EMPTY:
                continue
            out_d[k] = pv
        if not out_d or (set(out_d) <= {"@type"} and "@value" not in value):
            return _EMPTY
        return out_d
    return value


_EMPTY: Any = object()


def read_document(source: str | Path | Record | dict[str, Any]) -> Any:
    """A document to map: a parsed JSON-LD object, a :class:`Record`'s data, or a JSON-LD
    or Turtle file (Turtle becomes expanded JSON-LD)."""
    if isinstance(source, Record):
        if isinstance(source.data, (dict, list)):
            return source.data
        return _parse_rdf_text(source.text(), source.iri, source.media_type)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"file not found: {path}")
        text = _read_text(path)
        if path.suffix.lower() in (".ttl", ".nt", ".trig", ".nq", ".rdf", ".xml", ".owl", ".n3"):
            from .formats import rdf_format

            return _parse_rdf_text(text, str(path), rdf_format(path).media_type)
        if _is_turtle(text):
            return _parse_rdf_text(text, str(path), "text/turtle")
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ParseError(f"{path}: not valid JSON ({exc})") from exc
    return source


def map_document(source: str | Path | Record | dict[str, Any], profile: str,
                 vocab: dict[str, Any] | list[Any] | str | Path | None = None, session: requests.Session | None = None,
                 drop_unmapped: bool = True) -> dict[str, Any]:
    """Map a JSON-LD or Turtle file, a :class:`Record` or a parsed document to ``profile``.

    ``vocab`` may be a loaded vocabulary or a path for :func:`load_vocab`.
    """
    if isinstance(vocab, (str, Path)):
        vocab = load_vocab(vocab)
    return map_to_profile(read_document(source), profile, vocab, drop_unmapped=drop_unmapped, session=session)


def _parse_rdf_text(text: str, source: str, media_type: str) -> dict[str, Any]:
    """Turtle → expanded JSON-LD (``{"@graph": [...]}``) for mapping."""
    import pyoxigraph as ox

    fmt = ox.RdfFormat.from_media_type(media_type) or ox.RdfFormat.TURTLE
    try:
        triples = list(ox.parse(text.encode("utf-8"), format=fmt))
    except (SyntaxError, ValueError) as exc:
        raise ParseError(f"{source}: not valid {fmt.name} ({str(exc).splitlines()[0] if str(exc) else exc})") from exc
    return {"@context": {}, "@graph": triples_to_jsonld((getattr(t, "triple", t) for t in triples), embed_blank=True)}


__all__ = [
    "AVAILABLE_PROFILES", "KBV_PROFILE", "PROFILES", "TARGET_BASE", "is_kbv_profile", "load_vocab", "map_document",
    "map_to_profile", "read_document", "resolve_profile", "target_context", "target_map", "to_turtle", "triples_to_jsonld", "vocab_from_text",
    "vocab_from_turtle",
]
