"""A small OAI-PMH 2.0 client for the Libris XL provider, after sickle's design.

One method per verb; list verbs return iterators that follow resumption tokens
(bounded in pages). Responses are parsed with a hardened lxml parser (no entity
resolution, no network, no huge trees). OAI error codes raise subclasses of
:class:`~linkeddata.errors.OAIError`; ``noRecordsMatch`` is an empty list.

>>> client = OAIClient("http://127.0.0.1:1")          # doctest: +SKIP
>>> for rec in client.list_records(set="hold:S"):      # doctest: +SKIP
...     print(rec.header.identifier, rec.header.deleted)
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree

from ..config import service_url
from ..errors import HTTPError, LinkedDataError, OAIError, ParseError
from ..http import make_session, request
from ..records import Record

log = logging.getLogger(__name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
NS = {"oai": OAI_NS}
CONVERSION_FAILED = "Error: Document conversion failed."
#: Most pages a list iterator follows before giving up.
DEFAULT_MAX_PAGES = 100_000

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


class BadArgument(OAIError):
    """``badArgument``"""


class BadResumptionToken(OAIError):
    """``badResumptionToken``"""


class BadVerb(OAIError):
    """``badVerb``"""


class CannotDisseminateFormat(OAIError):
    """``cannotDisseminateFormat``"""


class IdDoesNotExist(OAIError):
    """``idDoesNotExist``"""


class NoRecordsMatch(OAIError):
    """``noRecordsMatch``"""


class NoMetadataFormats(OAIError):
    """``noMetadataFormats``"""


class NoSetHierarchy(OAIError):
    """``noSetHierarchy``"""


OAI_ERRORS: dict[str, type[OAIError]] = {
    cls.__doc__.strip("`"): cls  # type: ignore[union-attr]
    for cls in (BadArgument, BadResumptionToken, BadVerb, CannotDisseminateFormat, IdDoesNotExist,
                NoRecordsMatch, NoMetadataFormats, NoSetHierarchy)
}


def oai_error(code: str, message: str = "") -> OAIError:
    """The exception for an OAI error code.

    >>> type(oai_error("badArgument", "x")).__name__
    'BadArgument'
    """
    return OAI_ERRORS.get(code, OAIError)(code, message)


# ---------------------------------------------------------------- models


@dataclass
class OAIHeader:
    identifier: str
    datestamp: str | None = None
    setspecs: list[str] = field(default_factory=list)
    deleted: bool = False


@dataclass
class OAIRecord:
    """A ``<record>`` (or a ListIdentifiers ``<header>``): header, metadata and about."""

    header: OAIHeader
    metadata: str | None = None
    """CDATA text (jsonld, ttl) or the serialised inline XML element (marcxml, oai_dc…)."""
    about: dict[str, str] = field(default_factory=dict)

    @property
    def conversion_failed(self) -> bool:
        return (self.metadata or "").strip() == CONVERSION_FAILED

    def to_record(self, metadata_prefix: str = "jsonld") -> Record:
        """The :class:`Record` for the store; deleted headers become tombstones.

        :raises ParseError: the provider could not convert the record, or its JSON is broken.
        """
        iri = self.header.identifier
        if self.header.deleted:
            return Record(iri=iri, deleted=True, last_modified=self.header.datestamp, source="oaipmh")
        if self.metadata is None:
            raise ParseError(f"OAI record {iri} has no metadata")
        if self.conversion_failed:
            raise ParseError(f"OAI record {iri}: the provider reported {CONVERSION_FAILED!r}")
        prefix = metadata_prefix.split("_", 1)[0]
        if prefix == "jsonld":
            try:
                data = json.loads(self.metadata)
            except ValueError as exc:
                raise ParseError(f"OAI record {iri}: invalid JSON-LD ({exc})") from exc
            if not isinstance(data, dict):
                raise ParseError(f"OAI record {iri}: JSON-LD is not an object")
            data.pop("@context", None)
            media_type = "application/ld+json"
        else:
            media_type = {"ttl": "text/turtle", "rdfxml": "application/rdf+xml"}.get(prefix, "application/xml")
            data = self.metadata.encode("utf-8")
        return Record(iri=iri, data=data, media_type=media_type, last_modified=self.header.datestamp,
                      source="oaipmh")


@dataclass
class OAIPage:
    """One list response: its items, the token that asked for it and the token for the next page."""

    items: list[Any]
    token: str | None
    next_token: str | None
    response_date: str | None = None


@dataclass
class Identify:
    repository_name: str
    base_url: str
    protocol_version: str
    earliest_datestamp: str
    deleted_record: str
    granularity: str
    admin_emails: list[str]


@dataclass
class OAISet:
    spec: str
    name: str


@dataclass
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str


def decode_token(token: str) -> dict[str, Any]:
    """The JSON object inside a Libris resumption token (``{}`` if it is not one).

    >>> decode_token("eyJ1IjoiMjAyNi0wNy0wMloiLCJwIjoianNvbmxkIn0")
    {'u': '2026-07-02Z', 'p': 'jsonld'}
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _text(el: Any, path: str) -> str:
    found = el.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


