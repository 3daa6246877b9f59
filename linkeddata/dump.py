"""Export a store as N-Quads or TriG with its named graphs kept.

:func:`dump_store` writes every quad of a store (or of the graphs asked for) in a dataset
format, so that ``linkeddata load`` of the file gives the same graphs again::

    >>> import io
    >>> from linkeddata.records import Record
    >>> from linkeddata.stores import open_store
    >>> store = open_store(None)
    >>> _ = store.load_records([Record("https://libris.kb.se/a", {"@id": "https://libris.kb.se/a#it",
    ...                                                        "http://schema.org/name": "A"})])
    >>> out = io.BytesIO()
    >>> dump_store(store, out, format="nq")
    DumpStats(quads=1, graphs=1)
    >>> out.getvalue().decode()
    '<https://libris.kb.se/a#it> <http://schema.org/name> "A" <https://libris.kb.se/a> .\\n'

Local stores are read through pyoxigraph's serializer, streaming (constant memory);
a SPARQL server (:class:`~linkeddata.remote.RemoteStore`) is read with one ``SELECT``
over its named graphs (only those: a server's default graph may be their union, and
linkeddata keeps every record in a named graph).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import pyoxigraph as ox

from .errors import InvalidInputError

#: Dataset formats :func:`dump_store` writes (named graphs kept).
DUMP_FORMATS: dict[str, ox.RdfFormat] = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


@dataclass
class DumpStats:
    """What :func:`dump_store` wrote."""

    quads: int = 0
    graphs: int = 0


def graph_iri(name: str) -> str:
    """A graph IRI, or a Libris short id as its record's graph (``https://libris.kb.se/<id>``).

    >>> graph_iri("k9dt4hbw6p1ncz8")
    'https://libris.kb.se/k9dt4hbw6p1ncz8'
    """
    from .query import LIBRIS_ID, _named_node

    text = name.strip()
    if LIBRIS_ID.fullmatch(text):
        return f"https://libris.kb.se/{text}"
    return _named_node(text[1:-1] if text.startswith("<") and text.endswith(">") else text, "--graph: ").value


def _local_quads(inner: ox.Store, graphs: list[str] | None) -> Iterator[ox.Quad]:
    """Quads graph by graph (so that TriG has one block per graph), the default graph last."""
    names: list[Any] = [ox.NamedNode(g) for g in graphs] if graphs is not None else [
        *sorted(inner.named_graphs(), key=str), ox.DefaultGraph()]
    for name in names:
        yield from inner.quads_for_pattern(None, None, None, name)


def _remote_quads(store: Any, graphs: list[str] | None) -> Iterator[ox.Quad]:
    values = "" if graphs is None else "VALUES ?g { " + " ".join(f"<{g}>" for g in graphs) + " } "
    rows = store.remote_query(f"SELECT ?s ?p ?o ?g WHERE {{ {values}GRAPH ?g {{ ?s ?p ?o }} }} ORDER BY ?g",
                              union=False)
    for row in rows:
        yield ox.Quad(row["s"], row["p"], row["o"], row["g"])


def dump_store(store: Any, output: IO[bytes] | str | os.PathLike[str], *, format: str = "nq",
         graphs: Iterable[str] | None = None) -> DumpStats:
    """Write the quads of ``store`` (or only of ``graphs``) to ``output`` as ``nq`` or ``trig``.

    ``graphs`` are graph IRIs or Libris short ids; each must be a graph of the store
    (checked before anything is written). ``output`` is a binary file object or a path
    (opened after the checks).
    """
    from .query import PREFIXES

    if format not in DUMP_FORMATS:
        raise InvalidInputError(f"unknown dump format {format!r}; one of {', '.join(DUMP_FORMATS)}")
    wanted = None if graphs is None else list(dict.fromkeys(graph_iri(g) for g in graphs))
    remote = store.capabilities.remote
    if wanted is not None:
        present = store.graphs()
        missing = [g for g in wanted if g not in present]
        if missing:
            raise InvalidInputError(f"no graph {missing[0]} in the store"
                                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    stats = DumpStats()
    seen: set[Any] = set()

    def counted(quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
        for quad in quads:
            stats.quads += 1
            if quad.graph_name not in seen:
                seen.add(quad.graph_name)
            yield quad

    quads = _remote_quads(store, wanted) if remote else _local_quads(store.inner, wanted)
    prefixes = PREFIXES if format == "trig" else None
    if isinstance(output, (str, os.PathLike)):  # opened only now: a bad --graph leaves no file behind
        with open(output, "wb") as fh:
            ox.serialize(counted(quads), fh, format=DUMP_FORMATS[format], prefixes=prefixes)
    else:
        ox.serialize(counted(quads), output, format=DUMP_FORMATS[format], prefixes=prefixes)
    stats.graphs = len(seen)
    return stats
