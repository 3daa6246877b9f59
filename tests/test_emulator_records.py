"""The emulator's record corpus and the Libris read API it serves over real HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from linkeddata.emulator import Emulator
from linkeddata.emulator.corpus import FIXTURE_SIGELS, MISSING_SIGEL, Corpus, parse_time
from linkeddata.emulator.libris_read import BadRequest, best_content_type, parse_accept, to_card, to_chip

BIB = "f5nc8rlm2x0vq7s"  # Fjällflora i förändring: linked author, holdings, legacy sameAs, a merged id
BIB_IRI = f"https://libris.kb.se/{BIB}"
MERGED = "r0tm3cq8vz6lj1k"
DELETED = "x1zh5gk7nb2dw9q"
AUTHOR = "https://libris.kb.se/n7bq4zh1rd6xs0f"
SHORT_ID = re.compile(r"[0-9bcdfghjklmnpqrstvwxz]{15}")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


@pytest.fixture(scope="module")
def libris():
    with Emulator(services=["libris"]) as emu:
        yield emu.url("libris"), emu


def get(base: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("allow_redirects", False)
    kwargs.setdefault("timeout", 10)
    return requests.get(base + path, **kwargs)


# ------------------------------------------------------------------ corpus


def test_fixture_corpus_shape(corpus: Corpus) -> None:
    kinds = {k: list(corpus.iter_records(kind=k)) for k in ("bib", "auth", "hold")}
    assert (len(kinds["bib"]), len(kinds["auth"]), len(kinds["hold"])) == (8, 4, 16)
    assert corpus.sigels() == set(FIXTURE_SIGELS) | {MISSING_SIGEL}
    assert len(corpus.held_by(MISSING_SIGEL)) == 1
    for iri, doc in corpus.records.items():
        graph = doc["@graph"]
        assert "@context" not in doc
        assert SHORT_ID.fullmatch(iri.rsplit("/", 1)[1]), iri
        assert graph[0]["@type"] == "Record" and graph[0]["mainEntity"]["@id"] == graph[1]["@id"]
        assert re.search(r"[+-]0[12]:00$", graph[0]["modified"]), graph[0]["modified"]
    for hold in kinds["hold"]:
        item = corpus.records[hold]["@graph"][1]
        assert corpus.kind(corpus.resolve(item["itemOf"]["@id"])) == "bib"
        assert item["heldBy"]["@id"].startswith("https://libris.kb.se/library/")


def test_resolve_all_id_forms(corpus: Corpus) -> None:
    for form in (BIB, BIB_IRI, BIB_IRI + "#it", BIB_IRI + "#work", "http://libris.kb.se/bib/10564432",
                 "http://libris.kb.se/resource/bib/10564432", MERGED, "https://libris.kb.se/" + MERGED):
        assert corpus.resolve(form) == BIB_IRI, form
    assert corpus.lookup(MERGED) == (BIB_IRI, "sameAs")
    assert corpus.lookup(DELETED) == (f"https://libris.kb.se/{DELETED}", "deleted")
    assert corpus.resolve(DELETED) is None and corpus.get("nosuchrecord") is None
    assert corpus.kind(AUTHOR) == "auth" and corpus.kind(DELETED) == "bib"
    assert len(corpus.holdings_of(BIB_IRI + "#it")) == 3 == len(corpus.holdings_of(BIB))


def test_etags_and_links(corpus: Corpus) -> None:
    plain, embellished = corpus.etag(BIB), corpus.etag(BIB, embellished=True)
    assert re.fullmatch(r"-?\d+", plain)
    assert embellished.startswith(plain + ":") and embellished != plain + ":" + plain
    assert corpus.linked_records(BIB_IRI) == [AUTHOR]
    assert "https://id.kb.se/language/swe" in corpus.linked_terms(BIB_IRI)


def test_order_and_changes(corpus: Corpus) -> None:
    order = list(corpus.iter_records(include_deleted=True))
    times = [parse_time(corpus.modified(iri)) for iri in order]
    assert times == sorted(times) and len(order) == len(corpus.records) + len(corpus.deleted)
    change_times = [parse_time(t) for t, _, _ in corpus.changes]
    assert change_times == sorted(change_times)
    assert (corpus.deleted[f"https://libris.kb.se/{DELETED}"], f"https://libris.kb.se/{DELETED}", "Delete") in corpus.changes
    updates = [(t, iri) for t, iri, kind in corpus.changes if kind == "Update"]
    assert updates and all(corpus.modified(iri) == t for t, iri in updates)


def test_generated_records_are_deterministic() -> None:
    a, b, c = Corpus(size=300, seed=7), Corpus(size=300, seed=7), Corpus(size=300, seed=8)
    assert list(a.records) == list(b.records) and a.deleted == b.deleted
    assert set(a.records) != set(c.records)
    generated_bibs = list(a.iter_records(kind="bib", include_deleted=True))
    assert len(generated_bibs) == 300 + 8 + 1
    for iri in a.iter_records(kind="hold"):
        assert a.resolve(a.records[iri]["@graph"][1]["itemOf"]["@id"]) is not None
    live_generated = [i for i in a.iter_records(kind="bib") if i not in Corpus().records]
    assert all(1 <= len(a.holdings_of(i)) <= 3 for i in live_generated)
    assert a.sigels() <= set(FIXTURE_SIGELS) | {MISSING_SIGEL}


def test_writes_update_indexes_and_changes() -> None:
    c = Corpus()
    temp = "https://libris.kb.se/TEMPID"
    new = c.create({"@graph": [
        {"@id": temp, "@type": "Record", "mainEntity": {"@id": temp + "#it"}},
        {"@id": temp + "#it", "@type": "Item", "heldBy": {"@id": "https://libris.kb.se/library/G"},
         "itemOf": {"@id": BIB_IRI + "#it"}}]}, "G")
    assert SHORT_ID.fullmatch(new.rsplit("/", 1)[1]) and c.kind(new) == "hold"
    assert new in c.holdings_of(BIB) and c.changes[-1][1:] == (new, "Create")
    doc = c.get(new)
    assert doc["@graph"][1]["@id"] == new + "#it" and doc["@graph"][0]["descriptionCreator"]["@id"].endswith("/G")
    doc["@graph"][1]["shelfMark"] = {"@type": "ShelfMark", "label": ["Ueb"]}
    c.replace(new, doc)
    assert c.get(new)["@graph"][1]["shelfMark"]["label"] == ["Ueb"] and c.changes[-1][1:] == (new, "Update")
    c.delete(new)
    assert new in c.deleted and new not in c.holdings_of(BIB) and c.changes[-1][1:] == (new, "Delete")
    assert c.lookup(new) == (new, "deleted")


# ------------------------------------------------------------------ negotiation (unit)


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "application/ld+json"),
    ("*/*", "application/ld+json"),
    ("application/x-octet-stream", "application/ld+json"),
    ("text/html", "application/ld+json"),
    ("text/turtle;q=0.1, application/json;q=0.8", "application/json"),
    ("text/*;q=0.5, application/trig;q=0.5", "application/trig"),
    ("*/*;q=0.9, text/turtle", "text/turtle"),
    ("text/*", "text/turtle"),
    ("application/rdf+xml;q=0, text/turtle;q=0.2", "text/turtle"),
])
def test_best_content_type(accept: str | None, expected: str) -> None:
    assert best_content_type(accept) == expected


def test_accept_ties_go_to_more_specific_then_more_parameters() -> None:
    assert [m for m, _, _ in parse_accept("*/*;q=0.5, text/*;q=0.5, text/turtle;q=0.5")] == ["text/turtle", "text/*", "*/*"]
    assert [n for _, _, n in parse_accept("text/turtle, text/turtle;charset=utf-8")] == [1, 0]
    for bad in ("turtle", "text/turtle;q=x", "text/turtle;q=2"):
        with pytest.raises(BadRequest):
            parse_accept(bad)


def test_lenses_reduce_nodes() -> None:
    person = {"@id": "x#it", "@type": "Person", "givenName": "A", "familyName": "B", "lifeSpan": "1900-1990",
              "description": ["d"], "sameAs": [{"@id": "y"}]}
    assert to_chip(person) == {"@id": "x#it", "@type": "Person", "familyName": "B", "givenName": "A", "lifeSpan": "1900-1990"}
    assert "description" in to_card(person) and "sameAs" not in to_card(person)
    lang = {"@id": "l", "@type": "Language", "prefLabelByLang": {"sv": "svenska"}, "code": "swe"}
    assert to_chip(lang)["prefLabelByLang"] == {"sv": "svenska"} and "code" not in to_chip(lang)


# ------------------------------------------------------------------ HTTP


@pytest.mark.parametrize(("accept", "expected"), [
    ("*/*", "application/ld+json"),
    ("text/turtle;q=0.1, application/json;q=0.8", "application/json"),
    ("text/html,application/xhtml+xml", "application/ld+json"),
    ("application/trig", "application/trig"),
])
def test_http_negotiation_never_406(libris, accept: str, expected: str) -> None:
    base, _ = libris
    r = get(base, f"/{BIB}", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == expected
    assert r.headers["Vary"] == "Accept, Accept-Profile"


def test_malformed_accept_is_400(libris) -> None:
    base, _ = libris
    r = get(base, f"/{BIB}", headers={"Accept": "text/turtle;q=high"})
    assert r.status_code == 400 and "Accept" in r.json()["message"]


def test_extension_overrides_accept_and_unknown_extension_404(libris) -> None:
    base, _ = libris
    r = get(base, f"/{BIB}/data.ttl", headers={"Accept": "application/ld+json"})
    assert r.headers["Content-Type"].startswith("text/turtle")
    assert get(base, f"/{BIB}/data.xml").headers["Content-Type"].startswith("application/rdf+xml")
    r = get(base, f"/{BIB}/data.docx")
    assert r.status_code == 404 and r.json()["message"] == "docx"


def test_jsonld_context_reference_and_json_link_header(libris) -> None:
    base, _ = libris
    ld = get(base, f"/{BIB}", headers={"Accept": "application/ld+json"})
    assert ld.json()["@context"] == "/context.jsonld" and "@graph" in ld.json()
    assert f"<{BIB_IRI}>; rel=describedby" in ld.headers["Link"]
    js = get(base, f"/{BIB}", headers={"Accept": "application/json"})
    body = js.json()
    assert "@context" not in body and "@graph" not in body  # framed by default
    assert body["@id"] == BIB_IRI and body["mainEntity"]["hasTitle"][0]["mainTitle"] == "Fjällflora i förändring"
    assert js.headers["Link"] == '</context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    ctx = get(base, "/context.jsonld")
    assert ctx.status_code == 200 and ctx.json()["@context"]["@vocab"] == "https://id.kb.se/vocab/"


def test_embellished_adds_card_graphs_and_changes_etag(libris) -> None:
    base, _ = libris
    full = get(base, f"/{BIB}", headers={"Accept": "application/ld+json"})
    plain = get(base, f"/{BIB}?embellished=false", headers={"Accept": "application/ld+json"})
    graphs = [n for n in full.json()["@graph"] if "@graph" in n]
    assert f"{AUTHOR}?lens=card" in [g["@id"] for g in graphs]
    assert all(g["@id"].endswith("?lens=card") for g in graphs)
    assert len(plain.json()["@graph"]) == 3 and not any("@graph" in n for n in plain.json()["@graph"])
    assert re.fullmatch(r'"-?\d+"', plain.headers["ETag"])
    assert re.fullmatch(r'"-?\d+:-?\d+"', full.headers["ETag"])
    assert full.headers["ETag"].strip('"').split(":")[0] == plain.headers["ETag"].strip('"')


def test_if_none_match_gives_304(libris) -> None:
    base, _ = libris
    etag = get(base, f"/{BIB}").headers["ETag"]
    for variant in (etag, "W/" + etag, etag[:-1] + '-gzip"', '"other", ' + etag):
        r = get(base, f"/{BIB}", headers={"If-None-Match": variant})
        assert r.status_code == 304 and r.headers["ETag"] == etag and r.content == b"", variant
    assert get(base, f"/{BIB}", headers={"If-None-Match": '"123"'}).status_code == 200


def test_redirects_gone_and_not_found(libris) -> None:
    base, _ = libris
    r = get(base, f"/{MERGED}?lens=chip&embellished=false")
    assert r.status_code == 302 and r.headers["Location"] == f"{base}/{BIB}?lens=chip&embellished=false"
    r = get(base, "/http://libris.kb.se/bib/10564432/data.ttl")
    assert r.status_code == 302 and r.headers["Location"] == f"{base}/{BIB}/data.ttl"
    gone = get(base, f"/{DELETED}")
    assert gone.status_code == 410 and gone.json()["message"] == "Document has been deleted."
    missing = get(base, "/bcdfghjklmnpqrs")
    assert missing.status_code == 404 and missing.json() == {"status_code": 404, "status": "Not Found",
                                                               "message": "Document not found."}


def test_record_iri_in_path_with_repaired_slash(libris) -> None:
    base, _ = libris
    for path in (f"/{BIB_IRI}", f"/https:/libris.kb.se/{BIB}"):
        r = get(base, path, headers={"Accept": "application/ld+json"})
        assert r.status_code == 200 and r.headers["Document"] == BIB_IRI


@pytest.mark.parametrize("lens", ["chip", "card", "CARD"])
def test_lens_frames_the_main_entity(libris, lens: str) -> None:
    base, _ = libris
    r = get(base, f"/{BIB}?lens={lens}&framed=false", headers={"Accept": "application/ld+json"})
    body = r.json()
    assert body["@id"] == BIB_IRI + "#it" and body["meta"]["@id"] == BIB_IRI
    assert "@graph" not in body
    if lens == "chip":
        assert "extent" not in body and "instanceOf" not in body
    else:
        assert "extent" in body and body["instanceOf"]["@type"] == "Text"
    assert r.headers["Content-Location"] == f"{BIB_IRI}/data.jsonld?lens={lens.lower()}"


def test_lens_none_and_unknown_lens(libris) -> None:
    base, _ = libris
    body = get(base, f"/{BIB}?lens=none", headers={"Accept": "application/ld+json"}).json()
    assert "@graph" in body
    r = get(base, f"/{BIB}?lens=poster")
    assert r.status_code == 400 and r.json()["message"] == "Unknown lens: poster"


def test_unknown_profile_is_400(libris) -> None:
    base, _ = libris
    r = get(base, f"/{BIB}", params={"profile": "https://id.kb.se/vocab/context"})
    assert r.status_code == 400 and r.json()["message"] == "Profile <https://id.kb.se/vocab/context> is not available"
    r = get(base, f"/{BIB}", headers={"Accept-Profile": "<https://example.org/nothing>"})
    assert r.status_code == 400


def _quads(body: bytes, fmt: ox.RdfFormat) -> list[ox.Quad]:
    return list(ox.parse(body, format=fmt))


def test_rdf_serialisations_keep_or_merge_graphs(libris) -> None:
    base, _ = libris
    trig = _quads(get(base, f"/{BIB}/data.trig").content, ox.RdfFormat.TRIG)
    names = {str(q.graph_name) for q in trig if not isinstance(q.graph_name, ox.DefaultGraph)}
    assert f"<{AUTHOR}?lens=card>" in names
    turtle = list(ox.parse(get(base, f"/{BIB}/data.ttl").content, format=ox.RdfFormat.TURTLE))
    author = ox.NamedNode(AUTHOR + "#it")
    assert any(t.subject == author for t in turtle)  # merged in
    rdfxml = list(ox.parse(get(base, f"/{BIB}/data.rdf").content, format=ox.RdfFormat.RDF_XML))
    assert rdfxml and not any(t.subject == author for t in rdfxml)  # default graph only
    assert get(base, f"/{BIB}/data.ttl").content.startswith(b"@prefix")


def test_holding_embellishes_its_bib(libris, corpus: Corpus) -> None:
    base, _ = libris
    hold = corpus.holdings_of(BIB)[0].rsplit("/", 1)[1]
    body = get(base, f"/{hold}", headers={"Accept": "application/json"}).json()
    assert body["mainEntity"]["@type"] == "Item"
    assert body["mainEntity"]["itemOf"]["hasTitle"][0]["mainTitle"] == "Fjällflora i förändring"


@pytest.mark.realdata
def test_lens_tables_use_real_display_properties(shared_data: Path) -> None:
    """Every property our lens tables keep is one the real display.jsonld lenses list."""
    from linkeddata.emulator.libris_read import CARDS, CHIPS

    path = shared_data / "libris" / "vocab" / "display.jsonld"
    if not path.exists():
        pytest.skip("display.jsonld is absent from ../shared/data")
    groups = json.loads(path.read_text(encoding="utf-8"))["lensGroups"]
    real: set[str] = set()

    def collect(value) -> None:
        if isinstance(value, str):
            real.add(value)
        elif isinstance(value, list):
            for v in value:
                collect(v)
        elif isinstance(value, dict):
            for v in value.get("alternateProperties", []):
                collect(v)
    for group in groups.values():
        for lens in group.get("lenses", {}).values():
            collect(lens.get("showProperties", []))
    ours = {p for table in (CHIPS, CARDS) for props in table.values() for entry in props
            for p in (entry if isinstance(entry, tuple) else (entry,))}
    assert ours - real - {"prefLabelByLang"} == set()
