"""Libris endpoints as commands: ``find`` (a listing), ``history``, ``convert``, ``remote-search``,
``marc-export``. Each calls one function of the Python API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .common import echo_table, get_session, store_option


def register(group: click.Group) -> None:
    for command in (find_cmd, history_cmd, convert_cmd, remote_search_cmd, marc_export_cmd):
        group.add_command(command)


def _label(node: Any) -> str:
    """A short label of a search card (title, preferred label or name)."""
    if not isinstance(node, dict):
        return ""
    for title in node.get("hasTitle") or []:
        if isinstance(title, dict) and title.get("mainTitle"):
            return str(title["mainTitle"])
    for key in ("prefLabel", "name", "label", "code"):
        value = node.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str):
            return value
    if node.get("givenName") or node.get("familyName"):
        return " ".join(str(node.get(k, "")) for k in ("givenName", "familyName")).strip()
    return ""


@click.command("find")
@click.argument("query", default="*")
@click.option("--filter", "filters", multiple=True, metavar="FIELD=VALUE",
              help="A /find filter, prefixes allowed (not-, or-, exists-, min-, max-, matches-...); repeatable.")
@click.option("--max", "max_items", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many hits.")
@click.option("--format", "fmt", type=click.Choice(["table", "ids", "jsonl"]), default="table", show_default=True,
              help="table: id, type and label; ids: one IRI a line; jsonl: each search card as JSON.")
@click.option("--libris-url", default=None, metavar="URL", help="Libris base URL (default: $LINKEDDATA_LIBRIS_URL).")
def find_cmd(query: str, filters: tuple[str, ...], max_items: int, fmt: str, libris_url: str | None) -> None:
    """List /find hits of QUERY (to load them all, use `harvest find`).

    \b
    Examples:
      linkeddata find "tove jansson" --filter @type=Instance --max 5
      linkeddata find "*" --filter itemOf.@id=https://libris.kb.se/f5nc8rlm2x0vq7s#it --format ids
    """
    from ..libris.find import iter_find, parse_filter_args

    results = iter_find([("q", query)] + parse_filter_args(filters), page_size=min(max_items, 200),
                        max_items=max_items, session=get_session(), base_url=libris_url)
    rows = []
    for record in results:
        card = record.data if isinstance(record.data, dict) else {}
        if fmt == "ids":
            click.echo(record.iri)
        elif fmt == "jsonl":
            click.echo(json.dumps(card, ensure_ascii=False))
        else:
            thing = (card.get("@graph") or [card, card])[1 if len(card.get("@graph") or []) > 1 else 0] \
                if isinstance(card.get("@graph"), list) else card
            rows.append({"id": record.iri, "type": str(thing.get("@type", "")), "label": _label(thing)})
    if fmt == "table":
        echo_table(rows, ["id", "type", "label"])
        click.echo(f"{len(rows)} of {results.total} hits.", err=True)


@click.command("history")
@click.argument("record_id")
@click.option("--version", "version", type=click.IntRange(min=0), default=None,
              help="Print (or with --store, load) this version of the record.")
@store_option()
@click.option("--libris-url", default=None, metavar="URL", help="Libris base URL (default: $LINKEDDATA_LIBRIS_URL).")
def history_cmd(record_id: str, version: int | None, store: Path | None, libris_url: str | None) -> None:
    """The change history of RECORD_ID (/_changesets), or one past version (?version=N).

    \b
    Examples:
      linkeddata history f5nc8rlm2x0vq7s
      linkeddata history f5nc8rlm2x0vq7s --version 0
      linkeddata history f5nc8rlm2x0vq7s --version 0 --store ./kg   # graph <…/data?version=0>
    """
    from ..libris import history

    session = get_session()
    if version is None:
        if store is not None:
            raise click.UsageError("--store needs --version N")
        sets = history.get_changesets(record_id, session=session, base_url=libris_url)
        echo_table([{"version": c.number, "date": c.date or "", "agent": c.agent or "", "tool": c.tool or "",
                     "added": len(c.added_paths), "removed": len(c.removed_paths)} for c in sets],
                   ["version", "date", "agent", "tool", "added", "removed"])
        return
    if store is None:
        record = history.get_version(record_id, version, session=session, base_url=libris_url)
        click.echo(json.dumps(record.data, ensure_ascii=False, indent=2))
        return
    from ..stores import open_store

    with open_store(store) as st:
        record = history.load_version(st, record_id, version, session=session, base_url=libris_url)
    click.echo(f"Loaded version {version} of {record_id} into graph <{record.iri}>.")


@click.command("convert")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--libris-url", default=None, metavar="URL", help="Libris base URL (default: $LINKEDDATA_LIBRIS_URL).")
def convert_cmd(file: Path, libris_url: str | None) -> None:
    """Preview a JSON-LD record (FILE or '-') as MARC-in-JSON (/_convert, no login needed)."""
    from ..errors import ParseError
    from ..libris.write import convert_to_marc

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        doc = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"{file}: not a readable JSON-LD file ({exc})") from exc
    if not isinstance(doc, dict):
        raise ParseError(f"{file}: a JSON-LD record is an object")
    click.echo(json.dumps(convert_to_marc(doc, session=get_session(), base_url=libris_url), ensure_ascii=False,
                          indent=2))


@click.command("remote-search")
@click.argument("query", required=False)
@click.option("--databases", default="LC", show_default=True, help="Comma-separated database names.")
@click.option("--list", "list_databases", is_flag=True, help="List the databases instead of searching.")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("-n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="Hits per database.")
@click.option("--libris-url", default=None, metavar="URL", help="Libris base URL (default: $LINKEDDATA_LIBRIS_URL).")
def remote_search_cmd(query: str | None, databases: str, list_databases: bool, start: int, n: int,
                      libris_url: str | None) -> None:
    """Search external databases through Libris (/_remotesearch; needs a login, see `linkeddata login`).

    \b
    Examples:
      linkeddata remote-search --list
      linkeddata remote-search "tove jansson" --databases LC,BIBSYS
    """
    from ..auth import make_auth
    from ..libris.write import remote_databases, remote_search

    session = get_session()
    auth = make_auth(session=session)
    if list_databases:
        dbs = remote_databases(auth=auth, session=session, base_url=libris_url)
        echo_table([{k: d.get(k, "") for k in ("database", "name", "country")} for d in dbs],
                   ["database", "name", "country"])
        return
    if not query:
        raise click.UsageError("give a QUERY, or --list for the databases")
    result = remote_search(query, start=start, n=n, databases=databases, auth=auth, session=session,
                           base_url=libris_url)
    for db, total in (result.get("totalResults") or {}).items():
        click.echo(f"{db}: {total} hits", err=True)
    for db, message in (result.get("errors") or {}).items():
        click.echo(f"{db}: error: {message}", err=True)
    rows = []
    for item in result.get("items") or []:
        data = item.get("data") if isinstance(item, dict) else None
        graph = data.get("@graph") if isinstance(data, dict) else None
        thing = graph[1] if isinstance(graph, list) and len(graph) > 1 else {}
        rows.append({"database": item.get("database", ""), "id": (graph or [{}])[0].get("@id", "") if graph else "",
                     "label": _label(thing)})
    echo_table(rows, ["database", "id", "label"])


@click.command("marc-export")
@click.argument("profile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "since", required=True, help="Start of the window, e.g. 2026-01-01T00:00:00Z.")
@click.option("--until", required=True, help="End of the window.")
@click.option("--deleted", type=click.Choice(["ignore", "export", "append"]), default="ignore", show_default=True,
              help="What to do with deleted records.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--libris-url", "url", default=None, metavar="URL", help="Libris base URL (default: $LINKEDDATA_LIBRIS_URL).")
def marc_export_cmd(profile: Path, since: str, until: str, deleted: str, output: Path, url: str | None) -> None:
    """Export MARC21 changed in a time window with an export PROFILE (Java properties file)."""
    from ..libris.marc import export_marc

    result = export_marc(profile, since, until, output, deleted=deleted, session=get_session(), base_url=url)
    click.echo(f"wrote {result.bytes} bytes ({result.format}) to {result.path}")
