"""Profiles: offline mapping of KBV records to schema.org, bibo and BIBFRAME (TRLD),
and the emulated id.kb.se that serves contexts, target contexts and the vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from linkeddata import profiles
from linkeddata.emulator import Emulator
from linkeddata.emulator.idkbse import fixture_vocab, vocab_text
from linkeddata.errors import InvalidInputError, LinkedDataError, NotFoundError
from linkeddata.http import make_session

pytest.importorskip("trld")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

RECORD = "https://libris.kb.se/q7vd2mz4kx0bn5h"

#: A hand-written KBV bibliographic record in the stored shape (no @context).
KBV_DOC = {
    "@graph": [
        {
            "@id": RECORD,
            "@type": "Record",
            "controlNumber": "q7vd2mz4kx0bn5h",
            "created": "2019-11-05T13:02:11+01:00",
            "modified": "2023-02-17T08:45:30.112+01:00",
            "mainEntity": {"@id": RECORD + "#it"},
        },
        {
            "@id": RECORD + "#it",
            "@type": "Print",
            "hasTitle": [{"@type": "Title", "mainTitle": "Tranornas vår", "subtitle": "dagbok från Hornborgasjön"}],
            "identifiedBy": [{"@type": "ISBN", "value": "9789127184412"}],
            "publication": [{
                "@type": "PrimaryPublication",
                "year": "2018",
                "country": {"@id": "https://id.kb.se/country/sw"},
                "agent": {"@type": "Agent", "label": "Bokförlaget Ljungstjärna"},
            }],
            "extent": [{"@type": "Extent", "label": ["187 s."]}],
            "marc:otherPhysicalDetails": "ill.",
            "instanceOf": {
                "@type": "Text",
                "language": [{"@id": "https://id.kb.se/language/swe"}],
                "subject": [{"@id": "https://id.kb.se/term/sao/F%C3%A5glar"}],
                "contribution": [
                    {"@type": "PrimaryContribution",
                     "agent": {"@type": "Person", "givenName": "Ingrid", "familyName": "Sävström", "lifeSpan": "1961-"},
                     "role": [{"@id": "https://id.kb.se/relator/author"}]},
                    {"@type": "Contribution", "agent": {"@id": "https://libris.kb.se/n4f8wq1tz6dk0cm#it"},
                     "role": [{"@id": "https://id.kb.se/relator/illustrator"}]},
                ],
            },
        },
    ]
}


def _nodes(mapped: dict) -> dict[str, dict]:
    return {node["@id"]: node for node in mapped["@graph"]}


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- names


def test_resolve_profile_names_and_iris() -> None:
    assert profiles.resolve_profile("sdo") == "https://id.kb.se/sys/context/target/sdo-w3c"
    assert profiles.resolve_profile("bibo") == "https://id.kb.se/sys/context/target/bibo-w3c"
    assert profiles.resolve_profile("loc") == "https://id.kb.se/sys/context/target/loc-w3c-sdo"
    assert profiles.resolve_profile("loc-dcmi-w3c") == "https://id.kb.se/sys/context/target/loc-dcmi-w3c"
    plain = "https://id.kb.se/sys/context/target/sdo"
    assert profiles.resolve_profile(f"<{plain}>") == plain
    assert set(profiles.PROFILES.values()) <= set(profiles.AVAILABLE_PROFILES)


def test_unknown_profile_name_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="unknown profile 'dublincore'"):
        profiles.resolve_profile("dublincore")
    with pytest.raises(InvalidInputError):
        profiles.map_to_profile(KBV_DOC, "marc21", fixture_vocab())


def test_unknown_profile_iri_is_not_available() -> None:
    with pytest.raises(InvalidInputError, match="is not available"):
        profiles.map_to_profile(KBV_DOC, "https://id.kb.se/vocab/context", fixture_vocab())


def test_kbv_profile_leaves_document_alone() -> None:
    assert profiles.map_to_profile(KBV_DOC, profiles.KBV_PROFILE, fixture_vocab()) is KBV_DOC


# ---------------------------------------------------------------- vocabulary


def test_fixture_vocab_parses_lists_for_property_chains() -> None:
    vocab = fixture_vocab()
    index = {node["@id"]: node for node in vocab["@graph"]}
    chain = index["https://id.kb.se/vocab/title"]["http://www.w3.org/2002/07/owl#propertyChainAxiom"]
    assert chain == [{"@list": [{"@id": "https://id.kb.se/vocab/hasTitle"}, {"@id": "https://id.kb.se/vocab/mainTitle"}]}]
    assert not any("http://www.w3.org/1999/02/22-rdf-syntax-ns#first" in node for node in vocab["@graph"])
    assert fixture_vocab() is vocab  # one object: target maps are cached per vocabulary


def test_load_vocab_from_files(tmp_path: Path) -> None:
    ttl = tmp_path / "vocab.ttl"
    ttl.write_text(vocab_text(), encoding="utf-8")
    from_ttl = profiles.load_vocab(ttl)
    jsonld = tmp_path / "vocab.jsonld"
    jsonld.write_text(json.dumps(fixture_vocab()["@graph"]), encoding="utf-8")
    from_jsonld = profiles.load_vocab(jsonld)
    assert len(from_ttl["@graph"]) == len(from_jsonld["@graph"]) == len(fixture_vocab()["@graph"])
    sdo_a = profiles.map_to_profile(KBV_DOC, "sdo", from_ttl)
    sdo_b = profiles.map_to_profile(KBV_DOC, "sdo", from_jsonld)
    assert sdo_a == sdo_b
    with pytest.raises(InvalidInputError, match="not found"):
        profiles.load_vocab(tmp_path / "missing.ttl")


DISPLAY_JSONLD = {"@context": {"@vocab": "https://id.kb.se/vocab/", "fresnel": "http://www.w3.org/2004/09/fresnel#",
                               "lensGroups": {"@id": "@graph", "@container": "@index"},
                               "lenses": {"@reverse": "fresnel:group", "@container": "@index"}},
                  "lensGroups": {"chips": {"@id": "chips", "lenses": {"Instance": {"@id": "Instance-chips"}}}},
                  "@graph": [{"@id": "x", "lensGroups": {}}]}  # a @graph twice: "colliding keywords", as the real one


def test_vocab_folder_reads_only_rdf_and_skips_display_jsonld(tmp_path: Path) -> None:
    (tmp_path / "vocab.ttl").write_text(vocab_text(), encoding="utf-8")
    (tmp_path / "display.jsonld").write_text(json.dumps(DISPLAY_JSONLD), encoding="utf-8")
    (tmp_path / "README.md").write_text("# not RDF", encoding="utf-8")
    vocab = profiles.load_vocab(tmp_path)
    assert len(vocab["@graph"]) == len(fixture_vocab()["@graph"])
    with pytest.raises(LinkedDataError):  # named explicitly, a file that is not vocabulary RDF is an error
        profiles.load_vocab(tmp_path / "display.jsonld")
    source = tmp_path.parent / "record.jsonld"
    source.write_text(json.dumps(KBV_DOC), encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["map", str(source), "--profile", "sdo", "--vocab", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["@context"]


def test_bad_turtle_vocab_is_a_parse_error() -> None:
    from linkeddata.errors import ParseError

    with pytest.raises(ParseError, match="not valid Turtle"):
        profiles.vocab_from_turtle("@prefix : <x> . :a :b", source="broken.ttl")


# ---------------------------------------------------------------- mapping


def test_maps_to_schema_org() -> None:
    mapped = profiles.map_to_profile(KBV_DOC, "sdo", fixture_vocab())
    assert mapped["@context"] == "https://id.kb.se/sys/context/target/sdo-w3c"
    nodes = _nodes(mapped)
    instance = nodes[RECORD + "#it"]
    assert instance["@type"] == "CreativeWork"
    assert instance["name"] == "Tranornas vår"
    assert instance["isbn"] == "9789127184412"
    assert instance["datePublished"] == "2018"
    assert instance["publisher"]["name"] == "Bokförlaget Ljungstjärna"
    work = instance["exampleOfWork"]
    assert work["@type"] == "CreativeWork"
    agents = _as_list(work["contributor"])
    assert {"@id": "https://libris.kb.se/n4f8wq1tz6dk0cm#it"} in agents
    person = next(a for a in agents if a.get("@type") == "Person")
    assert (person["givenName"], person["familyName"]) == ("Ingrid", "Sävström")
    assert work["about"] == {"@id": "https://id.kb.se/term/sao/F%C3%A5glar"}
    record = nodes[RECORD]
    assert record["mainEntity"] == {"@id": RECORD + "#it"}
    assert record["dateModified"]["@value"] == "2023-02-17T08:45:30.112+01:00"
    # unmapped KBV and MARC terms are dropped; the TRLD index leaves no @reverse behind
    text = json.dumps(mapped)
    assert "otherPhysicalDetails" not in text and "hasTitle" not in text and "@reverse" not in text


def test_maps_to_bibo_and_dublin_core() -> None:
    mapped = profiles.map_to_profile(KBV_DOC, "bibo", fixture_vocab())
    nodes = _nodes(mapped)
    instance = nodes[RECORD + "#it"]
    assert instance["@type"] == "dc:BibliographicResource"
    assert instance["dc:title"] == "Tranornas vår"
    assert instance["bibo:isbn"] == "9789127184412"
    assert instance["dc:issued"] == "2018"
    assert instance["dc:isFormatOf"]["@type"] == "dctype:Text"
    assert len(_as_list(instance["dc:isFormatOf"]["dc:contributor"])) == 2
    assert nodes[RECORD]["foaf:primaryTopic"] == {"@id": RECORD + "#it"}


def test_maps_to_bibframe() -> None:
    mapped = profiles.map_to_profile(KBV_DOC, "loc", fixture_vocab())
    assert mapped["@context"] == "https://id.kb.se/sys/context/target/loc-w3c-sdo"
    instance = _nodes(mapped)[RECORD + "#it"]
    assert instance["@type"] == "bf2:Print"
    assert instance["bf2:title"]["bf2:mainTitle"] == "Tranornas vår"
    assert instance["bf2:title"]["bf2:subtitle"] == "dagbok från Hornborgasjön"
    assert instance["bf2:identifiedBy"] == {"@type": "bf2:Isbn", "rdf:value": "9789127184412"}
    assert instance["bf2:provisionActivity"]["@type"] == "bf2:Publication"
    contributions = _as_list(instance["bf2:instanceOf"]["bf2:contribution"])
    assert [c["@type"] for c in contributions] == ["bflc:PrimaryContribution", "bf2:Contribution"]
    assert contributions[0]["bf2:role"] == {"@id": "https://id.kb.se/relator/author"}


def test_keep_unmapped_terms() -> None:
    mapped = profiles.map_to_profile(KBV_DOC, "sdo", fixture_vocab(), drop_unmapped=False)
    assert "https://id.kb.se/marc/otherPhysicalDetails" in json.dumps(mapped)


def test_map_document_from_turtle_file(tmp_path: Path) -> None:
    from linkeddata.jsonld import to_nquads

    path = tmp_path / "record.nt"
    path.write_text(to_nquads(KBV_DOC), encoding="utf-8")
    mapped = profiles.map_document(path, "sdo", vocab=fixture_vocab())
    names = [n.get("name") for n in mapped["@graph"]]
    assert "Tranornas vår" in names


# ---------------------------------------------------------------- emulator


def test_idkbse_serves_contexts_targets_and_vocab() -> None:
    with Emulator(services=["id"]) as emu:
        session = make_session(cache=False, rate_limit=None)
        base = emu.url("id")
        for path in ("/context.jsonld", "/sys/context/kbv", "/shared.jsonld"):
            r = session.get(base + path)
            assert r.status_code == 200, path
            assert r.headers["Content-Type"] == "application/ld+json"
            assert "@context" in r.json()
        for name in ("sdo-w3c", "bibo-w3c", "loc-w3c-sdo", "loc-dcmi-w3c", "sdo"):
            r = session.get(f"{base}/sys/context/target/{name}")
            assert r.status_code == 200 and r.headers["Content-Type"] == "application/ld+json"
            assert isinstance(r.json()["@context"], list)
        assert session.get(base + "/sys/context/target/marc").status_code == 404

        ttl = session.get(base + "/vocab/", headers={"Accept": "text/turtle"})
        assert ttl.headers["Content-Type"].startswith("text/turtle")
        assert "owl:propertyChainAxiom" in ttl.text
        js = session.get(base + "/vocab", headers={"Accept": "application/ld+json"})
        assert js.headers["Content-Type"] == "application/ld+json"
        assert any(n["@id"] == "https://id.kb.se/vocab/Instance" for n in js.json())


def test_idkbse_term_records_negotiate() -> None:
    with Emulator(services=["id"]) as emu:
        session = make_session(cache=False, rate_limit=None)
        base = emu.url("id")
        r = session.get(base + "/language/swe")
        assert r.headers["Content-Type"] == "application/ld+json"
        doc = r.json()
        assert doc["@context"] == "/context.jsonld"
        record, thing = doc["@graph"][:2]
        assert record["@type"] == "Record" and record["mainEntity"] == {"@id": "https://id.kb.se/language/swe"}
        assert thing["@id"] == "https://id.kb.se/language/swe"
        r = session.get(base + "/country/sw", headers={"Accept": "text/turtle"})
        assert r.headers["Content-Type"].startswith("text/turtle")
        assert "<https://id.kb.se/country/sw>" in r.text
        r = session.get(base + "/relator/author", headers={"Accept": "application/json"})
        assert "@context" not in r.json() and "json-ld#context" in r.headers["Link"]
        assert session.get(base + "/term/sao/Finns%20inte").status_code == 404


def test_load_vocab_fetches_from_configured_id_service() -> None:
    profiles._VOCAB_CACHE.clear()
    try:
        with Emulator(services=["id"]) as emu, emu.environment():
            session = make_session(cache=False, rate_limit=None)
            vocab = profiles.load_vocab(session=session)
            again = profiles.load_vocab(session=session)
            assert again is vocab
            assert len(emu.requests_to("id")) == 1
            assert len(vocab["@graph"]) == len(fixture_vocab()["@graph"])
            mapped = profiles.map_to_profile(KBV_DOC, "sdo", session=session)
            assert _nodes(mapped)[RECORD + "#it"]["name"] == "Tranornas vår"
    finally:
        profiles._VOCAB_CACHE.clear()


def test_load_vocab_missing_service_path_is_not_found() -> None:
    profiles._VOCAB_CACHE.clear()
    with Emulator(services=["id"]) as emu:
        emu.faults.add("status", service="id", path=r"^/vocab", status=404, times=None)
        with emu.environment(), pytest.raises(NotFoundError):
            profiles.load_vocab(session=make_session(cache=False, rate_limit=None, retries=0))
    profiles._VOCAB_CACHE.clear()


# ---------------------------------------------------------------- CLI


def _cli() -> click.Group:
    from linkeddata.cli.common import LinkedDataGroup
    from linkeddata.cli.profiles_cmd import add_map

    @click.group(cls=LinkedDataGroup)
    def group() -> None:
        pass

    add_map(group)
    return group


def test_cli_map_file(tmp_path: Path) -> None:
    source = tmp_path / "record.jsonld"
    source.write_text(json.dumps(KBV_DOC), encoding="utf-8")
    vocab = tmp_path / "vocab.ttl"
    vocab.write_text(vocab_text(), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(_cli(), ["map", str(source), "--profile", "bibo", "--vocab", str(vocab)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["@context"] == "https://id.kb.se/sys/context/target/bibo-w3c"
    out = tmp_path / "out.ttl"
    result = runner.invoke(_cli(), ["map", str(source), "--profile", "loc", "--vocab", str(vocab), "--format", "ttl", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    assert "bf2:mainTitle" in text and "a bf2:Print" in text
    result = runner.invoke(_cli(), ["map", str(source), "--profile", "nonsense", "--vocab", str(vocab)])
    assert result.exit_code == 1 and "unknown profile" in result.output
    nowhere = tmp_path / "no-such-dir" / "out.json"
    result = runner.invoke(_cli(), ["map", str(source), "--profile", "sdo", "--vocab", str(vocab), "-o", str(nowhere)])
    assert result.exit_code == 1 and "cannot write" in result.output


def test_non_utf8_files_are_parse_errors_not_tracebacks(tmp_path: Path) -> None:
    from linkeddata.errors import ParseError

    latin1 = tmp_path / "record.jsonld"
    latin1.write_bytes(json.dumps({"@id": RECORD, "mainTitle": "Fåglar"}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ParseError, match="not UTF-8"):
        profiles.read_document(latin1)
    vocab = tmp_path / "vocab.ttl"
    vocab.write_bytes("@prefix : <https://id.kb.se/vocab/> . :Fågel a :Class .".encode("latin-1"))
    with pytest.raises(ParseError, match="not UTF-8"):
        profiles.load_vocab(vocab)
    with pytest.raises(ParseError, match="not UTF-8"):
        profiles.vocab_from_text("{\"å\": 1}".encode("latin-1"), source="vocab.jsonld")
    vocab_ok = tmp_path / "ok.ttl"
    vocab_ok.write_text(vocab_text(), encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["map", str(latin1), "--profile", "sdo", "--vocab", str(vocab_ok)])
    assert result.exit_code == 1 and "not UTF-8" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_vocab_maps_template_record_to_schema_org() -> None:
    vocab_dir = SHARED_DATA / "libris" / "vocab"
    template = SHARED_DATA / "libris" / "records" / "template-bib0.jsonld"
    if not vocab_dir.is_dir() or not template.is_file():
        pytest.skip("shared real data not available")
    vocab = profiles.load_vocab(sorted(vocab_dir.glob("*.ttl")))
    text = template.read_text("utf-8").replace("TEMPBASEURI", "https://libris.kb.se/").replace("TEMPID", "b8cz3kt1x9w0qhd")
    mapped = profiles.map_to_profile(json.loads(text), "sdo", vocab)
    instance = _nodes(mapped)["https://libris.kb.se/b8cz3kt1x9w0qhd#it"]
    assert instance["@type"] == "CreativeWork"
    assert isinstance(instance["name"], str) and instance["name"]
    assert "exampleOfWork" in instance
    assert "hasTitle" not in json.dumps(mapped)
