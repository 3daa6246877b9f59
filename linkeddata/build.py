"""The batch job: a TOML config → records, holdings and organisations in one store.

``run_build(config, store)`` fetches the bibliographic records named by the config
(/find searches and ids), the holdings of every instance, the organisations of all
holding libraries (library database) and the ISIL agency records asked for, loads
each source record into its own named graph, and returns a :class:`BuildResult`
with counts and the ``holdings-by-library`` table. Re-running is idempotent: every
graph is replaced, nothing is duplicated.

The bundled config is ``linkeddata/default-build.toml``. :func:`run_demo` runs it
against the loopback emulator.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .errors import ConfigError
from .records import Record
from .store import LoadStats, LocalStore, open_store
from .tables import format_table

log = logging.getLogger(__name__)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

DEFAULT_CONFIG = Path(__file__).with_name("default-build.toml")

_KNOWN = {
    "libris": {"ids", "find", "holdings", "holdings_full", "embellished", "concurrency", "profile"},
    "organisations": {"libraries", "isil_queries", "isils"},
}
#: ``[[harvest]]`` entries: the keys each kind takes (see :mod:`linkeddata.harvest`).
_HARVEST_KEYS = {
    "oai": {"kind", "set", "from", "until", "prefix"},
    "find": {"kind", "q", "filters", "max", "full", "embellished", "profile"},
    "changes": {"kind", "since"},
}


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read a build config (default: the bundled one) and check its keys."""
    source = Path(path) if path else DEFAULT_CONFIG
    try:
        config = tomllib.loads(source.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    for section, values in config.items():
        if section == "harvest":
            _check_harvests(values, source)
            continue
        if section not in _KNOWN:
            raise ConfigError(f"{source}: unknown section [{section}] (known: {', '.join(_KNOWN)}, [[harvest]])")
        unknown = set(values) - _KNOWN[section]
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) in [{section}]: {', '.join(sorted(unknown))}")
    return config


def _check_harvests(entries: Any, source: Path) -> None:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{source}: harvests are [[harvest]] tables")
    for entry in entries:
        kind = entry.get("kind")
        if kind not in _HARVEST_KEYS:
            raise ConfigError(f"{source}: [[harvest]] kind must be one of {', '.join(_HARVEST_KEYS)}, got {kind!r}")
        unknown = set(entry) - _HARVEST_KEYS[kind]
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) in a {kind} [[harvest]]: {', '.join(sorted(unknown))}")


def _run_harvest(store: Any, entry: dict[str, Any], session: Any, progress: Callable[[int], None] | None) -> Any:
    """One ``[[harvest]]`` entry, resumable like ``linkeddata harvest`` (same checkpoints)."""
    from . import harvest

    kind = entry["kind"]
    if kind == "oai":
        return harvest.harvest_oai(store, set=entry.get("set"), from_=entry.get("from"), until=entry.get("until"),
                                   metadata_prefix=entry.get("prefix", "jsonld"), session=session, progress=progress)
    if kind == "find":
        params = {"q": entry.get("q", "*"), **{k: str(v) for k, v in entry.get("filters", {}).items()}}
        return harvest.harvest_find(store, params, max_items=entry.get("max"), full=bool(entry.get("full", False)),
                                    embellished=bool(entry.get("embellished", False)),
                                    profile=entry.get("profile") or None, session=session, progress=progress)
    return harvest.harvest_changes(store, since=entry.get("since"), session=session, progress=progress)


@dataclass
class BuildResult:
    """What a build did."""

    store: Path | str | None
    records: int = 0
    holdings: int = 0
    harvested: int = 0
    organisations: int = 0
    triples: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    missing_organisations: list[str] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> str:
        """A readable summary with the holdings-by-library table."""
        lines = [
            f"Built {self.store or 'a temporary store'} in {self.seconds:.1f} s: {self.records} bibliographic records, "
            f"{self.holdings} holdings, {self.organisations} organisations, {self.triples} triples.",
        ]
        if self.harvested:
            lines[0] = lines[0].replace(" holdings, ", f" holdings, {self.harvested} harvested records, ")
        if self.skipped:
            lines.append(f"{len(self.skipped)} records skipped: " + "; ".join(f"{i} ({r})" for i, r in self.skipped[:5]))
        if self.missing_organisations:
            lines.append("Holding libraries with no organisation record: " + ", ".join(self.missing_organisations))
        lines += ["", "Holdings by library:", format_table(self.table) if self.table else "(no holdings)"]
        return "\n".join(lines)


