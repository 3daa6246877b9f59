"""``linkeddata config``: the effective base URL of every service, and the HTTP limits."""

from __future__ import annotations

import click

from .common import echo_table


def register(group: click.Group) -> None:
    group.add_command(config_command)


@click.command("config")
def config_command() -> None:
    """Print where every service's requests go and why, and the HTTP limits in force.

    A base comes from its LINKEDDATA_<SERVICE>_URL variable, the Libris base (OAI-PMH and
    the change feed live on the Libris host), or the default; a command's own option
    (--libris-url, --oai-url) wins over them for that command.

    \b
    Examples:
      linkeddata config
    """
    from ..config import effective_config
    from ..http import KINDS, limits_for

    echo_table([[row["service"], row["base"], row["source"]] for row in effective_config()],
               ["service", "base", "source"])
    click.echo("")
    echo_table([[kind, f"{limits_for(kind).max_bytes / 2**20:g} MB", f"{limits_for(kind).deadline:g} s",
                 f"LINKEDDATA_MAX_BYTES_{kind.upper()}, LINKEDDATA_DEADLINE_{kind.upper()}"] for kind in KINDS],
               ["kind", "max body", "deadline", "set with"])
