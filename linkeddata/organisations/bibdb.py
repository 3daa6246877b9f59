"""Client for the Swedish library database (Biblioteksdatabasen, "bibdb").

Base ``config.service_url("bibdb")`` (default ``https://bibdb.libris.kb.se``):

* ``GET /api?sigel=*&holdings=True&org_type=library&start=<n>`` lists libraries
  (``org_type=bibliography`` lists bibliographies), 200 per page; paging adds ``start`` in
  steps of the page size (we step by the number of libraries received) and stops at the first page whose ``libraries`` array is empty
  (there is no total count), or at ``max_pages``;
* ``GET /api/library?sigel=<sigel>`` describes one library; when it has no answer the list
  form ``GET /api?sigel=<sigel>`` is asked (both forms appear in the services' descriptions).

**Assumed JSON shape.** The real key names are not published (the JSON-LD context that
maps them to ``bibdb:``/schema.org terms is not available to us), so this is our
assumption, with keys named after the RDF terms the Libris import reads::

    {"libraries": [{
        "sigel": "Xy", "name": "Exempelbiblioteket", "dept": "", "org_type": "library",
        "library_type": "univ", "library_subtype": "", "libris_reg": true,
        "url": "https://bibliotek.example.se", "lat": 59.85, "lon": 17.63,
        "address": [{"address_type": "vis", "street": "Gatan 1", "zip_code": "752 36",
                     "city": "Uppsala", "email": "info@example.se", "phone": "018-00 00 00"}],
        "organisation": {"code": "XY", "name": "Exempeluniversitetet"},
        "date_created": "2005-01-01T10:00:00", "date_modified": "2024-03-01T09:30:00"}]}

The reader is lenient: ``latitude``/``longitude``, ``zip``/``postalCode``, ``telephone``,
``streetAddress``/``addressLocality`` are accepted too, a single address object works like
a one-item list, ``address_type`` is one of ``ill``, ``del``, ``vis``, ``inv``, ``stat`` or
empty (postal), and a coordinate of ``0`` means unknown. ``/api/library`` may answer the
library object itself or ``{"libraries": [obj]}``.

Libraries become :class:`~linkeddata.organisations.model.Organisation` with IRI
``https://libris.kb.se/library/<sigel>`` (what holdings point at), ISIL ``SE-<sigel>``,
type concept ``https://id.kb.se/term/bibdb/<library_type>`` and parent organisation
``https://libris.kb.se/library/org/<code>``, as Libris republishes them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from .. import config
from ..errors import BadResponseError, InvalidInputError, InvalidISILError, NotFoundError, ParseError
from ..http import Pager, get_json, offset_rule, session_for
from .isil import isil_for_sigel
from .model import BIBDB_TYPE_BASE, Address, Organisation, bibdb_record, coordinate, swedish_iri

log = logging.getLogger(__name__)

PAGE_SIZE = 200
DEFAULT_MAX_PAGES = 500
ORG_TYPES = ("library", "bibliography")
JSON = "application/json"

_ADDRESS_KINDS = {"ill": "ill", "del": "delivery", "vis": "visitor", "inv": "invoicing", "stat": "statistics",
                  "": "postal", "post": "postal", "postal": "postal"}


def _text(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip() and value.strip() != "http://":
            return value.strip()
    return None


def organisation_from_bibdb(lib: Any, source: str = "library database record") -> Organisation:
    """Map one library object (see the module docstring) to an :class:`Organisation`."""
    if not isinstance(lib, dict):
        raise ParseError(f"{source}: library is not an object")
    sigel = _text(lib, "sigel")
    name = _text(lib, "name")
    if not sigel or not name:
        raise ParseError(f"{source}: library without sigel or name")
    try:
        isil: str | None = isil_for_sigel(sigel)
    except InvalidISILError as exc:
        log.info("sigel %r gives no valid ISIL: %s", sigel, exc)
        isil = None
    raw_addresses = lib.get("address") or lib.get("addresses") or []
    if isinstance(raw_addresses, dict):
        raw_addresses = [raw_addresses]
    addresses = []
    for a in raw_addresses if isinstance(raw_addresses, list) else []:
        if not isinstance(a, dict):
            continue
        kind = _ADDRESS_KINDS.get((_text(a, "address_type") or "").lower(), "other")
        addresses.append(Address(
            kind=kind, street=_text(a, "street", "streetAddress"), postal_code=_text(a, "zip_code", "zip", "postalCode"),
            locality=_text(a, "city", "addressLocality"), country=_text(a, "country") or "SE",
            email=_text(a, "email"), telephone=_text(a, "phone", "telephone"),
        ))
    addresses.sort(key=lambda a: {"visitor": 0, "postal": 1}.get(a.kind, 2))
    lat = coordinate(lib.get("lat", lib.get("latitude")), lo=-90, hi=90)
    lon = coordinate(lib.get("lon", lib.get("longitude")), lo=-180, hi=180)
    if lat is None or lon is None:
        lat = lon = None
    org_obj = lib.get("organisation") or lib.get("organization")
    parent = None
    if isinstance(org_obj, dict) and _text(org_obj, "code"):
        parent = config.LIBRARY_BASE + "org/" + quote(re.sub(r"\s+", "", _text(org_obj, "code") or ""), safe="")
    libtype = _text(lib, "library_type")
    org_type = (_text(lib, "org_type") or "library").lower()
    contact = next((a for a in addresses if a.email or a.telephone), None)
    return Organisation(
        iri=swedish_iri(sigel), name=name, isil=isil, sigel=sigel,
        alternate_names=[d for d in [_text(lib, "dept")] if d],
        kind="Library" if org_type == "library" else "Organization",
        classification=BIBDB_TYPE_BASE + quote(libtype, safe="") if libtype else None,
        addresses=addresses, latitude=lat, longitude=lon, url=_text(lib, "url"),
        email=contact.email if contact else None, telephone=contact.telephone if contact else None,
        opening_hours=_text(lib, "opening_hours", "openingHours"), parent=parent, page=bibdb_record(sigel),
        modified=_text(lib, "date_modified"), source="bibdb", raw=lib,
    )


def iter_library_pages(*, org_type: str = "library", sigel: str = "*", holdings: bool = True, session: requests.Session | None = None,
                       base_url: str | None = None, page_size: int = PAGE_SIZE, max_pages: int = DEFAULT_MAX_PAGES,
                       max_seconds: float | None = None) -> Iterator[list[Any]]:
    """The raw ``libraries`` arrays, page by page, until an empty one.

    ``start`` advances by the number of libraries received: 200 on the real service,
    fewer on a server with smaller pages, which is then paged correctly. ``page_size``
    is only checked, never sent: the service takes no page-size parameter.
    """
    if org_type not in ORG_TYPES:
        raise InvalidInputError(f"org_type must be one of {', '.join(ORG_TYPES)}, got {org_type!r}")
    if page_size < 1:
        raise InvalidInputError(f"page_size must be positive, got {page_size}")
    url = config.service_url("bibdb", base_url) + "/api"

    def fetch(start: int) -> list[Any]:
        params: dict[str, Any] = {"sigel": sigel, "org_type": org_type}
        if holdings and org_type == "library":
            params["holdings"] = "True"
        if start:
            params["start"] = start
        body = get_json(http, url, params=params, what=f"library database list start={start}", accept=JSON)
        libraries = body.get("libraries") if isinstance(body, dict) else None
        if libraries is None:
            raise BadResponseError(f"library database list start={start}: no 'libraries' array in the answer", url=url)
        if not isinstance(libraries, list):
            raise BadResponseError(f"library database list start={start}: 'libraries' is not an array", url=url)
        return libraries

    with session_for(session) as http:
        pager = Pager("library database listing", fetch, offset_rule(len), 0, max_pages=max_pages,
                      max_seconds=max_seconds, on_limit="stop", fingerprint=_fingerprint)
        for libraries in pager:
            if not libraries:
                return
            yield libraries


def _fingerprint(libraries: list[Any]) -> str:
    """The same libraries again means a server that ignores ``start``."""
    return json.dumps(libraries, sort_keys=True, default=str)


def iter_libraries(*, org_type: str = "library", session: requests.Session | None = None, base_url: str | None = None,
                   page_size: int = PAGE_SIZE, max_pages: int = DEFAULT_MAX_PAGES, max_seconds: float | None = None,
                   skipped: list[str] | None = None) -> Iterator[Organisation]:
    """All libraries (or bibliographies) of the library database as :class:`Organisation`\\ s.

    Unreadable entries are logged, appended to ``skipped`` when given, and left out::

        for org in iter_libraries():
            print(org.sigel, org.name, org.city, org.latitude, org.longitude)
    """
    seen: set[str] = set()
    for libraries in iter_library_pages(org_type=org_type, session=session, base_url=base_url, page_size=page_size,
                                        max_pages=max_pages, max_seconds=max_seconds):
        for lib in libraries:
            try:
                org = organisation_from_bibdb(lib)
            except ParseError as exc:
                log.warning("skipping library database entry: %s", exc)
                if skipped is not None:
                    skipped.append(str(exc))
                continue
            if org.iri in seen:
                continue
            seen.add(org.iri)
            yield org


def get_library(sigel: str, *, session: requests.Session | None = None, base_url: str | None = None) -> Organisation:
    """One library by sigel: ``/api/library?sigel=<sigel>``, and when that has no answer (404, or no
    library in it) the list form ``/api?sigel=<sigel>`` (libraries, then bibliographies); both appear
    in the services' descriptions. Unknown in both → :class:`NotFoundError`."""
    sigel = (sigel or "").strip()
    if not sigel or not re.fullmatch(r"[^\s/?#&*]+(?: [^\s/?#&*]+)*", sigel):
        raise InvalidInputError(f"invalid sigel {sigel!r}")
    base = config.service_url("bibdb", base_url)
    what = f"library database record {sigel}"
    with session_for(session, "record") as http:
        try:
            body = get_json(http, base + "/api/library", params={"sigel": sigel}, what=what, accept=JSON)
        except NotFoundError:
            body = None
        lib = _pick(body, sigel, what, exact=False)
        for org_type in ORG_TYPES:
            if lib:
                break
            log.info("%s: /api/library has no answer, asking /api?sigel=%s&org_type=%s", what, sigel, org_type)
            listing = get_json(http, base + "/api", params={"sigel": sigel, "org_type": org_type}, what=what,
                               accept=JSON)
            lib = _pick(listing, sigel, what, exact=True)
    if not lib:
        raise NotFoundError(f"not found: {what}", url=base + "/api/library", status=404)
    return organisation_from_bibdb(lib, what)


def _pick(body: Any, sigel: str, what: str, *, exact: bool) -> dict[str, Any] | None:
    """The library object for ``sigel`` in an answer (the object itself or ``{"libraries": [...]}``)."""
    if isinstance(body, dict) and "libraries" in body:
        libs = body.get("libraries") or []
        if not isinstance(libs, list):
            raise BadResponseError(f"{what}: 'libraries' is not an array")
        match = next((x for x in libs if isinstance(x, dict) and x.get("sigel") == sigel), None)
        return match if exact or match else (libs[0] if libs and isinstance(libs[0], dict) else None)
    return body if isinstance(body, dict) and body else None


def get_libraries(sigels: list[str], *, session: requests.Session | None = None, base_url: str | None = None) -> Iterator[Organisation]:
    """:func:`get_library` for several sigels with one session."""
    with session_for(session, "record") as http:
        for sigel in sigels:
            yield get_library(sigel, session=http, base_url=base_url)
