"""Hand a store's data to rdflib (pySHACL, rdflib's serialisers…) and back."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from ..errors import LinkedDataError
from ..store_protocol import Store
from .frames import _require

def to_rdflib(store: Any) -> Any:
    """The store's quads as an ``rdflib.Dataset`` (named graphs kept).

    With ``oxrdflib`` installed the Dataset is backed by a copy in a fresh Oxigraph
    store (fast); otherwise (and for a :class:`~linkeddata.remote.RemoteStore`, whose
    dataset is downloaded) the quads are copied through N-Quads.
    """
    rdflib = _require("rdflib", "rdflib")
    if isinstance(store, Store) and store.capabilities.remote:  # the server's dataset, as N-Quads
        import io

        buffer = io.BytesIO()
        store.dump(buffer, format=ox.RdfFormat.N_QUADS)
        dataset = rdflib.Dataset()
        dataset.parse(data=buffer.getvalue().decode("utf-8"), format="nquads")
        return dataset
    inner = getattr(store, "inner", store)
    try:
        from oxrdflib import OxigraphStore
    except ImportError:
        dataset = rdflib.Dataset()
        dataset.parse(data=inner.dump(format=ox.RdfFormat.N_QUADS).decode("utf-8"), format="nquads")
        return dataset
    copy = ox.Store()
    copy.extend(inner.quads_for_pattern(None, None, None, None))
    return rdflib.Dataset(store=OxigraphStore(store=copy))


def from_rdflib(graph_or_dataset: Any, store: Any, graph: str | None = None) -> int:
    """Add an rdflib Graph or Dataset to ``store``; returns the number of quads added.

    A Dataset keeps its named graphs unless ``graph`` puts everything into one graph; a
    plain Graph goes into ``graph``, else into the graph named by its IRI identifier,
    else the default graph.
    """
    rdflib = _require("rdflib", "rdflib")
    inner = getattr(store, "inner", store)
    if getattr(store, "read_only", False):
        raise LinkedDataError(f"{store} is read-only")
    is_dataset = isinstance(graph_or_dataset, (rdflib.Dataset, rdflib.ConjunctiveGraph))
    if is_dataset:
        data = graph_or_dataset.serialize(format="nquads")
        quads = list(ox.parse(data.encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    else:
        data = graph_or_dataset.serialize(format="nt")
        quads = list(ox.parse(data.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))
        identifier = getattr(graph_or_dataset, "identifier", None)
        if graph is None and isinstance(identifier, rdflib.URIRef):
            graph = str(identifier)
    if graph is not None:
        target: Any = ox.NamedNode(graph)
        quads = [ox.Quad(q.subject, q.predicate, q.object, target) for q in quads]
    if isinstance(store, Store) and store.capabilities.remote:  # one SPARQL update (counts quads sent)
        return int(store.append_quads(quads))
    before = len(inner)
    inner.extend(quads)
    return len(inner) - before
