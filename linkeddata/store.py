"""The embedded Oxigraph store: one named graph per source record.

:func:`open_local_store` opens (or creates) an on-disk store, or an in-memory one with
``path=None``. A path is opened for writing at most once per process: opening it
again returns the same :class:`LocalStore`, so re-running a notebook cell never
trips over the store's lock. ``read_only=True`` opens a store another process is
writing (a consistent snapshot).

Records load into the named graph of their IRI; loading a record again replaces
its graph, and a tombstone (``Record(deleted=True)``) drops it. A batch is parsed
completely before anything is written, so a record that fails to parse is skipped
and reported, never half-loaded.

>>> from linkeddata.records import Record
>>> store = open_local_store(None)
>>> doc = {"@graph": [{"@id": "https://libris.kb.se/r1", "@type": "Record",
...                    "mainEntity": {"@id": "https://libris.kb.se/r1#it"}},
...                   {"@id": "https://libris.kb.se/r1#it", "@type": "Instance"}]}
>>> store.load_records([Record("https://libris.kb.se/r1", doc)]).records
1
>>> sorted(store.graphs())
['https://libris.kb.se/r1']
>>> store.count_triples()
3
"""

from __future__ import annotations

import contextlib
import functools
import gc
import gzip
import json
import os
import re
import shutil
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from . import jsonld
from .formats import EXTENSIONS, FORMAT_NAMES, JSON_LINES, rdf_format  # noqa: F401  (part of this module's API)
from .errors import JsonLdError, LinkedDataError, ParseError, StoreBusyError, StoreError, StoreLockedError
from .records import Record, batched
from .store_protocol import StoreCapabilities

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
#: Records per batch when loading a file (a bulk load gathers batches up to its size).
FILE_BATCH = 500
#: A record's JSON-LD text goes to the bulk loader only below this size: pyoxigraph's
#: JSON-LD parser refuses a value over 16 MB (its buffer doubles, so an 11 MB string is
#: already refused); larger records take the careful path, which can parse them.
BULK_TEXT_LIMIT = 4 * 1024 * 1024
#: Most JSON-LD text streamed into one bulk load. pyoxigraph's bulk loader keeps what it
#: loads in memory until it writes (its batches are a million quads, and it has no memory
#: option), so the size of a load bounds the process's memory: see the README's performance
#: section. Loads are sized below this by :data:`LOAD_MEMORY_MB`.
BULK_TEXT_BYTES = 16 * 1024 * 1024
#: The least text of one bulk load (smaller loads cost more per record).
MIN_BULK_TEXT_BYTES = 1024 * 1024
#: The resident memory (MB) a large load aims to stay within: each bulk load gets the text
#: that fits in what is left, so loads shrink as the store's own memory grows with its size.
LOAD_MEMORY_MB = 430
#: Resident bytes pyoxigraph's bulk loader takes per byte of JSON-LD text it loads: its quads,
#: their encodings and sorted keys (measured with pyoxigraph 0.5 on KBV records, two loads in
#: flight: about 42 for the pair; this leaves a margin).
LOADER_BYTES_PER_TEXT_BYTE = 28
#: Resident bytes the process grows by per byte of the store's table files as a load goes on
#: (RocksDB keeps their index blocks in memory; with them, what the allocator keeps of
#: earlier loads): measured about 3 %, 260 MB when a million records take 9 GB.
STORE_BYTES_PER_TABLE_BYTE = 0.03
#: Pipe buffer between the thread writing a bulk load's text and the loader reading it.
PIPE_BYTES = 1024 * 1024
#: N-Quads/TriG files larger than this load with the bulk loader unless told otherwise.
BULK_THRESHOLD = 64 * 1024 * 1024

@dataclass
class LoadStats:
    """What one load did."""

    records: int = 0
    triples: int = 0
    deleted: int = 0
    batches: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: LoadStats) -> None:
        self.records += other.records
        self.triples += other.triples
        self.deleted += other.deleted
        self.batches += other.batches
        self.skipped.extend(other.skipped)
        self.seconds += other.seconds

    @property
    def triples_per_second(self) -> float:
        return self.triples / self.seconds if self.seconds else 0.0


_open_stores: dict[Path, LocalStore] = {}
_open_lock = threading.Lock()


def _select(records: Iterable[Record], stats: LoadStats, strict: bool
            ) -> tuple[dict[str, Record], list[str]]:
    """The last version of each valid record of a batch, and the IRIs of tombstones.

    Unreadable records and records whose IRI cannot name a graph are skipped here."""
    latest: dict[str, Record] = {}
    for record in records:
        if record.error is not None:
            _skip(stats, record.iri, ParseError(record.error), strict)
            continue
        problem = _record_iri_problem(record.iri)
        if problem:
            _skip(stats, record.iri or record.source or "?", ParseError(problem), strict)
            continue
        latest.pop(record.iri, None)
        latest[record.iri] = record
    return latest, [iri for iri, r in latest.items() if r.deleted]


def parse_batch(records: Iterable[Record], stats: LoadStats, strict: bool = False
                ) -> tuple[dict[str, list[ox.Quad]], list[str]]:
    """Quads per record graph, and the IRIs of tombstones, for one batch.

    The last version of a record in the batch wins. A record that fails to parse is
    listed in ``stats.skipped`` (or raises :class:`ParseError` with ``strict``). Nothing
    is written: a batch is parsed completely before a store changes.
    """
    latest, deleted = _select(records, stats, strict)
    return _parse_selected(latest, stats, strict), deleted


def _parse_selected(latest: dict[str, Record], stats: LoadStats, strict: bool) -> dict[str, list[ox.Quad]]:
    graphs: dict[str, list[ox.Quad]] = {}
    json_pairs = [(iri, r.data) for iri, r in latest.items() if not r.deleted and r.is_json]
    for iri, r in latest.items():
        if r.deleted or r.is_json:
            continue
        try:
            graphs[iri] = record_rdf_quads(r)
        except LinkedDataError as exc:
            _skip(stats, iri, exc, strict)
    graphs.update(_json_graphs(json_pairs, stats, strict))
    return graphs


