"""/find: query builder, pager and harvest against the loopback emulator."""

from __future__ import annotations

import logging

import pytest
import requests

from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError
from linkeddata.harvest import harvest_find
from linkeddata.http import make_session
from linkeddata.libris.find import FindQuery, build_find_params, iter_find, library_iri, parse_filter_args
from linkeddata.stores import open_store


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris"], size=1000, find_max_items=2000) as emulator:
        yield emulator


@pytest.fixture
def session():
    return make_session(cache=False, rate_limit=None)


def test_build_params_prefixes_and_repeats():
    params = build_find_params(
        "tove (jansson|lindgren)", type="Instance",
        filters={"instanceOf.subject.@id": ["https://id.kb.se/term/sao/Monster", "https://id.kb.se/term/sao/Magi"]},
        and_={"instanceOf.genreForm.@id": "https://id.kb.se/term/saogf/Fantasy"},
        not_={"carrierType.@id": "https://id.kb.se/term/rda/Volume"}, exists={"mediaType": True},
        min_ex={"publication.year": 1759}, max={"publication.year": 1770},
        matches={"meta.created": "2018-W08"}, and_matches={"instanceOf.subject.@id": "x"},
        raw={"_sort": "-publication.year"},
    )
    assert params == [
        ("q", "tove (jansson|lindgren)"), ("@type", "Instance"),
        ("instanceOf.subject.@id", "https://id.kb.se/term/sao/Monster"),
        ("instanceOf.subject.@id", "https://id.kb.se/term/sao/Magi"),
        ("and-instanceOf.genreForm.@id", "https://id.kb.se/term/saogf/Fantasy"),
        ("not-carrierType.@id", "https://id.kb.se/term/rda/Volume"), ("exists-mediaType", "true"),
        ("minEx-publication.year", "1759"), ("max-publication.year", "1770"),
        ("matches-meta.created", "2018-W08"), ("and-matches-instanceOf.subject.@id", "x"),
        ("_sort", "-publication.year"),
    ]


@pytest.mark.parametrize("value", ["2020", "2020-04", "2020-04-01", "2020-04-01T12", "2020-04-01T12:15",
                                   "2020-04-01T12:15:10", "2020-W04", "2018-W08,2018-W10"])
def test_date_forms_accepted(value):
    assert build_find_params(matches={"meta.modified": value}) == [("matches-meta.modified", value)]


@pytest.mark.parametrize("value", ["2020-13", "2020-W54", "20-04", "2020-04-01 12:00", "yesterday"])
def test_date_forms_rejected(value):
    with pytest.raises(InvalidInputError):
        build_find_params(min={"meta.created": value})


def test_bad_inputs_rejected():
    with pytest.raises(InvalidInputError):
        build_find_params(exists={"mediaType": "maybe"})
    with pytest.raises(InvalidInputError):
        build_find_params(filters={"bad field": "x"})
    with pytest.raises(InvalidInputError):
        build_find_params(sideways={"a": 1})
    with pytest.raises(InvalidInputError):
        parse_filter_args(["novalue"])
    with pytest.raises(InvalidInputError):
        iter_find({"q": "x"}, page_size=5000)


def test_findquery_defaults_to_everything_and_cli_filters():
    assert FindQuery().params() == [("q", "*")]
    assert parse_filter_args(["heldBy.@id=" + library_iri("S"), "and-matches-meta.created=2020-W04", "_sort=x"]) == [
        ("heldBy.@id", "https://libris.kb.se/library/S"), ("and-matches-meta.created", "2020-W04"), ("_sort", "x")]


