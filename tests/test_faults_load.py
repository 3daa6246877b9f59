"""Harvests and builds under faults end with exactly the fault-free store, or fail clearly and resume.

Each scenario builds a reference store without faults, then repeats the job with
faults injected in the emulator (random 429/503/resets with a seed, a malformed
record, a service that goes away mid-harvest) and compares canonical N-Quads.
"""

from __future__ import annotations

import pytest

from linkeddata.emulator import Emulator
from linkeddata.emulator.server import http_date
from linkeddata.errors import LinkedDataError, ServiceUnavailableError
from linkeddata.harvest import harvest_find, harvest_oai
from linkeddata.http import make_session
from linkeddata.stores import open_store

FIND = {"q": "*"}


@pytest.fixture(scope="module")
def emu():
    with Emulator(size=15, seed=7) as emulator:
        yield emulator


@pytest.fixture
def faults(emu):
    emu.faults.clear()
    emu.request_log.clear()
    yield emu.faults
    emu.faults.clear()


def _session(retries: int = 3):
    return make_session(cache=False, rate_limit=None, retries=retries, backoff_factor=0.01)


def _find(emu, store, **kw):
    return harvest_find(store, FIND, full=True, page_size=15, batch_size=8, concurrency=3, session=kw.pop(
        "session", None) or _session(), base_url=emu.url("libris"), **kw)


def _oai(emu, store, **kw):
    return harvest_oai(store, session=kw.pop("session", None) or _session(), base_url=emu.url("oaipmh"),
                       batch_size=5, **kw)


@pytest.fixture(scope="module")
def find_reference(emu, tmp_path_factory):
    emu.faults.clear()
    store = open_store(tmp_path_factory.mktemp("ref") / "find")
    summary = _find(emu, store)
    assert summary.completed and summary.records > 20 and not summary.skipped
    text = store.canonical_nquads()
    graphs = store.graphs()
    store.close()
    return text, graphs


@pytest.fixture(scope="module")
def oai_reference(emu, tmp_path_factory):
    emu.faults.clear()
    store = open_store(tmp_path_factory.mktemp("ref") / "oai")
    summary = _oai(emu, store)
    assert summary.completed and summary.records > 10
    text = store.canonical_nquads()
    store.close()
    return text


def _mixed_faults(faults, service: str, probability: float = 0.25) -> None:
    faults.add("status", service=service, status=503, probability=probability, times=None)
    faults.add("status", service=service, status=429, retry_after="0", probability=probability / 2, times=None)
    faults.add("status", service=service, status=429, retry_after=http_date(0), probability=probability / 4,
               times=None)
    faults.add("reset", service=service, probability=probability / 2, times=None)


def test_find_harvest_under_random_transient_faults_equals_the_fault_free_store(emu, faults, tmp_path,
                                                                                  find_reference):
    _mixed_faults(faults, "libris", 0.1)
    store = open_store(tmp_path / "kg")
    summary = _find(emu, store, session=_session(retries=8))
    assert summary.completed and not summary.skipped
    assert sum(rule.fired for rule in faults.rules) > 5  # the faults really happened
    assert store.canonical_nquads() == find_reference[0]
    store.close()


def test_oai_harvest_under_random_transient_faults_equals_the_fault_free_store(emu, faults, tmp_path,
                                                                                 oai_reference):
    # deterministic: four different faults in a row (rules fire in order), then the real answer
    rules = [faults.add("status", service="oaipmh", status=503, times=1),
             faults.add("status", service="oaipmh", status=429, retry_after="0", times=1),
             faults.add("reset", service="oaipmh", times=1),
             faults.add("status", service="oaipmh", status=429, retry_after=http_date(0), times=1)]
    store = open_store(tmp_path / "kg")
    summary = _oai(emu, store, session=_session(retries=4))
    assert summary.completed
    assert all(rule.fired == 1 for rule in rules)
    assert store.canonical_nquads() == oai_reference
    store.close()


def test_service_gone_mid_harvest_fails_in_one_line_then_resumes_to_the_same_store(emu, faults, tmp_path,
                                                                                     find_reference):
    # let the first requests through, then the service is down for good
    faults.add("status", service="libris", status=503, after=12, times=None)
    store = open_store(tmp_path / "kg")
    with pytest.raises(ServiceUnavailableError) as info:
        _find(emu, store)
    message = str(info.value)
    assert "\n" not in message and emu.url("libris") in message
    partial = store.graphs()
    assert partial < find_reference[1]  # only whole records, fewer of them
    faults.clear()
    summary = _find(emu, store)
    assert summary.completed and summary.resumed == bool(partial)
    assert store.canonical_nquads() == find_reference[0]
    store.close()


