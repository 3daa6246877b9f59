"""Record history: /_changesets and ?version= (services doc 2.8), API and CLI, against the emulator."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError, NotFoundError
from linkeddata.http import make_session
from linkeddata.libris.history import get_changesets, get_version, load_version, version_iri
from linkeddata.stores import open_store

BIB = "f5nc8rlm2x0vq7s"


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris"]) as emulator:
        iri = emulator.corpus.resolve(BIB)
        doc = copy.deepcopy(emulator.corpus.records[iri])
        doc["@graph"][1]["hasTitle"][0]["mainTitle"] = "Ändrad titel"
        emulator.corpus.replace(iri, doc)  # one more version
        yield emulator


@pytest.fixture
def http():
    s = make_session(cache=False, rate_limit=None, retries=0)
    yield s
    s.close()


def test_changesets_list_every_version(emu, http):
    sets = get_changesets(BIB, session=http, base_url=emu.url("libris"))
    assert [c.number for c in sets] == list(range(len(sets))) and len(sets) >= 2
    last = sets[-1]
    assert last.version == f"https://libris.kb.se/{BIB}/data?version={len(sets) - 1}"
    assert ["@graph", 1, "hasTitle", 0, "mainTitle"] in last.added_paths
    assert ["@graph", 1, "hasTitle", 0, "mainTitle"] in last.removed_paths
    assert last.date == emu.corpus.records[emu.corpus.resolve(BIB)]["@graph"][0]["modified"]
    assert last.agent and last.tool


def test_past_version_loads_under_its_own_graph(emu, http, tmp_path):
    sets = get_changesets(BIB, session=http, base_url=emu.url("libris"))
    before = sets[-2].number
    old = get_version(BIB, before, session=http, base_url=emu.url("libris"))
    assert old.iri == version_iri(BIB, before)
    assert old.data["@graph"][1]["hasTitle"][0]["mainTitle"] != "Ändrad titel"
    with open_store(tmp_path / "kg") as store:
        load_version(store, BIB, before, session=http, base_url=emu.url("libris"))
        assert store.graphs() == {old.iri}
        title = store.query(f"SELECT ?t WHERE {{ GRAPH <{old.iri}> {{ ?x <https://id.kb.se/vocab/mainTitle> ?t }} }}")
        assert [str(r["t"].value) for r in title] == [old.data["@graph"][1]["hasTitle"][0]["mainTitle"]]
    with pytest.raises(NotFoundError):
        get_version(BIB, 99, session=http, base_url=emu.url("libris"))
    with pytest.raises(InvalidInputError):
        version_iri(BIB, -1)
    with pytest.raises(NotFoundError):
        get_changesets("nosuchrecord000", session=http, base_url=emu.url("libris"))


def test_history_cli(emu, tmp_path):
    env = {"LINKEDDATA_LIBRIS_URL": emu.url("libris")}
    runner = CliRunner()
    res = runner.invoke(cli, ["--no-cache", "history", BIB], env=env)
    assert res.exit_code == 0 and "version" in res.output and "generator/crud" in res.output
    res = runner.invoke(cli, ["--no-cache", "history", BIB, "--version", "0"], env=env)
    assert res.exit_code == 0 and json.loads(res.output)["@graph"][0]["@id"].endswith(BIB)
    res = runner.invoke(cli, ["--no-cache", "history", BIB, "--version", "0", "--store", str(tmp_path / "kg")], env=env)
    assert res.exit_code == 0 and f"{BIB}/data?version=0" in res.output
    res = runner.invoke(cli, ["--no-cache", "history", BIB, "--version", "77"], env=env)
    assert res.exit_code == 1 and "Error:" in res.output and "Traceback" not in res.output
