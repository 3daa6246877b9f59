"""The library database client against the emulator, and Swedish organisations as RDF."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from linkeddata.emulator import Emulator
from linkeddata.errors import BadResponseError, InvalidInputError, NotFoundError
from linkeddata.http import make_session
from linkeddata.organisations import get_library, iter_libraries, organisation_records, organisation_to_rdf
from linkeddata.organisations.model import LV, SDO

REAL_SIGELS = {"S", "Uu", "L", "G", "Umu", "Lkp", "Sthm"}


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["bibdb"], bibdb_page_size=5) as emulator:
        yield emulator


@pytest.fixture()
def bibdb(emu):
    emu.faults.clear()
    emu.request_log.clear()
    yield emu, make_session(cache=False, rate_limit=None, retries=0), emu.url("bibdb")
    emu.faults.clear()


def _starts(emu):
    return [r.query.get("start", ["0"])[0] for r in emu.requests_to("bibdb")]


def test_pages_until_empty_array(bibdb):
    emu, session, base = bibdb
    libs = list(iter_libraries(session=session, base_url=base, page_size=5))
    assert len(libs) == 17
    assert REAL_SIGELS <= {o.sigel for o in libs}
    assert "Zz" not in {o.sigel for o in libs}
    assert _starts(emu) == ["0", "5", "10", "15", "17"]  # start moves by what came back; the 5th page is empty
    first = emu.requests_to("bibdb")[0].query
    assert first["sigel"] == ["*"] and first["org_type"] == ["library"] and first["holdings"] == ["True"]


def test_default_page_size_is_200(bibdb):
    emu, session, base = bibdb
    with Emulator(services=["bibdb"]) as big:
        libs = list(iter_libraries(session=session, base_url=big.url("bibdb")))
        assert len(libs) == 17
        assert [r.query.get("start", ["0"])[0] for r in big.requests_to("bibdb")] == ["0", "17"]


def test_hidden_pagesize_parameter(bibdb):
    emu, session, base = bibdb
    answer = session.get(base + "/api", params={"sigel": "*", "org_type": "library", "_pagesize": 3}).json()
    assert len(answer["libraries"]) == 3


def test_max_pages_bounds_the_loop(bibdb):
    emu, session, base = bibdb
    assert len(list(iter_libraries(session=session, base_url=base, page_size=5, max_pages=2))) == 10
    assert _starts(emu) == ["0", "5"]


def test_bibliographies(bibdb):
    emu, session, base = bibdb
    libs = list(iter_libraries(org_type="bibliography", session=session, base_url=base))
    assert [o.sigel for o in libs] == ["SNB"]
    assert libs[0].kind == "Organization"
    with pytest.raises(InvalidInputError):
        list(iter_libraries(org_type="museum", session=session, base_url=base))


def test_get_library_and_unknown_sigel(bibdb):
    emu, session, base = bibdb
    kb = get_library("S", session=session, base_url=base)
    assert kb.name == "Kungliga biblioteket"
    assert kb.iri == "https://libris.kb.se/library/S"
    assert kb.isil == "SE-S"
    assert kb.city == "Stockholm"
    assert kb.parent == "https://libris.kb.se/library/org/KB"
    assert [a.kind for a in kb.addresses] == ["visitor", "postal", "ill"]
    with pytest.raises(NotFoundError, match="Zz"):
        get_library("Zz", session=session, base_url=base)
    with pytest.raises(InvalidInputError):
        get_library("a/b", session=session, base_url=base)


def test_coordinates_zero_or_missing_mean_unknown(bibdb):
    emu, session, base = bibdb
    zero = get_library("Vsts", session=session, base_url=base)
    missing = get_library("Gvst", session=session, base_url=base)
    for org in (zero, missing):
        assert org.latitude is None and org.longitude is None
        assert SDO + "geo" not in {q.predicate.value for q in organisation_to_rdf(org)}


def test_swedish_rdf_joins_on_library_iri(bibdb):
    emu, session, base = bibdb
    org = get_library("Umu", session=session, base_url=base)
    store = ox.Store()
    store.extend(organisation_to_rdf(org))
    rows = list(store.query(
        f"PREFIX schema: <{SDO}> PREFIX lv: <{LV}> SELECT ?isil ?name ?city ?lat ?long WHERE {{ GRAPH ?g {{ "
        "<https://libris.kb.se/library/Umu> a schema:Library ; lv:isil ?isil ; schema:name ?name ; "
        "schema:address/schema:addressLocality ?city ; schema:geo [ schema:latitude ?lat ; schema:longitude ?long ] "
        "} }"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["isil"].value, row["name"].value, row["city"].value) == ("SE-Umu", "Umeå universitetsbibliotek", "Umeå")
    assert float(row["lat"].value) == pytest.approx(63.82, abs=0.01)
    record = next(iter(organisation_records([org])))
    assert record.iri == "https://libris.kb.se/library/Umu" and record.media_type == "application/n-triples"


def test_odd_entries_skipped_and_bad_pages_fail(bibdb):
    emu, session, base = bibdb
    page = {"libraries": [{"sigel": "Ok1", "name": "Ett bibliotek"}, {"name": "utan sigel"}, "inte ett objekt"]}
    emu.faults.add("body", service="bibdb", body=json.dumps(page), content_type="application/json")
    skipped: list[str] = []
    libs = list(iter_libraries(session=session, base_url=base, page_size=5, max_pages=1, skipped=skipped))
    assert [o.sigel for o in libs] == ["Ok1"] and len(skipped) == 2
    emu.faults.add("body", service="bibdb", body='{"results": []}', content_type="application/json")
    with pytest.raises(BadResponseError, match="libraries"):
        list(iter_libraries(session=session, base_url=base))
    emu.faults.add("body", service="bibdb", body="<html/>", content_type="text/html")
    with pytest.raises(BadResponseError, match="not JSON"):
        list(iter_libraries(session=session, base_url=base))


def test_get_library_with_libraries_not_an_array_is_a_parse_error(bibdb):
    emu, session, base = bibdb
    emu.faults.add("body", service="bibdb", body='{"libraries": {"sigel": "Uu"}}', content_type="application/json")
    with pytest.raises(BadResponseError, match="not an array"):
        get_library("Uu", session=session, base_url=base)


def test_server_that_ignores_start_is_not_paged_max_pages_times(bibdb):
    from linkeddata.errors import ServiceUnavailableError

    emu, session, base = bibdb
    page = {"libraries": [{"sigel": "Ok1", "name": "Ett bibliotek"}, {"sigel": "Ok2", "name": "Ett annat"}]}
    emu.faults.add("body", service="bibdb", body=json.dumps(page), content_type="application/json", times=None)
    with pytest.raises(ServiceUnavailableError, match="same page"):
        list(iter_libraries(session=session, base_url=base))
    assert _starts(emu) == ["0", "2"]


def test_cli_libraries(bibdb, tmp_path):
    emu, session, base = bibdb
    from linkeddata.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["--no-cache", "libraries", "S", "Lkp"], env=emu.env())
    assert res.exit_code == 0, res.output
    assert "Kungliga biblioteket" in res.output and "Linköping" in res.output
    res = runner.invoke(cli, ["--no-cache", "libraries", "Zz"], env=emu.env())
    assert res.exit_code == 1 and "Zz" in res.output
    res = runner.invoke(cli, ["--no-cache", "libraries", "--store", str(tmp_path / "kg")], env=emu.env())
    assert res.exit_code == 0, res.output
    assert "Loaded 17 organisations" in res.output


def test_records_load_into_the_project_store(bibdb):
    emu, session, base = bibdb
    from linkeddata.stores import open_store

    orgs = [get_library(s, session=session, base_url=base) for s in ("S", "Uu")]
    store = open_store(None)
    stats = store.load_records(organisation_records(orgs))
    assert stats.records == 2 and not stats.skipped
    assert {"https://libris.kb.se/library/S", "https://libris.kb.se/library/Uu"} <= set(store.graphs())
    stats = store.load_records(organisation_records(orgs))  # reloading replaces, no duplicates
    rows = list(store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?o <{SDO}latitude> ?lat }} }}"))
    assert int(rows[0][0].value) == 2


def test_get_library_falls_back_to_the_list_form(bibdb):
    emu, session, base = bibdb
    emu.faults.add("status", service="bibdb", path=r"^/api/library", status=404, times=None)
    kb = get_library("S", session=session, base_url=base)
    assert kb.name == "Kungliga biblioteket" and kb.iri == "https://libris.kb.se/library/S"
    paths = [(r.path, r.query.get("sigel")) for r in emu.requests_to("bibdb")]
    assert paths[0][0].startswith("/api/library") and paths[1] == ("/api", ["S"])
    with pytest.raises(NotFoundError, match="Zz"):
        get_library("Zz", session=session, base_url=base)  # asked in both forms, for both org types
    with pytest.raises(InvalidInputError):
        get_library("S*", session=session, base_url=base)  # a pattern is not a sigel
