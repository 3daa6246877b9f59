"""Create, update and delete Libris records, and the cataloguing helper endpoints.

Writes need an OAuth2 client (see :mod:`linkeddata.auth`) and an active sigel
(``XL-Active-Sigel``, one of the client's sigels). Level 1 clients may only write
holdings of their sigels; level 2 clients also bibliographic records.

* :func:`create` — ``POST /data`` with a flat ``{"@graph": [Record, mainEntity, …]}``
  using temporary ``@id``\\ s → the new record IRI (201 + ``Location``).
* :func:`update` — ``PUT /<id>`` with ``If-Match: <ETag>`` (204). A stale ETag gives
  409 (seed 001) or 412 (the server code): both raise :class:`ConflictError`.
* :func:`safe_update` — fetch, apply a change function, PUT; re-fetch and retry on conflict.
* :func:`delete` — ``DELETE /<id>`` (204); a record others link to cannot be deleted (403).
* :func:`find_holdings` (``/_findhold``), :func:`dependencies` (``/_dependencies``),
  :func:`compile_marc` (``/_compilemarc``), :func:`convert_to_marc` (``/_convert``),
  :func:`remote_search` (``/_remotesearch``, token needed).

Documents are checked locally before sending (:func:`validate_document`): they must
expand as JSON-LD, have a Record and a main entity, and holdings need ``heldBy`` and
``itemOf``.

Example (against the loopback emulator)::

    from linkeddata.emulator import Emulator
    from linkeddata.libris import write

    with Emulator(services=["libris", "login"]) as emu, emu.environment():
        auth = write.make_auth("test-holdings", "holdings-secret", sigel="Umu")
        doc = write.holding_document("https://libris.kb.se/c8pz1vn3km6tf4h", "Umu")
        iri = write.create(doc, auth=auth).iri
        write.safe_update(iri, lambda d: d, auth=auth)
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from ..auth import LibrisAuth, make_auth, resolve_sigel
from ..config import SERVICES, library_iri, service_url, to_canonical_iri
from ..errors import BadResponseError, ConflictError, HTTPError, InvalidInputError, LinkedDataError
from ..http import error_class, error_for, invalidate, make_session, request, response_json, server_message, uncached

log = logging.getLogger(__name__)

LD_JSON = "application/ld+json"
MARC_JSON = "application/x-marc-json"
TEMP_BASE = "https://id.kb.se/TEMPID"
#: Statuses the write endpoints answer that we turn into errors ourselves.
_HANDLED = (400, 401, 403, 404, 405, 406, 409, 410, 412)

__all__ = [
    "WriteResult", "create", "update", "delete", "fetch_for_update", "safe_update", "validate_document",
    "holding_document", "find_holdings", "dependencies", "compile_marc", "convert_to_marc", "remote_search",
    "remote_databases", "library_iri", "record_iri", "make_auth",
]


@dataclass
class WriteResult:
    """The outcome of a create or update: the canonical record IRI and its new ETag."""

    iri: str
    etag: str | None = None
    status: int = 0


# ---------------------------------------------------------------- ids


def record_iri(id_or_iri: str) -> str:
    """The canonical IRI of a record given as short id, IRI, thing IRI or configured-base URL.

    >>> record_iri("s93ns5h436dxqsh")
    'https://libris.kb.se/s93ns5h436dxqsh'
    >>> record_iri("http://libris.kb.se/bib/1234")
    'http://libris.kb.se/bib/1234'
    """
    from .read import record_iri as canonical_record_iri

    return canonical_record_iri(id_or_iri)


def _url(id_or_iri: str, base_url: str | None) -> str:
    iri = record_iri(id_or_iri)
    if not iri.startswith(SERVICES["libris"] + "/"):
        raise InvalidInputError(f"{id_or_iri} is not a record IRI of {SERVICES['libris']}; use its short id")
    return service_url("libris", base_url) + iri[len(SERVICES["libris"]):]


# ---------------------------------------------------------------- validation


def _graph(doc: Any) -> list[Any]:
    graph = doc.get("@graph") if isinstance(doc, dict) else None
    return graph if isinstance(graph, list) else []


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("@type")
    return [t] if isinstance(t, str) else list(t or [])


def _link(node: dict[str, Any], key: str) -> str | None:
    value = node.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return value.get("@id") if isinstance(value, dict) else None


def validate_document(doc: Any, *, what: str = "document", expand: bool = True) -> None:
    """Check a record before sending it; raise :class:`InvalidInputError` naming the problem.

    The document must be ``{"@graph": [Record, mainEntity, …]}`` where the Record's
    ``mainEntity`` is the second node; a holding (``Item``) needs ``heldBy`` and
    ``itemOf``; and with ``expand`` the document must expand as JSON-LD (KBV context).

    >>> validate_document({"@graph": [{"@id": "x"}]}, expand=False)
    Traceback (most recent call last):
    ...
    linkeddata.errors.InvalidInputError: document: the first @graph node must be a Record with @id and mainEntity
    """
    graph = _graph(doc)
    if not graph or not all(isinstance(n, dict) for n in graph):
        raise InvalidInputError(f"{what}: expected a flat JSON-LD object {{\"@graph\": [Record, mainEntity, ...]}}")
    record = graph[0]
    if "Record" not in _types(record) or not record.get("@id") or not _link(record, "mainEntity"):
        raise InvalidInputError(f"{what}: the first @graph node must be a Record with @id and mainEntity")
    if len(graph) < 2 or graph[1].get("@id") != _link(record, "mainEntity"):
        raise InvalidInputError(f"{what}: the second @graph node must be the main entity "
                                f"({_link(record, 'mainEntity')}) with that @id")
    thing = graph[1]
    if not _types(thing):
        raise InvalidInputError(f"{what}: the main entity has no @type")
    if "Item" in _types(thing):
        missing = [k for k in ("heldBy", "itemOf") if not _link(thing, k)]
        if missing:
            raise InvalidInputError(f"{what}: a holding (Item) needs {' and '.join(missing)}")
    if expand:
        from ..jsonld import expand as jsonld_expand

        try:
            expanded = jsonld_expand(doc)
        except LinkedDataError as exc:
            raise InvalidInputError(f"{what}: does not expand as JSON-LD: {exc}") from exc
        if not expanded:
            raise InvalidInputError(f"{what}: expands to nothing (no terms of the KBV context?)")


def holding_document(item_of: str, sigel: str, *, shelf_mark: str | None = None,
                     location: str | None = None, temp_id: str | None = None) -> dict[str, Any]:
    """A new holding for ``sigel`` on a bibliographic record, with temporary ids.

    >>> doc = holding_document("https://libris.kb.se/c8pz1vn3km6tf4h", "Umu", shelf_mark="Ueb")
    >>> doc["@graph"][1]["itemOf"]
    {'@id': 'https://libris.kb.se/c8pz1vn3km6tf4h#it'}
    """
    temp = temp_id or f"{TEMP_BASE}{uuid.uuid4().hex[:12]}"
    target = item_of if "#" in item_of else record_iri(item_of) + "#it"
    item: dict[str, Any] = {"@id": temp + "#it", "@type": "Item", "heldBy": {"@id": library_iri(sigel)},
                            "itemOf": {"@id": target}}
    component: dict[str, Any] = {}
    if shelf_mark:
        component["shelfMark"] = {"@type": "ShelfMark", "label": [shelf_mark]}
    if location:
        component["physicalLocation"] = [location]
    if component:
        item["hasComponent"] = [{"@type": "Item", "heldBy": {"@id": library_iri(sigel)}, **component}]
    return {"@graph": [
        {"@id": temp, "@type": "Record", "mainEntity": {"@id": temp + "#it"}},
        item,
    ]}


# ---------------------------------------------------------------- plumbing


class _Context:
    """Session, auth, sigel and base URL for one call."""

    def __init__(self, session: requests.Session | None, auth: LibrisAuth | None, sigel: str | None,
                 base_url: str | None, need_auth: bool = True):
        self.session = session or make_session(purpose="write")
        self.base = service_url("libris", base_url)
        self.auth = auth
        if need_auth and self.auth is None:
            self.auth = make_auth(session=self.session)
        self._sigel = sigel

    @property
    def sigel(self) -> str:
        return resolve_sigel(self._sigel or (self.auth.sigel if self.auth else None))


def _error(response: requests.Response, what: str, op: str) -> HTTPError:
    """http's status mapping (:func:`~linkeddata.http.error_class`) with the write API's hints."""
    status = response.status_code
    url = response.url
    msg = server_message(response)
    suffix = f": {msg}" if msg else ""
    message: str | None = None
    cls = error_class(status)
    if status == 401:
        message = f"{what}: not authorised (HTTP 401{suffix}); check the client credentials"
    elif status == 403 and op == "delete" and re.search(r"link", msg, re.I):
        cls = ConflictError  # not a permission problem: other records still link to it
        message = (f"cannot delete {what}: other records link to it (HTTP 403{suffix}); "
                   "delete or move those (e.g. holdings) first")
    elif status == 403:
        message = f"{what}: forbidden (HTTP 403{suffix}); the client's level or sigels do not allow this"
    elif status in (409, 412) and op == "update":
        message = (f"{what} was changed by someone else (HTTP {status}); re-fetch it and apply "
                   "your change again (safe_update does this)")
    elif status == 409 or (status == 400 and op == "create" and re.search(r"hold", msg, re.I)
                           and re.search(r"exist|duplicate|already", msg, re.I)):
        cls = ConflictError
        message = (f"{what}: duplicate holding: the library already has a holding for this record "
                   f"(HTTP {status}{suffix}); use find_holdings() and update that one")
    elif status not in (404, 410):
        message = f"{what}: HTTP {status}{suffix}"
    if message is None:
        return error_for(response, what)
    return cls(message, url=url, status=status)


def _send(ctx: _Context, method: str, url: str, *, what: str, op: str, ok: tuple[int, ...], auth: bool = True,
          **kwargs: Any) -> requests.Response:
    response = request(ctx.session, method, url, ok=ok + _HANDLED, what=what,
                       auth=ctx.auth if auth else None, **kwargs)
    if response.status_code not in ok:
        raise _error(response, what, op)
    return response


def _body(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "@context"}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _etag(response: requests.Response) -> str | None:
    return response.headers.get("ETag")


# ---------------------------------------------------------------- CRUD


def create(doc: dict[str, Any], *, sigel: str | None = None, auth: LibrisAuth | None = None,
           session: requests.Session | None = None, base_url: str | None = None,
           validate: bool = True) -> WriteResult:
    """Create a record (``POST /data``); return its canonical IRI and ETag.

    ``doc`` uses temporary ``@id``\\ s (see :func:`holding_document`). A second holding for
    the same library and record raises :class:`ConflictError` (duplicate holding).
    """
    if validate:
        validate_document(doc, what="new record")
    ctx = _Context(session, auth, sigel, base_url)
    graph = _graph(doc)
    types = _types(graph[1]) if len(graph) > 1 and isinstance(graph[1], dict) else []
    what = f"new record ({types[0] if types else '?'}) as {ctx.sigel}"
    response = _send(ctx, "POST", ctx.base + "/data", what=what, op="create", ok=(201,), data=_body(doc),
                     headers={"Content-Type": LD_JSON, "XL-Active-Sigel": ctx.sigel, "Accept": LD_JSON})
    location = response.headers.get("Location")
    if not location:
        raise BadResponseError(f"{what}: 201 without a Location header", url=response.url, status=201)
    iri = to_canonical_iri(location)
    invalidate(ctx.session, _url(iri, base_url))
    log.info("created %s", iri)
    return WriteResult(iri, _etag(response), response.status_code)


def fetch_for_update(id: str, *, session: requests.Session | None = None,
                     base_url: str | None = None) -> tuple[dict[str, Any], str]:
    """GET a record as stored (not embellished), bypassing the cache; returns ``(doc, etag)``."""
    ctx = _Context(session, None, "-", base_url, need_auth=False)
    url = _url(id, base_url)
    with uncached(ctx.session):
        response = request(ctx.session, "GET", url, what=f"record {record_iri(id)}",
                           params={"embellished": "false"}, headers={"Accept": LD_JSON})
    etag = _etag(response)
    if not etag:
        raise BadResponseError(f"record {record_iri(id)}: no ETag in the answer; cannot update safely", url=url)
    doc = response_json(response, f"record {record_iri(id)}")
    return doc, etag


def update(id: str, doc: dict[str, Any], etag: str, *, sigel: str | None = None, auth: LibrisAuth | None = None,
           session: requests.Session | None = None, base_url: str | None = None,
           validate: bool = True) -> WriteResult:
    """Replace a record (``PUT /<id>`` with ``If-Match: etag``).

    Raises :class:`ConflictError` when the record changed since ``etag`` was read.
    """
    iri = record_iri(id)
    if validate:
        validate_document(doc, what=f"record {iri}")
    ctx = _Context(session, auth, sigel, base_url)
    if not etag:
        raise InvalidInputError(f"record {iri}: an ETag (If-Match) is needed to update; fetch the record first")
    response = _send(ctx, "PUT", _url(id, base_url), what=f"record {iri}", op="update", ok=(204, 200),
                     data=_body(doc), headers={"Content-Type": LD_JSON, "If-Match": etag,
                                               "XL-Active-Sigel": ctx.sigel})
    invalidate(ctx.session, _url(id, base_url))  # a later fetch never sees the old record
    log.info("updated %s", iri)
    return WriteResult(iri, _etag(response), response.status_code)


def safe_update(id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None], retries: int = 3, *,
                sigel: str | None = None, auth: LibrisAuth | None = None,
                session: requests.Session | None = None, base_url: str | None = None) -> WriteResult:
    """Fetch a record, apply ``change`` and PUT it; on a conflict re-fetch and try again.

    ``change`` gets a copy of the stored document and returns the new one (or ``None``
    after changing it in place). It may be called up to ``retries`` times, so it must
    not have side effects. Raises :class:`ConflictError` when every attempt conflicted.
    """
    session = session or make_session(purpose="write")
    ctx = _Context(session, auth, sigel, base_url)
    last: ConflictError | None = None
    for attempt in range(1, max(1, retries) + 1):
        doc, etag = fetch_for_update(id, session=session, base_url=base_url)
        working = copy.deepcopy(doc)
        new = change(working)
        new = working if new is None else new
        try:
            return update(id, new, etag, sigel=ctx.sigel, auth=ctx.auth, session=session, base_url=base_url)
        except ConflictError as exc:
            last = exc
            log.info("conflict updating %s (attempt %d of %d); re-fetching", record_iri(id), attempt, retries)
    raise ConflictError(f"record {record_iri(id)}: still conflicting after {retries} attempts; "
                        "someone keeps changing it", url=getattr(last, "url", None), status=getattr(last, "status", None))


def delete(id: str, *, sigel: str | None = None, auth: LibrisAuth | None = None,
           session: requests.Session | None = None, base_url: str | None = None) -> None:
    """Delete a record (``DELETE /<id>``). Records other records link to cannot be deleted."""
    ctx = _Context(session, auth, sigel, base_url)
    iri = record_iri(id)
    _send(ctx, "DELETE", _url(id, base_url), what=f"record {iri}", op="delete", ok=(204, 200),
          headers={"XL-Active-Sigel": ctx.sigel})
    invalidate(ctx.session, _url(id, base_url))
    log.info("deleted %s", iri)


# ---------------------------------------------------------------- helper endpoints


def find_holdings(id: str, sigel: str, *, session: requests.Session | None = None,
                  base_url: str | None = None) -> list[str]:
    """IRIs of the holdings ``sigel`` has for bibliographic record ``id`` (``/_findhold``)."""
    ctx = _Context(session, None, sigel, base_url, need_auth=False)
    iri = record_iri(id)
    with uncached(ctx.session):
        response = _send(ctx, "GET", ctx.base + "/_findhold", what=f"holdings of {sigel} on {iri}", op="read",
                         ok=(200,), auth=False, params={"id": iri, "library": library_iri(sigel)},
                         headers={"Accept": "application/json"})
    return [to_canonical_iri(x) for x in _json(response, "/_findhold")]


def dependencies(id: str, relation: str | None = None, reverse: bool = False, *,
                 session: requests.Session | None = None, base_url: str | None = None) -> list[str]:
    """Records ``id`` links to (or, with ``reverse``, that link to it), optionally by one relation."""
    ctx = _Context(session, None, "-", base_url, need_auth=False)
    iri = record_iri(id)
    params = {"id": iri}
    if relation:
        params["relation"] = relation
    if reverse:
        params["reverse"] = "true"
    with uncached(ctx.session):
        response = _send(ctx, "GET", ctx.base + "/_dependencies", what=f"dependencies of {iri}", op="read",
                         ok=(200,), auth=False, params=params, headers={"Accept": "application/json"})
    return [to_canonical_iri(x) for x in _json(response, "/_dependencies")]


def compile_marc(id: str, library: str | None = None, *, format: str = "iso2709",
                 session: requests.Session | None = None, base_url: str | None = None) -> bytes:
    """A bibliographic record with holdings (of ``library``) in MARC21 (``/_compilemarc``).

    ``format`` is ``iso2709`` (default) or ``marcxml``. ``library`` is a sigel or library IRI.
    """
    if format.lower() not in ("iso2709", "marc21", "marcxml"):
        raise InvalidInputError(f"unknown MARC format {format!r}: use iso2709 or marcxml")
    ctx = _Context(session, None, "-", base_url, need_auth=False)
    iri = record_iri(id)
    params = {"id": iri}
    if library:
        params["library"] = library_iri(library)
    if format.lower() == "marcxml":
        params["format"] = "MARCXML"
    with uncached(ctx.session):
        response = _send(ctx, "GET", ctx.base + "/_compilemarc", what=f"MARC21 of {iri}", op="read", ok=(200,),
                         auth=False, params=params)
    return response.content


def convert_to_marc(doc: dict[str, Any], *, session: requests.Session | None = None,
                    base_url: str | None = None) -> dict[str, Any]:
    """Preview a JSON-LD record as MARC-in-JSON (``/_convert``; no token needed)."""
    validate_document(doc, what="document to convert", expand=False)
    ctx = _Context(session, None, "-", base_url, need_auth=False)
    response = _send(ctx, "POST", ctx.base + "/_convert", what="MARC conversion", op="read", ok=(200,),
                     auth=False, data=_body(doc), headers={"Content-Type": LD_JSON, "Accept": MARC_JSON})
    result = _json(response, "/_convert")
    if not isinstance(result, dict):
        raise BadResponseError("/_convert: expected a MARC-in-JSON object", url=response.url)
    return result


def remote_search(q: str, start: int = 0, n: int = 10, databases: str | list[str] | tuple[str, ...] = ("LC",), *,
                  auth: LibrisAuth | None = None, session: requests.Session | None = None,
                  base_url: str | None = None) -> dict[str, Any]:
    """Search external databases through Libris (``/_remotesearch``; needs a token).

    Returns ``{"totalResults": {db: n}, "items": [{"database", "data"}], "errors": {db: msg}}``.
    """
    if not q.strip():
        raise InvalidInputError("remote search needs a query")
    if start < 0 or n < 1:
        raise InvalidInputError("start must be >= 0 and n >= 1")
    names = databases if isinstance(databases, str) else ",".join(databases)
    ctx = _Context(session, auth, "-", base_url)
    with uncached(ctx.session):
        response = _send(ctx, "GET", ctx.base + "/_remotesearch", what=f"remote search {q!r} in {names}",
                         op="read", ok=(200,), params={"q": q, "start": start, "n": n, "databases": names},
                         headers={"Accept": "application/json"})
    result = _json(response, "/_remotesearch")
    if isinstance(result, dict) and result.get("error"):
        raise InvalidInputError(f"remote search in {names}: {result['error']}")
    found: dict[str, Any] = result
    return found


def remote_databases(*, auth: LibrisAuth | None = None, session: requests.Session | None = None,
                     base_url: str | None = None) -> list[dict[str, Any]]:
    """The external databases ``/_remotesearch`` can query."""
    ctx = _Context(session, auth, "-", base_url)
    with uncached(ctx.session):
        response = _send(ctx, "GET", ctx.base + "/_remotesearch", what="remote database list", op="read",
                         ok=(200,), params={"databases": "true"}, headers={"Accept": "application/json"})
    return list(_json(response, "/_remotesearch"))


def _json(response: requests.Response, what: str) -> Any:
    return response_json(response, what)
