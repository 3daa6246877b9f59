"""Load anything a user names — files, folders, URLs, Libris ids — into a store.

>>> from linkeddata.stores import open_store
>>> classify("records/x.jsonld"), classify("https://libris.kb.se/abc"), classify("q8vlc4xd0mgr3b2")
('file', 'libris', 'libris')
>>> classify("http://127.0.0.1:8080/x.jsonld"), classify("-")
('url', 'file')
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TYPE_CHECKING

from .config import SERVICES, to_canonical_iri
from .errors import InvalidInputError, LinkedDataError, ParseError
from .records import Record
from .formats import EXTENSIONS, JSON_LINES
from .store import DEFAULT_BATCH, FILE_BATCH, LoadStats
from .store_protocol import Store

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

_SHORT_ID = re.compile(r"[0-9bcdfghjklmnpqrstvwxz]{8,17}")
#: Organisation files (PICA+ text or the ISIL agency's JSON), see :mod:`linkeddata.organisations.files`.
ORGANISATION_SUFFIXES = (".pica", ".pica.json", ".picajson")
_DATA_EXT = tuple(EXTENSIONS) + JSON_LINES + (".pica", ".picajson")


def classify(source: str) -> str:
    """``file``, ``dir``, ``libris`` (an id or Libris/id.kb.se IRI) or ``url``."""
    if source == "-":
        return "file"
    if source.startswith((SERVICES["libris"], SERVICES["id"], "http://libris.kb.se/")):
        return "libris"
    if source.lower().startswith(("http://", "https://")):
        return "url"
    path = Path(source)
    if path.is_dir():
        return "dir"
    if path.is_file() or path.suffix.lower() in _DATA_EXT or path.name.lower().endswith(".gz"):
        return "file"
    if _SHORT_ID.fullmatch(source):
        return "libris"
    raise InvalidInputError(f"{source}: not a file, folder, URL or Libris id")


def _files_in(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in _DATA_EXT:
            yield path


RDF_ACCEPT = ("text/turtle, application/ld+json;q=0.9, application/n-triples;q=0.9, application/trig;q=0.8, "
              "application/n-quads;q=0.8, application/rdf+xml;q=0.7, application/json;q=0.5")


def fetch_url(url: str, *, session: requests.Session | None = None) -> Record:
    """Fetch any linked-data URL with content negotiation over the RDF formats.

    The record's graph is the URL (without fragment) after redirects; HTML or another
    non-RDF answer raises :class:`~linkeddata.errors.NegotiationError`.
    """
    import pyoxigraph as ox

    from .errors import NegotiationError
    from .http import make_session, request

    session = session or make_session(purpose="record")
    response = request(session, "GET", url, kind="record", headers={"Accept": RDF_ACCEPT})
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    graph = to_canonical_iri(response.url.split("#", 1)[0])
    if media_type in ("application/ld+json", "application/json"):
        try:
            return Record(graph, response.json(), media_type="application/ld+json", etag=response.headers.get("ETag"),
                          source=url)
        except ValueError as exc:
            raise NegotiationError(f"{url}: {media_type} body is not JSON", url=url) from exc
    if ox.RdfFormat.from_media_type(media_type) is None:
        raise NegotiationError(f"{url}: expected RDF, got {media_type or 'no Content-Type'}", url=url)
    return Record(graph, response.content, media_type=media_type, etag=response.headers.get("ETag"), source=url)


def _fetched(sources: Iterable[str], session: requests.Session | None, fmt: str, embellished: bool | None) -> Iterator[Record]:
    """Records of remote sources; one that cannot be fetched becomes an error record (skipped, named)."""
    from .libris.read import fetch_record

    for source in sources:
        try:
            if classify(source) == "libris":
                yield fetch_record(source, format=fmt, embellished=embellished, session=session)
            else:
                yield fetch_url(source, session=session)
        except LinkedDataError as exc:
            yield Record(source, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__, source=source)


def load_sources(
    store: Store,
    sources: Iterable[str],
    *,
    format: str | None = None,
    graph: str | None = None,
    bulk: bool | None = None,
    session: requests.Session | None = None,
    fetch_format: str = "jsonld",
    embellished: bool | None = False,
    batch_size: int | None = None,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LoadStats:
    """Load files (any RDF format, JSON-LD, JSON lines; ``-`` for stdin), folders of them,
    URLs and Libris ids.

    Remote sources are fetched through ``session`` with content negotiation and loaded
    into the graph of their record IRI; local files as :meth:`LocalStore.load_file` does.
    ``batch_size`` defaults to :data:`~linkeddata.store.FILE_BATCH` records per batch from
    files and :data:`~linkeddata.store.DEFAULT_BATCH` for fetched records. Every good source loads; a source (or a record in one) that cannot be loaded is
    counted and named in ``skipped``. ``strict=True`` first reads and checks everything,
    writing nothing, and raises on the first problem; only then loads.
    Organisation files (``.pica``, ``.pica.json``, or any file with ``format="pica"``: PICA+ text or
    the ISIL agency's JSON) load as organisations (:mod:`linkeddata.organisations.files`).
    """
    sources = list(sources)
    files: list[Path | str] = []
    remote: list[str] = []
    problems: list[tuple[str, str]] = []
    for source in sources:
        try:
            kind = classify(source)
        except LinkedDataError as exc:
            problems.append((source, _reason(exc, source)))
            continue
        if kind in ("libris", "url"):
            remote.append(source)
        elif kind == "file":
            files.append(source if source == "-" else Path(source))
        else:
            found = list(_files_in(Path(source)))
            files.extend(found)
            if not found:
                problems.append((source, "no loadable files in this folder"))
    from .http import session_for

    # a session made here (only when something is remote) is closed when the load ends
    with session_for(session, "record") if remote else contextlib.nullcontext(session) as used:
        return _load_all(store, files, remote, problems, used, format=format, graph=graph, batch_size=batch_size,
                         bulk=bulk, progress=progress, strict=strict, fetch_format=fetch_format, embellished=embellished)


def _load_all(store: Store, files: list[Path | str], remote: list[str], problems: list[tuple[str, str]],
              session: requests.Session | None,
              *, format: str | None, graph: str | None, batch_size: int | None, bulk: bool | None,  # noqa: A002
              progress: Callable[[int], None] | None, strict: bool, fetch_format: str,
              embellished: bool | None) -> LoadStats:
    """The body of :func:`load_sources` once the sources are sorted into files and remote ones."""
    fetched: list[Record] | None = None
    options = dict(format=format, graph=graph, batch_size=batch_size or FILE_BATCH)
    fetch_batch = batch_size or DEFAULT_BATCH
    if strict:
        if problems:
            raise InvalidInputError(f"{problems[0][0]}: {problems[0][1]}")
        if "-" in files and len(files) > 1:
            raise InvalidInputError("-: standard input can be checked first only when it is the one source")
        for path in files:
            if _is_organisation_file(path, format):
                from .organisations.files import read_organisation_file

                bad = read_organisation_file(path)[1]
                if bad:
                    raise ParseError(f"{bad[0][0]}: {bad[0][1]}")
            elif path != "-":
                store.load_file(path, strict=True, check_only=True, **options)  # type: ignore[arg-type]
        fetched = list(_fetched(remote, session, fetch_format, embellished))
        store.load_records(fetched, strict=True, check_only=True, batch_size=fetch_batch)
    total = LoadStats()
    total.skipped.extend(problems)
    for path in files:
        try:
            if _is_organisation_file(path, format):
                from .organisations.files import load_organisation_file

                total.add(load_organisation_file(store, path, strict=strict, batch_size=batch_size))
                continue
            total.add(store.load_file(path, bulk=bulk, progress=progress, strict=strict, **options))  # type: ignore[arg-type]
        except ParseError as exc:
            if strict:
                raise
            log.info("skipped %s", exc)
            total.add(getattr(exc, "partial", LoadStats()))
            total.skipped.append((str(path), _reason(exc, str(path))))
    if remote:
        records = fetched if fetched is not None else _fetched(remote, session, fetch_format, embellished)
        total.add(store.load_records(records, batch_size=fetch_batch, progress=progress, strict=strict))
    return total


def _is_organisation_file(path: Path | str, format: str | None) -> bool:  # noqa: A002
    return path != "-" and (format == "pica" or str(path).lower().endswith(ORGANISATION_SUFFIXES))


def _reason(exc: Exception, source: str) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.removeprefix(f"{source}: ")
