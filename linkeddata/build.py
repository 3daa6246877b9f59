"""The batch job: a TOML config → records, holdings and organisations in one store.

``run_build(config, store)`` loads the bibliographic records named by the config (/find
searches and ids), the holdings of those records, the organisations of all holding
libraries (library database) and the ISIL agency records asked for, each source record in
its own named graph, and returns a :class:`BuildResult` with counts, the requests made and
the ``holdings-by-library`` table. Re-running is idempotent: every graph is replaced.

It uses the bulk paths: a build of N search hits makes about 0.55 requests per 100 hits,
plus one per holding library for its organisation:

- ``/find`` hits are framed main entities with their record under ``meta``: they are loaded
  as they come, ``page_size`` (default 2000) per request. Only ``embellished`` or a
  ``profile`` make it fetch each record again (in parallel, within the rate limit).
- Holdings come from one ``/find`` per 200 instances (``itemOf.@id`` values are ORed), or,
  for the libraries in ``holdings_libraries``, from each library's dump (or its OAI-PMH
  set ``hold:<sigel>``) filtered to the build's instances.
- ``[[harvest]]`` and ``[[sync]]`` entries run in the same store (see
  :mod:`linkeddata.harvest` and :mod:`linkeddata.sync`).

A build keeps a checkpoint like the harvests do: killed or interrupted, the same command
continues from the last committed batch. While a build is unfinished the store carries a
marker (:func:`unfinished_build`) so that ``query`` can warn that results are partial.

The bundled config is ``linkeddata/default-build.toml``. :func:`linkeddata.demo.run_demo` runs it
against the loopback emulator.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TYPE_CHECKING
from urllib.parse import unquote

from .buildconfig import BuildConfig, HarvestEntry, parse_config, read_config
from .checkpoints import Checkpoint, open_checkpoint
from .errors import ConfigError
from .records import Record, batched
from .store import LoadStats
from .store_protocol import Store
from .stores import StoreLike, open_store
from .tables import format_table

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).with_name("default-build.toml")
#: Instances whose holdings one ``/find`` asks for (their ``itemOf.@id`` values are ORed).
HOLDINGS_PER_QUERY = 200
BATCH = 500
MARKER = Path(".linkeddata") / "build-unfinished.json"
BUILD_DIR = Path(".linkeddata") / "build"


def load_config(path: str | Path | None = None) -> BuildConfig:
    """Read a build config (default: the bundled one); every key and type is checked."""
    return read_config(path or DEFAULT_CONFIG)


def unfinished_build(store_dir: str | Path | None) -> str | None:
    """When a build into this store started and has not finished (``None``: no such build)."""
    if store_dir is None:
        return None
    path = Path(store_dir) / MARKER
    try:
        return str(json.loads(path.read_text("utf-8")).get("started", "?"))
    except (OSError, ValueError, AttributeError):
        return None


def _run_harvest(store: Store, entry: HarvestEntry, session: requests.Session, progress: Callable[[int], None] | None) -> Any:
    """One ``[[harvest]]`` entry, resumable like ``linkeddata harvest`` (same checkpoints)."""
    from . import harvest

    if entry.kind == "oai":
        return harvest.harvest_oai(store, set=entry.set, from_=entry.from_, until=entry.until,
                                   metadata_prefix=entry.prefix, session=session, progress=progress)
    if entry.kind == "find":
        return harvest.harvest_find(store, {"q": entry.q, **entry.filters}, max_items=entry.max, full=entry.full,
                                    embellished=entry.embellished, profile=entry.profile, session=session,
                                    progress=progress)
    return harvest.harvest_changes(store, since=entry.since, session=session, progress=progress)


@dataclass
class BuildResult:
    """What a build did."""

    store: Path | str | None
    records: int = 0
    holdings: int = 0
    harvested: int = 0
    synced: int = 0
    organisations: int = 0
    triples: int = 0
    seconds: float = 0.0
    resumed: bool = False
    requests: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    missing_organisations: list[str] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def report(self) -> str:
        """A readable summary with the request counts and the holdings-by-library table."""
        extra = (f"{self.harvested} harvested records, " if self.harvested else "") + \
            (f"{self.synced} synced records, " if self.synced else "")
        lines = [
            f"Built {self.store or 'a temporary store'} in {self.seconds:.1f} s: {self.records} bibliographic records, "
            f"{self.holdings} holdings, {extra}{self.organisations} organisations, {self.triples} triples"
            + (" (resumed)." if self.resumed else "."),
        ]
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.requests.items())) or "none"
        loaded = self.records + self.holdings
        per = f"; {self.total_requests * 100 / loaded:.1f} per 100 records" if loaded else ""
        lines.append(f"{self.total_requests} requests ({counts}){per}.")
        if self.skipped:
            lines.append(f"{len(self.skipped)} records skipped: " + "; ".join(f"{i} ({r})" for i, r in self.skipped[:5]))
        if self.missing_organisations:
            lines.append("Holding libraries with no organisation record: " + ", ".join(self.missing_organisations))
        lines += ["", "Holdings by library:", format_table(self.table) if self.table else "(no holdings)"]
        return "\n".join(lines)


def _main_entity(record: Record) -> str:
    nodes = record.data.get("@graph", [record.data]) if isinstance(record.data, dict) else []
    main = next((n["mainEntity"] for n in nodes if isinstance(n, dict) and isinstance(n.get("mainEntity"), dict)),
                {"@id": record.iri + "#it"})
    return str(main.get("@id") or record.iri + "#it")


def _select(store: Store, sparql: str) -> list[str]:
    return [s[0].value for s in store.query(sparql)]


def _organisation_records(config: Any, sigels: list[str], session: requests.Session, missing: list[str]) -> Iterator[Record]:
    """Organisation records: the holding libraries, the ISIL queries and the single ISILs of ``config``
    (a :class:`BuildConfig`, or a dict with an ``organisations`` table)."""
    from .errors import NotFoundError
    from .organisations.bibdb import get_library
    from .organisations.isil import get_organisation, search_organisations
    from .organisations.model import organisation_records

    orgs = config.organisations if isinstance(config, BuildConfig) else parse_config(config).organisations
    found = []
    if orgs.libraries:
        for sigel in sigels:
            try:
                found.append(get_library(sigel, session=session))
            except NotFoundError:
                missing.append(sigel)
    for query in orgs.isil_queries:
        found.extend(search_organisations(query, session=session))
    for isil in orgs.isils:
        found.append(get_organisation(isil, session=session))
    yield from organisation_records(found)


class _Build:
    """The phases of one build, each resumable from the checkpoint."""

    def __init__(self, cfg: BuildConfig, store: Store, session: requests.Session, progress: Callable[[int], None] | None,
                 checkpoint: Checkpoint, result: BuildResult):
        self.cfg = cfg
        self.store = store
        self.session = session
        self.progress = progress
        self.checkpoint = checkpoint
        self.result = result
        self.state = checkpoint.state
        self.stats = LoadStats()
        root = Path(store.path) if store.path else Path(tempfile.mkdtemp(prefix="linkeddata-build-"))
        self.instances_file = root / BUILD_DIR / f"{checkpoint.key}.instances"

    def done(self, phase: str) -> bool:
        return phase in self.state.setdefault("done", [])

    def finish(self, phase: str) -> None:
        self.state["done"].append(phase)
        self.checkpoint.save()

    def commit(self, records: list[Record], state: dict[str, Any], counts: str) -> None:
        """Note the batch's instances, load it in one transaction, save the checkpoint."""
        from .checkpoints import check_interrupt

        if counts == "records" and records:
            self.instances_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.instances_file, "a", encoding="utf-8") as handle:
                handle.write("".join(_main_entity(r) + "\n" for r in records))
                handle.flush()
                os.fsync(handle.fileno())
        if records:
            stats = self.store.load_records(records, batch_size=len(records) + 1)
            self.stats.add(stats)
            self.state[counts] = self.state.get(counts, 0) + stats.records
            self.checkpoint.records += stats.records
            self.checkpoint.batches += 1
            if self.progress is not None:
                self.progress(len(records))
        self.state.update(state)
        self.checkpoint.save()
        check_interrupt(self.checkpoint.records)

    def instances(self) -> list[str]:
        try:
            lines = self.instances_file.read_text("utf-8").splitlines()
        except OSError:
            return []
        return list(dict.fromkeys(line for line in lines if line))

    # -- bibliographic records

    def find(self, n: int) -> None:
        from .libris.find import iter_find

        libris = self.cfg.libris
        spec = libris.find[n]
        offset = int(self.state.get(f"find{n}", 0))
        remaining = None if spec.max is None else max(0, spec.max - offset)
        if remaining == 0:
            return
        refetch = libris.embellished or bool(libris.profile)
        results = iter_find(spec.params(), page_size=min(libris.page_size, remaining or libris.page_size),
                            max_items=remaining, offset=offset, session=self.session, full=refetch,
                            embellished=libris.embellished, profile=libris.profile or None,
                            concurrency=libris.concurrency)
        for batch in batched(results, BATCH):
            self.commit(batch, {f"find{n}": results.offset}, "records")
        self.result.skipped.extend(results.skipped)
        self.commit([], {f"find{n}": results.offset}, "records")

    def ids(self) -> None:
        from .libris.find import fetch_many
        from .libris.read import fetch_record

        libris = self.cfg.libris
        start = int(self.state.get("ids", 0))

        def fetch(ident: str) -> Record:
            return fetch_record(ident, embellished=libris.embellished, profile=libris.profile or None,
                                session=self.session)

        for first in range(start, len(libris.ids), BATCH):
            part = libris.ids[first:first + BATCH]
            records = []
            for ident, got in zip(part, fetch_many(part, fetch, libris.concurrency)):
                if isinstance(got, Record):
                    records.append(got)
                else:
                    self.result.skipped.append((ident, str(got).splitlines()[0]))
            self.commit(records, {"ids": first + len(part)}, "records")

    # -- holdings

    def holdings(self) -> None:
        libris = self.cfg.libris
        instances = self.instances()
        wanted = set(instances)
        for sigel in libris.holdings_libraries:
            if not self.done(f"library:{sigel}"):
                self.library_holdings(sigel, wanted)
                self.finish(f"library:{sigel}")
        start = int(self.state.get("holdings_at", 0))
        shown = [("not-heldBy.@id", f"https://libris.kb.se/library/{s}") for s in libris.holdings_libraries]
        for first in range(start, len(instances), HOLDINGS_PER_QUERY):
            part = instances[first:first + HOLDINGS_PER_QUERY]
            self.commit(self._holdings_of(part, shown), {"holdings_at": first + len(part)}, "holdings")

    def _holdings_of(self, part: list[str], shown: list[tuple[str, str]]) -> list[Record]:
        """The holdings of some instances from ``/find``; halves the list if the search window cuts it."""
        from .libris.find import iter_find

        libris = self.cfg.libris
        params = [("q", "*"), ("@type", "Item")] + [("itemOf.@id", i) for i in part] + shown
        results = iter_find(params, page_size=4000, session=self.session, full=libris.holdings_full,
                            concurrency=libris.concurrency)
        records = list(results)
        if results.truncated and len(part) > 1:
            half = len(part) // 2
            return self._holdings_of(part[:half], shown) + self._holdings_of(part[half:], shown)
        self.result.skipped.extend(results.skipped)
        return records

    def library_holdings(self, sigel: str, wanted: set[str]) -> None:
        """A library's holdings of the build's instances, from its dump (or OAI-PMH ``hold:<sigel>``)."""
        from .errors import HTTPError, ServiceUnavailableError
        from .libris.dumps import DumpClient, DumpReader, iter_download, library_selection

        selection = library_selection(sigel)
        client = DumpClient(selection, session=self.session)
        reader = DumpReader(selection)
        path = self.instances_file.with_name(f"{self.checkpoint.key}-{sigel}.ndjsonld.gz")

        def keep(records: Iterable[Record]) -> Iterator[Record]:
            for record in records:
                graph = record.data.get("@graph", []) if isinstance(record.data, dict) else []
                entity = graph[1] if len(graph) > 1 else {}
                if entity.get("@type") == "Item" and (entity.get("itemOf") or {}).get("@id") in wanted:
                    yield record

        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            client.wait_until_done()
            client.download(path)
            items: Iterator[Any] = (item for _, item in iter_download(path))
        except (HTTPError, ServiceUnavailableError) as exc:
            log.warning("no dump of %s (%s); reading OAI-PMH hold:%s", selection, str(exc).splitlines()[0], sigel)
            items = iter(())
            path.unlink(missing_ok=True)
            self._oai_holdings(sigel, keep)
        for batch in batched((r for item in items for r in keep(reader.records(item))), BATCH):
            self.commit(batch, {}, "holdings")
        path.unlink(missing_ok=True)
        self.result.skipped.extend(reader.skipped)

    def _oai_holdings(self, sigel: str, keep: Callable[[Iterable[Record]], Iterator[Record]]) -> None:
        from .errors import LinkedDataError
        from .libris.oaipmh import OAIClient

        client = OAIClient(None, self.session)
        records = []
        for page in client.iter_pages("ListRecords", "jsonld", f"hold:{sigel}"):
            for item in page.items:
                if item.header.deleted:
                    continue
                try:
                    records.append(item.to_record("jsonld"))
                except LinkedDataError as exc:
                    self.result.skipped.append((item.header.identifier, str(exc).splitlines()[0]))
            for batch in batched(keep(records), BATCH):
                self.commit(batch, {}, "holdings")
            records = []

    # -- organisations

    def organisations(self) -> None:
        sigels = sorted({unquote(iri.rsplit("/", 1)[-1]) for iri in _select(
            self.store, "SELECT DISTINCT ?lib WHERE { ?item kbv:heldBy ?lib }") if "/library/" in iri})
        missing: list[str] = []
        orgs = self.store.load_records(_organisation_records(self.cfg, sigels, self.session, missing),
                                       progress=self.progress)
        self.stats.add(orgs)
        self.state["organisations"] = orgs.records
        self.state["missing"] = missing


