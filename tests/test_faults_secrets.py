"""Secrets stay secret when the token endpoint misbehaves.

The login service answers 503, resets the connection, sends HTML, garbage JSON, a
token-less answer or a redirect loop; every failure is one line with no client
secret and no token, in the error, the logs (DEBUG, urllib3 included) and the cache.
"""

from __future__ import annotations

import logging

import pytest

from linkeddata.auth import LibrisAuth
from linkeddata.emulator import Emulator
from linkeddata.errors import LinkedDataError
from linkeddata.http import make_session

SECRET = "cataloguer-secret"  # the emulator's registered test client


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris", "login"]) as emulator:
        yield emulator


@pytest.fixture
def login(emu):
    emu.faults.clear()
    yield emu
    emu.faults.clear()


FAULTS = {
    "503": dict(kind="status", status=503),
    "500-with-echo": dict(kind="status", status=500, body='{"error": "server_error", "echo": "client_secret"}',
                          content_type="application/json"),
    "reset": dict(kind="reset"),
    "html": dict(kind="html"),
    "garbage": dict(kind="body", body="{not json", content_type="application/json"),
    "no-token": dict(kind="body", body='{"token_type": "Bearer", "expires_in": 3600}',
                     content_type="application/json"),
    "redirect-loop": dict(kind="redirect-loop"),
    "slow": dict(kind="slow", delay=1.0),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_token_endpoint_faults_fail_in_one_line_without_secrets(login, tmp_path, caplog, name):
    spec = dict(FAULTS[name])
    kind = spec.pop("kind")
    login.faults.add(kind, service="login", path="/oauth/token", times=None, **spec)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # restored after the test, unlike setLevel
    cache = tmp_path / "cache.sqlite"
    session = make_session(cache=cache, rate_limit=None, retries=2, backoff_factor=0.01, timeout=(2, 0.3))
    auth = LibrisAuth("test-cataloguer", SECRET, token_url=login.url("login") + "/oauth/token", session=session)
    try:
        with pytest.raises(LinkedDataError) as info:
            auth.ensure_token()
    finally:
        session.close()
    message = str(info.value)
    assert message and "\n" not in message
    assert SECRET not in message and SECRET not in repr(info.value)
    assert "test-cataloguer" in message or login.url("login") in message
    assert SECRET not in caplog.text
    assert SECRET not in repr(auth)
    if cache.exists():
        assert SECRET.encode() not in cache.read_bytes()


def test_token_survives_transient_faults_and_never_leaks(login, tmp_path, caplog):
    login.faults.add("status", service="login", path="/oauth/token", status=503, times=1)
    login.faults.add("reset", service="libris", path="/_remotesearch", times=1)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # restored after the test, unlike setLevel
    cache = tmp_path / "cache.sqlite"
    session = make_session(cache=cache, rate_limit=None, retries=3, backoff_factor=0.01)
    auth = LibrisAuth("test-cataloguer", SECRET, token_url=login.url("login") + "/oauth/token", session=session)
    errors = []
    try:
        try:  # POST is not retried by the session; a failed token request must be clean and recoverable
            auth.ensure_token()
        except LinkedDataError as exc:
            errors.append(str(exc))
        token = auth.ensure_token()
        response = session.get(login.url("libris") + "/_remotesearch",
                               params={"q": "nordlys", "databases": "BIBSYS"}, auth=auth)
    finally:
        session.close()
    assert response.status_code == 200
    for text in (caplog.text, repr(auth), *errors):
        assert SECRET not in text and token not in text
    if cache.exists():
        blob = cache.read_bytes()
        assert SECRET.encode() not in blob and token.encode() not in blob
