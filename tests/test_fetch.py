"""``fetch_record`` and ``linkeddata fetch`` against the emulated Libris record API."""

from __future__ import annotations

import logging

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from rdflib.compare import isomorphic

from linkeddata.emulator import Emulator
from linkeddata.errors import GoneError, InvalidInputError, NegotiationError, NotFoundError
from linkeddata.http import make_session
from linkeddata.jsonld import to_nquads
from linkeddata.libris.read import FORMATS, build_accept, fetch_record, record_iri

BIB = "k9dt4hbw6p1ncz8"  # Kartor och makt (organisation as author)
BIB_IRI = f"https://libris.kb.se/{BIB}"
LINKED = "f5nc8rlm2x0vq7s"  # has the merged id and a legacy bib number
SDO = "https://id.kb.se/sys/context/target/sdo-w3c"


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris"]) as emulator:
        yield emulator


@pytest.fixture()
def session():
    s = make_session(cache=False, rate_limit=None, retries=0)
    yield s
    s.close()


def fetch(emu, id_or_iri: str, session, **kwargs):
    return fetch_record(id_or_iri, session=session, base_url=emu.url("libris"), **kwargs)


def test_record_iri_normalises_ids() -> None:
    assert record_iri(BIB) == BIB_IRI
    assert record_iri(BIB_IRI + "#it") == record_iri(BIB_IRI + "#work") == BIB_IRI
    assert record_iri(f"http://libris.kb.se/{BIB}") == BIB_IRI
    assert record_iri(f"{BIB_IRI}/data.jsonld?lens=chip") == BIB_IRI
    assert record_iri("http://libris.kb.se/bib/7261049") == "http://libris.kb.se/bib/7261049"
    for bad in ("", "   ", "not an id!"):
        with pytest.raises(InvalidInputError):
            record_iri(bad)


def test_build_accept_prefers_the_wanted_type() -> None:
    accept = build_accept("application/rdf+xml")
    assert accept.startswith("application/rdf+xml, ") and "q=0.9" in accept and accept.count(",") == 4


@pytest.mark.parametrize("use_extension", [False, True])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_via_accept_and_extension(emu, session, fmt: str, use_extension: bool) -> None:
    rec = fetch(emu, BIB, session, format=fmt, use_extension=use_extension)
    assert rec.media_type == FORMATS[fmt]
    assert rec.iri == BIB_IRI  # canonical, never the emulator URL
    assert rec.source.startswith(emu.url("libris"))
    assert rec.source.endswith(f"/data.{fmt}") == use_extension
    assert rec.etag and rec.etag.startswith('"')
    if fmt in ("jsonld", "json"):
        assert isinstance(rec.data, dict) and rec.last_modified == "2021-01-19T16:40:21.77+01:00"
    else:
        assert isinstance(rec.data, bytes) and b"Kartor och makt" in rec.data
    last = emu.requests_to("libris")[-1]
    if use_extension:
        assert last.path.endswith(f"/data.{fmt}")
    else:
        assert last.headers["accept"].startswith(FORMATS[fmt])


def _graph(rec) -> rdflib.Graph:
    """The default-graph union of a fetched record as an rdflib graph."""
    if isinstance(rec.data, dict):
        nquads = to_nquads(rec.data).encode("utf-8")
        quads = ox.parse(nquads, format=ox.RdfFormat.N_QUADS)
    else:
        fmt = {"text/turtle": ox.RdfFormat.TURTLE, "application/trig": ox.RdfFormat.TRIG,
               "application/rdf+xml": ox.RdfFormat.RDF_XML}[rec.media_type]
        quads = ox.parse(rec.data, format=fmt)
    triples = {f"{q.subject} {q.predicate} {q.object} .\n" for q in quads}
    return rdflib.Graph().parse(data="".join(sorted(triples)), format="nt")


@pytest.mark.parametrize("record", [BIB, LINKED, "n7bq4zh1rd6xs0f", "cz68qhgjsvhtfkp"])
def test_five_formats_are_isomorphic(emu, session, record: str) -> None:
    graphs = {fmt: _graph(fetch(emu, record, session, format=fmt, embellished=False)) for fmt in FORMATS}
    reference = graphs["jsonld"]
    assert len(reference) > 5
    for fmt, graph in graphs.items():
        assert isomorphic(reference, graph), f"{fmt} differs from jsonld"


def test_embellished_trig_has_more_than_rdfxml(emu, session) -> None:
    trig = fetch(emu, LINKED, session, format="trig")
    rdf = fetch(emu, LINKED, session, format="rdf")
    assert len(_graph(trig)) > len(_graph(rdf))


def test_not_found_gone_and_redirects(emu, session) -> None:
    with pytest.raises(NotFoundError, match="bcdfghjklmnpqrs"):
        fetch(emu, "bcdfghjklmnpqrs", session)
    with pytest.raises(GoneError, match="x1zh5gk7nb2dw9q"):
        fetch(emu, "x1zh5gk7nb2dw9q", session)
    for alias in ("r0tm3cq8vz6lj1k", "http://libris.kb.se/bib/10564432", "https://libris.kb.se/r0tm3cq8vz6lj1k#it"):
        rec = fetch(emu, alias, session, format="ttl")
        assert rec.iri == f"https://libris.kb.se/{LINKED}", alias
        assert rec.source == f"{emu.url('libris')}/{LINKED}"


