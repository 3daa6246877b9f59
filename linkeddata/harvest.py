"""Resumable harvests into the store: ``/find`` searches, OAI-PMH lists and the change feed.

Each harvest streams Records from a client, loads them into the store in
batches (one transaction each; tombstones drop graphs) and saves a checkpoint
after every committed batch, so a killed harvest continues where it stopped.
A record that cannot be used is reported (id and reason) and skipped, never
half-loaded; ``strict=True`` makes it fatal.

>>> from linkeddata.stores import open_store
>>> summary = harvest_find(open_store(), {"q": "x"}, base_url="http://127.0.0.1:9")   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from .checkpoints import Checkpoint, check_interrupt, open_checkpoint
from .errors import ParseError, at_least_one
from .http import make_session
from .libris.changes import ChangeFeed, Position
from .libris.find import FindQuery, iter_find
from .libris.oaipmh import STORE_PREFIXES, OAIClient, check_datestamp, check_prefix, decode_token
from .records import Record, batched

if TYPE_CHECKING:
    from .store_protocol import Store
    from .stores import StoreLike

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
Progress = Callable[[int], None] | None


@dataclass
class HarvestSummary:
    """What a harvest did (this run only)."""

    kind: str
    records: int = 0
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    batches: int = 0
    seconds: float = 0.0
    resumed: bool = False
    completed: bool = False
    warnings: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    #: Records of the skip list fetched again (``retry_skipped``).
    retried: int = 0

    def __str__(self) -> str:
        text = (f"{self.kind}: {self.records} records loaded, {self.deleted} deleted, {len(self.skipped)} skipped "
                f"in {self.batches} batches, {self.seconds:.1f} s")
        if self.retried:
            text += f" ({self.retried} skipped records retried)"
        return text + (" (resumed)" if self.resumed else "") + ("" if self.completed else " (incomplete)")


def _open(store: StoreLike) -> Store:
    from .stores import open_store

    return open_store(store)


class _Loader:
    """Load batches, keep the summary and the checkpoint in step."""

    def __init__(self, store: Store, checkpoint: Checkpoint, summary: HarvestSummary, strict: bool, progress: Progress):
        self.store = store
        self.checkpoint = checkpoint
        self.summary = summary
        self.strict = strict
        self.progress = progress

    def skip(self, ident: str, reason: str) -> None:
        if self.strict:
            raise ParseError(f"record {ident}: {reason}")
        log.warning("skipped %s: %s", ident, reason)
        self.summary.skipped.append((ident, reason))
        self.checkpoint.skipped += 1
        listed = [entry for entry in self.checkpoint.skip_list if entry[0] != ident]
        self.checkpoint.skip_list = listed + [[ident, reason]]

    def retry_skipped(self, session: requests.Session, libris_url: str | None = None) -> None:
        """Fetch the records of the checkpoint's skip list again (record API) and load those that work now."""
        from .libris.find import fetch_many
        from .libris.read import fetch_record

        todo = [ident for ident, _ in self.checkpoint.skip_list]
        if not todo:
            return
        log.info("retrying %d skipped records", len(todo))

        def fetch(ident: str) -> Record:
            return fetch_record(ident, embellished=False, session=session, base_url=libris_url)

        self.checkpoint.skip_list = []
        self.checkpoint.skipped = 0
        fetched = []
        for ident, result in zip(todo, fetch_many(todo, fetch, 4)):
            if isinstance(result, Record):
                fetched.append(result)
            else:
                self.skip(ident, str(result).splitlines()[0])
        self.summary.retried = len(todo)
        self.commit(fetched, {})

    def commit(self, batch: list[Record], state: Mapping[str, Any]) -> None:
        good = []
        for record in batch:
            reason = _problem(record)
            if reason:
                self.skip(record.iri, reason)
            else:
                good.append(record)
        if good:
            stats = self.store.load_records(good, batch_size=max(1, len(good)), strict=self.strict)
            for ident, reason in stats.skipped:
                self.skip(ident, reason)
            self.summary.records += stats.records
            self.summary.deleted += stats.deleted
            self.checkpoint.records += stats.records
            self.checkpoint.deleted += stats.deleted
        self.store.flush()
        if batch:
            self.summary.batches += 1
            self.checkpoint.batches += 1
        self.checkpoint.state.update(state)
        self.checkpoint.save()
        if self.progress is not None:
            self.progress(len(batch))
        check_interrupt(self.checkpoint.records)

    def skip_many(self, skipped: list[tuple[str, str]], seen: int) -> int:
        for ident, reason in skipped[seen:]:
            self.skip(ident, reason)
        return len(skipped)


