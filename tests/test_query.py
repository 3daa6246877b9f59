"""Queries: bundled queries on a fixture store, safe parameters, output formats."""

from __future__ import annotations

import json

import pytest

from linkeddata.errors import QueryError
from linkeddata.query import bundled_queries, format_results, parse_params, results_to_records, run_query
from linkeddata.records import Record
from linkeddata.store import open_store

from .conftest import DATA

BIB = "https://libris.kb.se/t7bk2vz9m4hq8wx"


@pytest.fixture
def store():
    st = open_store(None)
    for name in ("record-bib.jsonld", "record-hold.jsonld"):
        st.load_file(DATA / name)
    st.load_file(DATA / "library-uu.ttl", graph="https://libris.kb.se/library/Uu")
    extra = {"@graph": [
        {"@id": "https://libris.kb.se/zz1", "@type": "Record", "mainEntity": {"@id": "https://libris.kb.se/zz1#it"}},
        {"@id": "https://libris.kb.se/zz1#it", "@type": "Item", "heldBy": {"@id": "https://libris.kb.se/library/Zz"},
         "itemOf": {"@id": BIB + "#it"}}]}
    st.load_records([Record("https://libris.kb.se/zz1", extra)])
    return st


def test_bundled_queries_have_descriptions():
    queries = bundled_queries()
    assert {"holdings-by-library", "holdings-of", "libraries-near", "missing-organisations"} <= set(queries)
    for q in queries.values():
        assert q.description, q.name
    assert set(queries["libraries-near"].params) == {"lat", "long", "km"}


def test_holdings_by_library_keeps_libraries_without_records(store):
    rows = {r["library"]: r for r in results_to_records(run_query(store, "holdings-by-library"))}
    assert rows["https://libris.kb.se/library/Uu"]["name"] == "Uppsala universitetsbibliotek"
    assert rows["https://libris.kb.se/library/Uu"]["city"] == "Uppsala"
    assert rows["https://libris.kb.se/library/Uu"]["isil"] == "SE-Uu"
    assert rows["https://libris.kb.se/library/Zz"]["name"] is None
    assert rows["https://libris.kb.se/library/Zz"]["items"] == "1"


def test_holdings_of_binds_instance(store):
    rows = results_to_records(run_query(store, "holdings-of", {"instance": BIB + "#it"}))
    assert {r["library"] for r in rows} == {"https://libris.kb.se/library/Uu", "https://libris.kb.se/library/Zz"}
    uu = next(r for r in rows if r["library"].endswith("/Uu"))
    assert uu["latitude"] == "59.8563"
    assert results_to_records(run_query(store, "holdings-of", {"instance": "https://libris.kb.se/none#it"})) == []


def test_libraries_near(store):
    near = results_to_records(run_query(store, "libraries-near", {"lat": "59.33", "long": "18.07", "km": "100"}))
    assert [r["library"] for r in near] == ["https://libris.kb.se/library/Uu"]
    assert 60 < float(near[0]["distance_km"]) < 70  # Stockholm–Uppsala is about 64 km
    assert results_to_records(run_query(store, "libraries-near", {"lat": "55.6", "long": "13.0", "km": "50"})) == []


def test_missing_organisations(store):
    rows = results_to_records(run_query(store, "missing-organisations"))
    assert [r["library"] for r in rows] == ["https://libris.kb.se/library/Zz"]


def test_param_injection_is_neutralised(store):
    before = store.count_triples()
    rows = results_to_records(run_query(store, "holdings-of", {"instance": "} ; DROP ALL ; SELECT * {"}))
    assert rows == []
    assert store.count_triples() == before


def test_parse_params_errors():
    assert parse_params(["a=1", "?b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(QueryError):
        parse_params(["novalue"])
    with pytest.raises(QueryError):
        parse_params(["bad name=1"])


def test_unknown_query_and_syntax_error(store):
    with pytest.raises(QueryError, match="unknown query"):
        run_query(store, "no-such-query")
    with pytest.raises(QueryError, match="syntax"):
        run_query(store, "SELECT ?x WHERE { ?x }")


def test_output_formats(store):
    results = lambda: run_query(store, "holdings-by-library")  # noqa: E731
    assert format_results(results(), "csv").splitlines()[0] == "library,isil,name,city,items"
    assert json.loads(format_results(results(), "json"))["head"]["vars"][0] == "library"
    assert format_results(results(), "tsv").startswith("?library")
    assert "(2 rows)" in format_results(results(), "table")