def test_total_known_before_iterating_and_pages_follow_next(emu, session):
    results = iter_find(FindQuery(types=["Item"], filters={"heldBy.@id": library_iri("S")}), page_size=150,
                        session=session, base_url=emu.url("libris"))
    start = len(emu.requests_to("libris"))
    expected = set(emu.corpus.held_by("S"))
    assert results.total == len(expected) > 150
    assert len(emu.requests_to("libris")) == start + 1
    records = list(results)
    assert {r.iri for r in records} == expected
    assert len(records) == len(expected)
    pages = emu.requests_to("libris")[start:]
    assert len(pages) == -(-len(expected) // 150)
    assert all(p.query["_stats"] == ["false"] and p.query["_limit"] == ["150"] for p in pages)
    assert [int(p.query["_offset"][0]) for p in pages] == list(range(0, len(expected), 150))
    first = records[0]
    assert first.data["@graph"][0]["@id"] == first.iri and first.data["@graph"][1]["@type"] == "Item"


def test_year_range_and_text_query(emu, session):
    def year(iri):
        pub = emu.corpus.records[iri]["@graph"][1].get("publication") or [{}]
        return int(pub[0].get("year") or 0)

    params = build_find_params(type="Instance", min={"publication.year": 1990}, max_ex={"publication.year": 2000})
    got = {r.iri for r in iter_find(params, session=session, base_url=emu.url("libris"))}
    want = {i for i in emu.corpus.iter_records(kind="bib") if 1990 <= year(i) < 2000}
    assert got == want and got
    hits = list(iter_find({"q": "fjällflora förändring"}, session=session, base_url=emu.url("libris")))
    assert [r.short_id for r in hits] == ["f5nc8rlm2x0vq7s"]


def test_max_items_and_resume_offset(emu, session):
    base = emu.url("libris")
    first = iter_find({"q": "*"}, page_size=40, max_items=100, session=session, base_url=base)
    got = [r.iri for r in first]
    assert len(got) == 100 and first.offset == 100
    rest = iter_find({"q": "*"}, page_size=40, max_items=50, offset=100, session=session, base_url=base)
    more = [r.iri for r in rest]
    everything = [r.iri for r in iter_find({"q": "*"}, page_size=150, max_items=150, session=session, base_url=base)]
    assert got + more == everything


def test_resume_near_and_past_the_window(emu, session, caplog):
    base = emu.url("libris")
    near = iter_find({"q": "*"}, page_size=50, offset=1990, session=session, base_url=base)
    assert len(list(near)) == 10 and near.offset == 2000 and near.truncated
    past = iter_find({"q": "*"}, page_size=50, offset=2500, session=session, base_url=base)
    with caplog.at_level(logging.WARNING):
        assert list(past) == [] and past.truncated
    assert "search window" in caplog.text


def test_max_items_zero_and_oversized_pages(emu, session, monkeypatch):
    base = emu.url("libris")
    assert list(iter_find({"q": "*"}, max_items=0, session=session, base_url=base)) == []
    results = iter_find({"q": "*"}, page_size=5, max_items=3, session=session, base_url=base)
    monkeypatch.setattr(results, "_limit_at", lambda offset: 10)  # as if the server ignored _limit
    assert len(list(results)) == 3 and results.offset == 3


def test_full_with_unknown_profile_fails_before_any_request(session):
    with pytest.raises(InvalidInputError, match="unknown profile"):
        iter_find({"q": "*"}, full=True, profile="bogus", session=session, base_url="http://127.0.0.1:9")


def test_search_window_stops_with_warning(emu, session, caplog):
    results = iter_find({"q": "*"}, page_size=700, session=session, base_url=emu.url("libris"))
    with caplog.at_level(logging.WARNING):
        records = list(results)
    assert results.total > 2000 and len(records) == 2000 and results.truncated
    assert "split the query" in caplog.text
    with pytest.raises(InvalidInputError, match="search window"):
        list(iter_find({"q": "*"}, page_size=700, session=session, base_url=emu.url("libris"), on_window="error"))


def test_emulator_limit_cap_window_and_links(emu):
    base = emu.url("libris")
    page = requests.get(base + "/find", params={"q": "*", "_limit": "5000", "@type": "Item"}, timeout=10).json()
    assert page["itemsPerPage"] == 200 and len(page["items"]) == 200
    assert page["maxItems"] == "2000" and isinstance(page["maxItems"], str)
    assert page["next"]["@id"].startswith("/find?q=*&@type=Item") and "previous" not in page
    assert "stats" in page
    assert requests.get(base + "/find", params={"q": "*", "_offset": "1990", "_limit": "20"}, timeout=10).status_code == 400
    assert requests.get(base + "/find", params={"q": "*", "_limit": "-1"}, timeout=10).status_code == 400


def test_harvest_find_matches_corpus(tmp_path, session):
    with Emulator(services=["libris"], size=1000) as emu:
        with open_store(tmp_path / "kg") as store:
            summary = harvest_find(store, {"q": "*"}, page_size=1000, session=session, base_url=emu.url("libris"))
            assert store.graphs() == set(emu.corpus.records)
            assert summary.records == len(emu.corpus.records) > 2500 and summary.completed
            assert not summary.skipped and not summary.warnings


def test_full_fetch_preserves_order(emu, session):
    base = emu.url("libris")
    cards = [r.iri for r in iter_find({"q": "*", "@type": "Instance"}, max_items=30, session=session, base_url=base)]
    full = list(iter_find({"q": "*", "@type": "Instance"}, max_items=30, session=session, base_url=base, full=True,
                          concurrency=4))
    assert [r.iri for r in full] == cards
    assert all(r.source != "find" for r in full)


def test_full_fetch_in_a_profile_and_embellished(emulator, session):
    """Hits fetched in full honour ``profile`` and ``embellished`` (the record API's own options)."""
    base = emulator.url("libris")
    mapped = list(iter_find({"q": "*", "@type": "Instance"}, max_items=3, session=session, base_url=base, full=True,
                            profile="sdo"))
    assert mapped and all(r.data["@context"] == "https://id.kb.se/sys/context/target/sdo-w3c" for r in mapped)
    assert all(r.profile == "https://id.kb.se/sys/context/target/sdo-w3c" for r in mapped)
    plain = list(iter_find({"q": "*", "@type": "Instance"}, max_items=3, session=session, base_url=base, full=True))
    embellished = list(iter_find({"q": "*", "@type": "Instance"}, max_items=3, session=session, base_url=base,
                                 full=True, embellished=True))
    assert [r.iri for r in plain] == [r.iri for r in embellished]
    assert sum(len(r.data["@graph"]) for r in embellished) > sum(len(r.data["@graph"]) for r in plain)


def test_non_numeric_total_is_an_http_error(session):
    from linkeddata.emulator.server import Faults, Response, Route, Service, ServiceServer, start_server
    from linkeddata.errors import HTTPError

    page = {"totalItems": "lots", "items": []}
    srv = ServiceServer(Service("find", [Route("GET", r"/find", lambda req: Response.json(page))]), Faults(), [])
    start_server(srv)
    try:
        with pytest.raises(HTTPError, match="totalItems is not a number"):
            list(iter_find({"q": "*"}, session=session, base_url=srv.base_url))
    finally:
        srv.shutdown()
        srv.server_close()
