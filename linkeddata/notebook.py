"""Notebook helpers: DataFrames from SPARQL, a ``%%sparql`` magic, maps, rdflib interop.

Everything here needs the ``notebook`` extra (``pip install 'linkeddata[notebook]'``);
pandas, IPython and folium are imported only when a function needs them.

* :func:`to_dataframe` turns SELECT results (pyoxigraph ``QuerySolutions`` or a SPARQL
  JSON results document from a remote endpoint) into a typed DataFrame;
  :func:`query_df` runs a query (bundled name, ``.rq`` file or SPARQL) and does both.
* :func:`frame_instances`: one row per bibliographic instance (title, contributors,
  year, subjects, holding libraries), computed by one SPARQL query with ``GROUP_CONCAT``.
* ``%load_ext linkeddata`` registers ``%sparql`` / ``%%sparql`` (see :func:`run_sparql_magic`).
* :func:`map_holdings` draws libraries on a folium map (works offline with ``tiles=None``).
* :func:`to_rdflib` / :func:`from_rdflib` copy data between the store and rdflib.
* :func:`progress_bar`: a ``tqdm.auto`` bar whose ``update`` fits the library's
  ``progress`` callbacks.

>>> from linkeddata.store import open_store
>>> store = open_store(None)
>>> df = query_df(store, 'SELECT ?n ?when WHERE { VALUES (?n ?when) '
...               '{ (1 "2024-05-01"^^xsd:date) (UNDEF UNDEF) } }')
>>> str(df.dtypes["n"]), df["when"].dt.year.tolist()
('Int64', [2024.0, nan])
>>> df["n"].isna().tolist()
[False, True]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import pyoxigraph as ox

from .errors import InvalidInputError, LinkedDataError, QueryError, StoreLockedError

log = logging.getLogger(__name__)

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
INSTALL_HINT = "pip install 'linkeddata[notebook]'"

_INTEGER_TYPES = {XSD + t for t in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger", "negativeInteger",
    "nonPositiveInteger", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte")}
_FLOAT_TYPES = {XSD + t for t in ("decimal", "double", "float")}
_KINDS = {XSD + "boolean": "boolean", XSD + "date": "date", XSD + "dateTime": "datetime",
          XSD + "dateTimeStamp": "datetime", **{t: "integer" for t in _INTEGER_TYPES},
          **{t: "float" for t in _FLOAT_TYPES}}
LANG_MODES = ("column", "keep", "drop")
BACKENDS = ("pandas", "polars")


def _require(module: str, extra: str = "notebook") -> Any:
    """Import an optional dependency or raise a helpful error."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = INSTALL_HINT if extra == "notebook" else f"pip install 'linkeddata[{extra}]'"
        raise LinkedDataError(f"{module} is needed for this; install it with: {hint}") from exc


# ---------------------------------------------------------------- SPARQL results → columns


class Cell(NamedTuple):
    """One bound value: ``kind`` is ``iri``, ``bnode``, ``literal`` or ``triple``."""

    kind: str
    value: str
    datatype: str | None = None
    lang: str | None = None


def _cell(term: Any) -> Cell | None:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return Cell("iri", term.value)
    if isinstance(term, ox.BlankNode):
        return Cell("bnode", "_:" + term.value)
    if isinstance(term, ox.Literal):
        lang = term.language
        return Cell("literal", term.value, None if lang else term.datatype.value, lang)
    return Cell("triple", str(term))


def _json_cell(binding: Mapping[str, Any] | None) -> Cell | None:
    if not binding:
        return None
    kind = binding.get("type")
    value = str(binding.get("value", ""))
    if kind == "uri":
        return Cell("iri", value)
    if kind == "bnode":
        return Cell("bnode", "_:" + value)
    if kind in ("literal", "typed-literal"):
        lang = binding.get("xml:lang")
        return Cell("literal", value, None if lang else binding.get("datatype", XSD + "string"), lang)
    return Cell("triple", json.dumps(value))