# ---------------------------------------------------------------- client


class OAIClient:
    """An OAI-PMH client on the shared session.

    :param base_url: the provider (default: the configured ``oaipmh`` service).
    :param max_pages: bound on resumption-token pages per list.
    """

    def __init__(self, base_url: str | None = None, session: requests.Session | None = None, *,
                 max_pages: int = DEFAULT_MAX_PAGES):
        self.base_url = service_url("oaipmh", base_url) + "/"
        self.session = session or make_session(cache=False)
        self.max_pages = max_pages

    def request(self, verb: str, **params: str | None) -> Any:
        """Send one request; return the parsed ``OAI-PMH`` root element.

        :raises OAIError: the response carries an OAI ``<error>``.
        """
        query = {"verb": verb, **{k: v for k, v in params.items() if v is not None}}
        response = request(self.session, "GET", self.base_url, params=query, what=f"OAI-PMH {verb}")
        try:
            root = etree.fromstring(response.content, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise HTTPError(f"{response.url}: invalid OAI-PMH XML ({exc})", url=response.url) from exc
        if root.tag != f"{{{OAI_NS}}}OAI-PMH":
            raise HTTPError(f"{response.url}: not an OAI-PMH response (root {root.tag})", url=response.url)
        error = root.find("oai:error", NS)
        if error is not None:
            raise oai_error(error.get("code", "unknown"), (error.text or "").strip())
        return root

    # -- single answers

    def identify(self) -> Identify:
        el = self.request("Identify").find("oai:Identify", NS)
        if el is None:
            raise HTTPError(f"{self.base_url}: the Identify response has no <Identify> element", url=self.base_url)
        return Identify(
            _text(el, "oai:repositoryName"), _text(el, "oai:baseURL"), _text(el, "oai:protocolVersion"),
            _text(el, "oai:earliestDatestamp"), _text(el, "oai:deletedRecord"), _text(el, "oai:granularity"),
            [(e.text or "").strip() for e in el.findall("oai:adminEmail", NS)],
        )

    def list_sets(self) -> Iterator[OAISet]:
        for page in self.iter_pages("ListSets"):
            yield from page.items

    def list_metadata_formats(self, identifier: str | None = None) -> list[MetadataFormat]:
        root = self.request("ListMetadataFormats", identifier=identifier)
        return [MetadataFormat(_text(f, "oai:metadataPrefix"), _text(f, "oai:schema"),
                               _text(f, "oai:metadataNamespace"))
                for f in root.iterfind("oai:ListMetadataFormats/oai:metadataFormat", NS)]

    def get_record(self, identifier: str, metadata_prefix: str = "jsonld") -> OAIRecord | None:
        """One record by any IRI Libris knows for it; ``None`` when there is none (``noRecordsMatch``)."""
        try:
            root = self.request("GetRecord", identifier=identifier, metadataPrefix=metadata_prefix)
        except (NoRecordsMatch, IdDoesNotExist):
            return None
        el = root.find("oai:GetRecord/oai:record", NS)
        return _parse_record(el) if el is not None else None

    # -- lists

    def list_records(self, metadata_prefix: str = "jsonld", set: str | None = None,  # noqa: A002
                     from_: str | None = None, until: str | None = None,
                     resumption_token: str | None = None) -> OAIItems:
        """Records (with metadata); iterate, and read ``.resumption_token`` to checkpoint."""
        return OAIItems(self.iter_pages("ListRecords", metadata_prefix, set, from_, until, resumption_token))

    def list_identifiers(self, metadata_prefix: str = "jsonld", set: str | None = None,  # noqa: A002
                         from_: str | None = None, until: str | None = None,
                         resumption_token: str | None = None) -> OAIItems:
        """Headers only (as :class:`OAIRecord` without metadata)."""
        return OAIItems(self.iter_pages("ListIdentifiers", metadata_prefix, set, from_, until, resumption_token))

    def iter_pages(self, verb: str, metadata_prefix: str | None = None, set: str | None = None,  # noqa: A002
                   from_: str | None = None, until: str | None = None,
                   resumption_token: str | None = None) -> Iterator[OAIPage]:
        """The pages of a list verb, following tokens until an empty or missing one."""
        token = resumption_token
        for number in range(self.max_pages):
            if token:
                params: dict[str, str | None] = {"resumptionToken": token}
            else:
                params = {"metadataPrefix": metadata_prefix, "set": set, "from": from_, "until": until}
                if verb == "ListSets":
                    params = {}
            try:
                root = self.request(verb, **params)
            except NoRecordsMatch:
                return
            page = _parse_page(root, verb, token)
            log.debug("OAI %s page %d: %d items, next token %s", verb, number + 1, len(page.items),
                      bool(page.next_token))
            yield page
            if not page.next_token:
                return
            if page.next_token == token:
                raise OAIError("badResumptionToken", f"the provider returned the same token twice ({token[:40]}…)")
            token = page.next_token
        raise LinkedDataError(f"OAI-PMH {verb} stopped after {self.max_pages} pages (max_pages)")


class OAIItems:
    """Iterator over the items of list pages; ``resumption_token`` resumes at the current page."""

    def __init__(self, pages: Iterator[OAIPage]):
        self._pages = pages
        self.resumption_token: str | None = None
        self.next_token: str | None = None

    def __iter__(self) -> Iterator[Any]:
        for page in self._pages:
            self.resumption_token = page.token
            self.next_token = page.next_token
            yield from page.items


def _parse_page(root: Any, verb: str, token: str | None) -> OAIPage:
    body = root.find(f"oai:{verb}", NS)
    if body is None:
        raise HTTPError(f"OAI-PMH {verb} response has no <{verb}> element")
    if verb == "ListSets":
        items: list[Any] = [OAISet(_text(s, "oai:setSpec"), _text(s, "oai:setName")) for s in body.iterfind("oai:set", NS)]
    elif verb == "ListIdentifiers":
        items = []
        for el in body:
            if el.tag == f"{{{OAI_NS}}}header":
                items.append(OAIRecord(_parse_header(el)))
            elif el.tag == f"{{{OAI_NS}}}about" and items:
                items[-1].about = _parse_about(el)
    else:
        items = [_parse_record(el) for el in body.iterfind("oai:record", NS)]
    token_el = body.find("oai:resumptionToken", NS)
    next_token = (token_el.text or "").strip() or None if token_el is not None else None
    return OAIPage(items, token, next_token, _text(root, "oai:responseDate") or None)


def _parse_header(el: Any) -> OAIHeader:
    return OAIHeader(
        identifier=_text(el, "oai:identifier"),
        datestamp=_text(el, "oai:datestamp") or None,
        setspecs=[(s.text or "").strip() for s in el.iterfind("oai:setSpec", NS)],
        deleted=el.get("status") == "deleted",
    )


def _parse_about(el: Any) -> dict[str, str]:
    about: dict[str, str] = {}
    for child in el.iter():
        if child is el or not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        value = child.get("id") or child.get("name")
        if value:
            about[name] = value
    return about


def _parse_record(el: Any) -> OAIRecord:
    header = el.find("oai:header", NS)
    if header is None:
        raise ParseError("OAI <record> without <header>")
    record = OAIRecord(_parse_header(header))
    metadata = el.find("oai:metadata", NS)
    if metadata is not None:
        children = [c for c in metadata if isinstance(c.tag, str)]
        if children:
            record.metadata = etree.tostring(children[0], encoding="unicode")
        else:
            record.metadata = metadata.text or ""
    about = el.find("oai:about", NS)
    if about is not None:
        record.about = _parse_about(about)
    return record
