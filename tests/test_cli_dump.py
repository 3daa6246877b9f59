"""``linkeddata dump``: the store as N-Quads or TriG with its named graphs (issue 14)."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.dump import dump_store
from linkeddata.errors import InvalidInputError
from linkeddata.stores import open_store

from .conftest import DATA

BIB = "https://libris.kb.se/t7bk2vz9m4hq8wx"
HOLD = "https://libris.kb.se/h2zq9ckr0w5dv7l"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("dump") / "kg")
    assert run("load", str(DATA / "record-bib.jsonld"), str(DATA / "record-hold.jsonld"), "--store", store,
               "-q").exit_code == 0
    return store


def _graphs(data: bytes, fmt: ox.RdfFormat) -> dict[str, int]:
    counts: dict[str, int] = {}
    for quad in ox.parse(data, format=fmt):
        counts[str(quad.graph_name)] = counts.get(str(quad.graph_name), 0) + 1
    return counts


@pytest.mark.parametrize("fmt, rdf_format", [("nq", ox.RdfFormat.N_QUADS), ("trig", ox.RdfFormat.TRIG)])
def test_dump_keeps_every_named_graph(kg, tmp_path, fmt, rdf_format):
    out = tmp_path / f"kg.{fmt}"
    result = run("dump", "--store", kg, "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    graphs = _graphs(out.read_bytes(), rdf_format)
    assert set(graphs) == {f"<{BIB}>", f"<{HOLD}>"}
    assert result.output == f"Wrote {sum(graphs.values())} quads in 2 graphs to {out}\n"
    again = open_store(tmp_path / "again")  # a round trip gives the same store
    again.load_file(out)
    assert again.canonical_nquads() == open_store(kg, read_only=True).canonical_nquads()


def test_dump_one_graph_by_id_to_stdout(kg):
    result = run("dump", "--store", kg, "--graph", "t7bk2vz9m4hq8wx", "-o", "-")
    assert result.exit_code == 0
    assert set(_graphs(result.stdout_bytes, ox.RdfFormat.N_QUADS)) == {f"<{BIB}>"}


def test_dump_errors_are_one_line_and_write_nothing(kg, tmp_path):
    result = run("dump", "--store", kg, "--graph", "https://libris.kb.se/nothere", "-o", str(tmp_path / "x.nq"))
    assert result.exit_code == 1 and result.output == "Error: no graph https://libris.kb.se/nothere in the store\n"
    assert not (tmp_path / "x.nq").exists()
    result = run("dump", "--store", kg, "-o", str(tmp_path / "missing" / "x.nq"))
    assert result.exit_code == 1 and result.output.startswith(f"Error: cannot write {tmp_path / 'missing' / 'x.nq'}")
    result = run("dump", "--store", str(tmp_path / "none"))
    assert result.exit_code == 1 and "no store at" in result.output
    with pytest.raises(InvalidInputError, match="unknown dump format"):
        dump_store(open_store(None), tmp_path / "y", format="ttl")


def test_dump_from_a_sparql_server():
    import io
    import json

    from linkeddata import serve
    from linkeddata.errors import ConfigError
    from linkeddata.records import Record

    try:
        serve.check_version()
    except ConfigError as exc:
        pytest.skip(f"no usable oxigraph server: {exc}")
    records = [Record(BIB, json.loads((DATA / "record-bib.jsonld").read_text("utf-8"))),
               Record(HOLD, json.loads((DATA / "record-hold.jsonld").read_text("utf-8")))]
    local = open_store(None)
    local.load_records(records)
    with serve.running_server(None) as running:
        remote = running.store()
        remote.load_records(records)
        out = io.BytesIO()
        stats = dump_store(remote, out, format="trig", graphs=[BIB])
        assert stats.graphs == 1 and set(_graphs(out.getvalue(), ox.RdfFormat.TRIG)) == {f"<{BIB}>"}
        everything = io.BytesIO()
        dump_store(remote, everything, format="nq")
    again = open_store(None)
    again.inner.load(everything.getvalue(), format=ox.RdfFormat.N_QUADS)
    assert again.canonical_nquads() == local.canonical_nquads()
