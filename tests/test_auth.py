"""OAuth2 client credentials: sources, renewal, and secrets kept out of logs, errors and caches."""

from __future__ import annotations

import logging
import os
import time

import pytest

from linkeddata.auth import LibrisAuth, load_credentials, make_auth, read_credentials_file, resolve_sigel
from linkeddata.emulator import Emulator
from linkeddata.emulator.login import registry
from linkeddata.errors import AuthError, ConfigError
from linkeddata.http import make_session
from linkeddata.libris import write

SECRET = "cataloguer-secret"


@pytest.fixture
def emu():
    with Emulator(services=["libris", "login"]) as emulator, emulator.environment():
        yield emulator


def token_url(emu) -> str:
    return emu.url("login") + "/oauth/token"


def test_credentials_file_needs_owner_only_mode(tmp_path):
    path = tmp_path / "credentials.toml"
    path.write_text('client_id = "abc"\nclient_secret = "xyz"\nsigel = "Umu"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        read_credentials_file(path)
    assert "xyz" not in str(info.value)
    path.chmod(0o600)
    creds = load_credentials(env={}, path=path)
    assert creds == {"client_id": "abc", "client_secret": "xyz", "sigel": "Umu"}
    assert resolve_sigel(env={}, path=path) == "Umu"


def test_unreadable_or_odd_credentials_file_is_config_error(tmp_path):
    folder = tmp_path / "creds"
    folder.mkdir(mode=0o700)  # owner-only, but not a file: reading it fails even as root
    with pytest.raises(ConfigError, match="cannot read credentials file"):
        read_credentials_file(folder)
    path = tmp_path / "credentials.toml"
    path.write_text('libris = "not a table"\n')
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="must be a table"):
        read_credentials_file(path)


def test_environment_wins_over_file_and_missing_is_config_error(tmp_path):
    path = tmp_path / "credentials.toml"
    path.write_text('client_id = "file-id"\nclient_secret = "file-secret"\n')
    path.chmod(0o600)
    env = {"LINKEDDATA_CLIENT_ID": "env-id", "LINKEDDATA_CLIENT_SECRET": "env-secret"}
    assert load_credentials(env=env, path=path)["client_id"] == "env-id"
    with pytest.raises(ConfigError, match="LINKEDDATA_CLIENT_ID"):
        load_credentials(env={}, path=tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="LINKEDDATA_SIGEL"):
        resolve_sigel(env={}, path=tmp_path / "absent.toml")


def test_token_fetch_and_bad_secret(emu):
    session = make_session(cache=False, rate_limit=None)
    auth = LibrisAuth("test-cataloguer", SECRET, token_url=token_url(emu), session=session)
    token = auth.ensure_token()
    assert token and auth.expires_at > time.time() + 3000
    assert SECRET not in repr(auth) and token not in repr(auth)
    bad = LibrisAuth("test-cataloguer", "not-the-secret", token_url=token_url(emu), session=session)
    with pytest.raises(AuthError, match="invalid_client") as info:
        bad.ensure_token()
    assert "not-the-secret" not in str(info.value)


def test_make_auth_reads_environment(emu, monkeypatch):
    monkeypatch.setenv("LINKEDDATA_CLIENT_ID", "test-holdings")
    monkeypatch.setenv("LINKEDDATA_CLIENT_SECRET", "holdings-secret")
    monkeypatch.setenv("LINKEDDATA_SIGEL", "Umu")
    auth = make_auth(session=make_session(cache=False, rate_limit=None))
    assert auth.token_url == token_url(emu)
    assert auth.sigel == "Umu"
    assert auth.ensure_token()


def test_missing_token_is_401(emu):
    session = make_session(cache=False, rate_limit=None)
    response = session.get(emu.url("libris") + "/_remotesearch", params={"q": "x"})
    assert response.status_code == 401
    assert "No access token" in response.text


def test_token_renewed_before_expiry():
    with Emulator(services=["libris", "login"], token_lifetime=1) as emu, emu.environment():
        session = make_session(cache=False, rate_limit=None)
        auth = LibrisAuth("test-cataloguer", SECRET, token_url=token_url(emu), session=session)
        began = time.monotonic()
        calls = 0
        while time.monotonic() - began < 2.5 and calls < 200:
            result = write.remote_search("nordlys", databases="BIBSYS", auth=auth, session=session)
            assert result["totalResults"] == {"BIBSYS": 1}
            calls += 1
            time.sleep(0.1)
        assert auth.fetch_count >= 2
        assert all(r.status != 401 for r in emu.requests_to("libris"))


def test_server_side_expiry_retried_once():
    with Emulator(services=["libris", "login"], token_lifetime=1) as emu, emu.environment():
        session = make_session(cache=False, rate_limit=None)
        auth = LibrisAuth("test-cataloguer", SECRET, token_url=token_url(emu), session=session)
        auth.ensure_token()
        auth._token["expires_at"] = time.time() + 3600  # the client believes it is still valid
        time.sleep(1.1)
        result = write.remote_search("nordlys", databases="BIBSYS", auth=auth, session=session)
        assert result["totalResults"] == {"BIBSYS": 1}
        statuses = [r.status for r in emu.requests_to("libris")]
        assert statuses == [401, 200]
        assert auth.fetch_count == 2


def test_secrets_absent_from_logs_errors_and_cache(emu, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    cache = tmp_path / "c.sqlite"
    session = make_session(cache=cache, rate_limit=None, expire_after=3600)  # store answers without validators too
    auth = LibrisAuth("test-cataloguer", SECRET, token_url=token_url(emu), session=session, sigel="Umu")
    token = auth.ensure_token()
    # a GET with the token through the cached session is stored (requests-cache must redact it)
    response = session.get(emu.url("libris") + "/_remotesearch", params={"q": "nordlys", "databases": "BIBSYS"},
                           auth=auth)
    assert response.status_code == 200
    again = session.get(emu.url("libris") + "/_remotesearch", params={"q": "nordlys", "databases": "BIBSYS"},
                        auth=auth)
    assert getattr(again, "from_cache", False)
    # writes and a failing write
    doc = write.holding_document("https://libris.kb.se/c8pz1vn3km6tf4h", "Umu")
    write.create(doc, auth=auth, session=session)
    errors = []
    try:
        write.create(doc, auth=auth, session=session)
    except Exception as exc:  # duplicate holding
        errors.append(str(exc))
    bad = LibrisAuth("test-cataloguer", "wrong-" + SECRET, token_url=token_url(emu), session=session)
    try:
        bad.ensure_token()
    except AuthError as exc:
        errors.append(str(exc))
    assert len(errors) == 2
    session.close()
    texts = [r.getMessage() for r in caplog.records] + errors + [repr(auth), repr(bad)]
    assert any("urllib3" in r.name for r in caplog.records)  # debug logging really was on
    for text in texts:
        assert SECRET not in text and token not in text
    blob = cache.read_bytes()
    for path in tmp_path.glob("c.sqlite*"):
        blob += path.read_bytes()
    assert SECRET.encode() not in blob
    assert token.encode() not in blob
    assert registry(emu).issued >= 1
    assert os.environ.get("LINKEDDATA_LOGIN_URL")