def _table(results: Any) -> tuple[list[str], list[list[Cell | None]]]:
    """Variable names and rows of cells from any supported results object."""
    if isinstance(results, (bytes, str)):
        try:
            results = json.loads(results)
        except ValueError as exc:
            raise QueryError(f"not SPARQL JSON results: {exc}") from exc
    if isinstance(results, Mapping):
        if "boolean" in results:
            return ["result"], [[Cell("literal", str(bool(results["boolean"])).lower(), XSD + "boolean")]]
        try:
            names = list(results["head"]["vars"])
            bindings = results["results"]["bindings"]
        except (KeyError, TypeError) as exc:
            raise QueryError("not SPARQL JSON results: no head.vars / results.bindings") from exc
        return names, [[_json_cell(b.get(n)) for n in names] for b in bindings]
    if isinstance(results, ox.QueryBoolean):
        return ["result"], [[Cell("literal", str(bool(results)).lower(), XSD + "boolean")]]
    if isinstance(results, ox.QueryTriples):
        names = ["subject", "predicate", "object"]
        return names, [[_cell(t.subject), _cell(t.predicate), _cell(t.object)] for t in results]
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        return names, [[_cell(s[n]) for n in names] for s in results]
    raise InvalidInputError(f"cannot make a table of {type(results).__name__}; "
                            "pass SELECT results or a SPARQL JSON results document")


_OFFSET = re.compile(r"(Z|[+-]\d\d:\d\d)$")


def _parse_datetime(text: str) -> dt.datetime:
    value = text.strip()
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", value)
    if m:  # Python keeps at most microseconds
        frac = (m.group(2) or "")[:7]
        value = m.group(1) + frac + (m.group(3) or "")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return dt.datetime.fromisoformat(value)


def _parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(_OFFSET.sub("", text.strip())[:10])


_CONVERT: dict[str, Callable[[str], Any]] = {
    "integer": lambda v: int(v.strip()),
    "float": lambda v: float(v.strip().replace("INF", "inf")),
    "boolean": lambda v: {"true": True, "1": True, "false": False, "0": False}[v.strip()],
    "date": _parse_date,
    "datetime": _parse_datetime,
}


class Column(NamedTuple):
    """A column as Python values with its kind (``integer``, ``float``, ``boolean``,
    ``date``, ``datetime`` or ``string``) and, for language-tagged text, the tags."""

    name: str
    kind: str
    values: list[Any]
    langs: list[str | None] | None


def _column(name: str, cells: list[Cell | None], lang: str) -> Column:
    bound = [c for c in cells if c is not None]
    kinds = {_KINDS.get(c.datatype or "", "string") if c.kind == "literal" else "string" for c in bound}
    if len(kinds) == 1 and (kind := kinds.pop()) != "string":
        try:
            return Column(name, kind, [None if c is None else _CONVERT[kind](c.value) for c in cells], None)
        except (ValueError, KeyError):
            log.debug("column %s: values not all valid %s, kept as text", name, kind)
    has_lang = any(c.lang for c in bound)
    if lang == "keep":
        values = [None if c is None else (f"{c.value}@{c.lang}" if c.lang else c.value) for c in cells]
    else:
        values = [None if c is None else c.value for c in cells]
    langs = [None if c is None else c.lang for c in cells] if has_lang and lang == "column" else None
    return Column(name, "string", values, langs)


def columns(results: Any, lang: str = "column") -> list[Column]:
    """Typed columns of SELECT results (the backend-neutral step of :func:`to_dataframe`)."""
    if lang not in LANG_MODES:
        raise InvalidInputError(f"lang must be one of {', '.join(LANG_MODES)}, not {lang!r}")
    names, rows = _table(results)
    return [_column(n, [r[i] for r in rows], lang) for i, n in enumerate(names)]


def _pandas_series(pd: Any, col: Column) -> Any:
    if col.kind == "integer":
        return pd.array(col.values, dtype="Int64")
    if col.kind == "float":
        return pd.array([float("nan") if v is None else v for v in col.values], dtype="float64")
    if col.kind == "boolean":
        return pd.array(col.values, dtype="boolean")
    if col.kind == "date":
        return pd.to_datetime(pd.Series([pd.NaT if v is None else v for v in col.values], dtype=object))
    if col.kind == "datetime":
        present = [v for v in col.values if v is not None]
        offsets = {v.utcoffset() for v in present}
        if offsets == {None} or not present:
            return pd.to_datetime(pd.Series(col.values, dtype=object))
        if len(offsets) == 1:  # one offset: keep it
            return pd.to_datetime(pd.Series(col.values, dtype=object))
        # mixed offsets (or some without): normalise to UTC, naive values taken as UTC
        return pd.to_datetime(pd.Series([v if v is None or v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
                                         for v in col.values], dtype=object), utc=True)
    return pd.Series(col.values, dtype=object)


