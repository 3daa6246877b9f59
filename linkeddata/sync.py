"""Keep a local copy of a Libris selection current: load its dump once, then follow changes.

``sync(store, ["itemAndInstance:S"])`` is what ``linkeddata sync --library S`` runs, and
what a cron line repeats:

- **First run** of a selection: wait until its EMM dump is ``done``, then load it, by the
  gzipped download (streamed to disk, one line in memory; the default) or page by page.
  The dump's ``startTime`` is remembered as the change-feed position; a dump regenerated
  while it is read (new ``startTime``) is started again, and the position stays at the
  earliest ``startTime`` seen, so nothing that changed in between is missed. The run then
  follows the feed from that position, which makes the copy current.
- **Every later run** follows the change feed from the saved position: ``Create``/``Update``
  fetch the entity with the record API, ``Delete`` drops its graph. Only changes that
  concern the selection are applied (a library's holdings, the instances they point to).
  Repeated rows and several versions of one entity are applied once.
- **No EMM, or no dump of the selection**: OAI-PMH ``ListRecords`` (``bib:<sigel>`` with
  ``_includehold``, so each bib record brings its holdings; the whole repository for ``all``),
  then ``from=<previous until>`` increments (``hold`` and ``bib:<sigel>``) on later runs.

Each selection keeps a checkpoint in the store (``.linkeddata/checkpoints``) saved after
every committed batch, so a run killed at any point continues where it stopped, and the
result equals an uninterrupted run. The organisations of every holding library are loaded
in the same run, so the bundled join queries work on the result. The summary counts every
HTTP request the run made, per service.

>>> selections_for(libraries=["S", "Uu"], types=["Agent"])
['itemAndInstance:S', 'itemAndInstance:Uu', 'type:Agent']
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import requests

from .checkpoints import Checkpoint, check_interrupt, open_checkpoint
from .config import LIBRARY_BASE, library_iri, service_url
from .errors import (GoneError, HTTPError, InvalidInputError, LinkedDataError, NotFoundError, ServiceUnavailableError,
                     at_least_one)
from .libris.changes import Activity, ChangeFeed, parse_time
from .libris.dumps import DumpClient, DumpPage, DumpReader, DumpRegenerated, check_selection, iter_download, library_selection
from .libris.find import fetch_many
from .records import Record, batched

if TYPE_CHECKING:
    from .store_protocol import Store
    from .stores import StoreLike

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000
#: How often one run starts a regenerated dump again before it gives up.
MAX_RESTARTS = 5
#: How often a cut-off download is tried again before the run fails.
DOWNLOAD_ATTEMPTS = 3
DUMP_DIR = Path(".linkeddata") / "dumps"
KBV = "https://id.kb.se/vocab/"
Progress = Callable[[int], None] | None


def selections_for(libraries: Iterable[str] = (), types: Iterable[str] = (), everything: bool = False,
                   selections: Iterable[str] = ()) -> list[str]:
    """Checked dump selections: ``itemAndInstance:<sigel>`` per library, ``type:<Class>``, ``all``."""
    out = [library_selection(s) for s in libraries] + [check_selection(f"type:{t}") for t in types]
    out += [check_selection(s) for s in selections]
    if everything:
        out.append("all")
    if not out:
        raise InvalidInputError("nothing to sync: name a library, a type or all of Libris").for_cli(
            "nothing to sync: name a library (--library), a type (--type) or --all")
    return list(dict.fromkeys(out))


class RequestCounter:
    """Counts the HTTP responses a session receives, per service (a response hook)."""

    def __init__(self, bases: dict[str, str]):
        self.bases = sorted(((b.rstrip("/"), name) for name, b in bases.items()), key=lambda p: -len(p[0]))
        self.counts: dict[str, int] = {}

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        # requests-cache runs the response hooks once more on what it returns: a response it
        # served (a hit, or the body a 304 revalidated) made no request or was counted as it came
        if getattr(response, "from_cache", False) or getattr(response, "_linkeddata_counted", False):
            return response
        response._linkeddata_counted = True  # type: ignore[attr-defined]
        url = response.request.url or response.url if response.request is not None else response.url
        name = next((n for b, n in self.bases if url.startswith(b)), "other")
        self.counts[name] = self.counts.get(name, 0) + 1
        return response

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class SyncSummary:
    """What one sync run did."""

    selections: list[str]
    modes: dict[str, str] = field(default_factory=dict)
    records: int = 0
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Dump items that had left the selection by the time their page was read (a holding moved
    #: to another library after the dump's id list was taken): not loaded, not an error.
    left_selection: int = 0
    organisations: int = 0
    #: Change-feed activities read (the newest per entity), whether or not they concerned the selection.
    changes: int = 0
    missing_organisations: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    resumed: bool = False
    positions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def __str__(self) -> str:
        how = "; ".join(f"{s} by {m}" for s, m in self.modes.items())
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.requests.items())) or "none"
        dumped = any(m.startswith("dump") for m in self.modes.values())
        if dumped and self.records:
            cost = f", {self.total_requests * 1000 / self.records:.1f} per 1000 records"
        elif "change feed" in self.modes.values():
            cost = f" for {self.changes} change" + ("" if self.changes == 1 else "s")
        else:
            cost = ""
        left = f", {self.left_selection} left the selection since the dump was listed" if self.left_selection else ""
        lines = [f"Synced {how}: {self.records} records loaded, {self.deleted} deleted, {len(self.skipped)} skipped{left}, "
                 f"{self.organisations} organisations" + (" (resumed)" if self.resumed else "") + ".",
                 f"{self.total_requests} requests ({counts}){cost}, in {self.seconds:.1f} s."]
        for selection, position in self.positions.items():
            lines.append(f"Position of {selection}: {position}")
        return "\n".join(lines)


class _Run:
    """One sync run over one store: shared session, counters, summary."""

    def __init__(self, store: Store, summary: SyncSummary, session: requests.Session, urls: dict[str, str | None],
                 batch_size: int, concurrency: int, progress: Progress, download: bool, poll_interval: float,
                 max_wait: float, strict: bool):
        self.store = store
        self.summary = summary
        self.session = session
        self.urls = urls
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.progress = progress
        self.download = download
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.strict = strict
        #: Library selections the dump service does not offer (not listed, or no EMM).
        self.no_dump: set[str] = set()

    # -- loading

    def commit(self, checkpoint: Checkpoint, records: list[Record], state: dict[str, Any]) -> None:
        """Load one batch in one transaction, then save the checkpoint with ``state``."""
        if records:
            stats = self.store.load_records(records, batch_size=len(records) + 1, strict=self.strict)
            self.summary.records += stats.records
            self.summary.deleted += stats.deleted
            self.summary.skipped.extend(stats.skipped)
            checkpoint.records += stats.records
            checkpoint.deleted += stats.deleted
            checkpoint.skipped += len(stats.skipped)
            checkpoint.batches += 1
            if self.progress is not None:
                self.progress(len(records))
        checkpoint.state.update(state)
        checkpoint.save()
        check_interrupt(self.summary.records + self.summary.deleted)

    def load_stream(self, checkpoint: Checkpoint, units: Iterator[tuple[list[Record], dict[str, Any]]]) -> None:
        """Load ``(records, state)`` units through one ``load_records`` call, so reading and
        parsing the next batch overlap writing this one. After each committed batch the
        checkpoint gets the state of the last unit whose records are all committed."""
        marks: deque[tuple[int, dict[str, Any]]] = deque()
        produced = committed = 0
        last: dict[str, Any] = {}

        def records() -> Iterator[Record]:
            nonlocal produced, last
            for recs, state in units:
                for record in recs:
                    produced += 1
                    yield record
                marks.append((produced, state))
                last = state

        def saved(count: int) -> None:
            nonlocal committed
            committed += count
            while marks and marks[0][0] <= committed:
                checkpoint.state.update(marks.popleft()[1])
            checkpoint.records += count
            checkpoint.batches += 1
            checkpoint.save()
            if self.progress is not None:
                self.progress(count)
            check_interrupt(self.summary.records + committed)

        stats = self.store.load_records(records(), batch_size=self.batch_size, strict=self.strict, progress=saved)
        self.summary.records += stats.records
        self.summary.deleted += stats.deleted
        self.summary.skipped.extend(stats.skipped)
        checkpoint.skipped += len(stats.skipped)
        checkpoint.state.update(last)
        checkpoint.save()

    def skip(self, checkpoint: Checkpoint, skipped: list[tuple[str, str]]) -> None:
        """Count ``skipped`` in the summary (which names each once) and empty it."""
        for ident, reason in skipped:
            log.info("skipped %s: %s", ident, reason)
        self.summary.skipped.extend(skipped)
        checkpoint.skipped += len(skipped)
        skipped.clear()

    def drain(self, checkpoint: Checkpoint, reader: DumpReader) -> None:
        """Take over what ``reader`` skipped and how many of its items left the selection."""
        self.skip(checkpoint, reader.skipped)
        self.summary.left_selection += len(reader.left)
        reader.left.clear()

    # -- the dump

    def dump_client(self, selection: str) -> DumpClient:
        return DumpClient(selection, session=self.session, base_url=self.urls["emm"],
                          poll_interval=self.poll_interval, max_wait=self.max_wait)

    def has_dump(self, selection: str) -> bool:
        """Whether the server offers a dump of ``selection`` (False: no EMM, or a library it does not list).

        ``all`` and ``type:`` selections are tried directly (the index lists only some types).
        """
        if not selection.startswith("itemAndInstance:"):
            return True
        try:
            listed = self.dump_client(selection).index()
        except (HTTPError, ServiceUnavailableError) as exc:
            self.summary.warnings.append(f"no EMM dumps at {service_url('emm', self.urls['emm'])} "
                                         f"({str(exc).splitlines()[0]}); using OAI-PMH")
            self.no_dump.add(selection)
            return False
        if selection in listed:
            return True
        self.summary.warnings.append(f"the server lists no dump of {selection}; using OAI-PMH")
        self.no_dump.add(selection)
        return False

    def load_dump(self, checkpoint: Checkpoint) -> None:
        """Load the selection's dump (resuming at the saved line or offset), restarting it when regenerated."""
        state = checkpoint.state
        selection = checkpoint.params["selection"]
        client = self.dump_client(selection)
        for _ in range(MAX_RESTARTS + 1):
            try:
                first = None
                if not state.get("start_time"):
                    first = client.wait_until_done()
                    earliest = state.get("since")
                    if not earliest or parse_time(first.start_time) < parse_time(earliest):
                        earliest = first.start_time
                    self.commit(checkpoint, [], {"phase": "dump", "start_time": first.start_time, "since": earliest,
                                                 "mode": "download" if self.download else "pages",
                                                 "offset": 0, "line": 0, "types": []})
                if state["mode"] == "download":
                    self._load_download(client, checkpoint)
                else:
                    self._load_pages(client, checkpoint, first)
                self._dump_file(checkpoint).unlink(missing_ok=True)
                self.commit(checkpoint, [], {"phase": "follow", "via": "emm",
                                             "position": {"time": state["since"], "id": ""}})
                return
            except DumpRegenerated as exc:
                self.summary.restarts += 1
                self.summary.warnings.append(f"{exc}; started again")
                log.warning("%s; starting the dump again", exc)
                self._dump_file(checkpoint).unlink(missing_ok=True)
                self.commit(checkpoint, [], {"start_time": None, "offset": 0, "line": 0})
        raise LinkedDataError(f"dump {selection} was regenerated {MAX_RESTARTS + 1} times while it was read; "
                              "run again later")

    def _dump_file(self, checkpoint: Checkpoint) -> Path:
        root = Path(self.store.path) if self.store.path else Path(self._tmp())
        return root / DUMP_DIR / f"{checkpoint.key}.ndjsonld.gz"

    def _tmp(self) -> str:
        import tempfile

        if not hasattr(self, "_tmpdir"):
            self._tmpdir = tempfile.mkdtemp(prefix="linkeddata-sync-")
        return self._tmpdir

    def cleanup(self) -> None:
        if hasattr(self, "_tmpdir"):
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def _load_download(self, client: DumpClient, checkpoint: Checkpoint) -> None:
        state = checkpoint.state
        path = self._dump_file(checkpoint)
        if not path.exists():  # a complete file survives a killed run; only then is it reused
            path.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(DOWNLOAD_ATTEMPTS):
                try:
                    client.download(path)
                    break
                except ServiceUnavailableError as exc:
                    if attempt == DOWNLOAD_ATTEMPTS - 1:
                        raise
                    log.warning("%s; downloading again", str(exc).splitlines()[0])
            check = client.page(0)  # the download carries no startTime: was it the same dump?
            if check.start_time != state["start_time"] or not check.done:
                raise DumpRegenerated(f"dump {client.selection} was regenerated during the download",
                                      state["start_time"], check.start_time)
            self.commit(checkpoint, [], {"line": 0})
        reader = DumpReader(client.selection)

        def units() -> Iterator[tuple[list[Record], dict[str, Any]]]:
            for number, item in iter_download(path, int(state.get("line", 0))):
                records = self._note_types(reader.records(item), state)
                self.drain(checkpoint, reader)
                yield records, {"line": number + 1}

        self.load_stream(checkpoint, units())

    def _load_pages(self, client: DumpClient, checkpoint: Checkpoint, first: DumpPage | None) -> None:
        """Page through a ``done`` dump; ``first`` is its first page when it was just fetched."""
        state = checkpoint.state
        reader = DumpReader(client.selection)
        offset = int(state.get("offset", 0))
        if offset:  # resuming: the context item is on the first page
            first = client.page(0)
            if first.start_time != state["start_time"]:
                raise DumpRegenerated(f"dump {client.selection} was regenerated", state["start_time"], first.start_time)
            for item in first.items:
                if isinstance(item, dict) and "@graph" not in item:
                    reader.records(item)

        def units() -> Iterator[tuple[list[Record], dict[str, Any]]]:
            for page_offset, page in client.iter_pages(state["start_time"], offset, first if not offset else None):
                records = [r for item in page.items for r in self._note_types(reader.records(item), state)]
                self.drain(checkpoint, reader)
                following = page_offset + max(len(page.items), 1) if page.next is None else _offset_of(page.next)
                yield records, {"offset": following}

        self.load_stream(checkpoint, units())

    @staticmethod
    def _note_types(records: list[Record], state: dict[str, Any]) -> list[Record]:
        """Remember the main-entity types a ``type:`` dump holds (the feed is filtered by them)."""
        types = state.setdefault("types", [])
        for record in records:
            graph = record.data.get("@graph", []) if isinstance(record.data, dict) else []
            kind = graph[1].get("@type") if len(graph) > 1 and isinstance(graph[1], dict) else None
            if isinstance(kind, str) and kind not in types:
                types.append(kind)
        return records

    # -- the change feed

    def follow(self, checkpoint: Checkpoint) -> None:
        """Apply the change feed from the saved position, batch by batch (position saved after each)."""
        state = checkpoint.state
        selection = checkpoint.params["selection"]
        feed = ChangeFeed(state.get("position"), session=self.session, base_url=self.urls["emm"],
                          libris_url=self.urls["libris"], concurrency=self.concurrency)
        activities = feed.activities()
        self.summary.changes += len(activities)
        log.info("%s: %d changed entities since %s", selection, len(activities), feed.since)
        relevant = _Relevance(selection, self.store, state.get("types", []), feed.fetch)
        for part in batched(activities, self.batch_size):
            records = self._changes(part, relevant, feed, checkpoint)
            last = part[-1]
            self.commit(checkpoint, records, {"position": {"time": last.published, "id": last.object_id}})
        position = state.get("position") or {}
        if position.get("time"):
            self.summary.positions[selection] = str(position["time"])

    def _changes(self, part: list[Activity], relevant: _Relevance, feed: ChangeFeed,
                 checkpoint: Checkpoint) -> list[Record]:
        """The records (and tombstones) one batch of activities turns into."""
        wanted = [a for a in part if a.type != "Delete" and relevant.fetch(a)]
        fetched = dict(zip([a.object_id for a in wanted],
                           fetch_many([a.object_id for a in wanted], feed.fetch, self.concurrency)))
        out: list[Record] = []
        dropped: list[str] = []
        skipped: list[tuple[str, str]] = []
        for act in part:
            if act.type == "Delete" or isinstance(fetched.get(act.object_id), GoneError):
                if self.store.has_graph(act.record_iri):
                    out.append(Record(iri=act.record_iri, deleted=True, last_modified=act.published, source="emm"))
                    dropped.append(act.record_iri)
                continue
            if act.object_id not in fetched:
                continue
            result = fetched[act.object_id]
            if isinstance(result, Record):
                if relevant.keep(result):
                    out.append(result)
                elif self.store.has_graph(result.iri):  # e.g. a holding moved to another library
                    out.append(Record(iri=result.iri, deleted=True, last_modified=act.published, source="emm"))
                    dropped.append(result.iri)
            else:
                reason = f"not found: {act.object_id}" if isinstance(result, NotFoundError) else \
                    str(result).splitlines()[0]
                skipped.append((act.record_iri, reason))
        out += relevant.instances_for(out, self.concurrency, skipped)
        out += relevant.orphans(dropped, out)
        self.skip(checkpoint, skipped)
        return out


