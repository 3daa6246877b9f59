"""Organisations: the German ISIL agency, the Swedish library database, one RDF model.

>>> from linkeddata.organisations import validate_isil, isil_for_sigel
>>> validate_isil("DE-1a"), isil_for_sigel("S")
('DE-1a', 'SE-S')

Typical use::

    from linkeddata.organisations import search_organisations, iter_libraries, organisation_records
    from linkeddata.stores import open_store

    with open_store("kg") as store:
        store.load_records(organisation_records(search_organisations("ort=berlin", max_items=50)))
        store.load_records(organisation_records(iter_libraries()))
"""

from __future__ import annotations

from .bibdb import get_libraries, get_library, iter_libraries, organisation_from_bibdb
from .isil import (
    MAX_PAGE_SIZE,
    OrgSearch,
    get_organisation,
    get_organisations,
    is_valid_isil,
    isil_for_sigel,
    organisation_from_member,
    organisation_from_pica,
    search_organisations,
    validate_isil,
)
from .model import (
    Address,
    Organisation,
    german_iri,
    organisation_records,
    organisation_to_rdf,
    organisations_to_graph,
    swedish_iri,
    to_ntriples,
)
from .pica import PicaRecord, iter_pica_text, parse_normalized_record, parse_plain_record, pica_from_json

__all__ = [
    "MAX_PAGE_SIZE", "Address", "OrgSearch", "Organisation", "PicaRecord", "german_iri", "get_libraries",
    "get_library", "get_organisation", "get_organisations", "is_valid_isil", "isil_for_sigel", "iter_libraries",
    "iter_pica_text", "organisation_from_bibdb", "organisation_from_member", "organisation_from_pica",
    "organisation_records", "organisation_to_rdf", "organisations_to_graph", "parse_normalized_record",
    "parse_plain_record", "pica_from_json", "search_organisations", "swedish_iri", "to_ntriples", "validate_isil",
]
