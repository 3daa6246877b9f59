"""``linkeddata catalogue …``: commands that act on Libris itself (not on the local store).

login, create/update/delete records, holdings, dependencies, MARC, acquisition. Every
command that writes prints the Libris host it writes to (on stderr) before the request;
``delete`` asks for confirmation unless ``--yes``. Credentials come from
``LINKEDDATA_CLIENT_ID``/``LINKEDDATA_CLIENT_SECRET`` or the credentials file (never from
options); the active sigel from ``--sigel`` or ``LINKEDDATA_SIGEL``.

The old top-level names (``linkeddata create`` …) were removed; typing one says which
command replaced it (see :class:`linkeddata.cli.common.LinkedDataGroup`).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from .common import echo_table, get_session, output_option, progress_bar, quiet_option, read_input, write_output

sigel_option = click.option("--sigel", "sigel", default=None, metavar="SIGEL",
                            help="Active sigel (XL-Active-Sigel); default $LINKEDDATA_SIGEL.")


def _auth(sigel: str | None = None) -> Any:
    from ..auth import make_auth

    return make_auth(session=get_session(), sigel=sigel)


def _read_json(path: str) -> dict[str, Any]:
    """A JSON-LD document from the file ``path`` or standard input (``-``)."""
    from ..records import json_object

    return json_object(read_input(path), "standard input" if path == "-" else path)


def _announce_write(what: str) -> None:
    """Say on stderr which Libris host is about to be written to."""
    from ..config import service_url

    click.echo(f"{what} on Libris at {service_url('libris')}", err=True)


def register(group: click.Group) -> None:
    group.add_command(catalogue)


@click.group()
def catalogue() -> None:
    """Cataloguing on Libris itself (OAuth2): records, holdings, MARC, acquisitions.

    These commands act on the Libris server ($LINKEDDATA_LIBRIS_URL), not on the local
    store; each write first prints the host it goes to.

    \b
    Examples:
      linkeddata catalogue login
      linkeddata catalogue holdings c8pz1vn3km6tf4h --library Umu --create --shelf-mark Ueb
      linkeddata catalogue delete rknssllbbhzx221 --sigel Umu --yes
    """


def _commands(group: click.Group) -> None:
    @group.command("login")
    def login_cmd() -> None:
        """Check the OAuth2 credentials: fetch a token and show when it expires (never the token)."""
        auth = _auth()
        auth.fetch_token()
        left = (auth.expires_at or time.time()) - time.time()
        expiry = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(auth.expires_at)) if auth.expires_at else "unknown"
        click.echo(f"client {auth.client_id}: token valid until {expiry} ({left:.0f} s), scope {auth.scope or '-'}")

    @group.command("create")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @sigel_option
    def create_cmd(file: str, sigel: str | None) -> None:
        """Create a record from a flat JSON-LD FILE (- for standard input) with temporary @ids; prints the new IRI."""
        from ..libris import write

        doc = _read_json(file)
        _announce_write(f"creating a record from {file}")
        result = write.create(doc, auth=_auth(sigel), session=get_session(), sigel=sigel)
        click.echo(result.iri)

    @group.command("update")
    @click.argument("record_id")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @click.option("--etag", default=None, help="ETag the FILE was based on (default: fetch the current one).")
    @sigel_option
    def update_cmd(record_id: str, file: str, etag: str | None, sigel: str | None) -> None:
        """Replace record RECORD_ID with FILE (- for standard input; If-Match: the ETag given or fetched now)."""
        from ..libris import write

        session = get_session()
        doc = _read_json(file)
        if etag is None:
            _, etag = write.fetch_for_update(record_id, session=session)
        _announce_write(f"updating {write.record_iri(record_id)}")
        result = write.update(record_id, doc, etag, auth=_auth(sigel), session=session, sigel=sigel)
        click.echo(f"updated {result.iri} (ETag {result.etag})")

    @group.command("delete")
    @click.argument("record_id")
    @sigel_option
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def delete_cmd(record_id: str, sigel: str | None, yes: bool) -> None:
        """Delete record RECORD_ID (only records no other record links to)."""
        from ..libris import write

        from ..config import service_url

        iri = write.record_iri(record_id)
        if not yes:
            click.confirm(f"Delete {iri} on Libris at {service_url('libris')}?", abort=True)
        else:
            _announce_write(f"deleting {iri}")
        write.delete(record_id, auth=_auth(sigel), session=get_session(), sigel=sigel)
        click.echo(f"deleted {write.record_iri(record_id)}")

    @group.command("holdings")
    @click.argument("record_id")
    @click.option("--library", "library", required=True, metavar="SIGEL", help="Library sigel.")
    @click.option("--create", "create_new", is_flag=True, help="Create a holding when the library has none.")
    @click.option("--shelf-mark", default=None, help="Shelf mark of a holding created with --create.")
    def holdings_cmd(record_id: str, library: str, create_new: bool, shelf_mark: str | None) -> None:
        """List the holdings LIBRARY has on bibliographic record RECORD_ID (/_findhold)."""
        from ..libris import write

        session = get_session()
        found = write.find_holdings(record_id, library, session=session)
        for iri in found:
            click.echo(iri)
        if not found and create_new:
            doc = write.holding_document(record_id, library, shelf_mark=shelf_mark)
            _announce_write(f"creating a holding of {library}")
            result = write.create(doc, auth=_auth(library), session=session, sigel=library)
            click.echo(f"created {result.iri}")
        elif not found:
            click.echo(f"{library} has no holding on {write.record_iri(record_id)}", err=True)

    @group.command("dependencies")
    @click.argument("record_id")
    @click.option("--relation", default=None, help="Only this relation (e.g. itemOf, language).")
    @click.option("--reverse", is_flag=True, help="Records that link to RECORD_ID instead.")
    def dependencies_cmd(record_id: str, relation: str | None, reverse: bool) -> None:
        """Records RECORD_ID links to (or, with --reverse, that link to it)."""
        from ..libris import write

        for iri in write.dependencies(record_id, relation=relation, reverse=reverse, session=get_session()):
            click.echo(iri)

    @group.command("marc")
    @click.argument("record_id")
    @click.option("--library", default=None, metavar="SIGEL", help="Include this library's holdings.")
    @click.option("--format", "fmt", type=click.Choice(["iso2709", "marcxml"]), default="iso2709", show_default=True)
    @output_option("File to write (- for standard output).", required=True)
    def marc_cmd(record_id: str, library: str | None, fmt: str, output: str) -> None:
        """Download RECORD_ID as MARC21 with holdings (/_compilemarc)."""
        from ..libris import write

        data = write.compile_marc(record_id, library=library, format=fmt, session=get_session())
        write_output(output, data)

    @group.command("acquire")
    @click.argument("batch", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @click.option("--library", "library", required=True, metavar="SIGEL", help="The ordering library's sigel.")
    @click.option("--dry-run/--no-dry-run", default=True, show_default=True,
                  help="Only report what would be done.")
    @click.option("--create-new", is_flag=True, help="Create a preliminary bib record for unmatched ISBNs (level 2).")
    @click.option("--all-records", is_flag=True, help="Also records whose batch holdings name other libraries.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @quiet_option
    def acquire_cmd(batch: str, library: str, dry_run: bool, create_new: bool, all_records: bool, as_json: bool,
                    quiet: bool) -> None:
        """Supplier acquisition routine: match a MARCXML BATCH (- for standard input) on ISBN and add LIBRARY's holdings."""
        from ..libris import marc

        session = get_session()
        auth = None if dry_run else _auth(library)
        if not dry_run:
            _announce_write(f"adding holdings of {library}")
        with progress_bar(quiet, desc="acquire", unit="rec") as bar:
            source: Any = sys.stdin.buffer.read() if batch == "-" else batch  # read_marc takes bytes too
            report = marc.acquire(source, library, dry_run=dry_run, create_new=create_new,
                                  only_listed=not all_records, auth=auth, session=session,
                                  progress=lambda n: bar.update(n - bar.n))
        if as_json:
            click.echo(marc.to_json(report))
            return
        echo_table(marc.report_rows(report))
        click.echo(("DRY RUN: " if dry_run else "") + report.summary())


_commands(catalogue)