class _Relevance:
    """Which changes concern a selection, and what else they need (instances) or leave behind (orphans)."""

    def __init__(self, selection: str, store: Store, types: list[str], fetch: Callable[[str], Record]):
        self.selection = selection
        self.store = store
        self.fetch_record = fetch
        kind, _, value = selection.partition(":")
        self.library = library_iri(value) if kind == "itemAndInstance" else None
        self.type = value if kind == "type" else None
        self.types = set(types) | ({value} if self.type else set())

    def fetch(self, act: Activity) -> bool:
        """Whether a Create/Update must be fetched (before knowing its content)."""
        if self.selection == "all" or self.store.has_graph(act.record_iri):
            return True
        kind = act.object_type.split(":", 1)[-1]
        if self.library is not None:  # a holding of the library (the feed names the library of holdings)
            return kind == "Item" and act.held_by in (None, self.library)
        return kind in self.types

    def keep(self, record: Record) -> bool:
        """Whether a fetched record belongs to the selection."""
        entity = _entity(record)
        if self.type is not None:
            return entity.get("@type") in self.types or bool(self.store.has_graph(record.iri))
        if self.library is None:
            return True
        if entity.get("@type") == "Item":
            return bool((entity.get("heldBy") or {}).get("@id") == self.library)
        return bool(self.store.has_graph(record.iri))  # an instance this copy holds

    def instances_for(self, records: list[Record], concurrency: int, skipped: list[tuple[str, str]]) -> list[Record]:
        """The instance records that new holdings point to and that the store lacks."""
        if self.library is None:
            return []
        have = {r.iri for r in records if not r.deleted}
        need: list[str] = []
        for record in records:
            entity = _entity(record)
            target = (entity.get("itemOf") or {}).get("@id") if entity.get("@type") == "Item" else None
            if target and target.split("#", 1)[0] not in have and not self.store.has_graph(target.split("#", 1)[0]) \
                    and target not in need:
                need.append(target)
        out = []
        for target, result in zip(need, fetch_many(need, self.fetch_record, concurrency)):
            if isinstance(result, Record):
                out.append(result)
            else:
                skipped.append((target, f"instance of a new holding: {str(result).splitlines()[0]}"))
        return out

    def orphans(self, dropped: list[str], records: list[Record]) -> list[Record]:
        """Tombstones for instances that no holding in the store points to once ``dropped`` are gone."""
        if self.library is None or not dropped:
            return []
        candidates: set[str] = set()
        for graph in dropped:
            for row in self.store.query(f"SELECT ?i WHERE {{ GRAPH <{graph}> {{ ?h <{KBV}itemOf> ?i }} }}", union=False):
                candidates.add(row[0].value)
        kept = {(_entity(r).get("itemOf") or {}).get("@id") for r in records if not r.deleted}
        gone = set(dropped)
        out = []
        for instance in sorted(candidates - kept):
            holders = {row[0].value for row in self.store.query(
                f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?h <{KBV}itemOf> <{instance}> }} }}", union=False)}
            if not holders - gone:
                graph = instance.split("#", 1)[0]
                if self.store.has_graph(graph):
                    out.append(Record(iri=graph, deleted=True, source="emm"))
        return out