@dataclass
class _Prepared:
    """One batch ready to write: parsed quads, or (new graphs only) the JSON texts of its
    records' named graph objects for the bulk loader, with their shared context."""

    size: int
    stats: LoadStats
    deleted: list[str]
    graphs: dict[str, list[ox.Quad]] | None = None
    context: str | None = None
    bodies: list[str] = field(default_factory=list)
    iris: list[str] = field(default_factory=list)
    seconds: float = 0.0


#: How a load reports a batch written: (batch, (records, triples), seconds, busy time spans).
_Finish = Callable[["_Prepared", tuple[int, int], float, Iterable[tuple[float, float]]], None]


@dataclass
class _Segment:
    """One streamed bulk load: its batches, its feeder and loader threads, what they found."""

    batches: list[_Prepared]
    #: ``[the batch after it]`` when the feeder took that one already (else empty)
    held: list[_Prepared | None] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    #: quads in its graphs, counted after the load
    added: int | None = None
    fed: threading.Event = field(default_factory=threading.Event)
    fed_at: float | None = None
    #: when the feeder waited for the loader to read (the loader was busy)
    spans: list[tuple[float, float]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def error(self) -> BaseException | None:
        """The error to report: one from reading the records before a parser's."""
        errors = [f for f in self.failures if not isinstance(f, JsonLdError)] or self.failures
        return errors[0] if errors else None


def _record_iri_problem(iri: str) -> str | None:
    """Why ``iri`` cannot name a record's graph (``None`` when it can)."""
    if not iri:
        return "no record IRI"
    try:
        ox.NamedNode(iri)
    except ValueError as exc:
        return f"not an absolute IRI ({_first_line(exc)})"
    if any(c in iri for c in '<>"{}|^`\\ '):
        return "not a valid IRI"
    return None


def _skip(stats: LoadStats, iri: str, exc: Exception, strict: bool) -> None:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if strict:
        raise ParseError(reason if iri in reason else f"record {iri}: {reason}") from exc
    log.info("skipped record %s: %s", iri, reason)
    stats.skipped.append((iri, reason))


class RecordLoader:
    """Loading records into named graphs, shared by local and remote stores.

    A subclass provides :meth:`replace_graphs`, which replaces each named graph with
    its quads and drops the ``deleted`` graphs, as one unit where the store allows.
    """

    def replace_graphs(self, graphs: dict[str, list[ox.Quad]], deleted: Iterable[str] = (), *,
                       atomic: bool = True) -> int:
        """Replace graphs and drop ``deleted`` ones; return the number of quads added.

        ``atomic=False`` allows a faster, non-transactional write (used for dumps).
        """
        raise NotImplementedError

    def append_quads(self, quads: list[ox.Quad]) -> int:
        """Add quads to their graphs without replacing anything; return how many."""
        raise NotImplementedError

    def _writable(self) -> None:
        """Raise :class:`StoreError` when the store is read-only."""

    def flush(self) -> None:
        """Make written batches durable (no-op where the store does it itself)."""

    def publish_snapshot(self, force: bool = False) -> None:
        """Let readers in other processes see what is written so far (no-op where not needed)."""

    def load_records(
        self,
        records: Iterable[Record],
        *,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
        strict: bool = False,
        on_batch: Callable[[LoadStats], None] | None = None,
        check_only: bool = False,
    ) -> LoadStats:
        """Load records, one named graph each, in transactional batches.

        The next batch is read and parsed in a background thread while the current one
        is written, so fetching, JSON-LD parsing and writing overlap; at most two
        batches are in memory. On-disk stores are flushed after every batch, which
        keeps memory flat however many records stream through.

        :param progress: called with the number of records of each committed batch.
        :param strict: raise on the first record that fails instead of skipping it.
        :param on_batch: called after each committed batch (checkpoints hook in here).
        :param check_only: parse and count everything, write nothing (``--strict`` checks first).
        """
        if not check_only:
            self._writable()
        total = LoadStats()
        busy: list[tuple[float, float]] = []  # when reading, preparing or writing went on
        base = _resident_bytes()
        # Into an empty store with nobody asking per batch, the triples are counted once at the
        # end (all of the store's are this load's); else each bulk load counts its graphs'.
        counted = on_batch is not None or check_only or not self._has_bulk_json() or not self._is_empty()
        batches = batched(records, batch_size)
        in_flight: set[str] = set()  # IRIs of the batches being written while the next is prepared

        def prepare_next() -> _Prepared | None:
            with _collection_paused():  # reading and preparing a batch make no cycles
                batch = next(batches, None)
                if batch is None:
                    return None
                started = time.perf_counter()
                prepared = self._prepare(batch, strict, in_flight if not check_only else None)
            prepared.seconds = time.perf_counter() - started
            busy.append((started, started + prepared.seconds))
            return prepared

        def received(prepared: _Prepared) -> None:  # before the next batch is prepared
            in_flight.update(prepared.iris)
            in_flight.update(prepared.graphs or ())

        def finish(prepared: _Prepared, written: tuple[int, int], seconds: float,
                   spans: Iterable[tuple[float, float]] = ()) -> None:
            busy.extend(spans)
            stats = prepared.stats
            stats.records, stats.triples = written
            stats.deleted = len(prepared.deleted)
            stats.seconds = prepared.seconds + seconds
            total.add(stats)
            if on_batch is not None:
                on_batch(stats)
            if progress is not None:
                progress(prepared.size)
            in_flight.difference_update(prepared.iris)  # written: has_graph sees them now
            in_flight.difference_update(prepared.graphs or ())

        with ThreadPoolExecutor(1, thread_name_prefix="linkeddata-parse") as pool:
            pending = pool.submit(prepare_next)

            def take() -> _Prepared | None:  # the next prepared batch; the one after starts preparing
                nonlocal pending
                prepared = pending.result()
                if prepared is not None:
                    received(prepared)
                    pending = pool.submit(prepare_next)
                return prepared

            prepared = take()
            while prepared is not None:
                if prepared.context is not None and not check_only:
                    prepared = self._stream_bulk(prepared, take, strict, finish, base, counted)
                    continue
                started = time.perf_counter()
                if check_only:
                    graphs = prepared.graphs or {}
                    written = (len(graphs), sum(len(qs) for qs in graphs.values()))
                else:
                    written = self._write_prepared(prepared)
                    self.flush()
                ended = time.perf_counter()
                finish(prepared, written, ended - started, [(started, ended)])
                prepared = take()
        if not check_only:
            self.publish_snapshot(force=True)
        if not counted:
            total.triples = self.count_triples()
        total.seconds = _covered(busy)  # batches overlap, so their seconds add up to more
        return total

    def _prepare(self, batch: list[Record], strict: bool, in_flight: set[str] | None) -> _Prepared:
        """Validate a batch and parse it, or, when every record is JSON-LD with one bundled
        context and new to the store (and the store has a bulk loader), only make the
        texts the bulk loader parses itself (``in_flight``: graphs being written meanwhile)."""
        stats = LoadStats(batches=1)
        latest, deleted = _select(batch, stats, strict)
        prepared = _Prepared(len(batch), stats, deleted)
        live = [(iri, r) for iri, r in latest.items() if not r.deleted]
        if (in_flight is not None and live and not deleted and self._has_bulk_json()
                and all(r.is_json for _, r in live)
                and not any(iri in in_flight or self.has_graph(iri) for iri, _ in live)):
            try:
                parts = jsonld.records_parts([(iri, _as_json(r.data, iri)) for iri, r in live], streaming=True)
            except (JsonLdError, ParseError):
                parts = None  # the careful path below finds the bad records
            if parts is not None and max(len(b) for b in parts[1]) < BULK_TEXT_LIMIT:
                prepared.context, prepared.bodies = parts
                prepared.iris = [iri for iri, _ in live]
                return prepared
        prepared.graphs = _parse_selected(latest, stats, strict)
        return prepared

    def _write_prepared(self, prepared: _Prepared) -> tuple[int, int]:
        """Write one parsed batch; (records, triples added)."""
        graphs = prepared.graphs or {}
        return len(graphs), self.replace_graphs(graphs, prepared.deleted)

    def _stream_bulk(self, first: _Prepared, take: Callable[[], _Prepared | None], strict: bool,
                     finish: _Finish, base: int | None, count: bool = True) -> _Prepared | None:
        """Bulk-load ``first`` and the batches of new graphs after it, in streamed bulk loads
        sized by :func:`_bulk_text_limit` (``base``: the memory before the load began); returns
        the batch that ended the run (``None`` at the end of the records). ``count``: count the
        triples of each load (else its batches report none; the caller counts the store's).

        Each load is one streaming JSON-LD document that a feeder thread writes into a pipe
        as batches are prepared; the bulk loader reads it in its own thread without the GIL.
        Two loads are in flight: while one writes its table files, the next one is parsed,
        which keeps both cores busy (a single load parses, then writes). Loads end in order:
        their triples are counted, the store flushed, and ``finish`` called for each batch.
        When a load fails, its graphs (all new) are dropped; batches that parse on their own
        are loaded again in bulk, the others record by record.
        """
        with self._writing():
            batch: _Prepared | None = first
            loading: _Segment | None = None
            try:
                while batch is not None and batch.context is not None:
                    segment = self._start_segment(batch, take, _bulk_text_limit(base, self._table_bytes()), count)
                    segment.fed.wait()
                    previous, loading = loading, segment  # the new load is the one in flight now
                    if previous is not None:
                        self._end_segment(previous, strict, finish)
                    error = segment.error()
                    if error is not None and not isinstance(error, JsonLdError):
                        break  # the records could not be read: this load ends with that error
                    if segment.held:
                        batch = segment.held[0]
                        continue
                    try:
                        batch = take()
                    except BaseException:
                        last, loading = loading, None
                        self._end_segment(last, strict, finish)
                        raise
                if loading is not None:
                    last, loading = loading, None
                    self._end_segment(last, strict, finish)
            finally:
                if loading is not None:  # an error left a load in flight: let it end before leaving
                    loading.join()
        return batch

    def _start_segment(self, first: _Prepared, take: Callable[[], _Prepared | None], limit: int,
                       count: bool = True) -> _Segment:
        """Start one streamed bulk load of ``first`` and the batches after it (same context,
        up to ``limit`` bytes of text); its feeder and loader run in their own threads."""
        segment = _Segment([first])
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # Linux: a larger pipe, fewer wake-ups
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

        def write(data: bytes) -> None:  # the time the loader keeps the feeder waiting is busy time
            started = time.perf_counter()
            _write_all(write_end, data)
            segment.spans.append((started, time.perf_counter()))

        def feed() -> None:
            try:
                write(('{"@context":' + (first.context or "") + ',"@graph":[\n').encode("utf-8"))
                write(",\n".join(first.bodies).encode("utf-8"))
                size = sum(len(b) for b in first.bodies)
                while size < limit:
                    following = take()
                    if following is None or following.context != first.context:
                        segment.held.append(following)
                        break
                    segment.batches.append(following)
                    write((",\n" + ",\n".join(following.bodies)).encode("utf-8"))
                    size += sum(len(b) for b in following.bodies)
                write(b"\n]}\n")
            except BrokenPipeError:
                pass  # the loader stopped: its error says why
            except BaseException as exc:  # noqa: BLE001 - handed to the loading thread
                segment.failures.append(exc)
                with contextlib.suppress(OSError):
                    _write_all(write_end, b"}")  # never a complete document: the loader fails
            finally:
                os.close(write_end)
                segment.fed_at = time.perf_counter()
                segment.fed.set()

        def load() -> None:
            try:
                self._bulk_stream(read_end)
            except BaseException as exc:  # noqa: BLE001 - handed to the thread that ends the load
                segment.failures.append(exc)
            finally:
                os.close(read_end)
            segment.fed.wait()
            if count and not segment.failures:
                try:
                    segment.added = self._count_quads([iri for b in segment.batches for iri in b.iris])
                except BaseException as exc:  # noqa: BLE001
                    segment.failures.append(exc)

        segment.threads = [threading.Thread(target=feed, name="linkeddata-bulk-feed", daemon=True),
                           threading.Thread(target=load, name="linkeddata-bulk-load", daemon=True)]
        for thread in segment.threads:
            thread.start()
        return segment

    def _end_segment(self, segment: _Segment, strict: bool,
                     finish: _Finish) -> None:
        """Wait for a streamed load, recover its good records if it failed, and finish its
        batches in order; re-raises an error from reading the records (after the recovery)."""
        segment.join()
        _release_freed_memory()
        error = segment.error()
        if error is not None:  # a bad record, or reading the records failed: keep what loads
            log.debug("streamed bulk load failed (%s); isolating the bad records", str(error).split("\n")[0])
            self.replace_graphs({}, [iri for b in segment.batches for iri in b.iris])
            results = self._recover(segment.batches, strict)
        else:
            results = self._shared_counts(segment.batches, segment.added or 0)
        self.flush()
        ended = time.perf_counter()
        share = (ended - segment.started) / len(segment.batches)
        spans = [*segment.spans, (segment.fed_at or ended, ended)]
        for number, (prepared, written) in enumerate(zip(segment.batches, results)):
            finish(prepared, written, share, spans if number == 0 else ())
        if error is not None and not isinstance(error, JsonLdError):
            raise error

    def _load_segment(self, first: _Prepared, take: Callable[[], _Prepared | None]) -> _Segment:
        """One streamed bulk load, waited for."""
        segment = self._start_segment(first, take, BULK_TEXT_BYTES)  # batches that were loaded together
        segment.join()
        return segment

    def _recover(self, segment: list[_Prepared], strict: bool) -> list[tuple[int, int]]:
        """After a failed bulk load: batches that pyoxigraph's JSON-LD parser takes go to the
        bulk loader again (once), the others are parsed record by record."""
        context = segment[0].context or ""
        good: list[_Prepared] = []
        for b in segment:
            try:
                for _ in ox.parse(jsonld.join_parts(context, b.bodies), format=ox.RdfFormat.STREAMING_JSON_LD):
                    pass
                good.append(b)
            except (SyntaxError, ValueError, MemoryError):
                pass
        again: dict[int, tuple[int, int]] = {}
        if good:
            replay = iter(good[1:])
            retry = self._load_segment(good[0], lambda: next(replay, None))
            if retry.error() is None and len(retry.batches) == len(good):
                again = {id(b): r for b, r in zip(good, self._shared_counts(good, retry.added or 0))}
            else:
                self.replace_graphs({}, [iri for b in good for iri in b.iris])
        shared = json.loads(context)
        out = []
        for b in segment:
            if id(b) in again:
                out.append(again[id(b)])
                continue
            pairs = [(item["@id"], {"@context": shared, "@graph": item["@graph"]})
                     for item in (json.loads(body) for body in b.bodies)]
            graphs = _json_graphs(pairs, b.stats, strict)
            out.append((len(graphs), self.replace_graphs(graphs)))
        return out

    @staticmethod
    def _shared_counts(batches: list[_Prepared], added: int) -> list[tuple[int, int]]:
        """(records, triples) per batch: the triples counted for all, shared out by records."""
        total_bodies = sum(len(b.bodies) for b in batches) or 1
        out, given = [], 0
        for number, b in enumerate(batches):
            share = added - given if number == len(batches) - 1 else added * len(b.bodies) // total_bodies
            given += share
            out.append((len(b.iris), share))
        return out

    def _has_bulk_json(self) -> bool:
        """Whether :meth:`_bulk_stream` is available."""
        return False

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """Held while bulk loads are in flight (other writers in this process wait)."""
        return contextlib.nullcontext()

    def _table_bytes(self) -> int:
        """Bytes of the store's table files (0 when it has none of its own)."""
        return 0

    def has_graph(self, iri: str) -> bool:
        """Whether the store holds the named graph ``iri``."""
        raise NotImplementedError

    def _bulk_stream(self, read_end: int) -> None:
        """Bulk-load the streaming JSON-LD document read from the pipe ``read_end``."""
        raise NotImplementedError

    def _count_quads(self, graphs: list[str]) -> int:
        """Quads in the named graphs ``graphs``."""
        raise NotImplementedError

    def load_file(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        graph: str | None = None,
        bulk: bool | None = None,
        batch_size: int = FILE_BATCH,
        progress: Callable[[int], None] | None = None,
        strict: bool = False,
        check_only: bool = False,
    ) -> LoadStats:
        """Load a local file, or standard input for ``-``; ``.gz`` files are unzipped as read.

        * JSON-LD: a record (graph = its record IRI), a list of records, or a
          ``{"@graph": …}`` of records (one graph object per record, or the records'
          nodes side by side), streamed with constant memory (:mod:`linkeddata.readers`).
        * ``.jsonl``/``.ndjson``/``.ndjsonld`` (``--format jsonl``): one record per line,
          streamed; the EMM dump format (gzipped, with its context item) included.
        * N-Quads/TriG (dumps): the file's own graphs, streamed with constant memory; each
          named graph is replaced when first met, so loading a dump again changes nothing.
          ``bulk=True`` appends with the store's bulk loader instead (fastest, not
          transactional, no replacement: for filling a new store); ``None`` (default)
          chooses it for files over :data:`BULK_THRESHOLD` bytes going into an empty store.
        * Turtle, N-Triples, RDF/XML, N3: into ``graph``, else into the record the
          data describes (a subject with ``kbv:mainEntity``), else the default graph.

        ``check_only`` parses everything and counts it, writing nothing.
        """
        from . import readers

        if not check_only:
            self._writable()
        name = str(path)
        if name != "-" and not Path(path).is_file():
            raise ParseError(f"{path}: no such file")
        source = "standard input" if name == "-" else name
        with readers.open_binary(path) as stream:
            kind = _input_kind(name, format, stream)
            if kind == "jsonl":
                return self.load_records(readers.json_lines_records(stream, source), batch_size=batch_size,
                                         progress=progress, strict=strict, check_only=check_only)
            fmt = kind if isinstance(kind, ox.RdfFormat) else rdf_format(kind)
            started = time.perf_counter()
            if fmt == ox.RdfFormat.JSON_LD:
                return self.load_records(readers.json_document_records(stream, source, graph), batch_size=batch_size,
                                         progress=progress, strict=strict, check_only=check_only)
            if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG) and graph is None:
                plain = name != "-" and not isinstance(stream, gzip.GzipFile)
                if bulk is None:
                    bulk = plain and Path(path).stat().st_size > BULK_THRESHOLD and self._is_empty()
                added = self._bulk_load(Path(path) if plain else stream, fmt) if bulk and not check_only else None
                if added is not None:
                    stats = LoadStats(records=1, triples=added, batches=1)
                else:
                    stats = self._load_dataset(stream, source, fmt, batch_size * 100, check_only)
                stats.seconds = time.perf_counter() - started
                if progress:
                    progress(stats.records)
                return stats
            data = stream.read()
        record = Record(graph or "", data, media_type=fmt.media_type, source=source)
        if not graph:
            record.iri = _described_record(data, fmt, source, name) or ""
        if not record.iri:
            quads = list(dict.fromkeys(ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph())
                                       for q in _parse_rdf(data, fmt, source)))
            added = len(quads) if check_only else self.append_quads(quads)
            return LoadStats(records=1, triples=added, batches=1, seconds=time.perf_counter() - started)
        return self.load_records([record], strict=True, check_only=check_only)

    def _load_dataset(self, stream: Any, source: str, fmt: ox.RdfFormat, chunk: int,
                      check_only: bool = False) -> LoadStats:
        """Stream a dataset file: replace each named graph when first met, append the rest.

        Writes are cut at graph boundaries, so a graph written contiguously (as every dump
        from Oxigraph or linkeddata is) goes to the store in one piece and its blank nodes
        stay together even on a SPARQL server.
        """
        stats = LoadStats()
        seen: set[str] = set()

        def write(quads: list[ox.Quad]) -> None:
            first: dict[str, list[ox.Quad]] = {}  # graphs met for the first time: replaced
            rest: list[ox.Quad] = []  # later parts of those graphs, and the default graph
            for q in quads:
                name = q.graph_name
                if isinstance(name, ox.NamedNode) and name.value not in seen:
                    first.setdefault(name.value, []).append(q)
                else:
                    rest.append(q)
            seen.update(first)
            stats.batches += 1
            if check_only:
                stats.triples += len(quads)
                return
            stats.triples += self.replace_graphs(first, atomic=False) if first else 0
            stats.triples += self.append_quads(rest) if rest else 0
            self.flush()

        pending: list[ox.Quad] = []
        try:
            for q in ox.parse(stream, format=fmt):
                if len(pending) >= chunk and (q.graph_name != pending[-1].graph_name or len(pending) >= 10 * chunk):
                    write(pending)
                    pending = []
                pending.append(q)
        except (SyntaxError, ValueError, OSError, EOFError) as exc:
            unfinished = pending[-1].graph_name if pending else None
            whole = [q for q in pending if q.graph_name != unfinished]
            if whole:
                write(whole)
            stats.records = len(seen)
            error = ParseError(f"{source}: {_first_line(exc)} (the {len(seen)} graphs before this point are loaded)")
            error.partial = stats  # type: ignore[attr-defined]
            raise error from exc
        if pending:
            write(pending)
        stats.records = len(seen)
        return stats

    def _is_empty(self) -> bool:
        return False

    def count_triples(self, graph: str | None = None) -> int:
        """Number of quads, in one graph or in all."""
        raise NotImplementedError

    def _bulk_load(self, path: Path | Any, fmt: ox.RdfFormat) -> int | None:
        """Load a dataset file (a path or a binary stream) with the store's own bulk loader (quads added); ``None`` when it has none."""
        return None


