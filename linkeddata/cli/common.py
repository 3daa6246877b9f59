"""Shared pieces of the CLI: error handling, the session, common options, output."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..config import default_store_path
from ..errors import LinkedDataError
from ..tables import format_table


class LinkedDataGroup(click.Group):
    """A click group that prints library errors as one line and exits 1.

    ``--no-cache`` is a group option that is also accepted after the command name
    (``linkeddata fetch ID --no-cache``), where people naturally type it.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--no-cache" in args[1:]:
            args = ["--no-cache", *[a for a in args if a != "--no-cache"]]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LinkedDataError as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


def get_session(ctx: click.Context | None = None) -> Any:
    """The shared HTTP session for this CLI run (built once, honours ``--no-cache``)."""
    from ..http import make_session

    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    if "session" not in root.obj:
        cache = root.obj.get("cache", True) and not os.environ.get("LINKEDDATA_NO_CACHE")
        root.obj["session"] = make_session(cache=cache)
        root.call_on_close(root.obj["session"].close)
    return root.obj["session"]


class StoreParam(click.ParamType):
    """A store folder (as a Path) or a SPARQL server URL (kept as text)."""

    name = "store"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, Path) or not isinstance(value, str):
            return value
        return value if value.startswith(("http://", "https://")) else Path(value)


def store_option(required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--store DIR`` defaulting to ``LINKEDDATA_STORE`` or ``./linkeddata-store``."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if required:
            default: Any = lambda: str(default_store_path())  # noqa: E731
        else:
            default = None
        return click.option(
            "--store", "store", type=StoreParam(), default=default, show_default="$LINKEDDATA_STORE or ./linkeddata-store" if required else None,
            help="Oxigraph store directory (created if missing), or a SPARQL server URL.",
        )(func)

    return decorator


def quiet_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar.")(func)


def progress_bar(quiet: bool, total: int | None = None, desc: str = "", unit: str = "record") -> Any:
    """A progress line on stderr (``oai-pmh: 1,504 records, 3,200/s``), rewritten in place
    on a terminal; hidden when ``quiet`` or stderr is not a terminal (the command's summary says it all)."""
    from ..progress import progress

    return progress(desc, total, unit, file=sys.stderr, display="text" if sys.stderr.isatty() else "none",
                    disable=quiet)


def echo_table(rows: list[dict[str, Any]] | list[list[Any]], headers: list[str] | None = None) -> None:
    """Print rows as an aligned text table."""
    click.echo(format_table(rows, headers))


def wraps_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """For commands run outside the group (tests): same one-line error handling."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LinkedDataError as exc:
            raise click.ClickException(str(exc).splitlines()[0]) from exc

    return wrapper
