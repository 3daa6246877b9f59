"""The reference both the load and the sync scenarios measure against: pyoxigraph's own bulk load."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any


def time_bulk_load(nq: Path, workdir: Path) -> dict[str, Any]:
    """pyoxigraph ``bulk_load`` of the N-Quads file ``nq`` into a new on-disk store: seconds and triples."""
    import pyoxigraph as ox

    with tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        store = ox.Store(str(Path(tmp) / "kg"))
        started = time.perf_counter()
        store.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS)
        store.flush()
        seconds = time.perf_counter() - started
        triples = len(store)
        del store
    return {"triples": triples, "seconds": seconds}
