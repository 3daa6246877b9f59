"""MARC files, the MARC export API and the supplier acquisition routine."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymarc")

from linkeddata.auth import LibrisAuth
from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError, ParseError
from linkeddata.http import make_session
from linkeddata.libris import marc, write

BATCH = Path(__file__).parent / "data" / "supplier-batch.xml"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "libris" / "marcxml"


@pytest.fixture
def env():
    with Emulator(services=["libris", "login"]) as emu, emu.environment():
        yield emu, make_session(cache=False, rate_limit=None)


def test_isbn_forms():
    assert marc.normalize_isbn("978-91-27-11234-6 (inb.)") == "9789127112346"
    assert marc.isbn_variants("9789127112346") == ["9789127112346", "9127112349"]
    assert marc.isbn_variants("91-29-63418-0") == ["9129634180", "9789129634181"]
    assert marc.isbn_variants("no isbn") == []


def test_read_batch_and_pair_holdings():
    records = marc.read_marc(BATCH)
    assert len(records) == 8
    entries = marc.batch_entries(records)
    assert [len(h) for _, h in entries] == [1, 1, 1, 1]
    assert marc.record_isbns(entries[0][0])[:1] == ["9789127112346"]
    assert marc.record_isbns(entries[3][0])  # 020 $z is a candidate too
    with pytest.raises(ParseError):
        marc.read_marc(b"<collection><record>", format="marcxml")


def test_write_round_trip(tmp_path):
    records = marc.read_marc(BATCH)
    assert marc.write_marc(records, tmp_path / "b.mrc", format="iso2709") == 8
    again = marc.read_marc(tmp_path / "b.mrc")
    assert again[0]["245"]["a"] == records[0]["245"]["a"]
    marc.write_marc(again, tmp_path / "b.xml")
    assert marc.read_marc(tmp_path / "b.xml")[2]["020"]["a"] == "91-29-63418-0"
    with pytest.raises(InvalidInputError):
        marc.write_marc(records, tmp_path / "x", format="pica")


def test_marc_to_kbv_is_a_valid_new_record():
    bib = marc.read_marc(BATCH)[4]
    doc = marc.marc_to_kbv(bib)
    write.validate_document(doc)
    thing = doc["@graph"][1]
    assert thing["hasTitle"][0]["mainTitle"] == "Myrmarkernas år"
    assert thing["identifiedBy"][0]["value"] == "9789100187651"
    assert thing["instanceOf"]["contribution"][0]["agent"]["familyName"] == "Norrgård"


def test_acquisition_dry_run(env):
    emu, session = env
    report = marc.acquire(BATCH, "Umu", dry_run=True, session=session)
    assert (report.matched, report.new, report.skipped) == (2, 1, 1)
    assert (report.holdings_created, report.holdings_existing, report.errors) == (1, 1, [])
    by_title = {i.title: i for i in report.items}
    assert by_title["Fjällflora i förändring"].holding == "https://libris.kb.se/l7s4v1qjxp3qmfh"
    assert by_title["Barnens bok om bin"].record == "https://libris.kb.se/c8pz1vn3km6tf4h"  # via its ISBN-10
    assert by_title["Barnens bok om bin"].action == "would create"
    assert by_title["Myrmarkernas år"].status == "new"
    assert by_title["Kartor och makt"].status == "skipped"
    assert not [r for r in emu.requests_to("libris") if r.method != "GET"]
    assert "1 would create" in report.summary()
    assert marc.report_rows(report)[0]["status"] == "matched"


def test_acquisition_creates_holdings_and_new_records(env):
    emu, session = env
    auth = LibrisAuth("test-cataloguer", "cataloguer-secret", token_url=emu.url("login") + "/oauth/token",
                      session=session)
    report = marc.acquire(BATCH, "Umu", dry_run=False, create_new=True, auth=auth, session=session)
    assert report.errors == []
    assert (report.holdings_created, report.holdings_existing) == (2, 1)
    assert write.find_holdings("https://libris.kb.se/c8pz1vn3km6tf4h", "Umu", session=session)
    again = marc.acquire(BATCH, "Umu", dry_run=True, session=session)
    assert (again.matched, again.new, again.holdings_existing, again.holdings_created) == (3, 0, 3, 0)


def test_marc_export_to_file(env, tmp_path):
    emu, session = env
    result = marc.export_marc({"locations": "Umu", "format": "MARCXML"}, "2000-01-01T00:00:00Z",
                              "2030-01-01T00:00:00Z", tmp_path / "umu.xml", session=session)
    assert result.format == "marcxml" and result.bytes > 0
    records = marc.read_marc(result.path)
    assert records and all(r.get_fields("852") for r in records)
    logged = emu.requests_to("libris")[-1]
    assert logged.method == "POST" and logged.query["from"] == ["2000-01-01T00:00:00Z"]
    with pytest.raises(InvalidInputError):
        marc.export_marc({}, "yesterday", "2030-01-01T00:00:00Z", tmp_path / "x", session=session)


def test_compiled_marc_parses_with_pymarc(env):
    emu, session = env
    data = write.compile_marc("f5nc8rlm2x0vq7s", library="Umu", session=session)
    (record,) = marc.read_marc(data)
    assert record["245"]["a"] == "Fjällflora i förändring"
    assert record["852"]["b"] == "Umu"


def test_split_export():
    marc_part, pairs = marc.split_export(b"REC\x1d\x00" + (marc.DELETION_HEADER + "\n12345;Gallrad ur Libris.\n").encode())
    assert marc_part == b"REC\x1d" and pairs == [("12345", "Gallrad ur Libris.")]


@pytest.mark.realdata
def test_real_batches_parse_and_dry_run():
    if not REAL.is_dir():
        pytest.skip("../shared/data is not present")
    batches = sorted(REAL.glob("*.xml"))
    assert batches
    for path in batches:
        entries = marc.batch_entries(marc.read_marc(path))
        assert entries and all(holdings for _, holdings in entries), path.name
    with Emulator(services=["libris"]) as emu, emu.environment():
        session = make_session(cache=False, rate_limit=None)
        for path in batches:
            report = marc.acquire(path, "Sods", dry_run=True, session=session)
            assert report.errors == [], path.name
            assert report.matched + report.new + report.skipped == len(report.items)
