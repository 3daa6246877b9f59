"""linkeddata: turn library linked data into a local, queryable knowledge graph.

>>> import linkeddata as ld
>>> store = ld.open_store(None)            # in memory; pass a folder for an on-disk store
>>> len(store)
0

The names below are the public API; each is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

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
