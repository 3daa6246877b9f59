"""The streamed bulk load of new graphs: pyoxigraph's own triples, bad records isolated
mid-stream, existing graphs replaced, the feeder bounded by the pipe, values too large
for pyoxigraph's parser."""

from __future__ import annotations

import json
import platform
import sys
import threading
import time

import pyoxigraph as ox
import pytest

from linkeddata import store as store_module
from linkeddata.jsonld import kbv_context
from linkeddata.records import Record
from linkeddata.store import LocalStore
from linkeddata.stores import open_store

BASE = "https://libris.kb.se/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def record_nodes(n: int, label: str = "x") -> list[dict]:
    """A record whose keys are in every order JSON-LD allows (``@type`` after ``@id`` and
    after properties, ``@graph`` not last), with typed and tagged values, a list and blank nodes."""
    iri = f"{BASE}s{n}"
    return [
        {"@id": iri, "@type": "Record", "mainEntity": {"@id": iri + "#it"}, "controlNumber": f"s{n}"},
        {"label": label, "@id": iri + "#it", "@type": "Instance",
         "hasTitle": [{"mainTitle": f"t{n}", "@type": "Title"}],
         "publication": [{"year": {"@value": "2020", "@type": XSD + "gYear"}, "@type": "Publication"}],
         "responsibilityStatement": {"@language": "sv", "@value": f"av {n}"},
         "hasNote": {"@list": [{"label": "a"}, {"label": "b"}]}},
    ]


def _document(count: int, nodes=record_nodes) -> dict:
    return {"@context": "https://id.kb.se/context.jsonld",
            "@graph": [{"@graph": nodes(n), "@id": f"{BASE}s{n}"} for n in range(count)]}


def _canonical(quads) -> str:
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return "".join(sorted(f"{q} .\n" for q in dataset))


@pytest.fixture
def bulk_calls(monkeypatch):
    calls: list[float] = []
    original = LocalStore._bulk_stream

    def counted(self, read_end):
        calls.append(time.monotonic())
        return original(self, read_end)

    monkeypatch.setattr(LocalStore, "_bulk_stream", counted)
    return calls


def test_streamed_bulk_load_stores_pyoxigraphs_own_triples(tmp_path, bulk_calls):
    doc = _document(300)
    path = tmp_path / "doc.jsonld"
    path.write_text(json.dumps(doc), "utf-8")
    inline = json.dumps({**doc, "@context": kbv_context()}).encode()
    expected = _canonical(ox.parse(inline, format=ox.RdfFormat.JSON_LD))
    store = open_store(tmp_path / "kg")
    stats = store.load_file(path, batch_size=50)
    assert bulk_calls, "the new graphs went to the bulk loader"
    assert stats.records == 300 and not stats.skipped
    assert stats.triples == len(store) == len(expected.splitlines())
    assert store.canonical_nquads() == expected
    store.close()


def test_a_bad_record_mid_stream_is_named_and_skipped_and_the_rest_bulk_load(monkeypatch, tmp_path, bulk_calls):
    monkeypatch.setattr(store_module, "BULK_TEXT_BYTES", 1 << 30)  # everything in one streamed load
    bad = f"{BASE}s1500"

    def records():
        for n in range(3000):
            nodes = record_nodes(n)
            if n == 1500:
                nodes[1]["@type"] = {"x": 1}  # only the JSON-LD parser finds this one
            yield Record(f"{BASE}s{n}", {"@graph": nodes})

    store = open_store(tmp_path / "kg")
    stats = store.load_records(records(), batch_size=100)
    assert [name for name, _ in stats.skipped] == [bad] and "\n" not in stats.skipped[0][1]
    assert stats.records == 2999
    graphs = store.graphs()
    assert len(graphs) == 2999 and bad not in graphs and f"{BASE}s1499" in graphs and f"{BASE}s2999" in graphs
    per_record = store.count_triples(f"{BASE}s0")
    assert len(store) == stats.triples == 2999 * per_record
    assert store.count_triples(f"{BASE}s1501") == per_record
    # the failed load, the batches of it that parse (again in bulk), the rest of the stream
    assert 2 <= len(bulk_calls) <= 3
    store.close()


