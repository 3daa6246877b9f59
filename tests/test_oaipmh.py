"""OAI-PMH: client, emulated provider and harvest."""

from __future__ import annotations

import copy

import pytest
import requests

from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError, OAIError, ParseError, ServiceUnavailableError
from linkeddata.harvest import harvest_oai
from linkeddata.http import make_session
from linkeddata.libris.oaipmh import (BadArgument, BadResumptionToken, CannotDisseminateFormat, IdDoesNotExist,
                                      OAIClient, decode_token)
from linkeddata.stores import open_store


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["oaipmh"], size=200, oai_page_size=40,
                  oai_conversion_failures=["f5nc8rlm2x0vq7s"]) as emulator:
        yield emulator


@pytest.fixture
def client(emu):
    return OAIClient(emu.url("oaipmh"), make_session(cache=False, rate_limit=None))


def all_iris(corpus):
    return set(corpus.records) | set(corpus.deleted)


def test_identify_sets_formats(client, emu):
    info = client.identify()
    assert info.repository_name == "Libris XL" and info.deleted_record == "persistent"
    assert info.earliest_datestamp.endswith("Z")
    specs = [s.spec for s in client.list_sets()]
    assert specs[:5] == ["auth", "bib", "hold", "nb", "sao"]
    assert {f"hold:{s}" for s in emu.corpus.sigels()} <= set(specs)
    assert "jsonld" in [f.prefix for f in client.list_metadata_formats()]
    with pytest.raises(IdDoesNotExist):
        client.list_metadata_formats(identifier="https://libris.kb.se/nosuchrecord00")


def test_list_records_pages_with_tokens(client, emu):
    items = client.list_records()
    records = list(items)
    assert {r.header.identifier for r in records} == all_iris(emu.corpus)
    pages = [r for r in emu.requests_to("oaipmh") if "resumptionToken" in r.query]
    assert len(pages) >= len(records) // 40 - 1
    token = decode_token(pages[0].query["resumptionToken"][0])
    assert token["p"] == "jsonld" and token["u"] and token["am"] and token["ai"]
    assert items.next_token is None
    deleted = [r for r in records if r.header.deleted]
    assert {r.header.identifier for r in deleted} == set(emu.corpus.deleted)
    assert all(r.metadata is None for r in deleted)
    tombstone = deleted[0].to_record()
    assert tombstone.deleted and tombstone.iri == deleted[0].header.identifier
    live = next(r for r in records if not r.header.deleted and not r.conversion_failed)
    record = live.to_record()
    assert "@context" not in record.data and record.data["@graph"][0]["@id"] == record.iri
    assert record.media_type == "application/ld+json" and "+" in record.last_modified


def test_sets_and_headers(client, emu):
    holds = list(client.list_identifiers(set="hold:S"))
    assert {h.header.identifier for h in holds} == set(emu.corpus.held_by("S"))
    assert all(h.header.setspecs == ["hold", "hold:S"] for h in holds)
    assert all(h.about.get("itemOf", "").endswith("#it") for h in holds)
    bibs = {r.header.identifier for r in client.list_identifiers(set="bib:Lkp") if not r.header.deleted}
    want = {i for i in emu.corpus.iter_records(kind="bib")
            if any(h in emu.corpus.held_by("Lkp") for h in emu.corpus.holdings_of(i))}
    assert bibs == want and bibs


def test_from_until_inclusive(client, emu):
    iri = "https://libris.kb.se/f5nc8rlm2x0vq7s"
    stamp = emu.corpus.modified(iri)  # 2020-08-24T11:56:03.142+02:00
    got = [r.header.identifier for r in client.list_identifiers(from_=stamp, until=stamp)]
    assert got == [iri]
    assert list(client.list_identifiers(from_="2099-01-01")) == []  # noRecordsMatch → empty