@pytest.mark.parametrize("lens", ["chip", "card", "none"])
def test_lens(emu, session, lens: str) -> None:
    rec = fetch(emu, LINKED, session, lens=lens)
    assert rec.iri == f"https://libris.kb.se/{LINKED}"
    if lens == "none":
        assert "@graph" in rec.data
    else:
        assert rec.data["@id"].endswith("#it") and rec.data["meta"]["@id"] == rec.iri
        assert ("extent" in rec.data) == (lens == "card")


def test_unknown_lens_is_rejected_before_sending(emu, session) -> None:
    before = len(emu.requests_to("libris"))
    with pytest.raises(InvalidInputError, match="lens"):
        fetch(emu, BIB, session, lens="poster")
    assert len(emu.requests_to("libris")) == before


def test_etag_and_if_none_match(emu, session) -> None:
    first = fetch(emu, BIB, session)
    again = fetch(emu, BIB, session, if_none_match=first.etag)
    assert again.data is None and again.etag == first.etag and again.iri == BIB_IRI
    plain = fetch(emu, BIB, session, embellished=False)
    assert ":" in first.etag and ":" not in plain.etag


def test_html_answer_is_a_negotiation_error(emu, session) -> None:
    emu.faults.add("html", service="libris", times=1)
    with pytest.raises(NegotiationError, match="text/html|HTML") as info:
        fetch(emu, BIB, session, format="ttl")
    assert emu.url("libris") in str(info.value)


def test_wrong_media_type_is_a_negotiation_error(emu, session) -> None:
    emu.faults.add("body", service="libris", times=1, body=b"<rdf:RDF/>", content_type="application/rdf+xml")
    with pytest.raises(NegotiationError, match="application/rdf\\+xml"):
        fetch(emu, BIB, session, format="ttl")


@pytest.mark.parametrize("via", ["header", "query"])
def test_profile_via_header_or_query(emu, session, via: str) -> None:
    rec = fetch(emu, BIB, session, format="jsonld", profile="sdo", profile_via=via, embellished=False)
    assert rec.profile == SDO and rec.data["@context"] == SDO
    assert rec.headers["Content-Profile"] == f"<{SDO}>"
    last = emu.requests_to("libris")[-1]
    if via == "header":
        assert last.headers["accept-profile"] == f"<{SDO}>" and "profile" not in last.query
    else:
        assert last.query["profile"] == [SDO] and "accept-profile" not in last.headers
    assert "name" in str(rec.data)  # schema.org terms


def test_profile_mapping_in_turtle(emu, session) -> None:
    rec = fetch(emu, BIB, session, format="ttl", profile=SDO, embellished=False)
    graph = rdflib.Graph().parse(data=rec.data, format="turtle")
    names = {str(o) for o in graph.objects(None, rdflib.URIRef("http://schema.org/name"))}
    assert "Kartor och makt" in names


def test_ignored_profile_logs_a_warning(emu, session, caplog, monkeypatch) -> None:
    import linkeddata.emulator.libris_read as read_routes

    monkeypatch.setattr(read_routes, "_requested_profile", lambda req: None)  # a server that ignores profiles
    with caplog.at_level(logging.WARNING, logger="linkeddata.libris.read"):
        rec = fetch(emu, BIB, session, profile="bibo", embellished=False)
    assert rec.profile is None
    assert any("bibo-w3c" in r.getMessage() for r in caplog.records)


def test_cache_keeps_formats_apart(emu, tmp_path) -> None:
    s = make_session(cache=tmp_path / "http.sqlite", rate_limit=None)
    try:
        ttl = fetch(emu, BIB, s, format="ttl")
        ld = fetch(emu, BIB, s, format="jsonld")
        ttl2 = fetch(emu, BIB, s, format="ttl")
    finally:
        s.close()
    assert ttl.media_type == ttl2.media_type == "text/turtle" and ld.media_type == "application/ld+json"
    assert ttl.data == ttl2.data


def test_bad_arguments(emu, session) -> None:
    with pytest.raises(InvalidInputError):
        fetch(emu, BIB, session, format="xml")
    with pytest.raises(InvalidInputError):
        fetch(emu, BIB, session, profile="sdo", profile_via="cookie")
    with pytest.raises(InvalidInputError):
        fetch(emu, BIB, session, profile="nonsense")


# ------------------------------------------------------------------ CLI


def _cli():
    from linkeddata.cli import cli

    return cli


def test_cli_fetch_turtle_with_headers(emu, tmp_path) -> None:
    runner = CliRunner()
    env = {**emu.env(), "LINKEDDATA_NO_CACHE": "1"}
    result = runner.invoke(_cli(), ["fetch", BIB, "--format", "ttl", "--no-embellished", "--headers"], env=env)
    assert result.exit_code == 0, result.output
    assert "Kartor och makt" in result.stdout
    assert "ETag:" in result.stderr and "Content-Type: text/turtle" in result.stderr
    out = tmp_path / "rec.jsonld"
    result = runner.invoke(_cli(), ["fetch", "http://libris.kb.se/bib/10564432", "--lens", "card", "-o", str(out),
                                    "--libris-url", emu.url("libris")], env={"LINKEDDATA_NO_CACHE": "1"})
    assert result.exit_code == 0, result.output
    assert '"Fjällflora i förändring"' in out.read_text(encoding="utf-8")


def test_cli_fetch_errors_are_one_line(emu) -> None:
    result = CliRunner().invoke(_cli(), ["fetch", "x1zh5gk7nb2dw9q"], env={**emu.env(), "LINKEDDATA_NO_CACHE": "1"})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: gone") and result.stderr.count("\n") == 1
