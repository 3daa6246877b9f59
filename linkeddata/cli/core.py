"""Core commands: fetch, load, query, queries, map, dump, build (demo: :mod:`.emulator`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from ..query import OUTPUT_FORMATS
from ..query_run import DEFAULT_MAX_MEMORY, DEFAULT_TIMEOUT
from ..store import DEFAULT_BATCH, FILE_BATCH
from .common import (
    FormatChoice,
    binary_output,
    echo_table,
    get_session,
    os_error_text,
    output_option,
    progress_bar,
    quiet_option,
    read_input,
    store_option,
    write_output,
)


def register(group: click.Group) -> None:
    for name, attr in (("fetch_cmd", "add_fetch"), ("profiles_cmd", "add_map")):
        try:
            module = __import__(f"linkeddata.cli.{name}", fromlist=[attr])
        except ModuleNotFoundError as exc:
            if exc.name != f"linkeddata.cli.{name}":
                raise
            continue
        getattr(module, attr)(group)
    for command in (load, query, queries, dump, build):
        group.add_command(command)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@store_option(required=True)
@click.option("--format", "fmt", help="RDF format of local files (ttl, nt, nq, trig, rdf, jsonld), or pica for organisation files "
                   "(PICA+ or the ISIL agency's JSON; .pica is read so anyway); default: by extension.")
@click.option("--graph", help="Named graph IRI for files that do not name their record.")
@click.option("--bulk/--no-bulk", default=None,
              help="Bulk loader for N-Quads/TriG dumps (fast, not transactional); default: for files over 64 MB.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Records per transaction [default: " + (f"{FILE_BATCH}" if FILE_BATCH == DEFAULT_BATCH
                   else f"{FILE_BATCH} from files, {DEFAULT_BATCH} fetched") + "].")
@click.option("--strict", is_flag=True, help="Fail on the first bad record instead of skipping it.")
@quiet_option
def load(sources: tuple[str, ...], store: Path, fmt: str | None, graph: str | None, bulk: bool | None,
         batch_size: int | None,
         strict: bool, quiet: bool) -> None:
    """Load files, folders, URLs or Libris ids into the store (one named graph per record).

    \b
    Examples:
      linkeddata load record.jsonld dump.nq --store ./kg
      linkeddata load k9dt4hbw6p1ncz8 https://libris.kb.se/f5nc8rlm2x0vq7s --store ./kg
    """
    from ..sources import load_sources
    from ..stores import open_store

    with open_store(store) as st, progress_bar(quiet, desc="loading") as bar:
        stats = load_sources(st, sources, format=fmt, graph=graph, bulk=bulk, batch_size=batch_size, strict=strict,
                             session=get_session(), progress=bar.update)
        if bulk and st.capabilities.optimize:
            st.optimize()
    rate = f", {stats.triples_per_second:,.0f} triples/s" if stats.seconds else ""
    click.echo(f"Loaded {stats.records} records ({stats.triples} triples{rate}) into {store}; "
               f"{stats.deleted} deleted, {len(stats.skipped)} skipped.")
    for iri, reason in stats.skipped:
        click.echo(f"skipped {iri}: {reason}", err=True)
    if stats.skipped:
        sys.exit(2)


@click.command()
@click.argument("query_text", metavar="QUERY")
@store_option(required=True)
@click.option("--format", "fmt", type=FormatChoice([*OUTPUT_FORMATS, "nt", "ttl"]), default="table",
              show_default=True,
              help="SELECT/ASK: table, csv, tsv, json (row objects), sparql-json, sparql-xml; CONSTRUCT: table, nt, ttl.")
@click.option("--nl", is_flag=True, help="With --format json: one JSON object per line (newline-delimited).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind a parameter the query declares (see `linkeddata queries`), or a variable of your own query; "
                   "repeatable.")
@output_option("Write results to FILE instead of standard output.")
@click.option("--map", "map_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the rows' latitude/longitude on a map: a .png or .svg file (notebook extra).")
@click.option("--timeout", type=click.FloatRange(min=0), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="Stop the query after this long (0: no limit).")
@click.option("--max-memory", type=click.IntRange(min=0), default=DEFAULT_MAX_MEMORY // 1024**2, show_default=True,
              metavar="MB", help="Memory the query may use, in MB (0: no limit).")
def query(query_text: str, store: Path, fmt: str, nl: bool, params: tuple[str, ...], output: str | None,
          map_path: Path | None, timeout: float, max_memory: int) -> None:
    """Run a bundled query name, a .rq file, inline SPARQL, or - (SPARQL on standard input).

    \b
    Examples:
      linkeddata query holdings-by-library --store ./kg
      linkeddata query holdings-of -p instance=k9dt4hbw6p1ncz8 --store ./kg
      linkeddata query libraries-near -p lat=59.33 -p long=18.07 -p km=80 --format json --nl --store ./kg
      linkeddata query 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }' --format csv --store ./kg
      echo 'ASK { ?s ?p ?o }' | linkeddata query - --store ./kg
      linkeddata query libraries-near -p lat=59.33 -p long=18.07 -p km=500 --store ./kg --map near.png
    """
    from ..query import parse_params, run_query
    from ..query_run import stream_query
    from ..stores import open_store

    parsed = parse_params(params)
    if query_text == "-":
        query_text = read_input("-")
        if not query_text.strip():
            raise click.UsageError("no query on standard input")
    if isinstance(store, Path) and not store.is_dir():
        raise click.ClickException(f"no store at {store}; build one with `linkeddata load` or `linkeddata build`")
    if map_path and map_path.suffix.lower() not in (".png", ".svg"):
        raise click.BadParameter(f"a map is a .png or .svg file, not {map_path.name}", param_hint="--map")
    st = open_store(store, read_only=True) if not isinstance(store, Path) else store
    _warn_unfinished(store)
    with binary_output(output) as out:
        stream_query(st, query_text, out, parsed, fmt=fmt, nl=nl, timeout=timeout, max_memory=max_memory * 1024**2)
    if map_path:
        from ..notebook.maps import save_map

        drawn = save_map(run_query(open_store(store, read_only=True), query_text, parsed), map_path)
        click.echo(f"map: {drawn.drawn} drawn, {drawn.skipped_rows} without coordinates, in {map_path}", err=True)


def _first_sentence(text: str) -> str:
    """The first sentence of ``text``, not cut at an abbreviation such as "e.g.".

    >>> _first_sentence("Near a point, e.g. Uppsala. More.")
    'Near a point, e.g. Uppsala.'
    """
    match = re.search(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\betc)\.(\s|$)", text)
    return text[:match.start()] + "." if match else text


def _warn_unfinished(store: object) -> None:
    """Warn on stderr when a build into this store was interrupted (its results are partial)."""
    from ..build import unfinished_build

    started = unfinished_build(store) if isinstance(store, Path) else None
    if started:
        click.echo(f"Warning: the build into {store} started {started} has not finished; results are partial "
                   "(run the same build again to finish it).", err=True)


@click.command()
def queries() -> None:
    """List the bundled queries with their parameters ([optional], name:type) and descriptions."""
    from ..query import bundled_queries

    rows = []
    for q in bundled_queries().values():
        params = " ".join(str(p) for p in q.params.values()) or "-"
        summary = _first_sentence(q.description)
        rows.append({"name": q.name, "params": params, "description": summary})
    echo_table(rows)


@click.command()
@store_option(required=True)
@click.option("--format", "fmt", type=FormatChoice(["nq", "trig"]), default="nq", show_default=True,
              help="N-Quads or TriG: dataset formats, so every record keeps its named graph.")
@click.option("--graph", "graphs", multiple=True, metavar="IRI|ID",
              help="Only this graph (a graph IRI, or a Libris id for its record's graph); repeatable.")
@output_option("Write to FILE instead of standard output.")
def dump(store: Path, fmt: str, graphs: tuple[str, ...], output: str | None) -> None:
    """Export the store (or some of its graphs) as N-Quads or TriG, named graphs kept.

    \b
    Examples:
      linkeddata dump --store ./kg -o kg.nq
      linkeddata dump --store ./kg --format trig --graph k9dt4hbw6p1ncz8
    """
    from ..dump import dump_store
    from ..errors import InvalidInputError
    from ..stores import open_store

    if isinstance(store, Path) and not store.is_dir():
        raise click.ClickException(f"no store at {store}; build one with `linkeddata load` or `linkeddata build`")
    st = open_store(store, read_only=True)
    if output is None or output == "-":
        dump_store(st, sys.stdout.buffer, format=fmt, graphs=graphs or None)
        sys.stdout.flush()
        return
    try:
        stats = dump_store(st, output, format=fmt, graphs=graphs or None)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {os_error_text(exc, output)}") from exc
    plural = "s" if stats.graphs != 1 else ""
    click.echo(f"Wrote {stats.quads} quads in {stats.graphs} graph{plural} to {output}", err=True)


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option(required=True)
@quiet_option
def build(config: Path | None, store: Path, quiet: bool) -> None:
    """Build a ready-to-query store from a TOML config (default: the bundled one)."""
    from ..build import load_config, run_build
    from ..checkpoints import graceful_interrupt

    cfg = load_config(config)
    with graceful_interrupt(), progress_bar(quiet, desc="build") as bar:
        result = run_build(cfg, store, session=get_session(), progress=bar.update)
    click.echo(result.report())
