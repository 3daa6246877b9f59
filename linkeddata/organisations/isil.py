"""ISIL validation (ISO 15511) and a client for the German ISIL agency's JSON-LD API.

**ISIL rules** checked by :func:`validate_isil` before any request:

1. surrounding whitespace is ignored; the rest must be 1–16 characters long;
2. only ``A-Z a-z 0-9`` and ``-`` ``/`` ``:`` are allowed (no spaces, no umlauts);
3. a prefix, a hyphen, then the library identifier;
4. the prefix is letters only: two letters must be an ISO 3166-1 alpha-2 country code
   (``DE``, ``SE``…); a non-country prefix has 1, 3 or 4 letters (``O``, ``ZDB``, ``OCLC``),
   because two-letter prefixes are reserved for countries;
5. the identifier is not empty and starts with a letter or a digit.

The prefix is returned in upper case; the identifier keeps its case (``DE-1a``).

**The agency API** (seed 004), base ``config.service_url("isil")``:

* ``GET /api/org.jsonld?q=<terms>&size=<n>&page=<p>[&compact=1]`` answers a JSON-LD
  ``Collection``: ``totalItems``, ``member`` (records with ``identifier``, ``addressRegion``
  and ``data`` = the PICA+ record as a JSON object; with ``compact``: ``_id`` and
  ``record`` = the PICA+ record as an array of fields) and ``view``, a
  ``PartialCollectionView`` with ``pageIndex``, ``numberOfPages``, ``limit`` and
  ``next`` when there is a further page. An empty result may come as an empty JSON
  array or as a collection without members; both read as zero hits.
* ``GET /api/org/<ISIL>.jsonld`` answers one record (404 for an unknown ISIL).

:func:`search_organisations` pages by asking for ``page=pageIndex+1`` on the configured
base while the view has ``next`` (it does not follow ``next`` to another host), never
more than ``max_pages`` pages. ``size`` above :data:`MAX_PAGE_SIZE` (our assumed agency
limit) is clamped, and a smaller ``limit`` in the view is accepted. A member that cannot
be read is logged and skipped (see :attr:`OrgSearch.skipped`); the page still counts.

**PICA+ → RDF** (:func:`organisation_from_pica`, the model in :mod:`linkeddata.organisations.model`):
every subfield a user could ask about reaches the RDF. Identifiers (``008H``: ``$e`` ISIL, ``$d`` sigel,
``$a`` GND, ``$b`` DBS, ``$g`` WorldCat, others by tag) become ``schema:identifier`` PropertyValues with
their scheme as ``propertyID``, plus ``lv:isil``/``lv:sigel``/``lv:dbsID``/``gnd:gndIdentifier`` and a
``schema:sameAs`` to ``https://d-nb.info/gnd/<id>``; all ``032P`` addresses (with a ``schema:Place``:
opening hours and their comment, state, municipality key ``lv:ags``, coordinates); every ``035B``
contact and ``035L`` interlibrary-loan address as a ``schema:ContactPoint`` (department as name, phone,
fax, e-mail); every ``009Q`` URL as a ``schema:availableChannel`` (home page also ``schema:url``);
``047A`` as ``skos:note``, ``050D`` as ``rdfs:comment``; ``035E $f`` type, ``$g`` funder type
(``lv:fundertype``), ``$h`` stock size (``dcterms:extent`` of the ``lv:collects`` collection, with the
``035G`` subjects and the ``035H`` special collections); ``035D`` predecessors (``gnd:predecessor``).
Subfields whose meaning the agency does not spell out (codes in ``035E``, ``035I``, ``035K``, ``035O``,
``035P``, ``050C``…) are kept as ``schema:additionalProperty`` PropertyValues whose ``propertyID`` is
``PICA+ <tag> $<code>``. Product ISILs (``ZDB-…``) are collections (``schema:Collection``,
``bibo:Collection``), as lobid types them.

Left out, on purpose:

* the record administration fields ``001A`` (creation date, kept as ``schema:dateCreated``), ``001B``
  (last change, kept as ``schema:dateModified``), ``001D`` (date of the last status change), ``001U``
  (character set), ``001X`` (a processing flag), ``002@`` (record type ``Tw``) and ``003@`` (the PPN, kept
  as ``lv:picaPPN``): they describe the agency's cataloguing, not the organisation;
* ``029@ $4``, the type code of an alternative name: its values are not published and an
  ``schema:alternateName`` literal cannot carry it.

On the real records (``sigel.dat``) 501 of the 514 non-administrative subfield values reach the RDF
(97.5 %); the 13 others are ``029@ $4`` codes.

>>> validate_isil(" de-1a ")
'DE-1a'
>>> isil_for_sigel("Umu")
'SE-Umu'
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
from ..errors import BadResponseError, InvalidInputError, InvalidISILError, NotFoundError, ParseError, RepeatedPageError
from ..http import Pager, get_json, make_session, request, session_for
from .model import (
    Address,
    Collection,
    Contact,
    LIBTYPE_BASE,
    Organisation,
    Place,
    agency_api_record,
    agency_page,
    coordinate,
    german_iri,
)
from .pica import PicaRecord, occ_first, pica_from_json

log = logging.getLogger(__name__)

#: The largest page the agency is assumed to serve; larger ``size`` values are clamped.
MAX_PAGE_SIZE = 100
#: Default upper bound on the pages one search fetches.
DEFAULT_MAX_PAGES = 1000
MAX_ISIL_LENGTH = 16

#: ISO 3166-1 alpha-2 country codes (officially assigned).
COUNTRY_CODES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())

_ALLOWED = re.compile(r"[A-Za-z0-9/:-]")


def validate_isil(value: str) -> str:
    """Check an ISIL against the rules in the module docstring; return it normalised.

    >>> validate_isil("ZDB-1-ABC")
    'ZDB-1-ABC'
    >>> validate_isil("DE 1")
    Traceback (most recent call last):
    ...
    linkeddata.errors.InvalidISILError: invalid ISIL 'DE 1': character ' ' is not allowed (only A-Z a-z 0-9 - / :)
    """
    if not isinstance(value, str):
        raise InvalidISILError(f"invalid ISIL {value!r}: not a string")
    isil = value.strip()
    if not isil:
        raise InvalidISILError("invalid ISIL '': empty")
    if len(isil) > MAX_ISIL_LENGTH:
        raise InvalidISILError(f"invalid ISIL {isil!r}: {len(isil)} characters, at most {MAX_ISIL_LENGTH} allowed")
    for ch in isil:
        if not _ALLOWED.fullmatch(ch):
            raise InvalidISILError(f"invalid ISIL {isil!r}: character {ch!r} is not allowed (only A-Z a-z 0-9 - / :)")
    prefix, sep, ident = isil.partition("-")
    if not sep:
        raise InvalidISILError(f"invalid ISIL {isil!r}: no '-' between prefix and identifier")
    if not prefix or not prefix.isalpha():
        raise InvalidISILError(f"invalid ISIL {isil!r}: prefix {prefix!r} must be 1-4 letters")
    if len(prefix) == 2:
        if prefix.upper() not in COUNTRY_CODES:
            raise InvalidISILError(f"invalid ISIL {isil!r}: {prefix!r} is not an ISO 3166-1 country code")
    elif len(prefix) > 4:
        raise InvalidISILError(f"invalid ISIL {isil!r}: prefix {prefix!r} is longer than 4 letters")
    if not ident:
        raise InvalidISILError(f"invalid ISIL {isil!r}: empty identifier after the prefix")
    if not ident[0].isalnum():
        raise InvalidISILError(f"invalid ISIL {isil!r}: identifier must start with a letter or digit")
    return f"{prefix.upper()}-{ident}"


def is_valid_isil(value: str) -> bool:
    """True when :func:`validate_isil` accepts ``value``."""
    try:
        validate_isil(value)
    except InvalidISILError:
        return False
    return True


def isil_for_sigel(sigel: str) -> str:
    """The ISIL of a Swedish library sigel: ``SE-<sigel>`` (whitespace removed, validated)."""
    return validate_isil("SE-" + re.sub(r"\s+", "", sigel or ""))


# ------------------------------------------------------------------ PICA+ → Organisation

_ADDRESS_KINDS = {"S": "visitor", "P": "postal", "W": "other"}
_URL_KINDS = {"A": "home page", "B": "OPAC", "W": "other"}
_CONTACT_KINDS = {"S": "main contact", "W": "further contact"}
#: Coded subfields and the labels they reach the RDF as (``schema:contactType``/``serviceType``).
CODE_LABELS: dict[tuple[str, str], dict[str, str]] = {
    ("032P", "2"): _ADDRESS_KINDS, ("009Q", "z"): _URL_KINDS, ("035B", "a"): _CONTACT_KINDS,
}
_URL_KIND_ORDER = {"A": 0, "B": 2, "W": 3}
FUNDERTYPE_BASE = "http://purl.org/lobid/fundertype#n"
STOCKSIZE_BASE = "http://purl.org/lobid/stocksize#n"
#: Record-level administration, not mapped (the module docstring of :mod:`linkeddata.organisations.model`
#: says why): ``001A`` is kept as ``dateCreated``, ``001B`` as ``dateModified``, ``003@`` as ``lv:picaPPN``.
ADMINISTRATIVE_FIELDS = ("001A", "001B", "001D", "001U", "001X", "002@", "003@")
#: Subfields deliberately left out (see :data:`ADMINISTRATIVE_FIELDS` for whole fields).
LEFT_OUT = {("029@", "4"): "the type code of an alternative name; its values are not published and a "
                           "schema:alternateName literal cannot carry it"}
_IDENTIFIER_SCHEMES = {"a": "GND", "b": "DBS", "d": "sigel", "e": "ISIL", "g": "WorldCat"}


def _pica_date(date_field: str | None, time_field: str | None) -> str | None:
    """``'09006:18-11-22'`` + ``'14:37:34.000'`` → ``'2022-11-18T14:37:34'``."""
    if not date_field:
        return None
    m = re.search(r"(\d{2})-(\d{2})-(\d{2})$", date_field)
    if not m:
        return None
    day, month, yy = m.groups()
    year = (2000 if int(yy) < 70 else 1900) + int(yy)
    t = re.match(r"(\d{2}:\d{2}:\d{2})", time_field or "")
    return f"{year}-{month}-{day}" + (f"T{t[1]}" if t else "")


def _phone(occ: dict[str, list[str]], codes: str = "def") -> str | None:
    number = (occ_first(occ, codes[2]) or "").strip(" :")
    if not number:
        return None
    country = (occ_first(occ, codes[0]) or "").strip(" +0")
    area = (occ_first(occ, codes[1]) or "").strip()
    return " ".join(p for p in (f"+{country}" if country else "", area, number) if p)


def _rest(tag: str, occ: dict[str, list[str]], used: str) -> list[tuple[str, str]]:
    """``(property id, value)`` for every subfield of ``occ`` not in ``used`` (and not left out)."""
    return [(f"PICA+ {tag} ${code}", v) for code, values in occ.items() if code not in used
            and (tag, code) not in LEFT_OUT for v in values if v.strip()]


def _code(prefix: str, value: str | None) -> str | None:
    value = (value or "").strip()
    return prefix + value if value.isdigit() else None


def organisation_from_pica(rec: PicaRecord, *, region: str | None = None, source: str = "isil") -> Organisation:
    """Map one agency PICA+ record to an :class:`Organisation`, keeping every user-facing field (field
    meanings as lobid applies them; the rest as ``schema:additionalProperty`` named by tag and code).

    Raises :class:`ParseError` when the record has no ISIL (``008H $e``) or no name.
    """
    isil = (rec.first("008H", "e") or "").strip()
    if not isil:
        raise ParseError(f"PICA+ record {rec.ppn or '?'}: no ISIL in 008H $e")
    try:
        isil = validate_isil(isil)
    except InvalidISILError as exc:
        log.warning("agency record %s: %s (kept as given)", rec.ppn, exc)
        if re.search(r"\s", isil):
            raise ParseError(f"PICA+ record {rec.ppn or '?'}: unusable ISIL {isil!r}") from exc
    names = rec.values("029A", "a")
    alternates = rec.values("029@", "a")
    name = (names[0] if names else alternates[0] if alternates else "").strip()
    if not name:
        raise ParseError(f"PICA+ record {isil}: no name in 029A $a")
    properties: list[tuple[str, str]] = []
    identifiers: list[tuple[str, str]] = []
    for occ in rec.get("008H"):
        for code, values in occ.items():
            identifiers += [(_IDENTIFIER_SCHEMES.get(code, f"PICA+ 008H ${code}"), v.strip()) for v in values if v.strip()]

    region = region or rec.first("035I", "a")
    addresses: list[Address] = []
    lat = lon = None
    opening = None
    ranked = sorted(rec.get("032P"), key=lambda o: 0 if occ_first(o, "2") == "S" else 1)
    for occ in ranked:
        place = Place(opening_hours=occ_first(occ, "i"), opening_comment=occ_first(occ, "j"),
                      state=occ_first(occ, "f"), municipality=occ_first(occ, "n"), latitude=occ_first(occ, "l"),
                      longitude=occ_first(occ, "k"), properties=_rest("032P", occ, "2abdefgijkln"))
        addresses.append(Address(
            kind=_ADDRESS_KINDS.get(occ_first(occ, "2") or "", "other"),
            street=occ_first(occ, "a"), locality=occ_first(occ, "b"), country=occ_first(occ, "d"),
            postal_code=occ_first(occ, "e"), po_box=occ_first(occ, "g"), region=region, place=place,
        ))
        if lat is None:
            la = coordinate(occ_first(occ, "l"), lo=-90, hi=90)
            lo = coordinate(occ_first(occ, "k"), lo=-180, hi=180)
            if la is not None and lo is not None:
                lat, lon = la, lo
        opening = opening or occ_first(occ, "i")

    urls = sorted(rec.get("009Q"), key=lambda o: _URL_KIND_ORDER.get(occ_first(o, "z") or "", 1))
    url = next((occ_first(o, "u") for o in urls if occ_first(o, "u") and occ_first(o, "z") in ("A", None)), None)
    url = url or next((occ_first(o, "u") for o in urls if occ_first(o, "u")), None)
    channels: list[tuple[str, str | None, str]] = []
    for occ in rec.get("009Q"):
        kind = _URL_KINDS.get(occ_first(occ, "z") or "", "other")
        for link in occ.get("u", []):
            channels.append((kind, occ_first(occ, "x"), link))
        properties += _rest("009Q", occ, "uxz")

    contacts: list[Contact] = []
    ordered = sorted(rec.get("035B"), key=lambda o: 0 if occ_first(o, "a") == "S" else 1)
    for occ in ordered:
        contacts.append(Contact(kind=_CONTACT_KINDS.get(occ_first(occ, "a") or "", "contact"), name=occ_first(occ, "b"),
                                email=occ_first(occ, "k"), telephone=_phone(occ), fax=_phone(occ, "ghi"),
                                description=occ_first(occ, "l"), properties=_rest("035B", occ, "abdefghikl")))
    for occ in rec.get("035L"):
        contacts.append(Contact(kind="interlibrary loan", email=occ_first(occ, "d"),
                                properties=_rest("035L", occ, "d")))
    email = next((c.email for c in contacts if c.email), None)
    phone = next((c.telephone for c in contacts if c.telephone), None)

    libtype = (rec.first("035E", "f") or "").strip()
    kind = "Library"
    if isil.upper().startswith("DE-MUS-"):
        kind = "Museum"
    elif isil.upper().startswith("ZDB-"):
        kind = "Collection"  # a product ISIL: a package of electronic resources, as lobid types it
    elif libtype.isdigit() and int(libtype) >= 85:
        kind = "Organization"
    classification = LIBTYPE_BASE + libtype if libtype.isdigit() else None
    funder = None
    collection = Collection(subjects=[v for v in rec.values("035G", "a") if v.strip()],
                            special=[v for v in rec.values("035H", "a") if v.strip()])
    for occ in rec.get("035E"):
        funder = funder or _code(FUNDERTYPE_BASE, occ_first(occ, "g"))
        collection.extent = collection.extent or _code(STOCKSIZE_BASE, occ_first(occ, "h"))
        properties += _rest("035E", occ, "fgh")
    for tag in ("035G", "035H"):
        for occ in rec.get(tag):
            properties += _rest(tag, occ, "a")
    predecessors: list[tuple[str | None, str | None]] = []
    for occ in rec.get("035D"):
        other = (occ_first(occ, "b") or "").strip()
        pred_isil = other if other and is_valid_isil(other) else None
        predecessors.append((pred_isil, occ_first(occ, "a")))
        if other and not pred_isil:
            properties.append(("PICA+ 035D $b", other))
        properties += _rest("035D", occ, "ab")
    for occ in rec.get("035I"):
        properties += _rest("035I", occ, "a")
    consumed = {"008H", "009Q", "029A", "029@", "032P", "035B", "035D", "035E", "035G", "035H", "035I", "035L",
                "047A", "050D", *ADMINISTRATIVE_FIELDS}
    for occ in rec.get("029@"):
        properties += _rest("029@", occ, "a")
    for tag, occs in rec.fields.items():
        if tag not in consumed:
            for occ in occs:
                properties += _rest(tag, occ, "")
    has_collection = bool(collection.subjects or collection.special or collection.extent)

    return Organisation(
        iri=german_iri(isil), name=name, isil=isil, sigel=rec.first("008H", "d"),
        alternate_names=[a for a in (names[1:] + alternates) if a.strip()], kind=kind,
        classification=classification, addresses=addresses, latitude=lat, longitude=lon, url=url,
        email=email, telephone=phone, opening_hours=opening, region=region, page=agency_page(isil),
        see_also=agency_api_record(isil), modified=_pica_date(rec.first("001B", "0"), rec.first("001B", "t")),
        created=_pica_date(rec.first("001A", "0"), None), source=source, raw=rec,
        identifiers=identifiers, gnd=rec.first("008H", "a"), dbs=rec.first("008H", "b"),
        worldcat=rec.first("008H", "g"), ppn=rec.first("003@", "0"), contacts=contacts, channels=channels,
        notes=[v for v in rec.values("047A", "a") if v.strip()],
        comments=[v for v in rec.values("050D", "a") if v.strip()], funder_type=funder,
        collection=collection if has_collection else None, predecessors=predecessors, properties=properties,
    )


def organisation_from_member(member: Any, source: str = "agency record") -> Organisation:
    """Read one ``member`` of an agency answer (full or compact form)."""
    if not isinstance(member, dict):
        raise ParseError(f"{source}: member is not an object")
    data = member.get("data")
    if data is None:
        data = member.get("record")
    if data is None:
        raise ParseError(f"{source}: member has neither 'data' nor 'record'")
    rec = pica_from_json(data, source)
    if "008H" not in rec:
        ident = member.get("identifier") or member.get("_id")
        if isinstance(ident, str) and ident:
            rec.add("008H", [("e", ident)])
    region = member.get("addressRegion")
    return organisation_from_pica(rec, region=region if isinstance(region, str) and region else None)


# ------------------------------------------------------------------ client


def _get_json(session: requests.Session, url: str, params: dict[str, Any] | None, what: str) -> Any:
    return get_json(session, url, params=params, what=what, accept="application/ld+json, application/json;q=0.9")


class OrgSearch:
    """A lazy search over the agency: iterate for :class:`Organisation`\\ s, ask ``.total`` first.

    Build it with :func:`search_organisations`. Iterating twice re-fetches (the HTTP
    cache usually answers).
    """

    def __init__(self, query: str, *, size: int = 100, compact: bool = True, max_items: int | None = None,
                 max_pages: int = DEFAULT_MAX_PAGES, max_seconds: float | None = None, session: requests.Session | None = None,
                 base_url: str | None = None):
        if not query or not query.strip():
            raise InvalidInputError("empty ISIL agency query; use '*' for everything")
        if size < 1:
            raise InvalidInputError(f"page size must be positive, got {size}")
        if size > MAX_PAGE_SIZE:
            log.info("page size %d above the agency limit, using %d", size, MAX_PAGE_SIZE)
        self.query = query.strip()
        self.size = min(size, MAX_PAGE_SIZE)
        self.compact = compact
        self.max_items = max_items
        self.max_pages = max_pages
        self.max_seconds = max_seconds
        self._own_session = session is None
        self.session: requests.Session = session if session is not None else make_session()
        self.base_url = config.service_url("isil", base_url)
        self.skipped: list[tuple[int, str]] = []
        self.pages_fetched = 0
        #: The pager of the last iteration (``.truncated`` tells whether a bound stopped it).
        self.pager: Pager[int, dict[str, Any]] | None = None
        self._first: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/org.jsonld"

    def _params(self, page: int) -> dict[str, Any]:
        params: dict[str, Any] = {"q": self.query, "size": self.size, "page": page}
        if self.compact:
            params["compact"] = 1
        return params

    def _fetch(self, page: int) -> dict[str, Any]:
        what = f"ISIL agency search {self.query!r} page {page}"
        body = _get_json(self.session, self.url, self._params(page), what)
        self.pages_fetched += 1
        if isinstance(body, list):
            if body:
                raise BadResponseError(f"{what}: expected a Collection object, got a non-empty array", url=self.url)
            return {"totalItems": 0, "member": []}
        if not isinstance(body, dict):
            raise BadResponseError(f"{what}: expected a Collection object", url=self.url)
        return body

    def _first_page(self) -> dict[str, Any]:
        if self._first is None:
            self._first = self._fetch(1)
        return self._first

    @property
    def total(self) -> int:
        """``totalItems`` of the search (fetches the first page once)."""
        try:
            return int(self._first_page().get("totalItems") or 0)
        except (TypeError, ValueError) as exc:
            raise BadResponseError(f"ISIL agency search {self.query!r}: totalItems is not a number",
                                   url=self.url) from exc

    @property
    def number_of_pages(self) -> int:
        view = self._first_page().get("view") or {}
        try:
            return int(view.get("numberOfPages") or (1 if self.total else 0))
        except (TypeError, ValueError):
            return 1

    def _next_page(self, body: dict[str, Any], page_no: int) -> int | None:
        """``pageIndex + 1`` while the view has ``next`` (never the ``next`` URL: it may name another host)."""
        members = body.get("member") or []
        view = body.get("view") or {}
        if not members or not isinstance(view, dict) or not view.get("next"):
            return None
        try:
            index = int(view.get("pageIndex") or page_no)
        except (TypeError, ValueError):
            index = page_no
        if index < page_no:  # a server that does not move on
            raise RepeatedPageError(f"ISIL agency search {self.query!r}: page {page_no} answered as page {index}")
        return index + 1

    def __iter__(self) -> Iterator[Organisation]:
        if self.max_items is not None and self.max_items <= 0:
            return
        self.pager = Pager(f"ISIL agency search {self.query!r}", self._fetch, self._next_page, 1,
                           max_pages=self.max_pages, max_seconds=self.max_seconds, on_limit="stop",
                           fingerprint=_members_mark, first=self._first_page())
        try:
            yield from self._organisations(self.pager)
        finally:
            if self._own_session:
                self.session.close()

    def _organisations(self, pager: Pager[int, dict[str, Any]]) -> Iterator[Organisation]:
        yielded = 0
        seen: set[str] = set()
        for body in pager:
            page_no = pager.cursor
            members = _members(body)
            for i, member in enumerate(members):
                try:
                    org = organisation_from_member(member, f"ISIL agency search {self.query!r} page {page_no} item {i + 1}")
                except (ParseError, InvalidISILError) as exc:
                    log.warning("skipping odd agency record: %s", exc)
                    self.skipped.append((page_no or 0, str(exc)))
                    continue
                if org.iri in seen:
                    continue
                seen.add(org.iri)
                yield org
                yielded += 1
                if self.max_items is not None and yielded >= self.max_items:
                    return


def _members(body: dict[str, Any]) -> list[Any]:
    members = body.get("member") or []
    return members if isinstance(members, list) else [members]


def _members_mark(body: dict[str, Any]) -> str | None:
    """Repeat detection: a page of the same members as the one before (``page`` ignored, no ``pageIndex``)."""
    members = _members(body)
    return json.dumps(members, sort_keys=True, default=str) if members else None


def search_organisations(query: str, *, size: int = 100, compact: bool = True, max_items: int | None = None,
                         max_pages: int = DEFAULT_MAX_PAGES, max_seconds: float | None = None, session: requests.Session | None = None,
                         base_url: str | None = None) -> OrgSearch:
    """Search the ISIL agency (``nam=…``, ``ort=…``, ``isl=…`` joined by ``AND``/``OR``; ``*`` for all).

    Returns a lazy :class:`OrgSearch`; ``.total`` is known before iterating::

        hits = search_organisations("nam=bibliothek AND ort=berlin", max_items=20)
        print(hits.total)
        for org in hits:
            print(org.isil, org.name, org.city)
    """
    return OrgSearch(query, size=size, compact=compact, max_items=max_items, max_pages=max_pages,
                     max_seconds=max_seconds, session=session, base_url=base_url)


def get_organisation(isil: str, *, session: requests.Session | None = None, base_url: str | None = None) -> Organisation:
    """Fetch one organisation by ISIL (``/api/org/<ISIL>.jsonld``); 404 → :class:`NotFoundError`."""
    isil = validate_isil(isil)
    base = config.service_url("isil", base_url)
    url = f"{base}/api/org/{quote(isil, safe='-:')}.jsonld"
    with session_for(session, "record") as http:
        body = _get_json(http, url, None, f"ISIL agency record {isil}")
    member: Any = body
    if isinstance(body, dict) and "member" in body:
        members = body.get("member") or []
        member = members[0] if isinstance(members, list) and members else None
    elif isinstance(body, list):
        member = body[0] if body else None
    if not member:
        raise NotFoundError(f"not found: ISIL agency record {isil} (the answer holds no record)", url=url)
    return organisation_from_member(member, f"ISIL agency record {isil}")


def get_organisations(isils: list[str], *, session: requests.Session | None = None, base_url: str | None = None) -> Iterator[Organisation]:
    """:func:`get_organisation` for several ISILs (all validated before the first request)."""
    checked = [validate_isil(i) for i in isils]
    with session_for(session, "record") as http:
        for isil in checked:
            yield get_organisation(isil, session=http, base_url=base_url)


LOOKUP_FORMATS = ("lookup", "data")
_JSONP = re.compile(r"\s*([A-Za-z_$][\w$.]*)\s*\((.*)\)\s*;?\s*", re.S)
CALLBACK = "linkeddata_cb"


def lookup_organisations(query: str, *, format: str = "lookup", size: int = 10, page: int = 1,  # noqa: A002
                         session: requests.Session | None = None, base_url: str | None = None) -> list[Any]:
    """One page of the agency's JSONP variants (seed 004: ``callback`` with ``format=lookup|data``).

    ``lookup`` gives the agency's short form of each hit as a dict (``identifier``, ``name``,
    ``location``, ``addressRegion``…); ``data`` gives only the PICA+ records, read here into
    :class:`Organisation`\\ s (a record that cannot be read is logged and skipped).
    """
    if format not in LOOKUP_FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(LOOKUP_FORMATS)}, not {format!r}")
    if not query or not query.strip():
        raise InvalidInputError("empty ISIL agency query")
    if size < 1 or page < 1:
        raise InvalidInputError("size and page must be at least 1")
    url = config.service_url("isil", base_url) + "/api/org.jsonld"
    what = f"ISIL agency {format} for {query!r}"
    with session_for(session) as http:
        response = request(http, "GET", url, what=what,
                           params={"q": query, "size": min(size, MAX_PAGE_SIZE), "page": page, "callback": CALLBACK,
                                   "format": format})
    m = _JSONP.fullmatch(response.text)
    if m is None or m.group(1) != CALLBACK:
        raise BadResponseError(f"{what}: the answer from {response.url} is not a {CALLBACK}(…) call", url=response.url)
    try:
        data = json.loads(m.group(2))
    except ValueError as exc:
        raise BadResponseError(f"{what}: the JSONP payload is not JSON ({exc})", url=response.url) from exc
    items = data.get("member", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise BadResponseError(f"{what}: expected a list of records", url=response.url)
    if format == "lookup":
        return [item for item in items if isinstance(item, dict)]
    orgs: list[Organisation] = []
    for n, item in enumerate(items, 1):
        try:
            orgs.append(organisation_from_pica(pica_from_json(item, f"{what} item {n}")))
        except ParseError as exc:
            log.warning("skipped item %d: %s", n, exc)
    return orgs


__all__ = ["MAX_PAGE_SIZE", "OrgSearch", "lookup_organisations", "get_organisation", "get_organisations", "is_valid_isil",
           "isil_for_sigel", "organisation_from_member", "organisation_from_pica", "search_organisations",
           "validate_isil"]
