"""OAI-PMH beyond JSON-LD: every metadataPrefix, holdings under ``_includehold``, broken pages, dates."""

from __future__ import annotations

import json

import pytest

from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError
from linkeddata.harvest import harvest_oai
from linkeddata.http import make_session
from linkeddata.libris.oaipmh import FILE_PREFIXES, PREFIXES, STORE_PREFIXES, OAIClient
from linkeddata.stores import open_store

OAI = "http://www.openarchives.org/OAI/2.0/"


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["oaipmh"], size=12, oai_page_size=25) as emulator:
        yield emulator


@pytest.fixture
def client(emu):
    emu.faults.clear()
    yield OAIClient(emu.url("oaipmh"), make_session(cache=False, rate_limit=None, retries=0))
    emu.faults.clear()


def live(corpus, kind):
    return {iri for iri in corpus.iter_records(kind)}


def test_seventeen_prefixes_listed_and_accepted(client):
    listed = [f.prefix for f in client.list_metadata_formats()]
    assert sorted(listed) == sorted(PREFIXES) and len(PREFIXES) == 17
    assert set(STORE_PREFIXES) | set(FILE_PREFIXES) == set(PREFIXES)
    marc = {f.prefix: f for f in client.list_metadata_formats()}["marcxml"]
    assert marc.namespace == "http://www.loc.gov/MARC21/slim"


@pytest.mark.parametrize("prefix", ["jsonld_includehold", "rdfxml_includehold_expanded", "ttl", "rdfxml",
                                    "jsonld_expanded", "oai_dc"])
def test_store_prefixes_load_bib_and_every_holding(prefix, emu, tmp_path):
    with open_store(tmp_path / "kg") as store:
        summary = harvest_oai(store, set="bib", metadata_prefix=prefix, base_url=emu.url("oaipmh"),
                              session=make_session(cache=False, rate_limit=None))
        graphs = store.graphs()
        bibs = live(emu.corpus, "bib")
        assert not summary.skipped and bibs <= graphs
        holdings = {h for b in bibs for h in emu.corpus.holdings_of(b)}
        assert holdings
        if "_includehold" in prefix:
            assert holdings <= graphs  # each holding in its own record graph
            some = sorted(holdings)[0]
            item_of = emu.corpus.records[some]["@graph"][1]["itemOf"]["@id"]
            ask = f"ASK {{ GRAPH <{some}> {{ ?h <https://id.kb.se/vocab/itemOf> <{item_of}> }} }}"
            assert store.query(ask)
        else:
            assert not holdings & graphs
        one = sorted(bibs)[0]
        if prefix == "oai_dc":
            ask = f'ASK {{ GRAPH <{one}> {{ <{one}> <http://purl.org/dc/elements/1.1/identifier> "{one}" }} }}'
        else:
            ask = f"ASK {{ GRAPH <{one}> {{ <{one}> <https://id.kb.se/vocab/mainEntity> ?thing }} }}"
        assert store.query(ask)


def test_includehold_keeps_every_holding_body(client, emu):
    bib = next(b for b in live(emu.corpus, "bib") if len(emu.corpus.holdings_of(b)) > 1)
    record = client.get_record(bib, "jsonld_includehold")
    assert {h.iri for h in record.holdings} == set(emu.corpus.holdings_of(bib))
    for holding in record.holdings:
        doc = json.loads(holding.metadata)
        assert doc["@graph"][0]["@id"] == holding.iri
        assert doc["@graph"][1]["heldBy"]["@id"].endswith("/" + holding.sigel)
    assert [r.iri for r in record.to_records("jsonld_includehold")][1:] == [a.iri for a in record.attached]


def test_marcxml_round_trips_through_pymarc(client, emu):
    from linkeddata.libris.marc import read_marc

    bib = next(b for b in live(emu.corpus, "bib") if emu.corpus.holdings_of(b)
               and emu.corpus.records[b]["@graph"][1].get("identifiedBy"))
    record = client.get_record(bib, "marcxml_includehold")
    [marc] = read_marc(record.metadata.encode("utf-8"), "marcxml")
    thing = emu.corpus.records[bib]["@graph"][1]
    assert marc["001"].data == emu.corpus.records[bib]["@graph"][0]["controlNumber"]
    assert marc.leader[6:8] == "am" and len(marc["008"].data) == 40
    assert marc["245"]["a"] == thing["hasTitle"][0]["mainTitle"]
    assert marc["020"]["a"] == thing["identifiedBy"][0]["value"]
    assert marc["264"]["c"] == thing["publication"][0]["year"]
    for holding in record.holdings:
        [hmarc] = read_marc(holding.metadata.encode("utf-8"), "marcxml")
        assert hmarc.leader[6] == "x" and hmarc["852"]["b"] == holding.sigel


