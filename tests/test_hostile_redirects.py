"""Secrets and redirects against hostile servers on 127.0.0.1.

The token request never follows a redirect (a 307/308 would re-POST the client
secret); other requests follow redirects only to configured services (a canonical
IRI is rewritten to its configured base); credentials never go to another host;
a record fetch checks that the answer is the view that was asked for.
"""

from __future__ import annotations

import json
import socket

import pytest

from linkeddata.auth import LibrisAuth
from linkeddata.errors import AuthError, NegotiationError
from linkeddata.http import RedirectError, make_session, request
from linkeddata.libris.read import fetch_record

from .hostile import one_line, RawServer, answer

SECRET = "hostile-test-secret-9d1"
TOKEN = json.dumps({"access_token": "stolen-token", "token_type": "Bearer", "expires_in": 3600}).encode()


@pytest.fixture
def session():
    s = make_session(cache=False, rate_limit=None, retries=0, timeout=(2, 5))
    yield s
    s.close()


def _path(request: bytes) -> str:
    return request.split(b" ", 2)[1].decode()


def redirect_to(location: str, status: str = "302 Found"):
    return answer(b"", {"Location": location}, status=status)


@pytest.mark.parametrize("status", ["307 Temporary Redirect", "308 Permanent Redirect", "302 Found"])
def test_token_request_is_never_redirected_to_another_host(session, status):
    with RawServer(answer(TOKEN, {"Content-Type": "application/json"})) as thief:
        with RawServer(redirect_to(thief.url("/steal"), status)) as login:
            auth = LibrisAuth("test-client", SECRET, token_url=login.url("/oauth/token"), session=session)
            with pytest.raises(AuthError) as info:
                auth.ensure_token()
    message = one_line(info.value)
    assert "redirected" in message and SECRET not in message
    assert thief.requests == []  # the secret never left for the Location host
    assert SECRET.encode() in login.requests[0]  # (it did go to the configured endpoint)


def test_redirect_to_a_host_that_is_no_configured_service_is_refused(session, monkeypatch):
    with RawServer(answer(b'{"@graph": []}', {"Content-Type": "application/ld+json"})) as foreign:
        with RawServer(redirect_to(foreign.url("/evil"))) as libris:
            monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
            with pytest.raises(RedirectError) as info:
                fetch_record("k9dt4hbw6p1ncz8", session=session)
    message = one_line(info.value)
    assert foreign.url("/evil") in message and "not a configured service" in message
    assert foreign.requests == []


def test_redirect_to_a_canonical_iri_goes_to_the_configured_base(session, monkeypatch):
    record = {"@graph": [{"@id": "https://libris.kb.se/newid1", "@type": "Record",
                          "mainEntity": {"@id": "https://libris.kb.se/newid1#it"}},
                         {"@id": "https://libris.kb.se/newid1#it", "@type": "Instance"}]}

    def handle(conn: socket.socket, raw: bytes, server: RawServer) -> None:
        if _path(raw).startswith("/oldid1"):
            redirect_to("https://libris.kb.se/newid1")(conn, raw, server)
        else:
            answer(json.dumps(record).encode(), {"Content-Type": "application/ld+json"})(conn, raw, server)

    with RawServer(handle) as libris:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
        rec = fetch_record("oldid1", session=session)
    assert rec.iri == "https://libris.kb.se/newid1"
    assert [_path(r) for r in libris.requests] == ["/oldid1", "/newid1"]


