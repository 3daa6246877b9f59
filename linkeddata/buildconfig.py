"""The build config as one typed, validated model (``linkeddata build CONFIG.toml``).

Every key and every type is checked when the file is read; an unknown key, a wrong type
or a bad value is a :class:`~linkeddata.errors.ConfigError` that names the file, the key
and what was expected::

    job.toml: [libris] find[0].max: expected an integer, got 'five'
    job.toml: [libris] find[0]: unknown key 'filtrs' (known: q, filters, max)

>>> cfg = parse_config({"libris": {"ids": ["k9dt4hbw6p1ncz8"], "holdings": False}}, "job.toml")
>>> cfg.libris.ids, cfg.libris.holdings, cfg.organisations.libraries
(['k9dt4hbw6p1ncz8'], False, True)
>>> parse_config({"libris": {"ids": "k9dt4hbw6p1ncz8"}}, "job.toml")
Traceback (most recent call last):
...
linkeddata.errors.ConfigError: job.toml: [libris] ids: expected a list of strings, got 'k9dt4hbw6p1ncz8'
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the tomli backport, a dependency on Python 3.10
    import tomli as tomllib

HARVEST_KINDS = ("oai", "find", "changes")


@dataclass(frozen=True)
class FindSpec:
    """One ``/find`` search of the build."""

    q: str = "*"
    filters: dict[str, str] = field(default_factory=dict)
    max: int | None = None

    def params(self) -> dict[str, str]:
        return {"q": self.q, **self.filters}


@dataclass(frozen=True)
class LibrisConfig:
    ids: list[str] = field(default_factory=list)
    find: list[FindSpec] = field(default_factory=list)
    holdings: bool = True
    holdings_full: bool = False
    #: Sigels whose holdings come from the library's dump (or OAI-PMH set) instead of /find.
    holdings_libraries: list[str] = field(default_factory=list)
    embellished: bool = False
    profile: str = ""
    concurrency: int = 4
    page_size: int = 2000


@dataclass(frozen=True)
class OrganisationsConfig:
    libraries: bool = True
    isil_queries: list[str] = field(default_factory=list)
    isils: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HarvestEntry:
    """A ``[[harvest]]``: ``kind`` and the keys that kind takes (see :mod:`linkeddata.harvest`)."""

    kind: str
    set: str | None = None
    from_: str | None = None
    until: str | None = None
    prefix: str = "jsonld"
    q: str = "*"
    filters: dict[str, str] = field(default_factory=dict)
    max: int | None = None
    full: bool = False
    embellished: bool = False
    profile: str | None = None
    since: str | None = None


#: ``[[harvest]]`` keys each kind takes (TOML names).
HARVEST_KEYS = {
    "oai": {"kind", "set", "from", "until", "prefix"},
    "find": {"kind", "q", "filters", "max", "full", "embellished", "profile"},
    "changes": {"kind", "since"},
}


@dataclass(frozen=True)
class SyncEntry:
    """A ``[[sync]]``: a selection kept current by :func:`linkeddata.sync.sync`."""

    library: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    all: bool = False
    download: bool = True

    def selections(self) -> list[str]:
        from .sync import selections_for

        return selections_for(self.library, self.type, self.all)


@dataclass(frozen=True)
class BuildConfig:
    """A whole build config; :func:`load_config` reads one from TOML."""

    libris: LibrisConfig = field(default_factory=LibrisConfig)
    organisations: OrganisationsConfig = field(default_factory=OrganisationsConfig)
    harvest: list[HarvestEntry] = field(default_factory=list)
    sync: list[SyncEntry] = field(default_factory=list)
    source: str | None = None


# ---------------------------------------------------------------- checking


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {message}")

    def table(self, value: Any, where: str, known: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {_show(value)}")
        unknown = sorted(set(value) - known)
        if unknown:
            raise self.fail(where, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {_show(value)}")
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {_show(value)}")
        return value

    def integer(self, value: Any, where: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected an integer, got {_show(value)}")
        if value < minimum:
            raise self.fail(where, f"expected an integer of at least {minimum}, got {value}")
        return value

    def strings(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, f"expected a list of strings, got {_show(value)}")
        return list(value)

    def strings_or_one(self, value: Any, where: str) -> list[str]:
        return [value] if isinstance(value, str) else self.strings(value, where)

    def filters(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table of /find parameters, got {_show(value)}")
        out: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.fail(f"{where}.{key}", f"expected a string or a number, got {_show(item)}")
            out[str(key)] = str(item)
        return out


_LIBRIS_KEYS = {f.name for f in fields(LibrisConfig)}
_ORG_KEYS = {f.name for f in fields(OrganisationsConfig)}
_SECTIONS = ("libris", "organisations", "harvest", "sync")


def parse_config(data: dict[str, Any], source: str | Path = "<config>") -> BuildConfig:
    """Check a parsed TOML document and build the model (raises :class:`ConfigError`)."""
    c = _Checker(str(source))
    c.table(data, "top level", set(_SECTIONS))
    libris = c.table(data.get("libris", {}), "[libris]", _LIBRIS_KEYS)
    finds = libris.get("find", [])
    if not isinstance(finds, list):
        raise c.fail("[libris] find", f"expected a list of tables, got {_show(finds)}")
    find_specs = []
    for n, spec in enumerate(finds):
        where = f"[libris] find[{n}]"
        spec = c.table(spec, where, {"q", "filters", "max"})
        find_specs.append(FindSpec(q=c.string(spec.get("q", "*"), f"{where}.q"),
                                   filters=c.filters(spec.get("filters", {}), f"{where}.filters"),
                                   max=None if "max" not in spec else c.integer(spec["max"], f"{where}.max", 1)))
    from .libris.dumps import library_selection
    from .errors import InvalidInputError

    holdings_libraries = c.strings(libris.get("holdings_libraries", []), "[libris] holdings_libraries")
    for sigel in holdings_libraries:
        try:
            library_selection(sigel)
        except InvalidInputError as exc:
            raise c.fail("[libris] holdings_libraries", str(exc)) from None
    libris_cfg = LibrisConfig(
        ids=c.strings(libris.get("ids", []), "[libris] ids"),
        find=find_specs,
        holdings=c.boolean(libris.get("holdings", True), "[libris] holdings"),
        holdings_full=c.boolean(libris.get("holdings_full", False), "[libris] holdings_full"),
        holdings_libraries=holdings_libraries,
        embellished=c.boolean(libris.get("embellished", False), "[libris] embellished"),
        profile=c.string(libris.get("profile", ""), "[libris] profile"),
        concurrency=c.integer(libris.get("concurrency", 4), "[libris] concurrency", 1),
        page_size=c.integer(libris.get("page_size", 2000), "[libris] page_size", 1),
    )
    if libris_cfg.page_size > 4000:
        raise c.fail("[libris] page_size", f"expected at most 4000 (the /find limit), got {libris_cfg.page_size}")
    orgs = c.table(data.get("organisations", {}), "[organisations]", _ORG_KEYS)
    orgs_cfg = OrganisationsConfig(
        libraries=c.boolean(orgs.get("libraries", True), "[organisations] libraries"),
        isil_queries=c.strings(orgs.get("isil_queries", []), "[organisations] isil_queries"),
        isils=c.strings(orgs.get("isils", []), "[organisations] isils"),
    )
    return BuildConfig(libris_cfg, orgs_cfg, _harvests(c, data.get("harvest", [])), _syncs(c, data.get("sync", [])),
                       str(source))


def _harvests(c: _Checker, entries: Any) -> list[HarvestEntry]:
    if not isinstance(entries, list):
        raise c.fail("[[harvest]]", f"expected [[harvest]] tables, got {_show(entries)}")
    out = []
    for n, entry in enumerate(entries):
        where = f"[[harvest]] {n + 1}"
        if not isinstance(entry, dict):
            raise c.fail(where, f"expected a table, got {_show(entry)}")
        kind = entry.get("kind")
        if kind not in HARVEST_KEYS:
            raise c.fail(f"{where} kind", f"kind must be one of {', '.join(HARVEST_KINDS)}, got {_show(kind)}")
        c.table(entry, f"{where} ({kind})", HARVEST_KEYS[kind])

        def opt(key: str) -> str | None:
            return None if key not in entry else c.string(entry[key], f"{where}.{key}")

        out.append(HarvestEntry(
            kind=kind, set=opt("set"), from_=opt("from"), until=opt("until"), prefix=opt("prefix") or "jsonld",
            q=opt("q") or "*", filters=c.filters(entry.get("filters", {}), f"{where}.filters"),
            max=None if "max" not in entry else c.integer(entry["max"], f"{where}.max", 1),
            full=c.boolean(entry.get("full", False), f"{where}.full"),
            embellished=c.boolean(entry.get("embellished", False), f"{where}.embellished"),
            profile=opt("profile") or None, since=opt("since")))
    return out


def _syncs(c: _Checker, entries: Any) -> list[SyncEntry]:
    from .errors import InvalidInputError

    if not isinstance(entries, list):
        raise c.fail("[[sync]]", f"expected [[sync]] tables, got {_show(entries)}")
    out = []
    for n, entry in enumerate(entries):
        where = f"[[sync]] {n + 1}"
        entry = c.table(entry, where, {"library", "type", "all", "download"})
        sync = SyncEntry(library=c.strings_or_one(entry.get("library", []), f"{where}.library"),
                         type=c.strings_or_one(entry.get("type", []), f"{where}.type"),
                         all=c.boolean(entry.get("all", False), f"{where}.all"),
                         download=c.boolean(entry.get("download", True), f"{where}.download"))
        try:
            sync.selections()
        except InvalidInputError as exc:
            raise c.fail(where, str(exc)) from None
        out.append(sync)
    return out


def read_config(path: str | Path) -> BuildConfig:
    """Read and check a TOML build config."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return parse_config(data, source)


__all__ = ["BuildConfig", "FindSpec", "HarvestEntry", "LibrisConfig", "OrganisationsConfig", "SyncEntry",
           "parse_config", "read_config"]
