"""Loan status and ILL clients against a small loopback service (the formats are assumptions, see loans.py)."""

from __future__ import annotations

import pytest

from linkeddata.emulator.server import Faults, Response, Route, Service, ServiceServer, start_server
from linkeddata.errors import ConfigError, InvalidInputError
from linkeddata.http import make_session
from linkeddata.libris import loans

STATUS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Item_Information>
  <Item><Location>Huvudbiblioteket</Location><Call_No>Uhb</Call_No><Loan_Status>Utlånad</Loan_Status>
        <Status_Date>2026-12-01</Status_Date></Item>
  <Item><Location>Magasin</Location><Call_No>Uhb</Call_No><Loan_Status>Tillgänglig</Loan_Status></Item>
</Item_Information>"""


STATUS_CALLS: list[str] = []


@pytest.fixture(scope="module")
def server():
    seen = []

    def status(req, isbn):
        STATUS_CALLS.append(isbn)
        return Response.text(STATUS_XML, content_type="text/xml") if isbn == "9789127112346" else Response.error(404, "no")

    def ill(req):
        seen.append(req.headers.copy())  # case-insensitive, as the request's
        if req.headers.get("api-key") != "k3y":
            return Response.error(401, "bad key")
        return Response.json({"ill_requests": [{"request_id": "LF-1", "status": "Levererad"}]})

    service = Service("local", [Route("GET", r"/status/(?P<isbn>\d+)", status), Route("GET", r"/api/requests/Umu", ill)])
    srv = ServiceServer(service, Faults(), [])
    start_server(srv)
    yield srv.base_url, seen
    srv.shutdown()
    srv.server_close()


def test_loan_status(server):
    base, _ = server
    copies = loans.loan_status(base + "/status/{isbn}", isbn="9789127112346", session=make_session(cache=False))
    assert [(c.status, c.location, c.date) for c in copies] == [
        ("Utlånad", "Huvudbiblioteket", "2026-12-01"), ("Tillgänglig", "Magasin", None)]
    assert copies[0].call_number == "Uhb"
    with pytest.raises(InvalidInputError):
        loans.loan_status(base + "/status/{isbn}", issn="1234-5678")
    for template in (base + "/status/{isbn}?x={}", base + "/status/{isbn}?x={"):
        with pytest.raises(InvalidInputError, match="not a valid template"):
            loans.loan_status(template, isbn="9789127112346")


def test_ill_needs_configuration_and_sends_key(server, monkeypatch):
    base, seen = server
    monkeypatch.delenv("LINKEDDATA_ILL_URL", raising=False)
    with pytest.raises(ConfigError, match="LINKEDDATA_ILL_URL"):
        loans.ill_get("api/requests/Umu", api_key="k3y")
    monkeypatch.setenv("LINKEDDATA_ILL_URL", base)
    monkeypatch.setenv("LINKEDDATA_ILL_API_KEY", "k3y")
    result = loans.ill_get("api/requests/Umu", session=make_session(cache=False))
    assert result["ill_requests"][0]["status"] == "Levererad"
    assert seen[-1]["accept"] == "application/json"


def test_ill_api_key_never_reaches_the_http_cache(server, tmp_path, monkeypatch):
    base, _ = server
    monkeypatch.setenv("LINKEDDATA_ILL_URL", base)
    cache = tmp_path / "cache" / "http.sqlite"
    session = make_session(cache=cache, rate_limit=None)
    try:
        assert loans.ill_get("api/requests/Umu", api_key="k3y", session=session)["ill_requests"]
    finally:
        session.close()
    assert not any(b"k3y" in f.read_bytes() for f in cache.parent.iterdir() if f.is_file())


def test_loan_status_is_not_answered_from_the_http_cache(server, tmp_path):
    base, _ = server
    session = make_session(cache=tmp_path / "http.sqlite", rate_limit=None)
    try:
        before = len(STATUS_CALLS)
        for _ in range(2):
            loans.loan_status(base + "/status/{isbn}", isbn="9789127112346", session=session)
        assert len(STATUS_CALLS) - before == 2
    finally:
        session.close()
