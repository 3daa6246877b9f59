"""A hostile query on a local store (issue 15): a time limit, bounded memory, results streamed."""

from __future__ import annotations

import io
import subprocess
import time

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from linkeddata import query_run
from linkeddata.cli import cli
from linkeddata.query import format_results, run_query
from linkeddata.query_run import QueryLimitError, stream_query
from linkeddata.stores import open_store

from .hostile import one_line

#: 200 triples: a 4-way cross join has 1.6e9 rows, a COUNT over it runs for many minutes.
CROSS4 = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
#: 8 million rows to sort: gigabytes before the first row.
SORTED3 = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i"
ROWS3 = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
#: Generous slack for starting the worker on a loaded 2-core machine; the limit itself is exact.
SLACK = 20.0


def _quads(n: int = 200) -> list[ox.Quad]:
    return [ox.Quad(ox.NamedNode(f"https://example.org/s{i}"), ox.NamedNode("https://example.org/p"),
                    ox.Literal(str(i)), ox.NamedNode(f"https://example.org/g{i % 5}")) for i in range(n)]


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile-query") / "kg"
    store = open_store(path)
    store.inner.extend(_quads())
    store.close()
    return path


@pytest.fixture
def children(monkeypatch):
    """The worker processes started by the test (to check that none is left running)."""
    started: list[subprocess.Popen] = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        child = real(*args, **kwargs)
        started.append(child)
        return child

    monkeypatch.setattr(query_run.subprocess, "Popen", popen)
    return started


def test_a_cross_join_stops_at_the_time_limit_and_its_worker_is_killed(kg, children):
    started = time.monotonic()
    with pytest.raises(QueryLimitError) as info:
        stream_query(kg, CROSS4, io.BytesIO(), timeout=1.5)
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 1.5 + SLACK
    message = one_line(info.value)
    assert "query SELECT (COUNT(*) AS ?n)" in message and "time limit of 1.5 s" in message
    assert len(children) == 1 and children[0].poll() is not None  # killed, not left computing


def test_a_sort_of_millions_of_rows_stops_at_the_memory_limit(kg):
    with pytest.raises(QueryLimitError) as info:
        stream_query(kg, SORTED3, io.BytesIO(), fmt="csv", timeout=120, max_memory=400 * 1024**2)
    assert "needed more than 400 MB of memory" in one_line(info.value)


class _Stop(Exception):
    pass


