"""Emulated Libris write API and cataloguing endpoints (added to the libris service).

Routes (``add_routes(service, emu)``), following ``Crud.java``, ``HoldAPI``,
``RecordRelationAPI``, ``LegacyMarcAPI``, ``ConverterAPI`` and ``RemoteSearchAPI`` as
described in ``docs/libris-services.md`` §1, §2.7 and §6:

* ``POST /data`` and ``POST /`` create (201 + ``Location`` + ``ETag``);
  ``PUT /<id>`` updates with ``If-Match`` (204; stale ETag → 412, or 409 with
  ``Emulator(conflict_status=409)`` as seed 001 describes); ``DELETE /<id>`` (204;
  403 when other records link to it; 410 when already deleted).
* Bearer tokens from :mod:`linkeddata.emulator.login`; 401 with the server's texts.
  Level 1 clients may only write holdings of their sigels, level 2 anything.
  ``XL-Active-Sigel`` must be one of the client's sigels (403), and is required (400).
* ``GET /_findhold``, ``/_dependencies``, ``/_compilemarc`` (ISO 2709 or MARCXML),
  ``GET``/``POST /_convert`` (``application/x-marc-json``), ``GET /_remotesearch``
  (token required; a few hand-written records in ``LC``, ``BIBSYS`` and ``DANBIB``).

The KBV → MARC21 conversion here is deliberately small (leader, 001/003/005/008,
020, 022, 100/700, 245, 264, 300, 852 and 887): enough for clients to parse.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from . import login
from .corpus import _AUTH_TYPES
from .server import Request, Response, Service

CANONICAL = "https://libris.kb.se"
LIBRARY_PREFIX = CANONICAL + "/library/"
LD_JSON = "application/ld+json"
MARC_JSON = "application/x-marc-json"
MARCXML_NS = "http://www.loc.gov/MARC21/slim"
#: Main-entity types that make a record an authority record (everything else but Item is bib): the corpus' set.
AUTH_TYPES = _AUTH_TYPES
ROLE_CODES = {"author": "aut", "illustrator": "ill", "editor": "edt", "translator": "trl",
              "photographer": "pht", "composer": "cmp"}


# ---------------------------------------------------------------- helpers


def jetty_error(status: int, message: str, path: str = "") -> Response:
    """The HTML page Jetty sends for ``response.sendError(status, message)``."""
    text = escape(message)
    body = (f"<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n"
            f"<title>Error {status} {text}</title>\n</head>\n<body><h2>HTTP ERROR {status} {text}</h2>\n"
            f"<table>\n<tr><th>URI:</th><td>{escape(path)}</td></tr>\n<tr><th>STATUS:</th><td>{status}</td></tr>\n"
            f"<tr><th>MESSAGE:</th><td>{text}</td></tr>\n</table>\n</body>\n</html>\n")
    return Response.text(body, status=status, content_type="text/html;charset=iso-8859-1")


def _ids(node: Any) -> Iterator[tuple[str, str]]:
    """(property, @id) of every link in a JSON-LD tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@graph":
                yield from _ids(value)
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    if "@id" in item and len(item) == 1:
                        yield key, item["@id"]
                    else:
                        yield from _ids(item)
    elif isinstance(node, list):
        for item in node:
            yield from _ids(item)


def _graph(doc: Any) -> list[dict[str, Any]]:
    graph = doc.get("@graph") if isinstance(doc, dict) else None
    return graph if isinstance(graph, list) else []


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("@type")
    return [t] if isinstance(t, str) else list(t or [])


def kind_of(doc: dict[str, Any]) -> str:
    """``hold``, ``auth`` or ``bib`` from the main entity's type."""
    graph = _graph(doc)
    types = _types(graph[1]) if len(graph) > 1 else []
    if "Item" in types:
        return "hold"
    if any(t in AUTH_TYPES for t in types):
        return "auth"
    return "bib"


def _link(node: dict[str, Any], key: str) -> str | None:
    value = node.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return value.get("@id") if isinstance(value, dict) else None


