"""Every IRI rule of the data has one home: :mod:`linkeddata.config` (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from linkeddata import config
from linkeddata.libris import find, read, write
from linkeddata.organisations import model

PACKAGE = Path(config.__file__).parent


@pytest.mark.parametrize("sigel, iri", [
    ("Hig", "https://libris.kb.se/library/Hig"),
    (" Umu\n", "https://libris.kb.se/library/Umu"),
    ("S x", "https://libris.kb.se/library/Sx"),
    ("Ä/b", "https://libris.kb.se/library/%C3%84%2Fb"),
    ("https://libris.kb.se/library/Umu", "https://libris.kb.se/library/Umu"),
])
def test_one_library_iri_rule(sigel, iri):
    for function in (config.library_iri, find.library_iri, write.library_iri, model.swedish_iri):
        assert function(sigel) == iri


def test_the_clients_share_the_config_rules():
    assert find.library_iri is write.library_iri is model.swedish_iri is config.library_iri
    assert read.KBV_PROFILE is config.KBV_PROFILE
    assert model.AGENCY_BASE == config.SERVICES["isil"] and model.BIBDB_BASE == config.SERVICES["bibdb"]


def test_bases_are_declared_once():
    """No client or job spells a service's canonical base, the library base or the KBV
    profile as a literal constant (the emulator, the servers' side, has its own)."""
    literals = [re.escape(base) + "/?" for base in config.SERVICES.values()]
    literals += [r"https?://[^\"]*/library/", r"https?://[^\"]*/sys/context/kbv"]
    pattern = re.compile(r'^[A-Z_]+\s*(?::[^=\n]+)?=\s*"(' + "|".join(literals) + ')"', re.MULTILINE)
    found = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
             if path.name != "config.py" and "emulator" not in path.parts and pattern.search(path.read_text("utf-8"))]
    assert not found, f"constants re-declaring a base (import it from linkeddata.config): {found}"


def test_one_target_context():
    from linkeddata import jsonld, profiles

    assert not hasattr(jsonld, "target_context")
    assert profiles.target_context("sdo") == jsonld.pinned_context(profiles.PROFILES["sdo"])
