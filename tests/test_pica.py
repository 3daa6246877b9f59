"""PICA+ parsing: normalized and plain text, the agency's JSON shapes, odd input."""

from __future__ import annotations

import pytest

from linkeddata.errors import ParseError
from linkeddata.organisations.pica import (
    iter_pica_text,
    parse_normalized_record,
    parse_plain_record,
    pica_from_json,
    pica_to_compact,
    pica_to_json,
)

RS, US = "\x1e", "\x1f"

NORMALIZED = (
    "012345678X             "
    f"{RS}001B {US}01100:04-02-24{US}t09:12:44.000"
    f"{RS}003@ {US}0012345678X"
    f"{RS}008H {US}dXy 7{US}eDE-Xy7"
    f"{RS}029A {US}aBibliothek am Fluss"
    f"{RS}029@ {US}aFlussbibliothek"
    f"{RS}032P {US}aUferweg 3{US}bFlussstadt{US}dDE{US}e12345{US}k10.5{US}l51.25{US}2S"
    f"{RS}032P {US}bFlussstadt{US}e12340{US}2P"
    f"{RS}035E {US}dBVB{US}dSWB{US}f60"
    f"{RS}"
)

PLAIN = """003@ $0987654321
008H $eDE-Ab12$dAb 12
029A $aKosten $$ Nutzen, Bibliothek
032P $aMarkt 1$bAbstadt$2S
"""


def test_normalized_record_fields_and_repeats():
    rec = parse_normalized_record(NORMALIZED)
    assert rec.ppn == "012345678X"
    assert rec.first("008H", "e") == "DE-Xy7"
    assert rec.first("008H", "d") == "Xy 7"
    assert len(rec.get("032P")) == 2
    assert rec.values("032P", "2") == ["S", "P"]
    assert rec.values("035E", "d") == ["BVB", "SWB"]
    assert rec.first("032P", "k") == "10.5"
    assert rec.first("999X", "a") is None


def test_plain_record_with_escaped_dollar():
    rec = parse_plain_record(PLAIN)
    assert rec.ppn == "987654321"
    assert rec.first("029A", "a") == "Kosten $ Nutzen, Bibliothek"
    assert rec.first("032P", "b") == "Abstadt"


def test_iter_text_detects_both_forms_and_skips_odd_records(caplog):
    two = NORMALIZED + "\n" + NORMALIZED.replace("DE-Xy7", "DE-Xy8") + "\n"
    assert [r.first("008H", "e") for r in iter_pica_text(two)] == ["DE-Xy7", "DE-Xy8"]
    plain = PLAIN + "\n\n" + "this is not pica\n\n" + PLAIN.replace("DE-Ab12", "DE-Ab13")
    recs = list(iter_pica_text(plain))
    assert [r.first("008H", "e") for r in recs] == ["DE-Ab12", "DE-Ab13"]
    with pytest.raises(ParseError, match="record 2"):
        list(iter_pica_text(plain, strict=True))


def test_json_object_shapes_are_read_leniently():
    rec = pica_from_json({
        "008H": {"e": "DE-Xy7", "d": "Xy 7"},                      # one occurrence as an object
        "029@": [{"a": "Eins"}, {"a": ["Zwei", "Drei"]}],            # occurrences as a list, value as a list
        "032P/01": {"$a": "Weg 1", "$b": "Ort"},                     # occurrence suffix, $-prefixed codes
        "035E": ["d", "BVB", "f", "60"],                             # one occurrence as code/value pairs
    })
    assert rec.first("008H", "e") == "DE-Xy7"
    assert rec.values("029@", "a") == ["Eins", "Zwei", "Drei"]
    assert rec.first("032P", "a") == "Weg 1"
    assert rec.first("035E", "f") == "60"


def test_json_compact_shapes():
    with_occ = pica_from_json([["008H", None, "e", "DE-Xy7"], ["032P", "01", "b", "Ort", "2", "S"]])
    without_occ = pica_from_json([["008H", "e", "DE-Xy7"], ["032P", "b", "Ort", "2", "S"]])
    assert with_occ.to_dict() == without_occ.to_dict()
    assert with_occ.values("032P", "2") == ["S"]


@pytest.mark.parametrize("bad", [
    "just text", 42, None, {}, [], {"bad tag": {"a": "x"}}, {"029A": "plain string"}, {"029A": {"ab": "x"}},
    {"029A": {"a": {"nested": 1}}}, [["029A", None, "a"]], [[1, "a", "x"]], ["029A"],
    [["029A", None, "ab", "x"]], [["029A", None, "$", "x"]],
])
def test_json_odd_shapes_raise_parse_error(bad):
    with pytest.raises(ParseError):
        pica_from_json(bad, "test record")


def test_normalized_bad_tag_raises():
    with pytest.raises(ParseError, match="bad PICA"):
        parse_normalized_record(f"x{RS}XXXX {US}afoo")


def test_json_roundtrips():
    rec = parse_normalized_record(NORMALIZED)
    assert pica_from_json(pica_to_json(rec)).to_dict() == rec.to_dict()
    assert pica_from_json(pica_to_compact(rec)).to_dict() == rec.to_dict()