def test_malformed_record_is_skipped_by_id_and_the_rest_is_whole(emu, faults, tmp_path, find_reference):
    bad = sorted(g for g in find_reference[1] if emu.corpus.kind(g) == "bib")[0]
    bad_id = bad.rsplit("/", 1)[-1]
    faults.add("body", service="libris", path=f"^/{bad_id}(\\?|$)", body='{"@graph": [{"@id": ', times=None,
               content_type="application/ld+json")
    store = open_store(tmp_path / "kg")
    summary = _find(emu, store)
    assert summary.completed
    assert [ident for ident, _ in summary.skipped] and all(bad_id in ident or bad_id in reason
                                                            for ident, reason in summary.skipped)
    assert store.graphs() == find_reference[1] - {bad}
    store.close()


def test_truncated_pages_and_records_never_half_load(emu, faults, tmp_path, find_reference):
    faults.add("truncate", service="libris", probability=0.1, times=None)
    store = open_store(tmp_path / "kg")
    try:
        _find(emu, store)
    except LinkedDataError as exc:
        assert "\n" not in str(exc)
    # whatever was loaded is whole: every graph equals its reference graph
    reference = open_store(None)
    reference.inner.load(find_reference[0].encode(), format=__import__("pyoxigraph").RdfFormat.N_QUADS)
    for graph in store.graphs():
        assert store.count_triples(graph) == reference.count_triples(graph), graph
    faults.clear()
    _find(emu, store)
    assert store.canonical_nquads() == find_reference[0]
    store.close()


def test_html_instead_of_a_record_is_reported_not_loaded(emu, faults, tmp_path, find_reference):
    victim = sorted(find_reference[1])[3]
    faults.add("html", service="libris", path=f"^/{victim.rsplit('/', 1)[-1]}(\\?|$)", times=None)
    store = open_store(tmp_path / "kg")
    try:
        summary = _find(emu, store)
    except LinkedDataError as exc:  # failing the whole harvest clearly is also acceptable
        assert "\n" not in str(exc) and victim.rsplit("/", 1)[-1] in str(exc)
        assert victim not in store.graphs()
        store.close()
        return
    assert victim not in store.graphs()
    assert any(victim.rsplit("/", 1)[-1] in ident + reason for ident, reason in summary.skipped)
    store.close()


def test_a_harvest_under_redirect_faults_stores_the_view_it_asked_for(emu, faults, tmp_path, find_reference):
    """A proxy that drops the query (``embellished=false``) lands on the embellished view: the
    client sees it and asks again; a record that never comes back as asked is skipped, named."""
    bibs = sorted(g for g in find_reference[1] if emu.corpus.kind(g) == "bib")
    once, always = bibs[:5], bibs[5]
    for iri in once:  # the first answer for each of these records is the embellished view
        faults.add("redirect", service="libris", path=f"^/{iri.rsplit('/', 1)[-1]}\\?.*embellished=false", times=1)
    faults.add("redirect", service="libris", path=f"^/{always.rsplit('/', 1)[-1]}\\?.*embellished=false",
               times=None)
    store = open_store(tmp_path / "kg")
    summary = _find(emu, store)
    assert all(rule.fired >= 1 for rule in faults.rules)
    assert [ident for ident, _ in summary.skipped] == [always] or [
        ident for ident, _ in summary.skipped] == [always.rsplit("/", 1)[-1]], summary.skipped
    assert "embellished=false" in summary.skipped[0][1] and "\n" not in summary.skipped[0][1]
    assert store.graphs() == find_reference[1] - {always}
    reference = open_store(None)
    reference.inner.load(find_reference[0].encode(), format=__import__("pyoxigraph").RdfFormat.N_QUADS)
    for graph in store.graphs():  # the stored views equal the fault-free ones, graph for graph
        assert store.count_triples(graph) == reference.count_triples(graph), graph
    store.close()


