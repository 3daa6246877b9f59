"""Shared pieces of the CLI: error handling, the session, common options, output."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from ..config import default_store
from ..errors import LinkedDataError
from ..tables import format_table


#: Group options also accepted after the command name, where people naturally type them.
_ANYWHERE = re.compile(r"--no-cache|--verbose|-v+")


#: Old top-level command names → the command that replaced them.
MOVED_COMMANDS = {name: f"catalogue {name}" for name in
                  ("login", "create", "update", "delete", "holdings", "dependencies", "marc", "acquire")}


class LinkedDataGroup(click.Group):
    """A click group that prints library errors (and any ``OSError``) as one line and exits 1.

    ``--no-cache`` and ``-v``/``--verbose`` are group options that are also accepted after
    the command name (``linkeddata fetch ID --no-cache -v``), where people naturally type
    them; a ``--`` ends the options as usual.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None and args:
            end = args.index("--") if "--" in args else len(args)
            moved = [a for a in args[1:end] if _ANYWHERE.fullmatch(a)]
            if moved:
                rest = [a for i, a in enumerate(args) if not (0 < i < end and _ANYWHERE.fullmatch(a))]
                args = [*moved, *rest]
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if ctx.parent is None and args and args[0] in MOVED_COMMANDS and args[0] not in self.commands:
            raise click.UsageError(f"`linkeddata {args[0]}` is now `linkeddata {MOVED_COMMANDS[args[0]]}` "
                                   "(cataloguing commands act on Libris, not on the local store)", ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LinkedDataError as exc:
            text = exc.cli_message or str(exc)
            message = text.splitlines()[0] if text else type(exc).__name__
            click.echo(f"Error: {message}", err=True)
            sys.exit(exc.exit_code)  # 1 for every class (see linkeddata.errors)
        except BrokenPipeError:  # `linkeddata … | head`: the reader left; nothing to report
            sys.stderr.close()
            sys.exit(1)
        except OSError as exc:  # a file that cannot be read or written: one line, never a traceback
            click.echo(f"Error: {os_error_text(exc)}", err=True)
            sys.exit(1)
        except KeyboardInterrupt as exc:  # a job stopped between batches says what it saved
            click.echo(f"Interrupted: {exc}" if str(exc) else "Interrupted.", err=True)
            sys.exit(130)


def os_error_text(exc: OSError, path: Any = None) -> str:
    """``cannot write /x/y: No such file or directory``-style text for an ``OSError``."""
    name = path if path is not None else exc.filename
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{name}: {reason}" if name is not None else reason


def output_option(help: str = "Write to FILE instead of standard output (- for standard output).",
                  required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--output FILE``, where ``-`` is standard output."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
                        required=required, metavar="FILE|-", help=help)


def write_output(output: str | None, data: bytes | str, *, report: bool = True) -> None:
    """Write ``data`` to the file ``output``, or to standard output for ``None`` or ``-``.

    A file that cannot be written is one :class:`~linkeddata.errors.InvalidInputError`
    line naming it; ``report`` prints ``Wrote N bytes to FILE`` on stderr.
    """
    from ..errors import InvalidInputError

    body = data.encode("utf-8") if isinstance(data, str) else data
    if output is None or output == "-":
        sys.stdout.buffer.write(body if body.endswith(b"\n") or not body else body + b"\n")
        sys.stdout.flush()
        return
    try:
        with open(output, "wb") as fh:
            fh.write(body)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {os_error_text(exc, output)}") from exc
    if report:
        click.echo(f"Wrote {len(body)} bytes to {output}", err=True)


@contextlib.contextmanager
def binary_output(output: str | None) -> Iterator[IO[bytes]]:
    """A binary stream for ``output``: standard output for ``None`` or ``-``; else a file
    written beside it and renamed into place only when the block succeeds (a failed or
    stopped command leaves no partial file)."""
    from ..errors import InvalidInputError

    if output is None or output == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    target = Path(output)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        fh = open(part, "wb")
    except OSError as exc:
        raise InvalidInputError(f"cannot write {os_error_text(exc, output)}") from exc
    try:
        with fh:
            yield fh
        os.replace(part, target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {os_error_text(exc, output)}") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def read_input(source: str) -> str:
    """The text of the file ``source``, or of standard input for ``-``."""
    from ..errors import InvalidInputError

    if source == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        if isinstance(data, str):
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"standard input is not UTF-8 text (byte {exc.start})") from exc
    try:
        return Path(source).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_error_text(exc, source) if isinstance(exc, OSError) else f"{source}: not UTF-8 text"
        raise InvalidInputError(f"cannot read {reason}") from exc


def get_session(ctx: click.Context | None = None, *, purpose: str = "default",
                rate_limit: float | None = 10.0) -> Any:
    """The HTTP session of this CLI run for ``purpose`` (see :data:`linkeddata.http.PURPOSES`).

    The run keeps one table of sessions: each (purpose, rate limit) is built once and closed
    when the run ends. ``--no-cache`` turns the HTTP cache off for all of them (as
    ``LINKEDDATA_NO_CACHE`` does, in :func:`~linkeddata.http.make_session` itself).
    """
    from ..http import make_session

    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    sessions = root.obj.setdefault("sessions", {})
    key = (purpose, rate_limit)
    if key not in sessions:
        session = make_session(purpose=purpose, rate_limit=rate_limit,
                               cache=None if root.obj.get("cache", True) else False)
        sessions[key] = session
        root.call_on_close(session.close)
    return sessions[key]


#: Other spellings of format names, accepted by every ``--format`` (the first name is canonical).
FORMAT_ALIASES: dict[str, str] = {
    "turtle": "ttl", "ntriples": "nt", "n-triples": "nt", "nquads": "nq", "n-quads": "nq",
    "xml": "rdf", "rdfxml": "rdf", "rdf-xml": "rdf", "json-ld": "jsonld",
}


class FormatChoice(click.Choice):  # type: ignore[type-arg]  # generic in click 8.2 only
    """A ``--format`` choice that also takes the usual other spellings (``turtle`` for ``ttl``…)."""

    def __init__(self, choices: list[str] | tuple[str, ...]):
        super().__init__(list(choices), case_sensitive=False)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str):
            alias = FORMAT_ALIASES.get(value.lower())
            if alias in self.choices and value.lower() not in self.choices:
                value = alias
        return super().convert(value, param, ctx)


class StoreParam(click.ParamType):  # type: ignore[type-arg]  # generic in click 8.2 only
    """A store folder (as a Path) or a SPARQL server URL (kept as text)."""

    name = "store"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from ..stores import store_location

        return store_location(value) if isinstance(value, str) else value


def store_option(required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--store DIR`` defaulting to ``LINKEDDATA_STORE`` or ``./linkeddata-store``."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if required:
            default: Any = default_store
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