def sigel_of(library: str) -> str:
    """``S`` from ``S`` or ``https://libris.kb.se/library/S``."""
    library = library.strip()
    if "/library/" in library:
        return unquote(library.rsplit("/library/", 1)[1])
    return library


def _norm_etag(value: str | None) -> str:
    value = (value or "").strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').split(":", 1)[0]


def _check_flat(doc: Any) -> str | None:
    """The 400 message for a body Libris would refuse, else ``None``."""
    graph = _graph(doc)
    if not graph or not all(isinstance(n, dict) for n in graph):
        return "Body is not flat JSON-LD: expected {\"@graph\": [Record, mainEntity, ...]}"
    record = graph[0]
    if "Record" not in _types(record) and not str(record.get("@type", "")).endswith("Record"):
        return "The first node of @graph must be the Record"
    if len(graph) < 2 or not record.get("@id") or not graph[1].get("@id"):
        return "Missing temporary @id in Record or main entity"
    if _link(record, "mainEntity") != graph[1]["@id"]:
        return "Missing temporary mainEntity.@id in Record (it must be the @id of the second node)"
    return None


# ---------------------------------------------------------------- KBV → MARC (small)


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _agent_name(agent: dict[str, Any]) -> str:
    if agent.get("familyName") or agent.get("givenName"):
        return ", ".join(x for x in (agent.get("familyName"), agent.get("givenName")) if x)
    for key in ("name", "label", "prefLabel"):
        if agent.get(key):
            return _names(agent[key])[0]
    return ""


def _compact_time(iso: str | None) -> str:
    if not iso:
        return "19700101000000.0"
    digits = re.sub(r"\D", "", iso[:19])
    return (digits + "0" * 14)[:14] + ".0"


