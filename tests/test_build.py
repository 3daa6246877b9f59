"""The main job: config → records, holdings, organisations → one store; the join's counts."""

from __future__ import annotations

from collections import Counter

import pytest

from linkeddata.build import load_config, run_build
from linkeddata.errors import ConfigError
from linkeddata.store import open_store


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
