"""ISIL validation, the ISIL agency client against the emulator, and the RDF model."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
import requests
from click.testing import CliRunner

from linkeddata.emulator import Emulator
from linkeddata.errors import BadResponseError, InvalidInputError, InvalidISILError, NotFoundError
from linkeddata.http import make_session
from linkeddata.organisations import (
    MAX_PAGE_SIZE,
    get_organisation,
    isil_for_sigel,
    organisation_records,
    organisation_to_rdf,
    search_organisations,
    validate_isil,
)
from linkeddata.organisations.model import LV, SDO, XSD, german_iri, to_ntriples

# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("isil,expected", [
    ("DE-1a", "DE-1a"), ("DE-Hil2", "DE-Hil2"), ("de-12", "DE-12"), ("  SE-Uu ", "SE-Uu"),
    ("DE-MUS-872815", "DE-MUS-872815"), ("ZDB-1-AAS4", "ZDB-1-AAS4"), ("O-123", "O-123"),
    ("OCLC-ABC", "OCLC-ABC"), ("US-DLC", "US-DLC"), ("GB-UkOxU", "GB-UkOxU"), ("DE-B/2:1", "DE-B/2:1"),
    ("AB-1234567890123", None),
])
def test_valid_isils(isil, expected):
    if expected is None:  # AB is not a country code
        with pytest.raises(InvalidISILError):
            validate_isil(isil)
    else:
        assert validate_isil(isil) == expected


@pytest.mark.parametrize("bad,reason", [
    ("", "empty"), ("   ", "empty"), ("DE12", "no '-'"), ("-12", "prefix"), ("DE-", "empty identifier"),
    ("XX-12", "country code"), ("QQ-1", "country code"), ("DE 12", "not allowed"), ("DE-1 2", "not allowed"),
    ("DE-Köln", "not allowed"), ("DE_12", "not allowed"), ("DE-12#", "not allowed"), ("DE-12?x", "not allowed"),
    ("DE-12345678901234", "at most 16"), ("ABCDE-1", "longer than 4"), ("D1-2", "prefix"),
    ("DE--12", "start with a letter or digit"), ("DE-/12", "start with a letter or digit"), ("1-2", "prefix"),
    ("DE-12\n", None), ("SE-Uu\t", None),
])
def test_malformed_isils(bad, reason):
    if reason is None:  # surrounding whitespace is fine
        assert validate_isil(bad) == bad.strip()
        return
    with pytest.raises(InvalidISILError, match=reason):
        validate_isil(bad)


def test_non_string_isil():
    with pytest.raises(InvalidISILError):
        validate_isil(12)  # type: ignore[arg-type]


def test_isil_for_sigel():
    assert isil_for_sigel("S") == "SE-S"
    assert isil_for_sigel("Umu") == "SE-Umu"
    assert isil_for_sigel("Ho sh") == "SE-Hosh"
    with pytest.raises(InvalidISILError):
        isil_for_sigel("Göt")


# ------------------------------------------------------------------ client against the emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["isil"]) as emulator:
        yield emulator


@pytest.fixture()
def agency(emu):
    emu.faults.clear()
    emu.request_log.clear()
    session = make_session(cache=False, rate_limit=None, retries=0)
    yield emu, session, emu.url("isil")
    emu.faults.clear()


def _pages(emu):
    return [r.query.get("page", ["1"])[0] for r in emu.requests_to("isil")]


def test_seed_example_query(agency):
    emu, session, base = agency
    hits = search_organisations("nam=institut AND ort=münchen", session=session, base_url=base)
    assert hits.total == 2
    assert sorted(o.isil for o in hits) == ["DE-M483", "DE-M491"]


def test_total_before_iterating_and_all_pages(agency):
    emu, session, base = agency
    hits = search_organisations("*", size=5, session=session, base_url=base)
    assert hits.total == 13
    assert hits.number_of_pages == 3
    assert len(emu.requests_to("isil")) == 1
    orgs = list(hits)
    assert len(orgs) == 13 and len({o.isil for o in orgs}) == 13
    assert _pages(emu) == ["1", "2", "3"]  # the last page (3 items) ends the loop, no page 4


def test_page_size_dividing_total_stops_without_extra_request(agency):
    emu, session, base = agency
    hits = search_organisations("ort=münchen", size=3, session=session, base_url=base)
    assert [o.city for o in hits] == ["München"] * 3
    assert _pages(emu) == ["1"]


def test_empty_result(agency):
    emu, session, base = agency
    hits = search_organisations("nam=gibtesnicht", session=session, base_url=base)
    assert hits.total == 0
    assert list(hits) == []
    assert len(emu.requests_to("isil")) == 1


def test_empty_result_as_bare_array(agency):
    emu, session, base = agency
    emu.faults.add("body", service="isil", body="[]", content_type="application/ld+json", times=None)
    hits = search_organisations("nam=irgendwas", session=session, base_url=base)
    assert hits.total == 0 and list(hits) == []


def test_page_size_over_client_limit_is_clamped(agency):
    emu, session, base = agency
    hits = search_organisations("*", size=5000, session=session, base_url=base)
    assert hits.size == MAX_PAGE_SIZE
    assert len(list(hits)) == 13
    assert emu.requests_to("isil")[0].query["size"] == [str(MAX_PAGE_SIZE)]


def test_server_limit_below_requested_size():
    with Emulator(services=["isil"], isil_max_size=4) as small:
        session = make_session(cache=False, rate_limit=None, retries=0)
        hits = search_organisations("*", size=50, session=session, base_url=small.url("isil"))
        assert hits.total == 13
        assert len(list(hits)) == 13
        assert [r.query["page"][0] for r in small.requests_to("isil")] == ["1", "2", "3", "4"]


def test_max_items_and_max_pages_bound_the_loop(agency):
    emu, session, base = agency
    assert len(list(search_organisations("*", size=2, max_items=3, session=session, base_url=base))) == 3
    assert _pages(emu) == ["1", "2"]
    emu.request_log.clear()
    assert len(list(search_organisations("*", size=2, max_pages=2, session=session, base_url=base))) == 4
    assert _pages(emu) == ["1", "2"]


def test_max_items_zero_yields_nothing(agency):
    emu, session, base = agency
    assert list(search_organisations("*", size=2, max_items=0, session=session, base_url=base)) == []
    assert _pages(emu) == []


def test_or_query_and_compact_equals_full(agency):
    emu, session, base = agency
    query = "ort=bonn OR ort=weimar"
    compact = {o.isil: o for o in search_organisations(query, compact=True, session=session, base_url=base)}
    full = {o.isil: o for o in search_organisations(query, compact=False, session=session, base_url=base)}
    assert sorted(compact) == ["DE-32", "DE-5"]
    assert organisation_to_rdf(compact["DE-5"]) == organisation_to_rdf(full["DE-5"])
    assert emu.requests_to("isil")[0].query.get("compact") == ["1"]
    assert "compact" not in emu.requests_to("isil")[1].query


def test_odd_member_is_skipped_not_fatal(agency):
    emu, session, base = agency
    good = search_organisations("isl=DE-12", compact=False, session=session, base_url=base)
    assert good.total == 1
    page = {"type": "Collection", "totalItems": 3, "member": [
        {"identifier": "DE-Bad1", "data": "not a record"},
        {"identifier": "DE-Bad2", "data": {"029A": {"a": "Ohne ISIL-Feld, aber mit identifier"}}},
        {"identifier": "DE-Bad3"},
    ], "view": {"type": "PartialCollectionView", "pageIndex": 1, "numberOfPages": 1}}
    emu.faults.add("body", service="isil", body=json.dumps(page), content_type="application/ld+json")
    hits = search_organisations("nam=x", session=session, base_url=base)
    orgs = list(hits)
    assert [o.isil for o in orgs] == ["DE-Bad2"]  # identifier fills in a missing 008H
    assert len(hits.skipped) == 2


def test_server_ignoring_page_without_page_index_stops(agency):
    from linkeddata.errors import ServiceUnavailableError

    emu, session, base = agency
    member = {"identifier": "DE-Xy1", "data": {"008H": {"e": "DE-Xy1"}, "029A": {"a": "Immer dieselbe Seite"}}}
    page = {"type": "Collection", "totalItems": 50, "member": [member],
            "view": {"type": "PartialCollectionView", "next": "page=2"}}  # no pageIndex
    emu.faults.add("body", service="isil", body=json.dumps(page), content_type="application/ld+json", times=None)
    hits = search_organisations("nam=x", size=1, session=session, base_url=base)
    with pytest.raises(ServiceUnavailableError, match="repeats"):
        list(hits)
    assert _pages(emu) == ["1", "2"]


def test_not_json_is_parse_error(agency):
    emu, session, base = agency
    emu.faults.add("body", service="isil", body="<html>oops</html>", content_type="text/html")
    with pytest.raises(BadResponseError, match="not JSON"):
        search_organisations("nam=x", session=session, base_url=base).total


def test_get_organisation_and_404(agency):
    emu, session, base = agency
    org = get_organisation("DE-12", session=session, base_url=base)
    assert org.name == "Bayerische Staatsbibliothek"
    assert org.iri == "http://lobid.org/organisations/DE-12#!"
    assert org.page == "https://sigel.staatsbibliothek-berlin.de/suche/?isil=DE-12"
    with pytest.raises(NotFoundError, match="DE-999"):
        get_organisation("DE-999", session=session, base_url=base)


def test_invalid_isil_fails_before_any_request(agency):
    emu, session, base = agency
    with pytest.raises(InvalidISILError):
        get_organisation("DE 12", session=session, base_url=base)
    with pytest.raises(InvalidInputError):
        search_organisations("  ", session=session, base_url=base)
    assert emu.requests_to("isil") == []


def test_organisation_without_coordinates(agency):
    emu, session, base = agency
    org = get_organisation("DE-M483", session=session, base_url=base)
    assert org.latitude is None and org.longitude is None and not org.has_coordinates
    predicates = {q.predicate.value for q in organisation_to_rdf(org)}
    assert SDO + "geo" not in predicates and SDO + "latitude" not in predicates
    assert SDO + "address" in predicates


# ------------------------------------------------------------------ model


def test_model_triples_and_parse(agency):
    emu, session, base = agency
    org = get_organisation("DE-15", session=session, base_url=base)
    quads = organisation_to_rdf(org)
    iri = ox.NamedNode(german_iri("DE-15"))
    assert all(q.graph_name == iri for q in quads)
    store = ox.Store()
    store.extend(quads)

    def ask(pattern: str) -> bool:
        return bool(store.query(f"PREFIX schema: <{SDO}> PREFIX lv: <{LV}> PREFIX xsd: <{XSD}> "
                                f"ASK {{ GRAPH <{iri.value}> {{ {pattern} }} }}"))

    assert ask(f"<{iri.value}> a schema:Library ; lv:isil 'DE-15' ; schema:identifier 'DE-15' ; "
               "schema:name 'Universitätsbibliothek Leipzig' ; schema:alternateName 'Leipzig UB' .")
    assert ask(f"<{iri.value}> schema:geo [ a schema:GeoCoordinates ; schema:latitude 51.33261 ; "
               "schema:longitude 12.36812 ] .")
    assert ask(f"<{iri.value}> schema:address [ schema:contactType 'visitor' ; schema:streetAddress 'Beethovenstr. 6' ; "
               "schema:postalCode '04107' ; schema:addressLocality 'Leipzig' ; schema:addressRegion 'SAX' ; "
               "schema:addressCountry 'DE' ] .")
    assert ask(f"<{iri.value}> schema:address [ schema:contactType 'postal' ; schema:postOfficeBoxNumber '100920' ] .")
    assert ask(f"<{iri.value}> schema:url <https://www.ub.uni-leipzig.de> ; "
               "schema:email 'auskunft@ub.uni-leipzig.de' ; schema:telephone '+49 341 97-30577' ; "
               "schema:mainEntityOfPage <https://sigel.staatsbibliothek-berlin.de/suche/?isil=DE-15> ; "
               "schema:dateModified '2024-02-04T09:12:44'^^xsd:dateTime .")
    lat = next(store.quads_for_pattern(None, ox.NamedNode(SDO + "latitude"), None))
    assert lat.object.datatype.value == XSD + "decimal"
    # N-Triples round-trip gives the same triples
    parsed = list(ox.parse(to_ntriples(org), format=ox.RdfFormat.N_TRIPLES))
    assert len(parsed) == len(quads)


def test_records_and_museum_and_product_types(agency):
    emu, session, base = agency
    museum = get_organisation("DE-MUS-105318", session=session, base_url=base)
    product = get_organisation("ZDB-1-DGR", session=session, base_url=base)
    assert museum.kind == "Museum" and product.kind == "Collection"  # a product ISIL, typed as lobid types it
    records = list(organisation_records([museum, product]))
    assert [r.iri for r in records] == [museum.iri, product.iri]
    assert all(r.media_type == "application/n-triples" and isinstance(r.data, bytes) for r in records)
    text = records[0].data.decode()
    assert f"<{SDO}Museum>" in text and "http://purl.org/lobid/libtype#n85" in text
    assert "<http://purl.org/ontology/bibo/Collection>" in records[1].data.decode()


def test_cli_search_get_and_store(agency, tmp_path):
    emu, session, base = agency
    from linkeddata.cli import cli

    runner = CliRunner()
    env = emu.env()
    res = runner.invoke(cli, ["--no-cache", "isil", "search", "ort=münchen", "--max", "2"], env=env)
    assert res.exit_code == 0, res.output
    assert "Bayerische Staatsbibliothek" in res.output and "DE-M491" not in res.output
    res = runner.invoke(cli, ["--no-cache", "isil", "get", "DE-5", "--format", "nt"], env=env)
    assert res.exit_code == 0 and '"DE-5"' in res.output
    res = runner.invoke(cli, ["--no-cache", "isil", "get", "DE-5", "not an isil"], env=env)
    assert res.exit_code == 1 and "invalid ISIL" in res.output
    res = runner.invoke(cli, ["--no-cache", "isil", "search", "ort=köln", "--store", str(tmp_path / "kg")], env=env)
    assert res.exit_code == 0, res.output
    assert "Loaded 1 organisations" in res.output


def test_jsonp_lookup_and_data_variants(agency):
    from linkeddata.organisations.isil import CALLBACK, lookup_organisations

    emu, session, base = agency
    light = lookup_organisations("ort=münchen", format="lookup", session=session, base_url=base)
    full = list(search_organisations("ort=münchen", session=session, base_url=base))
    assert [x["identifier"] for x in light] == [o.isil for o in full][: len(light)] and light
    assert all(set(x) >= {"identifier", "name", "location"} and "data" not in x for x in light)
    orgs = lookup_organisations("ort=münchen", format="data", session=session, base_url=base)
    assert [o.isil for o in orgs] == [x["identifier"] for x in light] and orgs[0].name == full[0].name
    raw = requests.get(base + "/api/org.jsonld", params={"q": "ort=bonn", "callback": "list", "format": "lookup"},
                       timeout=10)
    assert raw.headers["Content-Type"].startswith("application/javascript") and raw.text.startswith("list([")
    assert requests.get(base + "/api/org.jsonld", params={"q": "*", "callback": "a(b)"}, timeout=10).status_code == 400
    emu.faults.add("body", service="isil", body='other({"member": []});', content_type="application/javascript")
    with pytest.raises(BadResponseError, match=CALLBACK):
        lookup_organisations("*", session=session, base_url=base)
    with pytest.raises(InvalidInputError):
        lookup_organisations("*", format="full", session=session, base_url=base)
