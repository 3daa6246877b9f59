"""The query command line: parameters, formats, standard input and output, one-line errors (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli

from .conftest import DATA

BIB = "https://libris.kb.se/t7bk2vz9m4hq8wx"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("cli-query") / "kg")
    assert run("load", str(DATA / "record-bib.jsonld"), str(DATA / "record-hold.jsonld"), "--store", store,
               "-q").exit_code == 0
    assert run("load", str(DATA / "library-uu.ttl"), "--graph", "https://libris.kb.se/library/Uu", "--store", store,
               "-q").exit_code == 0
    return store


@pytest.mark.parametrize("args, message", [
    (["holdings-of", "--param", f"insance={BIB}#it"], "Error: unknown parameter 'insance' for query holdings-of"),
    (["libraries-near", "-p", "lat=59.33", "-p", "long=18.07"], "Error: query libraries-near needs --param km="),
    (["libraries-near", "-p", "lat=abc", "-p", "long=18.07", "-p", "km=80"], "Error: parameter lat: expected a number"),
    (["libraries-near", "-p", "lat=59,33", "-p", "long=18.07", "-p", "km=80"], "Error: parameter lat: expected a number"),
    (["holdings-of", "-p", "instance=<urn>"], "Error: parameter instance: expected an absolute IRI"),
    (["SELECT ?x WHERE { ?x ?p ?o }", "-p", "x=<urn>"], "Error: expected an absolute IRI"),
    (["CONSTRUCT WHERE { ?s ?p ?o }", "--format", "csv"],
     "Error: a CONSTRUCT or DESCRIBE query returns triples: use --format table, nt, ttl, not csv"),
    (["holdings-by-library", "--nl"], "Error: --nl (one JSON object per line) goes with --format json"),
    (["holdings-by-library", "-o", "/nonexistent-dir/out.csv"], "Error: cannot write /nonexistent-dir/out.csv: "),
])
def test_mistakes_are_one_line_errors(kg, args, message):
    result = run("query", *args, "--store", kg)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(message) and result.output.count("\n") == 1, result.output


def test_short_id_and_iri_give_the_same_rows(kg):
    by_id = run("query", "holdings-of", "-p", "instance=t7bk2vz9m4hq8wx", "--store", kg, "--format", "csv")
    by_iri = run("query", "holdings-of", "-p", f"instance={BIB}#it", "--store", kg, "--format", "csv")
    assert by_id.exit_code == 0 and by_id.output == by_iri.output and "library/Uu" in by_id.output


def test_json_rows_newline_delimited_and_sparql_json(kg):
    rows = json.loads(run("query", "holdings-by-library", "--store", kg, "--format", "json").output)
    assert rows == [{"library": "https://libris.kb.se/library/Uu", "isil": "SE-Uu",
                     "name": "Uppsala universitetsbibliotek", "city": "Uppsala", "items": 1}]
    lines = run("query", "holdings-by-library", "--store", kg, "--format", "json", "--nl").output.splitlines()
    assert [json.loads(line) for line in lines] == rows
    sparql = json.loads(run("query", "holdings-by-library", "--store", kg, "--format", "sparql-json").output)
    assert sparql["head"]["vars"][:2] == ["library", "isil"]


def test_query_from_standard_input_and_output_to_dash(kg, tmp_path):
    result = run("query", "-", "--store", kg, "--format", "csv", "-o", "-",
                 input="SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert result.exit_code == 0 and result.output == "n\n3\n"
    assert not (tmp_path / "-").exists()
    out = tmp_path / "rows.csv"
    assert run("query", "holdings-by-library", "--store", kg, "--format", "csv", "-o", str(out)).exit_code == 0
    assert out.read_text("utf-8").startswith("library,isil,name,city,items\n")


def test_csv_marks_blank_nodes(kg):
    result = run("query", "SELECT ?e WHERE { ?i kbv:extent ?e }", "--store", kg, "--format", "csv")
    assert result.output.splitlines()[1].startswith("_:")


def test_construct_as_turtle_and_n_triples(kg):
    ttl = run("query", "CONSTRUCT WHERE { ?s kbv:mainTitle ?o }", "--store", kg, "--format", "turtle")
    assert ttl.exit_code == 0 and "kbv:mainTitle" in ttl.output
    nt = run("query", "CONSTRUCT WHERE { ?s kbv:mainTitle ?o }", "--store", kg, "--format", "nt")
    assert nt.output.rstrip().endswith('"Fyrväktarens dotter" .')


def test_queries_lists_declared_parameters():
    out = run("queries").output
    assert "lat:number long:number km:number" in out and "[instance:iri]" in out


def test_verbose_after_the_command(kg):
    proc = subprocess.run([sys.executable, "-m", "linkeddata", "queries", "-v"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "holdings-of" in proc.stdout
    result = run("query", "instances", "--store", kg, "-vv")
    assert result.exit_code == 0, result.output
