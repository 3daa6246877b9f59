"""Emulated Libris change feed (EMM, service ``emm``) and dumps, built from ``corpus.changes``.

Change feed (``EmmServlet``, libris-services.md §5.1–5.2): ``GET /`` is the
``OrderedCollection`` entry whose ``first`` page is ``?until=<now ms>``; ``GET /?until=<ms>``
lists one activity per saved version, newest first: ``emu.options["emm_page_size"]`` rows
(default 100) at or before ``until`` plus every row stamped exactly at ``until`` (so such rows
can repeat on a page), ``next`` = the oldest row's time (rows at a boundary repeat on the next
page), always present, never a ``prev``: the feed never signals its end. An empty page points
``next`` at the current time. A non-numeric ``until`` gives an empty 200.

Dumps (``Dump.java``, §5.3): ``full`` lists the selections; ``full?selection=S`` is the
``Collection``; ``&offset=N`` a page of ``emm_dump_page_size`` (default 100) id lines keyed
``@id``, the context item first at offset 0, records deleted since the id list was taken
dropped (short pages), ``next`` advancing by a whole page; ``&download=…`` the whole dump as
gzipped JSON lines (``application/octet-stream``). Selections: ``all``,
``itemAndInstance:<sigel>`` (each Item's ``itemOf`` replaced by the full Instance, its record
under ``meta``) and ``type:<Class>`` (subclasses too); an unknown one never completes and ends
in the (here immediate) 500 timeout.

The id list of a selection is taken at its first request (``startTime``). Options that make
the traps happen on demand:

- ``emm_dump_generating`` (int): this many page requests of a new job are answered while the
  id list is still being written: ``_status: generating``, no ``totalItems``, ``next`` always
  given, at most 99 items (``recordsToSend = min(100, available/17 − 1)``); a download then
  holds only the ids written so far.
- ``emm_dump_max_age`` (seconds, default 5 days): an older job is thrown away and regenerated
  on the next request, with a new ``startTime``.
- ``emm_dump_regenerate_after`` (int): regenerate the next new job once after that many page or
  download requests (a dump that turns 5 days old while a client pages through it).
- ``emm_dump_regenerate`` (bool): regenerate on the next request (the option is then removed).
"""

from __future__ import annotations

import bisect
import copy
import gzip
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from .corpus import parse_time
from .oaipmh import java_utc
from .server import Request, Response, Route, Service

CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://emm-spec.org/1.0/context.json"]
ACTIVITY_JSON = "application/activity+json"
#: Dumps older than this are regenerated (``Dump.java``: 5 days).
MAX_DUMP_AGE = 5 * 86400.0


#: The ``@id`` of the context item that starts a dump (the system context's IRI).
DUMP_CONTEXT_ID = "https://id.kb.se/sys/context/kbv"


def build(emu: Any) -> Service:
    feed = _Feed(emu)
    dumps = _Dumps(emu)
    return Service("emm", [Route("GET", r"(?:/api/emm)?/full", dumps.handle),
                           Route("GET", r"(?:/api/emm)?/?", feed.handle)])


class _Feed:
    def __init__(self, emu: Any):
        self.emu = emu
        self._rows: list[tuple[int, datetime, str, str]] = []  # newest first
        self._keys: list[tuple[int, str]] = []  # (-ms, -) ascending, for bisect
        self._parsed = 0
        self._lock = threading.Lock()

    def rows(self) -> list[tuple[int, datetime, str, str]]:
        """(ms, time, record IRI, activity type), newest first (new changes parsed incrementally)."""
        changes = self.emu.corpus.changes
        with self._lock:
            if self._parsed != len(changes):
                with self.emu.corpus.lock:
                    new = list(changes[self._parsed:])
                    self._parsed = len(changes)
                for text, iri, kind in new:
                    moment = parse_time(text).astimezone(timezone.utc)
                    self._rows.append((int(moment.timestamp() * 1000), moment, iri, kind))
                self._rows.sort(key=lambda r: (r[0], r[2]), reverse=True)
                self._keys = [-r[0] for r in self._rows]  # type: ignore[misc]
            return self._rows

    def handle(self, req: Request) -> Response:
        base = req.base_url + req.path.rstrip("/") + "/"
        until = req.arg("until")
        if until is None:
            now = int(time.time() * 1000)
            return Response.json({"@context": CONTEXT, "type": "OrderedCollection", "id": base, "url": base + "full",
                                  "first": {"type": "OrderedCollectionPage", "id": f"{base}?until={now}"}},
                                 content_type=ACTIVITY_JSON, Cache_Control="no-cache")
        if not until.isdigit():
            return Response(200, b"", {})
        limit = int(until)
        size = int(self.emu.options.get("emm_page_size", 100))
        rows = self.rows()
        first = bisect.bisect_left(self._keys, -limit)  # the newest row at or before `until`
        page = rows[first:first + size]
        same = bisect.bisect_right(self._keys, -limit)
        page += rows[first:same]  # every row stamped exactly at `until`, again
        items: list[dict[str, Any]] = []
        created: set[str] = set()
        for ms, moment, iri, kind in page:
            activity = self.activity(moment, iri, kind, created)
            if activity:
                items.append(activity)
        next_ms = min(r[0] for r in page) if page else int(time.time() * 1000)
        body = {"@context": CONTEXT + [{"kbv": "https://id.kb.se/vocab/"}], "type": "OrderedCollectionPage",
                "id": f"{base}?until={limit}", "partOf": {"type": "OrderedCollection", "id": base},
                "next": f"{base}?until={next_ms}", "orderedItems": items}
        return Response.json(body, content_type=ACTIVITY_JSON, Cache_Control="no-cache")

    def activity(self, moment: datetime, iri: str, kind: str, created: set[str]) -> dict[str, Any] | None:
        corpus = self.emu.corpus
        doc = corpus.records.get(iri) or corpus.deleted_document(iri)
        graph: list[Any] = (doc or {}).get("@graph") or [{}]
        entity: dict[str, Any] = graph[1] if len(graph) > 1 else {"@id": iri + "#it", "@type": "Record"}
        entity_id = entity.get("@id", iri + "#it")
        if kind == "Create":
            if entity_id in created:
                kind = "Update"
            created.add(entity_id)
        stamp = java_utc(moment)
        obj: dict[str, Any] = {"id": entity_id, "type": "kbv:" + str(entity.get("@type", "Resource")), "updated": stamp}
        if entity.get("@type") == "Item" and isinstance(entity.get("heldBy"), dict):
            held: dict[str, Any] = entity["heldBy"]
            obj["kbv:heldBy"] = {"@id": held.get("@id")}
        return {"type": kind, "published": stamp, "object": obj}



