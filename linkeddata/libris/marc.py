"""MARC21 in and out of Libris: files, the MARC export API and the supplier acquisition routine.

Needs the ``marc`` extra (``pip install 'linkeddata[marc]'``, pymarc); it is imported
only when a function here needs it.

* :func:`read_marc` / :func:`write_marc` — MARC21 (ISO 2709) or MARCXML files.
* :func:`export_marc` — ``POST <libris>/api/marc_export/?from=…&until=…`` with an
  export profile (Java properties) as the body; the answer is written to a file.
  :func:`split_export` separates the deletion list that ``deleted=append`` adds after
  a NUL byte.
* :func:`acquire` — the acquisition routine for suppliers (seed 003) as a documented
  workflow:

  1. read a supplier MARCXML batch: bibliographic records, each followed by its
     holdings records (leader/06 ``x``/``y``/``u``/``v``, library in ``852 $b``);
  2. match each bibliographic record on ISBN (``020 $a``, then ``$z``; hyphens dropped,
     ISBN-10 and ISBN-13 forms both tried) with ``GET /find?identifiedBy.value=<isbn>``,
     then ``GET /find?q=<isbn>``; a hit counts only if the record really carries the ISBN;
  3. for a matched record, ask ``/_findhold`` whether the library already has a
     holding; if not, create one (``POST /data``) unless ``dry_run``;
  4. records that do not match are reported as *new*; with ``create_new=True`` (a
     level 2 client) a minimal bibliographic record is made from the MARC fields
     (:func:`marc_to_kbv`) and the holding is added to it.

  Bibliographic records whose batch holdings name other libraries only are skipped
  (``only_listed=True``), because the supplier sent them for someone else.

>>> normalize_isbn("978-91-502-2231-9")
'9789150222319'
>>> isbn_variants("91-27-10850-3")
['9127108503', '9789127108509']
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ..config import service_url, to_canonical_iri
from ..errors import ConfigError, HTTPError, InvalidInputError, LinkedDataError, MissingExtraError, ParseError
from ..http import make_session, request

log = logging.getLogger(__name__)

MARCXML_NS = "http://www.loc.gov/MARC21/slim"
HOLDINGS_TYPES = set("uvxy")
#: Bytes we accept from one MARC export call unless raised.
MAX_EXPORT_BYTES = 2 * 1024 * 1024 * 1024
DELETION_HEADER = "Libris bibliografiska kontrollnummer rekommenderade för gallring;Anledning"


def pymarc() -> Any:
    """The pymarc module, or a :class:`~linkeddata.errors.MissingExtraError` telling how to install it."""
    try:
        import pymarc as _pymarc
    except ImportError as exc:
        raise MissingExtraError("MARC support needs pymarc: pip install 'linkeddata[marc]'", extra="marc") from exc
    return _pymarc


# ---------------------------------------------------------------- ISBN


def normalize_isbn(value: str) -> str | None:
    """Digits (and a final X) of an ISBN in ``value``, or ``None`` if it has none."""
    match = re.search(r"(97[89][\d -]{10,14}|\d[\d -]{8,12}[\dXx])", value or "")
    if not match:
        return None
    digits = re.sub(r"[^0-9Xx]", "", match.group(1)).upper()
    return digits if len(digits) in (10, 13) else None


def isbn_variants(value: str) -> list[str]:
    """The ISBN in both its 10- and 13-digit forms (where a 10-digit form exists)."""
    isbn = normalize_isbn(value)
    if not isbn:
        return []
    out = [isbn]
    if len(isbn) == 10:
        core = "978" + isbn[:9]
        check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(core)) % 10) % 10
        out.append(core + str(check))
    elif isbn.startswith("978"):
        core = isbn[3:12]
        total = sum(int(d) * (10 - i) for i, d in enumerate(core))
        check = (11 - total % 11) % 11
        out.append(core + ("X" if check == 10 else str(check)))
    return out


# ---------------------------------------------------------------- files


def read_marc(source: str | Path | bytes, format: str | None = None) -> list[Any]:
    """Read MARC records (pymarc ``Record``\\ s) from a file or bytes; ``format`` ``marcxml``/``iso2709`` or sniffed."""
    return list(iter_marc(source, format))


def iter_marc(source: str | Path | bytes, format: str | None = None) -> Iterator[Any]:
    """Iterate MARC records from MARCXML or ISO 2709 (see :func:`read_marc`)."""
    pm = pymarc()
    name = "bytes" if isinstance(source, bytes) else str(source)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read MARC file {name}: {exc.strerror}") from exc
    fmt = (format or ("marcxml" if data.lstrip()[:1] == b"<" else "iso2709")).lower()
    if fmt == "marcxml":
        try:
            yield from pm.parse_xml_to_array(io.BytesIO(data))
        except Exception as exc:  # SAX errors and pymarc errors
            raise ParseError(f"{name}: not valid MARCXML ({exc})") from exc
        return
    if fmt not in ("iso2709", "marc21", "marc"):
        raise InvalidInputError(f"unknown MARC format {format!r}: use marcxml or iso2709")
    reader = pm.MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=True)
    for record in reader:
        if record is None:
            raise ParseError(f"{name}: a record could not be read ({reader.current_exception})")
        yield record


def _fix_indicators(record: Any) -> Any:
    pm = pymarc()
    for f in record.fields:
        if not f.is_control_field():
            first, second = (f.indicators[0] or " "), (f.indicators[1] or " ")
            f.indicators = pm.Indicators(first, second)
    return record


def write_marc(records: Iterable[Any], path: str | Path, format: str = "marcxml") -> int:
    """Write pymarc records to ``path`` as ``marcxml`` or ``iso2709``; returns how many."""
    pm = pymarc()
    path = Path(path)
    count = 0
    if format.lower() == "marcxml":
        with path.open("wb") as fh:
            writer = pm.XMLWriter(fh)
            for record in records:
                writer.write(_fix_indicators(record))
                count += 1
            writer.close(close_fh=False)
        return count
    if format.lower() not in ("iso2709", "marc21", "marc"):
        raise InvalidInputError(f"unknown MARC format {format!r}: use marcxml or iso2709")
    with path.open("wb") as fh:
        for record in records:
            fh.write(_fix_indicators(record).as_marc())
            count += 1
    return count


def is_holdings(record: Any) -> bool:
    """Whether a MARC record is a holdings record (leader/06 in ``u v x y``)."""
    return str(record.leader)[6:7] in HOLDINGS_TYPES


# ---------------------------------------------------------------- MARC export API


@dataclass
class ExportResult:
    """What :func:`export_marc` wrote."""

    path: Path
    bytes: int
    format: str


def profile_text(profile: str | Mapping[str, Any] | Path) -> str:
    """An export profile as Java properties text (from a dict, a file path or text)."""
    if isinstance(profile, Mapping):
        lines = []
        for key, value in profile.items():
            if isinstance(value, (list, tuple, set)):
                value = " ".join(str(v) for v in value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            lines.append(f"{key}={value}")
        return "\n".join(lines) + "\n"
    if isinstance(profile, Path) or (isinstance(profile, str) and "\n" not in profile and "=" not in profile):
        path = Path(profile)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read export profile {path}: {exc.strerror}") from exc
    return str(profile)


_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def export_marc(profile: str | Mapping[str, Any] | Path, since: str, until: str, output: str | Path, *,
                deleted: str = "ignore", virtual_delete: bool | None = None,
                session: requests.Session | None = None, base_url: str | None = None,
                max_bytes: int = MAX_EXPORT_BYTES) -> ExportResult:
    """Run the MARC21 export API for a time window and write the answer to ``output``.

    ``since``/``until`` are ISO times such as ``2024-05-01T00:00:00Z`` (sent literally:
    the server does not URL-decode them). ``deleted`` is ``ignore``, ``export`` or
    ``append``. The profile is a dict, a properties file or properties text, e.g.
    ``{"locations": "Umu", "format": "MARCXML", "holdupdate": "true"}``.
    """
    for name, value in (("from", since), ("until", until)):
        if not _TIME_RE.fullmatch(value or ""):
            raise InvalidInputError(f"export {name} must be an ISO time like 2024-05-01T00:00:00Z, got {value!r}")
    if deleted not in ("ignore", "export", "append"):
        raise InvalidInputError(f"deleted must be ignore, export or append, got {deleted!r}")
    text = profile_text(profile)
    fmt = "marcxml" if re.search(r"^\s*format\s*=\s*MARCXML", text, re.M | re.I) else "iso2709"
    session = session or make_session(purpose="dump")
    base = service_url("libris", base_url)
    query = f"from={since}&until={until}&deleted={deleted}"
    if virtual_delete is not None:
        query += f"&virtualDelete={'true' if virtual_delete else 'false'}"
    url = f"{base}/api/marc_export/?{query}"
    response = request(session, "POST", url, what=f"MARC export {since}..{until}", data=text.encode("utf-8"),
                       headers={"Content-Type": "text/plain; charset=utf-8"}, stream=True, kind="dump")
    output = Path(output)
    written = 0
    try:
        with output.open("wb") as fh:
            for chunk in response.iter_content(64 * 1024):
                written += len(chunk)
                if written > max_bytes:
                    raise HTTPError(f"{url}: export larger than {max_bytes} bytes; narrow the time window", url=url)
                fh.write(chunk)
    except requests.RequestException as exc:
        raise HTTPError(f"{url}: export interrupted after {written} bytes ({type(exc).__name__}); the file "
                        f"{output} is incomplete", url=url) from exc
    finally:
        response.close()
    log.info("MARC export %s..%s: %d bytes to %s", since, until, written, output)
    return ExportResult(output, written, fmt)


def split_export(data: bytes) -> tuple[bytes, list[tuple[str, str]]]:
    """Split an export made with ``deleted=append`` into MARC bytes and ``(id, reason)`` pairs."""
    if b"\x00" not in data:
        return data, []
    marc, _, tail = data.partition(b"\x00")
    pairs = []
    for line in tail.decode("utf-8", "replace").splitlines():
        if not line.strip() or line.startswith("Libris bibliografiska"):
            continue
        ident, _, reason = line.partition(";")
        pairs.append((ident.strip(), reason.strip()))
    return marc, pairs


# ---------------------------------------------------------------- MARC → KBV (minimal)

ROLE_RELATORS = {"aut": "author", "ill": "illustrator", "trl": "translator", "edt": "editor", "pht": "photographer",
                 "cmp": "composer"}


def _clean(text: str | None) -> str:
    return re.sub(r"\s*[/:;,.=]\s*$", "", (text or "").strip())


def marc_to_kbv(record: Any, temp_id: str | None = None) -> dict[str, Any]:
    """A minimal flat KBV bibliographic record (temporary ids) from a pymarc record.

    Covers title (245), ISBN (020), agents (100/700 with ``$4``), publication (264/260)
    and extent (300): enough to create a preliminary record that cataloguers complete.
    """
    temp = temp_id or f"https://id.kb.se/TEMPID{uuid.uuid4().hex[:12]}"
    thing: dict[str, Any] = {"@id": temp + "#it", "@type": "Print", "issuanceType": "Monograph"}
    f245 = record.get("245")
    if f245 is not None:
        title: dict[str, Any] = {"@type": "Title", "mainTitle": _clean(f245.get("a"))}
        if f245.get("b"):
            title["subtitle"] = _clean(f245.get("b"))
        thing["hasTitle"] = [title]
        if f245.get("c"):
            thing["responsibilityStatement"] = _clean(f245.get("c"))
    identifiers = []
    for f in record.get_fields("020"):
        isbn = normalize_isbn(f.get("a") or "")
        if isbn:
            ident: dict[str, Any] = {"@type": "ISBN", "value": isbn}
            if f.get("q"):
                ident["qualifier"] = [f.get("q")]
            identifiers.append(ident)
    if identifiers:
        thing["identifiedBy"] = identifiers
    publication = record.get("264") or record.get("260")
    if publication is not None:
        pub: dict[str, Any] = {"@type": "PrimaryPublication"}
        if publication.get("a"):
            pub["place"] = [{"@type": "Place", "label": [_clean(publication.get("a"))]}]
        if publication.get("b"):
            pub["agent"] = {"@type": "Agent", "label": [_clean(publication.get("b"))]}
        year = re.search(r"\d{4}", publication.get("c") or "")
        if year:
            pub["year"] = year.group(0)
        thing["publication"] = [pub]
    if record.get("300") is not None and record["300"].get("a"):
        thing["extent"] = [{"@type": "Extent", "label": [_clean(record["300"].get("a"))]}]
    contributions = []
    for tag, kind in (("100", "PrimaryContribution"), ("700", "Contribution")):
        for f in record.get_fields(tag):
            name = _clean(f.get("a"))
            if not name:
                continue
            family, _, given = name.partition(",")
            agent: dict[str, Any] = {"@type": "Person", "familyName": family.strip()}
            if given.strip():
                agent["givenName"] = given.strip()
            contribution: dict[str, Any] = {"@type": kind, "agent": agent}
            roles = [ROLE_RELATORS[c] for c in f.get_subfields("4") if c in ROLE_RELATORS]
            if roles:
                contribution["role"] = [{"@id": f"https://id.kb.se/relator/{r}"} for r in roles]
            contributions.append(contribution)
    work: dict[str, Any] = {"@type": "Text"}
    if contributions:
        work["contribution"] = contributions
    thing["instanceOf"] = work
    record_node = {"@id": temp, "@type": "Record", "mainEntity": {"@id": temp + "#it"},
                   "encodingLevel": "marc:PrepublicationLevel"}
    return {"@graph": [record_node, thing]}


# ---------------------------------------------------------------- acquisition


@dataclass
class AcquisitionItem:
    """One bibliographic record of a batch and what happened to it."""

    title: str
    isbns: list[str]
    status: str  # matched | new | skipped | error
    record: str | None = None
    holding: str | None = None
    action: str = ""  # created | existing | would create | not created | skipped
    message: str = ""
    batch_sigels: list[str] = field(default_factory=list)


@dataclass
class AcquisitionReport:
    """Summary of :func:`acquire`. In a dry run ``holdings_created`` counts holdings that *would* be created."""

    matched: int = 0
    new: int = 0
    holdings_created: int = 0
    holdings_existing: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    dry_run: bool = True
    items: list[AcquisitionItem] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        return (f"{self.matched} matched, {self.new} new, {self.skipped} skipped; holdings: {self.holdings_created} "
                f"{verb}, {self.holdings_existing} existing; {len(self.errors)} errors")


def batch_entries(records: Iterable[Any]) -> list[tuple[Any, list[Any]]]:
    """Pair each bibliographic record with the holdings records that follow it."""
    entries: list[tuple[Any, list[Any]]] = []
    for record in records:
        if is_holdings(record):
            if entries:
                entries[-1][1].append(record)
            continue
        entries.append((record, []))
    return entries


def record_isbns(record: Any) -> list[str]:
    """Candidate ISBNs of a MARC record, ``020 $a`` before ``$z``, each in its 10/13 forms."""
    out: list[str] = []
    for code in ("a", "z"):
        for f in record.get_fields("020"):
            for value in f.get_subfields(code):
                for isbn in isbn_variants(value):
                    if isbn not in out:
                        out.append(isbn)
    return out


def _carries_isbn(item: dict[str, Any], wanted: set[str]) -> bool:
    for node in [item, *(item.get("@graph") or [])]:
        for ident in node.get("identifiedBy") or [] if isinstance(node, dict) else []:
            if isinstance(ident, dict):
                for variant in isbn_variants(str(ident.get("value", ""))):
                    if variant in wanted:
                        return True
    return False


def _record_of(item: dict[str, Any]) -> str | None:
    meta = item.get("meta")
    if isinstance(meta, dict) and meta.get("@id"):
        return to_canonical_iri(str(meta["@id"]))
    iri = item.get("@id")
    return to_canonical_iri(str(iri)).split("#", 1)[0] if iri else None


def match_isbn(isbns: list[str], *, session: requests.Session, base_url: str | None = None) -> list[str]:
    """Record IRIs of bibliographic records carrying one of ``isbns`` (``/find``)."""
    if not isbns:
        return []
    base = service_url("libris", base_url)
    wanted = set(isbns)
    for isbn in isbns:
        for params in ({"identifiedBy.value": isbn, "_limit": "20"}, {"q": isbn, "_limit": "20"}):
            response = request(session, "GET", base + "/find", what=f"search for ISBN {isbn}",
                               params=params, headers={"Accept": "application/ld+json"})
            try:
                items = response.json().get("items") or []
            except (ValueError, AttributeError) as exc:
                raise HTTPError(f"search for ISBN {isbn}: answer is not a JSON-LD result", url=response.url) from exc
            found = [r for r in (_record_of(i) for i in items if isinstance(i, dict) and _carries_isbn(i, wanted)) if r]
            if found:
                return list(dict.fromkeys(found))
    return []


def acquire(batch_path: str | Path, sigel: str, dry_run: bool = True, *, create_new: bool = False,
            only_listed: bool = True, auth: Any = None, session: requests.Session | None = None,
            base_url: str | None = None, progress: Callable[[int], None] | None = None) -> AcquisitionReport:
    """Run the supplier acquisition routine for one library on a MARCXML batch (see the module docs).

    >>> # report = acquire("batch.xml", "Umu", dry_run=True); print(report.summary())
    """
    from . import write

    session = session or make_session(purpose="write")
    report = AcquisitionReport(dry_run=dry_run)
    entries = batch_entries(read_marc(batch_path))
    if not dry_run and auth is None:
        from ..auth import make_auth

        auth = make_auth(session=session, sigel=sigel)
    for n, (bib, holdings) in enumerate(entries, start=1):
        f245 = bib.get("245")
        title = _clean(f245.get("a")) if f245 is not None else "(no title)"
        isbns = record_isbns(bib)
        batch_sigels = [b for h in holdings for f in h.get_fields("852") for b in f.get_subfields("b")]
        item = AcquisitionItem(title, isbns, "new", batch_sigels=batch_sigels)
        report.items.append(item)
        try:
            if only_listed and batch_sigels and sigel not in batch_sigels:
                item.status, item.action = "skipped", "skipped"
                item.message = f"batch holdings are for {', '.join(batch_sigels)}, not {sigel}"
                report.skipped += 1
                continue
            matches = match_isbn(isbns, session=session, base_url=base_url)
            if matches:
                item.status, item.record = "matched", matches[0]
                report.matched += 1
                if len(matches) > 1:
                    item.message = f"{len(matches)} records carry this ISBN; using the first"
            else:
                report.new += 1
                if not isbns:
                    item.message = "no ISBN to match on"
                if not create_new:
                    item.action = "not created"
                    continue
                if dry_run:
                    item.action = "would create"
                    report.holdings_created += 1
                    item.message = (item.message + "; " if item.message else "") + "bibliographic record would be created"
                    continue
                item.record = write.create(marc_to_kbv(bib), sigel=sigel, auth=auth, session=session,
                                           base_url=base_url).iri
            existing = write.find_holdings(item.record, sigel, session=session, base_url=base_url)
            if existing:
                item.holding, item.action = existing[0], "existing"
                report.holdings_existing += 1
            elif dry_run:
                item.action = "would create"
                report.holdings_created += 1
            else:
                doc = write.holding_document(item.record, sigel)
                item.holding = write.create(doc, sigel=sigel, auth=auth, session=session, base_url=base_url).iri
                item.action = "created"
                report.holdings_created += 1
        except LinkedDataError as exc:
            item.status, item.message = "error", str(exc)
            report.errors.append(f"{title}: {exc}")
            log.warning("acquisition of %r failed: %s", title, exc)
        finally:
            if progress:
                progress(n)
    log.info("acquisition %s for %s: %s", batch_path, sigel, report.summary())
    return report


def report_rows(report: AcquisitionReport) -> list[dict[str, Any]]:
    """The items of a report as rows for a table or CSV."""
    return [{"title": i.title, "isbn": (i.isbns or [""])[0], "status": i.status, "action": i.action,
             "record": i.record or "", "holding": i.holding or "", "note": i.message} for i in report.items]


def to_json(report: AcquisitionReport) -> str:
    """The report as JSON text."""
    from dataclasses import asdict

    return json.dumps(asdict(report), ensure_ascii=False, indent=2)


__all__ = [
    "AcquisitionItem", "AcquisitionReport", "ExportResult", "acquire", "batch_entries", "export_marc", "is_holdings",
    "isbn_variants", "iter_marc", "marc_to_kbv", "match_isbn", "normalize_isbn", "profile_text", "read_marc",
    "record_isbns", "report_rows", "split_export", "to_json", "write_marc",
]
