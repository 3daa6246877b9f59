"""Core commands: fetch, load, query, queries, map, demo, build."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import echo_table, get_session, progress_bar, quiet_option, store_option


def register(group: click.Group) -> None:
    for name, attr in (("fetch_cmd", "add_fetch"), ("profiles_cmd", "add_map")):
        try:
            module = __import__(f"linkeddata.cli.{name}", fromlist=[attr])
        except ModuleNotFoundError as exc:
            if exc.name != f"linkeddata.cli.{name}":
                raise
            continue
        getattr(module, attr)(group)
    for command in (load, query, queries, demo, build):
        group.add_command(command)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@store_option(required=True)
@click.option("--format", "fmt", help="RDF format of local files (ttl, nt, nq, trig, rdf, jsonld); default: by extension.")
@click.option("--graph", help="Named graph IRI for files that do not name their record.")
@click.option("--bulk/--no-bulk", default=None,
              help="Bulk loader for N-Quads/TriG dumps (fast, not transactional); default: for files over 64 MB.")
@click.option("--batch-size", default=500, show_default=True, help="Records per transaction.")
@click.option("--strict", is_flag=True, help="Fail on the first bad record instead of skipping it.")
@quiet_option
def load(sources: tuple[str, ...], store: Path, fmt: str | None, graph: str | None, bulk: bool | None, batch_size: int,
         strict: bool, quiet: bool) -> None:
    """Load files, folders, URLs or Libris ids into the store (one named graph per record).

    \b
    Examples:
      linkeddata load record.jsonld dump.nq --store ./kg
      linkeddata load k9dt4hbw6p1ncz8 https://libris.kb.se/f5nc8rlm2x0vq7s --store ./kg
    """
    from ..sources import load_sources
    from ..store import open_store

    with open_store(store) as st, progress_bar(quiet, desc="loading") as bar:
        stats = load_sources(st, sources, format=fmt, graph=graph, bulk=bulk, batch_size=batch_size, strict=strict,
                             session=get_session(), progress=bar.update)
        if bulk:
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
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json", "xml"]), default="table",
              show_default=True)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind a variable (IRI, number, boolean, \"text\"@lang or text); repeatable.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write results to a file.")
def query(query_text: str, store: Path, fmt: str, params: tuple[str, ...], output: Path | None) -> None:
    """Run a bundled query name, a .rq file or inline SPARQL.

    \b
    Examples:
      linkeddata query holdings-by-library --store ./kg
      linkeddata query holdings-of --param instance=https://libris.kb.se/k9dt4hbw6p1ncz8#it
      linkeddata query 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }' --format csv
    """
    from ..query import format_results, parse_params, run_query
    from ..store import open_store

    if isinstance(store, Path) and not store.is_dir():
        raise click.ClickException(f"no store at {store}; build one with `linkeddata load` or `linkeddata build`")
    st = open_store(store, read_only=True)
    text = format_results(run_query(st, query_text, parse_params(params)), fmt)
    if output:
        output.write_text(text if text.endswith("\n") else text + "\n", "utf-8")
    else:
        click.echo(text.rstrip("\n"))


@click.command()
def queries() -> None:
    """List the bundled queries with their descriptions and parameters."""
    from ..query import bundled_queries

    rows = []
    for q in bundled_queries().values():
        params = ", ".join(q.params) or "-"
        summary = q.description.split(". ")[0].rstrip(".") + "."
        rows.append({"name": q.name, "params": params, "description": summary})
    echo_table(rows)


@click.command()
@store_option()
@click.option("--size", default=0, show_default=True, help="Generated records in the emulator besides the fixtures.")
@quiet_option
def demo(store: Path | None, size: int, quiet: bool) -> None:
    """Start the emulator, build a store through real HTTP against it and show holdings per library."""
    from ..build import run_demo

    with progress_bar(quiet, desc="demo") as bar:
        result = run_demo(store, size=size, progress=bar.update)
    click.echo(result.report())


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option(required=True)
@quiet_option
def build(config: Path | None, store: Path, quiet: bool) -> None:
    """Build a ready-to-query store from a TOML config (default: the bundled one)."""
    from ..build import load_config, run_build

    cfg = load_config(config)
    with progress_bar(quiet, desc="build") as bar:
        result = run_build(cfg, store, session=get_session(), progress=bar.update)
    click.echo(result.report())
