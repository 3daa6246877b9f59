"""Search Libris with xsearch: hit lists and records as JSON, MARCXML or MODS.

Base URL: ``service_url("xsearch")`` (``LINKEDDATA_XSEARCH_URL``). Parameters, as the
server implements them: ``query`` (the XL query language), ``format`` (``json``,
``marcxml``, ``mods``), ``start`` (1-based) and ``n`` (at most 200 per answer).
:func:`search` pages through the hits lazily; errors come back as
``<xsearch error="…"/>`` with HTTP 200 (even for JSON) and are raised as
:class:`~linkeddata.errors.InvalidInputError`.

>>> page_size(500)
200
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree

from ..config import service_url
from ..errors import BadResponseError, InvalidInputError, RepeatedPageError
from ..http import Pager, request, session_for

log = logging.getLogger(__name__)

MAX_N = 200
FORMATS = ("json", "marcxml", "mods")
MARC_NS = "http://www.loc.gov/MARC21/slim"
MODS_NS = "http://www.loc.gov/mods/v3"
#: Upper bound on pages fetched by one :func:`search` call.
MAX_PAGES = 10_000


def page_size(n: int) -> int:
    """``n`` clamped to what the server honours (1..200)."""
    return max(1, min(int(n), MAX_N))


@dataclass
class XSearchPage:
    """One answer: the hit count, the 1-based range and the items (dicts or XML elements)."""

    records: int
    start: int
    to: int
    items: list[Any] = field(default_factory=list)


def _check_error(response: requests.Response, query: str) -> None:
    head = response.content[:300].lstrip()
    if head.startswith(b"<") and b"<xsearch" in head:
        match = re.search(rb'<xsearch[^>]*\serror="([^"]*)"', head)
        if match:
            kind = match.group(1).decode("utf-8", "replace")
            hint = {"empty_query": "the query is empty", "parse": "the query could not be parsed",
                    "format unsupported": "that format is not supported (use json, marcxml or mods)"}.get(kind, kind)
            raise InvalidInputError(f"xsearch refused {query!r}: {hint} (error={kind})")


def fetch_page(query: str, *, format: str = "json", start: int = 1, n: int = 10,
               session: requests.Session | None = None, base_url: str | None = None,
               extra: dict[str, str] | None = None) -> XSearchPage:
    """One xsearch answer. ``format`` ``json`` gives dicts, ``marcxml``/``mods`` lxml elements."""
    if not query or not query.strip():
        raise InvalidInputError("xsearch needs a query")
    format = format.lower()
    if format not in FORMATS:
        raise InvalidInputError(f"xsearch format must be one of {', '.join(FORMATS)}, got {format!r}")
    if start < 1:
        raise InvalidInputError("xsearch start is 1-based")
    url = service_url("xsearch", base_url)
    params = {"query": query, "format": format, "start": str(start), "n": str(page_size(n)), **(extra or {})}
    with session_for(session, "page") as http:
        response = request(http, "GET", url, what=f"xsearch {query!r}", params=params)
    _check_error(response, query)
    if format == "json":
        try:
            body = response.json()["xsearch"]
            items = list(body.get("list") or [])
            return XSearchPage(int(body.get("records") or 0), int(body.get("from") or start),
                               int(body.get("to") or start - 1 + len(items)), items)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadResponseError(f"xsearch {query!r}: answer is not xsearch JSON ({response.url})",
                                   url=response.url) from exc
    try:
        root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise BadResponseError(f"xsearch {query!r}: answer is not XML ({exc})", url=response.url) from exc
    if format == "marcxml":
        items = root.findall(f".//{{{MARC_NS}}}record")
    else:
        items = root.findall(f".//{{{MODS_NS}}}mods")
    try:
        return XSearchPage(int(root.get("records") or 0), int(root.get("from") or start),
                           int(root.get("to") or start - 1 + len(items)), items)
    except ValueError as exc:
        raise BadResponseError(f"xsearch {query!r}: the hit counts are not numbers ({response.url})",
                               url=response.url) from exc


def search(query: str, *, format: str = "json", n: int = MAX_N, max_records: int | None = None,
           session: requests.Session | None = None, base_url: str | None = None,
           max_seconds: float | None = 600.0, extra: dict[str, str] | None = None) -> Iterator[Any]:
    """Iterate all hits of ``query`` (up to ``max_records``), fetching ``n`` per request.

    JSON hits are dicts (``identifier``, ``title``, ``creator``, ``isbn``…), MARCXML
    ``<record>`` and MODS ``<mods>`` hits are lxml elements. More than :data:`MAX_PAGES`
    pages or ``max_seconds`` raise :class:`~linkeddata.errors.PageLimitError`.
    """
    per_page = page_size(n if max_records is None else min(n, max(max_records, 1)))
    with session_for(session, "page") as http:

        def fetch(start: int) -> XSearchPage:
            return fetch_page(query, format=format, start=start, n=per_page, session=http, base_url=base_url,
                              extra=extra)

        def next_start(page: XSearchPage, start: int) -> int | None:
            if not page.items or page.to >= page.records:
                return None
            if page.to < start:
                raise RepeatedPageError(f"xsearch {query!r}: the server did not advance past hit {start}")
            return page.to + 1

        yielded = 0
        for page in Pager(f"xsearch {query!r}", fetch, next_start, 1, max_pages=MAX_PAGES, max_seconds=max_seconds):
            for item in page.items:
                if max_records is not None and yielded >= max_records:
                    return
                yield item
                yielded += 1
            if max_records is not None and yielded >= max_records:
                return


def count(query: str, *, session: requests.Session | None = None, base_url: str | None = None) -> int:
    """How many records match ``query``."""
    return fetch_page(query, format="json", n=1, session=session, base_url=base_url).records


def marc_subfield(record: Any, tag: str, code: str) -> str | None:
    """The first ``tag $code`` of a MARCXML ``<record>`` element (for quick looks at xsearch hits)."""
    found = record.find(f"{{{MARC_NS}}}datafield[@tag='{tag}']/{{{MARC_NS}}}subfield[@code='{code}']")
    return found.text if found is not None else None
