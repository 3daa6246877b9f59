"""The ``linkeddata`` command line: thin click commands over the library.

Every command parses options, calls one public library function and formats its
output. Errors from the library (:class:`~linkeddata.errors.LinkedDataError`) are
printed as one line on stderr and exit with status 1.

Commands live in modules of this package by area; each module defines
``register(group)``.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from ..__about__ import __version__
from .common import LinkedDataGroup

#: Modules of this package that add commands (``register(group)``).
COMMAND_MODULES = ("core", "organisations", "harvest", "sync", "write", "services", "notebooks", "serve", "emulator",
                   "config_cmd", "oai", "endpoints")


@click.group(cls=LinkedDataGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="linkeddata")
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v info, -vv debug).")
@click.option("--no-cache", is_flag=True, help="Do not use the on-disk HTTP cache.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, no_cache: bool) -> None:
    """Turn library linked data into a local, queryable knowledge graph.

    \b
    Examples:
      linkeddata demo
      linkeddata fetch k9dt4hbw6p1ncz8 --format ttl --profile sdo
      linkeddata load k9dt4hbw6p1ncz8 --store ./kg
      linkeddata query holdings-by-library --store ./kg
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:  # urllib3 warns about every retry; the error that ends the command says enough
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    ctx.ensure_object(dict)
    ctx.obj["cache"] = not no_cache
    ctx.obj["verbose"] = verbose


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _module.register(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="linkeddata")