def _entity(record: Record) -> dict[str, Any]:
    graph = record.data.get("@graph", []) if isinstance(record.data, dict) else []
    nodes = [n for n in graph if isinstance(n, dict)]
    main = next((n["mainEntity"].get("@id") for n in nodes if isinstance(n.get("mainEntity"), dict)), None)
    return next((n for n in nodes if n.get("@id") == main), nodes[1] if len(nodes) > 1 else {})


def _offset_of(url: str) -> int:
    import re

    found = re.search(r"[?&]offset=(\d+)", url)
    return int(found.group(1)) if found else 0


# ---------------------------------------------------------------- OAI-PMH fallback


#: The OAI-PMH format of the fallback's first run of a library: bib records with every holding attached.
INCLUDEHOLD = "jsonld_includehold"


def _oai_sets(selection: str, increment: bool, types: Iterable[str] = ()) -> list[tuple[str | None, str]]:
    """The OAI-PMH ``(set, metadataPrefix)`` harvests that make up a selection.

    A library's first run reads ``bib:<sigel>`` with ``_includehold``: each bib record comes with its
    holdings attached (``<holding sigel id>``, §4.3), so one harvest gives both. Increments read every
    changed holding (``hold``; a holding moved to another library leaves ``hold:<sigel>`` without a
    trace there, and a changed holding does not change its bib record) and ``bib:<sigel>``.
    """
    kind, _, value = selection.partition(":")
    if kind == "itemAndInstance":
        return [("hold", "jsonld"), (f"bib:{value}", "jsonld")] if increment else [(f"bib:{value}", INCLUDEHOLD)]
    if selection == "all":
        return [(None, "jsonld")]
    # a class selection: holdings are Items; bib and auth records hold the other classes
    kinds = set(types) | {value}
    out: list[tuple[str | None, str]] = [("bib", "jsonld"), ("auth", "jsonld")] if kinds - {"Item"} else []
    return out + ([("hold", "jsonld")] if "Item" in kinds else [])


RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def subclasses(name: str, vocab: dict[str, Any]) -> list[str]:
    """``name`` and every KBV class below it (``rdfs:subClassOf``, transitively) in an expanded vocabulary.

    >>> vocab = {"@graph": [{"@id": KBV + "Print", RDFS_SUBCLASS: [{"@id": KBV + "Instance"}]},
    ...                     {"@id": KBV + "Braille", RDFS_SUBCLASS: [{"@id": KBV + "Print"}]}]}
    >>> subclasses("Instance", vocab)
    ['Instance', 'Braille', 'Print']
    """
    below: dict[str, set[str]] = {}
    for node in vocab.get("@graph", []):
        child = node.get("@id", "") if isinstance(node, dict) else ""
        for parent in node.get(RDFS_SUBCLASS, []) if child.startswith(KBV) else []:
            if isinstance(parent, dict) and str(parent.get("@id", "")).startswith(KBV):
                below.setdefault(parent["@id"][len(KBV):], set()).add(child[len(KBV):])
    found, todo = {name}, [name]
    while todo:
        for child in below.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return [name] + sorted(found - {name})


def _oai_types(run: _Run, checkpoint: Checkpoint) -> None:
    """A ``type:<Class>`` fallback keeps the class and its subclasses, as the dump would: they come
    from the vocabulary (id.kb.se ``/vocab/``, read once), which must name the class; without it
    only the class itself."""
    from .profiles import load_vocab

    state = checkpoint.state
    name = checkpoint.params["selection"].partition(":")[2]
    if state.get("subclasses_of") == name:
        return
    try:
        vocab = load_vocab(None, session=run.session)
    except LinkedDataError as exc:
        found = [name]
        run.summary.warnings.append(f"no vocabulary ({str(exc).splitlines()[0]}): type:{name} keeps {name} "
                                    "records only, not those of its subclasses")
    else:
        if not any(isinstance(n, dict) and n.get("@id") == KBV + name for n in vocab.get("@graph", [])):
            raise InvalidInputError(f"type:{name}: {name} is not a class of the KBV vocabulary "
                                    f"({service_url('id', None)}/vocab/); check the class name")
        found = subclasses(name, vocab)
    state["types"] = sorted(set(state.get("types", [])) | set(found))
    state["subclasses_of"] = name