def to_dataframe(results: Any, backend: str = "pandas", lang: str = "column") -> Any:
    """A DataFrame of SELECT results, with columns typed from literal datatypes.

    ``xsd:integer`` and its subtypes → ``Int64`` (nullable); ``decimal``/``double``/``float``
    → ``float64``; ``boolean`` → ``boolean``; ``date`` → ``datetime64``; ``dateTime`` →
    ``datetime64``, time-zone aware when the values carry an offset (one shared offset is
    kept, mixed offsets become UTC). IRIs are their text, blank nodes ``_:id``; a column
    mixing types stays text. Unbound values are missing (``pd.NA``/``NaN``/``NaT``/``None``).

    :param results: pyoxigraph ``QuerySolutions`` (also ``QueryBoolean``/``QueryTriples``)
        or a SPARQL 1.1 JSON results document (dict, str or bytes).
    :param backend: ``"pandas"`` or ``"polars"``.
    :param lang: ``"column"`` puts language tags in a companion column ``<var>_lang``,
        ``"keep"`` keeps them in the value (``text@sv``), ``"drop"`` discards them.

    >>> df = to_dataframe({"head": {"vars": ["t"]}, "results": {"bindings": [
    ...     {"t": {"type": "literal", "value": "Fjäll", "xml:lang": "sv"}}]}})
    >>> df.to_dict("records")
    [{'t': 'Fjäll', 't_lang': 'sv'}]
    """
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    cols = columns(results, lang)
    if backend == "polars":
        return _polars_frame(cols)
    pd = _require("pandas")
    data: dict[str, Any] = {}
    for col in cols:
        data[col.name] = _pandas_series(pd, col)
        if col.langs is not None:
            data[f"{col.name}_lang"] = pd.Series(col.langs, dtype=object)
    frame = pd.DataFrame({k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
                          for k, v in data.items()})
    if not cols:
        return frame
    for name in frame.columns:
        if frame[name].dtype == object:  # text columns: missing as None, not NaN
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _polars_frame(cols: list[Column]) -> Any:
    pl = _require("polars", "polars")
    types = {"integer": pl.Int64, "float": pl.Float64, "boolean": pl.Boolean, "date": pl.Date, "string": pl.Utf8}
    series = []
    for col in cols:
        if col.kind == "datetime":
            present = [v for v in col.values if v is not None]
            zones = {v.utcoffset() for v in present}
            if zones - {None}:
                values = [None if v is None else (v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc))
                          .astimezone(dt.timezone.utc) for v in col.values]
                series.append(pl.Series(col.name, values, dtype=pl.Datetime("us", "UTC")))
            else:
                series.append(pl.Series(col.name, col.values, dtype=pl.Datetime("us")))
        else:
            series.append(pl.Series(col.name, col.values, dtype=types[col.kind]))
        if col.langs is not None:
            series.append(pl.Series(f"{col.name}_lang", col.langs, dtype=pl.Utf8))
    return pl.DataFrame(series)


# ---------------------------------------------------------------- stores and endpoints


def open_for_query(store: Any) -> Any:
    """A store to query: a LocalStore/pyoxigraph Store as is, a path opened for writing,
    or read-only when another process holds its lock."""
    from .store import open_store

    if store is None or not isinstance(store, (str, Path)):
        return store if store is not None else open_store(None)
    try:
        return open_store(store)
    except StoreLockedError:
        log.info("store %s is locked by another process; opened read-only", store)
        return open_store(store, read_only=True)