class LocalStore(RecordLoader):
    """An Oxigraph store with record-graph semantics. Use :func:`open_local_store` (or :func:`linkeddata.stores.open_store`) to get one."""

    capabilities = StoreCapabilities(remote=False, bulk_load=True, optimize=True, atomic_batches=False)

    def __init__(self, inner: ox.Store, path: Path | None = None, read_only: bool = False):
        self.inner = inner
        self.path = path
        self.read_only = read_only
        self._write_lock = threading.RLock()
        self._published = 0.0
        self._snapshots = 0

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"<LocalStore {where}{' read-only' if self.read_only else ''}>"

    # -------------------------------------------------------------- context manager
    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def flush(self) -> None:
        if self.path is not None and not self.read_only:
            self.inner.flush()
            self.publish_snapshot()

    def publish_snapshot(self, force: bool = False) -> None:
        """Publish a consistent snapshot (a RocksDB checkpoint: hard links, milliseconds)
        that read-only openings in other processes use while this process writes.

        RocksDB's read-only opening of files a live writer flushes and compacts is not
        consistent (it failed with "Corruption: … .sst: No such file", and once saw
        a state whose query grew to 23 GB); a checkpoint is. Published at most every
        :data:`SNAPSHOT_INTERVAL` seconds unless ``force``; only the newest two are kept.
        """
        if self.path is None or self.read_only:
            return
        now = time.monotonic()
        if not force and now - self._published < SNAPSHOT_INTERVAL:
            return
        root = self.path / SNAPSHOTS
        self._snapshots += 1
        name = f"{os.getpid()}-{self._snapshots}"
        try:
            root.mkdir(exist_ok=True)
            with self._write_lock:
                self.inner.backup(str(root / name))
            pointer = root / f"CURRENT.{os.getpid()}"
            pointer.write_text(name, "utf-8")
            os.replace(pointer, root / "CURRENT")
        except (OSError, RuntimeError) as exc:
            log.warning("could not publish a snapshot of %s for readers: %s", self.path, _first_line(exc))
            return
        self._published = time.monotonic()
        keep = {name, f"{os.getpid()}-{self._snapshots - 1}"}
        for old in root.iterdir():
            if old.is_dir() and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        """Flush and forget this store, releasing its lock once no other reference holds it."""
        if self.path is not None and not self.read_only:
            self.inner.flush()
            self.publish_snapshot(force=True)  # readers see all that was written
        with _open_lock:
            if self.path is not None and _open_stores.get(self.path) is self:
                del _open_stores[self.path]

    # -------------------------------------------------------------- reading
    def graphs(self) -> set[str]:
        """IRIs of the named graphs (one per loaded record or organisation)."""
        return {g.value for g in self.inner.named_graphs() if isinstance(g, ox.NamedNode)}

    def count_triples(self, graph: str | None = None) -> int:
        """Number of quads, in one graph or in all."""
        if graph is None:
            return len(self.inner)
        return sum(1 for _ in self.inner.quads_for_pattern(None, None, None, ox.NamedNode(graph)))

    def __len__(self) -> int:
        return len(self.inner)

    def has_graph(self, iri: str) -> bool:
        return self.inner.contains_named_graph(ox.NamedNode(iri))

    def query(self, sparql: str, params: Mapping[str, Any] | None = None, *, union: bool = True) -> Any:
        """Run a SPARQL query; ``params`` bind variables safely (see :mod:`linkeddata.query`).

        ``union=True`` (default) makes the default graph the union of all named graphs,
        so queries need no ``GRAPH`` clauses.
        """
        from .query import query_oxigraph

        return query_oxigraph(self.inner, sparql, params, union=union)

    def canonical_nquads(self) -> str:
        """All quads as canonical, sorted N-Quads (blank nodes canonicalised): for comparisons."""
        dataset = ox.Dataset(self.inner)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        return "".join(sorted(f"{q} .\n" for q in dataset))

    def dump(self, output: str | Path | Any, format: str | ox.RdfFormat = ox.RdfFormat.N_QUADS) -> None:
        """Write the whole store (N-Quads or TriG keep the graphs)."""
        fmt = format if isinstance(format, ox.RdfFormat) else rdf_format(format)
        self.inner.dump(output, format=fmt)

    # -------------------------------------------------------------- writing
    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self} is read-only")

    def delete_record(self, iri: str) -> bool:
        """Drop a record's graph; ``True`` when it existed."""
        self._writable()
        node = ox.NamedNode(iri)
        with self._write_lock:
            if not self.inner.contains_named_graph(node):
                return False
            self.inner.remove_graph(node)
            return True

    def replace_graphs(self, graphs: dict[str, list[ox.Quad]], deleted: Iterable[str] = (), *,
                       atomic: bool = True) -> int:
        """Replace each graph with its quads and drop ``deleted`` graphs; returns quads added.

        Graphs already in the store are replaced, and ``deleted`` ones dropped, in one
        SPARQL Update: atomic, so a reader sees the old or the new record, never a mix.
        Graphs not yet in the store are written with the bulk writer, which is several
        times faster but not transactional: a process killed during it can leave part of
        a *new* record behind, which the next load of that batch replaces (harvests do
        this by themselves, resuming from the last committed batch). ``atomic=False``
        drops the existing graphs first and bulk-writes everything (dumps).
        """
        self._writable()
        with self._write_lock:
            if not atomic:
                drops = [g for g in [*graphs, *deleted] if self.inner.contains_named_graph(ox.NamedNode(g))]
                if drops:
                    self.inner.update(" ;\n".join(f"DROP SILENT GRAPH <{_iri(g)}>" for g in drops))
                quads = [q for qs in graphs.values() for q in qs]
                self.inner.bulk_extend(quads)
                return len(quads)
            existing = {g: qs for g, qs in graphs.items() if self.inner.contains_named_graph(ox.NamedNode(g))}
            drops = [*existing, *deleted]
            if drops:
                operations = [f"DROP SILENT GRAPH <{_iri(g)}>" for g in drops]
                inserts = " ".join(f"GRAPH <{_iri(g)}> {{ {' '.join(f'{q.subject} {q.predicate} {q.object} .' for q in qs)} }}"
                                   for g, qs in existing.items() if qs)
                if inserts:
                    operations.append(f"INSERT DATA {{ {inserts} }}")
                self.inner.update(" ;\n".join(operations))
            fresh = [q for g, qs in graphs.items() if g not in existing for q in qs]
            if fresh:
                self.inner.bulk_extend(fresh)
            return sum(len(qs) for qs in graphs.values())

    def append_quads(self, quads: list[ox.Quad]) -> int:
        self._writable()
        with self._write_lock:
            self.inner.extend(quads)
        return len(quads)

    def _is_empty(self) -> bool:
        return next(self.inner.quads_for_pattern(None, None, None), None) is None  # len() reads every quad

    def _has_bulk_json(self) -> bool:
        return True

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        return self._write_lock

    def _table_bytes(self) -> int:
        if self.path is None:
            return 0
        with contextlib.suppress(OSError), os.scandir(self.path) as entries:
            return sum(e.stat().st_size for e in entries if e.name.endswith(".sst"))
        return 0

    def _bulk_stream(self, read_end: int) -> None:  # the caller holds the write lock
        source: Any = f"/dev/fd/{read_end}"
        with contextlib.ExitStack() as stack:
            try:
                if os.path.isdir("/dev/fd"):  # read by the loader itself, without the GIL
                    self.inner.bulk_load(path=source, format=ox.RdfFormat.STREAMING_JSON_LD)
                else:  # pragma: no cover - no /dev/fd: read through Python
                    source = stack.enter_context(open(read_end, "rb", closefd=False))
                    self.inner.bulk_load(source, format=ox.RdfFormat.STREAMING_JSON_LD)
            except (SyntaxError, ValueError, OSError) as exc:
                raise JsonLdError(f"JSON-LD to RDF failed: {_first_line(exc)}") from exc
            except MemoryError as exc:
                raise JsonLdError(f"a value is too large for the JSON-LD parser ({_first_line(exc)})") from exc

    def _count_quads(self, graphs: list[str]) -> int:
        total = 0
        for start in range(0, len(graphs), 5000):
            values = " ".join(f"<{_iri(g)}>" for g in graphs[start:start + 5000])
            rows = self.inner.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }}")
            assert isinstance(rows, ox.QuerySolutions)
            total += int(next(iter(rows))["n"].value)
        return total

    def _bulk_load(self, path: Path | Any, fmt: ox.RdfFormat) -> int | None:
        before = len(self.inner)
        try:
            with self._write_lock:
                if isinstance(path, Path):
                    self.inner.bulk_load(path=str(path), format=fmt)
                else:
                    self.inner.bulk_load(path, format=fmt)
        except (SyntaxError, ValueError, OSError, EOFError) as exc:
            raise ParseError(f"{getattr(path, 'name', path)}: {_first_line(exc)}") from exc
        return len(self.inner) - before

    def optimize(self) -> None:
        """Compact the on-disk files (after large bulk loads)."""
        self.inner.optimize()


