"""``linkeddata oai identify|sets|formats|identifiers|get``: the OAI-PMH verbs, one command each.

Harvests (ListRecords) are ``linkeddata harvest oai``: into the store, or with ``--out DIR`` to files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import echo_table, get_session


def register(group: click.Group) -> None:
    group.add_command(oai)


def _client(url: str | None) -> Any:
    from ..libris.oaipmh import OAIClient

    return OAIClient(url, get_session(purpose="harvest"))  # OAI answers change between requests: no HTTP cache


_url_option = click.option("--oai-url", "url", default=None, metavar="URL",
                           help="OAI-PMH base URL (default: $LINKEDDATA_OAIPMH_URL).")


@click.group()
def oai() -> None:
    """Ask the Libris OAI-PMH provider (Identify, ListSets, ListMetadataFormats, ListIdentifiers, GetRecord).

    \b
    Examples:
      linkeddata oai identify
      linkeddata oai formats
      linkeddata oai identifiers --set hold:S --from 2026-01-01 --max 20
      linkeddata oai get f5nc8rlm2x0vq7s --prefix marcxml_includehold
    """


@oai.command("identify")
@_url_option
def identify_cmd(url: str | None) -> None:
    """The repository description (Identify)."""
    info = _client(url).identify()
    for label, value in (("repository", info.repository_name), ("base URL", info.base_url),
                         ("protocol", info.protocol_version), ("earliest datestamp", info.earliest_datestamp),
                         ("deleted records", info.deleted_record), ("granularity", info.granularity),
                         ("admin e-mail", ", ".join(info.admin_emails))):
        click.echo(f"{label}: {value}")


@oai.command("sets")
@_url_option
def sets_cmd(url: str | None) -> None:
    """The sets (ListSets): bib, auth, hold, nb, sao, then hold:<sigel>/bib:<sigel> per library."""
    echo_table([{"set": s.spec, "name": s.name} for s in _client(url).list_sets()], headers=["set", "name"])


@oai.command("formats")
@click.option("--id", "identifier", default=None, help="Only the formats of this record.")
@_url_option
def formats_cmd(identifier: str | None, url: str | None) -> None:
    """The metadataPrefix values (ListMetadataFormats) and where `harvest oai` puts each."""
    from ..libris.oaipmh import FILE_PREFIXES, STORE_PREFIXES

    rows = []
    for fmt in sorted(_client(url).list_metadata_formats(identifier), key=lambda f: f.prefix):
        target = " or ".join(t for t, group in (("store", STORE_PREFIXES), ("files", FILE_PREFIXES))
                             if fmt.prefix in group) or "-"
        rows.append({"prefix": fmt.prefix, "harvest to": target, "namespace": fmt.namespace})
    echo_table(rows, headers=["prefix", "harvest to", "namespace"])


@oai.command("identifiers")
@click.option("--set", "set_spec", help="bib, auth, hold, hold:<sigel>, bib:<sigel>, nb or sao.")
@click.option("--from", "from_", help="From this date or time (inclusive, YYYY-MM-DD or ISO).")
@click.option("--until", help="Until this date or time (inclusive).")
@click.option("--prefix", default="jsonld", show_default=True, help="metadataPrefix.")
@click.option("--max", "max_items", type=click.IntRange(min=1), default=None, help="Stop after this many headers.")
@_url_option
def identifiers_cmd(set_spec: str | None, from_: str | None, until: str | None, prefix: str,
                    max_items: int | None, url: str | None) -> None:
    """Record headers (ListIdentifiers): identifier, datestamp, deleted, sets."""
    from itertools import islice

    items = _client(url).list_identifiers(prefix, set_spec, from_, until)
    rows = [{"identifier": r.header.identifier, "datestamp": r.header.datestamp or "",
             "deleted": "deleted" if r.header.deleted else "", "sets": " ".join(r.header.setspecs)}
            for r in islice(items, max_items)]
    echo_table(rows, headers=["identifier", "datestamp", "deleted", "sets"])


@oai.command("get")
@click.argument("identifier")
@click.option("--prefix", default="jsonld", show_default=True,
              help="metadataPrefix (any of `linkeddata oai formats`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the metadata to a file instead of stdout ('-': stdout).")
@_url_option
def get_cmd(identifier: str, prefix: str, output: Path | None, url: str | None) -> None:
    """One record (GetRecord) by any IRI or short id Libris knows for it; its metadata is printed
    (with _includehold, each holding follows)."""
    from ..config import SERVICES
    from ..errors import NotFoundError

    if not identifier.startswith(("http://", "https://")):
        identifier = SERVICES["libris"].rstrip("/") + "/" + identifier
    record = _client(url).get_record(identifier, prefix)
    if record is None:
        raise NotFoundError(f"OAI-PMH has no record {identifier}")
    parts = [f"# {record.header.identifier} {record.header.datestamp or ''}"
             + (" deleted" if record.header.deleted else "")]
    if record.metadata is not None:
        parts.append(record.metadata)
    for extra in record.attached:
        parts.append(f"# {extra.kind} {extra.iri}" + (f" ({extra.sigel})" if extra.sigel else ""))
        parts.append(extra.metadata)
    text = "\n".join(parts) + "\n"
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {record.header.identifier} to {output}")