def endpoint_query(endpoint: str, query: str, params: Mapping[str, Any] | None = None, *,
                   session: Any = None) -> dict[str, Any]:
    """POST a query to a SPARQL 1.1 endpoint; the results as a SPARQL JSON document
    (JSON or any results format pyoxigraph reads, converted)."""
    from .http import make_session, request
    from .query import resolve_query, with_values

    text = with_values(resolve_query(query), params)
    own = session is None
    session = session or make_session(cache=False)
    try:
        response = request(session, "POST", endpoint, ok=(200,), what=f"SPARQL endpoint {endpoint}",
                           data=text.encode("utf-8"),
                           headers={"Content-Type": "application/sparql-query; charset=utf-8",
                                    "Accept": "application/sparql-results+json, application/sparql-results+xml;q=0.8"})
    finally:
        if own:
            session.close()
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    if media.endswith("+json") or media == "application/json":
        try:
            return response.json()
        except ValueError as exc:
            raise QueryError(f"{endpoint}: results are not valid JSON: {exc}") from exc
    fmt = ox.QueryResultsFormat.from_media_type(media) if media else None
    if fmt is None:
        raise QueryError(f"{endpoint}: unexpected results type {media or '(none)'}")
    try:
        parsed = ox.parse_query_results(response.content, format=fmt)
    except (SyntaxError, ValueError) as exc:
        raise QueryError(f"{endpoint}: cannot parse results: {exc}") from exc
    return json.loads(parsed.serialize(format=ox.QueryResultsFormat.JSON))


def query_df(store: Any, query: str, backend: str = "pandas", lang: str = "column", *,
             endpoint: str | None = None, **params: Any) -> Any:
    """Run a bundled query name, ``.rq`` file or SPARQL against ``store`` (a store or a
    path) or a SPARQL ``endpoint`` URL and return a DataFrame (see :func:`to_dataframe`).
    Keyword arguments bind query variables (``query_df(st, "holdings-of", instance=iri)``)."""
    from .query import run_query

    if endpoint:
        from .remote import RemoteStore

        # ``endpoint`` is the query URL itself, not a server base to append ``/query`` to
        with RemoteStore(endpoint, query_endpoint=endpoint) as remote:
            return to_dataframe(run_query(remote, query, params), backend=backend, lang=lang)
    results = run_query(open_for_query(store), query, params)
    return to_dataframe(results, backend=backend, lang=lang)


# ---------------------------------------------------------------- instances


INSTANCES_QUERY = """
PREFIX kbv: <https://id.kb.se/vocab/>
PREFIX schema: <http://schema.org/>
PREFIX lv: <http://purl.org/lobid/lv#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?instance ?record ?title ?year ?contributors ?subjects ?libraries ?library_names WHERE {
  { SELECT ?instance (SAMPLE(?r) AS ?record) (SAMPLE(?t) AS ?title) (SAMPLE(?y) AS ?year) WHERE {
      ?r kbv:mainEntity ?instance . ?instance kbv:instanceOf ?work .
      OPTIONAL { ?instance kbv:hasTitle/kbv:mainTitle ?t }
      OPTIONAL { ?instance kbv:publication/kbv:year ?y }
    } GROUP BY ?instance }
  OPTIONAL { SELECT ?instance (GROUP_CONCAT(DISTINCT ?name; separator="; ") AS ?contributors) WHERE {
      ?instance kbv:instanceOf?/kbv:contribution/kbv:agent ?agent .
      OPTIONAL { ?agent kbv:givenName ?given } OPTIONAL { ?agent kbv:familyName ?family }
      OPTIONAL { ?agent kbv:name ?plain } OPTIONAL { ?agent kbv:label ?label }
      BIND(IF(BOUND(?family), IF(BOUND(?given), CONCAT(?given, " ", ?family), ?family), ?unbound) AS ?full)
      BIND(COALESCE(?full, ?plain, ?label, IF(isIRI(?agent), STR(?agent), ?unbound)) AS ?name)
      FILTER(BOUND(?name))
    } GROUP BY ?instance }
  OPTIONAL { SELECT ?instance (GROUP_CONCAT(DISTINCT ?subjectName; separator="; ") AS ?subjects) WHERE {
      ?instance kbv:instanceOf?/kbv:subject ?subject .
      OPTIONAL { ?subject kbv:prefLabel ?pref } OPTIONAL { ?subject kbv:label ?slabel }
      OPTIONAL { ?subject skos:prefLabel ?skos } OPTIONAL { ?subject kbv:code ?code }
      BIND(COALESCE(?pref, ?skos, ?slabel, ?code, IF(isIRI(?subject), STR(?subject), ?unbound)) AS ?subjectName)
      FILTER(BOUND(?subjectName))
    } GROUP BY ?instance }
  OPTIONAL { SELECT ?instance (GROUP_CONCAT(DISTINCT ?sigel; separator=", ") AS ?libraries)
                              (GROUP_CONCAT(DISTINCT ?libName; separator="; ") AS ?library_names) WHERE {
      ?item kbv:itemOf ?instance ; kbv:heldBy ?library .
      BIND(STRAFTER(STR(?library), "/library/") AS ?sigel)
      OPTIONAL { { ?library schema:name ?libName } UNION
                 { ?org lv:isil ?isil ; schema:name ?libName . FILTER(?isil = CONCAT("SE-", ?sigel)) } }
    } GROUP BY ?instance }
}
ORDER BY ?title ?instance
"""