def _oai_records(item: Any, prefix: str, sigel: str | None, skipped: list[tuple[str, str]]) -> list[Record]:
    """The record of an OAI item and, under ``_includehold``, the attached holdings of ``sigel`` (their
    bodies, each its own graph); what cannot be used goes to ``skipped``."""
    try:
        records = [item.to_record(prefix)]
    except LinkedDataError as exc:
        skipped.append((item.header.identifier, str(exc).splitlines()[0]))
        return []
    if "_includehold" in prefix and not item.header.deleted:
        item.attached = [a for a in item.attached if a.kind == "holding" and a.sigel == sigel]
        good, bad = item.attached_records(prefix)
        records += good
        skipped += [(ident, reason.splitlines()[0]) for ident, reason in bad]
    return records


def _sync_oai(run: _Run, checkpoint: Checkpoint) -> None:
    """OAI-PMH ``ListRecords`` instead of a dump; ``from=<previous until>`` once a run has completed.

    Resumable at the saved resumption token; records are filtered to the selection as the
    change feed's are (holdings of the library, instances they point to, orphans dropped).
    """
    from .libris.oaipmh import OAIClient, decode_token
    from .libris.read import fetch_record

    state = checkpoint.state
    selection = checkpoint.params["selection"]
    client = OAIClient(run.urls["oaipmh"], run.session)
    since = state.get("oai_from")
    increment = since is not None
    if selection.startswith("type:"):
        _oai_types(run, checkpoint)
    harvests = _oai_sets(selection, increment, state.get("types", []))
    sigel = selection.partition(":")[2] if selection.startswith("itemAndInstance:") else None

    def fetch(iri: str) -> Record:
        return fetch_record(iri, embellished=False, session=run.session, base_url=run.urls["libris"])

    relevant = _Relevance(selection, run.store, state.get("types", []), fetch)
    step = int(state.get("oai_step", 0))
    while step < len(harvests):
        spec, prefix = harvests[step]
        token = state.get("oai_token")
        batch: list[Record] = []
        skipped: list[tuple[str, str]] = []
        for page in client.iter_pages("ListRecords", prefix, spec, since, None, token):
            if page.token is None:  # the first page: its frozen `until` is the next run's `from`
                until = decode_token(page.next_token).get("u") if page.next_token else None
                state["oai_until_next"] = until or page.response_date
            for item in page.items:
                batch += _oai_records(item, prefix, sigel, skipped)
            run.skip(checkpoint, skipped)
            if len(batch) >= run.batch_size or not page.next_token:
                run.commit(checkpoint, _filter(batch, relevant, run, checkpoint), {"oai_token": page.next_token})
                batch = []
        run.commit(checkpoint, _filter(batch, relevant, run, checkpoint), {"oai_token": None,
                                                                                     "oai_step": step + 1})
        step += 1
    run.commit(checkpoint, [], {"phase": "follow", "via": "oai", "oai_step": 0, "oai_token": None,
                                "oai_from": state.get("oai_until_next") or since})


