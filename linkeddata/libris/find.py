"""Search Libris XL with ``/find``: a typed query builder and a lazy pager.

``/find`` takes a free-text ``q``, an ``o`` (records linking to an IRI) and
filters on field paths, optionally with a prefix (``not-``, ``or-``, ``and-``,
``exists-``, ``min-``, ``minEx-``, ``max-``, ``maxEx-``, ``matches-``,
``and-matches-``). Pages are ``_limit``/``_offset`` windows; the server refuses
to page past ``maxItems`` (10000), so bigger result sets must be split.

>>> build_find_params("aniara", type="Instance", min={"publication.year": 1950})
[('q', 'aniara'), ('@type', 'Instance'), ('min-publication.year', '1950')]
>>> FindQuery(q="x", filters={"heldBy.@id": library_iri("S")}, not_={"@type": "Electronic"}).params()
[('q', 'x'), ('heldBy.@id', 'https://libris.kb.se/library/S'), ('not-@type', 'Electronic')]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

import requests

from ..config import SERVICES, library_iri, service_url, to_canonical_iri
from ..errors import BadResponseError, InvalidInputError, LinkedDataError
from ..http import Pager, make_session, request, response_json
from ..http import fetch_many as fetch_many  # its home is http; kept here for callers
from ..records import Record

log = logging.getLogger(__name__)

#: Keyword of :func:`build_find_params` → parameter prefix.
PREFIXES: dict[str, str] = {
    "not_": "not-",
    "or_": "or-",
    "and_": "and-",
    "exists": "exists-",
    "min": "min-",
    "min_ex": "minEx-",
    "max": "max-",
    "max_ex": "maxEx-",
    "matches": "matches-",
    "and_matches": "and-matches-",
}
#: Fields of type date, whose values must use one of the documented date forms.
DATE_FIELDS = ("meta.created", "meta.modified", "meta.generationDate")
_DATE_RE = re.compile(
    r"\d{4}(-W(0[1-9]|[1-4]\d|5[0-3])"
    r"|-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3])(:[0-5]\d(:[0-5]\d)?)?)?)?)?"
)
_FIELD_RE = re.compile(r"[@A-Za-z][\w@.:-]*")
#: Largest ``_limit`` the server honours (larger values silently become 200).
MAX_PAGE_SIZE = 4000
#: Default search window (Elasticsearch ``max_result_window``).
DEFAULT_MAX_ITEMS = 10000

Params = list[tuple[str, str]]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_text(v) for v in value]
    return [_text(value)]


def validate_date(value: str) -> str:
    """Check a date filter value (year, month, day, hour, minute, second or ``2020-W04``).

    >>> validate_date("2020-W04")
    '2020-W04'
    """
    for part in value.split(","):
        if not _DATE_RE.fullmatch(part.strip()):
            raise InvalidInputError(f"invalid date {part!r}: use YYYY, YYYY-MM, YYYY-MM-DD[THH[:mm[:ss]]] or YYYY-Www")
    return value


def _filter(name: str, value: Any, prefix: str = "") -> Params:
    if not _FIELD_RE.fullmatch(name):
        raise InvalidInputError(f"invalid /find field {name!r}")
    values = _values(value)
    if prefix == "exists-":
        for v in values:
            if v not in ("true", "false"):
                raise InvalidInputError(f"exists-{name} takes true or false, not {v!r}")
    if name in DATE_FIELDS:
        for v in values:
            validate_date(v)
    return [(prefix + name, v) for v in values]


def build_find_params(
    q: str | None = None,
    *,
    o: str | None = None,
    type: str | Sequence[str] | None = None,  # noqa: A002
    filters: Mapping[str, Any] | None = None,
    raw: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
    **prefixed: Mapping[str, Any],
) -> Params:
    """The exact ``/find`` parameters for a query, as a list of pairs (names may repeat).

    :param q: free-text query (``*`` for all).
    :param o: only records that link to this IRI.
    :param type: ``@type`` filter (the server includes subclasses).
    :param filters: field path → value or list of values (``OR``).
    :param raw: parameters passed through unchanged (``_sort``, ``_lens``...).
    :param prefixed: ``not_``, ``or_``, ``and_``, ``exists``, ``min``, ``min_ex``, ``max``,
        ``max_ex``, ``matches``, ``and_matches``: each a mapping field → value(s).

    >>> build_find_params(matches={"meta.created": ["2018-W08", "2018-W10"]})
    [('matches-meta.created', '2018-W08'), ('matches-meta.created', '2018-W10')]
    """
    params: Params = []
    if q is not None:
        params.append(("q", q))
    if o is not None:
        params.append(("o", o))
    if type is not None:
        params += _filter("@type", type)
    for name, value in (filters or {}).items():
        params += _filter(name, value)
    for key, mapping in prefixed.items():
        if key not in PREFIXES:
            raise InvalidInputError(f"unknown /find filter prefix {key!r}; known: {', '.join(PREFIXES)}")
        for name, value in (mapping or {}).items():
            params += _filter(name, value, PREFIXES[key])
    pairs = raw.items() if isinstance(raw, Mapping) else (raw or ())
    for name, value in pairs:
        params.append((str(name), _text(value)))
    return params


@dataclass
class FindQuery:
    """A typed ``/find`` query; :meth:`params` gives the request parameters.

    >>> FindQuery(types=["Print"], min={"publication.year": 1760}, max_ex={"publication.year": 1770}).params()
    [('q', '*'), ('@type', 'Print'), ('min-publication.year', '1760'), ('maxEx-publication.year', '1770')]
    """

    q: str | None = None
    o: str | None = None
    types: Sequence[str] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)
    not_: Mapping[str, Any] = field(default_factory=dict)
    or_: Mapping[str, Any] = field(default_factory=dict)
    and_: Mapping[str, Any] = field(default_factory=dict)
    exists: Mapping[str, Any] = field(default_factory=dict)
    min: Mapping[str, Any] = field(default_factory=dict)
    min_ex: Mapping[str, Any] = field(default_factory=dict)
    max: Mapping[str, Any] = field(default_factory=dict)
    max_ex: Mapping[str, Any] = field(default_factory=dict)
    matches: Mapping[str, Any] = field(default_factory=dict)
    and_matches: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, str] = field(default_factory=dict)

    def params(self) -> Params:
        """The request parameters; ``q=*`` is added when neither ``q`` nor ``o`` is given."""
        q = self.q if self.q is not None or self.o is not None else "*"
        return build_find_params(
            q, o=self.o, type=list(self.types) or None, filters=self.filters, raw=self.raw,
            **{key: getattr(self, key) for key in PREFIXES},
        )


def parse_filter_args(pairs: Iterable[str]) -> Params:
    """``["k=v", ...]`` (CLI ``--filter``) → checked parameter pairs.

    >>> parse_filter_args(["@type=Item", "min-publication.year=2000"])
    [('@type', 'Item'), ('min-publication.year', '2000')]
    """
    out: Params = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"filter {pair!r} is not of the form field=value")
        prefix = next((p for p in sorted(PREFIXES.values(), key=len, reverse=True) if name.startswith(p)), "")
        out += _filter(name[len(prefix):], value, prefix) if not name.startswith("_") else [(name, value)]
    return out


# ---------------------------------------------------------------- results


def item_to_record(item: Mapping[str, Any], source: str = "find") -> Record:
    """A search hit (a framed main entity with its record under ``meta``) → flat ``@graph`` Record."""
    meta = item.get("meta")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("@id"), str) or not isinstance(item.get("@id"), str):
        raise InvalidInputError(f"search hit {item.get('@id')!r} has no meta.@id")
    record = dict(meta)
    record.setdefault("mainEntity", {"@id": item["@id"]})
    entity = {k: v for k, v in item.items() if k not in ("meta", "reverseLinks")}
    return Record(iri=to_canonical_iri(record["@id"]), data={"@graph": [record, entity]},
                  media_type="application/ld+json", last_modified=record.get("modified"), source=source)


class FindResults:
    """Lazy iterator over the Records of a ``/find`` query, one page in memory at a time.

    ``total`` is the server's ``totalItems`` (fetched on first access). ``offset`` is the
    offset of the next hit not yet yielded (save it to resume). ``truncated`` tells that the
    search window stopped the harvest early; ``skipped`` lists ``(id, reason)`` of hits that
    could not be turned into records.
    """

    def __init__(self, params: Iterable[tuple[str, str]] | Mapping[str, Any], *, page_size: int = 200,
                 max_items: int | None = None, offset: int = 0, session: requests.Session | None = None,
                 base_url: str | None = None, full: bool = False, concurrency: int = 4, stats: bool = False,
                 on_window: str = "warn", max_pages: int = 100_000, embellished: bool = False,
                 profile: str | None = None):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        if on_window not in ("warn", "error"):
            raise InvalidInputError("on_window must be 'warn' or 'error'")
        if full and profile:  # fail now, not once per hit (each would be skipped with the same error)
            from .read import resolve_profile

            resolve_profile(profile)
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        self.params: Params = [(k, _text(v)) for k, v in pairs if k not in ("_limit", "_offset", "_stats")]
        if not any(k in ("q", "o") for k, _ in self.params):
            self.params.insert(0, ("q", "*"))
        self.page_size = page_size
        self.max_items = max_items
        self.offset = offset
        self.start_offset = offset
        self._own_session = session is None
        self.session = session or make_session(purpose="page")
        self.base_url = service_url("libris", base_url)
        self.full = full
        self.embellished = embellished
        self.profile = profile
        self.concurrency = concurrency
        self.stats = stats
        self.on_window = on_window
        self.max_pages = max_pages
        self.truncated = False
        self.window: int | None = None
        self.skipped: list[tuple[str, str]] = []
        self.pages = 0
        self.pager: Pager[str, dict[str, Any]] | None = None
        self._first: dict[str, Any] | None = None
        self._total: int | None = None

    # -- pages

    def _page_params(self, offset: int, limit: int) -> Params:
        extra = [("_limit", str(limit)), ("_offset", str(offset))]
        if not self.stats:
            extra.append(("_stats", "false"))
        return self.params + extra

    def _get(self, url: str, params: Params | None = None) -> dict[str, Any]:
        self.pages += 1
        response = request(self.session, "GET", url, params=params, what=f"/find page {url}",
                           headers={"Accept": "application/ld+json"})
        page = response_json(response, "/find page")
        if not isinstance(page, dict) or not isinstance(page.get("items", []), list):
            raise BadResponseError(f"{response.url}: not a /find result page", url=response.url)
        try:
            self._total = int(page.get("totalItems") or 0)
        except (TypeError, ValueError) as exc:
            raise BadResponseError(f"{response.url}: totalItems is not a number", url=response.url) from exc
        try:
            self.window = int(page.get("maxItems", DEFAULT_MAX_ITEMS))
        except (TypeError, ValueError):
            self.window = DEFAULT_MAX_ITEMS
        return page

    def _first_page(self) -> dict[str, Any]:
        if self._first is None:
            if self.offset > 0 and self.window is None:
                # resuming: learn the search window first (``_limit=0``: no items), so the
                # first page does not ask past it, which the server refuses with 400
                self._get(self.base_url + "/find", self._page_params(self.offset, 0))
                if self.window is not None and self.offset >= self.window:
                    self._first = {"items": []}
                    self._window_reached()
                    return self._first
            self._first = self._get(self.base_url + "/find", self._page_params(self.offset, self._limit_at(self.offset)))
        return self._first

    def _limit_at(self, offset: int) -> int:
        limit = self.page_size
        if self.max_items is not None:
            limit = max(1, min(limit, self.start_offset + self.max_items - offset))
        if self.window is not None:
            limit = max(1, min(limit, self.window - offset))
        return limit

    @property
    def total(self) -> int:
        """``totalItems`` of the query (one request if no page was fetched yet)."""
        if self._total is None:
            self._first_page()
        return self._total or 0

    def _window_reached(self) -> bool:
        window = self.window or DEFAULT_MAX_ITEMS
        if self.offset < window:
            return False
        self.truncated = True
        message = (f"/find stopped at the search window of {window} hits out of {self.total}; "
                   "split the query (e.g. with min-/max- on a year or date field) or use OAI-PMH")
        if self.on_window == "error":
            raise InvalidInputError(message)
        log.warning(message)
        return True

    # -- records

    def _records(self, items: list[Any]) -> Iterator[tuple[int, Record]]:
        """``(index in page, record)`` for the usable hits of one page, in order."""
        good: list[tuple[int, Record]] = []
        for index, item in enumerate(items):
            try:
                good.append((index, item_to_record(item)))
            except (InvalidInputError, AttributeError) as exc:
                ident = item.get("@id", "?") if isinstance(item, dict) else "?"
                self.skipped.append((str(ident), str(exc)))
                log.warning("skipping search hit %s: %s", ident, exc)
        if not self.full:
            yield from good
            return
        from .read import fetch_record

        def fetch(iri: str) -> Record:
            return fetch_record(iri, embellished=self.embellished, profile=self.profile, session=self.session,
                                base_url=self.base_url)

        for (index, hit), result in zip(good, fetch_many([r.iri for _, r in good], fetch, self.concurrency)):
            if isinstance(result, LinkedDataError):
                self.skipped.append((hit.iri, str(result).splitlines()[0]))
                log.warning("skipping %s: %s", hit.iri, result)
            else:
                yield index, result

    def __iter__(self) -> Iterator[Record]:
        if self.max_items is not None and self.max_items <= 0:
            return
        first = self._first_page()
        self._first = None
        start = self.base_url + "/find?" + urlencode(self._page_params(self.offset, self._limit_at(self.offset)))
        self.pager = Pager("/find", self._get, self._next_page, start, max_pages=self.max_pages, first=first)
        try:
            yield from self._iter_pages(self.pager)
        finally:
            if self._own_session:  # the session this iterator made ends with it
                self.session.close()

    def _iter_pages(self, pager: Pager[str, dict[str, Any]]) -> Iterator[Record]:
        for page in pager:
            items = page.get("items") or []
            page_start = self.offset
            if self.max_items is not None:  # a server may send more than ``_limit`` asked for
                items = items[:self.start_offset + self.max_items - page_start]
            for index, record in self._records(items):
                self.offset = page_start + index + 1
                yield record
            self.offset = page_start + len(items)

    def _next_page(self, page: dict[str, Any], url: str) -> str | None:
        """The URL of the page after ``page`` (our ``next`` rule), or ``None`` at the end."""
        done = self.max_items is not None and self.offset - self.start_offset >= self.max_items
        if done or not page.get("items"):
            return None
        if self._total is not None and self._total > self.offset and self._window_reached():
            return None
        next_link = page.get("next")
        if not next_link:
            return None
        return self._follow(str(next_link.get("@id")) if isinstance(next_link, dict) else str(next_link))

    def _follow(self, link: str) -> str:
        """The absolute URL of a (relative) ``next`` link, with our page size and offset."""
        url = urljoin(self.base_url + "/", link)
        base, _, query = url.partition("?")
        kept = [p for p in query.split("&") if p and not p.startswith(("_limit=", "_offset=", "_stats="))]
        kept += [f"_limit={self._limit_at(self.offset)}", f"_offset={self.offset}"]
        if not self.stats:
            kept.append("_stats=false")
        return base + "?" + "&".join(kept)


def iter_find(params: Iterable[tuple[str, str]] | Mapping[str, Any] | FindQuery, *, page_size: int = 200,
              max_items: int | None = None, offset: int = 0, session: requests.Session | None = None,
              base_url: str | None = None, full: bool = False, concurrency: int = 4,
              on_window: str = "warn", embellished: bool = False, profile: str | None = None) -> FindResults:
    """Iterate over the Records matching a ``/find`` query, page by page.

    :param params: a :class:`FindQuery` or the pairs from :func:`build_find_params`.
    :param max_items: stop after this many hits.
    :param offset: start at this hit (to resume).
    :param full: fetch each hit's full record with the record API (``concurrency`` threads),
        ``embellished`` or not, in any ``profile`` (name or target-context IRI).
    :param on_window: ``warn`` (stop with a warning) or ``error`` when the 10000-hit window is reached.
    """
    if isinstance(params, FindQuery):
        params = params.params()
    return FindResults(params, page_size=page_size, max_items=max_items, offset=offset, session=session,
                       base_url=base_url, full=full, concurrency=concurrency, on_window=on_window,
                       embellished=embellished, profile=profile)
