"""What every store offers: the :class:`Store` protocol and its capability flags.

:class:`~linkeddata.store.LocalStore` (an embedded Oxigraph store) and
:class:`~linkeddata.remote.RemoteStore` (a SPARQL 1.1 server) both satisfy
:class:`Store`, so code that loads, queries or dumps takes a ``Store`` and works with
either. Where they differ, code reads :attr:`Store.capabilities` instead of probing
for methods::

    if store.capabilities.remote:       # every call is an HTTP request
        ...

The protocol is ``runtime_checkable``: ``isinstance(x, Store)`` checks that ``x`` has
every member (not their signatures; type checkers check those).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyoxigraph as ox

    from .records import Record
    from .store import LoadStats

__all__ = ["Store", "StoreCapabilities"]


@dataclass(frozen=True)
class StoreCapabilities:
    """What a kind of store can do beyond the :class:`Store` protocol.

    >>> StoreCapabilities(remote=True, bulk_load=False, optimize=False, atomic_batches=True).remote
    True
    """

    #: The data live on a server: every call is an HTTP request, there is no
    #: in-process ``pyoxigraph.Store`` (``inner``), queries go as SPARQL text.
    remote: bool
    #: ``load_file(bulk=True)`` uses a native bulk loader (fast, not transactional);
    #: without it, files load in batches whatever ``bulk`` says.
    bulk_load: bool
    #: ``optimize()`` compacts the store's files.
    optimize: bool
    #: Each batch of ``load_records`` becomes visible as one unit, new records included
    #: (a local store bulk-writes records it did not hold yet, outside the transaction).
    atomic_batches: bool


@runtime_checkable
class Store(Protocol):
    """A dataset of named graphs, one per record, that can be loaded, queried and dumped."""

    @property
    def capabilities(self) -> StoreCapabilities:
        """What this kind of store can do (see :class:`StoreCapabilities`)."""
        ...

    @property
    def read_only(self) -> bool:
        """Writes raise :class:`~linkeddata.errors.StoreError`."""
        ...

    @property
    def path(self) -> Path | None:
        """The store's folder, ``None`` in memory or on a server."""
        ...

    # -------------------------------------------------------------- loading
    def load_records(
        self,
        records: Iterable[Record],
        *,
        batch_size: int = ...,
        progress: Callable[[int], None] | None = ...,
        strict: bool = ...,
        on_batch: Callable[[LoadStats], None] | None = ...,
        check_only: bool = ...,
    ) -> LoadStats:
        """Load records, one named graph each, replacing earlier versions; tombstones drop them
        (``check_only``: parse and count, write nothing)."""
        ...

    def load_file(
        self,
        path: str | Path,
        *,
        format: str | None = ...,
        graph: str | None = ...,
        bulk: bool | None = ...,
        batch_size: int = ...,
        progress: Callable[[int], None] | None = ...,
        strict: bool = ...,
        check_only: bool = ...,
    ) -> LoadStats:
        """Load a local RDF or JSON-LD file (see :meth:`linkeddata.store.RecordLoader.load_file`)."""
        ...

    def replace_graphs(self, graphs: dict[str, list[ox.Quad]], deleted: Iterable[str] = ..., *,
                       atomic: bool = ...) -> int:
        """Replace each graph with its quads and drop ``deleted`` ones; the number of quads added."""
        ...

    def append_quads(self, quads: list[ox.Quad]) -> int:
        """Add quads without replacing anything; how many."""
        ...

    def delete_record(self, iri: str) -> bool:
        """Drop a record's graph; ``True`` when it existed."""
        ...

    # -------------------------------------------------------------- reading
    def query(self, sparql: str, params: Mapping[str, Any] | None = ..., *, union: bool = ...) -> Any:
        """Run a bundled query name, ``.rq`` path or SPARQL text; pyoxigraph's result types."""
        ...

    def graphs(self) -> set[str]:
        """IRIs of the named graphs."""
        ...

    def has_graph(self, iri: str) -> bool:
        """Whether the store has this named graph."""
        ...

    def count_triples(self, graph: str | None = ...) -> int:
        """Number of quads, in one graph or in all."""
        ...

    def __len__(self) -> int:
        ...

    def canonical_nquads(self) -> str:
        """All quads as canonical, sorted N-Quads (for comparisons)."""
        ...

    def dump(self, output: str | Path | IO[bytes], format: str | ox.RdfFormat = ...) -> None:
        """Write the whole dataset to a path or binary file."""
        ...

    # -------------------------------------------------------------- lifetime
    def flush(self) -> None:
        """Make written data durable."""
        ...

    def optimize(self) -> None:
        """Compact the store's files where it has any (:attr:`StoreCapabilities.optimize`), else nothing."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...

    def __enter__(self) -> Store:
        ...

    def __exit__(self, *exc: object) -> None:
        ...
