"""OAI-PMH to files (MARCXML, MARC21, Dublin Core tables) and the ``linkeddata oai`` verbs."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError
from linkeddata.http import make_session
from linkeddata.libris.marc import is_holdings, read_marc
from linkeddata.harvest_files import harvest_oai_files


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["oaipmh"], size=10, oai_page_size=15) as emulator:
        yield emulator


def session():
    return make_session(cache=False, rate_limit=None, retries=0)


def bibs(corpus):
    return set(corpus.iter_records("bib"))


def test_marcxml_includehold_one_file_per_run_with_holdings(emu, tmp_path):
    summary = harvest_oai_files(tmp_path / "out", metadata_prefix="marcxml_includehold", set="bib",
                                batch_size=7, base_url=emu.url("oaipmh"), session=session())
    assert summary.completed and not summary.skipped and summary.batches >= 2
    [path] = summary.files
    records = read_marc(path)
    bib_ids = [r["001"].data for r in records if not is_holdings(r)]
    expected = {emu.corpus.records[b]["@graph"][0]["controlNumber"] for b in bibs(emu.corpus)}
    assert set(bib_ids) == expected and len(bib_ids) == summary.records
    holdings = [r for r in records if is_holdings(r)]
    assert len(holdings) == summary.holdings == sum(len(emu.corpus.holdings_of(b)) for b in bibs(emu.corpus))
    sigels = {h["852"]["b"] for h in holdings}
    assert sigels <= emu.corpus.sigels()
    assert not list((tmp_path / "out").glob("*.part*"))


def test_marc21_one_file_per_batch_and_resume(emu, tmp_path):
    out = tmp_path / "out"
    emu.faults.clear()
    # the third page fails: the batches before it are on disk and the checkpoint points after them
    emu.faults.add("status", service="oaipmh", status=503, times=None, after=2)
    with pytest.raises(Exception):
        harvest_oai_files(out, metadata_prefix="marcxml", format="marc21", split="batch", batch_size=1,
                          base_url=emu.url("oaipmh"), session=session())
    emu.faults.clear()
    first = sorted(out.glob("*.mrc"))
    assert first
    summary = harvest_oai_files(out, metadata_prefix="marcxml", format="marc21", split="batch", batch_size=1,
                                base_url=emu.url("oaipmh"), session=session())
    assert summary.resumed and summary.completed
    files = sorted(out.glob("*.mrc"))
    assert [str(f) for f in files] == sorted(summary.files) and len(files) > len(first)
    ids = [r["001"].data for f in files for r in read_marc(f, "iso2709")]
    live = {emu.corpus.records[i]["@graph"][0].get("controlNumber") for i in emu.corpus.iter_records()}
    assert len(ids) == len(set(ids)) and set(ids) == live  # nothing twice, nothing lost
    deleted = (out / "oai-marcxml.deleted.txt").read_text().split()
    assert set(deleted) == set(emu.corpus.deleted)


def test_oai_dc_as_a_table(emu, tmp_path):
    summary = harvest_oai_files(tmp_path / "dc", metadata_prefix="oai_dc", set="bib", base_url=emu.url("oaipmh"),
                                session=session())
    with open(summary.files[0], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["identifier"] for r in rows} == bibs(emu.corpus)
    assert all(r["element"] == "identifier" and r["value"] == r["identifier"] for r in rows)


def test_file_harvest_refuses_store_prefixes_and_bad_input(emu, tmp_path):
    with pytest.raises(InvalidInputError, match="not written to files|not one of"):
        harvest_oai_files(tmp_path, metadata_prefix="jsonld", base_url=emu.url("oaipmh"))
    with pytest.raises(InvalidInputError, match="marc21"):
        harvest_oai_files(tmp_path, metadata_prefix="marcxml", format="csv", base_url=emu.url("oaipmh"))
    with pytest.raises(InvalidInputError, match="expected YYYY-MM-DD"):
        harvest_oai_files(tmp_path, from_="2026-13-45", base_url=emu.url("oaipmh"))


def run(emu, *args):
    return CliRunner().invoke(cli, ["--no-cache", *args], env={"LINKEDDATA_OAIPMH_URL": emu.url("oaipmh")})


def test_cli_verbs(emu):
    res = run(emu, "oai", "identify")
    assert res.exit_code == 0 and "repository: Libris XL" in res.output and "deleted records: persistent" in res.output
    res = run(emu, "oai", "sets")
    assert res.exit_code == 0 and "hold:" in res.output and "sao" in res.output
    res = run(emu, "oai", "formats")
    assert res.exit_code == 0
    assert "marcxml_includehold" in res.output and "files" in res.output and "store" in res.output
    res = run(emu, "oai", "identifiers", "--set", "bib", "--max", "3")
    assert res.exit_code == 0 and res.output.count("https://libris.kb.se/") == 3
    bib = sorted(b for b in bibs(emu.corpus) if emu.corpus.holdings_of(b))[0]
    res = run(emu, "oai", "get", bib.rsplit("/", 1)[1], "--prefix", "marcxml_includehold")
    assert res.exit_code == 0 and "<marc:record" in res.output and "# holding" in res.output
    res = run(emu, "oai", "identifiers", "--from", "2026-13-45")
    assert res.exit_code == 1 and "expected YYYY-MM-DD" in res.output and "Traceback" not in res.output
    res = run(emu, "oai", "get", "https://libris.kb.se/nosuchrecord00")
    assert res.exit_code == 1 and "no record" in res.output


def test_cli_harvest_to_files_and_help(emu, tmp_path):
    res = run(emu, "harvest", "oai", "--help")
    assert res.exit_code == 0 and "marcxml" in res.output and "--out" in res.output
    res = run(emu, "harvest", "oai", "--prefix", "marcxml", "--store", str(tmp_path / "kg"))
    assert res.exit_code == 1 and "--out" in res.output
    res = run(emu, "harvest", "oai", "--prefix", "marcxml_includehold", "--set", "bib", "--out", str(tmp_path / "m"),
              "-q")
    assert res.exit_code == 0, res.output
    assert "written to 1 file" in res.output and list((tmp_path / "m").glob("*.xml"))