def _problem(record: Record) -> str | None:
    """Why a record cannot be loaded (before it reaches the store), or None."""
    if not record.iri or not record.iri.startswith(("http://", "https://")):
        return f"record IRI {record.iri!r} is not absolute"
    if record.deleted:
        return None
    if record.is_json:
        graph = record.data.get("@graph") if isinstance(record.data, dict) else None
        if not isinstance(graph, list) or not graph or not all(isinstance(n, dict) for n in graph):
            return "JSON-LD record has no @graph of nodes"
    elif not record.data:
        return "empty record"
    return None


def _start(kind: str, store: StoreLike, key_params: Any, resume: bool) -> tuple[Store, Checkpoint, HarvestSummary]:
    store = _open(store)
    checkpoint = open_checkpoint(store.path, kind, key_params, restart=not resume)
    summary = HarvestSummary(kind, checkpoint=str(checkpoint.path) if checkpoint.path else None)
    summary.resumed = bool(checkpoint.batches) and not checkpoint.completed
    return store, checkpoint, summary


def _finish(loader: _Loader, started: float) -> HarvestSummary:
    loader.checkpoint.completed = True
    loader.checkpoint.save()
    loader.summary.completed = True
    loader.summary.seconds = time.monotonic() - started
    log.info("%s", loader.summary)
    return loader.summary


# ---------------------------------------------------------------- /find


def harvest_find(store: StoreLike, params: FindQuery | Mapping[str, Any] | Iterable[tuple[str, str]], *,
                 page_size: int = 200, max_items: int | None = None, full: bool = False, concurrency: int = 4,
                 batch_size: int = DEFAULT_BATCH, resume: bool = True, strict: bool = False,
                 session: requests.Session | None = None, base_url: str | None = None,
                 progress: Progress = None, embellished: bool = False, profile: str | None = None,
                 retry_skipped: bool = False) -> HarvestSummary:
    """Load every hit of a ``/find`` query into ``store`` (a LocalStore or a path).

    With ``full``, each hit is fetched with the record API, ``embellished`` or not, in
    any ``profile``.

    Resumes at the saved offset unless ``resume=False``; a completed harvest starts over.
    Stops with a warning at the 10000-hit search window (split the query). Records that
    could not be loaded are kept in the checkpoint's skip list; ``retry_skipped`` fetches
    them again first.
    """
    at_least_one(batch_size=batch_size, concurrency=concurrency)
    started = time.monotonic()
    pairs = params.params() if isinstance(params, FindQuery) else (
        list(params.items()) if isinstance(params, Mapping) else list(params))
    pairs = [(str(k), str(v)) for k, v in pairs]
    store, checkpoint, summary = _start("find", store, {"params": pairs, "full": full, "max_items": max_items,
                                                        "embellished": embellished, "profile": profile}, resume)
    if checkpoint.completed:
        checkpoint.state, checkpoint.completed = {}, False
    offset = int(checkpoint.state.get("offset", 0))
    remaining = None if max_items is None else max(0, max_items - offset)
    loader = _Loader(store, checkpoint, summary, strict, progress)
    if retry_skipped:
        loader.retry_skipped(session or make_session(purpose="harvest"), base_url)
    if remaining == 0:
        return _finish(loader, started)
    results = iter_find(pairs, page_size=page_size, max_items=remaining, offset=offset,
                        session=session or make_session(purpose="harvest"), base_url=base_url, full=full,
                        concurrency=concurrency, embellished=embellished, profile=profile)
    seen = 0
    for batch in batched(results, batch_size):
        seen = loader.skip_many(results.skipped, seen)
        loader.commit(batch, {"offset": results.offset, "total": results.total})
    loader.skip_many(results.skipped, seen)
    loader.commit([], {"offset": results.offset})
    if results.truncated:
        summary.warnings.append(f"stopped at the search window ({results.window} of {results.total} hits); "
                                "split the query, e.g. with min-/max- filters")
    return _finish(loader, started)


# ---------------------------------------------------------------- OAI-PMH


