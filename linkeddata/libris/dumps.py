"""Read Libris EMM dumps: a whole selection by pages or as one gzipped JSON-lines download.

A dump (``<emm base>/full?selection=S``, libris-services.md §5.3) is a list of record ids
taken at its ``startTime``; its data is read when each page is served. Selections are
``itemAndInstance:<sigel>`` (a library's holdings, each Item's ``itemOf`` replaced by the
full Instance with its record under ``meta``), ``type:<Class>`` (and subclasses) and
``all``. The traps handled here:

- the first page starts with a *context item* (no ``@graph``); later items point at it with
  ``"@context": [null, "<its @id>"]``, resolved locally (:class:`DumpReader`);
- while the id list is being written, ``_status`` is ``generating`` and pages can hold 99
  ids while ``next`` advances by 100: :meth:`DumpClient.wait_until_done` polls ``offset=0``
  until ``done`` before anything is read;
- a dump older than 5 days is regenerated with a new ``startTime``: a page with another
  ``startTime`` raises :class:`DumpRegenerated`, so the caller restarts;
- the download is streamed to disk and checked to be a complete gzip stream while it is
  written (a cut-off download raises, never loads half a dump silently).

>>> check_selection("itemAndInstance:S")
'itemAndInstance:S'
>>> check_selection("type:Agent"), check_selection("all")
('type:Agent', 'all')
>>> check_selection("type:print")
Traceback (most recent call last):
...
linkeddata.errors.InvalidInputError: dump selection 'type:print': 'print' is not a KBV class name (expected a capitalised name of letters and digits, e.g. Instance, Person, Item)
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import quote, unquote, urljoin

import requests

from ..config import LIBRARY_BASE, canonical_mapper, library_iri, service_url
from ..errors import BadResponseError, HTTPError, InvalidInputError, LinkedDataError, RepeatedPageError, ServiceUnavailableError
from ..http import Pager, SessionOwner, download, request
from ..records import Record

log = logging.getLogger(__name__)

_SIGEL_RE = re.compile(r"[^\s/?#&|]{1,40}")
#: A KBV class name: capitalised, letters and digits (``Instance``, ``Person``, ``Item``).
CLASS_RE = re.compile(r"[A-Z][A-Za-z0-9]*")
#: Largest number of page requests one dump read makes (bounds every loop).
DEFAULT_MAX_PAGES = 1_000_000
CHUNK = 1 << 20


class DumpRegenerated(LinkedDataError):
    """The dump's ``startTime`` changed while it was read: start it again."""

    def __init__(self, message: str, old: str, new: str):
        super().__init__(message)
        self.old = old
        self.new = new


class LeftSelection(LinkedDataError):
    """A dump item that no longer belongs to the selection (e.g. a holding moved to another library)."""


def check_selection(selection: str) -> str:
    """``selection`` if it is ``all``, ``itemAndInstance:<sigel>`` or ``type:<Class>``, else an input error."""
    kind, sep, value = selection.partition(":")
    if selection == "all" or (sep and kind == "itemAndInstance" and _SIGEL_RE.fullmatch(value)) or (
            sep and kind == "type" and CLASS_RE.fullmatch(value)):
        return selection
    if sep and kind == "type":
        raise InvalidInputError(f"dump selection {selection!r}: {value!r} is not a KBV class name "
                                "(expected a capitalised name of letters and digits, e.g. Instance, Person, Item)")
    raise InvalidInputError(f"dump selection {selection!r} is not one of all, itemAndInstance:<sigel>, type:<Class>")


def library_selection(sigel: str) -> str:
    """The dump selection of one library's holdings: ``itemAndInstance:<sigel>``."""
    return check_selection(f"itemAndInstance:{sigel.strip()}")


@dataclass
class DumpPage:
    """One page of a dump."""

    url: str
    start_time: str
    status: str
    total: int | None
    next: str | None
    items: list[Any] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status == "done"


