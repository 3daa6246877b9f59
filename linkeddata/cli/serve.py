"""``linkeddata serve``: the store as a SPARQL 1.1 server (Oxigraph)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from .common import store_option


def register(group: click.Group) -> None:
    group.add_command(serve_command)


@click.command("serve")
@store_option(required=True)
@click.option("--bind", default="127.0.0.1:7878", show_default=True, help="HOST:PORT to listen on.")
@click.option("--read-only", is_flag=True, help="Serve a snapshot, without updates (works while another process writes).")
@click.option("--union-default-graph/--no-union-default-graph", default=True, show_default=True,
              help="Queries without GRAPH see all record graphs, as local queries do.")
@click.option("--no-version-check", is_flag=True, help="Serve even if the oxigraph server's version differs from pyoxigraph's.")
def serve_command(store: Path, bind: str, read_only: bool, union_default_graph: bool, no_version_check: bool) -> None:
    """Serve a store built by linkeddata over HTTP until Ctrl-C.

    Runs the Oxigraph server (pip install 'linkeddata[server]'): SPARQL queries at
    /query, updates at /update (not with --read-only), Graph Store Protocol at /store.

    \b
    Examples:
      linkeddata serve --store ./kg
      linkeddata serve --store ./kg --bind 127.0.0.1:8000 --read-only
      curl -H 'Accept: text/csv' --data-urlencode 'query=SELECT * WHERE {?s ?p ?o} LIMIT 3' http://127.0.0.1:7878/query
    """
    from ..errors import StoreError
    from ..serve import Server, parse_bind, serve, server_log, stop

    if not Path(store).is_dir():
        raise StoreError(f"no store at {store}; build one first (linkeddata load … --store {store})")

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)  # stop the server on SIGTERM too
    try:
        process = serve(store, bind, read_only, union_default_graph=union_default_graph, check=not no_version_check)
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    url = Server(process, *parse_bind(bind)).url
    mode = "read-only" if read_only else "read-write"
    click.echo(f"Serving {store} ({mode}) at {url}: SPARQL {url}/query"
               f"{'' if read_only else f', update {url}/update'}, graph store {url}/store. Ctrl-C stops.", err=True)
    try:
        code = process.wait()
        text = server_log(process).strip()
        raise StoreError(f"oxigraph server stopped (exit {code}): {text.splitlines()[-1] if text else 'no output'}")
    except KeyboardInterrupt:
        click.echo("Stopping the server.", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop(process)
