"""The cataloguing and services CLI commands against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.emulator import Emulator

BATCH = Path(__file__).parent / "data" / "supplier-batch.xml"


@pytest.fixture
def env(monkeypatch):
    with Emulator(services=["libris", "login", "xsearch"]) as emu, emu.environment():
        monkeypatch.setenv("LINKEDDATA_CLIENT_ID", "test-holdings")
        monkeypatch.setenv("LINKEDDATA_CLIENT_SECRET", "holdings-secret")
        monkeypatch.setenv("LINKEDDATA_SIGEL", "Umu")
        monkeypatch.setenv("LINKEDDATA_NO_CACHE", "1")
        yield emu


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--no-cache", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_login_never_prints_the_token(env):
    code, out = run("catalogue", "login")
    assert code == 0 and "token valid until" in out
    assert "holdings-secret" not in out
    from linkeddata.emulator.login import registry

    assert not any(token in out for token in registry(env).tokens)


def test_holdings_create_and_dependencies(env, tmp_path):
    code, out = run("catalogue", "holdings", "c8pz1vn3km6tf4h", "--library", "Umu", "--create", "--shelf-mark", "Ueb")
    assert code == 0 and "created https://libris.kb.se/" in out
    code, out = run("catalogue", "holdings", "c8pz1vn3km6tf4h", "--library", "Umu")
    assert out.startswith("https://libris.kb.se/")
    code, out = run("catalogue", "dependencies", "f5nc8rlm2x0vq7s", "--reverse", "--relation", "itemOf")
    assert "https://libris.kb.se/l7s4v1qjxp3qmfh" in out
    code, out = run("catalogue", "marc", "f5nc8rlm2x0vq7s", "--library", "Umu", "--format", "marcxml", "-o", str(tmp_path / "r.xml"))
    assert code == 0 and b"852" in (tmp_path / "r.xml").read_bytes()


def test_create_update_delete(env, tmp_path):
    doc = {"@graph": [
        {"@id": "https://id.kb.se/TEMPID", "@type": "Record", "mainEntity": {"@id": "https://id.kb.se/TEMPID#it"}},
        {"@id": "https://id.kb.se/TEMPID#it", "@type": "Item", "heldBy": {"@id": "https://libris.kb.se/library/Umu"},
         "itemOf": {"@id": "https://libris.kb.se/k9dt4hbw6p1ncz8#it"}}]}
    path = tmp_path / "hold.jsonld"
    path.write_text(json.dumps(doc))
    code, out = run("catalogue", "create", str(path))
    assert code == 0 and out.startswith(f"creating a record from {path} on Libris at {env.url('libris')}\n")
    iri = out.splitlines()[-1]
    stored = env.corpus.get(iri)
    stored["@graph"][1]["physicalLocation"] = ["Hylla 2"]
    path.write_text(json.dumps(stored))
    code, out = run("catalogue", "update", iri.rsplit("/", 1)[1], str(path))
    assert code == 0 and out.splitlines()[-1].startswith("updated") and out.startswith("updating ")
    code, out = run("catalogue", "delete", iri.rsplit("/", 1)[1], "--yes")
    assert code == 0
    result = CliRunner().invoke(cli, ["--no-cache", "catalogue", "delete", "k9dt4hbw6p1ncz8", "--yes"])
    assert result.exit_code == 1 and "Error:" in result.output


def test_acquire_dry_run_and_xsearch(env):
    code, out = run("catalogue", "acquire", str(BATCH), "--library", "Umu", "-q")
    assert code == 0 and "DRY RUN: 2 matched, 1 new, 1 skipped" in out
    code, out = run("xsearch", "fjällflora", "--max", "5")
    assert code == 0 and "Fjällflora i förändring" in out


def test_ill_pdf_without_output_is_refused_before_any_request(monkeypatch):
    monkeypatch.delenv("LINKEDDATA_ILL_URL", raising=False)  # a request would fail with a ConfigError (exit 1)
    result = CliRunner().invoke(cli, ["--no-cache", "ill", "api/requests/Umu", "--format", "pdf"])
    assert result.exit_code == 2 and "PDF needs --output FILE" in result.output


def test_writes_name_the_libris_host_first_and_delete_asks(env, tmp_path):
    host = env.url("libris")
    code, out = run("catalogue", "holdings", "c8pz1vn3km6tf4h", "--library", "Umu", "--create")
    assert code == 0 and out.splitlines()[0] == f"creating a holding of Umu on Libris at {host}"
    iri = out.splitlines()[1].split()[-1]
    result = CliRunner().invoke(cli, ["--no-cache", "catalogue", "delete", iri.rsplit("/", 1)[1]], input="n\n")
    assert result.exit_code == 1 and f"Delete {iri} on Libris at {host}?" in result.output
    assert env.corpus.get(iri) is not None  # not deleted
    code, out = run("catalogue", "delete", iri.rsplit("/", 1)[1], "--yes")
    assert code == 0 and out.splitlines() == [f"deleting {iri} on Libris at {host}", f"deleted {iri}"]


def test_old_top_level_names_say_where_the_command_went():
    result = CliRunner().invoke(cli, ["create", "x.jsonld"])
    assert result.exit_code == 2 and "`linkeddata create` is now `linkeddata catalogue create`" in result.output
    assert "catalogue" in CliRunner().invoke(cli, ["--help"]).output


def test_marc_output_errors_and_dash(env, tmp_path):
    result = CliRunner().invoke(cli, ["--no-cache", "catalogue", "marc", "f5nc8rlm2x0vq7s", "-o", str(tmp_path / "no" / "r.mrc")])
    assert result.exit_code == 1 and result.output.startswith(f"Error: cannot write {tmp_path / 'no' / 'r.mrc'}: ")
    code, out = run("catalogue", "marc", "f5nc8rlm2x0vq7s", "--format", "marcxml", "-o", "-")
    assert code == 0 and "<record" in out and not (tmp_path / "-").exists()