class _FirstMegabyte(io.RawIOBase):
    """An output that takes 1 MB, then stops the run (as a reader that has seen enough)."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > 1 << 20:
            raise _Stop
        return len(data)


@pytest.mark.parametrize("fmt", ["csv", "json", "tsv", "sparql-json"])
def test_results_are_streamed_to_the_output_as_they_come(kg, children, fmt):
    started = time.monotonic()
    with pytest.raises(_Stop):  # 8 million rows: collected, they would not fit the memory limit
        stream_query(kg, ROWS3, _FirstMegabyte(), fmt=fmt, timeout=60, max_memory=600 * 1024**2)
    assert time.monotonic() - started < SLACK
    assert children[0].poll() is not None


def test_a_table_holds_a_bounded_number_of_rows(monkeypatch):
    monkeypatch.setattr(query_run, "MAX_TABLE_ROWS", 1000)  # the worker runs the same code with 100,000
    memory = open_store(None)
    memory.inner.extend(_quads())
    with pytest.raises(QueryLimitError, match="a table shows at most 1,000 rows; use --format csv"):
        stream_query(memory, ROWS3, io.BytesIO(), timeout=60)


QUERIES = ["SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 7", "ASK { ?s ?p ?o }",
           "SELECT ?x WHERE { OPTIONAL { ?s <https://example.org/none> ?x } } LIMIT 1",
           "SELECT ?s WHERE { ?s ?p ?o } LIMIT 0", "CONSTRUCT WHERE { ?s ?p ?o }"]
FORMATS = ["table", "csv", "tsv", "json", "json-nl", "sparql-json", "sparql-xml", "nt", "ttl"]


def _expected(store, query: str, fmt: str, nl: bool) -> str | Exception:
    try:
        text = format_results(run_query(store, query), fmt, nl=nl)
    except Exception as exc:  # noqa: BLE001  # a refused combination: refused the same way
        return exc
    return text if text.endswith("\n") or not text else text + "\n"  # no rows as JSON lines: nothing


def _streamed(store, query: str, fmt: str, nl: bool) -> str | Exception:
    out = io.BytesIO()
    try:
        run = stream_query(store, query, out, fmt=fmt, nl=nl)
    except Exception as exc:  # noqa: BLE001
        return exc
    assert run.worker == (not isinstance(store, type(open_store(None))) or store.path is not None)
    return out.getvalue().decode()


def _same(got: str | Exception, expected: str | Exception) -> bool:
    if isinstance(expected, Exception) or isinstance(got, Exception):
        return type(got) is type(expected) and str(got) == str(expected)
    if "ORDER BY" in expected or expected.startswith("@prefix"):  # ttl groups by subject: compare lines
        return got == expected
    return got == expected or sorted(got.splitlines()) == sorted(expected.splitlines())


@pytest.mark.parametrize("query", QUERIES)
def test_streamed_output_is_the_text_format_results_gives(query):
    memory = open_store(None)
    memory.inner.extend(_quads())
    for fmt in FORMATS:
        fmt, nl = ("json", True) if fmt == "json-nl" else (fmt, False)
        assert _same(_streamed(memory, query, fmt, nl), _expected(memory, query, fmt, nl)), (query, fmt)


def test_the_worker_writes_the_same_text(kg):
    store = open_store(kg, read_only=True)
    for query, fmt, nl in [(QUERIES[0], "table", False), (QUERIES[0], "csv", False), (QUERIES[0], "json", True),
                           (QUERIES[0], "sparql-xml", False), (QUERIES[1], "json", False), (QUERIES[4], "nt", False)]:
        assert _same(_streamed(kg, query, fmt, nl), _expected(store, query, fmt, nl)), (query, fmt)


def test_in_memory_stores_check_the_deadline_between_rows():
    memory = open_store(None)
    memory.inner.extend(_quads())
    started = time.monotonic()
    with pytest.raises(QueryLimitError, match="time limit of 0.5 s"):
        stream_query(memory, ROWS3, io.BytesIO(), fmt="csv", timeout=0.5)
    assert time.monotonic() - started < 0.5 + SLACK


def test_bad_queries_and_parameters_fail_before_a_worker_starts(kg, children):
    with pytest.raises(Exception, match="unknown parameter 'nope'"):
        stream_query(kg, "SELECT ?s WHERE { ?s ?p ?o }", io.BytesIO(), {"nope": "1"})
    with pytest.raises(Exception, match="parameter instance: expected an absolute IRI"):
        stream_query(kg, "holdings-of", io.BytesIO(), {"instance": "<urn>"})
    with pytest.raises(Exception, match="SPARQL syntax error"):
        stream_query(kg, "SELECT ?s WHERE { ?s ?p", io.BytesIO())
    assert len(children) == 1  # only the syntax error needed the engine


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cli_query_timeout_is_one_line_exit_1_and_leaves_no_file(kg, tmp_path):
    out = tmp_path / "rows.csv"
    result = run("query", CROSS4, "--store", str(kg), "--timeout", "1", "--format", "csv", "-o", str(out))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: query SELECT (COUNT(*) AS ?n)") and "time limit of 1 s" in result.output
    assert "--timeout" in result.output and result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_query_memory_limit_and_no_limits(kg):
    result = run("query", SORTED3, "--store", str(kg), "--max-memory", "400", "--format", "csv")
    assert result.exit_code == 1 and "needed more than 400 MB of memory (--max-memory" in result.output
    assert result.output.count("\n") == 1
    ok = run("query", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--store", str(kg), "--timeout", "0",
             "--max-memory", "0", "--format", "csv")
    assert ok.exit_code == 0 and ok.output == "n\n200\n"
    bound = run("query", "holdings-of", "-p", "instance=k9dt4hbw6p1ncz8", "--store", str(kg), "--format", "csv")
    assert bound.exit_code == 0 and bound.output.count("\n") == 1  # parameters reach the worker (header, no rows)


def test_a_query_that_is_not_utf8_is_one_line(kg, tmp_path):
    bad = tmp_path / "bad.rq"
    bad.write_bytes(b"SELECT \xe5 WHERE {}")
    for args, stdin in (([str(bad)], None), (["-"], bad.read_bytes())):
        result = CliRunner().invoke(cli, ["query", *args, "--store", str(kg)], input=stdin)
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert "not UTF-8 text (byte 7)" in result.output and "Traceback" not in result.output
