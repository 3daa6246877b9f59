"""`linkeddata query … --map FILE`: the static map from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli

from .conftest import DATA
from .test_notebook import svg_circles

pytest.importorskip("matplotlib")
pytest.importorskip("pandas")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("map") / "kg")
    assert run("load", str(DATA / "record-bib.jsonld"), str(DATA / "record-hold.jsonld"), "--store", path,
               "-q").exit_code == 0
    assert run("load", str(DATA / "library-uu.ttl"), "--graph", "https://libris.kb.se/library/Uu",
               "--store", path, "-q").exit_code == 0
    return path


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_query_draws_a_map(store, tmp_path, suffix):
    target = tmp_path / f"near.{suffix}"
    result = run("query", "libraries-near", "-p", "lat=59.33", "-p", "long=18.07", "-p", "km=500",
                 "--store", store, "--map", str(target))
    assert result.exit_code == 0, result.output
    assert "Uppsala universitetsbibliotek" in result.stdout  # the table is printed as before
    assert f"map: 1 drawn, 0 without coordinates, in {target}" in result.stderr
    if suffix == "svg":
        svg = target.read_text("utf-8")
        assert svg_circles(svg) == 1
        assert "Uppsala universitetsbibliotek (1)" in svg
    else:
        assert target.read_bytes()[:4] == b"\x89PNG"


def test_map_file_type_is_checked_before_the_query(store, tmp_path):
    result = CliRunner().invoke(cli, ["query", "libraries-near", "-p", "lat=59", "-p", "long=18", "-p", "km=5",
                                      "--store", store, "--map", str(tmp_path / "near.gif")])
    assert result.exit_code == 2 and "a map is a .png or .svg file, not near.gif" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "near.gif").exists()
