"""JSON-LD processing: the local-first loader, context repairs, expand/compact/frame, N-Quads."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from linkeddata import jsonld
from linkeddata.errors import JsonLdError

from .conftest import DATA

KBV = "https://id.kb.se/vocab/"


@pytest.fixture
def bib():
    return json.loads((DATA / "record-bib.jsonld").read_text("utf-8"))


def test_kbv_context_is_repaired():
    ctx = jsonld.kbv_context()
    assert "@import" not in ctx
    assert ctx["@vocab"] == KBV
    assert "prefLabelByLang" in ctx  # merged from shared.jsonld
    assert not [t for t in ctx if t.startswith("bibdb:") and t.endswith(("ByLang", "UriLang"))]


def test_relative_context_reference_expands(bib):
    assert bib["@context"] == "/context.jsonld"
    expanded = jsonld.expand(bib)
    types = {t for node in expanded for t in node.get("@type", [])}
    assert {KBV + "Record", KBV + "Print"} <= types


def test_record_without_context_expands(bib):
    bib.pop("@context")
    nq = jsonld.to_nquads(bib)
    assert f"<https://libris.kb.se/t7bk2vz9m4hq8wx#it> <{KBV}hasTitle>" in nq


def test_offline_loader_refuses_unknown_context():
    doc = {"@context": "https://example.org/unknown-context.jsonld", "@id": "https://example.org/x", "name": "x"}
    with pytest.raises(JsonLdError, match="not a bundled context"):
        jsonld.expand(doc, loader=jsonld.make_document_loader(offline=True))


def test_loader_serves_kbv_urls_from_pinned_copies():
    loader = jsonld.make_document_loader(offline=True)
    for url in ("https://id.kb.se/context.jsonld", "https://id.kb.se/sys/context/kbv",
                "https://id.kb.se/sys/context/target/sdo-w3c", "http://127.0.0.1:9/context.jsonld"):
        assert "@context" in loader(url)["document"]


def test_compact_and_frame(bib):
    compacted = jsonld.compact(bib)
    assert any(n.get("@type") == "Print" for n in compacted["@graph"])
    framed = jsonld.frame(bib, "instance")
    instance = framed["@graph"][0]
    assert instance["hasTitle"][0]["mainTitle"] == "Fyrväktarens dotter"
    assert instance["instanceOf"]["@type"] == "Text"


def test_unknown_frame_name():
    with pytest.raises(JsonLdError, match="unknown frame"):
        jsonld.frame({}, "nope")


def test_fast_path_is_isomorphic_to_pyld(bib):
    hold = json.loads((DATA / "record-hold.jsonld").read_text("utf-8"))
    pairs = [("https://libris.kb.se/t7bk2vz9m4hq8wx", bib), ("https://libris.kb.se/h2zq9ckr0w5dv7l", hold)]
    fast = ox.Dataset(jsonld.record_quads(pairs))
    reference = ox.Dataset(ox.parse("".join(jsonld.to_nquads(d, graph=g) for g, d in pairs).encode(),
                                    format=ox.RdfFormat.N_QUADS))
    for ds in (fast, reference):
        ds.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    assert fast == reference
    assert {q.graph_name.value for q in fast} == {g for g, _ in pairs}


def test_blank_nodes_stay_in_their_record(bib):
    same = [("https://libris.kb.se/a", bib), ("https://libris.kb.se/b", bib)]
    quads = jsonld.record_quads(same)
    by_graph: dict[str, set[str]] = {}
    for q in quads:
        if isinstance(q.subject, ox.BlankNode):
            by_graph.setdefault(q.graph_name.value, set()).add(q.subject.value)
    assert by_graph["https://libris.kb.se/a"].isdisjoint(by_graph["https://libris.kb.se/b"])


def test_record_iri_of_shapes(bib):
    assert jsonld.record_iri_of(bib) == "https://libris.kb.se/t7bk2vz9m4hq8wx"
    framed = {"@id": "https://libris.kb.se/x", "mainEntity": {"@id": "https://libris.kb.se/x#it"}}
    assert jsonld.record_iri_of(framed) == "https://libris.kb.se/x"
    lens = {"@id": "https://libris.kb.se/y#it", "meta": {"@id": "https://libris.kb.se/y"}}
    assert jsonld.record_iri_of(lens) == "https://libris.kb.se/y"


def test_embellished_nested_graphs_flatten_into_record():
    doc = {"@graph": [
        {"@id": "https://libris.kb.se/e1", "@type": "Record", "mainEntity": {"@id": "https://libris.kb.se/e1#it"}},
        {"@id": "https://libris.kb.se/e1#it", "@type": "Print", "instanceOf": {"@id": "https://libris.kb.se/p1#it"}},
        {"@id": "https://libris.kb.se/p1?lens=card", "@graph": [
            {"@id": "https://libris.kb.se/p1", "@type": "Record", "mainEntity": {"@id": "https://libris.kb.se/p1#it"}},
            {"@id": "https://libris.kb.se/p1#it", "@type": "Person", "name": "Tove"}]},
    ]}
    quads = jsonld.record_quads([("https://libris.kb.se/e1", doc)])
    assert {q.graph_name.value for q in quads} == {"https://libris.kb.se/e1"}
    assert any(q.object == ox.Literal("Tove") for q in quads)


@pytest.mark.realdata
def test_real_contexts_and_records_expand(shared_data):
    """Every real record and context in ../shared/data parses and expands with the bundled contexts."""
    ctx_dir = shared_data / "libris" / "context"
    for path in sorted(ctx_dir.rglob("*.jsonld")):
        doc = json.loads(path.read_text("utf-8"))
        assert "@context" in doc, path
    bundled = json.loads((jsonld.asset_path("contexts", "kbv.jsonld")).read_text("utf-8"))
    assert bundled == json.loads((ctx_dir / "kbv.jsonld").read_text("utf-8")), "pinned KBV context differs from the published one"
    for path in sorted((shared_data / "libris" / "records").glob("*.jsonld")):
        text = path.read_text("utf-8").replace("TEMPBASEURI", "https://libris.kb.se/").replace(
            "TEMPID", "x0test").replace("TEMPSIGEL", "S").replace("TEMPITEMOF", "x0bib")
        doc = json.loads(text)
        expanded = jsonld.expand(doc)
        assert expanded, path
        quads = jsonld.record_quads([("https://libris.kb.se/x0test", doc)])
        assert len(quads) > 5, path
