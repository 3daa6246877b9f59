"""The :class:`Record` value that every client yields and the store loads.

>>> r = Record(iri="https://libris.kb.se/abc", data={"@graph": []}, media_type="application/ld+json")
>>> r.short_id
'abc'
>>> r.is_json
True
>>> Record("https://libris.kb.se/abc", headers={"ETag": '"1"'}).headers["etag"]
'"1"'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from requests.structures import CaseInsensitiveDict

T = TypeVar("T")

JSON_TYPES = ("application/ld+json", "application/json", "application/activity+json")


@dataclass
class Record:
    """One source record: its IRI (the named graph it loads into) and its content.

    ``data`` is a parsed JSON document (dict) for JSON media types, else the raw bytes.
    ``deleted`` marks a tombstone: loading it drops the record's graph. ``error`` marks
    a record that could not even be read (bad bytes, bad JSON): the loader counts,
    names and skips it; ``iri`` then names where it was (``file:line``).
    """

    iri: str
    data: Any = None
    media_type: str = "application/ld+json"
    etag: str | None = None
    last_modified: str | None = None
    source: str | None = None
    profile: str | None = None
    deleted: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        # response headers are looked up case-insensitively, as HTTP says
        if not isinstance(self.headers, CaseInsensitiveDict):
            self.headers = CaseInsensitiveDict(self.headers)  # type: ignore[assignment]

    @property
    def short_id(self) -> str:
        """The last path segment of the IRI, without fragment."""
        return self.iri.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]

    @property
    def is_json(self) -> bool:
        return self.media_type in JSON_TYPES or self.media_type.endswith("+json")

    def text(self) -> str:
        """The content as text (JSON is serialised)."""
        if isinstance(self.data, (bytes, bytearray)):
            return bytes(self.data).decode("utf-8")
        if isinstance(self.data, str):
            return self.data
        return json.dumps(self.data, ensure_ascii=False, indent=2)

    def content(self) -> bytes:
        """The content as bytes."""
        if isinstance(self.data, (bytes, bytearray)):
            return bytes(self.data)
        return self.text().encode("utf-8")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, lazily (constant memory over long iterators).

    >>> list(batched(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """The JSON object (a JSON-LD document) in ``text``; ``what`` names it in the error.

    >>> json_object('{"@id": "x"}', "record x")
    {'@id': 'x'}
    >>> json_object("[1]", "record x")
    Traceback (most recent call last):
    ...
    linkeddata.errors.ParseError: record x: not a JSON-LD document (a JSON object)

    :raises ParseError: not JSON, or JSON but not an object.
    """
    from .errors import ParseError

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"{what}: not a JSON-LD document ({exc})") from exc
    if not isinstance(doc, dict):
        raise ParseError(f"{what}: not a JSON-LD document (a JSON object)")
    return doc