def test_errors(client, emu):
    with pytest.raises(BadArgument, match="Not a supported set spec"):
        list(client.list_records(set="auth:X"))
    for bad in ("last tuesday", "2026-13-45", "2026-02-30T10:00Z"):
        with pytest.raises(InvalidInputError, match="expected YYYY-MM-DD"):
            list(client.list_records(from_=bad))  # checked before any request
        raw = requests.get(emu.url("oaipmh") + "/", params={"verb": "ListRecords", "metadataPrefix": "jsonld",
                                                            "from": bad}, timeout=10)
        assert raw.status_code == 200 and 'code="badArgument"' in raw.text and "Allowed time formats" in raw.text
    with pytest.raises(BadResumptionToken):
        list(client.list_records(resumption_token="not-a-token"))
    with pytest.raises(CannotDisseminateFormat):
        list(client.list_records(metadata_prefix="mods"))
    with pytest.raises(OAIError) as info:
        client.request("Frobnicate")
    assert info.value.code == "badVerb"
    raw = requests.get(emu.url("oaipmh") + "/", params={"verb": "ListSets", "bogus": "1"}, timeout=10)
    assert raw.status_code == 200 and raw.headers["Content-Type"].startswith("text/xml")
    assert 'code="badArgument"' in raw.text and "\n" not in raw.text
    assert client.get_record("https://libris.kb.se/nosuchrecord00") is None
    sameas = client.get_record("http://libris.kb.se/bib/10564432")
    assert sameas.header.identifier == "https://libris.kb.se/f5nc8rlm2x0vq7s"


def test_conversion_failure_reported_and_skipped(client, tmp_path, emu):
    record = client.get_record("f5nc8rlm2x0vq7s")
    assert record.conversion_failed
    with pytest.raises(ParseError, match="conversion failed"):
        record.to_record()
    session = make_session(cache=False, rate_limit=None)
    with open_store(tmp_path / "kg") as store:
        summary = harvest_oai(store, session=session, base_url=emu.url("oaipmh"), set="bib")
        assert [i for i, _ in summary.skipped] == ["https://libris.kb.se/f5nc8rlm2x0vq7s"]
        live_bibs = set(emu.corpus.iter_records(kind="bib")) - {"https://libris.kb.se/f5nc8rlm2x0vq7s"}
        assert store.graphs() == live_bibs
    with open_store(tmp_path / "strict") as store, pytest.raises(ParseError):
        harvest_oai(store, session=session, base_url=emu.url("oaipmh"), set="bib", strict=True)


def test_xml_entities_not_resolved(emu, client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-01-01T00:00Z</responseDate>'
            '<GetRecord><record><header><identifier>&x;</identifier><datestamp>2020-01-01</datestamp></header>'
            '</record></GetRecord></OAI-PMH>')
    emu.faults.add("body", service="oaipmh", body=body, content_type="text/xml", times=1)
    record = client.get_record("f5nc8rlm2x0vq7s")
    assert record is None or "TOPSECRET" not in record.header.identifier


def test_429_with_retry_after_is_retried(emu):
    session = make_session(cache=False, rate_limit=None, backoff_factor=0)
    client = OAIClient(emu.url("oaipmh"), session)
    emu.faults.add("status", service="oaipmh", status=429, retry_after="1", times=2)
    start = len(emu.requests_to("oaipmh"))
    assert client.identify().repository_name == "Libris XL"
    assert [r.status for r in emu.requests_to("oaipmh")[start:]] == [429, 429, 200]
    emu.faults.add("status", service="oaipmh", status=503, times=None)
    try:
        with pytest.raises(ServiceUnavailableError):
            OAIClient(emu.url("oaipmh"), make_session(cache=False, rate_limit=None, retries=1,
                                                      backoff_factor=0)).identify()
    finally:
        emu.faults.clear()


def test_rate_limit_honoured(emu):
    client = OAIClient(emu.url("oaipmh"), make_session(cache=False, rate_limit=5))
    start = len(emu.request_log)
    for _ in range(11):
        client.identify()
    times = [r.time for r in emu.request_log[start:]]
    assert len(times) == 11
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate <= 6.0


