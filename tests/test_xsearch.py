"""xsearch client against the emulator: formats, paging, caps and XML errors with HTTP 200."""

from __future__ import annotations

import pytest

from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError
from linkeddata.http import make_session
from linkeddata.libris import xsearch


@pytest.fixture(scope="module")
def env():
    with Emulator(services=["xsearch"], size=25) as emu, emu.environment():
        yield emu, make_session(cache=False, rate_limit=None)


def test_json_hits(env):
    emu, session = env
    page = xsearch.fetch_page("fjällflora", session=session)
    assert page.records == 1 and page.start == 1 and page.to == 1
    hit = page.items[0]
    assert hit["identifier"] == "http://libris.kb.se/bib/10564432"
    assert hit["isbn"] == "9789127112346" and hit["title"].startswith("Fjällflora")


def test_paging_collects_every_hit(env):
    emu, session = env
    total = xsearch.count("s", session=session)
    assert total > 20
    before = len(emu.requests_to("xsearch"))
    hits = list(xsearch.search("s", n=7, session=session))
    assert len(hits) == total
    assert len({h["identifier"] for h in hits}) == total
    assert len(emu.requests_to("xsearch")) - before == -(-total // 7)
    assert len(list(xsearch.search("s", n=7, max_records=9, session=session))) == 9


def test_n_is_capped_at_200(env):
    emu, session = env
    list(xsearch.search("s", n=1000, max_records=3, session=session))
    list(xsearch.search("s", n=1000, session=session))
    assert emu.requests_to("xsearch")[-1].query["n"] == ["200"]


def test_marcxml_and_mods(env):
    emu, session = env
    (record,) = list(xsearch.search("fjällflora", format="marcxml", session=session))
    assert xsearch.marc_subfield(record, "020", "a") == "9789127112346"
    mods = list(xsearch.search("fjällflora", format="mods", session=session))
    assert len(mods) == 1 and mods[0].tag.endswith("mods")


def test_xml_errors_with_status_200(env):
    emu, session = env
    with pytest.raises(InvalidInputError, match="could not be parsed"):
        xsearch.fetch_page("(", session=session)
    with pytest.raises(InvalidInputError, match="needs a query"):
        xsearch.fetch_page("  ", session=session)
    with pytest.raises(InvalidInputError, match="format"):
        xsearch.fetch_page("x", format="ris", session=session)
    emu.faults.add("body", service="xsearch", body='<xsearch error="format unsupported"/>', content_type="text/xml")
    with pytest.raises(InvalidInputError, match="not supported"):
        xsearch.fetch_page("bin", session=session)


@pytest.mark.parametrize("body, fmt", [
    ('{"xsearch": "busy"}', "json"),
    ('{"xsearch": {"records": "many", "list": []}}', "json"),
    ('<xsearch records="many" from="1" to="0"/>', "mods"),
])
def test_malformed_answers_are_parse_errors(body, fmt):
    from linkeddata.emulator.server import Faults, Response, Route, Service, ServiceServer, start_server
    from linkeddata.errors import BadResponseError

    srv = ServiceServer(Service("x", [Route("GET", r"/xsearch", lambda req: Response.text(body))]), Faults(), [])
    start_server(srv)
    try:
        with pytest.raises(BadResponseError):
            xsearch.fetch_page("q", format=fmt, session=make_session(cache=False, rate_limit=None),
                               base_url=srv.base_url + "/xsearch")
    finally:
        srv.shutdown()
        srv.server_close()
