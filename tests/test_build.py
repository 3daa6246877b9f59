"""The main job: config → records, holdings, organisations → one store; the join's counts."""

from __future__ import annotations

from collections import Counter

import pytest

from linkeddata.build import load_config, run_build
from linkeddata.errors import ConfigError
from linkeddata.stores import open_store


def expected_holdings(corpus) -> Counter:
    """Holdings per library computed straight from the emulator's fixtures."""
    live_things = {corpus.get(i)["@graph"][1]["@id"] for i in corpus.iter_records(kind="bib")}
    counts: Counter = Counter()
    for iri in corpus.iter_records(kind="hold"):
        item = corpus.get(iri)["@graph"][1]
        if item["itemOf"]["@id"] in live_things:
            counts[item["heldBy"]["@id"]] += 1
    return counts


def test_build_join_matches_fixture_counts(emu_env, session, tmp_path):
    result = run_build(None, tmp_path / "kg", session=session)
    expected = expected_holdings(emu_env.corpus)
    got = {row["library"]: int(row["items"]) for row in result.table}
    assert got == dict(expected)
    assert result.holdings == sum(expected.values())
    assert "https://libris.kb.se/library/Zz" in got  # a holding library without organisation is kept
    assert result.missing_organisations == ["Zz"]
    names = {row["library"]: row["name"] for row in result.table}
    assert names["https://libris.kb.se/library/S"] == "Kungliga biblioteket"


def test_build_is_idempotent(emu_env, session, tmp_path):
    first = run_build(None, tmp_path / "kg", session=session)
    store = open_store(tmp_path / "kg")
    snapshot = store.canonical_nquads()
    second = run_build(None, store, session=session)
    assert store.canonical_nquads() == snapshot
    assert (first.records, first.holdings, first.organisations, first.triples) == \
        (second.records, second.holdings, second.organisations, second.triples)


def test_build_config_from_file(emu_env, session, tmp_path):
    cfg = tmp_path / "job.toml"
    cfg.write_text('[libris]\nfind = []\nids = ["https://libris.kb.se/k9dt4hbw6p1ncz8"]\n'
                   '[organisations]\nisil_queries = []\nisils = ["DE-M491"]\n', "utf-8")
    result = run_build(load_config(cfg), None, session=session)
    assert result.records == 1 and result.holdings >= 1
    assert result.organisations >= 2  # the holding libraries plus the German ISIL


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[libris]\nfnd = []\n", "utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(cfg)
    cfg.write_text("[libris\n", "utf-8")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(cfg)


def test_build_config_can_name_harvests(emu_env, session, tmp_path):
    cfg = tmp_path / "harvests.toml"
    cfg.write_text('[libris]\nfind = []\n[organisations]\nisil_queries = []\n'
                   '[[harvest]]\nkind = "oai"\nset = "hold:Umu"\n'
                   '[[harvest]]\nkind = "find"\nfilters = { "@type" = "Instance" }\nmax = 3\nfull = true\n', "utf-8")
    result = run_build(load_config(cfg), tmp_path / "kg", session=session)
    umu_holdings = sum(1 for iri in emu_env.corpus.iter_records(kind="hold")
                       if emu_env.corpus.get(iri)["@graph"][1]["heldBy"]["@id"].endswith("/Umu"))
    assert result.harvested == umu_holdings + 3
    rows = {row["library"]: int(row["items"]) for row in result.table}
    assert rows["https://libris.kb.se/library/Umu"] == umu_holdings
    assert "harvested records" in result.report()
    again = run_build(load_config(cfg), tmp_path / "kg", session=session)  # resumable: the OAI harvest is done
    assert again.triples == result.triples


def test_bad_harvest_entries_are_clear_errors(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[harvest]]\nkind = "ftp"\n', "utf-8")
    with pytest.raises(ConfigError, match="kind must be one of oai, find, changes"):
        load_config(cfg)
    cfg.write_text('[[harvest]]\nkind = "oai"\nsets = "bib"\n', "utf-8")
    with pytest.raises(ConfigError, match="unknown key.*sets"):
        load_config(cfg)


# ------------------------------------------------------------------ the typed config (issue 14)


@pytest.mark.parametrize("text, message", [
    ('[libris]\nfind = [{ q = "*", max = "five" }]\n', r"\[libris\] find\[0\]\.max: expected an integer, got 'five'"),
    ('[libris]\nids = "k9dt4hbw6p1ncz8"\n', r"\[libris\] ids: expected a list of strings, got 'k9dt4hbw6p1ncz8'"),
    ('[libris]\nholdings = "no"\n', r"\[libris\] holdings: expected true or false, got 'no'"),
    ('[libris]\nfind = [{ q = "*", filtrs = { "@type" = "Instance" } }]\n',
     r"\[libris\] find\[0\]: unknown key 'filtrs' \(known: filters, max, q\)"),
    ('[libris]\nconcurrency = 0\n', r"\[libris\] concurrency: expected an integer of at least 1, got 0"),
    ('[organisations]\nisils = [1]\n', r"\[organisations\] isils: expected a list of strings"),
    ('[[sync]]\nlibrary = "a b"\n', r"\[\[sync\]\] 1: dump selection"),
    ('[[sync]]\nlibary = "S"\n', r"\[\[sync\]\] 1: unknown key 'libary'"),
    ('[misc]\n', r"top level: unknown key 'misc' \(known: harvest, libris, organisations, sync\)"),
])
def test_every_config_key_and_type_is_checked(tmp_path, text, message):
    cfg = tmp_path / "job.toml"
    cfg.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=r"job\.toml: " + message):
        load_config(cfg)