class DumpClient(SessionOwner):
    """Pages, status and download of one dump selection.

    :param poll_interval: seconds between polls of a dump that is still ``generating``.
    :param max_wait: give up (one-line error) when a dump is not ``done`` after this many seconds.
    """

    def __init__(self, selection: str, *, session: requests.Session | None = None, base_url: str | None = None,
                 profile: str | None = None, poll_interval: float = 2.0, max_wait: float = 900.0,
                 max_pages: int = DEFAULT_MAX_PAGES):
        self.selection = check_selection(selection)
        self.own_session(session, "harvest")
        self.base_url = service_url("emm", base_url).rstrip("/")
        self.profile = profile
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.max_pages = max_pages
        self.requests = 0

    # -- urls

    def _query(self) -> str:
        query = "selection=" + quote(self.selection, safe=":")
        if self.profile:
            query += "&profile=" + quote(self.profile, safe="")
        return query

    @property
    def collection_url(self) -> str:
        return f"{self.base_url}/full?{self._query()}"

    def page_url(self, offset: int) -> str:
        return f"{self.collection_url}&offset={offset}"

    @property
    def download_url(self) -> str:
        return f"{self.collection_url}&download=.ndjsonld.gz"

    # -- requests

    def _json(self, url: str, what: str) -> Any:
        self.requests += 1
        response = request(self.session, "GET", url, what=what, headers={"Accept": "application/json"})
        if not response.content.strip():
            raise BadResponseError(f"{url}: the dump answered with an empty body", url=url)
        try:
            return response.json()
        except ValueError as exc:
            raise BadResponseError(f"{url}: the dump answered with invalid JSON", url=url) from exc

    def index(self) -> list[str]:
        """The selections the server lists in its dump index (``<base>/full``)."""
        data = self._json(f"{self.base_url}/full", "dump index")
        out = []
        for category in data.get("categories", []) if isinstance(data, dict) else []:
            url = category.get("url", "") if isinstance(category, dict) else ""
            found = re.search(r"[?&]selection=([^&]+)", url)
            if found:
                out.append(unquote(found.group(1)))
        return out

    def page(self, offset: int = 0, url: str | None = None) -> DumpPage:
        """The page at ``offset`` (or at ``url``, a ``next`` link), checked to belong to this dump."""
        url = urljoin(self.base_url + "/", url) if url else self.page_url(offset)
        data = self._json(url, f"dump page {url}")
        if not isinstance(data, dict) or not isinstance(data.get("items"), list) or not data.get("startTime"):
            raise BadResponseError(f"{url}: not a dump page (no items or startTime)", url=url)
        status = str(data.get("_status", ""))
        if status not in ("done", "generating"):
            raise BadResponseError(f"{url}: unknown dump status {status!r}", url=url)
        total = data.get("totalItems")
        nxt = data.get("next")
        nxt = nxt.get("id") or nxt.get("@id") if isinstance(nxt, dict) else nxt
        return DumpPage(url, str(data["startTime"]), status,
                        int(total) if isinstance(total, int) else None, urljoin(url, nxt) if nxt else None,
                        data["items"])

    def wait_until_done(self) -> DumpPage:
        """Poll ``offset=0`` until the dump's id list is complete; its first page."""
        deadline = time.monotonic() + self.max_wait
        while True:
            first = self.page(0)
            if first.done:
                return first
            if time.monotonic() + self.poll_interval > deadline:
                raise ServiceUnavailableError(f"{self.collection_url}: the dump is still generating after "
                                              f"{self.max_wait:.0f} s; run again later", url=self.collection_url)
            log.info("dump %s is generating; waiting %.1f s", self.selection, self.poll_interval)
            time.sleep(self.poll_interval)

    def iter_pages(self, start_time: str, offset: int = 0, first: DumpPage | None = None
                   ) -> Iterator[tuple[int, DumpPage]]:
        """``(offset, page)`` from ``offset`` to the last page of a ``done`` dump.

        ``first`` is the page at ``offset`` when the caller already has it (no request).
        Raises :class:`DumpRegenerated` when a page has another ``startTime``, and an error
        naming the page when it is not ``done`` (the dump was restarted under us).
        """

        def next_page(page: DumpPage, at: tuple[int, str]) -> tuple[int, str] | None:
            if not page.next:
                return None
            found = re.search(r"[?&]offset=(\d+)", page.next)
            if not found or int(found.group(1)) <= at[0]:
                raise RepeatedPageError(f"{at[1]}: next link {page.next} does not advance", url=at[1])
            return int(found.group(1)), page.next

        pager = Pager(f"dump {self.selection}", lambda at: self.page(url=at[1]), next_page,
                      (offset, self.page_url(offset)), max_pages=self.max_pages, first=first)
        for page in pager:
            at, url = pager.cursor or (offset, "")
            if page.start_time != start_time:
                raise DumpRegenerated(f"dump {self.selection} was regenerated ({start_time} → {page.start_time})",
                                      start_time, page.start_time)
            if not page.done:
                raise DumpRegenerated(f"{url}: the dump is generating again", start_time, page.start_time)
            yield at, page

    def download(self, dest: str | Path) -> int:
        """Stream the gzipped dump to ``dest`` (written as ``dest.part``, renamed when complete),
        within the limits of a ``dump`` download (size and deadline, see :mod:`linkeddata.http`).

        The stream is checked while it is written: a download that is not one complete gzip
        stream is removed and raises. Memory stays at one chunk. Returns the bytes written.
        """
        dest = Path(dest)
        url = self.download_url
        self.requests += 1
        checker = _GzipCheck(dest.with_name(dest.name + ".part"))
        try:
            with checker:
                written = download(self.session, url, cast(IO[bytes], checker), kind="dump",  # only write() is used
                                   what=f"dump download {url}", chunk_size=CHUNK)
        except (HTTPError, ServiceUnavailableError, zlib.error, OSError) as exc:
            checker.path.unlink(missing_ok=True)
            raise ServiceUnavailableError(f"{url}: download failed after {checker.written} bytes ({_first(exc)})",
                                          url=url) from exc
        if not checker.complete:
            checker.path.unlink(missing_ok=True)
            raise ServiceUnavailableError(f"{url}: the download is cut short ({written} bytes, gzip stream "
                                          "incomplete)", url=url)
        os.replace(checker.path, dest)
        return written