def _fallback(run: _Run, checkpoint: Checkpoint) -> None:
    """:func:`_sync_oai` in place of a dump; when OAI-PMH fails too, the error also says why EMM was not used."""
    selection = checkpoint.params["selection"]
    why = [w for w in run.summary.warnings if w.startswith("no EMM dumps") or selection in w]
    try:
        _sync_oai(run, checkpoint)
    except HTTPError as exc:
        if not why:
            raise
        because = why[-1].removesuffix("; using OAI-PMH")
        raise type(exc)(f"{str(exc).splitlines()[0]}; OAI-PMH was the fall-back: {because}", url=exc.url,
                        status=exc.status) from exc


def _filter(batch: list[Record], relevant: _Relevance, run: _Run, checkpoint: Checkpoint) -> list[Record]:
    """The part of an OAI-PMH batch that concerns the selection, plus what it needs or leaves behind."""
    out: list[Record] = []
    dropped: list[str] = []
    for record in batch:
        if record.deleted:
            if run.store.has_graph(record.iri):
                out.append(record)
                dropped.append(record.iri)
        elif relevant.keep(record) or (relevant.library is not None and _entity(record).get("@type") != "Item"):
            out.append(record)
        elif run.store.has_graph(record.iri):
            out.append(Record(iri=record.iri, deleted=True, source="oaipmh"))
            dropped.append(record.iri)
    skipped: list[tuple[str, str]] = []
    out += relevant.instances_for(out, run.concurrency, skipped)
    out += relevant.orphans(dropped, out)
    run.skip(checkpoint, skipped)
    return out


