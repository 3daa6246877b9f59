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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree

from ..config import service_url
from ..errors import BadResponseError, InvalidInputError, OAIError, ParseError
from ..http import DEFAULT_MAX_PAGES, Pager, SessionOwner, request
from ..records import Record, json_object

log = logging.getLogger(__name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
NS = {"oai": OAI_NS}
CONVERSION_FAILED = "Error: Document conversion failed."

#: Largest ``<metadata>`` (or attached holding) we accept for one record; bigger ones are skipped and named.
MAX_RECORD_BYTES = 64 * 1024 * 1024
# huge_tree lifts libxml2's 10 MB text-node limit (one big record must not fail its page); entities
# stay unresolved and the network off, so the document cannot grow beyond what was received.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)

#: The 17 metadataPrefix values of the Libris provider (services doc 4.3).
FORMAT_SUFFIXES = ("", "_expanded", "_includehold", "_includehold_expanded")
PREFIXES = tuple(f + s for f in ("jsonld", "marcxml", "oai_dc", "rdfxml") for s in FORMAT_SUFFIXES) + ("ttl",)
#: Prefixes whose records load into the store as RDF (oai_dc becomes Dublin Core triples).
STORE_PREFIXES = tuple(p for p in PREFIXES if not p.startswith("marcxml"))
#: Prefixes written to files by :func:`linkeddata.harvest_files.harvest_oai_files`.
FILE_PREFIXES = tuple(p for p in PREFIXES if p.startswith(("marcxml", "oai_dc")))
DC_NS = "http://purl.org/dc/elements/1.1/"
_DATESTAMP = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?")


def base_format(prefix: str) -> str:
    """The format of a metadataPrefix without ``_expanded``/``_includehold``.

    >>> base_format("oai_dc_includehold_expanded"), base_format("ttl")
    ('oai_dc', 'ttl')
    """
    for suffix in FORMAT_SUFFIXES[:0:-1]:
        if prefix.endswith(suffix):
            return prefix[: -len(suffix)]
    return prefix


def check_prefix(prefix: str, allowed: tuple[str, ...] = PREFIXES) -> str:
    """``prefix`` if it is one of ``allowed``, else a one-line :class:`InvalidInputError`.

    >>> check_prefix("marcxml_includehold")
    'marcxml_includehold'
    >>> check_prefix("ttl_expanded")
    Traceback (most recent call last):
    ...
    linkeddata.errors.InvalidInputError: metadataPrefix 'ttl_expanded' is not one of jsonld, ...
    """
    if prefix not in allowed:
        raise InvalidInputError(f"metadataPrefix {prefix!r} is not one of {', '.join(allowed)}")
    return prefix


def check_datestamp(value: str | None, name: str = "from") -> str | None:
    """An OAI-PMH ``from``/``until`` value as the provider accepts it (``YYYY-MM-DD`` or a zoned
    ISO date-time, minutes-only, fractions and offsets allowed); checked before any request.

    >>> check_datestamp("2026-07-01T12:15Z")
    '2026-07-01T12:15Z'
    >>> check_datestamp("2026-13-45")
    Traceback (most recent call last):
    ...
    linkeddata.errors.InvalidInputError: --from '2026-13-45' is not a date: expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ
    """
    if value is None:
        return None
    from datetime import date, datetime

    text = value.strip()
    ok = bool(_DATESTAMP.fullmatch(text))
    if ok:
        try:
            if "T" in text:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                date.fromisoformat(text)
        except ValueError:
            ok = False
    if not ok:
        raise InvalidInputError(f"--{name} {value!r} is not a date: expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")
    return text


def valid_iri(iri: str) -> bool:
    """Whether ``iri`` is an absolute http(s) IRI the store accepts.

    >>> valid_iri("https://libris.kb.se/abc"), valid_iri("https://libris.kb.se/a b"), valid_iri("abc")
    (True, False, False)
    """
    import pyoxigraph as ox

    if not iri.startswith(("http://", "https://")):
        return False
    try:
        ox.NamedNode(iri)
    except ValueError:
        return False
    return True


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
class OAIAttached:
    """A record the provider attached to a bib record (``_includehold``): a ``<holding sigel id>`` or an
    ``<auth id>``, in the same format as the bib record."""

    kind: str
    iri: str
    metadata: str
    sigel: str | None = None


@dataclass
class OAIRecord:
    """A ``<record>`` (or a ListIdentifiers ``<header>``): header, metadata, about and attached records."""

    header: OAIHeader
    metadata: str | None = None
    """CDATA text (jsonld, ttl) or the serialised inline XML element (marcxml, rdfxml, oai_dc)."""
    about: dict[str, str] = field(default_factory=dict)
    attached: list[OAIAttached] = field(default_factory=list)
    """Holdings (then linked authority records) sent with a bib record under ``_includehold``."""

    @property
    def conversion_failed(self) -> bool:
        return (self.metadata or "").strip() == CONVERSION_FAILED

    @property
    def holdings(self) -> list[OAIAttached]:
        return [a for a in self.attached if a.kind == "holding"]

    def to_record(self, metadata_prefix: str = "jsonld") -> Record:
        """The :class:`Record` for the store; deleted headers become tombstones.

        :raises ParseError: the provider could not convert the record, its content is broken,
            or its identifier is not an IRI.
        """
        iri = self.header.identifier
        if not valid_iri(iri):
            raise ParseError(f"OAI record {iri!r}: the identifier is not a valid IRI")
        if self.header.deleted:
            return Record(iri=iri, deleted=True, last_modified=self.header.datestamp, source="oaipmh")
        if self.metadata is None:
            raise ParseError(f"OAI record {iri} has no metadata")
        if self.conversion_failed:
            raise ParseError(f"OAI record {iri}: the provider reported {CONVERSION_FAILED!r}")
        return _content_record(iri, self.metadata, metadata_prefix, self.header.datestamp)

    def to_records(self, metadata_prefix: str = "jsonld") -> list[Record]:
        """The record and every record attached to it (holdings, authorities), each its own graph.

        :raises ParseError: the main record cannot be used (an attached one that cannot is left out
            with a warning; see :meth:`attached_records` to get the reasons).
        """
        records = [self.to_record(metadata_prefix)]
        good, bad = self.attached_records(metadata_prefix)
        for ident, reason in bad:
            log.warning("skipped %s attached to %s: %s", ident, self.header.identifier, reason)
        return records + good

    def attached_records(self, metadata_prefix: str = "jsonld") -> tuple[list[Record], list[tuple[str, str]]]:
        """Records for the attached holdings/authorities, and ``(iri, reason)`` of those that cannot be used."""
        good: list[Record] = []
        bad: list[tuple[str, str]] = []
        for item in self.attached:
            try:
                if not valid_iri(item.iri):
                    raise ParseError(f"attached {item.kind} {item.iri!r}: the id is not a valid IRI")
                if item.metadata.strip() == CONVERSION_FAILED:
                    raise ParseError(f"attached {item.kind} {item.iri}: the provider reported {CONVERSION_FAILED!r}")
                good.append(_content_record(item.iri, item.metadata, metadata_prefix, None))
            except ParseError as exc:
                bad.append((item.iri, str(exc)))
        return good, bad


def _content_record(iri: str, metadata: str, metadata_prefix: str, datestamp: str | None) -> Record:
    """A store :class:`Record` from ``<metadata>`` content in one of :data:`STORE_PREFIXES`."""
    prefix = base_format(metadata_prefix)
    if prefix == "jsonld":
        data = json_object(metadata, f"OAI record {iri}")
        from .read import other_record

        other = other_record(data, iri)
        if other:
            raise ParseError(f"OAI record {iri}: the metadata describes another record ({other})")
        data.pop("@context", None)
        return Record(iri=iri, data=data, media_type="application/ld+json", last_modified=datestamp, source="oaipmh")
    if prefix == "oai_dc":
        return Record(iri=iri, data=dublin_core_ntriples(iri, metadata), media_type="application/n-triples",
                      last_modified=datestamp, source="oaipmh")
    if prefix not in ("ttl", "rdfxml"):
        raise ParseError(f"OAI record {iri}: {metadata_prefix} is not RDF; write it to files "
                         "(linkeddata harvest oai --out DIR)")
    media_type = {"ttl": "text/turtle", "rdfxml": "application/rdf+xml"}[prefix]
    return Record(iri=iri, data=metadata.encode("utf-8"), media_type=media_type, last_modified=datestamp,
                  source="oaipmh")


def dublin_core(metadata: str) -> list[tuple[str, str]]:
    """``(element, value)`` pairs of an ``oai_dc:dc`` block, in document order.

    >>> dublin_core('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    ...             'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier>x</dc:identifier></oai_dc:dc>')
    [('identifier', 'x')]
    """
    try:
        root = etree.fromstring(metadata.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"invalid oai_dc XML ({exc})") from exc
    return [(etree.QName(el).localname, (el.text or "").strip()) for el in root.iter()
            if isinstance(el.tag, str) and etree.QName(el).namespace == DC_NS and (el.text or "").strip()]


def dublin_core_ntriples(iri: str, metadata: str) -> bytes:
    """The ``oai_dc`` block as N-Triples about ``iri`` (``dc:<element>`` literals)."""
    import pyoxigraph as ox

    subject = ox.NamedNode(iri)
    triples = [ox.Triple(subject, ox.NamedNode(DC_NS + name), ox.Literal(value)) for name, value in dublin_core(metadata)]
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


@dataclass
class OAIPage:
    """One list response: its items, the token that asked for it and the token for the next page."""

    items: list[Any]
    token: str | None
    next_token: str | None
    response_date: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(identifier, reason)`` of the records on this page that could not be read (the rest are in items)."""


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


class OAIClient(SessionOwner):
    """An OAI-PMH client on the shared session.

    :param base_url: the provider (default: the configured ``oaipmh`` service).
    :param max_pages: bound on resumption-token pages per list.
    """

    def __init__(self, base_url: str | None = None, session: requests.Session | None = None, *,
                 max_pages: int = DEFAULT_MAX_PAGES, max_record_bytes: int = MAX_RECORD_BYTES):
        self.base_url = service_url("oaipmh", base_url) + "/"
        self.own_session(session, "harvest")
        self.max_pages = max_pages
        self.max_record_bytes = max_record_bytes

    def request(self, verb: str, **params: str | None) -> Any:
        """Send one request; return the parsed ``OAI-PMH`` root element.

        :raises OAIError: the response carries an OAI ``<error>``.
        """
        return self._request(verb, params)[0]

    def _request(self, verb: str, params: dict[str, str | None]) -> tuple[Any, list[tuple[str, str]]]:
        """The root element and ``(identifier, reason)`` of records that had to be cut out of a broken page."""
        query = {"verb": verb, **{k: v for k, v in params.items() if v is not None}}
        response = request(self.session, "GET", self.base_url, params=query,
                           what=f"OAI-PMH {verb} at {self.base_url.rstrip('/')}")
        skipped: list[tuple[str, str]] = []
        try:
            root = etree.fromstring(response.content, _PARSER)
        except etree.XMLSyntaxError as exc:
            root, skipped = _salvage(response.content, exc, response.url)
        if root.tag != f"{{{OAI_NS}}}OAI-PMH":
            raise BadResponseError(f"{response.url}: not an OAI-PMH response (root {root.tag})", url=response.url)
        error = root.find("oai:error", NS)
        if error is not None:
            raise oai_error(error.get("code", "unknown"), (error.text or "").strip())
        return root, skipped

    # -- single answers

    def identify(self) -> Identify:
        el = self.request("Identify").find("oai:Identify", NS)
        if el is None:
            raise BadResponseError(f"{self.base_url}: the Identify response has no <Identify> element", url=self.base_url)
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
        """Records (with metadata); iterate, and read ``.resumption_token`` to checkpoint.

        Records that could not be read are in ``.skipped`` (identifier, reason)."""
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
        if not resumption_token and verb != "ListSets":
            check_datestamp(from_, "from")
            check_datestamp(until, "until")

        def fetch(token: str | None) -> OAIPage | None:
            if token:
                params: dict[str, str | None] = {"resumptionToken": token}
            elif verb == "ListSets":
                params = {}
            else:
                params = {"metadataPrefix": metadata_prefix, "set": set, "from": from_, "until": until}
            try:
                root, skipped = self._request(verb, params)
            except NoRecordsMatch:
                return None
            page = _parse_page(root, verb, token, self.max_record_bytes)
            page.skipped[:0] = skipped
            return page

        pager = Pager(f"OAI-PMH {verb}", fetch, _next_token, resumption_token, max_pages=self.max_pages)
        for page in pager:
            if page is None:
                return
            log.debug("OAI %s page %d: %d items (%d skipped), next token %s", verb, pager.pages, len(page.items),
                      len(page.skipped), bool(page.next_token))
            yield page


def _next_token(page: OAIPage | None, token: str | None) -> str | None:
    """The resumption-token rule: the page's token; none or an empty one ends the list."""
    return page.next_token if page is not None else None


class OAIItems:
    """Iterator over the items of list pages; ``resumption_token`` resumes at the current page."""

    def __init__(self, pages: Iterator[OAIPage]):
        self._pages = pages
        self.resumption_token: str | None = None
        self.next_token: str | None = None
        self.skipped: list[tuple[str, str]] = []

    def __iter__(self) -> Iterator[Any]:
        for page in self._pages:
            self.resumption_token = page.token
            self.next_token = page.next_token
            for ident, reason in page.skipped:
                log.warning("skipped OAI record %s: %s", ident, reason)
            self.skipped.extend(page.skipped)
            yield from page.items


def _parse_page(root: Any, verb: str, token: str | None, max_bytes: int = MAX_RECORD_BYTES) -> OAIPage:
    body = root.find(f"oai:{verb}", NS)
    if body is None:
        raise BadResponseError(f"OAI-PMH {verb} response has no <{verb}> element")
    skipped: list[tuple[str, str]] = []
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
        items = []
        for el in body.iterfind("oai:record", NS):
            try:
                items.append(_parse_record(el, max_bytes))
            except ParseError as exc:
                skipped.append((_text(el, "oai:header/oai:identifier") or "(no identifier)", str(exc)))
    token_el = body.find("oai:resumptionToken", NS)
    next_token = (token_el.text or "").strip() or None if token_el is not None else None
    return OAIPage(items, token, next_token, _text(root, "oai:responseDate") or None, skipped)


def _parse_header(el: Any) -> OAIHeader:
    return OAIHeader(
        identifier=_text(el, "oai:identifier"),
        datestamp=_text(el, "oai:datestamp") or None,
        setspecs=[(s.text or "").strip() for s in el.iterfind("oai:setSpec", NS)],
        deleted=el.get("status") == "deleted",
    )


def _parse_about(el: Any) -> dict[str, str]:
    about: dict[str, str] = {}
    for child in el:
        if not isinstance(child.tag, str) or etree.QName(child).localname in ("holding", "auth"):
            continue
        value = child.get("id") or child.get("name")
        if value:
            about[etree.QName(child).localname] = value
    return about


def _content(el: Any) -> str:
    """The content of ``<metadata>``/``<holding>``: its first child element serialised, else its text."""
    children = [c for c in el if isinstance(c.tag, str)]
    if children:
        return str(etree.tostring(children[0], encoding="unicode"))
    return el.text or ""


def _parse_record(el: Any, max_bytes: int = MAX_RECORD_BYTES) -> OAIRecord:
    header = el.find("oai:header", NS)
    if header is None:
        raise ParseError("OAI <record> without <header>")
    record = OAIRecord(_parse_header(header))
    metadata = el.find("oai:metadata", NS)
    if metadata is not None:
        record.metadata = _content(metadata)
        if len(record.metadata) > max_bytes:
            raise ParseError(f"OAI record {record.header.identifier}: metadata of {len(record.metadata)} characters "
                             f"is over the limit of {max_bytes}")
    base = record.header.identifier.rsplit("/", 1)[0] + "/"
    for about in el.iterfind("oai:about", NS):
        record.about.update(_parse_about(about))
        for child in about:
            if not isinstance(child.tag, str) or etree.QName(child).localname not in ("holding", "auth"):
                continue
            ident = (child.get("id") or "").strip()
            content = _content(child)
            if len(content) > max_bytes:
                log.warning("skipped %s attached to %s: over the limit of %d characters", ident,
                            record.header.identifier, max_bytes)
                continue
            record.attached.append(OAIAttached(
                etree.QName(child).localname, ident if ident.startswith(("http://", "https://")) else base + ident,
                content, child.get("sigel")))
    return record


_CDATA_OR_RECORD = re.compile(rb"<!\[CDATA\[.*?\]\]>|<record>|</record>", re.S)


def _salvage(content: bytes, error: Exception, url: str) -> tuple[Any, list[tuple[str, str]]]:
    """Parse a list page whose XML is broken record by record: the envelope with the records that parse,
    and ``(identifier, reason)`` for those that do not. An envelope that does not parse is a BadResponseError."""
    spans: list[tuple[int, int]] = []
    start = None
    for m in _CDATA_OR_RECORD.finditer(content):
        if m.group() == b"<record>":
            start = m.start()
        elif m.group() == b"</record>" and start is not None:
            spans.append((start, m.end()))
            start = None
    if not spans:
        raise BadResponseError(f"{url}: invalid OAI-PMH XML ({error})", url=url)
    head, tail = content[: spans[0][0]], content[spans[-1][1]:]
    try:
        root = etree.fromstring(head + tail, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise BadResponseError(f"{url}: invalid OAI-PMH XML ({error})", url=url) from exc
    container = next((c for c in root if isinstance(c.tag, str) and etree.QName(c).localname in
                      ("ListRecords", "GetRecord")), None)
    if container is None:
        raise BadResponseError(f"{url}: invalid OAI-PMH XML ({error})", url=url)
    token = container.find("oai:resumptionToken", NS)
    skipped: list[tuple[str, str]] = []
    for begin, end in spans:
        segment = content[begin:end]
        try:
            parsed = etree.fromstring(head + segment + tail, _PARSER)
            record = parsed.find(f"oai:{etree.QName(container).localname}/oai:record", NS)
        except etree.XMLSyntaxError as exc:
            found = re.search(rb"<identifier>(.*?)</identifier>", segment[:4096], re.S)
            ident = found.group(1).decode("utf-8", "replace").strip() if found else "(no identifier)"
            skipped.append((ident, f"invalid XML in the OAI record ({exc})"))
            continue
        if token is not None:
            token.addprevious(record)
        else:
            container.append(record)
    return root, skipped