def test_graphs_already_in_the_store_are_replaced_not_appended(tmp_path, bulk_calls):
    store = open_store(tmp_path / "kg")
    store.load_records((Record(f"{BASE}s{n}", {"@graph": record_nodes(n, "old")}) for n in range(100)), batch_size=20)
    per_record = store.count_triples(f"{BASE}s0")
    calls = len(bulk_calls)
    stats = store.load_records((Record(f"{BASE}s{n}", {"@graph": record_nodes(n, "new")}) for n in range(50, 150)),
                               batch_size=20)
    assert stats.records == 100 and len(bulk_calls) > calls  # the new ones (100-149) in bulk
    assert len(store.graphs()) == 150 and len(store) == 150 * per_record
    rows = store.query('SELECT ?g ?label WHERE { GRAPH ?g { ?i a <https://id.kb.se/vocab/Instance> ; '
                       '<https://id.kb.se/vocab/label> ?label } }', union=False)
    labels = {str(r["g"].value): r["label"].value for r in rows}
    assert {labels[f"{BASE}s{n}"] for n in range(50)} == {"old"}
    assert {labels[f"{BASE}s{n}"] for n in range(50, 150)} == {"new"}
    store.close()


def test_the_feeder_waits_for_the_loader(monkeypatch, tmp_path):
    """Memory is bounded by construction: the text of one streamed load is written into a
    pipe as the loader reads it, so a slow loader stops the reading of records."""
    monkeypatch.setattr(store_module, "BULK_TEXT_BYTES", 1 << 30)
    produced = 0
    at_start: list[int] = []
    original = LocalStore._bulk_stream

    def slow(self, read_end):
        time.sleep(0.5)  # the loader has not read anything yet
        at_start.append(produced)
        return original(self, read_end)

    monkeypatch.setattr(LocalStore, "_bulk_stream", slow)

    def records():
        nonlocal produced
        for n in range(5000):
            produced += 1
            yield Record(f"{BASE}s{n}", {"@graph": record_nodes(n, "y" * 2000)})

    store = open_store(tmp_path / "kg")
    stats = store.load_records(records(), batch_size=200)
    assert stats.records == 5000 and not stats.skipped
    # a pipe's worth (at most 1 MB, ~400 records), the batch being written, the one prepared
    assert at_start[0] < 1500, at_start
    assert not [t for t in threading.enumerate() if t.name.startswith(("linkeddata-bulk-feed", "linkeddata-parse"))]
    store.close()


def test_a_value_too_large_for_pyoxigraphs_parser_still_loads():
    store = open_store(None)
    huge = "a" * 11_000_000  # pyoxigraph's JSON-LD parser refuses it (buffer over 16 MB)
    records = [Record(f"{BASE}s{n}", {"@graph": record_nodes(n, huge if n == 1 else "x")}) for n in range(3)]
    stats = store.load_records(records)
    assert stats.records == 3 and not stats.skipped
    rows = store.query(f"SELECT (STRLEN(?l) AS ?n) WHERE {{ GRAPH <{BASE}s1> {{ <{BASE}s1#it> "
                       "<https://id.kb.se/vocab/label> ?l } }", union=False)
    assert [int(r["n"].value) for r in rows] == [11_000_000]
    assert store.count_triples(f"{BASE}s1") == store.count_triples(f"{BASE}s0")


def test_each_load_gets_the_text_that_fits_in_the_memory_left(monkeypatch):
    mb = 1024 * 1024
    budget = store_module.LOAD_MEMORY_MB * mb
    per_load = 2 * store_module.LOADER_BYTES_PER_TEXT_BYTE  # two loads in flight
    limit = store_module._bulk_text_limit
    assert limit(budget - 96 * mb, 0) == 96 * mb // per_load
    # the store's own memory grows with its table files: less is left for loading
    tables = 1024 * mb
    assert limit(budget - 96 * mb, tables) == (96 * mb - int(store_module.STORE_BYTES_PER_TABLE_BYTE * tables)) // per_load
    assert limit(budget + 500 * mb, 0) == store_module.MIN_BULK_TEXT_BYTES  # over: the least
    assert limit(budget - 96 * mb, 50 * 1024 * mb) == store_module.MIN_BULK_TEXT_BYTES
    monkeypatch.setattr(store_module, "LOAD_MEMORY_MB", 20_000)  # plenty: the most
    assert limit(100 * mb, 0) == store_module.BULK_TEXT_BYTES
    assert store_module.MIN_BULK_TEXT_BYTES <= limit(None, 0) <= store_module.BULK_TEXT_BYTES  # no /proc


def test_the_process_memory_and_the_table_files_are_measured(tmp_path):
    resident = store_module._resident_bytes()
    assert resident is None or 10 * 1024 * 1024 < resident < 64 * 1024 ** 3
    store = open_store(tmp_path / "kg")
    empty = store._table_bytes()
    store.load_records([Record(f"{BASE}s{n}", {"@graph": record_nodes(n)}) for n in range(300)])
    tables = sum(p.stat().st_size for p in (tmp_path / "kg").glob("*.sst"))
    assert store._table_bytes() == tables > empty + 10_000
    assert open_store(None)._table_bytes() == 0
    store.close()


