"""The change feed (EMM): emulated pages, the reader and harvest_changes."""

from __future__ import annotations

import copy

import pytest
import requests

from linkeddata.emulator import Emulator
from linkeddata.harvest import harvest_changes
from linkeddata.http import make_session
from linkeddata.libris.changes import ChangeFeed, Position, iter_changes, parse_time
from linkeddata.libris.find import fetch_many
from linkeddata.stores import open_store


def test_parse_time_is_lenient():
    assert parse_time("2026-07-02T08:15Z") == parse_time("2026-07-02T08:15:00.000Z")
    assert parse_time("2026-07-02T10:15:00.5+02:00") == parse_time("2026-07-02T08:15:00.500Z")
    assert parse_time("2026-07-02T08:15:30.123456Z").microsecond == 123456
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_position_covers():
    pos = Position("2025-07-02T07:59:58.3Z", "https://libris.kb.se/a#it")
    assert pos.covers(parse_time("2025-07-02T07:59:58.3Z"), "https://libris.kb.se/a#it")
    assert not pos.covers(parse_time("2025-07-02T07:59:58.3Z"), "https://libris.kb.se/b#it")
    assert not pos.covers(parse_time("2025-07-02T07:59:58.301Z"), "https://libris.kb.se/a#it")
    assert Position.parse(pos.as_dict()) == pos


def test_bad_position_is_an_input_error_and_one_line_in_the_cli(tmp_path):
    from click.testing import CliRunner

    from linkeddata.cli import cli
    from linkeddata.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="garbage"):
        Position.parse("garbage")
    with pytest.raises(InvalidInputError):
        Position.parse({"id": "https://libris.kb.se/a#it"})
    result = CliRunner().invoke(cli, ["harvest", "changes", "--since", "garbage", "--store", str(tmp_path / "kg"), "-q"])
    assert result.exit_code == 1
    assert "invalid change-feed position 'garbage'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris", "emm"], size=120, emm_page_size=25) as emulator:
        yield emulator


def test_feed_pages_newest_first_with_next(emu):
    base = emu.url("emm")
    entry = requests.get(base + "/", timeout=10)
    assert entry.headers["Content-Type"].startswith("application/activity+json")
    first = entry.json()["first"]["id"]
    page = requests.get(first, timeout=10).json()
    assert page["type"] == "OrderedCollectionPage" and "next" in page and "prev" not in page
    times = [parse_time(a["published"]) for a in page["orderedItems"]]
    assert times == sorted(times, reverse=True) and len(times) == 25
    second = requests.get(page["next"], timeout=10).json()
    assert second["orderedItems"][0] == page["orderedItems"][-1]  # boundary rows repeat
    assert all(a["object"]["id"].endswith("#it") for a in page["orderedItems"])
    assert requests.get(base + "/?until=abc", timeout=10).content == b""


def test_iter_changes_whole_history(emu):
    session = make_session(cache=False, rate_limit=None)
    feed = iter_changes(session=session, base_url=emu.url("emm"), libris_url=emu.url("libris"))
    records = list(feed)
    live = {r.iri for r in records if not r.deleted}
    assert live == set(emu.corpus.records)
    assert {r.iri for r in records if r.deleted} == set(emu.corpus.deleted)
    newest = max(emu.corpus.changes, key=lambda c: parse_time(c[0]))
    assert parse_time(feed.position.time) == parse_time(newest[0])
    assert not feed.skipped


def test_harvest_changes_then_incremental(tmp_path):
    session = make_session(cache=False, rate_limit=None)
    with Emulator(services=["libris", "emm"], size=400) as emu, open_store(tmp_path / "kg") as store:
        kwargs = dict(session=session, base_url=emu.url("emm"), libris_url=emu.url("libris"), concurrency=8)
        summary = harvest_changes(store, batch_size=300, **kwargs)
        corpus = emu.corpus
        assert store.graphs() == set(corpus.records) and len(corpus.records) > 1000
        assert summary.completed and summary.batches >= 4
        # nothing changed: one entry request and one page, no record fetched
        start = len(emu.request_log)
        quiet = harvest_changes(store, **kwargs)
        assert quiet.records == 0 and len(emu.request_log) - start == 2
        bib = next(corpus.iter_records(kind="bib"))
        holding = corpus.held_by("G")[0]
        corpus.delete(holding)
        doc = copy.deepcopy(corpus.records[bib])
        doc["@graph"][1]["hasTitle"] = [{"@type": "Title", "mainTitle": "Ändrad titel"}]
        corpus.replace(bib, doc)
        new = corpus.create({"@graph": [{"@id": "https://id.kb.se/TEMPID", "@type": "Record"},
                                        {"@id": "https://id.kb.se/TEMPID#it", "@type": "Item",
                                         "heldBy": {"@id": "https://libris.kb.se/library/G"},
                                         "itemOf": {"@id": bib + "#it"}}]}, "G")
        again = harvest_changes(store, **kwargs)
        assert (again.records, again.deleted) == (2, 1)
        assert store.graphs() == set(corpus.records) and new in store.graphs() and holding not in store.graphs()
        titles = {str(r[0].value) for r in store.query(
            f"SELECT ?t WHERE {{ GRAPH <{bib}> {{ ?s <https://id.kb.se/vocab/mainTitle> ?t }} }}")}
        assert titles == {"Ändrad titel"}


def test_deleted_before_fetch_becomes_tombstone(emu):
    session = make_session(cache=False, rate_limit=None)
    newest = max(emu.corpus.changes, key=lambda c: parse_time(c[0]))
    target = next(iri for iri in emu.corpus.iter_records(kind="bib"))
    doc = copy.deepcopy(emu.corpus.records[target])
    emu.corpus.replace(target, doc)
    feed = ChangeFeed(Position(newest[0], ""), session=session, base_url=emu.url("emm"),
                      libris_url=emu.url("libris"))
    activities = feed.activities()
    assert activities[-1].record_iri == target and len(activities) <= 2
    emu.corpus.delete(target)  # gone between reading the feed and fetching the record
    [result] = fetch_many([activities[-1].object_id], feed.fetch)
    fetched = feed._record(activities[-1], result)
    assert fetched.deleted and fetched.iri == target
