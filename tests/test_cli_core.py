"""The core CLI: load, query, queries, demo, build, emulator serve; one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from click.testing import CliRunner

from linkeddata.cli import cli

from .conftest import DATA


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_load_then_query_all_formats(tmp_path):
    store = str(tmp_path / "kg")
    result = run("load", str(DATA / "record-bib.jsonld"), str(DATA / "record-hold.jsonld"), "--store", store, "-q")
    assert result.exit_code == 0, result.output
    assert "Loaded 2 records" in result.output
    result = run("load", str(DATA / "library-uu.ttl"), "--graph", "https://libris.kb.se/library/Uu", "--store", store)
    assert result.exit_code == 0, result.output
    table = run("query", "holdings-by-library", "--store", store)
    assert "Uppsala universitetsbibliotek" in table.output and "(1 row)" in table.output
    csv_out = run("query", "holdings-of", "--store", store, "--format", "csv",
                  "--param", "instance=https://libris.kb.se/t7bk2vz9m4hq8wx#it")
    assert csv_out.output.splitlines()[1].startswith("https://libris.kb.se/t7bk2vz9m4hq8wx#it,")
    as_json = json.loads(run("query", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--store", store,
                             "--format", "sparql-json").output)
    assert int(as_json["results"]["bindings"][0]["n"]["value"]) > 20


def test_queries_lists_bundled_queries():
    result = run("queries")
    assert result.exit_code == 0
    assert "holdings-by-library" in result.output and "lat:number long:number km:number" in result.output


def test_errors_are_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("<http://a> <http://b> .", "utf-8")
    proc = subprocess.run([sys.executable, "-m", "linkeddata", "load", str(bad), "--graph", "http://g", "--strict",
                           "--store", str(tmp_path / "kg")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: ") and "bad.ttl" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "linkeddata", "query", "nope", "--store", str(tmp_path / "kg")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: unknown query 'nope'")


def test_query_without_store_says_how_to_build_one(tmp_path):
    result = CliRunner().invoke(cli, ["query", "holdings-by-library", "--store", str(tmp_path / "none")])
    assert result.exit_code == 1 and "linkeddata build" in result.output


def test_emulator_serve_prints_environment():
    proc = subprocess.run([sys.executable, "-m", "linkeddata", "emulator", "serve", "--seconds", "0.5"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "export LINKEDDATA_LIBRIS_URL=http://127.0.0.1:" in proc.stdout
    # the test OAuth client too, so that `source env.sh` is enough for `linkeddata catalogue login`
    assert "export LINKEDDATA_CLIENT_ID=test-cataloguer\nexport LINKEDDATA_CLIENT_SECRET=cataloguer-secret\n" in proc.stdout
    assert "Serving; press Ctrl-C to stop." in proc.stderr and "export" not in proc.stderr


def test_emulator_serve_refuses_an_unknown_test_client():
    result = CliRunner().invoke(cli, ["emulator", "serve", "--client", "nobody", "--seconds", "0"])
    assert result.exit_code == 2 and "test clients: test-holdings, test-cataloguer" in result.output


def test_demo_prints_holdings_table(tmp_path):
    result = run("demo", "--store", str(tmp_path / "demo"), "-q")
    assert result.exit_code == 0, result.output
    assert "Holdings by library:" in result.output
    assert "Kungliga biblioteket" in result.output or "SE-S " in result.output
    again = run("demo", "--store", str(tmp_path / "demo"), "-q")  # idempotent re-run: same counts
    counts = re.compile(r": (.*) triples")
    assert counts.search(again.output).group(1) == counts.search(result.output).group(1)


def test_no_cache_after_the_command_and_short_connection_errors(monkeypatch):
    monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", "http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "linkeddata", "fetch", "k9dt4hbw6p1ncz8", "--no-cache"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "Error: http://127.0.0.1:9/k9dt4hbw6p1ncz8: connection failed "
        "(Failed to establish a new connection: [Errno 111] Connection refused)"]


def test_load_a_folder_skips_files_that_do_not_parse(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bib.jsonld").write_text((DATA / "record-bib.jsonld").read_text("utf-8"), "utf-8")
    (folder / "marc.xml").write_text("<collection><record/></collection>", "utf-8")
    result = CliRunner().invoke(cli, ["load", str(folder), "--store", str(tmp_path / "kg"), "-q"])
    assert result.exit_code == 2
    assert "Loaded 1 records" in result.output and "marc.xml" in result.output
