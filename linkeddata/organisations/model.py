"""Organisations (German ISIL agency, Swedish library database) → schema.org RDF.

German and Swedish organisations share one model, so one SPARQL query covers both.
It follows lobid-organisations (schema.org with a few ``lv:`` terms) in spirit.

**IRIs** (canonical, never an emulator or configured base):

=========================  ==========================================================
organisation (ISIL agency) ``http://lobid.org/organisations/<ISIL>#!`` (lobid's IRI, the
                           de-facto linked-data IRI of German ISIL holders)
organisation (Sweden)      ``https://libris.kb.se/library/<sigel>`` (sigel without
                           whitespace, URL-encoded), the IRI Libris holdings point at
                           with ``heldBy``; the ISIL is ``SE-<sigel>``
agency record page         ``https://sigel.staatsbibliothek-berlin.de/suche/?isil=<ISIL>``
agency API record          ``https://sigel.staatsbibliothek-berlin.de/api/org/<ISIL>.jsonld``
library database record    ``https://bibdb.libris.kb.se/api/library?sigel=<sigel>``
named graph                the organisation IRI (one graph per organisation)
=========================  ==========================================================

Holdings join Swedish organisations directly (``heldBy`` = organisation IRI); German
organisations are joined via the ISIL (``lv:isil``), e.g.
``?lib lv:isil ?isil . FILTER(STRSTARTS(?isil, "DE-"))``.

**Triples** (``schema:`` = ``http://schema.org/``, the namespace of the project's bundled
queries and of Libris's own schema.org mapping; lobid writes ``https://schema.org/``;
``lv:`` = ``http://purl.org/lobid/lv#``, as lobid; ``org:`` = ``http://www.w3.org/ns/org#``):

==========================  =============================================================
``rdf:type``                ``schema:Library``, ``schema:Museum`` (ISIL ``DE-MUS-…``) or
                            ``schema:Organization`` (PICA+ ``035E $f`` of 85 and above, or a
                            library database ``org_type`` other than ``library``;
                            ``schema:ArchiveOrganization`` when a caller sets it); always also
                            ``schema:Organization``
``org:classification``      type concept: ``http://purl.org/lobid/libtype#n<035E $f>`` or
                            ``https://id.kb.se/term/bibdb/<library_type>``
``lv:isil``                 the ISIL (literal); also ``schema:identifier`` (same literal)
``lv:sigel``                the sigel (literal), when known
``schema:name``             name (``029A $a`` / bibdb ``name``)
``schema:alternateName``    other names (``029@ $a``)
``schema:address``          one blank node per address, ``a schema:PostalAddress`` with
                            ``schema:contactType`` (visitor, postal, other, ill, delivery,
                            invoicing, statistics), ``streetAddress``, ``postalCode``,
                            ``addressLocality``, ``addressRegion`` (the interlibrary-loan
                            region, ``035I $a``), ``addressCountry``, ``postOfficeBoxNumber``,
                            ``email``, ``telephone``
``schema:geo``              blank node ``a schema:GeoCoordinates`` with ``schema:latitude`` /
                            ``schema:longitude`` as ``xsd:decimal``; absent when unknown
                            (no ``032P $k/$l``; bibdb ``0``)
``schema:url``              home page (IRI)
``schema:email``            public e-mail (literal, as schema.org's range is Text)
``schema:telephone``        public phone (literal, ``+49 30 …``)
``schema:openingHours``     opening hours text (literal)
``schema:parentOrganization`` IRI of the parent organisation
``schema:mainEntityOfPage`` the agency/library-database record page (IRI)
``rdfs:seeAlso``            the machine-readable agency record (IRI)
``schema:sameAs``           other IRIs of the same organisation
``schema:dateModified``     last change of the source record (``xsd:dateTime`` or ``xsd:date``)
==========================  =============================================================

Blank-node labels are derived from the organisation IRI, so reloading an organisation
replaces its triples instead of piling up copies.

>>> org = Organisation(iri=swedish_iri("Xy"), name="Exempelbiblioteket", isil="SE-Xy", sigel="Xy",
...                    latitude="59.3", longitude="18.0")
>>> quads = organisation_to_rdf(org)
>>> any(q.predicate.value == SDO + "latitude" for q in quads)
True
>>> next(iter(organisation_records([org]))).iri
'https://libris.kb.se/library/Xy'
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from ..config import SERVICES, library_iri
from ..records import Record

log = logging.getLogger(__name__)

SDO = "http://schema.org/"
LV = "http://purl.org/lobid/lv#"
ORG = "http://www.w3.org/ns/org#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_SEEALSO = "http://www.w3.org/2000/01/rdf-schema#seeAlso"
XSD = "http://www.w3.org/2001/XMLSchema#"

LOBID_ORG_BASE = "http://lobid.org/organisations/"
AGENCY_BASE = SERVICES["isil"]
BIBDB_BASE = SERVICES["bibdb"]
LIBTYPE_BASE = "http://purl.org/lobid/libtype#n"
BIBDB_TYPE_BASE = "https://id.kb.se/term/bibdb/"

#: schema.org classes an organisation may be typed with (besides ``Organization``); a ``Collection``
#: (a product ISIL such as ``ZDB-1-…``) is ``schema:Collection`` and ``bibo:Collection``, not an Organization.
KINDS = ("Library", "Museum", "ArchiveOrganization", "Organization", "Collection")
BIBO_COLLECTION = "http://purl.org/ontology/bibo/Collection"
GND = "https://d-nb.info/standards/elementset/gnd#"
GND_BASE = "https://d-nb.info/gnd/"
SKOS_NOTE = "http://www.w3.org/2004/02/skos/core#note"
RDFS_COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"
DC_SUBJECT = "http://purl.org/dc/elements/1.1/subject"
DCT_EXTENT = "http://purl.org/dc/terms/extent"

N_TRIPLES = "application/n-triples"


@dataclass
class Address:
    """One address of an organisation; ``kind`` is visitor, postal, other, ill, delivery…"""

    kind: str = "visitor"
    street: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    region: str | None = None
    country: str | None = None
    po_box: str | None = None
    email: str | None = None
    telephone: str | None = None
    opening_hours: str | None = None
    place: Place | None = None


@dataclass
class Contact:
    """A ``schema:ContactPoint``: a department or service with its own e-mail, phone and fax."""

    kind: str = "general"
    name: str | None = None
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    description: str | None = None
    properties: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Place:
    """Where an address is: opening hours (and their comment), state, municipality key, extra values."""

    opening_hours: str | None = None
    opening_comment: str | None = None
    state: str | None = None
    municipality: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    properties: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Collection:
    """What an organisation collects (``lv:collects``): subjects, stock size, special collections."""

    subjects: list[str] = field(default_factory=list)
    extent: str | None = None
    special: list[str] = field(default_factory=list)


@dataclass
class Organisation:
    """A library or other ISIL holder, from either source, in one shape.

    ``latitude``/``longitude`` keep the source's lexical form (``"52.50771"``); ``None``
    when unknown. ``raw`` is the source record (PICA+ fields or library-database JSON).
    """

    iri: str
    name: str
    isil: str | None = None
    sigel: str | None = None
    alternate_names: list[str] = field(default_factory=list)
    kind: str = "Library"
    classification: str | None = None
    addresses: list[Address] = field(default_factory=list)
    latitude: str | None = None
    longitude: str | None = None
    url: str | None = None
    email: str | None = None
    telephone: str | None = None
    opening_hours: str | None = None
    region: str | None = None
    parent: str | None = None
    page: str | None = None
    see_also: str | None = None
    same_as: list[str] = field(default_factory=list)
    modified: str | None = None
    created: str | None = None
    source: str = ""
    raw: object = None
    #: ``(scheme, value)``: ISIL, sigel, GND, DBS, WorldCat… as ``schema:identifier`` PropertyValues.
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    gnd: str | None = None
    dbs: str | None = None
    worldcat: str | None = None
    ppn: str | None = None
    contacts: list[Contact] = field(default_factory=list)
    #: ``(service type, name, URL)``: home page, OPAC, APIs, further pages (``schema:availableChannel``).
    channels: list[tuple[str, str | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    funder_type: str | None = None
    collection: Collection | None = None
    #: ISILs (or sigels) of predecessors (``gnd:predecessor``).
    predecessors: list[tuple[str | None, str | None]] = field(default_factory=list)
    #: ``(property id, value)`` of source fields without a schema.org property (``schema:additionalProperty``).
    properties: list[tuple[str, str]] = field(default_factory=list)

    @property
    def city(self) -> str | None:
        """Locality of the first address that has one."""
        return next((a.locality for a in self.addresses if a.locality), None)

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


# ------------------------------------------------------------------ IRIs


def german_iri(isil: str) -> str:
    """lobid's organisation IRI for an ISIL: ``http://lobid.org/organisations/<ISIL>#!``."""
    return f"{LOBID_ORG_BASE}{quote(isil, safe='-:')}#!"


