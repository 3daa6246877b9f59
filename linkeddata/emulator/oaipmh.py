"""Emulated Libris OAI-PMH provider (service ``oaipmh``) over the shared corpus.

Reproduces what harvesters meet at ``https://libris.kb.se/api/oaipmh/``: the six
verbs, errors as ``<error code>`` with HTTP 200, one-line XML, ``jsonld`` as CDATA
without ``@context``, sets ``bib``/``auth``/``hold``/``hold:<sigel>``/``bib:<sigel>``/
``nb``/``sao``, inclusive ``from``/``until`` on ``modified``, stateless URL-safe
Base64 JSON resumption tokens ending with an empty ``<resumptionToken/>``
(pages scan ``emu.options["oai_page_size"]`` rows, default 100, so set pages can be
empty), deleted headers without metadata (with ``x-withDeletedData=true``: with the tombstone, a
flag the token carries as ``d``) and an ``<about>`` after every header.
``emu.options["oai_conversion_failures"]``: short ids whose metadata is the
provider's ``Error: Document conversion failed.``. Under ``_expanded`` (and ``marcxml``) an
authority record whose card changed pulls in the bib and holding records linking to it, with
their own datestamps (dependency expansion, §4.5). ``_includehold`` attaches every holding
(``<holding sigel id>``) and linked authority (``<auth id>``) of a bib record in a second ``<about>``.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

from .corpus import _links, parse_time, short_id
from .server import Request, Response, Route, Service

STATIC_SETS = [("auth", "Authority records"), ("bib", "Bibliographic records"), ("hold", "Holding records"),
               ("nb", "National bibliography"), ("sao", "Svenska ämnesord")]
FORMATS = {
    "jsonld": ("http://www.w3.org/2009/sparql/docs/json-ld", "http://www.w3.org/ns/json-ld#"),
    "marcxml": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", "http://www.loc.gov/MARC21/slim"),
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0"),
    "rdfxml": ("http://www.openarchives.org/OAI/2.0/rdf.xsd", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    "ttl": ("http://www.w3.org/TeamSubmission/turtle/", "http://www.w3.org/TeamSubmission/turtle/"),
}
SUFFIXES = ("", "_expanded", "_includehold", "_includehold_expanded")
#: Every metadataPrefix the provider accepts (17: ``ttl`` takes no suffix).
PREFIXES = tuple(p + s for p in FORMATS for s in (SUFFIXES if p != "ttl" else ("",)))
LIST_PARAMS = {"metadataPrefix", "from", "until", "set", "x-withDeletedData", "x-withSilentUpdates"}
VERB_PARAMS = {
    "Identify": set(),
    "ListMetadataFormats": {"identifier"},
    "ListSets": {"resumptionToken"},
    "ListRecords": LIST_PARAMS | {"resumptionToken"},
    "ListIdentifiers": LIST_PARAMS | {"resumptionToken"},
    "GetRecord": {"identifier", "metadataPrefix", "x-withDeletedData"},
}
CONVERSION_FAILED = "Error: Document conversion failed."
_TIME_ERR = "Allowed time formats are: YYYY-MM-DD and YYYY-MM-DDThh:mm:ssZ."
LIBRARY = "https://libris.kb.se/library/"


class _OAIFail(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def base_format(prefix: str) -> str:
    """The format of a metadataPrefix without its suffix.

    >>> base_format("oai_dc_includehold_expanded")
    'oai_dc'
    """
    for suffix in SUFFIXES[:0:-1]:
        if prefix.endswith(suffix):
            return prefix[: -len(suffix)]
    return prefix


def java_utc(moment: datetime) -> str:
    """UTC time as Java's ``ZonedDateTime.toString()`` prints it (seconds dropped when zero).

    >>> java_utc(datetime(2026, 7, 2, 8, 15, tzinfo=timezone.utc))
    '2026-07-02T08:15Z'
    """
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M")
    if moment.second or moment.microsecond:
        text += f":{moment.second:02d}"
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}" if moment.microsecond % 1000 == 0 else f".{moment.microsecond:06d}"
    return text + "Z"


def parse_oai_time(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or a zoned ISO date-time; else ``badArgument``."""
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        try:
            return datetime.fromisoformat(text + "T00:00:00+00:00")
        except ValueError as exc:  # 2026-13-45
            raise _OAIFail("badArgument", _TIME_ERR) from exc
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d)(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise _OAIFail("badArgument", _TIME_ERR)
    seconds = m.group(2) or ":00"
    if m.group(3):
        seconds = seconds[: 3] + m.group(3)[:7]
    try:
        return datetime.fromisoformat(m.group(1) + seconds + m.group(4).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError as exc:
        raise _OAIFail("badArgument", _TIME_ERR) from exc


def encode_token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise _OAIFail("badResumptionToken", "The resumptionToken is invalid or has expired.") from exc
    if not isinstance(data, dict) or not data.get("u") or not data.get("p"):
        raise _OAIFail("badResumptionToken", "The resumptionToken is invalid or has expired.")
    return data


def build(emu: Any) -> Service:
    provider = _Provider(emu)
    return Service("oaipmh", [Route("GET", r"(?:/api/oaipmh)?/?", provider.handle),
                              Route("POST", r"(?:/api/oaipmh)?/?", provider.handle)])


class _Provider:
    def __init__(self, emu: Any):
        self.emu = emu
        self._rows: tuple[int, list[tuple[datetime, str, str]]] | None = None
        self._links: tuple[int, dict[str, list[str]]] | None = None  # record IRI → records linking to it

    @property
    def corpus(self) -> Any:
        return self.emu.corpus

    @property
    def page_size(self) -> int:
        return int(self.emu.options.get("oai_page_size", 100))

    # -- transport

    def handle(self, req: Request) -> Response:
        query = {k: list(v) for k, v in req.query.items()}
        if req.method == "POST" and req.body:
            for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items():
                query.setdefault(k, []).extend(v)
        params = {k: v[0] for k, v in query.items()}
        verb = params.get("verb")
        url = req.base_url + req.path
        try:
            if verb not in VERB_PARAMS:
                raise _OAIFail("badVerb", "Bad verb." if verb else "No verb.")
            extra = sorted(set(params) - VERB_PARAMS[verb] - {"verb"})
            repeated = [k for k, v in query.items() if len(v) > 1]
            if extra or repeated:
                raise _OAIFail("badArgument", f"Request contained unknown parameter(s): {', '.join(extra or repeated)}")
            body = getattr(self, verb.lower())(params)
        except _OAIFail as fail:
            attrs = "" if fail.code in ("badVerb", "badArgument") else _attrs(params)
            return _respond(f"<request{attrs}>{escape(url)}</request>"
                            f"<error code={quoteattr(fail.code)}>{escape(fail.message)}</error>")
        return _respond(f"<request{_attrs(params)}>{escape(url)}</request>{body}")

    # -- verbs

    def identify(self, params: dict[str, str]) -> str:
        rows = self.rows()
        earliest = java_utc(rows[0][0]) if rows else java_utc(datetime.now(timezone.utc))
        return ("<Identify><repositoryName>Libris XL</repositoryName>"
                f"<baseURL>https://libris.kb.se/api/oaipmh/</baseURL><protocolVersion>2.0</protocolVersion>"
                f"<adminEmail>libris@kb.se</adminEmail><earliestDatestamp>{earliest}</earliestDatestamp>"
                "<deletedRecord>persistent</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>")

    def listsets(self, params: dict[str, str]) -> str:
        if "resumptionToken" in params:
            raise _OAIFail("badResumptionToken", "The resumptionToken is invalid or has expired.")
        sets = list(STATIC_SETS)
        for sigel in sorted(self.corpus.sigels()):
            sets += [(f"hold:{sigel}", f"Holding records for sigel {sigel}"),
                     (f"bib:{sigel}", f"Bibliographic records for sigel {sigel}")]
        return "<ListSets>" + "".join(f"<set><setSpec>{escape(s)}</setSpec><setName>{escape(n)}</setName></set>"
                                      for s, n in sets) + "</ListSets>"

    def listmetadataformats(self, params: dict[str, str]) -> str:
        if "identifier" in params:
            found = self.corpus.lookup(params["identifier"])
            if not found or found[1] == "deleted":
                raise _OAIFail("idDoesNotExist", f"Identifier does not exist: {params['identifier']}")
        out = "".join(f"<metadataFormat><metadataPrefix>{p}</metadataPrefix><schema>{FORMATS[base_format(p)][0]}"
                      f"</schema><metadataNamespace>{FORMATS[base_format(p)][1]}</metadataNamespace></metadataFormat>"
                      for p in PREFIXES)
        return f"<ListMetadataFormats>{out}</ListMetadataFormats>"

    def getrecord(self, params: dict[str, str]) -> str:
        if "identifier" not in params or "metadataPrefix" not in params:
            raise _OAIFail("badArgument", "GetRecord requires identifier and metadataPrefix.")
        prefix = self.check_prefix(params["metadataPrefix"])
        found = self.corpus.lookup(params["identifier"])
        if not found or not found[0]:
            raise _OAIFail("noRecordsMatch", "No records match.")
        return f"<GetRecord>{self.record(found[0], prefix, True, _flag(params, 'x-withDeletedData'))}</GetRecord>"

    def listrecords(self, params: dict[str, str], with_metadata: bool = True) -> str:
        verb = "ListRecords" if with_metadata else "ListIdentifiers"
        if "resumptionToken" in params:
            if len(params) > 2:
                raise _OAIFail("badArgument", "resumptionToken must be the only argument besides verb.")
            state = decode_token(params["resumptionToken"])
            resumed = True
        else:
            if "metadataPrefix" not in params:
                raise _OAIFail("badArgument", "metadataPrefix is required.")
            state = {"u": params.get("until") or java_utc(datetime.now(timezone.utc)), "p": params["metadataPrefix"]}
            if "from" in params:
                state["f"] = params["from"]
            if "set" in params:
                state["s"] = params["set"]
            if _flag(params, "x-withDeletedData"):
                state["d"] = True
            if _flag(params, "x-withSilentUpdates"):
                state["c"] = True
            resumed = False
        prefix = self.check_prefix(state["p"])
        set_spec = state.get("s")
        self.check_set(set_spec)
        start = parse_oai_time(state["f"]) if state.get("f") else None
        end = parse_oai_time(state["u"])
        cursor = (parse_oai_time(state["am"]), state.get("ai", "")) if state.get("am") else None
        window = [row for row in self.rows() if (start is None or row[0] >= start) and row[0] <= end
                  and (cursor is None or (row[0], row[1]) > cursor)]
        scanned, rest = window[: self.page_size], window[self.page_size:]
        expand = "_expanded" in prefix or base_format(prefix) == "marcxml"
        parts = [self.record(each, prefix, with_metadata, bool(state.get("d"))) for _, _, iri in scanned
                 for each in [iri] + (self.dependents(iri) if expand else []) if self.in_set(each, set_spec)]
        if not resumed and not parts and not rest:
            raise _OAIFail("noRecordsMatch", "No records match.")
        if rest:
            last = scanned[-1]
            token = encode_token({**state, "am": java_utc(last[0]), "ai": last[1]})
            parts.append(f"<resumptionToken>{token}</resumptionToken>")
        elif resumed:
            parts.append("<resumptionToken/>")
        return f"<{verb}>{''.join(parts)}</{verb}>"

    def listidentifiers(self, params: dict[str, str]) -> str:
        return self.listrecords(params, with_metadata=False)

    # -- helpers

    def check_prefix(self, prefix: str) -> str:
        if prefix not in PREFIXES:
            raise _OAIFail("cannotDisseminateFormat", f"Unsupported metadataPrefix: {prefix}")
        return prefix

    @staticmethod
    def check_set(spec: str | None) -> None:
        if spec is None or spec in dict(STATIC_SETS) or re.fullmatch(r"(hold|bib):[^:]+", spec):
            return
        raise _OAIFail("badArgument", "Not a supported set spec")

    def rows(self) -> list[tuple[datetime, str, str]]:
        """(modified in UTC, short id, record IRI) of every record, deleted ones too, in harvest order."""
        corpus = self.corpus
        version = len(corpus.changes)
        if self._rows is None or self._rows[0] != version:
            with corpus.lock:
                rows = [(parse_time(corpus.modified(iri)).astimezone(timezone.utc), short_id(iri), iri)
                        for iri in corpus.iter_records(include_deleted=True)]
            rows.sort(key=lambda r: (r[0], r[1]))
            self._rows = (version, rows)
        return self._rows[1]

    def dependents(self, iri: str) -> list[str]:
        """Records emitted with an authority record under ``_expanded`` (and ``marcxml``): the live bib
        and holding records that link to it, when its card changed compared with its previous
        version (``Helpers.hasCardChanged``; here: its main entity differs). Their datestamps lie
        outside the window, and a record can so appear twice in one harvest (§4.5, §4.6)."""
        corpus = self.corpus
        if corpus.kind(iri) != "auth" or iri not in corpus.records or not corpus.versions.get(iri):
            return []
        graph, before = corpus.records[iri]["@graph"], corpus.versions[iri][-1]["@graph"]
        if len(graph) < 2 or len(before) > 1 and before[1] == graph[1]:
            return []
        version = len(corpus.changes)
        if self._links is None or self._links[0] != version:
            index: dict[str, list[str]] = {}
            with corpus.lock:
                for record in corpus.iter_records():
                    if corpus.kind(record) in ("bib", "hold"):
                        for target in set(_links(corpus.records[record])):
                            index.setdefault(target.split("#", 1)[0], []).append(record)
            self._links = (version, index)
        return list(self._links[1].get(iri, []))

    def document(self, iri: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.corpus.records.get(iri) or self.corpus.deleted_document(iri)
        return found

    def in_set(self, iri: str, spec: str | None) -> bool:
        kind = self.corpus.kind(iri)
        if spec is None:
            return kind in ("bib", "auth", "hold")
        name, _, sigel = spec.partition(":")
        if name != kind and not (name in ("nb",) and kind == "bib") and not (name == "sao" and kind == "auth"):
            return False
        doc = self.document(iri) or {"@graph": [{}, {}]}
        graph = doc["@graph"]
        entity = graph[1] if len(graph) > 1 else {}
        if name == "hold" and sigel:
            return (entity.get("heldBy") or {}).get("@id") == LIBRARY + sigel
        if name == "bib" and sigel:
            if iri not in self.corpus.records:
                return False
            return any((self.corpus.records[h]["@graph"][1].get("heldBy") or {}).get("@id") == LIBRARY + sigel
                       for h in self.corpus.holdings_of(entity.get("@id", iri)))
        if name == "nb":
            return bool(graph[0].get("encodingLevel") == "marc:FullLevel")
        if name == "sao":
            return (entity.get("inScheme") or {}).get("@id") == "https://id.kb.se/term/sao"
        return True

    def record(self, iri: str, prefix: str, with_metadata: bool, with_deleted_data: bool = False) -> str:
        """One ``<record>`` (or a ListIdentifiers header): a deleted record has no metadata unless
        ``x-withDeletedData`` asked for its tombstone."""
        corpus = self.corpus
        deleted = iri in corpus.deleted
        doc = self.document(iri) or {"@graph": [{}]}
        graph = doc["@graph"]
        entity = graph[1] if len(graph) > 1 else {}
        kind = corpus.kind(iri)
        specs = {"hold": ["hold"] + ([f"hold:{entity['heldBy']['@id'][len(LIBRARY):]}"]
                                     if isinstance(entity.get("heldBy"), dict) else []),
                 "bib": ["bib"], "auth": [] if "Work" in str(entity.get("@type")) else ["auth"]}[kind]
        header = (f"<header{' status=' + quoteattr('deleted') if deleted else ''}>"
                  f"<identifier>{escape(iri)}</identifier><datestamp>{escape(corpus.modified(iri))}</datestamp>"
                  + "".join(f"<setSpec>{escape(s)}</setSpec>" for s in specs) + "</header>")
        about_parts = []
        if kind == "hold" and isinstance(entity.get("itemOf"), dict):
            about_parts.append(f"<itemOf id={quoteattr(entity['itemOf'].get('@id', ''))}/>")
        agent = (graph[0].get("descriptionLastModifier") or {}).get("@id", "unknown")
        about_parts.append(f"<agent name={quoteattr(agent)}/>")
        about = "<about>" + "".join(about_parts) + "</about>"
        if not with_metadata:
            return header + about
        metadata = ""
        if not deleted or with_deleted_data:
            failures = set(self.emu.options.get("oai_conversion_failures", ()))
            if short_id(iri) in failures or iri in failures:
                metadata = f"<metadata>{CONVERSION_FAILED}</metadata>"
            else:
                metadata = f"<metadata>{self.render(iri, doc, prefix)}</metadata>"
        attached = ""
        if "_includehold" in prefix and kind == "bib" and not deleted:
            attached = "<about>" + self.attached(iri, entity, prefix) + "</about>"
        return f"<record>{header}{metadata}{about}{attached}</record>"

    def attached(self, iri: str, entity: dict[str, Any], prefix: str) -> str:
        """``<holding sigel id>`` for every holding of a bib record, then ``<auth id>`` for linked authorities."""
        corpus = self.corpus
        parts = []
        for hold in corpus.holdings_of(entity.get("@id", iri)):
            hold_doc = corpus.records[hold]
            held_by = (hold_doc["@graph"][1].get("heldBy") or {}).get("@id", "")
            parts.append(f"<holding sigel={quoteattr(held_by[len(LIBRARY):])} id={quoteattr(short_id(hold))}>"
                         f"{self.render(hold, hold_doc, prefix)}</holding>")
        for linked in corpus.linked_records(iri):
            if corpus.kind(linked) == "auth":
                parts.append(f"<auth id={quoteattr(short_id(linked))}>"
                             f"{self.render(linked, corpus.records[linked], prefix)}</auth>")
        return "".join(parts)

    def render(self, iri: str, doc: dict[str, Any], prefix: str) -> str:
        """A record's ``<metadata>`` content in a format: CDATA for jsonld/ttl, inline XML for the rest."""
        from .libris_read import embellish, to_rdf

        base = base_format(prefix)
        doc = {k: v for k, v in doc.items() if k != "@context"}
        if ("_expanded" in prefix or base == "marcxml") and iri in self.corpus.records:
            doc = embellish(copy.deepcopy(doc), iri, self.corpus)
        if base == "jsonld":
            return _cdata(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        if base == "ttl":
            return _cdata(to_rdf(doc, "text/turtle").decode("utf-8"))
        if base == "rdfxml":
            text = to_rdf(doc, "application/rdf+xml").decode("utf-8")
            return re.sub(r"^<\?xml[^>]*\?>\s*", "", text)
        if base == "marcxml":
            return marc_record(doc, self.corpus)
        return ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:identifier>{escape(iri)}</dc:identifier></oai_dc:dc>")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def marc_record(doc: dict[str, Any], corpus: Any) -> str:
    """An inline ``marc:record`` generated from a record's fields (leader, 001, 008, 020, 100/245/264 for a
    bib record; leader/06 ``x`` and 852 ``$b`` sigel, ``$h`` shelf mark for a holding)."""
    from .libris_write import kbv_to_marc, record_xml

    graph = doc.get("@graph") or [{}]
    entity = graph[1] if len(graph) > 1 else {}
    if entity.get("@type") == "Item":
        record = graph[0]
        sigel = (entity.get("heldBy") or {}).get("@id", "")[len(LIBRARY):]
        shelf = [label for comp in [entity, *(entity.get("hasComponent") or [])]
                 for label in ((comp.get("shelfMark") or {}).get("label") or [])]
        item_of = corpus.resolve((entity.get("itemOf") or {}).get("@id", "")) or ""
        fields: list[dict[str, Any]] = [{"001": str(record.get("controlNumber") or short_id(record.get("@id", "")))},
                                        {"004": short_id(item_of)} if item_of else {"004": ""},
                                        {"008": "      0u    8   4001aa   0      "}]
        subfields = [{"b": sigel}] + ([{"h": str(shelf[0])}] if shelf else [])
        fields.append({"852": {"ind1": " ", "ind2": " ", "subfields": subfields}})
        marc = {"leader": "00000nx  a22000001n 4500", "fields": [f for f in fields if next(iter(f.values()))]}
    else:
        marc = kbv_to_marc(doc, corpus.get)
    text = "".join(line.strip() for line in record_xml(marc, "marc").splitlines())
    return text.replace("<marc:record>", f'<marc:record xmlns:marc="{MARC_NS}">', 1)


MARC_NS = "http://www.loc.gov/MARC21/slim"


def _flag(params: dict[str, str], name: str) -> bool:
    return params.get(name, "").strip().lower() == "true"


def _attrs(params: dict[str, str]) -> str:
    return "".join(f" {k}={quoteattr(v)}" for k, v in params.items() if re.fullmatch(r"[A-Za-z][\w.-]*", k))


def _respond(inner: str) -> Response:
    now = datetime.now(timezone.utc)
    body = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
            'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
            f"<responseDate>{java_utc(now)}</responseDate>{inner}</OAI-PMH>")
    return Response.text(body, content_type="text/xml; charset=utf-8")