def test_the_bundled_config_is_valid_and_typed():
    cfg = load_config()
    assert cfg.libris.find[0].max == 500 and cfg.libris.holdings is True and cfg.sync == []


# ------------------------------------------------------------------ bulk paths, requests, resume


def test_build_uses_bulk_paths_and_prints_request_counts(emu_env, session, tmp_path):
    before = len(emu_env.requests_to("libris"))
    result = run_build(None, tmp_path / "kg", session=session)
    made = len(emu_env.requests_to("libris")) - before
    assert made == result.requests["libris"] <= 3  # one /find page of hits, one /find of their holdings
    assert f"{result.total_requests} requests (" in result.report()


def test_holdings_from_a_library_dump_and_a_sync_entry(emu_env, session, tmp_path):
    cfg = tmp_path / "job.toml"
    cfg.write_text('[libris]\nfind = [{ q = "*", filters = { "@type" = "Instance" } }]\nholdings_libraries = ["Umu"]\n[organisations]\nisil_queries = []\n'
                   '[[sync]]\nlibrary = "Uu"\n', "utf-8")
    result = run_build(load_config(cfg), tmp_path / "kg", session=session)
    expected = expected_holdings(emu_env.corpus)
    got = {row["library"]: int(row["items"]) for row in result.table}
    assert got["https://libris.kb.se/library/Umu"] == expected["https://libris.kb.se/library/Umu"]
    assert got["https://libris.kb.se/library/Uu"] == len(emu_env.corpus.held_by("Uu")) and result.synced > 0
    assert result.requests["emm"] >= 2


def test_an_interrupted_build_is_marked_resumes_and_query_warns(emu_env, session, tmp_path):
    from click.testing import CliRunner

    from linkeddata import checkpoints
    from linkeddata.build import unfinished_build
    from linkeddata.cli import cli

    reference = run_build(None, tmp_path / "reference", session=session)
    store = tmp_path / "kg"
    checkpoints._interrupt.set()  # Ctrl-C: honoured after the first committed batch
    with pytest.raises(checkpoints.Interrupted, match="records saved; run the same command to resume"):
        run_build(None, store, session=session)
    assert unfinished_build(store)
    warned = CliRunner().invoke(cli, ["query", "holdings-by-library", "--store", str(store)])
    assert "has not finished; results are partial" in warned.output
    again = run_build(None, store, session=session)
    assert again.resumed and unfinished_build(store) is None
    assert open_store(store).canonical_nquads() == open_store(tmp_path / "reference").canonical_nquads()
    assert again.table == reference.table


def test_emulator_find_indexes_answer_as_the_full_scan():
    """/find looks the build's filters up by value (time independent of corpus size); the hits,
    in order, are the ones a scan of every record finds, also after changes."""
    from linkeddata.emulator import Emulator
    from linkeddata.emulator.libris_find import _Finder

    emu = Emulator(size=150)
    indexed, scan = _Finder(emu), _Finder(emu)
    scan.candidates = lambda filters: (None, False)  # type: ignore[method-assign]
    things = [emu.corpus.get(i)["@graph"][1]["@id"] for i in list(emu.corpus.iter_records(kind="bib"))[:40]]
    library = "https://libris.kb.se/library/"
    cases = [
        [("q", "*"), ("@type", "Item")] + [("itemOf.@id", t) for t in things] + [("not-heldBy.@id", library + "S")],
        [("q", "*"), ("@type", "Instance")],
        [("q", "*"), ("@type", "Instance"), ("min-publication.year", "1980"), ("maxEx-publication.year", "1995")],
        [("min-publication.year", "1960,2000"), ("max-publication.year", "1970,2003")],
        [("q", "minnen"), ("@type", "Print"), ("minEx-meta.modified", "2022")],
        [("heldBy.@id", f"{library}Uu,{library}L")],
    ]
    for round_ in range(2):
        for filters in cases:
            got = indexed.search(filters)
            assert got == scan.search(filters), filters
            assert got or filters[0][0] == "q", filters  # the cases do find something
        emu.corpus.churn(60, seed=round_)


def test_request_counts_with_the_http_cache_are_the_requests_made(emu_env, tmp_path):
    from linkeddata.http import make_session

    cached = make_session(cache=tmp_path / "http-cache", rate_limit=None)
    for attempt in range(2):  # the second build revalidates what the first one cached
        before = len(emu_env.request_log)
        result = run_build(None, tmp_path / f"kg{attempt}", session=cached)
        made = len(emu_env.request_log) - before
        assert result.total_requests == made > 0, (attempt, result.requests)
