"""``linkeddata harvest find|oai|changes``: resumable harvests into the store."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..checkpoints import graceful_interrupt
from .common import get_session, progress_bar, quiet_option, store_option


def register(group: click.Group) -> None:
    group.add_command(harvest)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = store_option(required=True)(func)
    func = click.option("--resume/--restart", default=True, show_default=True,
                        help="Continue from the saved checkpoint, or discard it and start over.")(func)
    func = click.option("--strict", is_flag=True, help="Fail on the first unusable record instead of skipping it.")(func)
    func = click.option("--retry-skipped", is_flag=True,
                        help="First fetch the records an earlier run skipped (the checkpoint's skip list) again.")(func)
    func = click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
                        help="Records per transaction.")(func)
    func = click.option("--rate-limit", type=click.FloatRange(min=0), default=10.0, show_default=True,
                        help="Requests per second per host (0: no limit).")(func)
    return quiet_option(func)


def _session(rate_limit: float) -> Any:
    """A session without HTTP cache (harvest pages must be fresh), built once per run."""
    return get_session(purpose="harvest", rate_limit=rate_limit or None)


def _report(summary: Any) -> None:
    click.echo(str(summary))
    for warning in getattr(summary, "warnings", ()):
        click.echo(f"Warning: {warning}", err=True)
    for ident, reason in summary.skipped:
        click.echo(f"skipped {ident}: {reason}", err=True)
    if summary.skipped:
        sys.exit(2)


@click.group()
def harvest() -> None:
    """Harvest Libris into the store, resumably (/find, OAI-PMH, change feed).

    \b
    Examples:
      linkeddata harvest find "tove jansson" --filter @type=Instance --store ./kg
      linkeddata harvest oai --set hold:S --from 2026-01-01 --store ./kg
      linkeddata harvest changes --store ./kg
    """


@harvest.command("find")
@click.argument("query", default="*")
@click.option("--filter", "filters", multiple=True, metavar="FIELD=VALUE",
              help="A /find filter, prefixes allowed (not-, or-, and-, exists-, min-, max-, matches-...); repeatable.")
@click.option("--max", "max_items", type=click.IntRange(min=1), help="Stop after this many hits.")
@click.option("--full", is_flag=True, help="Fetch each hit's full record (not the search card).")
@click.option("--embellished/--no-embellished", default=False, show_default=True,
              help="With --full: fetch records embellished (linked data inlined).")
@click.option("--profile", help="With --full: fetch records in a profile (sdo, bibo, loc or an IRI).")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Parallel record fetches with --full.")
@click.option("--page-size", type=click.IntRange(min=1, max=4000), default=200, show_default=True,
              help="Hits per /find page (at most 4000).")
@_common
def find_cmd(query: str, filters: tuple[str, ...], max_items: int | None, full: bool, embellished: bool,
             profile: str | None, concurrency: int, page_size: int, store: Path, resume: bool, strict: bool,
             batch_size: int, rate_limit: float, quiet: bool, retry_skipped: bool) -> None:
    """Load every /find hit of QUERY (default: everything) into the store."""
    from ..harvest import harvest_find
    from ..libris.find import parse_filter_args
    from ..stores import open_store

    params = [("q", query)] + parse_filter_args(filters)
    with graceful_interrupt(), open_store(store) as st, progress_bar(quiet, desc="find", total=max_items) as bar:
        summary = harvest_find(st, params, page_size=page_size, max_items=max_items, full=full,
                               concurrency=concurrency, batch_size=batch_size, resume=resume, strict=strict,
                               session=_session(rate_limit), progress=bar.update, embellished=embellished,
                               profile=profile, retry_skipped=retry_skipped)
    _report(summary)


@harvest.command("oai")
@click.option("--set", "set_spec", help="bib, auth, hold, hold:<sigel>, bib:<sigel>, nb or sao.")
@click.option("--from", "from_", help="From this date or time (inclusive, YYYY-MM-DD or ISO).")
@click.option("--until", help="Until this date or time (inclusive).")
@click.option("--prefix", default="jsonld", show_default=True,
              help="metadataPrefix. Into the store: jsonld, rdfxml, ttl, oai_dc (each jsonld/rdfxml also "
                   "_expanded, _includehold: holdings load as records of their own). To files (--out): "
                   "marcxml (MARCXML or MARC21, holdings after their record with _includehold) and oai_dc "
                   "(a table).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the records to files in this folder instead of the store (resumable, incremental).")
@click.option("--format", "file_format", type=click.Choice(["marcxml", "marc21", "csv", "tsv"]), default=None,
              help="With --out: marcxml (default) or marc21 for MARC prefixes, csv (default) or tsv for oai_dc.")
@click.option("--split", type=click.Choice(["run", "batch"]), default="run", show_default=True,
              help="With --out: one file per run, or one per batch.")
@_common
def oai_cmd(set_spec: str | None, from_: str | None, until: str | None, prefix: str, out: Path | None,
            file_format: str | None, split: str, store: Path, resume: bool, strict: bool, batch_size: int,
            rate_limit: float, quiet: bool, retry_skipped: bool) -> None:
    """Harvest OAI-PMH ListRecords into the store, or with --out to files (incremental after a completed run)."""
    from ..errors import InvalidInputError
    from ..harvest import harvest_oai
    from ..libris.oaipmh import FILE_PREFIXES, STORE_PREFIXES
    from ..stores import open_store

    if out is not None:
        from ..harvest_files import harvest_oai_files

        files = harvest_oai_files(out, metadata_prefix=prefix, set=set_spec, from_=from_, until=until,
                                  format=file_format, split=split, batch_size=batch_size, resume=resume,
                                  session=_session(rate_limit))
        _report(files)
        return
    if prefix in FILE_PREFIXES and prefix not in STORE_PREFIXES:
        raise InvalidInputError(f"{prefix} is MARC, not RDF: write it to files with --out DIR")
    with graceful_interrupt(), open_store(store) as st, progress_bar(quiet, desc="oai-pmh") as bar:
        summary = harvest_oai(st, set=set_spec, from_=from_, until=until, metadata_prefix=prefix,
                              batch_size=batch_size, resume=resume, strict=strict, session=_session(rate_limit),
                              progress=bar.update, retry_skipped=retry_skipped)
    _report(summary)


@harvest.command("changes")
@click.option("--since", help="Start after this time (ISO) instead of the saved position.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Parallel record fetches.")
@_common
def changes_cmd(since: str | None, concurrency: int, store: Path, resume: bool, strict: bool, batch_size: int,
                rate_limit: float, quiet: bool, retry_skipped: bool) -> None:
    """Apply the change feed since the last run (the whole history the first time)."""
    from ..harvest import harvest_changes
    from ..stores import open_store

    with graceful_interrupt(), open_store(store) as st, progress_bar(quiet, desc="changes") as bar:
        summary = harvest_changes(st, since=since, concurrency=concurrency, batch_size=batch_size, resume=resume,
                                  strict=strict, session=_session(rate_limit), progress=bar.update,
                                  retry_skipped=retry_skipped)
    _report(summary)
