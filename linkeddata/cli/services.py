"""Commands for Libris web-search services: xsearch, loan status and interlibrary loans."""

from __future__ import annotations

import json
from typing import Any

import click

from .common import echo_table, get_session, output_option, write_output


def _flat(value: Any) -> str:
    if value is None:
        return ""
    return "; ".join(value) if isinstance(value, list) else str(value)


def register(group: click.Group) -> None:
    @group.command("xsearch")
    @click.argument("query")
    @click.option("--format", "fmt", type=click.Choice(["table", "json", "marcxml", "mods"]), default="table",
                  show_default=True, help="table/json print hits; marcxml/mods print the XML records.")
    @click.option("--max", "max_records", type=click.IntRange(min=1), default=20, show_default=True,
                  help="At most this many hits.")
    def xsearch_cmd(query: str, fmt: str, max_records: int) -> None:
        """Search Libris with xsearch (pages of up to 200)."""
        from lxml import etree

        from ..libris import xsearch

        session = get_session()
        wire = "json" if fmt in ("table", "json") else fmt
        hits = list(xsearch.search(query, format=wire, max_records=max_records, session=session))
        if fmt == "table":
            echo_table([{"identifier": h.get("identifier"), "title": _flat(h.get("title")),
                         "creator": _flat(h.get("creator")), "date": _flat(h.get("date")),
                         "isbn": _flat(h.get("isbn"))} for h in hits],
                       headers=["identifier", "title", "creator", "date", "isbn"])
        elif fmt == "json":
            click.echo(json.dumps(hits, ensure_ascii=False, indent=2))
        else:
            for element in hits:
                click.echo(etree.tostring(element, encoding="unicode", pretty_print=True))

    @group.command("loan-status")
    @click.argument("url_template")
    @click.option("--isbn", default=None)
    @click.option("--issn", default=None)
    @click.option("--id", "bib_id", default=None, help="Libris bib id.")
    def loan_status_cmd(url_template: str, isbn: str | None, issn: str | None, bib_id: str | None) -> None:
        """Ask a library's loan-status service (URL with {isbn}/{issn}/{id}) about one title."""
        from ..libris import loans

        copies = loans.loan_status(url_template, isbn=isbn, issn=issn, id=bib_id, session=get_session())
        echo_table([{"status": c.status, "location": c.location, "call number": c.call_number, "date": c.date}
                    for c in copies], headers=["status", "location", "call number", "date"])

    @group.command("ill")
    @click.argument("path")
    @click.option("--format", "fmt", type=click.Choice(["json", "xml", "text", "pdf"]), default="json",
                  show_default=True)
    @output_option("Write to FILE instead of standard output (- for standard output).")
    def ill_cmd(path: str, fmt: str, output: str | None) -> None:
        """GET PATH from the ILLER API ($LINKEDDATA_ILL_URL, key in $LINKEDDATA_ILL_API_KEY)."""
        from lxml import etree

        from ..libris import loans

        if fmt == "pdf" and (not output or output == "-"):
            raise click.UsageError("PDF needs --output FILE")
        result = loans.ill_get(path, format=fmt, session=get_session())
        if fmt == "json":
            data: bytes = json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8")
        elif fmt == "xml":
            data = etree.tostring(result, pretty_print=True, encoding="utf-8")
        elif fmt == "text":
            data = str(result).encode("utf-8")
        else:
            data = result
        write_output(output, data)
