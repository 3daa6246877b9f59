"""Emulated ``/find`` (legacy Libris search) over the shared corpus.

Supports ``q`` (every term a substring of the titles, statement of responsibility or
control number; ``*`` matches all), ``o``, ``@type`` (with subclasses), field-path
filters with the prefixes ``not-``, ``or-``, ``and-``, ``exists-``, ``min-``,
``minEx-``, ``max-``, ``maxEx-``, ``matches-`` (dates by year/month/day/week),
``_limit`` (default 200, above 4000 becomes 200), ``_offset`` and the search
window (``emu.options["find_max_items"]``, default 10000; beyond it: 400).
Answers a ``PartialCollectionView`` with relative ``first``/``last``/``next``/
``previous`` links, framed items with their record under ``meta``, ``stats``
unless ``_stats`` is off, and ``maxItems`` as a string.
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import quote

from .server import Request, Response, Route, Service

LIBRIS = "https://libris.kb.se/"
LIBRARY = LIBRIS + "library/"
_SUBCLASSES: dict[str, set[str]] = {
    "Instance": {"Instance", "Print", "Electronic", "Manuscript", "Tactile"},
    "Agent": {"Agent", "Person", "Organization", "Family", "Meeting", "Jurisdiction"},
    "Work": {"Work", "Text", "NotatedMusic", "Audio", "Cartography", "MovingImage", "StillImage"},
}
_PREFIXES = ("and-matches-", "matches-", "minEx-", "maxEx-", "exists-", "not-", "and-", "min-", "max-", "or-")
_RANGE = ("min-", "minEx-", "max-", "maxEx-")
_ERR = "Invalid query, please check the documentation."


def add_routes(service: Service, emu: Any) -> None:
    """Add ``GET /find`` and ``/find.<ext>`` to the libris service."""
    finder = _Finder(emu)
    service.routes.append(Route("GET", r"/find(?:\.(?P<ext>jsonld|json))?", finder.handle))


class _Finder:
    def __init__(self, emu: Any):
        self.emu = emu
        self._cache: dict[Any, list[str]] = {}
        self._values: dict[str, tuple[tuple[int, int], dict[str, set[str]]]] = {}

    @property
    def window(self) -> int:
        return int(self.emu.options.get("find_max_items", 10000))

    def handle(self, req: Request, ext: str | None = None) -> Response:
        try:
            limit = _int(req.arg("_limit"), 200)
            offset = _int(req.arg("_offset"), 0)
        except ValueError as exc:
            return Response.error(400, str(exc))
        if limit > 4000:
            limit = 200
        filters = [(k, v) for k, vs in req.query.items() for v in vs if not k.startswith("_")]
        if "p" in req.query and "o" not in req.query:
            return Response.error(400, "Parameter 'p' can only be used together with 'o'")
        if limit and offset + limit > self.window:
            return Response.error(400, _ERR + f" Result window is too large, from + size must be <= {self.window}")
        hits = self.search(filters)
        corpus = self.emu.corpus
        items = [self.item(iri) for iri in hits[offset:offset + limit] if iri in corpus.records]
        return Response.json(self.view(req, filters, hits, items, limit, offset), content_type="application/ld+json")

    # -- matching

    def search(self, filters: list[tuple[str, str]]) -> list[str]:
        corpus = self.emu.corpus
        key = (tuple(sorted(filters)), len(corpus.changes), len(corpus.records))
        iris = self._cache.get(key)
        if iris is None:  # shared by the server's threads: never re-read a key another thread may clear
            with corpus.lock:
                candidates, exact = self.candidates(filters)
                if candidates is None:
                    iris = [iri for iri in corpus.iter_records() if self.matches(iri, filters)]
                else:
                    iris = [iri for iri in corpus.in_order(candidates) if exact or self.matches(iri, filters)]
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = iris
        return iris

    def candidates(self, filters: list[tuple[str, str]]) -> tuple[set[str] | None, bool]:
        """The records that can match, from indexes (``None``: no indexed filter), and whether
        they are exactly the hits (every filter was answered by an index).

        Plain filters on ``@type`` (with subclasses), ``itemOf.@id`` and ``heldBy.@id`` (a
        library IRI) are looked up in the corpus's own indexes; ``min-``/``max-`` (and ``Ex``)
        ranges in an index of that field's values, built once per corpus version when first
        asked for. Values of one filter are ORed, filters ANDed. Candidates of a query with
        other filters are checked by :meth:`matches`, so the answer is always the full scan's,
        in time that depends on the hits rather than on the corpus.
        """
        corpus = self.emu.corpus
        groups: dict[str, list[str]] = {}
        for name, value in filters:
            groups.setdefault(name, []).extend(v for v in value.split(",") if v != "")
        found: set[str] | None = None
        exact = True
        ranges: dict[str, dict[str, list[str]]] = {}
        for name, values in groups.items():
            prefix = next((p for p in _RANGE if name.startswith(p)), "")
            if prefix:
                ranges.setdefault(name[len(prefix):], {}).setdefault(prefix, []).extend(values)
                continue
            if name == "@type":
                part = corpus.of_type(set().union(*(_SUBCLASSES.get(v, {v}) for v in values)))
            elif name == "itemOf.@id":
                part = {h for v in values for h in corpus.holdings_of_exact(v)}
            elif name == "heldBy.@id" and all(v.startswith(LIBRARY) for v in values):
                part = {h for v in values for h in corpus.held_by(v[len(LIBRARY):])}
            else:
                exact = exact and name == "q" and all(v.strip() == "*" for v in values)
                continue
            found = part if found is None else found & part
        for path, bounds in ranges.items():
            part = {iri for value, iris in self.value_index(path).items() if _in_ranges([value], bounds) for iri in iris}
            found = part if found is None else found & part
        return found, exact

    def value_index(self, path: str) -> dict[str, set[str]]:
        """Value of ``path`` → live records with it (built once per corpus version, when first used)."""
        corpus = self.emu.corpus
        version = (len(corpus.changes), len(corpus.records))
        kept = self._values.get(path)
        if kept is None or kept[0] != version:
            index: dict[str, set[str]] = {}
            with corpus.lock:
                for iri in corpus.iter_records():
                    graph = corpus.records[iri]["@graph"]
                    for value in self.values(iri, graph[0], _framed(graph), path):
                        index.setdefault(value, set()).add(iri)
            kept = self._values[path] = (version, index)
        return kept[1]

    def matches(self, iri: str, filters: list[tuple[str, str]]) -> bool:
        doc = self.emu.corpus.records.get(iri)
        if doc is None:
            return False
        graph = doc["@graph"]
        entity = _framed(graph)
        groups: dict[str, list[str]] = {}
        for name, value in filters:
            groups.setdefault(name, []).extend(v for v in value.split(",") if v != "")
        or_results: list[bool] = []
        ranges: dict[str, dict[str, list[str]]] = {}
        for name, values in groups.items():
            prefix = next((p for p in _PREFIXES if name.startswith(p)), "")
            field = name[len(prefix):]
            if name == "q":
                if not _text_match(graph, values):
                    return False
                continue
            if name == "o":
                if not any(v in set(_links(graph)) for v in values):
                    return False
                continue
            if name in ("p",):
                continue
            found = self.values(iri, graph[0], entity, field)
            if prefix in _RANGE:
                ranges.setdefault(field, {}).setdefault(prefix, []).extend(values)
            elif prefix == "":
                if not any(_equal(field, v, found) for v in values):
                    return False
            elif prefix == "or-":
                or_results.append(any(_equal(field, v, found) for v in values))
            elif prefix == "and-":
                if not all(_equal(field, v, found) for v in values):
                    return False
            elif prefix == "not-":
                if any(_equal(field, v, found) for v in values):
                    return False
            elif prefix == "exists-":
                if any((v == "true") != bool(found) for v in values):
                    return False
            elif prefix == "matches-":
                if not any(_date_match(v, found) or _equal(field, v, found) for v in values):
                    return False
            elif prefix == "and-matches-":
                if not all(_date_match(v, found) or _equal(field, v, found) for v in values):
                    return False
        if or_results and not any(or_results):
            return False
        for field, bounds in ranges.items():
            if not _in_ranges(self.values(iri, graph[0], entity, field), bounds):
                return False
        return True

    def values(self, iri: str, record: dict[str, Any], entity: dict[str, Any], path: str) -> list[str]:
        if path == "@type":
            return [str(entity.get("@type"))]
        if path.startswith("@reverse.itemOf."):
            corpus = self.emu.corpus
            out: list[str] = []
            for hold in corpus.holdings_of(entity["@id"]):
                hold_entity = corpus.records[hold]["@graph"][1]
                out += _walk(hold_entity, path[len("@reverse.itemOf."):].split("."))
            return out
        if path.startswith("meta."):
            return _walk(record, path[5:].split("."))
        return _walk(entity, path.split("."))

    # -- the answer

    def item(self, iri: str) -> dict[str, Any]:
        corpus = self.emu.corpus
        graph = copy.deepcopy(corpus.records[iri]["@graph"])
        entity = _framed(graph)
        entity["meta"] = graph[0]
        holds = corpus.holdings_of(entity["@id"]) if corpus.kind(iri) == "bib" else []
        entity["reverseLinks"] = {"totalItems": len(holds),
                                  "@id": LIBRIS + "find?o=" + quote(entity["@id"], safe="")}
        return entity

    def view(self, req: Request, filters: list[tuple[str, str]], hits: list[str], items: list[dict[str, Any]],
             limit: int, offset: int) -> dict[str, Any]:
        total = len(hits)
        reachable = min(total, self.window)

        def link(at: int) -> dict[str, str]:
            return {"@id": _find_url(filters, limit, at)}

        view: dict[str, Any] = {
            "@type": "PartialCollectionView",
            "@id": _find_url(filters, limit, offset),
            "itemOffset": offset,
            "itemsPerPage": limit,
            "totalItems": total,
            "search": {"mapping": _mapping(filters, limit)},
        }
        if limit:
            view["first"] = link(0)
            last = max(0, ((reachable - 1) // limit) * limit) if reachable else 0
            view["last"] = link(last)
            if offset > 0:
                view["previous"] = link(max(0, offset - limit))
            if offset + limit < reachable:
                view["next"] = link(offset + limit)
        view["items"] = items
        if (req.arg("_stats") or "true") in ("true", "on"):
            view["stats"] = self.stats(hits, filters, limit)
        view["maxItems"] = str(self.window)
        view["@context"] = "/context.jsonld"
        return view

    def stats(self, hits: list[str], filters: list[tuple[str, str]], limit: int) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for iri in hits:
            doc = self.emu.corpus.records.get(iri)
            if doc:
                t = str(doc["@graph"][1].get("@type"))
                counts[t] = counts.get(t, 0) + 1
        observations = [{"totalItems": n, "view": {"@id": _find_url(filters + [("@type", t)], limit, 0)},
                         "object": {"@id": f"https://id.kb.se/vocab/{t}"}} for t, n in sorted(counts.items())]
        return {"@id": "#stats", "sliceByDimension": {"@type": {"dimension": "@type", "dimensionChain": ["rdf:type"],
                                                                "observation": observations}}}


def _int(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        return default
    if value < 0:
        raise ValueError(_ERR + " Negative _limit or _offset.")
    return value


def _find_url(filters: list[tuple[str, str]], limit: int, offset: int) -> str:
    pairs = [p for p in filters if p[0] == "q"]
    if not any(k in ("q", "o") for k, _ in filters):
        pairs = [("q", "*")]
    rest = sorted([p for p in filters if p[0] != "q"] + [("_limit", str(limit))])
    pairs += rest
    if offset > 0:
        pairs.append(("_offset", str(offset)))
    return "/find?" + "&".join(f"{quote(k, safe='@.-')}={quote(v, safe='*:/@.,-')}" for k, v in pairs)


def _mapping(filters: list[tuple[str, str]], limit: int) -> list[dict[str, Any]]:
    out = []
    for name, value in filters:
        entry: dict[str, Any] = {"variable": name, "value": value}
        if name == "q":
            entry["predicate"] = {"@id": "https://id.kb.se/vocab/textQuery"}
        else:
            entry["up"] = {"@id": _find_url([f for f in filters if f != (name, value)], limit, 0)}
        out.append(entry)
    return out


def _framed(graph: list[dict[str, Any]]) -> dict[str, Any]:
    """The main entity with the record's other local nodes (``#work``) embedded."""
    if len(graph) < 2:
        return dict(graph[0])
    entity = dict(graph[1])
    local = {n["@id"]: n for n in graph[2:] if isinstance(n, dict) and n.get("@id")}
    for key, value in list(entity.items()):
        if isinstance(value, dict) and value.get("@id") in local and len(value) == 1:
            entity[key] = local[value["@id"]]
    return entity


