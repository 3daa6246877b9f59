"""Emulated Libris change feed (EMM, service ``emm``) built from ``corpus.changes``.

``GET /`` is the ``OrderedCollection`` entry whose ``first`` page is ``?until=<now ms>``;
``GET /?until=<ms>`` lists activities newest first: ``emu.options["emm_page_size"]``
rows (default 100) at or before ``until`` plus every row stamped exactly at ``until``
(so such rows can repeat on a page), ``next`` = the oldest row's time (rows at a
boundary repeat on the next page), always present, never a ``prev``. An empty page
points ``next`` at the current time. A non-numeric ``until`` gives an empty 200.

Dumps (``GET /full…``, ``Dump.java``): ``full`` lists the selections; ``full?selection=S``
is the ``Collection``; ``&offset=N`` a page of ``emu.options["emm_dump_page_size"]``
(default 100) id lines keyed ``@id``, the context item first at offset 0, ``_status``
``done`` with ``totalItems``, no ``next`` on the last page, and records deleted since
the id list was taken (at the first request for the selection) dropped, so pages can
be short; ``&download=…`` the whole dump as gzipped JSON lines. Selections: ``all``,
``itemAndInstance:<sigel>`` and ``type:<Class>`` (subclasses too); an unknown one is a
500 (the real job never completes and times out). The dump is always complete: the
``generating`` phase is not emulated.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any

from .corpus import parse_time
from .oaipmh import java_utc
from .server import Request, Response, Route, Service

CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://emm-spec.org/1.0/context.json"]
ACTIVITY_JSON = "application/activity+json"


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
        self._rows: tuple[int, list[tuple[int, datetime, str, str]]] | None = None

    def rows(self) -> list[tuple[int, datetime, str, str]]:
        """(ms, time, record IRI, activity type), newest first."""
        changes = self.emu.corpus.changes
        if self._rows is None or self._rows[0] != len(changes):
            with self.emu.corpus.lock:
                rows = []
                for text, iri, kind in list(changes):
                    moment = parse_time(text).astimezone(timezone.utc)
                    rows.append((int(moment.timestamp() * 1000), moment, iri, kind))
            rows.sort(key=lambda r: (r[0], r[2]), reverse=True)
            self._rows = (len(changes), rows)
        return self._rows[1]

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
        older = [r for r in self.rows() if r[0] <= limit]
        page = older[:size] + [r for r in older if r[0] == limit]
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
        graph = (doc or {}).get("@graph") or [{}]
        entity = graph[1] if len(graph) > 1 else {"@id": iri + "#it", "@type": "Record"}
        entity_id = entity.get("@id", iri + "#it")
        if kind == "Create":
            if entity_id in created:
                kind = "Update"
            created.add(entity_id)
        stamp = java_utc(moment)
        obj: dict[str, Any] = {"id": entity_id, "type": "kbv:" + str(entity.get("@type", "Resource")), "updated": stamp}
        if entity.get("@type") == "Item" and isinstance(entity.get("heldBy"), dict):
            obj["kbv:heldBy"] = {"@id": entity["heldBy"].get("@id")}
        return {"type": kind, "published": stamp, "object": obj}


class _Dumps:
    def __init__(self, emu: Any):
        self.emu = emu
        self._jobs: dict[str, tuple[str, list[str]]] = {}  # selection -> (startTime, record IRIs)
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
        job = self.job(selection)
        if job is None:
            return Response.error(500, f"timeout: dump selection {selection} never completes")
        start_time, iris = job
        if req.arg("download") is not None:
            lines = [json.dumps(item, ensure_ascii=False) for item in self.items(selection, iris, True)]
            name = f"{selection}.ndjsonld.gz"
            return Response(200, gzip.compress(("\n".join(lines) + "\n").encode("utf-8")),
                            {"Content-Type": "application/octet-stream",
                             "Content-Disposition": f"attachment; filename={name}"})
        if not (offset_arg or "").isdigit():
            return Response(200, b"", {})
        offset = int(offset_arg or 0)
        size = int(self.emu.options.get("emm_dump_page_size", 100))
        page: dict[str, Any] = {"@context": "https://www.w3.org/ns/activitystreams", "@id": f"{this}&offset={offset}",
                                "type": "CollectionPage", "startTime": start_time, "_status": "done",
                                "totalItems": len(iris), "partOf": {"type": "Collection", "id": this}}
        if offset + size < len(iris):
            page["next"] = f"{this}&offset={offset + size}"
        page["items"] = self.items(selection, iris[offset:offset + size], offset == 0)
        return Response.json(page)

    def job(self, selection: str) -> tuple[str, list[str]] | None:
        """The id list of a selection, taken at its first request (``None``: unknown selection)."""
        with self._lock:
            if selection not in self._jobs:
                iris = self.select(selection)
                if iris is None:
                    return None
                self._jobs[selection] = (java_utc(datetime.now(timezone.utc)), iris)
            return self._jobs[selection]

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
        import copy

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
                    instance = copy.deepcopy(instance_record["@graph"][1])
                    instance["meta"] = copy.deepcopy(instance_record["@graph"][0])
                    graph[1]["itemOf"] = instance
                out.append({"@id": iri, "@context": [None, DUMP_CONTEXT_ID], "@graph": graph})
        return out
