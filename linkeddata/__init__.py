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
    BadResponseError,
    ConfigError,
    ConflictError,
    GoneError,
    HTTPError,
    InvalidInputError,
    InvalidISILError,
    JsonLdError,
    LinkedDataError,
    MissingExtraError,
    NegotiationError,
    NotFoundError,
    OAIError,
    PageLimitError,
    ParseError,
    QueryError,
    RepeatedPageError,
    ServiceUnavailableError,
    StoreBusyError,
    StoreError,
    StoreLockedError,
)
from .records import Record

# Eager: a lazy name equal to a submodule's would turn into the module once anything imports it.
from .progress import progress

if TYPE_CHECKING:  # the lazy names below, for type checkers (tests/test_api.py keeps them in step)
    from .build import load_config as load_config, run_build as run_build
    from .config import service_url as service_url
    from .demo import run_demo as run_demo
    from .dump import dump_store as dump_store
    from .emulator import Emulator as Emulator
    from .harvest import harvest_changes as harvest_changes, harvest_find as harvest_find, harvest_oai as harvest_oai
    from .harvest_files import harvest_oai_files as harvest_oai_files
    from .http import make_session as make_session
    from .jsonld import (
        compact as compact,
        expand as expand,
        frame as frame,
        kbv_context as kbv_context,
        make_document_loader as make_document_loader,
        to_nquads as to_nquads,
    )
    from .libris.changes import iter_changes as iter_changes
    from .libris.find import iter_find as iter_find
    from .libris.history import (
        get_changesets as get_changesets,
        get_version as get_version,
        load_version as load_version,
    )
    from .libris.oaipmh import OAIClient as OAIClient
    from .libris.read import fetch_record as fetch_record
    from .notebook import (
        frame_instances as frame_instances,
        from_rdflib as from_rdflib,
        query_df as query_df,
        to_dataframe as to_dataframe,
        to_rdflib as to_rdflib,
    )
    from .organisations.bibdb import get_library as get_library, iter_libraries as iter_libraries
    from .organisations.files import load_organisation_file as load_organisation_file
    from .organisations.isil import (
        get_organisation as get_organisation,
        lookup_organisations as lookup_organisations,
        search_organisations as search_organisations,
        validate_isil as validate_isil,
    )
    from .organisations.model import organisation_records as organisation_records
    from .profiles import map_to_profile as map_to_profile, resolve_profile as resolve_profile
    from .query import bundled_queries as bundled_queries, format_results as format_results, run_query as run_query
    from .query_run import QueryLimitError as QueryLimitError, stream_query as stream_query
    from .remote import RemoteStore as RemoteStore
    from .sources import load_sources as load_sources
    from .store import LoadStats as LoadStats, LocalStore as LocalStore
    from .store_protocol import Store as Store, StoreCapabilities as StoreCapabilities
    from .stores import open_store as open_store

_LAZY: dict[str, str] = {
    # HTTP and configuration
    "make_session": "http",
    "service_url": "config",
    # stores and queries
    "open_store": "stores",
    "LocalStore": "store",
    "RemoteStore": "remote",
    "Store": "store_protocol",
    "StoreCapabilities": "store_protocol",
    "LoadStats": "store",
    "load_sources": "sources",
    "run_query": "query",
    "bundled_queries": "query",
    "format_results": "query",
    "stream_query": "query_run",
    "QueryLimitError": "query_run",
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
    "harvest_oai_files": "harvest_files",
    "get_changesets": "libris.history",
    "get_version": "libris.history",
    "load_version": "libris.history",
    "iter_changes": "libris.changes",
    # organisations
    "search_organisations": "organisations.isil",
    "get_organisation": "organisations.isil",
    "lookup_organisations": "organisations.isil",
    "load_organisation_file": "organisations.files",
    "validate_isil": "organisations.isil",
    "iter_libraries": "organisations.bibdb",
    "get_library": "organisations.bibdb",
    "organisation_records": "organisations.model",
    # jobs
    "run_build": "build",
    "load_config": "build",
    "run_demo": "demo",
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
    "BadResponseError", "MissingExtraError", "PageLimitError", "RepeatedPageError", "StoreBusyError",
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