def _bib_records(config: dict[str, Any], session: Any) -> Iterator[Record]:
    from .libris.find import iter_find
    from .libris.read import fetch_record

    libris = config.get("libris", {})
    embellished = bool(libris.get("embellished", False))
    profile = libris.get("profile") or None
    for spec in libris.get("find", []):
        params = {"q": spec.get("q", "*"), **{k: str(v) for k, v in spec.get("filters", {}).items()}}
        yield from iter_find(params, max_items=spec.get("max"), session=session, full=True, embellished=embellished,
                             profile=profile, concurrency=int(libris.get("concurrency", 4)))
    for ident in libris.get("ids", []):
        yield fetch_record(ident, embellished=embellished, profile=profile, session=session)


def _main_entities(records: Iterable[Record], found: list[str]) -> Iterator[Record]:
    """Pass records through, noting each one's main entity (the record's ``mainEntity``)."""
    for record in records:
        nodes = record.data.get("@graph", [record.data]) if isinstance(record.data, dict) else []
        main = next((n["mainEntity"] for n in nodes if isinstance(n, dict) and isinstance(n.get("mainEntity"), dict)),
                    {"@id": record.iri + "#it"})
        found.append(main.get("@id") or record.iri + "#it")
        yield record


def _holdings_of(instances: Iterable[str], config: dict[str, Any], session: Any) -> Iterator[Record]:
    from .libris.find import iter_find

    libris = config.get("libris", {})
    full = bool(libris.get("holdings_full", False))
    for instance in instances:
        yield from iter_find({"q": "*", "@type": "Item", "itemOf.@id": instance}, session=session, full=full,
                             concurrency=int(libris.get("concurrency", 4)))


def _select(store: LocalStore, sparql: str) -> list[str]:
    return [s[0].value for s in store.query(sparql)]


def _organisation_records(config: dict[str, Any], sigels: list[str], session: Any,
                          missing: list[str]) -> Iterator[Record]:
    from .errors import NotFoundError
    from .organisations.bibdb import get_library
    from .organisations.isil import get_organisation, search_organisations
    from .organisations.model import organisation_records

    orgs = config.get("organisations", {})
    found = []
    if orgs.get("libraries", True):
        for sigel in sigels:
            try:
                found.append(get_library(sigel, session=session))
            except NotFoundError:
                missing.append(sigel)
    for query in orgs.get("isil_queries", []):
        found.extend(search_organisations(query, session=session))
    for isil in orgs.get("isils", []):
        found.append(get_organisation(isil, session=session))
    yield from organisation_records(found)


def run_build(
    config: dict[str, Any] | None,
    store: str | Path | LocalStore | None,
    *,
    session: Any = None,
    progress: Callable[[int], None] | None = None,
) -> BuildResult:
    """Run the build described by ``config`` into ``store`` (a path, a store, or ``None`` for memory)."""
    from .http import make_session
    from .query import results_to_records, run_query

    config = config if config is not None else load_config()
    session = session or make_session()
    started = time.perf_counter()
    st = store if isinstance(store, LocalStore) else open_store(store)
    result = BuildResult(st.path or getattr(st, "url", None))
    stats = LoadStats()

    instances: list[str] = []  # main entities of this build's records: whose holdings to fetch
    stats.add(st.load_records(_main_entities(_bib_records(config, session), instances), progress=progress))
    result.records = stats.records
    if config.get("libris", {}).get("holdings", True):
        held = st.load_records(_holdings_of(instances, config, session), progress=progress)
        stats.add(held)
        result.holdings = held.records
    for entry in config.get("harvest", []):
        summary = _run_harvest(st, entry, session, progress)
        result.harvested += summary.records
        result.skipped.extend(summary.skipped)
    sigels = sorted({unquote(iri.rsplit("/", 1)[-1]) for iri in _select(
        st, "SELECT DISTINCT ?lib WHERE { ?item kbv:heldBy ?lib }") if "/library/" in iri})
    missing: list[str] = []
    orgs = st.load_records(_organisation_records(config, sigels, session, missing), progress=progress)
    stats.add(orgs)
    result.organisations = orgs.records
    result.missing_organisations = missing
    result.skipped = stats.skipped + result.skipped
    result.triples = st.count_triples()
    result.table = results_to_records(run_query(st, "holdings-by-library"))
    st.flush()
    result.seconds = time.perf_counter() - started
    return result


def run_demo(store: str | Path | None = None, *, size: int = 0,
             progress: Callable[[int], None] | None = None) -> BuildResult:
    """Start the emulator, run the bundled build against it over HTTP, stop the emulator.

    With no ``store`` the store lives in a temporary folder that is removed afterwards.
    """
    from .emulator import Emulator
    from .http import make_session

    with Emulator(size=size) as emu, emu.environment():
        session = make_session(cache=False, rate_limit=None)
        if store is not None:
            return run_build(None, store, session=session, progress=progress)
        with tempfile.TemporaryDirectory(prefix="linkeddata-demo-") as tmp:
            result = run_build(None, Path(tmp) / "store", session=session, progress=progress)
            result.store = None
            open_store(Path(tmp) / "store").close()
            return result