def _covered(spans: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by the (possibly overlapping) time ``spans``.

    >>> _covered([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)])
    4.0
    """
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: reading and preparing a batch make and drop
    many JSON objects (no cycles), whose collection passes took a fifth of that time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (``None`` elsewhere); looked up at the first load, not at import."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError, ImportError):
        return None
    return trim


def _release_freed_memory() -> None:
    """Give the memory a finished bulk load freed back to the system. glibc keeps it in the
    arenas of the loader's threads otherwise, and a long load's peak crept up with it (a million
    records: 539 MB without, see the README's performance section)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _resident_bytes() -> int | None:
    """This process's resident memory now (``None`` where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _bulk_text_limit(base: int | None, table_bytes: int) -> int:
    """Text for the next bulk load: what fits in :data:`LOAD_MEMORY_MB` beside ``base`` (the
    process's resident memory before the load began) and the store's own memory for its
    ``table_bytes``, for two loads in flight; at least :data:`MIN_BULK_TEXT_BYTES`, at most
    :data:`BULK_TEXT_BYTES`. (The memory resident now says little: the allocator keeps
    what the last loads freed, and the next load reuses it.)

    >>> _bulk_text_limit(100 << 20, 0) == ((LOAD_MEMORY_MB - 100) << 20) // (2 * LOADER_BYTES_PER_TEXT_BYTE)
    True
    """
    if base is None:
        return MIN_BULK_TEXT_BYTES * 4
    free = LOAD_MEMORY_MB * 1024 * 1024 - base - int(STORE_BYTES_PER_TABLE_BYTE * table_bytes)
    return min(BULK_TEXT_BYTES, max(MIN_BULK_TEXT_BYTES, free // (2 * LOADER_BYTES_PER_TEXT_BYTE)))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _iri(value: str) -> str:
    if any(c in value for c in '<>"{}|^`\\ \n'):
        raise StoreError(f"not a valid IRI: {value!r}")
    return value


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _json_graphs(pairs: list[tuple[str, Any]], stats: LoadStats, strict: bool) -> dict[str, list[ox.Quad]]:
    """Parse JSON-LD records together; on failure, halves of the batch in turn to isolate the bad ones."""
    if not pairs:
        return {}
    try:
        docs = [(iri, _as_json(doc, iri)) for iri, doc in pairs]
        graphs = _group(jsonld.record_quads(docs))
    except (JsonLdError, ParseError) as exc:
        if len(pairs) == 1:
            if isinstance(exc, jsonld.ValueTooLargeError):  # too large for pyoxigraph's parser, not wrong
                try:
                    return {pairs[0][0]: list(dict.fromkeys(jsonld.reference_quads(docs)))}
                except (JsonLdError, ParseError, ValueError) as reference_exc:
                    _skip(stats, pairs[0][0], reference_exc, strict)
                    return {}
            _skip(stats, pairs[0][0], exc, strict)
            return {}
        middle = len(pairs) // 2
        return {**_json_graphs(pairs[:middle], stats, strict), **_json_graphs(pairs[middle:], stats, strict)}
    for iri, _ in pairs:
        graphs.setdefault(iri, [])
    return graphs


def _as_json(data: Any, iri: str) -> Any:
    if isinstance(data, (bytes, bytearray, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ParseError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, (dict, list)):
        raise ParseError(f"expected a JSON-LD object, got {type(data).__name__}")
    return data


def _group(quads: list[ox.Quad]) -> dict[str, list[ox.Quad]]:
    """Quads by graph name, each quad once (JSON-LD may state a triple twice)."""
    graphs: dict[str, dict[ox.Quad, None]] = {}
    for q in quads:
        graphs.setdefault(q.graph_name.value, {})[q] = None  # type: ignore[union-attr]
    return {g: list(qs) for g, qs in graphs.items()}


def _parse_rdf(data: bytes, fmt: ox.RdfFormat, source: str, base: str | None = None) -> list[ox.Quad]:
    if fmt == ox.RdfFormat.RDF_XML and b"<!ENTITY" in data:
        # pyoxigraph's RDF/XML parser expands internal entities: refuse DTD entity
        # declarations instead of risking an exponential "billion laughs" expansion.
        raise ParseError(f"{source}: RDF/XML with DTD entity declarations is refused")
    try:
        return list(ox.parse(data, format=fmt, base_iri=base))
    except (SyntaxError, ValueError) as exc:
        raise ParseError(f"{source}: {_first_line(exc)}") from exc


def record_rdf_quads(record: Record) -> list[ox.Quad]:
    """Quads of a non-JSON record (Turtle, TriG, RDF/XML, N-Triples…) in the record's graph.

    Every graph of a TriG body (embellished parts) is merged into the record's graph,
    as for JSON-LD, and blank nodes are made unique to this record.
    """
    fmt = ox.RdfFormat.from_media_type(record.media_type.split(";")[0].strip())
    if fmt is None:
        raise ParseError(f"record {record.iri}: unsupported media type {record.media_type}")
    data = record.data.encode("utf-8") if isinstance(record.data, str) else record.data
    if isinstance(data, list):  # already quads
        quads = data
    else:
        quads = _parse_rdf(data, fmt, record.source or f"record {record.iri}", base=record.iri or None)
    return list(dict.fromkeys(jsonld._fresh_bnodes(quads, ox.NamedNode(record.iri))))  # merged graphs: each triple once


_MAIN_ENTITY = ox.NamedNode(jsonld.KBV_VOCAB + "mainEntity")


def _described_record(data: bytes, fmt: ox.RdfFormat, source: str, name: str = "") -> str | None:
    """The record an RDF file describes: the one subject with ``kbv:mainEntity``; in an
    embellished file (linked records' descriptions included) the record named like the
    file, else the one whose main entity nothing else in the file points to."""
    quads = _parse_rdf(data, fmt, source)
    mains = {q.subject.value: q.object for q in quads if q.predicate == _MAIN_ENTITY
             and isinstance(q.subject, ox.NamedNode) and "?" not in q.subject.value}
    if len(mains) <= 1:
        return next(iter(mains), None)
    stem = Path(name).name.split(".")[0] if name and name != "-" else ""
    named = [iri for iri in mains if stem and iri.rstrip("/").rsplit("/", 1)[-1] == stem]
    if len(named) == 1:
        return named[0]
    pointed = {q.object for q in quads if q.predicate != _MAIN_ENTITY}
    roots = [iri for iri, thing in mains.items() if thing not in pointed]
    return roots[0] if len(roots) == 1 else None


def _input_kind(name: str, format: str | None, stream: Any) -> ox.RdfFormat | str:
    """``"jsonl"`` or the RDF format of an input: by ``format``, else by extension
    (``.gz`` aside), else (standard input) by its first bytes."""
    if format is not None and format.lower() in ("jsonl", "ndjson", "ndjsonld"):
        return "jsonl"
    if format is not None:
        return rdf_format(format)
    if name == "-":
        head = stream.peek(65536)[:65536].lstrip() if hasattr(stream, "peek") else b""
        if isinstance(stream, gzip.GzipFile) or re.search(rb"\}\s*\n\s*\{", head):
            return "jsonl"
        if head[:1] in (b"{", b"["):
            return ox.RdfFormat.JSON_LD
        raise ParseError("standard input: its format cannot be guessed; name it (ttl, nt, nq, trig, rdf, jsonld, jsonl)")
    plain = name[:-3] if name.lower().endswith(".gz") else name
    if Path(plain).suffix.lower() in JSON_LINES:
        return "jsonl"
    return rdf_format(plain)


def open_local_store(path: str | Path | None = None, read_only: bool = False) -> LocalStore:
    """Open (creating if needed) the local store at ``path``; ``None`` for an in-memory store.

    :func:`linkeddata.stores.open_store` opens a server URL as well.

    One writer per path per process: opening a path again returns the same store. A
    path locked by another process raises :class:`StoreLockedError` (open it with
    ``read_only=True`` to query it while the other process writes).
    """
    if path is None:
        return LocalStore(ox.Store())
    resolved = Path(path).expanduser().resolve()
    with _open_lock:
        existing = _open_stores.get(resolved)
        if existing is not None:
            return existing
        if read_only:
            if not resolved.is_dir():
                raise StoreError(f"no store at {path}")
            return LocalStore(_open_read_only(resolved, path), resolved, read_only=True)
        if resolved.exists() and not resolved.is_dir():
            raise StoreError(f"{path} is a file, not a store directory")
        try:
            resolved.parent.mkdir(parents=True, exist_ok=True)
            inner = ox.Store(str(resolved))
        except OSError as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"store {path} is in use by another process (one writer at a time); "
                    "open it read-only to query it meanwhile") from exc
            raise StoreError(f"cannot open store {path}: {_first_line(exc)}") from exc
        _remove_orphans(resolved)
        shutil.rmtree(resolved / SNAPSHOTS, ignore_errors=True)  # of an earlier writer: stale
        _written_here.add(resolved)
        store = LocalStore(inner, resolved)
        store.publish_snapshot(force=True)
        _open_stores[resolved] = store
        return store


#: How often, and for how long in all, a read-only opening is retried while a writer
#: changes the store's files under it.
READ_ONLY_ATTEMPTS = 8
READ_ONLY_PATIENCE = 3.0
#: Where a writing process publishes snapshots for readers (inside the store directory).
SNAPSHOTS = "linkeddata-snapshots"
#: Seconds between two published snapshots while a load writes.
SNAPSHOT_INTERVAL = 1.0
#: Stores this process has opened for writing (their lock must not be probed from here).
_written_here: set[Path] = set()


def _open_read_only(resolved: Path, path: str | Path) -> ox.Store:
    """A consistent read-only view of a store, whether or not another process writes it.

    No writer: the store itself. A writer (it holds the store's lock): the newest
    snapshot it published (:meth:`LocalStore.publish_snapshot`). RocksDB's read-only
    opening of live files can fail ("Corruption: … .sst: No such file") when a writer
    compacts meanwhile, so openings are retried; after :data:`READ_ONLY_ATTEMPTS`, or
    when a writer publishes no snapshot, :class:`StoreBusyError` says to retry.
    """
    deadline = time.monotonic() + READ_ONLY_PATIENCE
    problem = "it changed while it was opened"
    for attempt in range(1, READ_ONLY_ATTEMPTS + 1):
        target = resolved
        if _writer_active(resolved):
            snapshot = _current_snapshot(resolved)
            if snapshot is None:
                problem = "no snapshot of it is published yet"
                target = None  # type: ignore[assignment]
            else:
                target = snapshot
        if target is not None:
            try:
                return ox.Store.read_only(str(target))
            except (OSError, RuntimeError) as exc:
                text = str(exc)
                if "No such file" not in text and "Corruption" not in text:
                    raise StoreError(f"cannot open {path} read-only: {_first_line(exc)}") from exc
                log.debug("store %s changed while opening read-only (attempt %d): %s", path, attempt,
                          _first_line(exc))
        if time.monotonic() > deadline:
            break
        time.sleep(0.02 * attempt)
    raise StoreBusyError(f"store {path} is being written by another process ({problem}); retry")


def _writer_active(resolved: Path) -> bool:
    """Whether a process holds the store's write lock (RocksDB's ``fcntl`` lock on ``LOCK``)."""
    if resolved in _written_here:  # closing a descriptor of LOCK here would drop our own lock
        return True
    if fcntl is None:
        return False
    try:
        fd = os.open(resolved / "LOCK", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _current_snapshot(resolved: Path) -> Path | None:
    try:
        name = (resolved / SNAPSHOTS / "CURRENT").read_text("utf-8").strip()
    except OSError:
        return None
    snapshot = resolved / SNAPSHOTS / name
    return snapshot if name and snapshot.is_dir() else None


def _remove_orphans(resolved: Path) -> None:
    """Delete ``bulk-*.sst`` files a killed bulk write left behind (we hold the store's lock:
    no other process writes it, and RocksDB names its own table files by number)."""
    removed = 0
    for orphan in resolved.glob("bulk-*.sst"):
        try:
            size = orphan.stat().st_size
            orphan.unlink()
        except OSError as exc:
            log.warning("could not remove %s: %s", orphan, exc)
            continue
        removed += size
    if removed:
        log.info("removed %.1f MB of files an interrupted bulk load left in %s", removed / 1e6, resolved)


def open_for_writing(path: str | Path) -> bool:
    """Whether this process holds the store at ``path`` open for writing."""
    with _open_lock:
        existing = _open_stores.get(Path(path).expanduser().resolve())
    return existing is not None and not existing.read_only
