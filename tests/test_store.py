"""The store: named graph per record, idempotent reloads, deletions, bad input, locking."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from linkeddata.errors import ParseError, StoreLockedError
from linkeddata.records import Record
from linkeddata.stores import open_store

from .conftest import DATA

BIB = "https://libris.kb.se/t7bk2vz9m4hq8wx"
HOLD = "https://libris.kb.se/h2zq9ckr0w5dv7l"


def records():
    return [Record(BIB, json.loads((DATA / "record-bib.jsonld").read_text("utf-8"))),
            Record(HOLD, json.loads((DATA / "record-hold.jsonld").read_text("utf-8")))]


def test_load_twice_is_idempotent(tmp_path):
    store = open_store(tmp_path / "kg")
    first = store.load_records(records())
    snapshot = store.canonical_nquads()
    second = store.load_records(records())
    assert first.records == second.records == 2
    assert store.canonical_nquads() == snapshot
    assert store.graphs() == {BIB, HOLD}


def test_tombstone_drops_graph():
    store = open_store(None)
    store.load_records(records())
    stats = store.load_records([Record(HOLD, deleted=True)])
    assert stats.deleted == 1
    assert store.graphs() == {BIB}


def test_bad_record_is_skipped_not_half_loaded():
    store = open_store(None)
    bad = Record("https://libris.kb.se/bad", {"@graph": [{"@id": "https://libris.kb.se/bad", "@type": {"x": 1}}]})
    stats = store.load_records([*records(), bad])
    assert stats.records == 2
    assert [iri for iri, _ in stats.skipped] == ["https://libris.kb.se/bad"]
    assert store.graphs() == {BIB, HOLD}


def test_strict_makes_bad_record_fatal():
    store = open_store(None)
    with pytest.raises(ParseError, match="https://libris.kb.se/bad"):
        store.load_records([Record("https://libris.kb.se/bad", b"{not json")], strict=True)
    assert store.graphs() == set()


def test_load_files_of_every_kind(tmp_path):
    store = open_store(None)
    store.load_file(DATA / "record-bib.jsonld")
    store.load_file(DATA / "library-uu.ttl", graph="https://libris.kb.se/library/Uu")
    nq = tmp_path / "dump.nq"
    store.dump(nq)
    copy = open_store(None)
    copy.load_file(nq, bulk=True)
    assert copy.canonical_nquads() == store.canonical_nquads()
    lines = tmp_path / "records.jsonl"
    lines.write_text("\n".join(json.dumps(r.data) for r in records()) + "\n", "utf-8")
    third = open_store(None)
    third.load_file(lines)
    assert third.graphs() == {BIB, HOLD}


def test_unknown_format_and_missing_file(tmp_path):
    store = open_store(None)
    odd = tmp_path / "x.weird"
    odd.write_text("x")
    with pytest.raises(ParseError, match="cannot tell the RDF format .*name the format"):
        store.load_file(odd)
    with pytest.raises(ParseError, match="no such file"):
        store.load_file(tmp_path / "missing.ttl")


def test_broken_turtle_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.ttl"
    path.write_text("<http://a> <http://b> .", "utf-8")
    with pytest.raises(ParseError, match="broken.ttl"):
        open_store(None).load_file(path, graph="http://g")


def test_same_path_is_one_writer(tmp_path):
    a = open_store(tmp_path / "kg")
    b = open_store(tmp_path / "kg")
    assert a is b  # a notebook re-running its cell gets the same store, no lock error


def test_other_process_gets_a_clear_lock_error_and_can_read(tmp_path):
    store = open_store(tmp_path / "kg")
    store.load_records(records())
    store.flush()
    code = ("import sys\nfrom linkeddata.stores import open_store\nfrom linkeddata.errors import StoreLockedError\n"
            "try:\n    open_store(sys.argv[1])\nexcept StoreLockedError as e:\n    print('locked', e)\n"
            "print(len(open_store(sys.argv[1], read_only=True).graphs()))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "kg")], capture_output=True, text=True, timeout=60)
    assert "locked store" in out.stdout and "read-only" in out.stdout
    assert out.stdout.strip().endswith("2")
    assert StoreLockedError.__mro__[1].__name__ == "StoreError"


def _dump_with_blank_nodes(tmp_path):
    from linkeddata.emulator.corpus import Corpus

    corpus = Corpus(size=20)
    source = open_store(None)
    source.load_records([*records(), *(Record(iri, corpus.get(iri)) for iri in corpus.iter_records())])
    path = tmp_path / "dump.nq"
    source.dump(path)
    assert "_:" in path.read_text("utf-8")  # the records have blank nodes (titles, publications…)
    return source, path


def test_reloading_a_dump_is_idempotent_even_with_blank_nodes(tmp_path):
    source, path = _dump_with_blank_nodes(tmp_path)
    store = open_store(None)
    first = store.load_file(path, batch_size=1)  # 100-quad chunks: graphs span several chunks
    assert first.records == len(source.graphs()) and first.batches > 10
    store.load_file(path, batch_size=1)
    assert store.canonical_nquads() == source.canonical_nquads()


def test_a_dump_replaces_the_graphs_it_contains(tmp_path):
    source, path = _dump_with_blank_nodes(tmp_path)
    store = open_store(None)
    stale = {"@graph": [{"@id": BIB, "@type": "Record", "mainEntity": {"@id": BIB + "#it"}},
                        {"@id": BIB + "#it", "@type": "Print", "responsibilityStatement": "stale"}]}
    store.load_records([Record(BIB, stale)])
    store.load_file(path)
    assert store.canonical_nquads() == source.canonical_nquads()


def test_bulk_dump_into_a_new_store(tmp_path):
    source, path = _dump_with_blank_nodes(tmp_path)
    store = open_store(tmp_path / "fresh")
    stats = store.load_file(path, bulk=True)
    assert stats.triples == source.count_triples()
    assert store.canonical_nquads() == source.canonical_nquads()
