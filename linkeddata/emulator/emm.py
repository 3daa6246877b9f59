"""Emulated Libris change feed (EMM, service ``emm``) built from ``corpus.changes``.

``GET /`` is the ``OrderedCollection`` entry whose ``first`` page is ``?until=<now ms>``;
``GET /?until=<ms>`` lists activities newest first: ``emu.options["emm_page_size"]``
rows (default 100) at or before ``until`` plus every row stamped exactly at ``until``
(so such rows can repeat on a page), ``next`` = the oldest row's time (rows at a
boundary repeat on the next page), always present, never a ``prev``. An empty page
points ``next`` at the current time. A non-numeric ``until`` gives an empty 200.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from .corpus import parse_time
from .oaipmh import java_utc
from .server import Request, Response, Route, Service

CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://emm-spec.org/1.0/context.json"]
ACTIVITY_JSON = "application/activity+json"


def build(emu: Any) -> Service:
    feed = _Feed(emu)
    return Service("emm", [Route("GET", r"(?:/api/emm)?/?", feed.handle)])


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