def kbv_to_marc(doc: dict[str, Any], lookup: Callable[[str], dict[str, Any] | None] = lambda iri: None,
                holdings: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A MARC-in-JSON record (``{"leader", "fields"}``) for a bib ``doc`` and optional holding docs."""
    graph = _graph(doc)
    record, thing = graph[0], graph[1] if len(graph) > 1 else {}
    nodes = {n.get("@id"): n for n in graph if isinstance(n, dict)}

    def resolve(link: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(link, dict):
            return {}
        if len(link) > 1 or "@id" not in link:
            return link
        iri = link["@id"]
        if iri in nodes:
            return nodes[iri]
        found = lookup(iri)
        if found:
            for node in _graph(found):
                if node.get("@id") == iri:
                    return node
        return {}

    work = resolve(thing.get("instanceOf"))
    fields: list[dict[str, Any]] = []

    def data(tag: str, ind1: str, ind2: str, *subfields: tuple[str, str]) -> None:
        subs = [{code: value} for code, value in subfields if value]
        if subs:
            fields.append({tag: {"ind1": ind1, "ind2": ind2, "subfields": subs}})

    status = {"marc:New": "n", "marc:CorrectedOrRevised": "c", "marc:Deleted": "d"}.get(
        str(record.get("recordStatus")), "n")
    leader = f"00000{status}am a2200000 a 4500"
    short = str(record.get("@id", "")).rstrip("/").rsplit("/", 1)[-1]
    fields.append({"001": str(record.get("controlNumber") or short)})
    fields.append({"003": "SE-LIBR"})
    fields.append({"005": _compact_time(record.get("modified") or record.get("created"))})
    year = ""
    country = "xx "
    for pub in thing.get("publication") or []:
        year = year or str(pub.get("year") or "")
        c = _link(pub, "country")
        if c:
            country = (c.rsplit("/", 1)[-1] + "   ")[:3]
    language = "und"
    lang = work.get("language") if work else None
    if lang:
        first = lang[0] if isinstance(lang, list) else lang
        if isinstance(first, dict) and first.get("@id"):
            language = first["@id"].rsplit("/", 1)[-1][:3]
    created = _compact_time(record.get("created"))[2:8]
    f008 = f"{created}s{(year + '    ')[:4]}    {country}|||||||||||000 ||{language}  "
    fields.append({"008": f008[:40].ljust(40)})
    for ident in thing.get("identifiedBy") or []:
        if not isinstance(ident, dict):
            continue
        if ident.get("@type") == "ISBN":
            data("020", " ", " ", ("a", str(ident.get("value", ""))), *[("q", q) for q in _names(ident.get("qualifier"))])
        elif ident.get("@type") == "ISSN":
            data("022", " ", " ", ("a", str(ident.get("value", ""))))
    contributions = (work or {}).get("contribution") or []
    for i, contribution in enumerate(contributions):
        agent = resolve(contribution.get("agent"))
        name = _agent_name(agent)
        roles = [ROLE_CODES.get((r.get("@id") or "").rsplit("/", 1)[-1], "") for r in contribution.get("role") or []
                 if isinstance(r, dict)]
        tag = "100" if contribution.get("@type") == "PrimaryContribution" else "700"
        ind1 = "1" if agent.get("familyName") or agent.get("@type") == "Person" else "2"
        if agent.get("@type") == "Organization":
            tag = "110" if tag == "100" else "710"
        data(tag, ind1, " ", ("a", name), *[("4", r) for r in roles if r])
    for title in thing.get("hasTitle") or []:
        if isinstance(title, dict) and title.get("@type", "Title") == "Title":
            data("245", "1" if contributions else "0", "0", ("a", str(title.get("mainTitle", ""))),
                 ("b", str(title.get("subtitle", ""))), ("c", str(thing.get("responsibilityStatement", ""))))
            break
    for pub in thing.get("publication") or []:
        places = [lbl for p in pub.get("place") or [] for lbl in _names(p.get("label"))]
        agent = pub.get("agent") or {}
        data("264", " ", "1", *[("a", p) for p in places], *[("b", b) for b in _names(agent.get("label"))],
             ("c", str(pub.get("year", ""))))
    for extent in thing.get("extent") or []:
        data("300", " ", " ", *[("a", e) for e in _names(extent.get("label"))])
    data("887", " ", " ", ("a", json.dumps({"@id": short, "modified": record.get("modified", "")})), ("2", "librisxl"))
    for hold in holdings:
        hgraph = _graph(hold)
        if len(hgraph) < 2:
            continue
        item = hgraph[1]
        sigel = sigel_of(_link(item, "heldBy") or "")
        shelf, location = [], []
        for comp in [item, *(item.get("hasComponent") or [])]:
            mark = comp.get("shelfMark") or {}
            shelf += _names(mark.get("label")) if isinstance(mark, dict) else []
            location += _names(comp.get("physicalLocation"))
        data("852", " ", " ", ("5", sigel), ("b", sigel), *[("c", c) for c in location[:1]],
             *[("h", h) for h in shelf[:1]])
        hid = str(hgraph[0].get("@id", "")).rsplit("/", 1)[-1]
        data("887", " ", " ", ("5", sigel),
             ("a", json.dumps({"@id": hid, "modified": hgraph[0].get("modified", "")})), ("2", "librisxl"))
    fields.sort(key=lambda f: next(iter(f)))
    return {"leader": leader, "fields": fields}


def marc_json_to_xml(records: list[dict[str, Any]]) -> str:
    """MARCXML ``<collection>`` for MARC-in-JSON records."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<collection xmlns="{MARCXML_NS}">']
    for rec in records:
        out.append(record_xml(rec))
    out.append("</collection>")
    return "\n".join(out) + "\n"


def record_xml(rec: dict[str, Any], prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    out = [f"  <{p}record>", f"    <{p}leader>{escape(rec['leader'])}</{p}leader>"]
    for field in rec["fields"]:
        tag, value = next(iter(field.items()))
        if isinstance(value, str):
            out.append(f'    <{p}controlfield tag="{tag}">{escape(value)}</{p}controlfield>')
            continue
        out.append(f'    <{p}datafield tag="{tag}" ind1={quoteattr(value["ind1"])} ind2={quoteattr(value["ind2"])}>')
        for sub in value["subfields"]:
            code, text = next(iter(sub.items()))
            out.append(f'      <{p}subfield code="{code}">{escape(text)}</{p}subfield>')
        out.append(f"    </{p}datafield>")
    out.append(f"  </{p}record>")
    return "\n".join(out)


def marc_json_to_iso2709(rec: dict[str, Any]) -> bytes:
    """One ISO 2709 record (UTF-8, leader/09 = ``a``)."""
    directory = b""
    body = b""
    for field in rec["fields"]:
        tag, value = next(iter(field.items()))
        if isinstance(value, str):
            data = value.encode("utf-8") + b"\x1e"
        else:
            data = (value["ind1"] + value["ind2"]).encode("utf-8")
            for sub in value["subfields"]:
                code, text = next(iter(sub.items()))
                data += b"\x1f" + code.encode("utf-8") + text.encode("utf-8")
            data += b"\x1e"
        directory += f"{tag}{len(data):04d}{len(body):05d}".encode("ascii")
        body += data
    base = 24 + len(directory) + 1
    length = base + len(body) + 1
    leader = rec["leader"]
    leader = f"{length:05d}{leader[5:9]}a{leader[10:12]}{base:05d}{leader[17:24]}"
    return leader.encode("ascii") + directory + b"\x1e" + body + b"\x1d"


# ---------------------------------------------------------------- remote databases

REMOTE_DATABASES: list[dict[str, str]] = [
    {"database": "LC", "name": "Library of Congress", "alternativeName": "Library of Congress Online Catalog",
     "country": "USA", "comment": "Böcker, tidskrifter, kartor och musik i Library of Congress samlingar."},
    {"database": "BIBSYS", "name": "BIBSYS", "alternativeName": "Norska universitetsbibliotek",
     "country": "Norge", "comment": "Samkatalog för norska universitets- och högskolebibliotek."},
    {"database": "DANBIB", "name": "DanBib", "alternativeName": "Danska samkatalogen",
     "country": "Danmark", "comment": "Dansk samkatalog för folk- och forskningsbibliotek."},
]


def _remote(db: str, n: int, title: str, isbn: str, year: str, agent: str) -> dict[str, Any]:
    rid = f"https://libris.kb.se/remote/{db.lower()}{n}"
    return {"@graph": [
        {"@id": rid, "@type": "Record", "mainEntity": {"@id": rid + "#it"}, "descriptionConventions": []},
        {"@id": rid + "#it", "@type": "Print", "hasTitle": [{"@type": "Title", "mainTitle": title}],
         "identifiedBy": [{"@type": "ISBN", "value": isbn}],
         "publication": [{"@type": "PrimaryPublication", "year": year, "agent": {"@type": "Agent", "label": [agent]}}],
         "instanceOf": {"@type": "Text"}}]}


REMOTE_RECORDS: dict[str, list[dict[str, Any]]] = {
    "LC": [_remote("LC", 1, "Harbours of the northern seas", "9780300112233", "2011", "Yale University Press"),
           _remote("LC", 2, "Lichens of the boreal forest", "9780226334455", "2019", "University of Chicago Press")],
    "BIBSYS": [_remote("BIBSYS", 1, "Fjordfolk og fiskevær", "9788202556677", "2016", "Cappelen Damm"),
               _remote("BIBSYS", 2, "Nordlys over Tromsø", "9788205998877", "2021", "Gyldendal")],
    "DANBIB": [_remote("DANBIB", 1, "Havnebyer i Østersøen", "9788702123456", "2014", "Gyldendal"),
               _remote("DANBIB", 2, "Skovens hemmelige liv", "9788711765432", "2018", "Lindhardt og Ringhof")],
}


def _remote_text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False).lower()


# ---------------------------------------------------------------- routes


class WriteBackend:
    """The state and rules of the write API over the emulator's corpus (moto's "backend": no HTTP).

    The route functions below parse a request, ask the backend and turn its answer
    (or the :class:`Response` it returns for an error) into the response.
    """

    def __init__(self, emu: Any):
        self.emu = emu
        self.corpus = emu.corpus
        self.tokens = login.registry(emu)

    @property
    def conflict_status(self) -> int:
        """412 for a stale ETag, or what ``Emulator(conflict_status=…)`` says (read on every request)."""
        options = getattr(self.emu, "options", None) or {}
        return int(options.get("conflict_status", 412))

    # -- who writes ------------------------------------------------------------

    def authenticate(self, req: Request) -> tuple[Any, Response | None]:
        client, error = self.tokens.check(req.headers.get("Authorization"))
        if error:
            return None, jetty_error(401, error, req.path)
        return client, None

    def active_sigel(self, req: Request, client: Any) -> tuple[str | None, Response | None]:
        sigel = (req.headers.get("XL-Active-Sigel") or "").strip()
        if not sigel:
            return None, Response.error(400, "Missing XL-Active-Sigel header.")
        if sigel not in client.sigels:
            return None, Response.error(403, f"You do not have permission to act as sigel {sigel}.")
        return sigel, None

    def writer(self, req: Request, id: str | None = None) -> tuple[Any, Any, Any, Response | None]:
        """The client, active sigel and record IRI of a write request, or the error to answer."""
        client, error = self.authenticate(req)
        if error:
            return None, None, None, error
        sigel, error = self.active_sigel(req, client)
        if error or id is None:
            return client, sigel, None, error
        iri, error = self.resolve_path_id(id)
        return client, sigel, iri, error

    @staticmethod
    def may_write(client: Any, doc: dict[str, Any]) -> bool:
        if kind_of(doc) != "hold":
            return bool(client.level >= 2)
        graph = _graph(doc)
        held = _link(graph[1], "heldBy") if len(graph) > 1 else None
        if not held:
            return False
        return sigel_of(held) in client.sigels

    # -- what is there ---------------------------------------------------------

    def thing_of(self, record_iri: str) -> str | None:
        graph = _graph(self.corpus.get(record_iri))
        return graph[1].get("@id") if len(graph) > 1 else None

    def held_by(self, hold_iri: str) -> str | None:
        graph = _graph(self.corpus.get(hold_iri))
        return sigel_of(_link(graph[1], "heldBy") or "") if len(graph) > 1 else None

    def live_bib(self, iri: str | None) -> bool:
        return iri is not None and iri not in self.corpus.deleted and self.corpus.kind(iri) == "bib"

    def holdings(self, bib: str, sigel: str) -> list[str]:
        """The live holdings of ``sigel`` on a bib record."""
        return [h for h in self.corpus.holdings_of(self.thing_of(bib) or bib)
                if h not in self.corpus.deleted and self.held_by(h) == sigel]

    def resolve_path_id(self, ident: str) -> tuple[str | None, Response | None]:
        """Record IRI for ``/<id>`` or a 404/410 response."""
        found = self.corpus.lookup(ident)
        if found is None:
            return None, Response.error(404, "Document not found.")
        if found[1] == "deleted" or found[0] in self.corpus.deleted:
            return None, Response.error(410, "Document has been deleted.")
        return found[0], None

    def linking_records(self, record_iri: str) -> list[tuple[str, str]]:
        """(record IRI, property) of every live record that links to ``record_iri``."""
        found = []
        for other, doc in list(self.corpus.records.items()):
            if other == record_iri or other in self.corpus.deleted:
                continue
            for prop, target in _ids(doc):
                if target.startswith(CANONICAL) and self.corpus.resolve(target) == record_iri:
                    found.append((other, prop))
        return found

    def linked_records(self, record_iri: str) -> list[tuple[str, str]]:
        """(record IRI, property) of every live record ``record_iri`` links to."""
        pairs = []
        for prop, target in _ids(self.corpus.get(record_iri)):
            other = self.corpus.resolve(target) if target.startswith(CANONICAL) else None
            if other and other != record_iri and other not in self.corpus.deleted:
                pairs.append((other, prop))
        return pairs

    def lookup(self, iri: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.corpus.get(iri) if iri.startswith(CANONICAL) else None
        return found

    # -- changes ---------------------------------------------------------------

    def create(self, doc: dict[str, Any], sigel: str) -> tuple[str, str] | Response:
        """(IRI, ETag) of the new record, or the error (a holding needs a live bib, one per library)."""
        graph = _graph(doc)
        with self.corpus.lock:
            if kind_of(doc) == "hold":
                item = graph[1]
                held, item_of = _link(item, "heldBy"), _link(item, "itemOf")
                if not held or not item_of:
                    return Response.error(400, "A holding must have heldBy and itemOf.")
                bib = self.corpus.resolve(item_of)
                if not self.live_bib(bib):
                    return Response.error(400, "Failed to acquire a necessary lock: the holding's itemOf "
                                               f"{item_of} is not a valid bibliographic record.")
                for hold in self.corpus.holdings_of(self.thing_of(bib) or item_of):
                    if hold not in self.corpus.deleted and self.held_by(hold) == sigel_of(held):
                        return Response.error(409, f"Already exists a holding record for {sigel_of(held)} "
                                                   f"and bib: {bib}")
            iri = self.corpus.create(doc, sigel)
            return iri, self.corpus.etag(iri)

    def update(self, client: Any, iri: str, doc: dict[str, Any], if_match: str) -> str | Response:
        """The new ETag, or the error (id changed, collection changed, permission, stale ETag)."""
        with self.corpus.lock:
            if _graph(doc)[0].get("@id") != iri:
                return Response.error(400, "Record ID was modified")
            current = self.corpus.get(iri)
            if kind_of(doc) != self.corpus.kind(iri):
                return Response.error(400, "Changing the collection of a record is not allowed.")
            if not self.may_write(client, current) or not self.may_write(client, doc):
                return Response.error(403, "You don't have the permission to update this document.")
            if _norm_etag(if_match) != _norm_etag(self.corpus.etag(iri)):
                return Response.error(self.conflict_status,
                                      "The resource has been updated by someone else. Please refetch.")
            self.corpus.replace(iri, doc)
            etag: str = self.corpus.etag(iri)
            return etag

    def delete(self, client: Any, iri: str) -> Response | None:
        """``None`` once deleted, else the error (permission, linked to by other records)."""
        with self.corpus.lock:
            if not self.may_write(client, self.corpus.get(iri)):
                return Response.error(403, "You don't have the permission to delete this document.")
            links = self.linking_records(iri)
            if links:
                return Response.error(403, f"This record is linked to by {len(links)} other record(s) "
                                           f"(e.g. {links[0][0]} via {links[0][1]}) and cannot be deleted.")
            self.corpus.delete(iri)
        return None


# ---------------------------------------------------------------- request helpers


def parse_body(req: Request) -> tuple[Any, Response | None]:
    """The flat JSON-LD record a write sends, or the 400 to answer."""
    ctype = (req.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != LD_JSON:
        return None, Response.error(400, f"Content-Type not allowed: {ctype or 'none'} (use {LD_JSON}).")
    if not req.body.strip():
        return None, Response.error(400, "No data received.")
    try:
        doc = json.loads(req.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None, Response.error(400, "Body is not valid JSON.")
    problem = _check_flat(doc)
    if problem:
        return None, Response.error(400, problem)
    return doc, None


def request_iri(ident: str, req: Request) -> str:
    """Map an id given as an emulator URL back to the canonical IRI."""
    ident = ident.strip()
    if ident.startswith(req.base_url + "/"):
        ident = CANONICAL + ident[len(req.base_url):]
    return ident


# ---------------------------------------------------------------- routes: create / update / delete


def create(backend: WriteBackend, req: Request) -> Response:
    client, sigel, _, error = backend.writer(req)
    if error:
        return error
    doc, error = parse_body(req)
    if error:
        return error
    if not backend.may_write(client, doc):
        return Response.error(403, "You don't have the permission to create this document.")
    created = backend.create(doc, sigel)
    if isinstance(created, Response):
        return created
    iri, etag = created
    return Response(201, b"", {"Location": iri, "ETag": f'"{etag}"'})


def update(backend: WriteBackend, req: Request, id: str) -> Response:
    client, _, iri, error = backend.writer(req, id)
    if error:
        return error
    if_match = req.headers.get("If-Match")
    if not if_match:
        return Response.error(400, "Missing If-Match header in update")
    doc, error = parse_body(req)
    if error:
        return error
    etag = backend.update(client, iri, doc, if_match)
    if isinstance(etag, Response):
        return etag
    return Response(204, b"", {"Location": iri, "ETag": f'"{etag}"'})


def delete(backend: WriteBackend, req: Request, id: str) -> Response:
    client, _, iri, error = backend.writer(req, id)
    if error:
        return error
    return backend.delete(client, iri) or Response(204, b"")


def not_allowed(backend: WriteBackend, req: Request) -> Response:
    return Response.error(405, f"Method {req.method} not allowed on /")


# ---------------------------------------------------------------- routes: helper APIs


def findhold(backend: WriteBackend, req: Request) -> Response:
    ident, library = req.arg("id"), req.arg("library")
    if not ident or not library:
        return jetty_error(400, "Missing parameter: id and library are required", req.path)
    bib = backend.corpus.resolve(request_iri(ident, req))
    if not backend.live_bib(bib):
        return jetty_error(400, f"{ident} is not a bibliographic record", req.path)
    return Response.json(backend.holdings(bib, sigel_of(library)), Expires="0")


def dependencies(backend: WriteBackend, req: Request) -> Response:
    ident = req.arg("id")
    relation = req.arg("relation")
    reverse = (req.arg("reverse") or "false").lower() == "true"
    mode = req.arg("return", "id")
    if not ident:
        return jetty_error(400, "Missing parameter: id", req.path)
    if mode not in ("id", "bare_record", "embellished_record"):
        return jetty_error(400, f"Bad value for return: {mode}", req.path)
    iri = backend.corpus.resolve(request_iri(ident, req))
    if iri is None or iri in backend.corpus.deleted:
        return jetty_error(400, f"Unknown id {ident}", req.path)
    pairs = backend.linking_records(iri) if reverse else backend.linked_records(iri)
    result = sorted({other for other, prop in pairs if relation is None or prop == relation})
    if mode == "id":
        return Response.json(result)
    return Response.json([backend.corpus.get(r) for r in result])


def compilemarc(backend: WriteBackend, req: Request) -> Response:
    ident = req.arg("id")
    if not ident:
        return jetty_error(400, "Missing parameter: id", req.path)
    bib = backend.corpus.resolve(request_iri(ident, req))
    if not backend.live_bib(bib):
        return jetty_error(400, f"{ident} is not a bibliographic record", req.path)
    library = req.arg("library")
    holds: list[dict[str, Any]] = []
    if library and library.startswith(LIBRARY_PREFIX):
        holds = [backend.corpus.get(h) for h in backend.holdings(bib, sigel_of(library))]
    rec = kbv_to_marc(backend.corpus.get(bib), backend.lookup, holds)
    short = bib.rsplit("/", 1)[-1]
    if (req.arg("format") or "").upper() == "MARCXML":
        body, name = marc_json_to_xml([rec]).encode("utf-8"), f"{short}.marc.xml"
    else:
        body, name = marc_json_to_iso2709(rec), f"{short}.marc"
    return Response(200, body, {"Content-Type": "application/octet-stream",
                                "Content-Disposition": f'attachment; filename="{name}"'})


def convert(backend: WriteBackend, req: Request) -> Response:
    target = req.arg("to") or req.headers.get("Accept") or MARC_JSON
    target = target.split(",")[0].split(";")[0].strip()
    if target not in (MARC_JSON, "*/*", ""):
        return jetty_error(406, f"Conversion to {target} is not supported", req.path)
    ctype = (req.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != LD_JSON or not req.body.strip():
        return jetty_error(400, "Body must be application/ld+json", req.path)
    try:
        doc = json.loads(req.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return jetty_error(400, "Body is not valid JSON", req.path)
    problem = _check_flat(doc)
    if problem:
        return jetty_error(400, problem, req.path)
    return Response.json(kbv_to_marc(doc, backend.lookup), content_type=MARC_JSON)


def remotesearch(backend: WriteBackend, req: Request) -> Response:
    _, error = backend.authenticate(req)
    if error:
        return error
    q = req.arg("q")
    databases = req.arg("databases")
    if databases is not None and not q:
        return Response.json(REMOTE_DATABASES)
    names = [d.strip() for d in (databases or "LC").split(",") if d.strip()]
    unknown = [d for d in names if d not in REMOTE_RECORDS]
    if unknown:
        return Response.json({"error": f"Unknown database(s): {', '.join(unknown)}"})
    try:
        start = max(0, int(req.arg("start", "0") or 0))
        n = max(0, int(req.arg("n", "10") or 10))
    except ValueError:
        return Response.json({"error": "start and n must be integers"})
    terms = (q or "").lower().split()
    total: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    for db in names:
        hits = [d for d in REMOTE_RECORDS[db] if all(t in _remote_text(d) for t in terms)]
        total[db] = len(hits)
        items += [{"database": db, "data": d} for d in hits]
    return Response.json({"totalResults": total, "items": items[start:start + n], "errors": {}})


def marc_export(backend: WriteBackend, req: Request) -> Response:
    # the query string is split by hand and not URL-decoded, as MarcHttpExport does
    raw: dict[str, str] = {}
    for pair in req.raw_query.split("&"):
        key, _, value = pair.partition("=")
        raw.setdefault(key, value)
    since, until = raw.get("from", ""), raw.get("until", "")
    stamp = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
    if not stamp.fullmatch(since) or not stamp.fullmatch(until):
        return jetty_error(400, "Missing or invalid from/until", req.path)
    profile = {}
    for line in req.body.decode("utf-8", "replace").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            profile[key.strip()] = value.strip()
    locations = profile.get("locations", "*").split()
    lo, hi = _instant(since), _instant(until)
    corpus = backend.corpus
    out = []
    for iri in corpus.iter_records(kind="bib"):
        thing = backend.thing_of(iri) or iri
        holds = [h for h in corpus.holdings_of(thing) if "*" in locations or backend.held_by(h) in locations]
        times = [corpus.modified(iri)] + [corpus.modified(h) for h in holds]
        if not any(lo <= _instant(t) < hi for t in times):
            continue
        if "*" not in locations and not holds:
            continue
        out.append(kbv_to_marc(corpus.get(iri), backend.lookup, [corpus.get(h) for h in holds]))
    if profile.get("format", "").upper() == "MARCXML":
        return Response(200, marc_json_to_xml(out).encode("utf-8"), {})
    return Response(200, b"".join(marc_json_to_iso2709(r) for r in out), {})


#: (method, path pattern, route), tried in this order.
ROUTES: tuple[tuple[str, str, Callable[..., Response]], ...] = (
    ("POST", r"/api/marc_export/?", marc_export),
    ("POST", r"/(?:data/?)?", create),
    ("PUT", r"/", not_allowed),
    ("DELETE", r"/", not_allowed),
    ("GET", r"/_findhold/?", findhold),
    ("GET", r"/_dependencies/?", dependencies),
    ("GET", r"/_compilemarc/?", compilemarc),
    ("GET", r"/_convert/?", convert),
    ("POST", r"/_convert/?", convert),
    ("GET", r"/_remotesearch/?", remotesearch),
    ("PUT", r"/(?P<id>[^/_][^/]*)", update),
    ("DELETE", r"/(?P<id>[^/_][^/]*)", delete),
)


def add_routes(service: Service, emu: Any) -> None:
    """Add the write and cataloguing routes to the libris ``service``, over one :class:`WriteBackend`."""
    backend = WriteBackend(emu)
    for method, pattern, route in ROUTES:
        service.add(method, pattern)(functools.partial(route, backend))


def _instant(text: str) -> float:
    """Epoch seconds of an ISO time (``Z`` or an offset; naive means UTC)."""
    from datetime import datetime, timezone

    value = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