def _readable(part: str) -> str:
    """An IRI left where a name was wanted → its decoded last path segment."""
    if part.startswith(("http://", "https://")):
        tail = part.rstrip("/").rsplit("/", 1)[-1]
        return unquote(tail.split("#", 1)[0] if tail.endswith("#it") else tail)
    return part


def frame_instances(store_or_docs: Any, backend: str = "pandas") -> Any:
    """One row per bibliographic instance: ``instance``, ``record``, ``title``,
    ``year`` (Int64), ``contributors`` and ``subjects`` (``; ``-joined names),
    ``libraries`` (``, ``-joined sigels) and ``library_names``.

    Computed by a single SPARQL query (:data:`INSTANCES_QUERY`) whose ``GROUP_CONCAT``
    subqueries run inside the store, so it stays fast for large stores. Agents and
    subjects are named by ``givenName familyName``, ``name``, ``prefLabel``, ``label``
    or ``code`` when their data is in the store, else by their IRI's last segment.

    :param store_or_docs: a store (local or :class:`~linkeddata.remote.RemoteStore`), a
        store path or server URL, or records (``Record`` objects or
        JSON-LD documents) which are loaded into a temporary in-memory store first.
    """
    from .records import Record
    from .store import LocalStore, open_store

    if isinstance(store_or_docs, (LocalStore, ox.Store, str, Path)) or hasattr(store_or_docs, "remote_query"):
        store = open_for_query(store_or_docs)
    else:
        docs = [store_or_docs] if isinstance(store_or_docs, (Mapping, Record)) else list(store_or_docs)
        store = open_store(None)
        records = []
        for doc in docs:
            if isinstance(doc, Record):
                records.append(doc)
                continue
            from .jsonld import record_iri_of

            iri = record_iri_of(doc)
            if not iri:
                raise InvalidInputError("a document without a record (@graph[0] with mainEntity)")
            records.append(Record(iri, doc))
        store.load_records(records, strict=True)
    from .query import run_query

    frame = to_dataframe(run_query(store, INSTANCES_QUERY), backend="pandas", lang="drop")
    pd = _require("pandas")
    for name in ("contributors", "subjects"):
        if name in frame:
            frame[name] = pd.Series([None if v is None else "; ".join(_readable(p) for p in v.split("; "))
                                     for v in frame[name]], dtype=object)
    for name in ("libraries", "library_names"):
        frame[name] = pd.Series([v if v else None for v in frame[name]], dtype=object)
    frame["year"] = pd.to_numeric(frame["year"].astype(object).map(_year), errors="coerce").astype("Int64")
    if backend == "polars":
        pl = _require("polars", "polars")
        return pl.from_dicts(frame.astype(object).where(frame.notna(), None).to_dict("records"))
    return frame


def _year(value: Any) -> Any:
    if value is None:
        return None
    m = re.search(r"\d{4}", str(value))
    return int(m.group(0)) if m else None


# ---------------------------------------------------------------- maps


