"""linkeddata: turn library linked data into a local, queryable knowledge graph.

>>> import linkeddata as ld
>>> store = ld.open_store(None)            # in memory; pass a folder for an on-disk store
>>> len(store)
0

The names below are the public API; each is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from .errors import (
    AuthError,
    ConfigError,
    ConflictError,
    GoneError,
    HTTPError,
    InvalidInputError,
    InvalidISILError,
    JsonLdError,
    LinkedDataError,
    NegotiationError,
    NotFoundError,
    OAIError,
    ParseError,
    QueryError,
    ServiceUnavailableError,
    StoreError,
    StoreLockedError,
)
from .records import Record

# Eager: a lazy name equal to a submodule's would turn into the module once anything imports it.
from .progress import progress

if TYPE_CHECKING:  # the lazy names below, for type checkers (tests/test_api.py keeps the two in step)
    from .http import make_session as make_session
    from .config import service_url as service_url
    from .store import open_store as open_store
    from .store import LocalStore as LocalStore
    from .remote import RemoteStore as RemoteStore
    from .store_protocol import Store as Store
    from .store_protocol import StoreCapabilities as StoreCapabilities
    from .store import LoadStats as LoadStats
    from .sources import load_sources as load_sources
    from .query import run_query as run_query
    from .query import bundled_queries as bundled_queries
    from .query import format_results as format_results
    from .jsonld import expand as expand
    from .jsonld import compact as compact
    from .jsonld import frame as frame
    from .jsonld import to_nquads as to_nquads
    from .jsonld import kbv_context as kbv_context
    from .jsonld import make_document_loader as make_document_loader
    from .profiles import map_to_profile as map_to_profile
    from .profiles import resolve_profile as resolve_profile
    from .libris.read import fetch_record as fetch_record
    from .libris.find import iter_find as iter_find
    from .libris.oaipmh import OAIClient as OAIClient
    from .libris.changes import iter_changes as iter_changes
    from .organisations.isil import search_organisations as search_organisations
    from .organisations.isil import get_organisation as get_organisation
    from .organisations.isil import validate_isil as validate_isil
    from .organisations.bibdb import iter_libraries as iter_libraries
    from .organisations.bibdb import get_library as get_library
    from .organisations.model import organisation_records as organisation_records
    from .build import run_build as run_build
    from .build import load_config as load_config
    from .build import run_demo as run_demo
    from .harvest import harvest_find as harvest_find
    from .harvest import harvest_oai as harvest_oai
    from .harvest import harvest_changes as harvest_changes
    from .emulator import Emulator as Emulator
    from .notebook import to_dataframe as to_dataframe
    from .notebook import query_df as query_df
    from .notebook import frame_instances as frame_instances
    from .notebook import to_rdflib as to_rdflib
    from .notebook import from_rdflib as from_rdflib

_LAZY: dict[str, str] = {
    # HTTP and configuration
    "make_session": "http",
    "service_url": "config",
    # stores and queries
    "open_store": "store",
    "LocalStore": "store",
    "RemoteStore": "remote",
    "Store": "store_protocol",
    "StoreCapabilities": "store_protocol",
    "LoadStats": "store",
    "load_sources": "sources",
    "run_query": "query",
    "bundled_queries": "query",
    "format_results": "query",
    "dump_store": "dump",
    # JSON-LD and profiles
    "expand": "jsonld",
    "compact": "jsonld",
    "frame": "jsonld",
    "to_nquads": "jsonld",
    "kbv_context": "jsonld",
    "make_document_loader": "jsonld",
    "map_to_profile": "profiles",
    "resolve_profile": "profiles",
    # Libris
    "fetch_record": "libris.read",
    "iter_find": "libris.find",
    "OAIClient": "libris.oaipmh",
    "iter_changes": "libris.changes",
    # organisations
    "search_organisations": "organisations.isil",
    "get_organisation": "organisations.isil",
    "validate_isil": "organisations.isil",
    "iter_libraries": "organisations.bibdb",
    "get_library": "organisations.bibdb",
    "organisation_records": "organisations.model",
    # jobs
    "run_build": "build",
    "load_config": "build",
    "run_demo": "build",
    "harvest_find": "harvest",
    "harvest_oai": "harvest",
    "harvest_changes": "harvest",
    # the emulator (also as linkeddata.testing, with the pytest fixtures)
    "Emulator": "emulator",
    # DataFrames, rdflib and progress (the notebook extra)
    "to_dataframe": "notebook",
    "query_df": "notebook",
    "frame_instances": "notebook",
    "to_rdflib": "notebook",
    "from_rdflib": "notebook",
}

__all__ = sorted([
    "__version__", "Record", "LinkedDataError", "ConfigError", "InvalidInputError", "InvalidISILError",
    "ParseError", "HTTPError", "NotFoundError", "GoneError", "NegotiationError", "AuthError", "ConflictError",
    "ServiceUnavailableError", "OAIError", "JsonLdError", "StoreError", "StoreLockedError", "QueryError",
    "progress", *_LAZY,
])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'linkeddata' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext linkeddata`` registers the ``%sparql``/``%%sparql`` magics."""
    from .notebook import load_ipython_extension as load

    load(ipython)
