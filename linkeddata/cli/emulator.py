"""``linkeddata emulator serve`` (the loopback emulator in the foreground) and ``linkeddata demo``.

The commands of the testing layer: the only CLI module that imports the emulator.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import click

from .common import progress_bar, quiet_option, store_option


def register(group: click.Group) -> None:
    group.add_command(emulator)
    group.add_command(demo)


@click.command()
@store_option()
@click.option("--size", type=click.IntRange(min=0), default=0, show_default=True,
              help="Generated records in the emulator besides the fixtures.")
@quiet_option
def demo(store: Path | None, size: int, quiet: bool) -> None:
    """Start the emulator, build a store through real HTTP against it and show holdings per library."""
    from ..demo import run_demo

    with progress_bar(quiet, desc="demo") as bar:
        result = run_demo(store, size=size, progress=bar.update)
    click.echo(result.report())


@click.group()
def emulator() -> None:
    """The loopback emulator of Libris XL, id.kb.se, the ISIL agency and the library database."""


@emulator.command()
@click.option("--port", type=click.IntRange(0, 65535 - 16), default=0,
              help="Port of the first service; the others follow (0: any free ports).")
@click.option("--size", type=click.IntRange(min=0), default=0, show_default=True,
              help="Generated bibliographic records besides the fixtures.")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds added to every response.")
@click.option("--service", "services", multiple=True, help="Only these services (repeatable; default: all).")
@click.option("--seconds", type=click.FloatRange(min=0), default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--client", "client_id", default="test-cataloguer", show_default=True,
              help="The test OAuth client whose credentials are exported (see linkeddata.emulator.login).")
def serve(port: int, size: int, latency: float, services: tuple[str, ...], seconds: float | None,
          client_id: str) -> None:
    """Serve the emulated services on 127.0.0.1 and print the shell exports that point at them.

    The exports (on standard output) set every LINKEDDATA_*_URL and, with the login
    service, the test OAuth client's LINKEDDATA_CLIENT_ID and LINKEDDATA_CLIENT_SECRET
    (emulator-only credentials, printed on purpose). The service list goes to stderr.

    \b
    Example:
      linkeddata emulator serve --port 8700 > env.sh &
      source env.sh
      linkeddata fetch k9dt4hbw6p1ncz8 --format ttl
    """
    from ..emulator import Emulator, available_services

    known = available_services()
    unknown = [name for name in services if name not in known]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (known: {', '.join(known)})", param_hint="'--service'")
    names = list(services) or known
    client = None
    if "login" in names:
        from ..emulator.login import DEFAULT_CLIENTS

        clients = {c.client_id: c for c in DEFAULT_CLIENTS}
        if client_id not in clients:
            raise click.BadParameter(f"{client_id} (test clients: {', '.join(clients)})", param_hint="'--client'")
        client = clients[client_id]
    ports = {name: port + i for i, name in enumerate(names)} if port else None
    try:
        emu = Emulator(names, size=size, latency=latency, ports=ports).start()
    except OSError as exc:  # e.g. a port already in use
        raise click.ClickException(f"cannot start the emulator on 127.0.0.1: {exc.strerror or exc}") from None
    try:
        for name, url in emu.urls.items():
            click.echo(f"{name:8} {url}", err=True)
        exports = dict(emu.env())
        if client is not None:
            exports.update(LINKEDDATA_CLIENT_ID=client.client_id, LINKEDDATA_CLIENT_SECRET=client.client_secret)
        for key, value in sorted(exports.items()):
            click.echo(f"export {key}={shlex.quote(value)}")
        sys.stdout.flush()
        click.echo("Serving; press Ctrl-C to stop.", err=True)
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    finally:
        emu.stop()
