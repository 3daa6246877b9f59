"""RemoteStore against a real Oxigraph server on loopback: same graphs, same answers as local."""

from __future__ import annotations

import gc
import json

import pyoxigraph as ox
import pytest

from linkeddata.errors import ConfigError, QueryError, StoreError
from linkeddata.query import bundled_queries, format_results, run_query
from linkeddata.records import Record
from linkeddata.remote import RemoteStore
from linkeddata.store import LocalStore
from linkeddata.stores import open_store

from .conftest import DATA

BIB = "https://libris.kb.se/t7bk2vz9m4hq8wx"
HOLD = "https://libris.kb.se/h2zq9ckr0w5dv7l"


def _server_or_skip():
    from linkeddata import serve

    try:
        serve.check_version()
    except ConfigError as exc:
        pytest.skip(f"no usable oxigraph server: {exc}")
    return serve


def fixture_records() -> list[Record]:
    return [Record(BIB, json.loads((DATA / "record-bib.jsonld").read_text("utf-8"))),
            Record(HOLD, json.loads((DATA / "record-hold.jsonld").read_text("utf-8")))]


@pytest.fixture(scope="module")
def corpus_records() -> list[Record]:
    """The fixtures plus the emulator corpus with 300 generated records (and their holdings)."""
    records = fixture_records()
    try:
        from linkeddata.emulator.corpus import Corpus
    except ImportError:
        return records
    corpus = Corpus(size=300)
    return records + [Record(iri, corpus.records[iri]) for iri in corpus.iter_records()]


@pytest.fixture(scope="module")
def server():
    serve = _server_or_skip()
    # without the server-side union flag, so the per-query union parameter is what is tested
    with serve.running_server(None, union_default_graph=False) as running:
        yield running


@pytest.fixture
def remote(server):
    store = server.store()
    store.update("DROP SILENT ALL")
    yield store
    store.close()


@pytest.fixture(scope="module")
def local(corpus_records) -> LocalStore:
    store = open_store(None)
    store.load_records(corpus_records)
    return store


def test_endpoints_default_to_oxigraph_layout_and_config():
    store = RemoteStore("http://127.0.0.1:7878/")
    assert (store.query_url, store.update_url, store.store_url) == (
        "http://127.0.0.1:7878/query", "http://127.0.0.1:7878/update", "http://127.0.0.1:7878/store")
    other = RemoteStore.from_config({"store": {"url": "http://h:8890", "query": "/sparql", "update": "/sparql",
                                               "graph-store": "/sparql-graph-crud", "user": "u",
                                               "password": "p", "union-param": ""}})
    assert other.query_url == other.update_url == "http://h:8890/sparql"
    assert other.store_url == "http://h:8890/sparql-graph-crud"
    assert other.auth == ("u", "p") and other.union_param is None
    with pytest.raises(ConfigError):
        RemoteStore("kg-dir")


def test_credentials_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LINKEDDATA_STORE_USER", "loader")
    monkeypatch.setenv("LINKEDDATA_STORE_PASSWORD", "s3cret")
    assert RemoteStore("http://127.0.0.1:1").auth == ("loader", "s3cret")
    config = tmp_path / "store.toml"
    config.write_text('[store]\nurl = "http://127.0.0.1:1"\nread-only = true\n', "utf-8")
    store = RemoteStore.from_config(config)
    assert store.auth == ("loader", "s3cret") and store.read_only
    with pytest.raises(StoreError, match="read-only"):
        store.delete_record(BIB)


def test_config_file_reads_with_the_tomli_backport_on_python_3_10(monkeypatch, tmp_path):
    import sys
    import tomllib

    config = tmp_path / "store.toml"
    config.write_text('[store]\nurl = "http://127.0.0.1:1"\nquery = "/sparql"\n', "utf-8")
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on 3.10: no such module
    monkeypatch.setitem(sys.modules, "tomli", tomllib)  # the backport has the same API
    assert RemoteStore.from_config(config).query_url == "http://127.0.0.1:1/sparql"
    config.write_text("[store\n", "utf-8")
    with pytest.raises(ConfigError, match="cannot read store config"):
        RemoteStore.from_config(config)