# ---------------------------------------------------------------- organisations


def _load_organisations(run: _Run, selections: list[str]) -> None:
    from .build import _organisation_records

    sigels = {s.split(":", 1)[1] for s in selections if s.startswith("itemAndInstance:")}
    for row in run.store.query("SELECT DISTINCT ?lib WHERE { ?item <https://id.kb.se/vocab/heldBy> ?lib }"):
        iri = row[0].value
        if iri.startswith(LIBRARY_BASE):
            sigels.add(unquote(iri[len(LIBRARY_BASE):]))

    todo = sorted(s for s in sigels if not run.store.has_graph(library_iri(s)))
    if not todo:
        return
    missing: list[str] = []
    stats = run.store.load_records(_organisation_records({"organisations": {}}, todo, run.session, missing))
    run.summary.organisations += stats.records
    run.summary.missing_organisations = missing


# ---------------------------------------------------------------- entry point


def _warn_empty(summary: SyncSummary, first_runs: dict[str, Checkpoint], no_dump: set[str]) -> list[str]:
    """A warning for each first sync that loaded no record of a ``type:`` selection (a misspelt
    class?) or of a library with no dump listed (a misspelt sigel?); the sigels of the latter."""
    sigels = []
    for selection, checkpoint in first_runs.items():
        kind, _, name = selection.partition(":")
        if checkpoint.records:
            continue
        if kind == "type":
            summary.warnings.append(f"no records of class {name} were found ({selection}); check the class name "
                                    "(a KBV class, e.g. Instance, Person, Item)")
        elif kind == "itemAndInstance" and selection in no_dump:
            sigels.append(name)
            summary.warnings.append(f"no dump of library {name!r} is listed and no holdings were found; "
                                    f"check the sigel{_isil_hint(name)}")
    return sigels


def _isil_hint(sigel: str) -> str:
    """For an ``SE-xxx`` value: the hint that a library is named by its sigel, not its ISIL."""
    if sigel[:3].upper() == "SE-" and len(sigel) > 3:
        return f" (--library takes a sigel, not an ISIL: {sigel[3:]} for {sigel})"
    return ""