def test_cli_harvest_names_a_bad_record_moves_past_it_and_retry_skipped_loads_it(tmp_path, monkeypatch):
    """One OAI deletion with an invalid IRI and one record that does not convert: the harvest
    completes (exit 2, each named on one line, the page's other records loaded); the skip list
    keeps the record, and ``--retry-skipped`` fetches it from the record API."""
    from click.testing import CliRunner

    from linkeddata.cli import cli
    import requests

    failing = "f5nc8rlm2x0vq7s"
    with Emulator(services=["oaipmh", "libris"], size=20, oai_conversion_failures=[failing]) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        store = str(tmp_path / "kg")
        real = requests.get(emulator.url("oaipmh"), params={"verb": "ListRecords", "metadataPrefix": "jsonld",
                                                           "set": "bib"}, timeout=30).text
        deleted = ('<record><header status="deleted"><identifier>https://libris.kb.se/bad id</identifier>'
                   "<datestamp>2026-07-01T10:00:00Z</datestamp></header></record>")
        assert "<ListRecords>" in real
        emulator.faults.add("body", service="oaipmh", path="verb=ListRecords", times=1, content_type="text/xml",
                            body=real.replace("<ListRecords>", "<ListRecords>" + deleted, 1))
        first = CliRunner().invoke(cli, ["--no-cache", "harvest", "oai", "--set", "bib", "--store", store, "-q"])
        assert first.exit_code == 2, first.output
        named = [line for line in first.output.splitlines() if "skipped" in line and "https://" in line]
        assert len(named) == 2, first.output
        assert any("bad id" in line for line in named) and any(failing in line for line in named)
        assert "Traceback" not in first.output
        loaded = open_store(store, read_only=True).graphs()
        assert f"https://libris.kb.se/{failing}" not in loaded and len(loaded) >= 10
        again = CliRunner().invoke(cli, ["--no-cache", "harvest", "oai", "--set", "bib", "--retry-skipped",
                                         "--store", store, "-q"])
        assert again.exit_code == 2, again.output  # the invalid IRI stays in the skip list, named
        assert "bad id: not a valid record IRI" in again.output
        assert f"https://libris.kb.se/{failing}" in open_store(store, read_only=True).graphs()
        assert not [r for r in emulator.request_log if "bad" in r.path]  # an invalid IRI is never requested


def _oai_item(iri: str, metadata: str) -> str:
    return (f"<record><header><identifier>{iri}</identifier><datestamp>2026-07-01T10:00:00Z</datestamp></header>"
            f"<metadata><![CDATA[{metadata}]]></metadata></record>")


def _oai_doc(iri: str, note: object = None) -> str:
    import json

    thing = {"@id": iri + "#it", "@type": "Instance", **({"note": note} if note is not None else {})}
    return json.dumps({"@graph": [{"@id": iri, "@type": "Record", "mainEntity": {"@id": iri + "#it"}}, thing]})


def test_every_malformed_record_in_an_oai_page_is_named_and_the_rest_of_the_page_loads(emu, faults, tmp_path):
    import requests

    base = "https://libris.kb.se/"
    deep: dict = {}
    cur = deep
    for _ in range(900):
        cur["n"] = {}
        cur = cur["n"]
    bad = {base + "deep1": _oai_doc(base + "deep1", deep), base + "big1": _oai_doc(base + "big1", "x" * (17 << 20)),
           base + "sp ace": _oai_doc(base + "sp ace"), base + 'quo"te': _oai_doc(base + 'quo"te'),
           "relative2": _oai_doc("relative2"), base + "trunc1": _oai_doc(base + "trunc1")[:40],
           base + "array1": "[1, 2]", base + "mism1": _oai_doc(base + "other1")}
    page = requests.get(emu.url("oaipmh"), params={"verb": "ListRecords", "metadataPrefix": "jsonld"}, timeout=30).text
    faults.add("body", service="oaipmh", path="verb=ListRecords", times=1, content_type="text/xml",
               body=page.replace("<ListRecords>", "<ListRecords>" + "".join(_oai_item(i, m) for i, m in bad.items()), 1))
    store = open_store(tmp_path / "kg")
    summary = _oai(emu, store)
    assert summary.completed
    big = {base + "big1"} & store.graphs()  # a 17 MB string: skipped, or loaded whole where the parser takes it
    assert big == set() or store.count_triples(base + "big1") == 4
    assert sorted(ident for ident, _ in summary.skipped) == sorted(set(bad) - big), summary.skipped
    assert all(reason and "\n" not in reason for _, reason in summary.skipped)
    assert "describes another record (https://libris.kb.se/other1)" in dict(summary.skipped)[base + "mism1"]
    clean = open_store(None)
    _oai(emu, clean)  # the same page without the bad records
    for iri in big:
        store.delete_record(iri)
    assert store.graphs() == clean.graphs() and store.canonical_nquads() == clean.canonical_nquads()
    store.close()