def test_open_store_picks_remote_for_urls(tmp_path):
    assert isinstance(open_store("http://127.0.0.1:7878"), RemoteStore)
    assert open_store("http://127.0.0.1:7878", query_endpoint="/sparql").query_url == "http://127.0.0.1:7878/sparql"
    assert isinstance(open_store(None), LocalStore)
    local = open_store(tmp_path / "kg")
    assert isinstance(local, LocalStore)
    local.close()
    with pytest.raises(ConfigError, match="not a SPARQL server URL"):
        open_store("http://")
    with pytest.raises(ConfigError, match="query_endpoint"):
        open_store(tmp_path / "kg", query_endpoint="/sparql")


def test_same_quads_as_local_store(remote, local, corpus_records):
    stats = remote.load_records(corpus_records, batch_size=200)
    assert stats.records == len(corpus_records) and stats.batches == -(-len(corpus_records) // 200)
    assert stats.triples == local.count_triples()
    assert remote.graphs() == local.graphs()
    assert remote.count_triples() == local.count_triples()
    assert remote.count_triples(BIB) == local.count_triples(BIB)
    assert remote.canonical_nquads() == local.canonical_nquads()


def test_reload_is_idempotent_and_replaces(remote):
    remote.load_records(fixture_records())
    snapshot = remote.canonical_nquads()
    again = remote.load_records(fixture_records())
    assert again.records == 2
    assert remote.canonical_nquads() == snapshot
    doc = json.loads((DATA / "record-bib.jsonld").read_text("utf-8"))
    doc["@graph"][1]["hasTitle"][0]["mainTitle"] = "Ett nytt namn"
    remote.load_records([Record(BIB, doc)])
    titles = run_query(remote, "SELECT ?t WHERE { ?i kbv:hasTitle/kbv:mainTitle ?t }")
    assert [s["t"].value for s in titles] == ["Ett nytt namn"]


def test_tombstones_and_delete_record(remote):
    remote.load_records(fixture_records())
    stats = remote.load_records([Record(HOLD, deleted=True)])
    assert stats.deleted == 1
    assert remote.graphs() == {BIB}
    assert remote.delete_record(BIB) is True
    assert remote.delete_record(BIB) is False
    assert remote.graphs() == set() and remote.count_triples() == 0


def test_bad_record_skipped_never_half_loaded(remote):
    bad = Record("https://libris.kb.se/bad", {"@graph": [{"@id": "https://libris.kb.se/bad", "@type": {"x": 1}}]})
    stats = remote.load_records([*fixture_records(), bad])
    assert [iri for iri, _ in stats.skipped] == ["https://libris.kb.se/bad"]
    assert remote.graphs() == {BIB, HOLD}


def test_rdf_records_load_like_local(remote):
    turtle = (f"<{BIB}> <https://id.kb.se/vocab/mainEntity> <{BIB}#it> .\n"
              f"<{BIB}#it> <https://id.kb.se/vocab/hasTitle> [ <https://id.kb.se/vocab/mainTitle> \"Sjöröveri\"@sv ] .\n")
    record = Record(BIB, turtle.encode("utf-8"), media_type="text/turtle")
    local = open_store(None)
    local.load_records([record])
    remote.load_records([record])
    assert remote.canonical_nquads() == local.canonical_nquads()


@pytest.mark.parametrize("name", sorted(bundled_queries()))
def test_bundled_queries_answer_as_locally(name, server, local, corpus_records):
    store = server.store()
    if store.count_triples() != local.count_triples():
        store.update("DROP SILENT ALL")
        store.load_records(corpus_records)
    params = {"lat": 59.33, "long": 18.07, "km": 2000} if bundled_queries()[name].params.get("lat") else None
    for fmt in ("csv", "sparql-json"):
        here, there = format_results(local.query(name, params), fmt), format_results(store.query(name, params), fmt)
        if fmt == "csv":
            assert sorted(here.splitlines()) == sorted(there.splitlines())
        else:
            key = lambda b: json.dumps(b, sort_keys=True)  # noqa: E731
            assert sorted(map(key, json.loads(here)["results"]["bindings"])) == sorted(
                map(key, json.loads(there)["results"]["bindings"]))


def test_result_types_and_params(remote):
    remote.load_records(fixture_records())
    rows = remote.query("SELECT ?t WHERE { ?i kbv:hasTitle/kbv:mainTitle ?t }", {"i": f"{BIB}#it"})
    assert isinstance(rows, ox.QuerySolutions)
    assert [r["t"].value for r in rows] == ["Fyrväktarens dotter"]
    hostile = remote.query("SELECT ?t WHERE { ?i kbv:hasTitle/kbv:mainTitle ?t }", {"i": "} ; DROP ALL"})
    assert list(hostile) == []
    assert remote.graphs() == {BIB, HOLD}
    asked = remote.query("ASK { ?i a kbv:Print }")
    assert isinstance(asked, ox.QueryBoolean) and bool(asked)
    triples = remote.query("CONSTRUCT { ?i kbv:label ?t } WHERE { ?i kbv:hasTitle/kbv:mainTitle ?t }")
    assert isinstance(triples, ox.QueryTriples)
    assert [t.object.value for t in triples] == ["Fyrväktarens dotter"]
    assert "Fyrväktarens dotter" in format_results(remote.query("SELECT ?t WHERE { ?x kbv:mainTitle ?t }"), "table")


def test_union_default_graph_can_be_turned_off(remote):
    remote.load_records(fixture_records())
    assert bool(remote.query("ASK { ?s ?p ?o }"))
    assert not bool(remote.query("ASK { ?s ?p ?o }", union=False))


def test_query_errors_are_one_line(remote):
    with pytest.raises(QueryError, match="SPARQL query"):
        remote.query("SELECT ?s WHERE { ?s ?p ")


def test_unreachable_server_is_a_clear_error():
    from linkeddata.errors import ServiceUnavailableError
    from linkeddata.http import make_session
    from linkeddata.serve import free_port

    store = RemoteStore(f"http://127.0.0.1:{free_port()}",
                        session=make_session(cache=False, rate_limit=None, retries=0))
    with pytest.raises(ServiceUnavailableError, match="connection failed"):
        store.graphs()


def test_credentials_in_the_url_become_auth_and_never_show(monkeypatch):
    from linkeddata.errors import ServiceUnavailableError
    from linkeddata.http import make_session
    from linkeddata.serve import free_port

    monkeypatch.delenv("LINKEDDATA_STORE_USER", raising=False)
    port = free_port()
    store = RemoteStore(f"http://loader:s3cr%40t@127.0.0.1:{port}/",
                        session=make_session(cache=False, rate_limit=None, retries=0))
    assert store.auth == ("loader", "s3cr@t")
    assert store.url == f"http://127.0.0.1:{port}" and store.query_url == f"http://127.0.0.1:{port}/query"
    assert "s3cr" not in repr(store)
    with pytest.raises(ServiceUnavailableError) as info:
        store.graphs()
    assert "s3cr" not in str(info.value) and "loader" not in str(info.value)
    endpoint = RemoteStore("http://h:8890", query_endpoint="http://reader:pw@h:8890/sparql")
    assert endpoint.query_url == "http://h:8890/sparql" and endpoint.auth == ("reader", "pw")


def test_serve_a_store_built_locally(tmp_path, corpus_records):
    serve = _server_or_skip()
    path = tmp_path / "kg"
    store = open_store(path)
    store.load_records(corpus_records[:50])
    expected = store.canonical_nquads()
    store.close()
    del store
    gc.collect()
    with serve.running_server(path) as running:
        remote = running.store()
        assert remote.canonical_nquads() == expected
        remote.load_records([Record(corpus_records[0].iri, deleted=True)])
        assert corpus_records[0].iri not in remote.graphs()
    reopened = open_store(path)
    assert corpus_records[0].iri not in reopened.graphs()
    reopened.close()


# ---------------------------------------------------------------- optional: Virtuoso
VIRTUOSO_INI = "/etc/virtuoso-opensource-7/virtuoso.ini"


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    """A throw-away Virtuoso 7 on loopback (apt-get install virtuoso-opensource), only
    with LINKEDDATA_TEST_VIRTUOSO=1."""
    import os
    import re
    import shutil
    import subprocess
    import time
    from pathlib import Path

    from linkeddata.serve import free_port

    if os.environ.get("LINKEDDATA_TEST_VIRTUOSO") != "1":
        pytest.skip("set LINKEDDATA_TEST_VIRTUOSO=1 to test against Virtuoso")
    def installed() -> bool:
        return bool(shutil.which("virtuoso-t") and shutil.which("isql-vt") and Path(VIRTUOSO_INI).is_file())

    if not installed() and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "virtuoso-opensource"], env=env, capture_output=True,
                       timeout=900)
    if not installed():
        pytest.skip("virtuoso-opensource is not installed (apt-get install virtuoso-opensource)")
    workdir = tmp_path_factory.mktemp("virtuoso")
    sql_port, http_port = free_port(), free_port()
    ini = Path(VIRTUOSO_INI).read_text("utf-8")
    ini = re.sub(r"/var/lib/virtuoso-opensource-7/db/", f"{workdir}/", ini)
    ini = re.sub(r"(?m)^ServerPort\s*=\s*1111\s*$", f"ServerPort = 127.0.0.1:{sql_port}", ini)
    ini = re.sub(r"(?m)^ServerPort\s*=\s*8890\s*$", f"ServerPort = 127.0.0.1:{http_port}", ini)
    (workdir / "virtuoso.ini").write_text(ini, "utf-8")
    process = subprocess.Popen(["virtuoso-t", "-f", "-c", str(workdir / "virtuoso.ini")], cwd=workdir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from linkeddata.serve import _port_answers

        deadline = time.monotonic() + 60
        while not _port_answers("127.0.0.1", http_port):
            assert process.poll() is None and time.monotonic() < deadline, "Virtuoso did not start"
            time.sleep(0.2)
        subprocess.run(["isql-vt", f"127.0.0.1:{sql_port}", "dba", "dba", 'exec=GRANT SPARQL_UPDATE TO "SPARQL";'],
                       check=True, capture_output=True, timeout=60)
        yield RemoteStore(f"http://127.0.0.1:{http_port}", query_endpoint="/sparql", update_endpoint="/sparql",
                          store_endpoint="/sparql-graph-crud", union_param=None, insert_data=False,
                          form_queries=True)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_virtuoso_answers_as_locally(virtuoso, local, corpus_records):
    stats = virtuoso.load_records(corpus_records, batch_size=5)  # Virtuoso limits the size of one update
    assert stats.records == len(corpus_records)
    ours = {g for g in virtuoso.graphs() if g.startswith("https://libris.kb.se/")}
    assert ours == local.graphs()
    assert virtuoso.count_triples(BIB) == local.count_triples(BIB)
    for name, query in bundled_queries().items():
        params = {"lat": 59.33, "long": 18.07, "km": 2000} if query.params.get("lat") else None
        here, there = format_results(local.query(name, params), "csv"), format_results(virtuoso.query(name, params), "csv")
        assert sorted(here.splitlines()) == sorted(there.splitlines()), name
    virtuoso.load_records([Record(HOLD, deleted=True)])
    assert HOLD not in virtuoso.graphs()
    assert virtuoso.delete_record(BIB) is True and virtuoso.delete_record(BIB) is False


def test_load_files_into_a_server_as_locally(remote, tmp_path):
    """`linkeddata load FILE --store http://…`: JSON-LD records and N-Quads dumps, reloaded idempotently."""
    source = open_store(None)
    source.load_records(fixture_records())
    dump = tmp_path / "dump.nq"
    source.dump(dump)
    for _ in range(2):
        stats = remote.load_file(dump, batch_size=1)
        assert stats.records == len(source.graphs())
    assert remote.canonical_nquads() == source.canonical_nquads()
    record_file = tmp_path / "record.jsonld"
    record_file.write_text(json.dumps(fixture_records()[0].data), "utf-8")
    assert remote.load_file(record_file).records == 1
    assert remote.canonical_nquads() == source.canonical_nquads()
