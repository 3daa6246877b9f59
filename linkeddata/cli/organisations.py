"""Organisation commands: ``isil search``, ``isil get`` and ``libraries``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import FormatChoice, echo_table, get_session, store_option

if TYPE_CHECKING:
    from ..organisations.model import Organisation


def register(group: click.Group) -> None:
    group.add_command(isil)
    group.add_command(libraries)


def _rows(orgs: Iterable[Organisation]) -> list[dict[str, object]]:
    return [{"ISIL": o.isil, "name": o.name, "city": o.city, "lat": o.latitude, "lon": o.longitude} for o in orgs]


def _emit(orgs: list[Organisation], store: Path | None, fmt: str) -> None:
    from ..organisations.model import organisation_records, organisations_to_graph

    if store is not None:
        from ..stores import open_store

        with open_store(store) as st:
            stats = st.load_records(organisation_records(orgs))
        click.echo(f"Loaded {stats.records} organisations ({stats.triples} triples) into {store}.")
        for iri, reason in stats.skipped:
            click.echo(f"skipped {iri}: {reason}", err=True)
        return
    if fmt == "table":
        echo_table(_rows(orgs), ["ISIL", "name", "city", "lat", "lon"])
    else:
        click.echo(organisations_to_graph(orgs, fmt).decode("utf-8"), nl=False)


_FORMAT = click.option("--format", "fmt", type=FormatChoice(["table", "nt", "ttl"]), default="table",
                       show_default=True, help="Output without --store: a table or RDF.")


@click.group()
def isil() -> None:
    """The German ISIL agency (organisations by ISIL, name, city)."""


@isil.command("search")
@click.argument("query")
@click.option("--max", "max_items", type=click.IntRange(min=1), default=None, help="Stop after N organisations.")
@click.option("--size", type=click.IntRange(min=1), default=100, show_default=True,
              help="Page size (clamped to the agency limit).")
@store_option()
@_FORMAT
def isil_search(query: str, max_items: int | None, size: int, store: Path | None, fmt: str) -> None:
    """Search the ISIL agency with a query such as 'nam=bibliothek AND ort=berlin', or '*' for all.

    \b
    Examples:
      linkeddata isil search 'nam=institut AND ort=münchen'
      linkeddata isil search 'ort=köln' --max 20 --format ttl
      linkeddata isil search 'ort=berlin' --store ./kg
    """
    from ..organisations.isil import search_organisations

    hits = search_organisations(query, size=size, max_items=max_items, session=get_session())
    orgs = list(hits)
    _emit(orgs, store, fmt)
    if fmt == "table" and store is None:
        click.echo(f"{len(orgs)} of {hits.total} organisations.", err=True)
    for page, reason in hits.skipped:
        click.echo(f"skipped a record on page {page}: {reason}", err=True)


@isil.command("get")
@click.argument("isils", nargs=-1, required=True)
@store_option()
@_FORMAT
def isil_get(isils: tuple[str, ...], store: Path | None, fmt: str) -> None:
    """Fetch organisations by ISIL (all ISILs are checked before any request).

    \b
    Examples:
      linkeddata isil get DE-12 DE-7
      linkeddata isil get DE-12 --store ./kg
    """
    from ..organisations.isil import get_organisations

    _emit(list(get_organisations(list(isils), session=get_session())), store, fmt)


@click.command()
@click.argument("sigels", nargs=-1)
@click.option("--bibliographies", is_flag=True, help="List bibliographies instead of libraries.")
@store_option()
@_FORMAT
def libraries(sigels: tuple[str, ...], bibliographies: bool, store: Path | None, fmt: str) -> None:
    """Swedish libraries from the library database (all, or the given sigels).

    \b
    Examples:
      linkeddata libraries S Uu L
      linkeddata libraries --store ./kg
    """
    from ..organisations.bibdb import get_libraries, iter_libraries

    session = get_session()
    if sigels:
        orgs = list(get_libraries(list(sigels), session=session))
    else:
        orgs = list(iter_libraries(org_type="bibliography" if bibliographies else "library", session=session))
    _emit(orgs, store, fmt)