def test_credentials_are_not_sent_to_another_configured_host(session, monkeypatch):
    with RawServer(answer(b"", status="204 No Content")) as other:
        with RawServer(redirect_to(other.url("/moved"), "307 Temporary Redirect")) as libris:
            monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
            monkeypatch.setenv("LINKEDDATA_ID_URL", other.base)
            response = request(session, "PUT", libris.url("/abc"), ok=(204,), data=b"{}",
                               headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 204
    assert SECRET.encode() in libris.requests[0]
    assert len(other.requests) == 1 and SECRET.encode() not in other.requests[0]


def test_https_to_http_downgrade_on_the_same_host_is_refused():
    from linkeddata.http import follow_redirect

    with pytest.raises(RedirectError):
        follow_redirect("https://example.org/a", "http://example.org/b")
    with pytest.raises(RedirectError):
        follow_redirect("https://libris.kb.se/a", "file:///etc/passwd")


def _record(marker: str) -> bytes:
    return json.dumps({"@graph": [{"@id": "https://libris.kb.se/k9dt4hbw6p1ncz8", "@type": "Record",
                                   "mainEntity": {"@id": "https://libris.kb.se/k9dt4hbw6p1ncz8#it"}, "note": marker},
                                  {"@id": "https://libris.kb.se/k9dt4hbw6p1ncz8#it", "@type": "Instance"}]}).encode()


def _view_server(drop_always: bool):
    """A server whose first answer (or every answer) to ``embellished=false`` is a redirect
    that drops the query, landing on the embellished view (an ETag with a colon)."""
    seen = {"n": 0}

    def handle(conn: socket.socket, raw: bytes, server: RawServer) -> None:
        path = _path(raw)
        if "embellished=false" in path:
            seen["n"] += 1
            if drop_always or seen["n"] == 1:
                redirect_to(path.split("?", 1)[0])(conn, raw, server)
                return
            answer(_record("as stored"), {"Content-Type": "application/ld+json", "ETag": '"111"'})(conn, raw, server)
        else:
            answer(_record("embellished"), {"Content-Type": "application/ld+json", "ETag": '"111:222"'})(conn, raw, server)

    return handle


def test_a_view_lost_in_a_redirect_is_asked_again(session, monkeypatch):
    with RawServer(_view_server(drop_always=False)) as libris:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
        rec = fetch_record("k9dt4hbw6p1ncz8", session=session, embellished=False)
    assert rec.data["@graph"][0]["note"] == "as stored" and rec.etag == '"111"'


def test_a_view_that_never_comes_back_is_an_error_not_a_wrong_record(session, monkeypatch):
    with RawServer(_view_server(drop_always=True)) as libris:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
        with pytest.raises(NegotiationError) as info:
            fetch_record("k9dt4hbw6p1ncz8", session=session, embellished=False)
    assert "embellished=false" in one_line(info.value)


def test_another_lens_in_content_location_is_asked_again_then_refused(session, monkeypatch):
    headers = {"Content-Type": "application/ld+json", "ETag": '"1"',
               "Content-Location": "https://libris.kb.se/k9dt4hbw6p1ncz8/data.jsonld?lens=card"}
    with RawServer(answer(_record("card"), headers)) as libris:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
        with pytest.raises(NegotiationError) as info:
            fetch_record("k9dt4hbw6p1ncz8", session=session, lens="chip")
    assert "lens" in one_line(info.value) and len(libris.requests) == 2


# ------------------------------------------------------------------ the commands, end to end

_FOREIGN_RECORD = _record("FOREIGN")


@pytest.mark.parametrize("args", [
    ["load", "{libris}/x.jsonld"],  # a URL given by the user: its own host only
    ["load", "k9dt4hbw6p1ncz8"],  # a Libris record: a foreign body must never become its graph
    ["harvest", "oai", "-q"],
    ["harvest", "find", "*", "-q"],
    ["fetch", "k9dt4hbw6p1ncz8"],
])
def test_commands_refuse_a_redirect_to_an_unconfigured_host(args, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from linkeddata.cli import cli
    from linkeddata.stores import open_store

    store = tmp_path / "kg"
    with RawServer(answer(_FOREIGN_RECORD, {"Content-Type": "application/ld+json"})) as foreign:
        with RawServer(redirect_to(foreign.url("/evil.jsonld"))) as libris:
            monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
            monkeypatch.setenv("LINKEDDATA_OAIPMH_URL", libris.base + "/oai")
            argv = [a.format(libris=libris.base) for a in args]
            argv += ["--store", str(store)] if args[0] != "fetch" else []
            result = CliRunner().invoke(cli, ["--no-cache", *argv])
    assert result.exit_code == (2 if args[0] == "load" else 1), result.output
    problems = [line for line in result.output.splitlines() if foreign.url("/evil.jsonld") in line]
    assert len(problems) == 1 and "not a configured service" in problems[0], result.output
    assert "Traceback" not in result.output
    assert foreign.requests == []
    if store.exists():
        assert open_store(store, read_only=True).count_triples() == 0


def test_an_answer_that_describes_another_record_is_refused(session, monkeypatch):
    other = _record("other").replace(b"k9dt4hbw6p1ncz8", b"zzzzzzzzzzzzzz1")
    with RawServer(answer(other, {"Content-Type": "application/ld+json"})) as libris:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
        with pytest.raises(NegotiationError) as info:
            fetch_record("k9dt4hbw6p1ncz8", session=session)
    assert "another record (https://libris.kb.se/zzzzzzzzzzzzzz1)" in one_line(info.value)
    qa = _record("qa").replace(b"https://libris.kb.se/", b"https://libris-qa.kb.se/")  # a QA host's own IRIs
    with RawServer(answer(qa, {"Content-Type": "application/ld+json"})) as libris:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", libris.base)
        assert fetch_record("k9dt4hbw6p1ncz8", session=session).iri == "https://libris.kb.se/k9dt4hbw6p1ncz8"
