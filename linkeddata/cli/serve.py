"""``linkeddata serve``: the store as a SPARQL 1.1 server (Oxigraph behind a guarding front)."""

from __future__ import annotations

import os
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
@click.option("--writable", is_flag=True, help="Accept updates (with the token, from no foreign web page).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding the update token (default: $LINKEDDATA_SERVE_TOKEN, else a new one is printed).")
@click.option("--read-only", is_flag=True,
              help="Open the store as a read-only snapshot (works while another process writes).")
@click.option("--allow-origin", multiple=True, metavar="URL", help="Also accept requests from this web origin.")
@click.option("--allow-service", multiple=True, metavar="IRI", help="Endpoint a query may name in SERVICE.")
@click.option("--allow-load", multiple=True, metavar="IRI", help="Document an update may LOAD.")
@click.option("--query-timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds a query may run.")
@click.option("--union-default-graph/--no-union-default-graph", default=True, show_default=True,
              help="Queries without GRAPH see all record graphs, as local queries do.")
@click.option("--no-version-check", is_flag=True, help="Serve even if the oxigraph server's version differs from pyoxigraph's.")
def serve_command(store: Path, bind: str, writable: bool, token_file: Path | None, read_only: bool,
                  allow_origin: tuple[str, ...], allow_service: tuple[str, ...], allow_load: tuple[str, ...],
                  query_timeout: float, union_default_graph: bool, no_version_check: bool) -> None:
    """Serve a store built by linkeddata over HTTP until Ctrl-C.

    SPARQL queries at /query, Graph Store Protocol reads at /store; with --writable,
    updates at /update and Graph Store writes, which need the token (as
    "Authorization: Bearer TOKEN", or the password of basic auth:
    LINKEDDATA_STORE_PASSWORD for linkeddata commands). Requests from other web
    origins, SERVICE and LOAD (unless allowed by name) are refused; queries time out.
    Writable: linkeddata serve --store DIR --writable --token-file FILE.

    \b
    Examples:
      linkeddata serve --store ./kg
      linkeddata serve --store ./kg --bind 127.0.0.1:8000 --read-only
      curl -H 'Accept: text/csv' --data-urlencode 'query=SELECT * WHERE {?s ?p ?o} LIMIT 3' http://127.0.0.1:7878/query
    """
    from ..errors import ConfigError, StoreError
    from ..serve import TOKEN_ENV, Guard, serve_guarded

    if not Path(store).is_dir():
        raise StoreError(f"no store at {store}; build one first (linkeddata load … --store {store})")
    if writable and read_only:
        raise ConfigError("--writable and --read-only exclude each other")
    token, new_token = None, False
    if writable:
        if token_file is not None:
            try:
                token = token_file.read_text("utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
            if not token:
                raise ConfigError(f"--token-file {token_file} is empty")
        else:
            token = os.environ.get(TOKEN_ENV, "").strip() or None
        if token is None:
            import secrets

            token, new_token = secrets.token_urlsafe(24), True
    guard = Guard(writable=writable, token=token, allowed_origins=frozenset(allow_origin),
                  allow_service=frozenset(allow_service), allow_load=frozenset(allow_load),
                  query_timeout=query_timeout)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)  # stop the server on SIGTERM too
    try:
        server = serve_guarded(store, bind, guard, read_only=read_only, union_default_graph=union_default_graph,
                               check=not no_version_check)
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    url = server.url
    mode = "writable: updates need the token" if writable else "read-only: --writable allows updates"
    click.echo(f"Serving {store} ({mode}) at {url}: SPARQL {url}/query"
               f"{f', update {url}/update' if writable else ''}, graph store {url}/store. Ctrl-C stops.", err=True)
    if new_token:
        click.echo(f"Update token (set {TOKEN_ENV} or --token-file to choose one): {token}", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopping the server.", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