def harvest_oai(store: StoreLike, *, set: str | None = None, from_: str | None = None,  # noqa: A002
                until: str | None = None, metadata_prefix: str = "jsonld", batch_size: int = DEFAULT_BATCH,
                resume: bool = True, strict: bool = False, session: requests.Session | None = None,
                base_url: str | None = None, progress: Progress = None, retry_skipped: bool = False,
                libris_url: str | None = None) -> HarvestSummary:
    """Load an OAI-PMH ``ListRecords`` harvest into ``store``, page-aligned batches.

    Resumes at the saved resumption token. Once a harvest has completed, running it
    again harvests incrementally from the previous run's ``until`` (when ``from_`` is not given).
    Records the provider could not convert are reported and skipped. Holdings (and authority records)
    sent with ``_includehold`` load as records of their own. For MARC prefixes use
    :func:`linkeddata.harvest_files.harvest_oai_files`.
    """
    check_prefix(metadata_prefix, STORE_PREFIXES)
    at_least_one(batch_size=batch_size)
    check_datestamp(from_, "from")
    check_datestamp(until, "until")
    started = time.monotonic()
    key = {"set": set, "from": from_, "until": until, "prefix": metadata_prefix}
    store, checkpoint, summary = _start("oai", store, key, resume)
    token = checkpoint.state.get("token")
    if checkpoint.completed:
        token = None
        if from_ is None and checkpoint.state.get("until"):
            from_ = checkpoint.state["until"]
            log.info("incremental OAI-PMH harvest from %s", from_)
        checkpoint.completed = False
        checkpoint.state = {"until": checkpoint.state.get("until")}
    session = session or make_session(purpose="harvest")
    client = OAIClient(base_url, session)
    loader = _Loader(store, checkpoint, summary, strict, progress)
    if retry_skipped:
        loader.retry_skipped(session, libris_url)
    batch: list[Record] = []
    pages = client.iter_pages("ListRecords", metadata_prefix, set, from_, until, token)
    for page in pages:
        if page.token is None and page.next_token:
            checkpoint.state["until"] = decode_token(page.next_token).get("u") or page.response_date
        elif page.token is None:
            checkpoint.state["until"] = page.response_date
        for ident, reason in page.skipped:
            loader.skip(ident, reason)
        for item in page.items:
            try:
                batch.append(item.to_record(metadata_prefix))
            except ParseError as exc:
                loader.skip(item.header.identifier, str(exc))
                continue
            attached, bad = item.attached_records(metadata_prefix)
            batch.extend(attached)
            for ident, reason in bad:
                loader.skip(ident, reason)
        if len(batch) >= batch_size or not page.next_token:
            loader.commit(batch, {"token": page.next_token})
            batch = []
    if batch:
        loader.commit(batch, {"token": None})
    checkpoint.state["token"] = None
    return _finish(loader, started)


# ---------------------------------------------------------------- change feed


def harvest_changes(store: StoreLike, *, since: Position | Mapping[str, str] | str | None = None,
                    batch_size: int = DEFAULT_BATCH, concurrency: int = 4, resume: bool = True,
                    strict: bool = False, session: requests.Session | None = None, base_url: str | None = None,
                    libris_url: str | None = None, progress: Progress = None,
                    retry_skipped: bool = False) -> HarvestSummary:
    """Apply the change feed to ``store``: fetch created/updated records, drop deleted ones.

    Continues from the position saved by the previous run; ``since``, when given, is used
    instead of it. Without either, walks the whole feed history.
    """
    at_least_one(batch_size=batch_size, concurrency=concurrency)
    started = time.monotonic()
    store, checkpoint, summary = _start("changes", store, {"feed": "emm"}, resume)
    position = since if since is not None else checkpoint.state.get("position")
    checkpoint.completed = False
    session = session or make_session(purpose="harvest")
    feed = ChangeFeed(position, session=session, base_url=base_url, libris_url=libris_url, concurrency=concurrency)
    loader = _Loader(store, checkpoint, summary, strict, progress)
    if retry_skipped:
        loader.retry_skipped(session, libris_url)
    seen = 0
    for batch in batched(feed, batch_size):
        seen = loader.skip_many(feed.skipped, seen)
        loader.commit(batch, {"position": feed.position.as_dict() if feed.position else None})
    loader.skip_many(feed.skipped, seen)
    loader.commit([], {"position": feed.position.as_dict() if feed.position else None})
    return _finish(loader, started)


__all__ = ["HarvestSummary", "harvest_find", "harvest_oai", "harvest_changes"]
