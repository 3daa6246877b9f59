"""``linkeddata sync``: first run from the dump, later runs from the change feed, OAI-PMH fallback."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError
from linkeddata.http import make_session
from linkeddata.libris.dumps import DumpClient
from linkeddata.query import results_to_records, run_query
from linkeddata.stores import open_store
from linkeddata.sync import selections_for, sync


@pytest.fixture()
def emu():
    with Emulator(size=40, emm_dump_page_size=10, emm_page_size=7) as emulator:
        yield emulator


#: A loopback port nothing listens on: a server without EMM (never a real host).
CLOSED = "http://127.0.0.1:9"


def _session():
    return make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01)


def _sync(emu, store, selections=("itemAndInstance:Umu",), **kw):
    with emu.environment():
        return sync(store, list(selections), session=_session(), poll_interval=0.01, max_wait=5, **kw)


def _held(store, sigel):
    rows = results_to_records(run_query(store, "holdings-by-library"))
    return {r["library"].rsplit("/", 1)[-1]: int(r["items"]) for r in rows}.get(sigel)


def _graphs(store):
    text = store.canonical_nquads()
    return text


def test_selections_are_checked_before_any_request():
    assert selections_for(["S"], ["Agent"], True) == ["itemAndInstance:S", "type:Agent", "all"]
    with pytest.raises(InvalidInputError, match="nothing to sync"):
        selections_for()
    with pytest.raises(InvalidInputError, match="selection"):
        selections_for(["a b"])


def test_cli_first_run_loads_the_dump_and_the_join_matches_the_emulator(emu, tmp_path):
    store = tmp_path / "kg"
    with emu.environment():
        result = CliRunner().invoke(cli, ["sync", "--library", "Umu", "--store", str(store), "--quiet"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Synced itemAndInstance:Umu by dump download: \d+ records loaded", result.output)
    requests_line = re.search(r"(\d+) requests \(.*emm (\d+).*\)", result.output)
    assert requests_line and int(requests_line.group(2)) <= 6, result.output
    with open_store(store) as st:
        assert _held(st, "Umu") == len(emu.corpus.held_by("Umu"))
        names = {r["library"].rsplit("/", 1)[-1]: r["name"] for r in results_to_records(run_query(st, "holdings-by-library"))}
        assert names["Umu"]  # the organisation was loaded in the same run


@pytest.mark.parametrize("how", [[], ["--pages"]])
def test_a_holding_moved_after_the_dump_was_listed_left_the_selection_once(emu, tmp_path, how):
    """The dump's data is read when a page is served (services doc §5.3): a holding of Umu that
    S holds by then has left the selection: not loaded, not skipped, counted once, exit 0; a
    bad item in the same dump is still skipped, named once, exit 2."""
    import copy
    import logging

    from linkeddata.config import LIBRARY_BASE

    with emu.environment():
        DumpClient("itemAndInstance:Umu", session=_session()).page(0)  # the id list is taken now
    moved, broken = emu.corpus.held_by("Umu")[:2]
    doc = copy.deepcopy(emu.corpus.records[moved])
    doc["@graph"][1]["heldBy"] = {"@id": LIBRARY_BASE + "S"}
    emu.corpus.replace(moved, doc)
    store = tmp_path / "kg"
    with emu.environment():
        result = CliRunner().invoke(cli, ["sync", "--library", "Umu", "--store", str(store), "--quiet", *how])
    assert result.exit_code == 0, result.output
    assert moved not in result.output and "0 skipped, 1 left the selection" in result.output
    with open_store(store) as st:
        assert moved not in st.graphs() and _held(st, "Umu") == len(emu.corpus.held_by("Umu"))
    emu.options["emm_dump_regenerate"] = True
    with emu.environment():
        DumpClient("itemAndInstance:Umu", session=_session()).page(0)
    doc = copy.deepcopy(emu.corpus.records[broken])
    del doc["@graph"][1]["heldBy"]  # listed, then served without a library: a bad item
    emu.corpus.replace(broken, doc)
    logging.getLogger("linkeddata").setLevel(logging.WARNING)
    with emu.environment():
        result = CliRunner().invoke(cli, ["sync", "--library", "Umu", "--store", str(tmp_path / "again"), *how])
    assert result.exit_code == 2 and result.output.count(broken) == 1, result.output
    assert "1 skipped" in result.output and "left the selection" not in result.output  # moved is not listed now


def test_second_run_applies_exactly_the_changes(emu, tmp_path):
    followed = open_store(tmp_path / "followed")
    first = _sync(emu, followed)
    assert first.records > 0 and first.modes == {"itemAndInstance:Umu": "dump download"}
    made = emu.corpus.churn(80, seed=1)
    assert made["delete"] and made["create"] and made["move"]
    second = _sync(emu, followed)
    assert second.modes == {"itemAndInstance:Umu": "change feed"} and "libris" in second.requests
    assert _held(followed, "Umu") == len(emu.corpus.held_by("Umu"))
    emu.options["emm_dump_regenerate"] = True  # a fresh dump taken after the changes
    fresh = open_store(tmp_path / "fresh")
    _sync(emu, fresh)
    assert _graphs(followed) == _graphs(fresh)
    third = _sync(emu, followed)  # nothing changed: nothing applied, two feed requests
    assert third.records == third.deleted == 0 and third.requests.get("emm", 0) <= 2


def test_pages_with_generating_regeneration_and_500_equal_the_download(emu, tmp_path):
    reference = open_store(tmp_path / "download")
    _sync(emu, reference)
    emu.options.update(emm_dump_generating=2, emm_dump_regenerate=True, emm_dump_regenerate_after=4)
    emu.faults.add("status", service="emm", path="offset=10", status=500, times=2)
    paged = open_store(tmp_path / "pages")
    summary = _sync(emu, paged, download=False)
    assert summary.restarts == 1 and any("regenerated" in w for w in summary.warnings)
    assert _graphs(paged) == _graphs(reference)


def test_a_truncated_download_is_fetched_again(emu, tmp_path):
    reference = open_store(tmp_path / "reference")
    _sync(emu, reference)
    emu.faults.add("truncate", service="emm", path="download", times=1)
    again = open_store(tmp_path / "again")
    _sync(emu, again)
    assert _graphs(again) == _graphs(reference)


def test_a_change_page_that_repeats_itself_is_stepped_past(emu, tmp_path):
    store = open_store(tmp_path / "kg")
    _sync(emu, store, ["all"], organisations=False)
    emu.options["emm_page_size"] = 2
    emu.corpus.churn(40, seed=2)  # 40 changes in about 80 ms: several share one millisecond
    summary = _sync(emu, store, ["all"], organisations=False)
    assert summary.records + summary.deleted > 0
    emu.options["emm_dump_regenerate"] = True
    fresh = open_store(tmp_path / "fresh")
    _sync(emu, fresh, ["all"], organisations=False)
    assert _graphs(store) == _graphs(fresh)


def test_all_without_emm_falls_back_to_oai_pmh(tmp_path):
    with Emulator(services=["libris", "oaipmh"], size=10) as emu:
        store = open_store(tmp_path / "kg")
        summary = _sync(emu, store, ["all"], organisations=False, emm_url=CLOSED)
        assert summary.modes == {"all": "OAI-PMH"} and any("no dump of all" in w for w in summary.warnings)
        assert store.graphs() == set(emu.corpus.iter_records())


def test_without_emm_it_falls_back_to_oai_pmh_then_increments(tmp_path):
    with Emulator(services=["libris", "oaipmh", "bibdb", "isil", "id"], size=40) as emu:
        store = open_store(tmp_path / "kg")
        start = len(emu.request_log)
        first = _sync(emu, store, emm_url=CLOSED, organisations=False)
        assert first.modes == {"itemAndInstance:Umu": "OAI-PMH"} and any("OAI-PMH" in w for w in first.warnings)
        assert _held(store, "Umu") == len(emu.corpus.held_by("Umu"))
        # one harvest, bib:Umu with _includehold: the holdings come attached, no record is fetched
        asked = [e.query for e in emu.request_log[start:] if e.service == "oaipmh"]
        assert (asked[0]["set"], asked[0]["metadataPrefix"]) == (["bib:Umu"], ["jsonld_includehold"])
        assert all(set(q) == {"verb", "resumptionToken"} for q in asked[1:])
        assert set(first.requests) == {"oaipmh"}
    with Emulator(size=40) as emu:  # the same corpus through the dump: the same graphs, holding bodies and all
        dumped = open_store(tmp_path / "dumped")
        _sync(emu, dumped, organisations=False)
        assert _graphs(dumped) == _graphs(store)
    with Emulator(services=["libris", "oaipmh", "bibdb", "isil", "id"], size=40) as emu:
        emu.corpus.churn(30, seed=3)
        second = _sync(emu, store, emm_url=CLOSED)
        assert second.modes == {"itemAndInstance:Umu": "OAI-PMH increment"}
        assert _held(store, "Umu") == len(emu.corpus.held_by("Umu"))


def test_type_fallback_keeps_the_subclasses_the_vocabulary_names(tmp_path, monkeypatch):
    """type:Agent without EMM: OAI-PMH bib+auth, kept are Agent and its subclasses from id.kb.se /vocab/
    (Person, Organization, …), as the dump's type: selection does."""
    with Emulator(services=["libris", "oaipmh", "id"], size=5) as emu:
        store = open_store(tmp_path / "kg")
        summary = _sync(emu, store, ["type:Agent"], organisations=False, emm_url=CLOSED)
        assert summary.modes == {"type:Agent": "OAI-PMH"}
        agents = {i for i in emu.corpus.iter_records(kind="auth")
                  if emu.corpus.get(i)["@graph"][1]["@type"] in ("Person", "Organization")}
        assert agents and store.graphs() == agents
    monkeypatch.setenv("LINKEDDATA_ID_URL", CLOSED)
    with Emulator(services=["libris", "oaipmh"], size=5) as emu:  # no vocabulary: the class itself, and a warning
        store = open_store(tmp_path / "exact")
        summary = _sync(emu, store, ["type:Agent"], organisations=False, emm_url=CLOSED)
        assert any("keeps Agent records only" in w for w in summary.warnings) and store.graphs() == set()


