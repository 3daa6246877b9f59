"""Commands for the remaining Libris endpoints: find (a listing), convert, remote-search, marc-export."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.emulator import Emulator
from linkeddata.libris.marc import read_marc

BIB = "f5nc8rlm2x0vq7s"


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris", "login"]) as emulator:
        yield emulator


def run(emu, *args, login=False):
    env = dict(emu.env())
    env.pop("LINKEDDATA_CLIENT_ID", None)
    if login:
        env.update({"LINKEDDATA_CLIENT_ID": "test-holdings", "LINKEDDATA_CLIENT_SECRET": "holdings-secret",
                    "LINKEDDATA_CREDENTIALS": "/nonexistent/credentials.json"})
    return CliRunner().invoke(cli, ["--no-cache", *args], env=env)


def test_find_lists_hits(emu):
    res = run(emu, "find", "*", "--filter", "@type=Instance", "--max", "3")
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("https://libris.kb.se/")]
    assert len(lines) == 3 and "hits." in res.output
    res = run(emu, "find", "*", "--filter", "@type=Instance", "--max", "2", "--format", "ids")
    assert res.exit_code == 0 and len(res.output.split()) == 2
    res = run(emu, "find", "*", "--max", "1", "--format", "jsonl")
    assert res.exit_code == 0 and isinstance(json.loads(res.output.splitlines()[0]), dict)
    res = run(emu, "find", "*", "--filter", "nonsense")
    assert res.exit_code != 0 and "Traceback" not in res.output


def test_convert_to_marc_json(emu, tmp_path):
    path = tmp_path / "record.jsonld"
    path.write_text(json.dumps(emu.corpus.get(BIB)), encoding="utf-8")
    res = run(emu, "convert", str(path))
    assert res.exit_code == 0, res.output
    marc = json.loads(res.output)
    assert "leader" in marc and marc["fields"]
    (tmp_path / "bad.jsonld").write_text("{nope", encoding="utf-8")
    res = run(emu, "convert", str(tmp_path / "bad.jsonld"))
    assert res.exit_code == 1 and "not a readable JSON-LD file" in res.output


def test_remote_search_and_database_list(emu):
    res = run(emu, "remote-search", "--list", login=True)
    assert res.exit_code == 0, res.output
    assert "LC" in res.output and "BIBSYS" in res.output
    res = run(emu, "remote-search", "nordlys", "--databases", "BIBSYS,LC", login=True)
    assert res.exit_code == 0, res.output
    assert "BIBSYS" in res.output
    res = run(emu, "remote-search", "--list")
    assert res.exit_code == 1 and "Error:" in res.output  # a login is needed


def test_marc_export_command(emu, tmp_path):
    profile = tmp_path / "export.properties"
    profile.write_text("locations=Umu\nformat=MARCXML\n", encoding="utf-8")
    out = tmp_path / "umu.xml"
    res = run(emu, "marc-export", str(profile), "--from", "2000-01-01T00:00:00Z", "--until", "2030-01-01T00:00:00Z",
              "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "marcxml" in res.output and read_marc(out)
    res = run(emu, "marc-export", str(profile), "--from", "yesterday", "--until", "2030-01-01T00:00:00Z",
              "-o", str(out))
    assert res.exit_code == 1 and "ISO time" in res.output