def test_marc_prefixes_are_refused_for_the_store(emu, tmp_path):
    with pytest.raises(InvalidInputError, match="metadataPrefix 'marcxml'"):
        harvest_oai(tmp_path / "kg", metadata_prefix="marcxml", base_url=emu.url("oaipmh"))


def test_bad_dates_fail_before_any_request(emu, tmp_path):
    before = len(emu.requests_to("oaipmh"))
    for value in ("2026-13-45", "yesterday", "2026-07-01T25:00Z"):
        with pytest.raises(InvalidInputError, match="expected YYYY-MM-DD"):
            harvest_oai(tmp_path / "kg", from_=value, base_url=emu.url("oaipmh"))
    with pytest.raises(InvalidInputError, match="--until"):
        harvest_oai(tmp_path / "kg", until="2026-02-30", base_url=emu.url("oaipmh"))
    assert len(emu.requests_to("oaipmh")) == before
    for good in ("2026-07-01", "2026-07-01T12:15Z", "2026-07-01T12:15:30.123456+02:00"):
        assert harvest_oai(tmp_path / "kg2", from_=good, base_url=emu.url("oaipmh"), resume=False).completed


# ------------------------------------------------------------------ one bad record never costs its page


def _page(*records: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}"><responseDate>2026-07-02T08:15Z'
            '</responseDate><request verb="ListRecords">https://libris.kb.se/api/oaipmh/</request><ListRecords>'
            + "".join(records) + "</ListRecords></OAI-PMH>")


def _good(short: str) -> str:
    iri = f"https://libris.kb.se/{short}"
    doc = {"@graph": [{"@id": iri, "@type": "Record", "mainEntity": {"@id": iri + "#it"}},
                      {"@id": iri + "#it", "@type": "Instance"}]}
    return (f"<record><header><identifier>{iri}</identifier><datestamp>2026-07-01T10:00:00+02:00</datestamp>"
            f"</header><metadata><![CDATA[{json.dumps(doc)}]]></metadata><about><agent name=\"unknown\"/></about>"
            "</record>")


def _deleted(iri: str) -> str:
    return (f'<record><header status="deleted"><identifier>{iri}</identifier><datestamp>2026-07-01T10:00:00Z'
            "</datestamp></header></record>")


@pytest.mark.parametrize("bad, name", [
    (_deleted("https://libris.kb.se/bad id"), "https://libris.kb.se/bad id"),
    ("<record><header><identifier>https://libris.kb.se/broken1</identifier></header>"
     "<metadata><marc:record>&nope;</marc:record></metadata></record>", "https://libris.kb.se/broken1"),
    ("<record><metadata>no header</metadata></record>", "(no identifier)"),
])
def test_one_bad_record_is_skipped_named_and_the_page_loads(bad, name, emu, tmp_path):
    emu.faults.clear()
    emu.faults.add("body", service="oaipmh", body=_page(_good("good1"), bad, _good("good2")),
                   content_type="text/xml; charset=utf-8", times=None)
    try:
        session = make_session(cache=False, rate_limit=None, retries=0)
        with open_store(tmp_path / "kg") as store:
            summary = harvest_oai(store, base_url=emu.url("oaipmh"), session=session)
            assert {"https://libris.kb.se/good1", "https://libris.kb.se/good2"} <= store.graphs()
        assert summary.completed and [ident for ident, _ in summary.skipped] == [name]
        assert summary.records == 2
    finally:
        emu.faults.clear()


def test_record_over_libxml2_text_limit_loads_and_over_our_limit_is_skipped(emu, client, tmp_path):
    huge = _good("huge1").replace('"Instance"', '"Instance", "x": "' + "a" * 11_000_000 + '"')
    emu.faults.add("body", service="oaipmh", body=_page(_good("good1"), huge, _good("good2")),
                   content_type="text/xml; charset=utf-8", times=None)
    items = client.list_records()
    records = list(items)
    assert len(records) == 3 and not items.skipped and len(records[1].metadata) > 11_000_000
    client.max_record_bytes = 1_000_000
    items = client.list_records()
    assert [r.header.identifier for r in items] == ["https://libris.kb.se/good1", "https://libris.kb.se/good2"]
    assert [i for i, _ in items.skipped] == ["https://libris.kb.se/huge1"] and "over the limit" in items.skipped[0][1]