def _check_libraries(summary: SyncSummary, sigels: list[str], first_runs: dict[str, Checkpoint]) -> None:
    """An error when the organisation lookup found no library of a sigel that also gave no dump and no
    holdings (its checkpoint is dropped, so the next run checks again)."""
    unknown = [s for s in sigels if s in summary.missing_organisations]
    for sigel in unknown:
        first_runs[f"itemAndInstance:{sigel}"].discard()
    if unknown:
        raise InvalidInputError("; ".join(f"library {s!r} does not exist: no dump is listed, no holdings were found "
                                          f"and the library database has no such sigel{_isil_hint(s)}"
                                          for s in unknown))


def sync(store: StoreLike, selections: Iterable[str], *, download: bool = True, organisations: bool = True,
         batch_size: int = DEFAULT_BATCH, concurrency: int = 4, resume: bool = True, strict: bool = False,
         session: requests.Session | None = None, emm_url: str | None = None, libris_url: str | None = None,
         oaipmh_url: str | None = None, progress: Progress = None, poll_interval: float = 2.0,
         max_wait: float = 900.0) -> SyncSummary:
    """Bring ``store`` (a LocalStore or a path) up to date with each selection; see the module doc.

    :param selections: ``itemAndInstance:<sigel>``, ``type:<Class>`` or ``all`` (see :func:`selections_for`).
    :param download: load a first dump by its gzipped download (fewest requests), else page by page.
    :param resume: continue an interrupted run; ``False`` forgets the saved state and loads the dump again.
    :param poll_interval: seconds between polls of a dump that is still ``generating`` (at most ``max_wait``).
    """
    from .http import make_session
    from .stores import open_store

    started = time.monotonic()
    chosen = [check_selection(s) for s in selections]
    if not chosen:
        raise InvalidInputError("nothing to sync: name at least one selection")
    at_least_one(batch_size=batch_size, concurrency=concurrency)
    urls = {"emm": emm_url, "libris": libris_url, "oaipmh": oaipmh_url}
    # every base is resolved (and a bad one reported) before the store is made
    counter = RequestCounter({name: service_url(name, urls.get(name)) for name in
                              ("emm", "libris", "oaipmh", "bibdb", "isil", "id")})
    st = open_store(store)
    session = session or make_session(purpose="harvest")
    session.hooks.setdefault("response", []).append(counter)
    summary = SyncSummary(chosen)
    first_runs: dict[str, Checkpoint] = {}  # the selections that load their dump (or first harvest) in this run
    run = _Run(st, summary, session, urls, batch_size, concurrency, progress, download, poll_interval, max_wait,
               strict)
    try:
        for selection in chosen:
            checkpoint = open_checkpoint(st.path, "sync", {"selection": selection},
                                         restart=not resume)
            state = checkpoint.state
            summary.resumed |= state.get("phase") == "dump"
            if state.get("phase") in (None, "dump"):
                first_runs[selection] = checkpoint
                if state.get("phase") == "dump" or run.has_dump(selection):
                    summary.modes[selection] = "dump " + ("download" if download else "pages")
                    try:
                        run.load_dump(checkpoint)
                    except (HTTPError, ServiceUnavailableError) as exc:
                        if state.get("phase") is not None:  # the dump had begun: resume it next time
                            raise
                        summary.warnings.append(f"no dump of {selection} ({str(exc).splitlines()[0]}); using OAI-PMH")
                        state.update({"phase": None, "start_time": None})
                        summary.modes[selection] = "OAI-PMH"
                        _fallback(run, checkpoint)
                        continue
                else:
                    summary.modes[selection] = "OAI-PMH"
                    _fallback(run, checkpoint)
                    continue
            if state.get("via") == "oai":
                summary.modes.setdefault(selection, "OAI-PMH increment")
                _sync_oai(run, checkpoint)
            else:
                summary.modes.setdefault(selection, "change feed")
                run.follow(checkpoint)
        empty = _warn_empty(summary, first_runs, run.no_dump)
        if organisations:
            _load_organisations(run, chosen)
        st.flush()
        _check_libraries(summary, empty, first_runs)
    finally:
        session.hooks["response"].remove(counter)
        run.cleanup()
        summary.requests = dict(counter.counts)
        summary.seconds = time.monotonic() - started
    log.info("%s", summary)
    return summary


__all__ = ["RequestCounter", "SyncSummary", "selections_for", "sync"]