#: Libris's library IRI for a sigel (the one rule, :func:`linkeddata.config.library_iri`).
swedish_iri = library_iri


def agency_page(isil: str) -> str:
    """The agency's human-readable record page for an ISIL (canonical host)."""
    return f"{AGENCY_BASE}/suche/?isil={quote(isil, safe='-:')}"


def agency_api_record(isil: str) -> str:
    """The agency's JSON-LD record URL for an ISIL (canonical host)."""
    return f"{AGENCY_BASE}/api/org/{quote(isil, safe='-:')}.jsonld"


def bibdb_record(sigel: str) -> str:
    """The library database's record URL for a sigel (canonical host)."""
    return f"{BIBDB_BASE}/api/library?sigel={quote(sigel, safe='')}"


# ------------------------------------------------------------------ RDF


def coordinate(value: object, *, lo: float, hi: float) -> str | None:
    """A coordinate's decimal lexical form, or ``None`` for missing, zero or out-of-range values.

    >>> coordinate("13,37063", lo=-180, hi=180), coordinate(0, lo=-90, hi=90), coordinate("x", lo=-90, hi=90)
    ('13.37063', None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or number == 0 or not lo <= number <= hi:
        return None
    return format(number, "f")


def _iri(value: str | None) -> ox.NamedNode | None:
    if not value:
        return None
    value = value.strip()
    for candidate in (value, quote(value, safe=":/?#[]@!$&'()*+,;=%~")):
        try:
            return ox.NamedNode(candidate)
        except ValueError:
            continue
    log.warning("dropping invalid IRI %r", value)
    return None


def _bnode(org_iri: str, label: str) -> ox.BlankNode:
    digest = hashlib.sha1(f"{org_iri} {label}".encode()).hexdigest()[:20]
    return ox.BlankNode(f"o{digest}")


_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_literal(value: str) -> ox.Literal | None:
    """``xsd:dateTime`` or ``xsd:date`` for ISO-like text, else ``None`` (logged)."""
    text = value.strip()
    m = _DATETIME.fullmatch(text)
    if m:
        offset = m[4] or ""
        if offset and offset != "Z" and ":" not in offset:
            offset = offset[:3] + ":" + offset[3:]
        return ox.Literal(f"{m[1]}T{m[2]}{m[3] or ':00'}{offset}", datatype=ox.NamedNode(XSD + "dateTime"))
    if _DATE.fullmatch(text):
        return ox.Literal(text, datatype=ox.NamedNode(XSD + "date"))
    log.debug("ignoring unparseable date %r", value)
    return None


def organisation_to_rdf(org: Organisation) -> list[ox.Quad]:
    """The organisation as quads in the named graph ``org.iri`` (see the module table).

    >>> o = Organisation(iri=german_iri("DE-Xy1"), name="Testbibliothek", isil="DE-Xy1")
    >>> sorted({q.predicate.value.rsplit("/", 1)[-1] for q in organisation_to_rdf(o)})[:3]
    ['22-rdf-syntax-ns#type', 'identifier', 'lv#isil']
    """
    subject = ox.NamedNode(org.iri)
    graph = ox.NamedNode(org.iri)
    quads: list[ox.Quad] = []

    def add(s: ox.NamedNode | ox.BlankNode, p: str, o: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> None:
        if o is not None:
            quads.append(ox.Quad(s, ox.NamedNode(p), o, graph))

    def lit(s: ox.NamedNode | ox.BlankNode, p: str, value: str | None) -> None:
        if value is not None and str(value).strip():
            add(s, p, ox.Literal(str(value).strip()))

    kind = org.kind if org.kind in KINDS else "Organization"
    add(subject, RDF_TYPE, ox.NamedNode(SDO + kind))
    if kind == "Collection":
        add(subject, RDF_TYPE, ox.NamedNode(BIBO_COLLECTION))
    elif kind != "Organization":
        add(subject, RDF_TYPE, ox.NamedNode(SDO + "Organization"))
    add(subject, ORG + "classification", _iri(org.classification))
    if org.isil:
        lit(subject, LV + "isil", org.isil)
        lit(subject, SDO + "identifier", org.isil)
    lit(subject, LV + "sigel", org.sigel)
    lit(subject, LV + "dbsID", org.dbs)
    lit(subject, LV + "worldcatRegistryId", org.worldcat)
    lit(subject, LV + "picaPPN", org.ppn)
    if org.gnd:
        lit(subject, GND + "gndIdentifier", org.gnd)
        add(subject, SDO + "sameAs", _iri(GND_BASE + org.gnd))
    for n, (scheme, value) in enumerate(org.identifiers):
        node = _bnode(org.iri, f"identifier {n}")
        add(subject, SDO + "identifier", node)
        add(node, RDF_TYPE, ox.NamedNode(SDO + "PropertyValue"))
        lit(node, SDO + "propertyID", scheme)
        lit(node, SDO + "value", value)
    lit(subject, SDO + "name", org.name)
    for alt in dict.fromkeys(a.strip() for a in org.alternate_names if a and a.strip()):
        if alt != org.name:
            lit(subject, SDO + "alternateName", alt)
    for i, address in enumerate(org.addresses):
        values = [address.street, address.postal_code, address.locality, address.po_box, address.email,
                  address.telephone]
        if not any(v and str(v).strip() for v in values):
            continue
        node = _bnode(org.iri, f"address {i}")
        add(subject, SDO + "address", node)
        add(node, RDF_TYPE, ox.NamedNode(SDO + "PostalAddress"))
        lit(node, SDO + "contactType", address.kind)
        lit(node, SDO + "streetAddress", address.street)
        lit(node, SDO + "postalCode", address.postal_code)
        lit(node, SDO + "addressLocality", address.locality)
        lit(node, SDO + "addressRegion", address.region or org.region)
        lit(node, SDO + "addressCountry", address.country)
        lit(node, SDO + "postOfficeBoxNumber", address.po_box)
        lit(node, SDO + "email", address.email)
        lit(node, SDO + "telephone", address.telephone)
        if address.place is not None:
            _place(org.iri, f"address {i}", node, address.place, add, lit)
    lat = coordinate(org.latitude, lo=-90, hi=90)
    lon = coordinate(org.longitude, lo=-180, hi=180)
    if lat is not None and lon is not None:
        geo = _bnode(org.iri, "geo")
        add(subject, SDO + "geo", geo)
        add(geo, RDF_TYPE, ox.NamedNode(SDO + "GeoCoordinates"))
        add(geo, SDO + "latitude", ox.Literal(lat, datatype=ox.NamedNode(XSD + "decimal")))
        add(geo, SDO + "longitude", ox.Literal(lon, datatype=ox.NamedNode(XSD + "decimal")))
    add(subject, SDO + "url", _iri(org.url))
    lit(subject, SDO + "email", org.email)
    lit(subject, SDO + "telephone", org.telephone)
    lit(subject, SDO + "openingHours", org.opening_hours)
    for n, contact in enumerate(org.contacts):
        node = _bnode(org.iri, f"contact {n}")
        add(subject, SDO + "contactPoint", node)
        add(node, RDF_TYPE, ox.NamedNode(SDO + "ContactPoint"))
        lit(node, SDO + "contactType", contact.kind)
        lit(node, SDO + "name", contact.name)
        lit(node, SDO + "email", contact.email)
        lit(node, SDO + "telephone", contact.telephone)
        lit(node, SDO + "faxNumber", contact.fax)
        lit(node, SDO + "description", contact.description)
        _properties(org.iri, f"contact {n}", node, contact.properties, add, lit)
    for n, (service, label, url) in enumerate(org.channels):
        node = _bnode(org.iri, f"channel {n}")
        add(subject, SDO + "availableChannel", node)
        add(node, RDF_TYPE, ox.NamedNode(SDO + "ServiceChannel"))
        lit(node, SDO + "serviceType", service)
        lit(node, SDO + "name", label)
        add(node, SDO + "serviceUrl", _iri(url))
    for note in org.notes:
        lit(subject, SKOS_NOTE, note)
    for comment in org.comments:
        lit(subject, RDFS_COMMENT, comment)
    add(subject, LV + "fundertype", _iri(org.funder_type))
    if org.collection is not None:
        node = _bnode(org.iri, "collection")
        add(subject, LV + "collects", node)
        add(node, RDF_TYPE, ox.NamedNode(BIBO_COLLECTION))
        for subj in org.collection.subjects:
            lit(node, DC_SUBJECT, subj)
        add(node, DCT_EXTENT, _iri(org.collection.extent))
        for n, special in enumerate(org.collection.special):
            part = _bnode(org.iri, f"special collection {n}")
            add(node, SDO + "hasPart", part)
            add(part, RDF_TYPE, ox.NamedNode(BIBO_COLLECTION))
            lit(part, SDO + "name", special)
    for n, (isil, sigel) in enumerate(org.predecessors):
        pred: ox.NamedNode | ox.BlankNode = ox.NamedNode(german_iri(isil)) if isil else _bnode(org.iri, f"pred {n}")
        add(subject, GND + "predecessor", pred)
        lit(pred, LV + "isil", isil)
        lit(pred, LV + "sigel", sigel)
    _properties(org.iri, "org", subject, org.properties, add, lit)
    if org.parent and org.parent != org.iri:
        add(subject, SDO + "parentOrganization", _iri(org.parent))
    add(subject, SDO + "mainEntityOfPage", _iri(org.page))
    add(subject, RDFS_SEEALSO, _iri(org.see_also))
    for same in org.same_as:
        add(subject, SDO + "sameAs", _iri(same))
    if org.modified:
        add(subject, SDO + "dateModified", _date_literal(org.modified))
    if org.created:
        add(subject, SDO + "dateCreated", _date_literal(org.created))
    return quads


def _properties(org_iri: str, label: str, node: ox.NamedNode | ox.BlankNode, properties: list[tuple[str, str]],
                add: Any, lit: Any) -> None:
    """``schema:additionalProperty`` PropertyValues (``propertyID``, ``value``) on ``node``."""
    for n, (prop, value) in enumerate(properties):
        pv = _bnode(org_iri, f"{label} property {n}")
        add(node, SDO + "additionalProperty", pv)
        add(pv, RDF_TYPE, ox.NamedNode(SDO + "PropertyValue"))
        lit(pv, SDO + "propertyID", prop)
        lit(pv, SDO + "value", value)


def _place(org_iri: str, label: str, address: ox.BlankNode, place: Place, add: Any, lit: Any) -> None:
    """The ``schema:Place`` of an address (lobid's ``location``): geo, opening hours, state, municipality."""
    node = _bnode(org_iri, f"{label} place")
    add(node, RDF_TYPE, ox.NamedNode(SDO + "Place"))
    add(node, SDO + "address", address)
    add(ox.NamedNode(org_iri), SDO + "location", node)
    if place.state:
        area = _bnode(org_iri, f"{label} state")
        add(node, SDO + "containedInPlace", area)
        add(area, RDF_TYPE, ox.NamedNode(SDO + "AdministrativeArea"))
        lit(area, SDO + "name", place.state)
    lit(node, LV + "ags", place.municipality)
    lat = coordinate(place.latitude, lo=-90, hi=90)
    lon = coordinate(place.longitude, lo=-180, hi=180)
    if lat is not None and lon is not None:
        geo = _bnode(org_iri, f"{label} geo")
        add(node, SDO + "geo", geo)
        add(geo, RDF_TYPE, ox.NamedNode(SDO + "GeoCoordinates"))
        add(geo, SDO + "latitude", ox.Literal(lat, datatype=ox.NamedNode(XSD + "decimal")))
        add(geo, SDO + "longitude", ox.Literal(lon, datatype=ox.NamedNode(XSD + "decimal")))
    if place.opening_hours or place.opening_comment:
        spec = _bnode(org_iri, f"{label} hours")
        add(node, SDO + "openingHoursSpecification", spec)
        add(spec, RDF_TYPE, ox.NamedNode(SDO + "OpeningHoursSpecification"))
        lit(spec, SDO + "description", place.opening_hours)
        lit(spec, RDFS_COMMENT, place.opening_comment)
    _properties(org_iri, label, node, place.properties, add, lit)


def to_ntriples(org: Organisation) -> bytes:
    """The organisation's triples as N-Triples bytes (graph name dropped)."""
    triples = [q.triple for q in organisation_to_rdf(org)]
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


def organisation_records(orgs: Iterable[Organisation]) -> Iterator[Record]:
    """One :class:`~linkeddata.records.Record` per organisation, N-Triples, graph = org IRI."""
    for org in orgs:
        yield Record(iri=org.iri, data=to_ntriples(org), media_type=N_TRIPLES, source=org.source or None,
                     last_modified=org.modified)


def organisations_to_graph(orgs: Iterable[Organisation], fmt: str = "nt") -> bytes:
    """All organisations serialised together: ``nt``, ``ttl`` (triples) or ``nq``, ``trig`` (quads)."""
    formats = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE, "nq": ox.RdfFormat.N_QUADS,
               "trig": ox.RdfFormat.TRIG}
    if fmt not in formats:
        from ..errors import InvalidInputError

        raise InvalidInputError(f"unknown RDF format {fmt!r}; one of {', '.join(formats)}")
    quads = [q for org in orgs for q in organisation_to_rdf(org)]
    if fmt in ("nq", "trig"):
        return ox.serialize(quads, format=formats[fmt], prefixes=_PREFIXES if fmt == "trig" else None) or b""
    triples = [q.triple for q in quads]
    return ox.serialize(triples, format=formats[fmt], prefixes=_PREFIXES if fmt == "ttl" else None) or b""


_PREFIXES = {"schema": SDO, "lv": LV, "org": ORG, "xsd": XSD, "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