def test_less_memory_left_means_smaller_loads(monkeypatch, tmp_path, bulk_calls):
    monkeypatch.setattr(store_module, "MIN_BULK_TEXT_BYTES", 20_000)
    records = [Record(f"{BASE}s{n}", {"@graph": record_nodes(n)}) for n in range(600)]
    monkeypatch.setattr(store_module, "_resident_bytes", lambda: 0)
    roomy = open_store(tmp_path / "a")
    roomy.load_records(records, batch_size=50)
    loads_with_room = len(bulk_calls)
    monkeypatch.setattr(store_module, "_resident_bytes", lambda: store_module.LOAD_MEMORY_MB * 1024 * 1024)
    tight = open_store(tmp_path / "b")
    stats = tight.load_records(records, batch_size=50)
    assert loads_with_room == 1 and len(bulk_calls) - loads_with_room >= 6
    assert stats.records == 600 and stats.triples == len(tight) == len(roomy)
    assert tight.canonical_nquads() == roomy.canonical_nquads()
    roomy.close()
    tight.close()


def test_two_loads_are_in_flight_and_end_in_order(monkeypatch, tmp_path):
    """While one load writes, the next one is read: their times overlap; batches still end
    in the order of the records, and a bad record in one of them costs no other record."""
    monkeypatch.setattr(store_module, "BULK_TEXT_BYTES", 20_000)
    spans: list[tuple[float, float]] = []
    original = LocalStore._bulk_stream

    def slow(self, read_end):
        started = time.monotonic()
        original(self, read_end)
        time.sleep(0.05)  # as if writing table files took a while
        spans.append((started, time.monotonic()))

    monkeypatch.setattr(LocalStore, "_bulk_stream", slow)
    bad = f"{BASE}s333"

    def records():
        for n in range(800):
            nodes = record_nodes(n)
            if n == 333:
                nodes[1]["@type"] = {"x": 1}
            yield Record(f"{BASE}s{n}", {"@graph": nodes})

    ended: list[int] = []
    store = open_store(tmp_path / "kg")
    stats = store.load_records(records(), batch_size=40, on_batch=lambda s: ended.append(s.records))
    assert [name for name, _ in stats.skipped] == [bad] and stats.records == 799
    assert sum(ended) == 799 and len(ended) == 20
    spans.sort()
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), "no two loads overlapped"
    per_record = store.count_triples(f"{BASE}s0")
    assert len(store) == stats.triples == 799 * per_record and bad not in store.graphs()
    store.close()


def test_triples_are_counted_per_load_or_once_into_an_empty_store(monkeypatch, tmp_path):
    counts: list[int] = []
    original = LocalStore._count_quads

    def counting(self, graphs):
        counts.append(len(graphs))
        return original(self, graphs)

    monkeypatch.setattr(LocalStore, "_count_quads", counting)
    monkeypatch.setattr(store_module, "BULK_TEXT_BYTES", 20_000)
    records = [Record(f"{BASE}s{n}", {"@graph": record_nodes(n)}) for n in range(400)]
    once = open_store(tmp_path / "a")
    stats = once.load_records(records, batch_size=40)
    assert not counts and stats.triples == len(once) > 0  # empty store: one count at the end
    per_batch: list[int] = []
    each = open_store(tmp_path / "b")
    stats_each = each.load_records(records, batch_size=40, on_batch=lambda s: per_batch.append(s.triples))
    assert sum(counts) == 400 and sum(per_batch) == stats_each.triples == stats.triples
    more = [Record(f"{BASE}t{n}", {"@graph": record_nodes(n)}) for n in range(100)]
    counts.clear()
    stats_more = once.load_records(more, batch_size=40)  # not empty now: each load counts its own
    assert sum(counts) == 100 and stats_more.triples == len(once) - stats.triples
    once.close()
    each.close()


def test_each_finished_load_gives_its_freed_memory_back(monkeypatch, tmp_path, bulk_calls):
    trims: list[int] = []
    real = store_module._malloc_trim
    monkeypatch.setattr(store_module, "_malloc_trim", lambda: lambda pad: trims.append(pad) or 1)
    monkeypatch.setattr(store_module, "BULK_TEXT_BYTES", 20_000)
    store = open_store(tmp_path / "kg")
    store.load_records([Record(f"{BASE}s{n}", {"@graph": record_nodes(n)}) for n in range(300)], batch_size=30)
    assert len(bulk_calls) >= 3 and trims == [0] * len(bulk_calls)
    store.close()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert real() is not None
