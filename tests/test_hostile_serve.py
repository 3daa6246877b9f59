"""``serve`` against a hostile web page and hostile queries.

The guarding front is read-only by default; with ``writable`` an update needs the
token and must not come from a foreign web page; SERVICE and LOAD are refused unless
allowed by name (the hostile "remote" is a server of the test, which must see no
request); queries time out.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests

from linkeddata.errors import ConfigError
from linkeddata.records import Record
from linkeddata.serve import Guard, Refused, check_sparql, running_guarded

from .hostile import RawServer, answer, oxigraph_binary, stored  # noqa: F401  (oxigraph_binary: autouse)

TOKEN = "serve-test-token-42"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


def _store(path, n=40):
    records = []
    for i in range(n):
        iri = f"https://libris.kb.se/srv{i:04d}"
        records.append(Record(iri, {"@graph": [
            {"@id": iri, "@type": "Record", "mainEntity": {"@id": iri + "#it"}},
            {"@id": iri + "#it", "@type": "Instance", "hasTitle": [{"@type": "Title", "mainTitle": f"T{i}"}]}]}))
    return stored(path, records)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("serve") / "kg")


def _count(url: str) -> int:
    r = requests.post(url + "/query", data={"query": COUNT}, headers={"Accept": "application/sparql-results+json"},
                      timeout=30)
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def _form_post(url: str, path: str, text: str, **headers: str) -> requests.Response:
    field = "update" if path == "/update" else "query"
    return requests.post(url + path, data={field: text}, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def read_only(store_path):
    with running_guarded(store_path, Guard(), read_only=True) as server:
        yield server


@pytest.fixture(scope="module")
def writable(tmp_path_factory):
    path = _store(tmp_path_factory.mktemp("serve-w") / "kg", n=5)
    with running_guarded(path, Guard(writable=True, token=TOKEN, allow_load=frozenset())) as server:
        yield server


def test_default_server_refuses_updates_even_from_its_own_origin(read_only):
    before = _count(read_only.url)
    r = _form_post(read_only.url, "/update", "DROP ALL", Origin=read_only.url)
    assert r.status_code == 403 and "read-only" in r.text
    r = requests.put(read_only.url + "/store?default", data=b"<a:b> <a:b> <a:b> .",
                     headers={"Content-Type": "application/n-triples"}, timeout=30)
    assert r.status_code == 403
    assert _count(read_only.url) == before > 0


def test_foreign_origin_form_post_cannot_drop_all(writable):
    before = _count(writable.url)
    evil = "http://evil.example"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert _form_post(writable.url, "/update", "DROP ALL", Origin=evil, **auth).status_code == 403
    assert _form_post(writable.url, "/update", "DROP ALL", Origin=evil).status_code == 403
    assert _form_post(writable.url, "/update", "DROP ALL").status_code == 401  # no token
    assert _form_post(writable.url, "/update", "DROP ALL", Authorization="Bearer wrong").status_code == 401
    assert _form_post(writable.url, "/query", COUNT, Origin=evil).status_code == 403
    rebinding = requests.post(writable.url + "/update", data={"update": "DROP ALL"},
                              headers={"Host": f"evil.example:{writable.port}", **auth}, timeout=30)
    assert rebinding.status_code == 403
    assert _count(writable.url) == before > 0


def test_update_with_the_token_from_its_own_origin_is_applied(writable):
    insert = "INSERT DATA { GRAPH <https://libris.kb.se/new1> { <https://libris.kb.se/new1> a <urn:x:T> } }"
    before = _count(writable.url)
    r = _form_post(writable.url, "/update", insert, Origin=writable.url, Authorization=f"Bearer {TOKEN}")
    assert r.status_code in (200, 204), r.text
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    delete = "DROP GRAPH <https://libris.kb.se/new1>"
    assert _form_post(writable.url, "/update", delete, Authorization=f"Basic {basic}").status_code in (200, 204)
    assert _count(writable.url) == before


def test_load_of_a_remote_document_is_refused(writable):
    with RawServer(answer(b"<urn:a> <urn:b> <urn:c> .", {"Content-Type": "application/n-triples"})) as remote:
        r = _form_post(writable.url, "/update", f"LOAD <{remote.url('/data.nt')}> INTO GRAPH <urn:g>",
                       Authorization=f"Bearer {TOKEN}")
        assert r.status_code == 403 and "LOAD" in r.text
        assert remote.requests == []


def test_load_allowed_by_name_goes_through(tmp_path):
    with RawServer(answer(b"<urn:a> <urn:b> <urn:c> .\n", {"Content-Type": "application/n-triples"})) as remote:
        iri = remote.url("/data.nt")
        guard = Guard(writable=True, token=TOKEN, allow_load=frozenset({iri}))
        with running_guarded(None, guard) as server:
            r = _form_post(server.url, "/update", f"LOAD <{iri}> INTO GRAPH <urn:g>", Authorization=f"Bearer {TOKEN}")
            assert r.status_code in (200, 204), r.text
            assert _count(server.url) == 1
        assert len(remote.requests) == 1


@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "PREFIX r: <{base}/> SELECT * WHERE {{ SERVICE r:sparql {{ ?s ?p ?o }} }}",
    "BASE <{base}/> SELECT * WHERE {{ SERVICE <sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ BIND(<{url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ #comment\n SERVICE<{url}>{{ ?s ?p ?o }} }}",
])
def test_service_is_refused_even_read_only_and_the_remote_sees_nothing(read_only, template):
    with RawServer(answer(b"{}", {"Content-Type": "application/sparql-results+json"})) as remote:
        query = template.format(url=remote.url("/sparql"), base=remote.base)
        for response in (_form_post(read_only.url, "/query", query),
                         requests.get(read_only.url + "/query", params={"query": query}, timeout=30),
                         requests.post(read_only.url + "/query", data=query.encode(), timeout=30,
                                       headers={"Content-Type": "application/sparql-query"})):
            assert response.status_code == 403, (query, response.text)
            assert "SERVICE" in response.text
        time.sleep(0.1)
        assert remote.requests == []


def test_words_that_only_look_like_service_or_load_pass():
    guard = Guard()
    check_sparql("SELECT ?service WHERE { ?s <urn:service> 'SERVICE <x>' ; ex:load ?service } # LOAD <y>", guard)
    with pytest.raises(Refused):
        check_sparql("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> {} }", guard)
    check_sparql("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> {} }",
                 Guard(allow_service=frozenset({"http://127.0.0.1:9/"})))


def test_a_heavy_query_times_out(store_path):
    heavy = ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?q ?r }")
    with running_guarded(store_path, Guard(query_timeout=1), read_only=True) as server:
        start = time.monotonic()
        r = _form_post(server.url, "/query", heavy)
        took = time.monotonic() - start
        # the answer waits for the backend's restart (seconds on a loaded machine); the query alone runs for minutes
        assert r.status_code == 504 and "1 s" in r.text and took < 1 + 20, (r.status_code, took)
        assert server.restarts == 1
        assert _count(server.url) > 0  # and the server still answers


def test_writable_needs_a_token():
    with pytest.raises(ConfigError, match="token"):
        Guard(writable=True)


def test_cli_serve_is_read_only_and_refuses_service_by_default(store_path, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from linkeddata.serve import free_port

    from .test_serve import _answers

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "linkeddata", "serve", "--store", str(store_path), "--read-only",
                                "--bind", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 30
        while not _answers(port) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "read-only" in process.stderr.readline()
        before = _count(url)
        assert _form_post(url, "/update", "DROP ALL", Origin="http://evil.example").status_code == 403
        assert _form_post(url, "/update", "DROP ALL").status_code == 403
        assert _form_post(url, "/query", "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }").status_code == 403
        assert _count(url) == before
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_cli_serve_refuses_writable_read_only(store_path):
    from click.testing import CliRunner

    from linkeddata.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--store", str(store_path), "--writable", "--read-only"])
    assert result.exit_code == 1 and "exclude" in result.output
