"""Record history: ``GET /<id>/_changesets`` and past versions with ``?version=<n>`` (services doc 2.8).

The change sets list every version of a record, oldest first, numbered by position: who changed it
(``agent``), with what (``tool``), when, and which JSON paths were added or removed. A past version
is the record as it was then; :func:`load_version` puts it into the store under its own graph name,
the version IRI ``<record IRI>/data?version=<n>``, so it never replaces the current record.

>>> ChangeSet.from_json({"version": {"@id": "https://libris.kb.se/x/data?version=2"}, "date": "2026-01-02"}).number
2
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import requests

from ..config import service_url
from ..errors import BadResponseError, InvalidInputError, ParseError
from ..http import make_session, request
from ..records import Record
from .read import _request_url, record_iri

log = logging.getLogger(__name__)

_VERSION = re.compile(r"[?&]version=(\d+)")


@dataclass
class ChangeSet:
    """One version of a record in its history."""

    number: int
    version: str
    date: str | None = None
    agent: str | None = None
    tool: str | None = None
    added_paths: list[Any] = field(default_factory=list)
    removed_paths: list[Any] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any, position: int = 0) -> ChangeSet:
        """Read one ``ChangeSet`` object; its number comes from the version IRI, else its position."""
        if not isinstance(data, dict):
            raise ParseError("a change set is not an object")
        version = _ref(data.get("version")) or ""
        m = _VERSION.search(version)
        return cls(number=int(m.group(1)) if m else position, version=version, date=data.get("date"),
                   agent=_ref(data.get("agent")), tool=_ref(data.get("tool")),
                   added_paths=list(data.get("addedPaths") or []), removed_paths=list(data.get("removedPaths") or []))


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id")
    return value if isinstance(value, str) and value else None


def _get(url: str, what: str, session: requests.Session | None, params: dict[str, str] | None = None) -> Any:
    """GET JSON(-LD) on ``session`` (a fresh uncached one when None): the response."""
    http = session if session is not None else make_session(purpose="record")
    try:
        return request(http, "GET", url, params=params, what=what, headers={"Accept": "application/ld+json"})
    finally:
        if session is None:
            http.close()


def get_changesets(id_or_iri: str, *, session: requests.Session | None = None,
                   base_url: str | None = None) -> list[ChangeSet]:
    """The history of a record (oldest first).

    :raises NotFoundError: no such record; :raises BadResponseError: the answer is not a change-set list.
    """
    iri = record_iri(id_or_iri)
    url = _request_url(iri, service_url("libris", base_url)) + "/_changesets"
    response = _get(url, f"history of {id_or_iri}", session)
    try:
        body = response.json()
    except ValueError as exc:
        raise BadResponseError(f"{url}: the history is not JSON ({exc})", url=url) from exc
    sets = body.get("changeSets") if isinstance(body, dict) else None
    if not isinstance(sets, list):
        raise BadResponseError(f"{url}: the answer has no changeSets list", url=url)
    return [ChangeSet.from_json(item, n) for n, item in enumerate(sets)]


def version_iri(id_or_iri: str, version: int) -> str:
    """The graph name of a past version: ``<record IRI>/data?version=<n>``.

    >>> version_iri("f5nc8rlm2x0vq7s", 0)
    'https://libris.kb.se/f5nc8rlm2x0vq7s/data?version=0'
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidInputError(f"version must be a number from 0, not {version!r}")
    return f"{record_iri(id_or_iri)}/data?version={version}"


def get_version(id_or_iri: str, version: int, *, session: requests.Session | None = None,
                base_url: str | None = None) -> Record:
    """One past version of a record as JSON-LD; the Record's ``iri`` is the version IRI.

    :raises NotFoundError: no such record or version.
    """
    target = version_iri(id_or_iri, version)
    iri = record_iri(id_or_iri)
    url = _request_url(iri, service_url("libris", base_url)) + "/data.jsonld"
    response = _get(url, f"version {version} of {id_or_iri}", session, {"version": str(version)})
    try:
        data = response.json()
    except ValueError as exc:
        raise BadResponseError(f"{response.url}: version {version} is not JSON ({exc})", url=response.url) from exc
    if not isinstance(data, dict) or not isinstance(data.get("@graph"), list):
        raise BadResponseError(f"{response.url}: version {version} is not a record (no @graph)", url=response.url)
    first = data["@graph"][0] if data["@graph"] else {}
    if isinstance(first, dict) and first.get("@id") not in (None, iri):
        raise BadResponseError(f"{response.url}: asked for {iri}, got {first.get('@id')}", url=response.url)
    data.pop("@context", None)
    return Record(iri=target, data=data, media_type="application/ld+json", source=response.url,
                  last_modified=first.get("modified") if isinstance(first, dict) else None)


def load_version(store: Any, id_or_iri: str, version: int, *, session: requests.Session | None = None,
                 base_url: str | None = None) -> Record:
    """Fetch a past version and load it into ``store`` under its version IRI; returns the Record."""
    record = get_version(id_or_iri, version, session=session, base_url=base_url)
    stats = store.load_records([record], strict=True)
    if stats.skipped:
        ident, reason = stats.skipped[0]
        raise ParseError(f"version {version} of {id_or_iri} could not be loaded: {reason}")
    return record


__all__ = ["ChangeSet", "get_changesets", "get_version", "load_version", "version_iri"]