# ---------------------------------------------------------------- misspelt classes


@pytest.mark.parametrize("name", ["print", "kbv:Print", "Print-1", "Prïnt"])
def test_a_type_that_cannot_be_a_kbv_class_fails_before_any_request(emu, tmp_path, name):
    start = len(emu.request_log)
    with emu.environment():
        result = CliRunner().invoke(cli, ["sync", "--type", name, "--store", str(tmp_path / "kg"), "-q"])
    assert result.exit_code == 1 and len(emu.request_log) == start
    assert result.output.count("\n") == 1 and f"{name!r} is not a KBV class name (expected a capitalised" in result.output
    cfg = tmp_path / "job.toml"
    cfg.write_text(f'[[sync]]\ntype = ["{name}"]\n', "utf-8")
    from linkeddata.build import load_config
    from linkeddata.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[\[sync\]\] 1: .*not a KBV class name"):
        load_config(cfg)


def test_an_unknown_class_warns_when_nothing_is_found_and_fails_when_the_vocabulary_lacks_it(emu, tmp_path):
    with emu.environment():
        result = CliRunner().invoke(cli, ["sync", "--type", "Bogus", "--store", str(tmp_path / "kg"), "-q"])
    assert result.exit_code == 0 and "0 records loaded" in result.output
    assert result.output.count("no records of class Bogus were found") == 1 and "check the class name" in result.output
    again = _sync(emu, tmp_path / "kg", ["type:Bogus"])  # a later run follows the feed: no new warning
    assert again.modes == {"type:Bogus": "change feed"} and not again.warnings
    found = _sync(emu, tmp_path / "agents", ["type:Agent"])
    assert found.records > 0 and not found.warnings
    with Emulator(services=["libris", "oaipmh", "id"], size=5) as oai:  # the vocabulary decides
        start = len(oai.request_log)
        with pytest.raises(InvalidInputError, match=r"^type:Bogus: Bogus is not a class of the KBV vocabulary .*"
                                                    r"check the class name$"):
            _sync(oai, tmp_path / "oai", ["type:Bogus"], emm_url=CLOSED)
        assert not [e for e in oai.request_log[start:] if e.service == "oaipmh"]