def _walk(node: Any, steps: list[str]) -> list[str]:
    if not steps:
        if isinstance(node, dict):
            return [str(node["@id"])] if "@id" in node else []
        if isinstance(node, list):
            return [v for n in node for v in _walk(n, steps)]
        return [str(node)]
    if isinstance(node, list):
        return [v for n in node for v in _walk(n, steps)]
    if not isinstance(node, dict):
        return []
    if steps == ["@id"]:
        return [str(node["@id"])] if "@id" in node else []
    if steps[0] not in node:
        return []
    return _walk(node[steps[0]], steps[1:])


def _links(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "@id" in node and len(node) == 1:
            yield node["@id"]
        for value in node.values():
            yield from _links(value)
    elif isinstance(node, list):
        for value in node:
            yield from _links(value)


def _text_match(graph: list[dict[str, Any]], queries: list[str]) -> bool:
    entity = graph[1] if len(graph) > 1 else graph[0]
    parts = [graph[0].get("controlNumber", ""), str(entity.get("responsibilityStatement", ""))]
    for title in entity.get("hasTitle", []) or []:
        if isinstance(title, dict):
            parts += [str(title.get("mainTitle", "")), str(title.get("subtitle", ""))]
    for key in ("name", "givenName", "familyName"):
        parts.append(str(entity.get(key, "")))
    text = " ".join(parts).lower()
    for query in queries:
        terms = [t.strip('"()*+').lower() for t in query.split()]
        if not all(t in text for t in terms if t):
            return False
    return True


def _equal(field: str, wanted: str, found: list[str]) -> bool:
    if field == "@type":
        return any(f in _SUBCLASSES.get(wanted, {wanted}) for f in found)
    return wanted in found


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _in_ranges(found: list[str], bounds: dict[str, list[str]]) -> bool:
    count = max(len(v) for v in bounds.values())
    for i in range(count):
        def check(value: str) -> bool:
            v = _number(value)
            for prefix, op in (("min-", operator.ge), ("minEx-", operator.gt),
                               ("max-", operator.le), ("maxEx-", operator.lt)):
                limits = bounds.get(prefix, [])
                if limits:
                    bound = _number(limits[min(i, len(limits) - 1)])
                    if type(v) is not type(bound):
                        v, bound = str(v), str(bound)
                    if not op(v, bound):
                        return False
            return True

        if any(check(f) for f in found):
            return True
    return False


def _date_match(wanted: str, found: list[str]) -> bool:
    week = re.fullmatch(r"(\d{4})-W(\d\d)", wanted)
    for value in found:
        if week:
            try:
                iso = date.fromisoformat(value[:10]).isocalendar()
            except ValueError:
                continue
            if (iso[0], iso[1]) == (int(week.group(1)), int(week.group(2))):
                return True
        elif re.fullmatch(r"\d{4}(-\d\d(-\d\d(T\d\d(:\d\d(:\d\d)?)?)?)?)?", wanted) and value.startswith(wanted):
            return True
    return False
