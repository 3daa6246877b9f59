"""Real-data tier: every record of ../shared/data/isil/sigel.dat becomes valid RDF."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from linkeddata.organisations import iter_pica_text, organisation_from_pica, organisation_to_rdf, validate_isil
from linkeddata.organisations.model import LV, SDO, to_ntriples

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SIGEL_DAT = DATA / "isil" / "sigel.dat"

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def records():
    if not SIGEL_DAT.is_file():
        pytest.skip(f"{SIGEL_DAT} is not present")
    text = SIGEL_DAT.read_text(encoding="utf-8")
    lines = [line for line in text.split("\n") if line.strip()]
    recs = list(iter_pica_text(text, source=SIGEL_DAT.name, strict=True))
    assert len(recs) == len(lines)
    return recs


def test_every_record_becomes_valid_rdf(records):
    store = ox.Store()
    for rec in records:
        org = organisation_from_pica(rec)
        assert validate_isil(org.isil) == org.isil
        quads = organisation_to_rdf(org)
        parsed = list(ox.parse(to_ntriples(org), format=ox.RdfFormat.N_TRIPLES))
        assert len(parsed) == len(quads) > 5
        store.extend(quads)
        subject = ox.NamedNode(org.iri)
        assert list(store.quads_for_pattern(subject, ox.NamedNode(LV + "isil"), ox.Literal(org.isil)))
        assert list(store.quads_for_pattern(subject, ox.NamedNode(SDO + "name"), None))
    graphs = {g.value for g in store.named_graphs()}
    assert len(graphs) == len(records)


def test_coordinates_and_addresses_are_read(records):
    orgs = [organisation_from_pica(r) for r in records]
    assert all(o.city for o in orgs)
    with_geo = [o for o in orgs if o.has_coordinates]
    assert with_geo, "sigel.dat records carry 032P $k/$l"
    for org in with_geo:
        assert 47 <= float(org.latitude) <= 56 and 5 <= float(org.longitude) <= 16  # Germany


def _reaches(value: str, objects: set[str]) -> bool:
    """Whether a subfield value is in the RDF: a literal or IRI equal to it, an IRI ending in it
    (coded values such as ``…/fundertype#n07``), or, from two characters on, a literal or IRI holding
    it as a whole token (a phone number's parts, an e-mail in ``mailto:``)."""
    import re

    value = " ".join(value.split()).strip(" :")
    if not value:
        return True
    pattern = re.compile(r"(?<![\w])" + re.escape(value) + r"(?![\w])") if len(value) >= 2 else None
    suffixes = tuple(sep + value for sep in ("/", "#n", ":"))
    return any(o == value or o.endswith(suffixes) or (pattern and pattern.search(o)) for o in objects)


def test_pica_subfield_coverage_is_at_least_95_percent(records):
    from linkeddata.organisations.isil import ADMINISTRATIVE_FIELDS, CODE_LABELS

    reached = total = 0
    lost: list[str] = []
    for rec in records:
        org = organisation_from_pica(rec)
        objects = {" ".join(q.object.value.split()) for q in organisation_to_rdf(org)
                   if not isinstance(q.object, ox.BlankNode)}
        for tag, occurrences in rec.fields.items():
            if tag in ADMINISTRATIVE_FIELDS:
                continue
            for occ in occurrences:
                for code, values in occ.items():
                    for value in values:
                        total += 1
                        label = CODE_LABELS.get((tag, code), {}).get(value)
                        if _reaches(value, objects) or (label is not None and label in objects):
                            reached += 1
                        else:
                            lost.append(f"{org.isil} {tag} ${code} {value[:30]!r}")
    ratio = reached / total
    print(f"PICA+ coverage: {reached} of {total} non-administrative subfield values ({ratio:.1%}); lost: {lost}")
    assert total == 514
    assert ratio >= 0.95, lost
