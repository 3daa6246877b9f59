"""Loan status (Lånestatus) and interlibrary loans (ILLER API): the documented parts.

The seeds document only this much (seed 000, "API:er mot Libris webbsök"):

* **Loan status** shows the availability of a library's copies in Libris web search
  in real time. Libris fetches it from the library's local system, preferably from a
  script that returns XML (or a Z39.50 lookup); the link is administered in the
  library database (bibdb).
* **ILLER API** returns data about interlibrary loans in JSON, PDF, XML or text, and
  requires authentication.

Neither the XML of the loan-status script nor the ILLER endpoints are specified in
the material this project was built from, so this module makes these **assumptions**
(change them here when the specifications are at hand):

1. The loan-status link is a URL template with ``{isbn}``, ``{issn}`` or ``{id}``
   (Libris bib id) placeholders, as stored in the library database; it answers XML.
   :func:`loan_status` fetches it and reads every element that has a status-like
   child (``Loan_Status``, ``Status``, ``status``, ``availability``…) as one copy,
   with location, call number and date taken from similarly named children
   (case-insensitive, ``_``/``-`` ignored). Unknown children are kept in ``fields``.
2. The ILLER API lives at ``LINKEDDATA_ILL_URL`` (no default: its address is not in
   the seeds) and authenticates with an API key sent in the ``api-key`` header,
   read from ``LINKEDDATA_ILL_API_KEY`` (never from a command line). The format is
   chosen with ``Accept`` (``application/json``, ``application/xml``, ``text/plain``,
   ``application/pdf``). :func:`ill_get` fetches one resource path below that base.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from lxml import etree

from ..errors import BadResponseError, ConfigError, InvalidInputError, ParseError
from ..http import request, response_json, session_for, uncached

log = logging.getLogger(__name__)

ENV_ILL_URL = "LINKEDDATA_ILL_URL"
ENV_ILL_KEY = "LINKEDDATA_ILL_API_KEY"
ILL_FORMATS = {"json": "application/json", "xml": "application/xml", "text": "text/plain", "pdf": "application/pdf"}

_STATUS = {"loanstatus", "status", "availability", "available", "itemstatus", "circulationstatus"}
_LOCATION = {"location", "sublocation", "branch", "department", "shelvinglocation", "library"}
_CALL = {"callno", "callnumber", "shelfmark", "shelf", "signum", "hylla"}
_DATE = {"statusdate", "duedate", "date", "returndate", "due"}


@dataclass
class CopyStatus:
    """One copy's availability as the library's loan-status service reports it."""

    status: str
    location: str | None = None
    call_number: str | None = None
    date: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _key(tag: Any) -> str:
    name = etree.QName(tag).localname if isinstance(tag, str) else ""
    return re.sub(r"[_\-\s]", "", name).lower()


def parse_loan_status(xml: bytes, source: str = "loan status") -> list[CopyStatus]:
    """Copies in a loan-status XML answer (see assumption 1 in the module docs)."""
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{source}: not XML ({exc})") from exc
    copies = []
    for element in root.iter():
        children = {_key(c.tag): (c.text or "").strip() for c in element if isinstance(c.tag, str)}
        status_key = next((k for k in children if k in _STATUS), None)
        if status_key is None:
            continue

        def pick(names: Collection[str], children: dict[str, str] = children) -> str | None:
            return next((children[k] for k in children if k in names and children[k]), None)

        copies.append(CopyStatus(children[status_key], pick(_LOCATION), pick(_CALL), pick(_DATE), children))
    return copies


def loan_status(url_template: str, *, isbn: str | None = None, issn: str | None = None, id: str | None = None,
                session: requests.Session | None = None) -> list[CopyStatus]:
    """Ask a library's loan-status service about one title; returns its copies."""
    values = {"isbn": isbn, "issn": issn, "id": id}
    needed = set(re.findall(r"{(\w+)}", url_template))
    unknown = needed - set(values)
    if unknown:
        raise InvalidInputError(f"loan-status URL has unknown placeholders: {', '.join(sorted(unknown))}")
    missing = [k for k in needed if not values[k]]
    if missing or not needed:
        raise InvalidInputError(f"loan-status URL needs {', '.join(sorted(missing or ['{isbn}, {issn} or {id}']))}")
    try:
        url = url_template.format(**{k: quote(v or "", safe="") for k, v in values.items()})
    except (IndexError, KeyError, ValueError) as exc:  # "{}", a lone "{" or "}"
        raise InvalidInputError(f"loan-status URL {url_template!r} is not a valid template ({exc})") from None
    with session_for(session, "record") as http, uncached(http):  # availability is real-time: never cached
        response = request(http, "GET", url, what=f"loan status at {url}",
                           headers={"Accept": "text/xml, application/xml"})
    try:
        return parse_loan_status(response.content, source=url)
    except ParseError as exc:  # the server's answer, not the caller's document
        raise BadResponseError(str(exc), url=url, status=response.status_code) from exc


def ill_get(path: str, *, format: str = "json", params: dict[str, str] | None = None, base_url: str | None = None,
            api_key: str | None = None, session: requests.Session | None = None) -> Any:
    """GET ``path`` from the ILLER API (assumption 2); JSON → object, XML → element, text → str, PDF → bytes."""
    if format not in ILL_FORMATS:
        raise InvalidInputError(f"ILL format must be one of {', '.join(ILL_FORMATS)}, got {format!r}")
    base = (base_url or os.environ.get(ENV_ILL_URL) or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"the ILLER API address is not known: set {ENV_ILL_URL}")
    key = api_key or os.environ.get(ENV_ILL_KEY)
    if not key:
        raise ConfigError(f"the ILLER API needs an API key: set {ENV_ILL_KEY}")
    url = f"{base}/{path.lstrip('/')}"
    # uncached: the HTTP cache would store the api-key header (and loan data) in its SQLite file
    with session_for(session, "record") as http, uncached(http):
        response = request(http, "GET", url, what=f"ILL {path}", params=params,
                           headers={"api-key": key, "Accept": ILL_FORMATS[format]})
    if format == "json":
        return response_json(response, f"ILL {path}")
    if format == "xml":
        try:
            return etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise BadResponseError(f"ILL {path}: answer is not XML ({exc})", url=response.url) from exc
    if format == "text":
        return response.text
    return response.content
