"""The emulator's record corpus: hand-written fixture records plus generated ones.

Every emulated Libris service (records, /find, OAI-PMH, the change feed, writes)
reads and writes this one :class:`Corpus`, so a harvest through any path sees the
same records. Records are kept in the stored Libris shape: ``{"@graph": [Record,
mainEntity, …]}`` with **no** ``@context`` and canonical IRIs
``https://libris.kb.se/<shortid>``.

The hand-written fixtures (``data/records/*.jsonld``) are 8 bibliographic records,
4 authority records (three persons, one organisation), 16 holdings at the sigels
in :data:`FIXTURE_SIGELS` plus one at :data:`MISSING_SIGEL` (a library that has no
organisation record anywhere), one deleted record (answered with 410) and one
merged record id that survives only as a ``sameAs`` of another record (302).
``size`` extra bibliographic records with 1–3 holdings each are generated
deterministically from ``seed`` (about 2 % of them deleted).

>>> c = Corpus()
>>> c.kind(c.resolve("f5nc8rlm2x0vq7s"))
'bib'
>>> c.resolve("http://libris.kb.se/bib/10564432")
'https://libris.kb.se/f5nc8rlm2x0vq7s'
>>> sorted(c.sigels()) == sorted(FIXTURE_SIGELS + (MISSING_SIGEL,))
True
>>> len(Corpus(size=100).records) > len(c.records) + 100
True
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

BASE = "https://libris.kb.se/"
ID_BASE = "https://id.kb.se/"
LIBRARY_BASE = BASE + "library/"
#: Sigels of the Swedish libraries that hold fixture and generated records.
FIXTURE_SIGELS: tuple[str, ...] = ("S", "Uu", "L", "G", "Umu", "Lkp", "Sthm")
#: A sigel that holds one fixture record but has no organisation record (tests of missing organisations).
MISSING_SIGEL = "Zz"
#: Characters of Libris short ids: digits and consonants, no vowels (IdGenerator).
ID_ALPHABET = "0123456789bcdfghjklmnpqrstvwxz"
TIMEZONE = ZoneInfo("Europe/Stockholm")

_AUTH_TYPES = {"Person", "Organization", "Family", "Meeting", "Jurisdiction", "Concept", "Topic", "Geographic",
               "GenreForm", "Agent", "ComplexSubject", "Temporal"}
_SAME_AS = "sameAs"


def now_iso() -> str:
    """The current time as Libris writes record timestamps (local offset, milliseconds)."""
    return format_time(datetime.now(timezone.utc))


def format_time(moment: datetime) -> str:
    """``moment`` in Europe/Stockholm, ISO 8601 with milliseconds and offset."""
    return moment.astimezone(TIMEZONE).isoformat(timespec="milliseconds")


def parse_time(text: str) -> datetime:
    """Parse a record timestamp leniently (offset or ``Z``; no offset means Stockholm)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=TIMEZONE)


def short_id(iri: str) -> str:
    """``https://libris.kb.se/abc#it`` → ``abc``."""
    return iri.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def checksum(doc: Any) -> str:
    """A stable signed 32-bit checksum of a document, printed like Libris prints its checksums."""
    value = zlib.crc32(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return str(value - (1 << 32) if value >= (1 << 31) else value)


def _load_fixtures() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    folder = resources.files("linkeddata.emulator") / "data" / "records"
    records: list[dict[str, Any]] = []
    terms: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".jsonld"):
            continue
        doc = json.loads(entry.read_text(encoding="utf-8"))
        if entry.name.startswith("_"):
            terms.update({node["@id"]: node for node in doc["@graph"]})
        else:
            records.append(doc)
    return records, terms