def map_holdings(df_or_results: Any, lat: str = "latitude", lon: str = "longitude", label: str = "name", *,
                 size: str | None = "items", tiles: str | None = None, zoom_start: int = 5) -> Any:
    """A folium map with one circle per row that has coordinates.

    :param df_or_results: a DataFrame or SELECT results (e.g. ``libraries-near``).
    :param size: a numeric column scaling the circles (ignored when absent).
    :param tiles: ``None`` draws on a blank background (works offline);
        ``"OpenStreetMap"`` (or any folium tile name) when online.

    Rows without valid coordinates are skipped; their number is logged and kept as the
    map's ``skipped_rows`` attribute.
    """
    folium = _require("folium")
    pd = _require("pandas")
    frame = df_or_results if isinstance(df_or_results, pd.DataFrame) else to_dataframe(df_or_results)
    for name in (lat, lon):
        if name not in frame.columns:
            raise InvalidInputError(f"no column {name!r} (columns: {', '.join(map(str, frame.columns))})")
    lats = pd.to_numeric(frame[lat], errors="coerce")
    lons = pd.to_numeric(frame[lon], errors="coerce")
    ok = lats.between(-90, 90) & lons.between(-180, 180)
    skipped = int((~ok).sum())
    if skipped:
        log.warning("map_holdings: %d of %d rows have no coordinates and are not drawn", skipped, len(frame))
    points = frame[ok.fillna(False).astype(bool)]
    sizes = pd.to_numeric(points[size], errors="coerce") if size and size in points.columns else None
    biggest = float(sizes.max()) if sizes is not None and sizes.notna().any() else 0.0
    centre = [float(lats[ok].mean()), float(lons[ok].mean())] if len(points) else [62.0, 15.0]
    fmap = folium.Map(location=centre, zoom_start=zoom_start, tiles=tiles)
    for index, row in points.iterrows():
        radius = 6.0
        if sizes is not None and biggest > 0 and pd.notna(sizes[index]):
            radius = 4.0 + 16.0 * (float(sizes[index]) / biggest) ** 0.5
        text = str(row[label]) if label in points.columns and pd.notna(row[label]) else ""
        if sizes is not None and pd.notna(sizes[index]):
            text = f"{text} ({int(sizes[index])})".strip()
        folium.CircleMarker(location=[float(lats[index]), float(lons[index])], radius=radius, tooltip=text or None,
                            popup=text or None, color="#1f4e79", fill=True, fill_opacity=0.6).add_to(fmap)
    if len(points) > 1:
        fmap.fit_bounds([[float(lats[ok].min()), float(lons[ok].min())],
                         [float(lats[ok].max()), float(lons[ok].max())]])
    fmap.skipped_rows = skipped
    return fmap


# ---------------------------------------------------------------- rdflib


def to_rdflib(store: Any) -> Any:
    """The store's quads as an ``rdflib.Dataset`` (named graphs kept).

    With ``oxrdflib`` installed the Dataset is backed by a copy in a fresh Oxigraph
    store (fast); otherwise (and for a :class:`~linkeddata.remote.RemoteStore`, whose
    dataset is downloaded) the quads are copied through N-Quads.
    """
    rdflib = _require("rdflib", "rdflib")
    if hasattr(store, "remote_query"):  # a RemoteStore: the server's dataset, as N-Quads
        import io

        buffer = io.BytesIO()
        store.dump(buffer, format=ox.RdfFormat.N_QUADS)
        dataset = rdflib.Dataset()
        dataset.parse(data=buffer.getvalue().decode("utf-8"), format="nquads")
        return dataset
    inner = getattr(store, "inner", store)
    try:
        from oxrdflib import OxigraphStore  # type: ignore[import-untyped]
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
    if hasattr(store, "remote_query"):  # a RemoteStore: one SPARQL update (counts quads sent)
        return int(store.append_quads(quads))
    before = len(inner)
    inner.extend(quads)
    return len(inner) - before


# ---------------------------------------------------------------- progress