def _marker(store: Store, started: str | None) -> None:
    if not store.path:
        return
    path = Path(store.path) / MARKER
    if started is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"started": started}), "utf-8")


def run_build(
    config: BuildConfig | dict[str, Any] | None,
    store: StoreLike,
    *,
    session: requests.Session | None = None,
    progress: Callable[[int], None] | None = None,
    resume: bool = True,
) -> BuildResult:
    """Run the build described by ``config`` into ``store`` (a path, a store, or ``None`` for memory).

    Continues an interrupted build of the same config into the same store (``resume=False``
    starts over); a build that completed runs again from the start.
    """
    from .http import make_session
    from .query import results_to_records, run_query
    from .sync import RequestCounter, sync
    from .config import service_url

    if config is None:
        cfg = load_config()
    elif isinstance(config, BuildConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = parse_config(config)
    else:
        raise ConfigError(f"a build config is a BuildConfig or a dict, got {type(config).__name__}")
    session = session or make_session()
    started = time.perf_counter()
    st = open_store(store)
    result = BuildResult(st.path or getattr(st, "url", None))
    key = dataclasses.asdict(dataclasses.replace(cfg, source=None))
    checkpoint = open_checkpoint(st.path, "build", key, restart=not resume)
    if checkpoint.completed:
        checkpoint.state, checkpoint.completed, checkpoint.records, checkpoint.batches = {}, False, 0, 0
    result.resumed = bool(checkpoint.state.get("done") or checkpoint.batches)
    counter = RequestCounter({name: service_url(name) for name in ("libris", "emm", "oaipmh", "bibdb", "isil", "id")})
    session.hooks.setdefault("response", []).append(counter)
    build = _Build(cfg, st, session, progress, checkpoint, result)
    if not result.resumed:
        build.instances_file.unlink(missing_ok=True)
    _marker(st, checkpoint.started)
    try:
        for n in range(len(cfg.libris.find)):
            if not build.done(f"find{n}"):
                build.find(n)
                build.finish(f"find{n}")
        if not build.done("ids"):
            build.ids()
            build.finish("ids")
        if cfg.libris.holdings and not build.done("holdings"):
            build.holdings()
            build.finish("holdings")
        for n, entry in enumerate(cfg.harvest):
            summary = _run_harvest(st, entry, session, progress)
            result.harvested += summary.records
            result.skipped.extend(summary.skipped)
        for kept in cfg.sync:
            synced = sync(st, kept.selections(), download=kept.download, session=session, progress=progress,
                          organisations=False)
            result.synced += synced.records
            result.skipped.extend(synced.skipped)
            for warning in synced.warnings:
                log.warning("[[sync]]: %s", warning)
        build.organisations()
    finally:
        session.hooks["response"].remove(counter)
        result.requests = dict(counter.counts)
    result.records = int(checkpoint.state.get("records", 0))
    result.holdings = int(checkpoint.state.get("holdings", 0))
    result.organisations = int(checkpoint.state.get("organisations", 0))
    result.missing_organisations = list(checkpoint.state.get("missing", []))
    result.skipped = build.stats.skipped + result.skipped
    result.triples = st.count_triples()
    result.table = results_to_records(run_query(st, "holdings-by-library"))
    st.flush()
    checkpoint.completed = True
    checkpoint.save()
    build.instances_file.unlink(missing_ok=True)
    _marker(st, None)
    result.seconds = time.perf_counter() - started
    return result