# ---------------------------------------------------------------- misspelt sigels


@pytest.mark.parametrize("sigel, hint", [("SE-Umu", True), ("umu", False), ("Xyz", False)])
def test_a_sigel_with_no_dump_no_holdings_and_no_library_is_an_error(emu, tmp_path, sigel, hint):
    store = tmp_path / "kg"
    with emu.environment():
        result = CliRunner().invoke(cli, ["sync", "--library", sigel, "--store", str(store), "-q"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"Error: library {sigel!r} does not exist: no dump is listed")
    assert ("--library takes a sigel, not an ISIL: Umu for SE-Umu" in result.output) == hint
    # without the organisation lookup: a warning, exit 0; the dropped checkpoint made this a first run again
    summary = _sync(emu, store, [f"itemAndInstance:{sigel}"], organisations=False)
    assert summary.modes == {f"itemAndInstance:{sigel}": "OAI-PMH"} and summary.records == 0
    assert [w for w in summary.warnings if sigel in w and "check the sigel" in w]
    assert ("not an ISIL" in " ".join(summary.warnings)) == hint


def test_a_listed_library_or_one_with_holdings_gets_no_sigel_warning(emu, tmp_path):
    summary = _sync(emu, tmp_path / "kg", ["itemAndInstance:Umu"])
    assert summary.records and not summary.warnings
    summary = _sync(emu, tmp_path / "oai", ["itemAndInstance:Umu"], emm_url=CLOSED)
    assert summary.records and not [w for w in summary.warnings if "sigel" in w]


@pytest.mark.parametrize("status", [404, 405])
def test_when_neither_emm_nor_oai_pmh_answers_the_error_names_both(status, tmp_path):
    with Emulator(services=["libris", "emm", "oaipmh"], size=5) as emu:
        emu.faults.add("status", service="emm", status=status, times=None)
        emu.faults.add("status", service="oaipmh", status=status, times=None)
        with emu.environment():
            result = CliRunner().invoke(cli, ["sync", "--library", "S", "--store", str(tmp_path / "kg"), "-q"])
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert f"OAI-PMH ListRecords at {emu.url('oaipmh').rstrip('/')}" in result.output
        assert f"OAI-PMH was the fall-back: no EMM dumps at {emu.url('emm').rstrip('/')}" in result.output


def test_a_build_sync_entry_of_an_unknown_class_warns(emu, tmp_path, caplog):
    from linkeddata.build import load_config, run_build

    cfg = tmp_path / "job.toml"
    cfg.write_text('[libris]\nfind = []\nholdings = false\n[organisations]\nisil_queries = []\n'
                   '[[sync]]\ntype = ["Bogus"]\n', "utf-8")
    with emu.environment(), caplog.at_level("WARNING", logger="linkeddata.build"):
        run_build(load_config(cfg), tmp_path / "kg", session=_session())
    assert [r for r in caplog.records if "no records of class Bogus were found" in r.getMessage()]