def test_harvest_matches_corpus_then_incremental(tmp_path):
    session = make_session(cache=False, rate_limit=None)
    with Emulator(services=["oaipmh"], size=1000, oai_page_size=250) as emu, open_store(tmp_path / "kg") as store:
        summary = harvest_oai(store, session=session, base_url=emu.url("oaipmh"), batch_size=600)
        corpus = emu.corpus
        assert store.graphs() == set(corpus.records) and len(corpus.records) > 2500
        assert summary.completed and summary.records == len(corpus.records)
        triples = store.count_triples()
        gone, changed = sorted(corpus.held_by("S"))[:2]
        corpus.delete(gone)
        doc = copy.deepcopy(corpus.records[changed])
        doc["@graph"][1]["shelfMark"] = {"@type": "ShelfMark", "label": ["NEW"]}
        corpus.replace(changed, doc)
        start = len(emu.request_log)
        again = harvest_oai(store, session=session, base_url=emu.url("oaipmh"))
        assert len(emu.request_log) - start == 1  # incremental: from the previous until
        assert emu.request_log[start].query.get("from")
        assert again.records == 1 and again.deleted == 1
        assert store.graphs() == set(corpus.records)
        labels = {str(row[0].value) for row in store.query(
            f"SELECT ?l WHERE {{ GRAPH <{changed}> {{ ?s <https://id.kb.se/vocab/label> ?l }} }}")}
        assert "NEW" in labels
        assert store.count_triples() < triples


def test_identify_without_identify_element_is_an_http_error():
    from linkeddata.emulator.server import Faults, Response, Route, Service, ServiceServer, start_server
    from linkeddata.errors import HTTPError

    body = f'<OAI-PMH xmlns="{"http://www.openarchives.org/OAI/2.0/"}"><responseDate>2026-07-02T08:15:30Z</responseDate></OAI-PMH>'
    srv = ServiceServer(Service("oai", [Route("GET", r"/", lambda req: Response.text(body, content_type="text/xml"))]),
                        Faults(), [])
    start_server(srv)
    try:
        with pytest.raises(HTTPError, match="no <Identify> element"):
            OAIClient(srv.base_url, make_session(cache=False, rate_limit=None)).identify()
    finally:
        srv.shutdown()
        srv.server_close()


def test_expanded_pulls_in_the_records_that_depend_on_a_changed_authority():
    """_expanded (and marcxml): a bib record is listed again when an authority it links to changed in
    the window (its card, not only its record), with its own datestamp outside the window (§4.5)."""
    from linkeddata.emulator.corpus import now_iso

    with Emulator(services=["oaipmh"]) as emu:
        corpus = emu.corpus
        person = next(i for i in corpus.iter_records(kind="auth") if corpus.get(i)["@graph"][1]["@type"] == "Person")
        dependents = [i for i in corpus.iter_records(kind="bib") if person + "#it" in str(corpus.get(i))]
        assert dependents
        client = OAIClient(emu.url("oaipmh"), make_session(cache=False, rate_limit=None))

        def listed(prefix: str, since: str) -> list[str]:
            return [r.header.identifier for p in client.iter_pages("ListRecords", prefix, "bib", since) for r in p.items]

        record_only = copy.deepcopy(corpus.get(person))
        record_only["@graph"][0]["descriptionLastModifier"] = {"@id": "https://libris.kb.se/library/S"}
        since = now_iso()
        corpus.replace(person, record_only)  # the card is the same: nothing pulled in
        assert listed("jsonld_expanded", since) == []
        changed = copy.deepcopy(corpus.get(person))
        changed["@graph"][1]["familyName"] = "Ändrad"
        since = now_iso()
        corpus.replace(person, changed)
        for prefix in ("jsonld_expanded", "marcxml"):
            assert sorted(listed(prefix, since)) == sorted(dependents), prefix
        assert listed("jsonld", since) == []  # plain jsonld: no expansion


@pytest.mark.parametrize("status, words", [(404, "not found: OAI-PMH Identify at "), (405, "HTTP 405")])
def test_an_http_error_names_the_provider_url(emu, status, words):
    from click.testing import CliRunner

    from linkeddata.cli import cli

    emu.faults.add("status", service="oaipmh", status=status, times=1)
    with emu.environment():
        result = CliRunner().invoke(cli, ["oai", "identify"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert words in result.output and f"OAI-PMH Identify at {emu.url('oaipmh').rstrip('/')}" in result.output
