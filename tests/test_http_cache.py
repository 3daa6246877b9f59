"""The HTTP cache never serves a stale record: it revalidates, and a write drops the record's entries."""

from __future__ import annotations

import pytest

from linkeddata.auth import LibrisAuth
from linkeddata.emulator import Emulator
from linkeddata.http import cache_key, invalidate, make_session
from linkeddata.libris import write
from linkeddata.libris.read import fetch_record

HOLDING_OF = "https://libris.kb.se/c8pz1vn3km6tf4h"


@pytest.fixture
def env(tmp_path):
    with Emulator(services=["libris", "login"]) as emu, emu.environment():
        session = make_session(cache=tmp_path / "http.sqlite", rate_limit=None)
        auth = LibrisAuth("test-cataloguer", "cataloguer-secret", token_url=emu.url("login") + "/oauth/token",
                          session=session, sigel="Umu")
        yield emu, session, auth
        session.close()


def _statuses(emu, ident):
    return [r.status for r in emu.requests_to("libris") if r.method == "GET" and ident in r.path]


def test_a_stored_record_is_revalidated_and_a_304_reuses_its_body(env):
    emu, session, _ = env
    ident = "k9dt4hbw6p1ncz8"
    first = fetch_record(ident, session=session)
    emu.request_log.clear()
    again = fetch_record(ident, session=session)
    assert again.data == first.data and again.etag == first.etag
    assert _statuses(emu, ident) == [304]  # asked with If-None-Match, body from the cache
    sent = [r for r in emu.requests_to("libris") if ident in r.path][0]
    assert sent.headers.get("if-none-match") == first.etag


def test_update_through_the_project_then_fetch_returns_the_new_record(env):
    emu, session, auth = env
    iri = write.create(write.holding_document(HOLDING_OF, "Umu", shelf_mark="Old"), auth=auth, session=session).iri
    ident = iri.rsplit("/", 1)[1]
    before = fetch_record(ident, session=session, embellished=False)
    assert "Old" in str(before.data)
    url = emu.url("libris") + "/" + ident

    def change(doc):
        doc["@graph"][1]["hasComponent"][0]["shelfMark"]["label"] = ["New"]

    write.safe_update(iri, change, auth=auth, session=session)
    assert invalidate(session, url) == 0  # the update already dropped every entry of the record
    after = fetch_record(ident, session=session, embellished=False)
    assert "New" in str(after.data) and "Old" not in str(after.data)
    write.delete(iri, auth=auth, session=session)
    assert invalidate(session, url) == 0


def test_a_write_drops_every_cached_view_of_the_record(env):
    emu, session, _ = env
    ident = "k9dt4hbw6p1ncz8"
    for fmt in ("jsonld", "ttl"):
        fetch_record(ident, session=session, format=fmt)
    fetch_record(ident, session=session, use_extension=True)
    url = emu.url("libris") + "/" + ident
    assert invalidate(session, url) == 3
    emu.request_log.clear()
    fetch_record(ident, session=session)
    assert _statuses(emu, ident) == [200]


def test_answers_without_a_validator_are_not_stored(env):
    emu, session, _ = env
    url = emu.url("libris") + "/_findhold"
    session.get(url, params={"id": HOLDING_OF, "library": "https://libris.kb.se/library/Sthm"})
    again = session.get(url, params={"id": HOLDING_OF, "library": "https://libris.kb.se/library/Sthm"})
    assert not getattr(again, "from_cache", False)


def test_cache_key_groups_the_views_of_one_record():
    import requests

    a = requests.Request("GET", "http://127.0.0.1:1/abc?embellished=false").prepare()
    b = requests.Request("GET", "http://127.0.0.1:1/abc/data.ttl").prepare()
    c = requests.Request("GET", "http://127.0.0.1:1/abcd").prepare()
    assert cache_key(a).split("-")[0] == cache_key(b).split("-")[0] != cache_key(c).split("-")[0]
