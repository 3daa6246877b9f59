"""Queries: bundled queries on a fixture store, safe parameters, output formats."""

from __future__ import annotations

import json

import pytest

from linkeddata.errors import QueryError
from linkeddata.query import bundled_queries, format_results, parse_params, results_to_records, run_query
from linkeddata.records import Record
from linkeddata.stores import open_store

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
    with pytest.raises(QueryError, match="parameter instance: expected an absolute IRI"):
        run_query(store, "holdings-of", {"instance": "} ; DROP ALL ; SELECT * {"})
    rows = results_to_records(run_query(store, "SELECT ?t WHERE { ?i ?p ?t }", {"t": "} ; DROP ALL ; SELECT * {"}))
    assert rows == []
    assert store.count_triples() == before


def test_parse_params_errors():
    assert parse_params(["a=1", "?b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(QueryError):
        parse_params(["novalue"])
    with pytest.raises(QueryError):
        parse_params(["bad name=1"])
    with pytest.raises(QueryError, match="given twice"):
        parse_params(["a=1", "a=2"])


def test_unknown_query_and_syntax_error(store):
    with pytest.raises(QueryError, match="unknown query"):
        run_query(store, "no-such-query")
    with pytest.raises(QueryError, match="syntax"):
        run_query(store, "SELECT ?x WHERE { ?x }")


def test_output_formats(store):
    results = lambda: run_query(store, "holdings-by-library")  # noqa: E731
    assert format_results(results(), "csv").splitlines()[0] == "library,isil,name,city,items"
    assert json.loads(format_results(results(), "sparql-json"))["head"]["vars"][0] == "library"
    assert json.loads(format_results(results(), "json"))[0]["items"] == 1  # rows as objects, numbers typed
    assert [json.loads(line)["library"] for line in format_results(results(), "json", nl=True).splitlines()] == [
        "https://libris.kb.se/library/Uu", "https://libris.kb.se/library/Zz"]
    assert format_results(results(), "sparql-xml").startswith("<?xml")
    assert format_results(results(), "tsv").startswith("?library")
    assert "(2 rows)" in format_results(results(), "table")


# --- one row per thing, whatever number of values its records carry (issue 14) -------------

UU_TWICE = """@prefix schema: <http://schema.org/> . @prefix lv: <http://purl.org/lobid/lv#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://libris.kb.se/library/Uu> a schema:Library ; lv:isil "SE-Uu", "SE-Uu-X" ;
  schema:name "Uppsala universitetsbibliotek"@sv, "Uppsala University Library"@en ;
  schema:address [ schema:addressLocality "Uppsala" ], [ schema:addressLocality "Ultuna" ] ;
  schema:geo [ schema:latitude "59.8563"^^xsd:decimal ; schema:longitude "17.6305"^^xsd:decimal ],
             [ schema:latitude "59.8170"^^xsd:decimal ; schema:longitude "17.6620"^^xsd:decimal ] .
<http://lobid.org/organisations/SE-Uu#!> lv:isil "SE-Uu" ; schema:name "Universitetsbiblioteket" ;
  schema:geo [ schema:latitude 59.85e0 ; schema:longitude 17.63e0 ] .
"""
#: The column that must be unique in each bundled query's rows.
ROW_KEYS = {"holdings-by-library": "library", "holdings-of": "item", "instances": "instance",
            "libraries-near": "library", "missing-organisations": "library"}
NEAR_UPPSALA = {"lat": "59.86", "long": "17.64", "km": "50"}


@pytest.fixture
def many_values_store():
    st = open_store(None)
    for name in ("record-bib.jsonld", "record-hold.jsonld"):
        st.load_file(DATA / name)
    st.load_records([Record("https://libris.kb.se/library/Uu", UU_TWICE.encode(), media_type="text/turtle")])
    extra = {"@graph": [
        {"@id": BIB + "x", "@type": "Record", "mainEntity": {"@id": BIB + "#it"}},
        {"@id": BIB + "#it", "@type": ["Print", "Instance"],
         "hasTitle": [{"@type": "VariantTitle", "mainTitle": "Dottern"}, {"@type": "Title", "mainTitle": "Fyren"}],
         "publication": [{"year": "2020"}, {"year": "2021"}]},
        {"@id": "https://libris.kb.se/zz1", "@type": "Record", "mainEntity": {"@id": "https://libris.kb.se/zz1#it"}},
        {"@id": "https://libris.kb.se/zz1#it", "@type": "Item", "heldBy": {"@id": "https://libris.kb.se/library/Zz"},
         "itemOf": {"@id": BIB + "#it"}}]}
    st.load_records([Record(BIB + "x", extra)])
    return st


@pytest.mark.parametrize("name", sorted(bundled_queries()))
def test_one_row_per_thing_with_two_names_addresses_and_coordinates(many_values_store, name):
    assert name in ROW_KEYS, f"add {name} to ROW_KEYS: every bundled query is checked for row multiplication"
    params = NEAR_UPPSALA if name == "libraries-near" else {}
    rows = results_to_records(run_query(many_values_store, name, params))
    keys = [r[ROW_KEYS[name]] for r in rows]
    assert rows and len(keys) == len(set(keys)), rows
    pairs = {("59.8563", "17.6305"), ("59.817", "17.662"), ("5.985E1", "1.763E1")}
    for row in rows:
        if row.get("latitude") is not None:  # latitude and longitude from one pair, never mixed
            assert (row["latitude"], row["longitude"]) in pairs, row


def test_coordinates_keep_their_datatype(many_values_store):
    rows = list(run_query(many_values_store, "holdings-of", {"instance": BIB + "#it"}))
    uu = next(r for r in rows if r["library"].value.endswith("/Uu"))
    assert uu["latitude"].datatype.value.endswith("#decimal") and uu["longitude"].datatype.value.endswith("#decimal")


def test_instances_prefers_the_title_entity(many_values_store):
    rows = results_to_records(run_query(many_values_store, "instances"))
    assert [(r["title"], r["year"]) for r in rows] == [("Fyren", "2019")]


# --- declared parameters (issue 14) ---------------------------------------------------------

def test_bundled_queries_declare_their_parameters():
    queries = bundled_queries()
    assert [str(p) for p in queries["libraries-near"].params.values()] == ["lat:number", "long:number", "km:number"]
    assert [str(p) for p in queries["holdings-of"].params.values()] == ["[instance:iri]"]


@pytest.mark.parametrize("name, params, message", [
    ("holdings-of", {"insance": BIB + "#it"}, "unknown parameter 'insance' for query holdings-of; it takes: [instance:iri]"),
    ("libraries-near", {"lat": "59.33", "long": "18.07"}, "query libraries-near needs parameter km "),
    ("libraries-near", {}, "query libraries-near needs parameter lat "),
    ("libraries-near", {"lat": "abc", "long": "18.07", "km": "80"}, "parameter lat: expected a number (like 59.33), got 'abc'"),
    ("libraries-near", {"lat": "59,33", "long": "18.07", "km": "80"}, "parameter lat: expected a number (like 59.33), got '59,33'"),
    ("holdings-of", {"instance": "<urn>"}, "parameter instance: expected an absolute IRI"),
    ("holdings-of", {"instance": "Uppsala"}, "parameter instance: expected an absolute IRI"),
    ("SELECT ?x WHERE { ?x ?p ?o }", {"y": "1"}, "unknown parameter 'y': the query has no variable ?y"),
    ("SELECT ?x WHERE { ?x ?p ?o }", {"x": "<urn>"}, "expected an absolute IRI"),
])
def test_bad_parameters_are_errors(store, name, params, message):
    with pytest.raises(QueryError) as info:
        run_query(store, name, params)
    assert message in str(info.value)


def test_none_leaves_a_parameter_unbound(store):
    assert results_to_records(run_query(store, "holdings-of", {"instance": None})) == results_to_records(
        run_query(store, "holdings-of"))
    with pytest.raises(QueryError, match="needs parameter lat"):
        run_query(store, "libraries-near", {"lat": None, "long": 18, "km": 5})


def test_a_libris_id_expands_to_its_thing_iri(store):
    by_iri = results_to_records(run_query(store, "holdings-of", {"instance": BIB + "#it"}))
    assert by_iri and results_to_records(run_query(store, "holdings-of", {"instance": "t7bk2vz9m4hq8wx"})) == by_iri
    assert results_to_records(run_query(store, "holdings-of", {"instance": f"<{BIB}#it>"})) == by_iri


def test_numbers_of_every_kind_are_accepted(store):
    for lat in ("59.33", "59", "5.933e1", 59.33, 59):
        near = results_to_records(run_query(store, "libraries-near", {"lat": lat, "long": 18.07, "km": "100"}))
        assert [r["library"] for r in near] == ["https://libris.kb.se/library/Uu"], lat


def test_csv_writes_blank_nodes_with_their_prefix(store):
    csv_text = format_results(run_query(store, "SELECT ?e WHERE { ?i kbv:extent ?e }"), "csv")
    assert csv_text.splitlines()[1].startswith("_:")
    assert results_to_records(run_query(store, "SELECT ?e WHERE { ?i kbv:extent ?e }"))[0]["e"].startswith("_:")


def test_construct_renders_only_as_triples(store):
    construct = lambda: run_query(store, "CONSTRUCT WHERE { ?s kbv:mainTitle ?o }")  # noqa: E731
    for fmt in ("csv", "tsv", "json", "sparql-json"):
        with pytest.raises(QueryError, match="returns triples: use format table, nt, ttl"):
            format_results(construct(), fmt)
    assert format_results(construct(), "nt").endswith('"Fyrväktarens dotter" .\n')
    assert "kbv:mainTitle" in format_results(construct(), "ttl")
    with pytest.raises(QueryError, match="nl .one JSON object per line. goes with format"):
        format_results(run_query(store, "holdings-by-library"), "csv", nl=True)


def test_library_errors_name_parameters_and_the_command_line_names_its_options(store):
    """The Python API's messages speak of parameters; the CLI's of its options (``cli_message``)."""
    with pytest.raises(QueryError) as info:
        run_query(store, "libraries-near", {"lat": "59.33", "long": "18.07"})
    assert "--" not in str(info.value) and "needs parameter km" in str(info.value)
    assert "needs --param km=" in (info.value.cli_message or "")
    with pytest.raises(QueryError) as info:
        parse_params(["km=5", "km=6"])
    assert str(info.value).startswith("parameter km given twice") and info.value.cli_message.startswith("--param km")
