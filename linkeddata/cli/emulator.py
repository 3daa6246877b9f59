"""``linkeddata emulator serve``: run the loopback emulator in the foreground."""

from __future__ import annotations

import time

import click


def register(group: click.Group) -> None:
    group.add_command(emulator)


@click.group()
def emulator() -> None:
    """The loopback emulator of Libris XL, id.kb.se, the ISIL agency and the library database."""


@emulator.command()
@click.option("--port", type=int, default=0, help="Port of the first service; the others follow (0: any free ports).")
@click.option("--size", default=0, show_default=True, help="Generated bibliographic records besides the fixtures.")
@click.option("--latency", default=0.0, show_default=True, help="Seconds added to every response.")
@click.option("--service", "services", multiple=True, help="Only these services (repeatable; default: all).")
@click.option("--seconds", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
def serve(port: int, size: int, latency: float, services: tuple[str, ...], seconds: float | None) -> None:
    """Serve the emulated services on 127.0.0.1 and print the environment that points at them.

    \b
    Example:
      linkeddata emulator serve --port 8700
      # in another shell, paste the printed exports, then:
      linkeddata fetch k9dt4hbw6p1ncz8 --format ttl
    """
    from ..emulator import Emulator, available_services

    known = available_services()
    unknown = [name for name in services if name not in known]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (known: {', '.join(known)})", param_hint="'--service'")
    names = list(services) or known
    ports = {name: port + i for i, name in enumerate(names)} if port else None
    try:
        emu = Emulator(names, size=size, latency=latency, ports=ports).start()
    except OSError as exc:  # e.g. a port already in use
        raise click.ClickException(f"cannot start the emulator on 127.0.0.1: {exc.strerror or exc}") from None
    try:
        for name, url in emu.urls.items():
            click.echo(f"{name:8} {url}", err=True)
        for key, value in sorted(emu.env().items()):
            click.echo(f"export {key}={value}")
        click.echo("Serving; press Ctrl-C to stop.", err=True)
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    finally:
        emu.stop()