class Corpus:
    """All records the emulator serves, with indexes for lookups, holdings and changes.

    :param size: how many generated bibliographic records to add (each with 1–3 holdings).
    :param seed: seed of the generator (same seed, same records).
    """

    def __init__(self, size: int = 0, seed: int = 42):
        self.size = size
        self.seed = seed
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, str] = {}
        self.changes: list[tuple[str, str, str]] = []
        #: id.kb.se terms the fixtures link to (IRI → node), for embellishment.
        self.terms: dict[str, dict[str, Any]] = {}
        self._graveyard: dict[str, dict[str, Any]] = {}
        #: Earlier documents of each record, oldest first (for ``/_changesets`` and ``?version=``).
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self._index: dict[str, tuple[str, str]] = {}  # any IRI/short id → (record IRI, how)
        self._keys: dict[str, list[str]] = {}  # record IRI → its keys in _index (O(1) re-indexing)
        self._held: dict[str, tuple[str | None, str | None]] = {}  # holding IRI → (itemOf, sigel)
        self._kinds: dict[str, str] = {}
        self._holdings: dict[str, list[str]] = {}
        self._sigels: dict[str, set[str]] = {}  # sigel → holding record IRIs
        self._types: dict[str, set[str]] = {}  # main-entity @type → live record IRIs (for /find)
        self._order: list[str] | None = None
        self._sort_keys: dict[str, tuple[float, str]] = {}
        self._counter = 0
        fixtures, self.terms = _load_fixtures()
        seeded: list[tuple[datetime, str, str, str]] = []
        for doc in fixtures:
            self._seed(doc, seeded)
        if size:
            self._generate(size, seed, seeded)
        seeded.sort(key=lambda c: (c[0], c[1]))
        self.changes = [(text, iri, kind) for _, text, iri, kind in seeded]

    # ------------------------------------------------------------ lookups

    def get(self, id_or_iri: str) -> dict[str, Any] | None:
        """The stored document of a live record, by short id, record IRI, thing IRI or sameAs IRI."""
        iri = self.resolve(id_or_iri)
        return self.records.get(iri) if iri else None

    def resolve(self, id_or_iri: str) -> str | None:
        """The record IRI a short id, record/thing/sameAs IRI belongs to (live records only)."""
        found = self.lookup(id_or_iri)
        return found[0] if found and found[1] != "deleted" else None

    def lookup(self, id_or_iri: str) -> tuple[str, str] | None:
        """``(record IRI, how)`` where how is ``record``, ``thing``, ``sameAs`` or ``deleted``."""
        key = id_or_iri.strip()
        if key.startswith("http://libris.kb.se/") and not key.startswith(("http://libris.kb.se/bib/",
                                                                           "http://libris.kb.se/auth/",
                                                                           "http://libris.kb.se/hold/",
                                                                           "http://libris.kb.se/resource/")):
            key = "https://" + key[len("http://"):]
        with self.lock:  # a write re-indexes a record in steps: never read it half done
            found = self._index.get(key)
            if found is None and "#" in key:
                found = self._index.get(key.split("#", 1)[0])
                if found and found[1] == "record":
                    found = (found[0], "thing")
        return found

    def kind(self, iri: str) -> str:
        """``bib``, ``auth`` or ``hold`` for a record (live or deleted), from its main entity's type."""
        found = self.lookup(iri)
        return self._kinds[found[0]] if found else "bib"

    def modified(self, iri: str) -> str:
        """The record's ``modified`` timestamp (its deletion time for a deleted record)."""
        record_iri = (self.lookup(iri) or (iri, ""))[0]
        if record_iri in self.deleted:
            return self.deleted[record_iri]
        return str(self.records[record_iri]["@graph"][0]["modified"])

    def etag(self, iri: str, embellished: bool = False) -> str:
        """The ETag value without quotes: ``<checksum>`` or ``<checksum>:<embellished checksum>``."""
        record_iri = self.resolve(iri) or iri
        doc = self.records[record_iri]
        own = checksum(doc)
        if not embellished:
            return own
        parts = [own] + [checksum(self.records[r]) for r in self.linked_records(record_iri)]
        parts += [checksum(self.terms[t]) for t in self.linked_terms(record_iri)]
        return f"{own}:{checksum(parts)}"

    def holdings_of(self, thing_iri: str) -> list[str]:
        """Record IRIs of the live holdings whose ``itemOf`` is ``thing_iri`` (or its record)."""
        with self.lock:
            record_iri = self.resolve(thing_iri)
            thing = self.records[record_iri]["@graph"][1]["@id"] if record_iri else thing_iri
            return list(self._holdings.get(thing, []))

    def holdings_of_exact(self, item_of: str) -> list[str]:
        """Record IRIs of the live holdings whose ``itemOf.@id`` is exactly ``item_of``."""
        with self.lock:
            return list(self._holdings.get(item_of, ()))

    def sigels(self) -> set[str]:
        """Sigels of the libraries that hold at least one live record."""
        with self.lock:
            return {s for s, iris in self._sigels.items() if iris}

    def held_by(self, sigel: str) -> list[str]:
        """Record IRIs of the live holdings of one library."""
        with self.lock:
            return sorted(self._sigels.get(sigel, ()))

    def of_type(self, types: set[str]) -> set[str]:
        """Record IRIs of the live records whose main entity has one of ``types``."""
        with self.lock:
            return set().union(*(self._types.get(t, ()) for t in types))

    def in_order(self, iris: set[str] | list[str]) -> list[str]:
        """``iris`` (live records) in the order of :meth:`iter_records`: (modified, id)."""
        with self.lock:
            keys = self._sort_keys
            return sorted((i for i in iris if i in keys and i not in self.deleted), key=keys.__getitem__)

    def iter_records(self, kind: str | None = None, include_deleted: bool = False) -> Iterator[str]:
        """Record IRIs in (modified, id) order, optionally one kind and with deleted records."""
        with self.lock:
            if self._order is None:
                self._order = sorted(self._sort_keys, key=self._sort_keys.__getitem__)
            order = self._order
        for iri in order:
            if not include_deleted and iri in self.deleted:
                continue
            if kind is not None and self._kinds.get(iri) != kind:
                continue
            yield iri

    def deleted_document(self, iri: str) -> dict[str, Any] | None:
        """The last stored document of a deleted record (for tombstone details)."""
        return self._graveyard.get(iri)

    def linked_records(self, record_iri: str) -> list[str]:
        """Other live records this record links to (auth records; bibs for holdings)."""
        out: list[str] = []
        for target in _links(self.records[record_iri]):
            other = self.resolve(target)
            if other and other != record_iri and other not in out:
                out.append(other)
        return out

    def linked_terms(self, record_iri: str) -> list[str]:
        """id.kb.se terms this record links to that the corpus knows."""
        out: list[str] = []
        for target in _links(self.records[record_iri]):
            if target in self.terms and target not in out:
                out.append(target)
        return out

    # ------------------------------------------------------------ writes

    def create(self, doc: dict[str, Any], sigel: str, stamp: str | None = None) -> str:
        """Store a new record; temporary ids are replaced by a minted one. Returns the record IRI.

        ``stamp`` (a record timestamp) replaces "now" (the change generator sets its own times).
        """
        with self.lock:
            graph = copy.deepcopy(doc["@graph"])
            temp = graph[0].get("@id", "")
            new = BASE + self._mint_id()
            graph = _replace_ids(graph, temp, new) if temp else graph
            graph[0]["@id"] = new
            thing_id = graph[1].get("@id") if len(graph) > 1 else None
            if len(graph) > 1 and (not thing_id or not str(thing_id).startswith(new)):
                graph[1]["@id"] = new + "#it"
            if len(graph) > 1:
                graph[0]["mainEntity"] = {"@id": graph[1]["@id"]}
            stamp = stamp or now_iso()
            record = graph[0]
            record.setdefault("@type", "Record")
            record["controlNumber"] = short_id(new)
            record["created"] = stamp
            record["modified"] = stamp
            record.setdefault("descriptionCreator", {"@id": LIBRARY_BASE + sigel})
            record.setdefault("recordStatus", "marc:New")
            self._add(new, {"@graph": graph})
            self.changes.append((stamp, new, "Create"))
            return new

    def replace(self, iri: str, doc: dict[str, Any], stamp: str | None = None) -> None:
        """Replace a live record's document (ids kept, ``modified`` set to now or ``stamp``)."""
        with self.lock:
            record_iri = self.resolve(iri)
            if record_iri is None:
                raise KeyError(iri)
            graph = copy.deepcopy(doc["@graph"])
            self.versions.setdefault(record_iri, []).append(copy.deepcopy(self.records[record_iri]))
            old = self.records[record_iri]["@graph"][0]
            stamp = stamp or now_iso()
            graph[0]["@id"] = record_iri
            graph[0]["created"] = old.get("created", stamp)
            graph[0]["modified"] = stamp
            if graph[0].get("recordStatus") == "marc:New":
                graph[0]["recordStatus"] = "marc:CorrectedOrRevised"
            self._remove_indexes(record_iri)
            self._add(record_iri, {"@graph": graph})
            self.changes.append((stamp, record_iri, "Update"))

    def delete(self, iri: str, stamp: str | None = None) -> None:
        """Delete a live record: it becomes a tombstone (410) and a Delete change."""
        with self.lock:
            record_iri = self.resolve(iri)
            if record_iri is None:
                raise KeyError(iri)
            stamp = stamp or now_iso()
            doc = self.records[record_iri]
            self._remove_indexes(record_iri)
            del self.records[record_iri]
            doc["@graph"][0]["recordStatus"] = "marc:Deleted"
            doc["@graph"][0]["modified"] = stamp
            self._bury(record_iri, doc, stamp)
            self.changes.append((stamp, record_iri, "Delete"))

    def churn(self, count: int, seed: int = 0) -> dict[str, int]:
        """Apply ``count`` deterministic changes, like a day of cataloguing: edits of
        bibliographic and holding records (some edited twice or more), new holdings and new
        records, holdings moved to another library, deleted holdings and deleted records
        without holdings. They are stamped from now on, after every earlier change, about four
        in each millisecond (for at most a second); the call returns once the last stamp is
        in the past, so the change feed lists them all. Returns how many of each kind were made.
        """
        rng = random.Random(f"{self.seed}:churn:{seed}")
        now = datetime.now(timezone.utc)
        with self.lock:
            latest = max((parse_time(text) for text, _, _ in self.changes[-50:]), default=now)
            start = max(latest + timedelta(milliseconds=1), now)
            end = start + timedelta(milliseconds=min(1000, max(1, count // 4)))
            step = (end - start) / max(1, count)
            pool = [iri for iri in self.records if self._kinds.get(iri) in ("bib", "hold")]
            persons = [iri for iri, doc in self.records.items() if doc["@graph"][1].get("@type") == "Person"]
            made = {"update": 0, "create": 0, "move": 0, "delete": 0}
            for n in range(count):
                stamp = format_time(start + step * n)
                roll = rng.random()
                iri = pool[rng.randrange(len(pool))]
                while iri not in self.records:
                    iri = pool[rng.randrange(len(pool))]
                kind = self._kinds[iri]
                if roll < 0.12 and kind == "hold":
                    self.delete(iri, stamp)
                    made["delete"] += 1
                elif roll < 0.15 and kind == "bib" and not self.holdings_of(iri):
                    self.delete(iri, stamp)
                    made["delete"] += 1
                elif roll < 0.30:
                    bib = iri if kind == "bib" else self._held[iri][0] or ""
                    if self.resolve(bib) is None:
                        continue
                    sigel = rng.choice(FIXTURE_SIGELS)
                    thing = self.records[self.resolve(bib) or ""]["@graph"][1]["@id"]
                    doc = _holding("https://libris.kb.se/TEMPID", thing, sigel, stamp, rng)
                    pool.append(self.create(doc, sigel, stamp))
                    made["create"] += 1
                elif roll < 0.36:
                    fresh = BASE + "TEMPID"
                    doc = _generated_bib(fresh, self.size + n, rng, persons, stamp, stamp)
                    doc["@graph"][2]["@id"] = fresh + "#work"
                    pool.append(self.create(doc, rng.choice(FIXTURE_SIGELS), stamp))
                    made["create"] += 1
                elif roll < 0.40 and kind == "hold":
                    doc = copy.deepcopy(self.records[iri])
                    library = {"@id": LIBRARY_BASE + rng.choice(FIXTURE_SIGELS)}
                    doc["@graph"][1]["heldBy"] = library
                    for part in doc["@graph"][1].get("hasComponent", []):
                        part["heldBy"] = library
                    self.replace(iri, doc, stamp)
                    made["move"] += 1
                else:
                    doc = copy.deepcopy(self.records[iri])
                    doc["@graph"][0]["descriptionLastModifier"] = {"@id": LIBRARY_BASE + rng.choice(FIXTURE_SIGELS)}
                    thing = doc["@graph"][1]
                    if kind == "hold":
                        thing["shelfMark"] = {"@type": "ShelfMark", "label": [f"{rng.choice(_KSSB)} {n}"]}
                    else:
                        thing["extent"] = [{"@type": "Extent", "label": [f"{40 + rng.randrange(500)} s."]}]
                    self.replace(iri, doc, stamp)
                    made["update"] += 1
        wait = (end - datetime.now(timezone.utc)).total_seconds() + 0.002
        if wait > 0:
            time.sleep(wait)
        return made

    # ------------------------------------------------------------ internals

    def _seed(self, doc: dict[str, Any], seeded: list[tuple[datetime, str, str, str]]) -> None:
        record = doc["@graph"][0]
        iri = record["@id"]
        created, modified = parse_time(record["created"]), parse_time(record["modified"])
        seeded.append((created, record["created"], iri, "Create"))
        if record.get("recordStatus") == "marc:Deleted":
            self._kinds[iri] = _kind_of(doc)
            self._bury(iri, doc, record["modified"])
            seeded.append((modified, record["modified"], iri, "Delete"))
            return
        if modified > created:
            seeded.append((modified, record["modified"], iri, "Update"))
        self._add(iri, doc)

    def _add(self, iri: str, doc: dict[str, Any]) -> None:
        self.records[iri] = doc
        self._kinds[iri] = _kind_of(doc)
        keys = self._keys.setdefault(iri, [])

        def index(key: str, how: str) -> None:
            self._index[key] = (iri, how)
            keys.append(key)

        index(iri, "record")
        index(short_id(iri), "record")
        for node in doc["@graph"]:
            node_id = node.get("@id")
            if node_id and node_id != iri:
                index(node_id, "thing")
            for same in node.get(_SAME_AS, ()):
                if isinstance(same, dict) and same.get("@id"):
                    index(same["@id"], "sameAs")
                    if same["@id"].startswith(BASE):
                        index(short_id(same["@id"]), "sameAs")
        thing = doc["@graph"][1] if len(doc["@graph"]) > 1 else {}
        self._types.setdefault(str((thing or doc["@graph"][0]).get("@type")), set()).add(iri)
        if thing.get("@type") == "Item":
            item_of = (thing.get("itemOf") or {}).get("@id")
            if item_of:
                self._holdings.setdefault(item_of, []).append(iri)
            held = (thing.get("heldBy") or {}).get("@id", "")
            sigel = held[len(LIBRARY_BASE):] if held.startswith(LIBRARY_BASE) else None
            if sigel is not None:
                self._sigels.setdefault(sigel, set()).add(iri)
            self._held[iri] = (item_of, sigel)
        self._sort_keys[iri] = (parse_time(doc["@graph"][0]["modified"]).timestamp(), short_id(iri))
        self._order = None

    def _remove_indexes(self, iri: str) -> None:
        for key in self._keys.pop(iri, ()):
            if self._index.get(key, ("",))[0] == iri:
                del self._index[key]
        for members in self._types.values():
            members.discard(iri)
        item_of, sigel = self._held.pop(iri, (None, None))
        if item_of is not None and iri in self._holdings.get(item_of, ()):
            self._holdings[item_of].remove(iri)
        if sigel is not None:
            self._sigels.get(sigel, set()).discard(iri)
        self._sort_keys.pop(iri, None)
        self._order = None

    def _bury(self, iri: str, doc: dict[str, Any], stamp: str) -> None:
        self.deleted[iri] = stamp
        self._graveyard[iri] = doc
        self._index[iri] = (iri, "deleted")
        self._index[short_id(iri)] = (iri, "deleted")
        self._sort_keys[iri] = (parse_time(stamp).timestamp(), short_id(iri))
        self._order = None

    def _mint_id(self) -> str:
        rng = random.Random(f"{self.seed}:minted:{self._counter}")
        while True:
            self._counter += 1
            candidate = _random_id(rng)
            if candidate not in self._index:
                return candidate

    def _generate(self, size: int, seed: int, seeded: list[tuple[datetime, str, str, str]]) -> None:
        rng = random.Random(seed)
        versions = random.Random(f"{seed}:versions")
        persons = [iri for iri, doc in self.records.items() if doc["@graph"][1].get("@type") == "Person"]
        start = datetime(2019, 1, 1, tzinfo=timezone.utc).timestamp()
        span = 6 * 365 * 86400
        for n in range(size):
            bib_id = self._fresh_id(rng)
            iri = BASE + bib_id
            created_ts = start + rng.random() * span
            modified_ts = created_ts + (rng.random() * 400 * 86400 if rng.random() < 0.4 else 0)
            created = datetime.fromtimestamp(created_ts, timezone.utc)
            modified = datetime.fromtimestamp(modified_ts, timezone.utc)
            doc = _generated_bib(iri, n, rng, persons, format_time(created), format_time(modified))
            seeded.append((created, doc["@graph"][0]["created"], iri, "Create"))
            if rng.random() < 0.02:  # withdrawn duplicates: deleted, without holdings
                gone = modified + timedelta(days=1 + rng.random() * 30)
                doc["@graph"][0]["recordStatus"] = "marc:Deleted"
                self._kinds[iri] = "bib"
                self._bury(iri, doc, format_time(gone))
                seeded.append((gone, format_time(gone), iri, "Delete"))
                continue
            if modified_ts > created_ts:  # one change per saved version: 1–3 edits, the last at `modified`
                edits = versions.randint(1, 3)
                for k in range(1, edits):
                    moment = created + (modified - created) * k / edits
                    seeded.append((moment, format_time(moment), iri, "Update"))
                seeded.append((modified, doc["@graph"][0]["modified"], iri, "Update"))
            self._add(iri, doc)
            for sigel in rng.sample(FIXTURE_SIGELS, rng.randint(1, 3)):
                hold_iri = BASE + self._fresh_id(rng)
                h_created = created + timedelta(days=rng.random() * 60)
                stamp = format_time(h_created)
                self._add(hold_iri, _holding(hold_iri, iri + "#it", sigel, stamp, rng))
                seeded.append((h_created, stamp, hold_iri, "Create"))

    def _fresh_id(self, rng: random.Random) -> str:
        while True:
            candidate = _random_id(rng)
            if candidate not in self._index:
                self._index[candidate] = ("", "reserved")
                return candidate


def _random_id(rng: random.Random) -> str:
    first = rng.choice(ID_ALPHABET[10:])
    return first + "".join(rng.choice(ID_ALPHABET) for _ in range(14))


def _kind_of(doc: dict[str, Any]) -> str:
    graph = doc.get("@graph", [])
    thing_type = graph[1].get("@type") if len(graph) > 1 else None
    if thing_type == "Item":
        return "hold"
    if thing_type in _AUTH_TYPES:
        return "auth"
    return "bib"


def _links(doc: Any) -> Iterator[str]:
    """Every ``{"@id": …}`` reference (objects with only an @id) in a document."""
    if isinstance(doc, dict):
        if len(doc) == 1 and "@id" in doc:
            yield doc["@id"]
            return
        for key, value in doc.items():
            if key not in ("sameAs", "mainEntity"):
                yield from _links(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _links(value)


def _replace_ids(graph: Any, old: str, new: str) -> Any:
    if isinstance(graph, dict):
        return {k: (new + v[len(old):] if k == "@id" and isinstance(v, str) and v.startswith(old) else _replace_ids(v, old, new))
                for k, v in graph.items()}
    if isinstance(graph, list):
        return [_replace_ids(v, old, new) for v in graph]
    return graph


# ------------------------------------------------------------ generated records

_WORDS_A = ["Sommar", "Skogens", "Havets", "Stadens", "Norrlands", "Fjällens", "Vinterns", "Morgonens", "Kvällens", "Barndomens",
            "Ljusets", "Stenens", "Älvens", "Öarnas", "Järnets", "Vindens"]
_WORDS_B = ["minnen", "hemligheter", "historia", "röster", "gränser", "vägar", "ljus", "sånger", "kartor", "berättelser",
            "folk", "tider", "landskap", "spår"]
_SUBTITLES = [None, "roman", "noveller", "en kulturhistoria", "dikter", "en handbok", "essäer", None]
_PLACES = [("Stockholm", "Bonnier"), ("Stockholm", "Norstedt"), ("Göteborg", "Daidalos"), ("Lund", "Studentlitteratur"),
           ("Umeå", "Umeå universitet"), ("Uppsala", "Uppsala universitet"), ("Malmö", "Gleerups")]
_GIVEN = ["Anna", "Lars", "Karin", "Erik", "Sofia", "Johan", "Elsa", "Mikael", "Helena", "Nils", "Greta", "Oskar"]
_FAMILY = ["Berg", "Lindgren", "Holm", "Sandberg", "Nyström", "Ekdahl", "Forsberg", "Wikström", "Åberg", "Lundqvist"]
_SUBJECTS = ["Vinter", "Botanik", "Klimat", "Kartografi", "Handel", "Skogar", "Kiruna", "Gruvdrift", "Bin", "Hansan"]
_KSSB = ["Hc.01", "Hc.02", "Hc.03", "Ueb", "Pcb", "Kc", "Fbd", "Qbb", "Dof", "Ohj"]


def _generated_bib(iri: str, n: int, rng: random.Random, persons: list[str], created: str, modified: str) -> dict[str, Any]:
    title = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
    subtitle = rng.choice(_SUBTITLES)
    year = str(1950 + rng.randrange(75))
    place, publisher = rng.choice(_PLACES)
    fiction = subtitle in ("roman", "noveller", "dikter")
    if persons and rng.random() < 0.25:
        agent: dict[str, Any] = {"@id": persons[rng.randrange(len(persons))] + "#it"}
        responsibility = None
    else:
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        agent = {"@type": "Person", "givenName": given, "familyName": family}
        responsibility = f"{given} {family}"
    record = {"@id": iri, "@type": "Record", "controlNumber": short_id(iri), "created": created, "modified": modified,
              "descriptionCreator": {"@id": LIBRARY_BASE + rng.choice(FIXTURE_SIGELS)},
              "encodingLevel": "marc:FullLevel" if rng.random() < 0.8 else "marc:MinimalLevel",
              "recordStatus": "marc:New" if created == modified else "marc:CorrectedOrRevised",
              "mainEntity": {"@id": iri + "#it"}}
    title_node: dict[str, Any] = {"@type": "Title", "mainTitle": title}
    if subtitle:
        title_node["subtitle"] = subtitle
    instance_type = "Instance" if rng.random() < 0.7 else "Print"  # both occur in Libris data
    instance: dict[str, Any] = {"@id": iri + "#it", "@type": instance_type, "issuanceType": "Monograph", "hasTitle": [title_node]}
    if responsibility:
        instance["responsibilityStatement"] = responsibility
    if int(year) >= 1975:
        stem = f"97891{n % 10000000:07d}"
        check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(stem)) % 10) % 10
        instance["identifiedBy"] = [{"@type": "ISBN", "value": stem + str(check)}]
    instance["publication"] = [{"@type": "PrimaryPublication", "country": {"@id": ID_BASE + "country/sw"},
                                "place": [{"@type": "Place", "label": [place]}],
                                "agent": {"@type": "Agent", "label": [publisher]}, "year": year}]
    instance["extent"] = [{"@type": "Extent", "label": [f"{40 + rng.randrange(500)} s."]}]
    instance["instanceOf"] = {"@id": iri + "#work"}
    work = {"@id": iri + "#work", "@type": "Text", "language": [{"@id": ID_BASE + "language/swe"}],
            "contribution": [{"@type": "PrimaryContribution", "agent": agent, "role": [{"@id": ID_BASE + "relator/author"}]}],
            "subject": [{"@id": ID_BASE + "term/sao/" + s} for s in rng.sample(_SUBJECTS, rng.randint(1, 2))],
            "genreForm": [{"@id": ID_BASE + ("marc/FictionNotFurtherSpecified" if fiction else "marc/NotFictionNotFurtherSpecified")}],
            "classification": [{"@type": "Classification", "code": rng.choice(_KSSB),
                                "inScheme": {"@type": "ConceptScheme", "code": "kssb", "version": "8"}}]}
    return {"@graph": [record, instance, work]}


def _holding(iri: str, item_of: str, sigel: str, stamp: str, rng: random.Random) -> dict[str, Any]:
    library = {"@id": LIBRARY_BASE + sigel}
    record = {"@id": iri, "@type": "Record", "controlNumber": short_id(iri), "created": stamp, "modified": stamp,
              "descriptionCreator": library, "encodingLevel": "marc:HoldingsLevel1",
              "marc:holdingType": "marc:SinglePartItemHolding", "recordStatus": "marc:New", "mainEntity": {"@id": iri + "#it"}}
    item: dict[str, Any] = {"@id": iri + "#it", "@type": "Item", "heldBy": library, "itemOf": {"@id": item_of}}
    if rng.random() < 0.5:
        item["hasComponent"] = [{"@type": "Item", "heldBy": library,
                                 "shelfMark": {"@type": "ShelfMark", "label": [rng.choice(_KSSB)]}}]
    return {"@graph": [record, item]}


__all__ = ["Corpus", "FIXTURE_SIGELS", "MISSING_SIGEL", "BASE", "checksum", "format_time", "now_iso", "parse_time", "short_id"]