class _Job:
    """A dump job: the id list of one selection, taken at ``start_time``."""

    def __init__(self, iris: list[str], previous: str | None = None):
        now = datetime.now(timezone.utc)
        stamp = java_utc(now)
        if stamp == previous:  # a regenerated dump always has a new startTime
            stamp = java_utc(now + timedelta(milliseconds=1))
        self.start_time = stamp
        self.created = time.time()
        self.iris = iris
        self.requests = 0  # page and download requests answered
        self.generating = 0  # page requests still to answer as `generating`
        self.regenerate_at: int | None = None
        self.download: tuple[int, bytes] | None = None  # (corpus version, gzipped body)


class _Dumps:
    def __init__(self, emu: Any):
        self.emu = emu
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    def handle(self, req: Request) -> Response:
        full = req.base_url + req.path
        selection = req.arg("selection")
        if selection is None:
            base = full[: -len("full")]
            categories = [{"url": f"{full}?selection=all", "description": "Every record"}]
            categories += [{"url": f"{full}?selection=itemAndInstance:{s}",
                            "description": f"Holdings of {s} with their instances"} for s in sorted(self.emu.corpus.sigels())]
            categories += [{"url": f"{full}?selection=type:{t}", "description": f"Entities of type {t}"}
                           for t in ("Instance", "Agent", "Item")]
            return Response.json({"categories": categories, "warning": f"Dumps under {base} are temporary."},
                                 Cache_Control="no-cache")
        label = req.arg("computedLabel")
        if label is not None and label not in ("sv", "en"):
            return Response.error(400, f"Unsupported computedLabel: {label}")
        extra = "".join(f"&{k}={req.arg(k)}" for k in ("profile", "computedLabel") if req.arg(k) is not None)
        this = f"{full}?selection={selection}{extra}"
        offset_arg = req.arg("offset")
        if offset_arg is None and req.arg("download") is None:
            return Response.json({"@context": ["https://www.w3.org/ns/activitystreams"], "type": "Collection",
                                  "id": this, "url": f"{this}&download=.ndjsonld.gz",
                                  "first": {"type": "CollectionPage", "id": f"{this}&offset=0"}},
                                 content_type=ACTIVITY_JSON)
        if offset_arg is not None and req.arg("download") is None and not offset_arg.isdigit():
            return Response(200, b"", {})
        job, generating = self.job(selection)
        if job is None:
            return Response.error(500, f"timeout: dump selection {selection} never completes")
        size = int(self.emu.options.get("emm_dump_page_size", 100))
        available = len(job.iris)
        if generating:  # the id file is still growing: one more page of ids per request
            available = min(len(job.iris), job.requests * size)
        if req.arg("download") is not None:
            return self.download(selection, job, available)
        offset = int(offset_arg or 0)
        page: dict[str, Any] = {"@context": "https://www.w3.org/ns/activitystreams", "@id": f"{this}&offset={offset}",
                                "type": "CollectionPage", "startTime": job.start_time}
        if generating:
            waiting = available - offset
            if waiting <= 0:  # the real page waits 60 s for ids, then times out
                return Response.error(500, f"timeout waiting for ids of {selection} at offset {offset}")
            ids = job.iris[offset:offset + min(size, waiting - 1)]  # recordsToSend = min(100, available/17 - 1)
            page["_status"] = "generating"
            page["partOf"] = {"type": "Collection", "id": this}
            page["next"] = f"{this}&offset={offset + size}"
        else:
            ids = job.iris[offset:offset + size]
            page.update({"_status": "done", "totalItems": len(job.iris), "partOf": {"type": "Collection", "id": this}})
            if offset + size < len(job.iris):
                page["next"] = f"{this}&offset={offset + size}"
        page["items"] = self.items(selection, ids, offset == 0)
        return Response.json(page)

    def download(self, selection: str, job: _Job, available: int) -> Response:
        version = len(self.emu.corpus.changes) * 1_000_003 + available
        if job.download is None or job.download[0] != version:
            stream = gzip.compress(b"".join(json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"
                                            for item in self.items(selection, job.iris[:available], True)), 6)
            job.download = (version, stream)
        return Response(200, job.download[1], {"Content-Type": "application/octet-stream",
                                               "Content-Disposition": f"attachment; filename={selection}.ndjsonld.gz"})

    def job(self, selection: str) -> tuple[_Job | None, bool]:
        """The job of a selection (``None``: unknown selection) and whether it is still generating.

        The id list is taken at the selection's first request and again when the job is older
        than ``emm_dump_max_age`` or has served ``emm_dump_regenerate_after`` requests (once).
        """
        options = self.emu.options
        with self._lock:
            job = self._jobs.get(selection)
            stale = job is not None and (time.time() - job.created > float(options.get("emm_dump_max_age", MAX_DUMP_AGE))
                                         or (job.regenerate_at is not None and job.requests >= job.regenerate_at))
            stale = stale or bool(options.pop("emm_dump_regenerate", False))
            if job is None or stale:
                iris = self.select(selection)
                if iris is None:
                    return None, False
                new = _Job(iris, job.start_time if job else None)
                new.generating = int(options.get("emm_dump_generating", 0))
                after = options.pop("emm_dump_regenerate_after", None)  # once: the next job is left alone
                new.regenerate_at = int(after) if after is not None else None
                self._jobs[selection] = job = new
            job.requests += 1
            generating = job.generating > 0
            if generating:
                job.generating -= 1
            return job, generating

    def select(self, selection: str) -> list[str] | None:
        from .libris_read import SUPERCLASS

        corpus = self.emu.corpus
        kind, _, value = selection.partition(":")
        with corpus.lock:
            if selection == "all":
                return list(corpus.iter_records())
            if kind == "itemAndInstance" and value:
                held = set(corpus.held_by(value))
                return [iri for iri in corpus.iter_records(kind="hold") if iri in held]
            if kind == "type" and value:
                def is_a(t: Any) -> bool:
                    while t:
                        if t == value:
                            return True
                        t = SUPERCLASS.get(t)
                    return False

                return [iri for iri in corpus.iter_records() if is_a(corpus.records[iri]["@graph"][1].get("@type"))]
        return None

    def items(self, selection: str, iris: list[str], with_context: bool) -> list[dict[str, Any]]:
        """The page's items: records still live when served (deleted ones dropped), context item first."""
        from ..jsonld import kbv_context

        corpus = self.emu.corpus
        out: list[dict[str, Any]] = [{"@id": DUMP_CONTEXT_ID, "@context": kbv_context()}] if with_context else []
        with corpus.lock:
            for iri in iris:
                doc = corpus.records.get(iri)
                if doc is None:
                    continue
                graph = copy.deepcopy(doc["@graph"])
                if selection.startswith("itemAndInstance:"):
                    instance_record = corpus.get((graph[1].get("itemOf") or {}).get("@id", ""))
                    if instance_record is None:
                        continue
                    instance = embedded_entity(instance_record["@graph"])
                    instance["meta"] = copy.deepcopy(instance_record["@graph"][0])
                    graph[1]["itemOf"] = instance
                out.append({"@id": iri, "@context": [None, DUMP_CONTEXT_ID], "@graph": graph})
        return out


def embedded_entity(graph: list[dict[str, Any]]) -> dict[str, Any]:
    """A record's main entity with the record's other local nodes (a ``#work``) inlined where
    it links to them: the full entity, the same triples as the stored record without its Record.

    >>> embedded_entity([{"@id": "r"}, {"@id": "r#it", "instanceOf": {"@id": "r#work"}}, {"@id": "r#work", "x": 1}])
    {'@id': 'r#it', 'instanceOf': {'@id': 'r#work', 'x': 1}}
    """
    local: dict[str, Any] = {str(n["@id"]): n for n in graph[2:] if isinstance(n, dict) and n.get("@id")}
    used: set[str] = set()

    def inline(value: Any) -> Any:
        if isinstance(value, dict):
            ref = value.get("@id")
            if len(value) == 1 and isinstance(ref, str) and ref in local and ref not in used:
                used.add(ref)
                return inline(copy.deepcopy(local[ref]))
            return {k: inline(v) for k, v in value.items()}
        if isinstance(value, list):
            return [inline(v) for v in value]
        return value

    entity: dict[str, Any] = inline(copy.deepcopy(graph[1]))
    return entity
