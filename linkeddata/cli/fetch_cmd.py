"""``linkeddata fetch``: one record in the representation you ask for.

Wired into the CLI by ``core.register`` calling :func:`add_fetch`.
"""

from __future__ import annotations

from typing import Any

import click

from ..libris.read import FORMATS, fetch_record
from .common import FormatChoice, get_session, output_option, write_output

_HEADER_NAMES = ("ETag", "Last-Modified", "Content-Type", "Content-Profile", "Content-Location")


def _map_locally(record: Any, profile: str) -> Any:
    """Hook for ``--map-locally``: map the fetched JSON-LD offline with :mod:`linkeddata.profiles`."""
    try:
        from ..profiles import map_document
    except ImportError as exc:  # pragma: no cover - the profiles module ships with the package
        raise click.ClickException("--map-locally needs linkeddata.profiles") from exc
    return map_document(record, profile, session=get_session())


@click.command("fetch")
@click.argument("id_or_iri")
@click.option("--format", "-f", "fmt", type=FormatChoice(list(FORMATS)), default="jsonld", show_default=True,
              help="Representation to ask for (turtle, xml and json-ld are other names of ttl, rdf and jsonld).")
@click.option("--profile", default=None, help="Target profile: sdo, bibo, loc or a profile IRI.")
@click.option("--profile-via", type=click.Choice(["header", "query"]), default="header", show_default=True,
              help="Send the profile as Accept-Profile or as ?profile=.")
@click.option("--lens", type=click.Choice(["chip", "card", "none"], case_sensitive=False), default=None,
              help="Reduce the main entity to a chip or card.")
@click.option("--embellished/--no-embellished", default=None, help="Include linked records (server default: yes).")
@click.option("--framed", is_flag=True, default=None, help="Ask for a framed tree instead of a flat @graph.")
@click.option("--extension", is_flag=True, help="Use /data.<ext> instead of content negotiation.")
@click.option("--map-locally", is_flag=True,
              help="Fetch plain KBV JSON-LD and map it to --profile here (offline mapping).")
@click.option("--libris-url", default=None, metavar="URL", help="Libris base URL (default: $LINKEDDATA_LIBRIS_URL).")
@output_option("Write the body to FILE instead of standard output (- for standard output).")
@click.option("--headers", "show_headers", is_flag=True, help="Print ETag, Last-Modified, Content-Type, Content-Profile, Content-Location on stderr.")
def fetch_command(id_or_iri: str, fmt: str, profile: str | None, profile_via: str, lens: str | None,
                  embellished: bool | None, framed: bool | None, extension: bool, map_locally: bool,
                  libris_url: str | None, output: str | None, show_headers: bool) -> None:
    """Fetch one Libris record by short id, record IRI, thing IRI or legacy bib IRI.

    \b
    Examples:
      linkeddata fetch k9dt4hbw6p1ncz8
      linkeddata fetch k9dt4hbw6p1ncz8 --format ttl --profile sdo -o k9.ttl
      linkeddata fetch http://libris.kb.se/bib/12990871 --lens card --headers
    """
    if map_locally and not profile:
        raise click.UsageError("--map-locally needs --profile")
    if map_locally and fmt != "jsonld":
        raise click.UsageError("--map-locally works on JSON-LD (--format jsonld)")
    record = fetch_record(id_or_iri, format=fmt, profile=None if map_locally else profile, profile_via=profile_via,
                          lens=lens, embellished=embellished, framed=framed, use_extension=extension,
                          session=get_session(), base_url=libris_url)
    if map_locally and profile:
        mapped = _map_locally(record, profile)
        record.data = mapped.data if hasattr(mapped, "data") else mapped
    if show_headers:
        for name in _HEADER_NAMES:
            value = record.headers.get(name) or (record.last_modified if name == "Last-Modified" else None)
            if value:
                click.echo(f"{name}: {value}", err=True)
    write_output(output, record.content())


def add_fetch(group: click.Group) -> None:
    """Add ``fetch`` to the CLI group."""
    group.add_command(fetch_command)