def progress_bar(total: int | None = None, desc: str | None = None, unit: str = "record") -> Any:
    """A ``tqdm.auto`` progress bar (a widget in Jupyter, text elsewhere); pass its
    ``update`` as a ``progress`` callback: ``run_build(None, st, progress=bar.update)``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


# ---------------------------------------------------------------- services


_emulator: Any = None


def connect(use_real_services: bool = False, *, size: int = 0, cache: bool = True) -> Any:
    """A session for a notebook: against the loopback emulator (default) or the real services.

    Starts :class:`~linkeddata.emulator.Emulator` (stopping one this function started
    before, so re-running the cell is safe) and points the ``LINKEDDATA_*_URL``
    variables at it; with ``use_real_services=True`` removes those variables and
    returns a cached, rate-limited session for the public services.
    """
    import os

    from .emulator import Emulator
    from .http import make_session

    global _emulator
    if _emulator is not None:
        _emulator.stop()
        _emulator = None
    for name in [k for k in os.environ if k.startswith("LINKEDDATA_") and k.endswith("_URL")]:
        del os.environ[name]
    if use_real_services:
        return make_session(cache=cache)
    _emulator = Emulator(size=size).start()
    os.environ.update(_emulator.env())
    return make_session(cache=False, rate_limit=None)


def emulator() -> Any:
    """The emulator :func:`connect` started, or ``None``."""
    return _emulator


# ---------------------------------------------------------------- IPython magic


_default_store: Any = None


def use_store(store: Any) -> Any:
    """Set the store ``%sparql`` uses when neither ``--store`` nor ``--endpoint`` is given."""
    global _default_store
    _default_store = open_for_query(store)
    return _default_store


def _magic_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%sparql", add_help=False, exit_on_error=False)
    parser.add_argument("query", nargs="?", help="bundled query name or .rq file (line magic)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", "-s", help="store path, or the name of a variable holding a store")
    where.add_argument("--endpoint", "-e", help="SPARQL 1.1 endpoint URL")
    parser.add_argument("-o", "--output", help="also assign the DataFrame to this variable")
    parser.add_argument("--param", "-p", action="append", default=[], help="name=value (repeatable)")
    parser.add_argument("--lang", choices=LANG_MODES, default="column")
    parser.add_argument("--backend", choices=BACKENDS, default="pandas")
    return parser


def run_sparql_magic(line: str, cell: str | None = None, namespace: Mapping[str, Any] | None = None) -> Any:
    """What ``%sparql`` / ``%%sparql`` do, callable without IPython.

    ``%%sparql [--store PATH|VAR | --endpoint URL] [-o NAME] [--param k=v ...]`` runs the
    cell's SPARQL; ``%sparql NAME_OR_RQ [options]`` runs a bundled query or ``.rq`` file.
    """
    from .query import parse_params, run_query

    namespace = namespace if namespace is not None else {}
    try:
        args, extra = _magic_parser().parse_known_args(shlex.split(line))
        if extra:
            raise ValueError(f"unexpected argument(s) {' '.join(extra)}")
    except (argparse.ArgumentError, SystemExit, ValueError) as exc:
        raise InvalidInputError(f"%sparql: {exc}; usage: %sparql [NAME] [--store PATH | --endpoint URL] "
                                "[-o NAME] [--param k=v]") from exc
    query = cell if cell and cell.strip() else args.query
    if not query:
        raise InvalidInputError("%sparql needs a query: a bundled name, a .rq file, or SPARQL in the cell")
    params = parse_params(args.param)
    if args.endpoint:
        frame = query_df(None, query, backend=args.backend, lang=args.lang, endpoint=args.endpoint, **params)
    else:
        if args.store:
            held = namespace.get(args.store)
            store = open_for_query(held if held is not None and not isinstance(held, (str, Path))
                                   else (held or args.store))
        elif _default_store is not None:
            store = _default_store
        else:
            raise InvalidInputError("%sparql: name a store with --store PATH (or call linkeddata.notebook."
                                    "use_store(store)) or an endpoint with --endpoint URL")
        frame = to_dataframe(run_query(store, query, params), backend=args.backend, lang=args.lang)
    if args.output:
        if not args.output.isidentifier():
            raise InvalidInputError(f"%sparql: -o needs a variable name, not {args.output!r}")
        namespace[args.output] = frame  # type: ignore[index]
    return frame


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%sparql`` / ``%%sparql`` (``%load_ext linkeddata``)."""
    _require("IPython")
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, line_cell_magic, magics_class

    @magics_class
    class SparqlMagics(Magics):
        """``%sparql`` and ``%%sparql``: SPARQL → DataFrame (see :func:`run_sparql_magic`)."""

        @line_cell_magic
        def sparql(self, line: str, cell: str | None = None) -> Any:
            try:
                return run_sparql_magic(line, cell, self.shell.user_ns)
            except LinkedDataError as exc:  # shown as one line, without a traceback
                raise UsageError(str(exc)) from exc

    ipython.register_magics(SparqlMagics)


def unload_ipython_extension(ipython: Any) -> None:  # noqa: ARG001 - IPython's hook
    """Nothing to undo (magics stay registered until the kernel restarts)."""


__all__ = [
    "Cell", "Column", "columns", "to_dataframe", "query_df", "frame_instances", "INSTANCES_QUERY",
    "open_for_query", "endpoint_query", "map_holdings", "to_rdflib", "from_rdflib", "progress_bar",
    "use_store", "run_sparql_magic", "connect", "emulator", "load_ipython_extension", "unload_ipython_extension",
]