class _GzipCheck:
    """A binary file that checks, while it is written, that its content is one whole gzip stream."""

    def __init__(self, path: Path):
        self.path = path
        self.written = 0
        self._checker = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._file: Any = None

    def __enter__(self) -> _GzipCheck:
        self._file = open(self.path, "wb")
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def write(self, chunk: bytes) -> int:
        self._file.write(chunk)
        self.written += len(chunk)
        if not self._checker.eof:
            self._checker.decompress(chunk)  # the output is dropped: only validity matters
        return len(chunk)

    @property
    def complete(self) -> bool:
        return bool(self._checker.eof)


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class DumpReader:
    """Turns dump items into Records, one named graph per record.

    Resolves the ``[null, <ref>]`` context against the context items seen; a context that
    is the KBV context is dropped (the store supplies KBV). For ``itemAndInstance``
    selections each item gives two records: the holding (``itemOf`` back to a link) and its
    Instance (the embedded entity under its ``meta`` record), the latter once per run.
    ``skipped`` lists ``(id, reason)`` of items that cannot be used; ``left`` the ids of holdings
    that another library holds by the time their page was served (a dump's data is read at
    fetch time, §5.3: they left the selection after its id list was taken, and are not loaded).
    """

    def __init__(self, selection: str):
        from ..jsonld import kbv_context

        self.selection = check_selection(selection)
        kind, _, value = selection.partition(":")
        self.library = library_iri(value) if kind == "itemAndInstance" else None
        self.contexts: dict[str, Any] = {}
        self.instances: set[str] = set()
        self.skipped: list[tuple[str, str]] = []
        self.left: list[str] = []
        self._kbv = kbv_context()
        self._canonical = canonical_mapper()

    def records(self, item: Any) -> list[Record]:
        """The records of one dump item (none for the context item or an unusable item)."""
        if not isinstance(item, dict):
            self.skipped.append(("?", "dump item is not an object"))
            return []
        ident = str(item.get("@id", "?"))
        if "@graph" not in item:
            if "@context" in item and ident != "?":
                context = item["@context"]
                self.contexts[ident] = None if context == self._kbv or context == {"@context": self._kbv} else context
            return []
        try:
            return self._records(item, ident)
        except LeftSelection as exc:
            self.left.append(ident)
            log.info("%s: %s", ident, exc)
            return []
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
            reason = f"unusable dump item ({type(exc).__name__}: {exc})"
        except InvalidInputError as exc:
            reason = str(exc)
        self.skipped.append((ident, reason))
        log.debug("skipping dump item %s: %s", ident, reason)
        return []

    def _context(self, item: dict[str, Any]) -> tuple[bool, Any]:
        context = item.get("@context")
        if context is None:
            return True, None
        refs = context if isinstance(context, list) else [context]
        resolved: list[Any] = []
        for ref in refs:
            if ref is None:
                resolved = []
            elif isinstance(ref, str) and ref in self.contexts:
                if self.contexts[ref] is not None:
                    resolved.append(self.contexts[ref])
            elif isinstance(ref, str):
                raise InvalidInputError(f"context {ref} is not in the dump (no context item with that @id)")
            else:
                resolved.append(ref)
        if not resolved:
            return True, None
        return False, resolved if len(resolved) > 1 else resolved[0]

    def _records(self, item: dict[str, Any], ident: str) -> list[Record]:
        kbv, context = self._context(item)
        graph = item["@graph"]
        if not isinstance(graph, list) or len(graph) < 2 or not all(isinstance(n, dict) for n in graph):
            raise InvalidInputError("dump item has no @graph of [Record, main entity, …]")
        record_iri = self._canonical(str(graph[0]["@id"]))
        entity = graph[1]
        out: list[Record] = []
        if self.library is not None:
            held = entity.get("heldBy")
            holder = held.get("@id") if isinstance(held, dict) else None
            if entity.get("@type") != "Item" or holder != self.library:
                if entity.get("@type") == "Item" and isinstance(holder, str) and holder.startswith(LIBRARY_BASE):
                    raise LeftSelection(f"now held by {holder}, no longer a holding of {self.library}; not loaded")
                raise InvalidInputError(f"dump item is not a holding of {self.library} (asked for {self.selection})")
            instance = entity.get("itemOf")
            if isinstance(instance, dict) and isinstance(instance.get("meta"), dict):
                meta = dict(instance["meta"])
                body = {k: v for k, v in instance.items() if k != "meta"}
                meta.setdefault("mainEntity", {"@id": body["@id"]})
                instance_iri = self._canonical(str(meta["@id"]))
                if instance_iri not in self.instances:
                    self.instances.add(instance_iri)
                    out.append(self._record(instance_iri, [meta, body], kbv, context))
                graph = [graph[0], {**entity, "itemOf": {"@id": body["@id"]}}, *graph[2:]]
        out.append(self._record(record_iri, graph, kbv, context))
        return out

    @staticmethod
    def _record(iri: str, graph: list[Any], kbv: bool, context: Any) -> Record:
        data: dict[str, Any] = {"@graph": graph} if kbv else {"@context": context, "@graph": graph}
        return Record(iri=iri, data=data, media_type="application/ld+json",
                      last_modified=graph[0].get("modified"), source="emm-dump")


def iter_download(path: str | Path, start_line: int = 0) -> Iterator[tuple[int, Any]]:
    """``(line number, item)`` of a downloaded dump from ``start_line``; one line in memory.

    Context items are yielded whatever ``start_line`` says (a resumed reader needs them).
    """
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            if number < start_line and '"@graph"' in line[:400]:  # a record already loaded
                continue
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise BadResponseError(f"{path}: line {number + 1} of the dump is not JSON ({exc})") from exc


__all__ = ["DumpClient", "DumpPage", "DumpReader", "DumpRegenerated", "check_selection", "iter_download",
           "library_selection"]
