"""Organisation files without the network: ``linkeddata load FILE.pica`` (PICA+ text, agency JSON)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.organisations.files import read_organisation_file
from linkeddata.organisations.pica import pica_to_compact, pica_to_json, parse_plain_record
from linkeddata.stores import open_store

PLAIN = """008H $eDE-Xy1$dXy 1$bAB001$a123456-7
029A $aTestbibliothek Xy
032P $aHauptstr. 1$bBerlin$e10115$dDE$2S
035B $aS$kinfo@xy.example$d49$e30$f123
035B $aW$bFernleihe$kfl@xy.example$g49$h30$i124

008H $eDE-Xy2
029A $aZweite Bibliothek
032P $bHamburg$2P

029A $aohne ISIL
"""


def test_plain_pica_many_records_bad_one_named(tmp_path):
    path = tmp_path / "libs.pica"
    path.write_text(PLAIN, encoding="utf-8")
    orgs, skipped = read_organisation_file(path)
    assert [o.isil for o in orgs] == ["DE-Xy1", "DE-Xy2"]
    assert len(skipped) == 1 and "no ISIL" in skipped[0][1]
    first = orgs[0]
    assert first.gnd == "123456-7" and first.dbs == "AB001"
    assert [(c.name, c.email, c.fax) for c in first.contacts][1] == ("Fernleihe", "fl@xy.example", "+49 30 124")


def test_agency_json_shapes(tmp_path):
    rec = parse_plain_record(PLAIN.split("\n\n")[0])
    shapes = {"collection.pica.json": {"totalItems": 1, "member": [{"identifier": "DE-Xy1", "data": pica_to_json(rec)}]},
              "member.pica.json": {"_id": "DE-Xy1", "record": pica_to_compact(rec)},
              "bare.pica.json": pica_to_json(rec),
              "list.pica": [{"data": pica_to_json(rec)}, {"data": {"029A": {"a": "kein ISIL"}}}]}
    for name, data in shapes.items():
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        orgs, skipped = read_organisation_file(path)
        assert [o.isil for o in orgs] == ["DE-Xy1"], name
        assert len(skipped) == (1 if name == "list.pica" else 0), name


def test_cli_load_pica_offline(tmp_path):
    path = tmp_path / "libs.pica"
    path.write_text(PLAIN, encoding="utf-8")
    store = tmp_path / "kg"
    env = {"LINKEDDATA_ISIL_URL": "http://127.0.0.1:9", "LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:9"}
    res = CliRunner().invoke(cli, ["load", str(path), "--store", str(store)], env=env)
    assert res.exit_code == 2, res.output  # one record skipped and named
    assert "ohne ISIL" in res.output or "record 3" in res.output
    with open_store(store) as st:
        assert st.graphs() == {"http://lobid.org/organisations/DE-Xy1#!", "http://lobid.org/organisations/DE-Xy2#!"}
        ask = ('ASK { ?o <http://schema.org/contactPoint> [ <http://schema.org/faxNumber> "+49 30 124" ] ; '
               '<http://schema.org/sameAs> <https://d-nb.info/gnd/123456-7> }')
        assert st.query(ask)
