"""Follow the Libris change feed (EMM activity streams) to keep a copy current.

The feed starts at ``GET <emm base>`` (an ``OrderedCollection`` whose ``first``
page is ``?until=<now ms>``). Pages list ``Create``/``Update``/``Delete``
activities newest first; ``next`` always exists and the feed never says it has
ended, so :func:`iter_changes` walks back until it reaches the saved position,
keeps the newest activity per entity, and then yields Records oldest first:
the current content (fetched with the record API) or a tombstone.

>>> Position.parse({"time": "2025-07-02T07:59:58.3Z", "id": "https://libris.kb.se/x#it"}).time
'2025-07-02T07:59:58.3Z'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin

import requests

from ..config import service_url
from ..errors import BadResponseError, GoneError, InvalidInputError, LinkedDataError, NotFoundError
from ..http import DEFAULT_MAX_PAGES, Pager, fetch_many, make_session, request, response_json
from ..records import Record

log = logging.getLogger(__name__)

_TIME_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d)(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?")


def parse_time(value: str) -> datetime:
    """Parse the feed's timestamps leniently (variable fractions, seconds dropped when zero).

    >>> parse_time("2026-07-02T08:15Z").isoformat()
    '2026-07-02T08:15:00+00:00'
    >>> parse_time("2018-01-26T13:55:47.68+01:00") < parse_time("2018-01-26T12:55:47.681Z")
    True
    """
    m = _TIME_RE.fullmatch(value.strip())
    if not m:
        raise ValueError(f"not a timestamp: {value!r}")
    minute, seconds, fraction, zone = m.groups()
    fraction = (fraction or ".0")[:7]
    zone = "+00:00" if zone in (None, "Z") else zone if ":" in zone else zone[:3] + ":" + zone[3:]
    parsed = datetime.fromisoformat(f"{minute}{seconds or ':00'}{fraction.ljust(7, '0')}{zone}")
    return parsed.astimezone(timezone.utc)


def _checked_time(value: str) -> str:
    try:
        parse_time(value)
    except ValueError:
        raise InvalidInputError(f"invalid change-feed position {value!r}: use an ISO time such as 2026-07-02T08:15Z") from None
    return value


@dataclass(frozen=True)
class Position:
    """Where a feed reader stopped: the newest activity handled (its time and entity id)."""

    time: str
    id: str = ""

    @classmethod
    def parse(cls, value: Position | Mapping[str, str] | str | datetime | None) -> Position | None:
        if value is None or isinstance(value, Position):
            return value
        if isinstance(value, datetime):
            return cls(value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"))
        if isinstance(value, str):
            return cls(_checked_time(value))
        return cls(_checked_time(str(value.get("time", ""))), str(value.get("id", "")))

    def as_dict(self) -> dict[str, str]:
        return {"time": self.time, "id": self.id}

    def covers(self, when: datetime, ident: str) -> bool:
        """True when an activity at ``when`` on ``ident`` is at or before this position."""
        mine = parse_time(self.time)
        return when < mine or (when == mine and ident == self.id)


@dataclass
class Activity:
    type: str
    published: str
    object_id: str
    object_type: str = ""
    #: The holding library's IRI (``kbv:heldBy``, on holdings only).
    held_by: str | None = None

    @property
    def when(self) -> datetime:
        return parse_time(self.published)

    @property
    def record_iri(self) -> str:
        """The record IRI (the named graph): the entity IRI without its fragment."""
        return self.object_id.split("#", 1)[0]


def _activity(item: Any) -> Activity | None:
    if not isinstance(item, dict):
        return None
    obj = item.get("object")
    obj = obj if isinstance(obj, dict) else {"id": obj}
    ident = obj.get("id") or obj.get("@id")
    published = item.get("published") or obj.get("updated")
    if item.get("type") not in ("Create", "Update", "Delete") or not ident or not published:
        return None
    try:
        parse_time(published)
    except ValueError:
        return None
    held = obj.get("kbv:heldBy") or obj.get("heldBy")
    held_by = held.get("@id") or held.get("id") if isinstance(held, dict) else held if isinstance(held, str) else None
    return Activity(item["type"], published, ident, str(obj.get("type", "")), held_by)


class ChangeFeed:
    """Iterator of Records for every entity changed after ``since``, oldest first.

    After (or during) iteration, ``position`` is the newest activity handled so far:
    save it and pass it as ``since`` next time. ``skipped`` lists ``(iri, reason)``.
    """

    def __init__(self, since: Position | Mapping[str, str] | str | datetime | None = None, *,
                 session: requests.Session | None = None, base_url: str | None = None,
                 libris_url: str | None = None, fetch: Callable[[str], Record] | None = None,
                 concurrency: int = 4, max_pages: int = DEFAULT_MAX_PAGES):
        self.since = Position.parse(since)
        self._own_session = session is None
        self.session = session or make_session(purpose="harvest")
        self.base_url = service_url("emm", base_url)
        self.libris_url = service_url("libris", libris_url)
        self.concurrency = concurrency
        self.max_pages = max_pages
        self.position: Position | None = self.since
        self.skipped: list[tuple[str, str]] = []
        self.pages = 0
        self.pager: Pager[str, dict[str, Any]] | None = None
        self.fetch: Callable[[str], Record] = fetch or self._fetch_record

    def _fetch_record(self, iri: str) -> Record:
        from .read import fetch_record

        return fetch_record(iri, embellished=False, session=self.session, base_url=self.libris_url)

    def _get(self, url: str) -> dict[str, Any]:
        self.pages += 1
        response = request(self.session, "GET", url, what=f"change feed page {url}",
                           headers={"Accept": "application/activity+json", "Cache-Control": "no-cache"})
        if not response.content.strip():
            return {}
        page = response_json(response, f"change feed page {url}")
        return page if isinstance(page, dict) else {}

    def activities(self) -> list[Activity]:
        """Walk the feed back to ``since``; the newest activity per entity, oldest first."""
        entry = self._get(self.base_url + "/")
        first = entry.get("first")
        url = first.get("id") if isinstance(first, dict) else first
        if not url:
            raise BadResponseError(f"{self.base_url}/: the change feed has no 'first' page", url=self.base_url)
        newest: dict[str, Activity] = {}
        seen_urls: set[str] = set()
        state: dict[str, Any] = {"reached": False, "items": []}

        def next_page(page: dict[str, Any], url: str) -> str | None:
            if state["reached"] or not state["items"]:
                return None
            return self._next_url(page, url, state["items"], seen_urls)

        self.pager = Pager("change feed", self._get, next_page, urljoin(self.base_url + "/", url),
                           max_pages=self.max_pages)
        for page in self.pager:
            seen_urls.add(self.pager.cursor or "")
            items = [a for a in map(_activity, page.get("orderedItems") or []) if a is not None]
            reached = False
            for act in items:
                if self.since is not None and self.since.covers(act.when, act.object_id):
                    reached = True
                    continue
                known = newest.get(act.object_id)
                if known is None or act.when > known.when:
                    newest[act.object_id] = act
            state.update(reached=reached, items=items)
        return sorted(newest.values(), key=lambda a: (a.when, a.object_id))

    @staticmethod
    def _next_url(page: dict[str, Any], url: str, items: list[Activity], seen: set[str]) -> str | None:
        nxt = page.get("next")
        nxt = nxt.get("id") if isinstance(nxt, dict) else nxt
        if not nxt:
            return None
        nxt = urljoin(url, str(nxt))
        if nxt in seen:  # 100+ rows in one millisecond: step one millisecond back
            oldest = min(a.when for a in items)
            ms = int(oldest.timestamp() * 1000) - 1
            nxt = re.sub(r"until=\d+", f"until={ms}", nxt) if "until=" in nxt else None
        return nxt

    def __iter__(self) -> Iterator[Record]:
        try:
            yield from self._records()
        finally:
            if self._own_session:  # the session this iterator made ends with it
                self.session.close()

    def _records(self) -> Iterator[Record]:
        activities = self.activities()
        log.info("change feed: %d entities changed since %s", len(activities), self.since)
        chunk = max(1, self.concurrency * 8)
        for start in range(0, len(activities), chunk):
            part = activities[start:start + chunk]
            wanted = [a.object_id for a in part if a.type != "Delete"]
            fetched = iter(fetch_many(wanted, self.fetch, self.concurrency))
            for act in part:
                record = self._record(act, None if act.type == "Delete" else next(fetched))
                if record is not None:
                    yield record
                self.position = Position(act.published, act.object_id)

    def _record(self, act: Activity, fetched: Record | LinkedDataError | None) -> Record | None:
        if act.type == "Delete" or isinstance(fetched, GoneError):
            return Record(iri=act.record_iri, deleted=True, last_modified=act.published, source="emm")
        if isinstance(fetched, Record):
            return fetched
        reason = str(fetched).splitlines()[0] if fetched else "no content"
        if isinstance(fetched, NotFoundError):
            reason = f"not found: {act.object_id}"
        self.skipped.append((act.record_iri, reason))
        log.warning("skipping %s from the change feed: %s", act.object_id, reason)
        return None


def iter_changes(since: Position | Mapping[str, str] | str | datetime | None = None, *,
                 session: requests.Session | None = None, base_url: str | None = None,
                 libris_url: str | None = None, concurrency: int = 4) -> ChangeFeed:
    """Records changed after ``since`` (a :class:`Position`, its dict, or an ISO time), oldest first.

    ``since=None`` walks the whole history. Read ``.position`` afterwards for the next run.
    """
    return ChangeFeed(since, session=session, base_url=base_url, libris_url=libris_url, concurrency=concurrency)
