"""DataFrames of SPARQL results, with typed columns and real missing values.

* :func:`to_dataframe` turns SELECT results (pyoxigraph ``QuerySolutions`` or a SPARQL
  JSON results document from a remote endpoint) into a typed DataFrame;
  :func:`query_df` runs a query (bundled name, ``.rq`` file or SPARQL) and does both.
* :func:`frame_instances`: one row per bibliographic instance (title, contributors,
  year, subjects, holding libraries), computed by one SPARQL query with ``GROUP_CONCAT``.

Every unbound value is missing (``<NA>``, ``NaN`` or ``NaT``), never the text ``None``;
text columns have pandas' ``string`` dtype and a ``year`` column is ``Int64`` whichever
function made it.

>>> from linkeddata.stores import open_store
>>> store = open_store(None)
>>> df = query_df(store, 'SELECT ?n ?when ?name WHERE { VALUES (?n ?when ?name) '
...               '{ (1 "2024-05-01"^^xsd:date "Ada") (UNDEF UNDEF UNDEF) } }')
>>> str(df.dtypes["n"]), str(df.dtypes["name"]), df["when"].dt.year.tolist()
('Int64', 'string', [2024.0, nan])
>>> df["n"].isna().tolist(), df["name"].isna().tolist()
([False, True], [False, True])
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TYPE_CHECKING
from urllib.parse import unquote

import pyoxigraph as ox

from ..errors import InvalidInputError, LinkedDataError, MissingExtraError, QueryError, StoreLockedError

if TYPE_CHECKING:
    import requests

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
#: Columns of text years (Libris' ``kbv:year`` is a string: "1988", "c1988", "[2001?]")
#: that :func:`to_dataframe` and :func:`frame_instances` make ``Int64``.
YEAR_COLUMNS = ("year",)


def _require(module: str, extra: str = "notebook") -> Any:
    """Import an optional dependency or raise a helpful error."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = INSTALL_HINT if extra == "notebook" else f"pip install 'linkeddata[{extra}]'"
        raise MissingExtraError(f"{module} is needed for this; install it with: {hint}", extra=extra) from exc


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


_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def year_of(value: Any) -> int | None:
    """The first four-digit year in a Libris year text (``"c1988"`` → 1988, ``"19uu"`` → None).

    >>> [year_of(v) for v in ("1988", "c1988", "[2001?]", "1990-1995", "19uu", None)]
    [1988, 1988, 2001, 1990, None, None]
    """
    if value is None:
        return None
    if isinstance(value, int):
        return value
    m = _YEAR.search(str(value))
    return int(m.group(1)) if m else None


def _as_years(col: Column) -> Column:
    if col.kind == "integer":
        return col
    if col.kind != "string":
        return col
    values = [year_of(v) for v in col.values]
    unreadable = sum(1 for v, y in zip(col.values, values) if v is not None and y is None)
    if unreadable:
        log.info("column %s: %d value(s) without a four-digit year are missing", col.name, unreadable)
    return Column(col.name, "integer", values, None)


def columns(results: Any, lang: str = "column", years: Iterable[str] = YEAR_COLUMNS) -> list[Column]:
    """Typed columns of SELECT results (the backend-neutral step of :func:`to_dataframe`)."""
    if lang not in LANG_MODES:
        raise InvalidInputError(f"lang must be one of {', '.join(LANG_MODES)}, not {lang!r}")
    year_names = set(years)
    names, rows = _table(results)
    cols = [_column(n, [r[i] for r in rows], lang) for i, n in enumerate(names)]
    return [_as_years(c) if c.name in year_names else c for c in cols]


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
    return pd.array(col.values, dtype="string")


def to_dataframe(results: Any, backend: str = "pandas", lang: str = "column",
                 years: Iterable[str] = YEAR_COLUMNS) -> Any:
    """A DataFrame of SELECT results, with columns typed from literal datatypes.

    ``xsd:integer`` and its subtypes → ``Int64`` (nullable); ``decimal``/``double``/``float``
    → ``float64``; ``boolean`` → ``boolean``; ``date`` → ``datetime64``; ``dateTime`` →
    ``datetime64``, time-zone aware when the values carry an offset (one shared offset is
    kept, mixed offsets become UTC). Text (IRIs, blank nodes as ``_:id``, plain and
    language-tagged literals, and columns mixing types) has the ``string`` dtype. Unbound
    values are missing: ``pd.NA`` (shown ``<NA>``), ``NaN`` for floats, ``NaT`` for times.
    The columns named in ``years`` hold Libris' text years and become ``Int64`` (the first
    four-digit year of each value; see :func:`year_of`), as in :func:`frame_instances`.

    :param results: pyoxigraph ``QuerySolutions`` (also ``QueryBoolean``/``QueryTriples``)
        or a SPARQL 1.1 JSON results document (dict, str or bytes).
    :param backend: ``"pandas"`` or ``"polars"``.
    :param lang: ``"column"`` puts language tags in a companion column ``<var>_lang``,
        ``"keep"`` keeps them in the value (``text@sv``), ``"drop"`` discards them.
    :param years: columns to read as years (``()`` keeps every text column as text).

    >>> df = to_dataframe({"head": {"vars": ["t"]}, "results": {"bindings": [
    ...     {"t": {"type": "literal", "value": "Fjäll", "xml:lang": "sv"}}]}})
    >>> df.to_dict("records")
    [{'t': 'Fjäll', 't_lang': 'sv'}]
    """
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    cols = columns(results, lang, years)
    if backend == "polars":
        return _polars_frame(cols)
    pd = _require("pandas")
    data: dict[str, Any] = {}
    for col in cols:
        data[col.name] = _pandas_series(pd, col)
        if col.langs is not None:
            data[f"{col.name}_lang"] = pd.array(col.langs, dtype="string")
    return pd.DataFrame({k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
                         for k, v in data.items()})


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
    from ..stores import open_store

    if store is None or not isinstance(store, (str, Path)):
        return store if store is not None else open_store(None)
    try:
        return open_store(store)
    except StoreLockedError:
        log.info("store %s is locked by another process; opened read-only", store)
        return open_store(store, read_only=True)


def endpoint_query(endpoint: str, query: str, params: Mapping[str, Any] | None = None, *,
                   session: requests.Session | None = None) -> dict[str, Any]:
    """POST a query to a SPARQL 1.1 endpoint; the results as a SPARQL JSON document
    (JSON or any results format pyoxigraph reads, converted)."""
    from ..http import make_session, request
    from ..query import resolve_query, with_values

    text = with_values(resolve_query(query), params)
    own = session is None
    session = session or make_session(purpose="query")
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
            doc: dict[str, Any] = response.json()
        except ValueError as exc:
            raise QueryError(f"{endpoint}: results are not valid JSON: {exc}") from exc
        return doc
    fmt = ox.QueryResultsFormat.from_media_type(media) if media else None
    if fmt is None:
        raise QueryError(f"{endpoint}: unexpected results type {media or '(none)'}")
    try:
        parsed = ox.parse_query_results(response.content, format=fmt)
    except (SyntaxError, ValueError) as exc:
        raise QueryError(f"{endpoint}: cannot parse results: {exc}") from exc
    converted: dict[str, Any] = json.loads(parsed.serialize(format=ox.QueryResultsFormat.JSON) or b"")
    return converted


def query_df(store: Any, query: str, backend: str = "pandas", lang: str = "column", *,
             endpoint: str | None = None, years: Iterable[str] = YEAR_COLUMNS, **params: Any) -> Any:
    """Run a bundled query name, ``.rq`` file or SPARQL against ``store`` (a store or a
    path) or a SPARQL ``endpoint`` URL and return a DataFrame (see :func:`to_dataframe`).
    Keyword arguments bind query variables (``query_df(st, "holdings-of", instance=iri)``)."""
    from ..query import run_query

    if endpoint:
        from ..remote import RemoteStore

        # ``endpoint`` is the query URL itself, not a server base to append ``/query`` to
        with RemoteStore(endpoint, query_endpoint=endpoint) as remote:
            return to_dataframe(run_query(remote, query, params), backend=backend, lang=lang, years=years)
    results = run_query(open_for_query(store), query, params)
    return to_dataframe(results, backend=backend, lang=lang, years=years)


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
  OPTIONAL { SELECT ?instance (GROUP_CONCAT(?sigel; separator=", ") AS ?libraries)
                              (GROUP_CONCAT(?libName; separator="; ") AS ?library_names) WHERE {
      { SELECT ?instance ?sigel (COALESCE(MIN(?name), ?sigel) AS ?libName) WHERE {
          ?item kbv:itemOf ?instance ; kbv:heldBy ?library .
          BIND(STRAFTER(STR(?library), "/library/") AS ?sigel)
          OPTIONAL { { ?library schema:name ?name } UNION
                     { ?org lv:isil ?isil ; schema:name ?name . FILTER(?isil = CONCAT("SE-", ?sigel)) } }
        } GROUP BY ?instance ?sigel }
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
    ``libraries`` (``, ``-joined sigels, sorted) and ``library_names`` (their names in
    the same order; a library without an organisation record is named by its sigel).

    Computed by a single SPARQL query (:data:`INSTANCES_QUERY`) whose ``GROUP_CONCAT``
    subqueries run inside the store, so it stays fast for large stores. Agents and
    subjects are named by ``givenName familyName``, ``name``, ``prefLabel``, ``label``
    or ``code`` when their data is in the store, else by their IRI's last segment.

    :param store_or_docs: a store (local or :class:`~linkeddata.remote.RemoteStore`), a
        store path or server URL, or records (``Record`` objects or
        JSON-LD documents) which are loaded into a temporary in-memory store first.
    """
    from ..records import Record
    from ..stores import open_store
    from ..store_protocol import Store

    if isinstance(store_or_docs, (Store, ox.Store, str, Path)):
        store = open_for_query(store_or_docs)
    else:
        docs = [store_or_docs] if isinstance(store_or_docs, (Mapping, Record)) else list(store_or_docs)
        store = open_store(None)
        records = []
        for doc in docs:
            if isinstance(doc, Record):
                records.append(doc)
                continue
            from ..jsonld import record_iri_of

            iri = record_iri_of(doc)
            if not iri:
                raise InvalidInputError("a document without a record (@graph[0] with mainEntity)")
            records.append(Record(iri, doc))
        store.load_records(records, strict=True)
    from ..query import run_query

    frame = to_dataframe(run_query(store, INSTANCES_QUERY), backend="pandas", lang="drop")
    pd = _require("pandas")
    for name in ("contributors", "subjects"):
        frame[name] = pd.array([None if pd.isna(v) else "; ".join(_readable(p) for p in v.split("; "))
                                for v in frame[name]], dtype="string")
    pairs = [_sorted_libraries(s, n) for s, n in zip(frame["libraries"], frame["library_names"])]
    frame["libraries"] = pd.array([p[0] for p in pairs], dtype="string")
    frame["library_names"] = pd.array([p[1] for p in pairs], dtype="string")
    if backend == "polars":
        pl = _require("polars", "polars")
        return pl.from_pandas(frame)
    return frame


def _sorted_libraries(sigels: Any, names: Any) -> tuple[str | None, str | None]:
    """Sigels and their names (aligned ``GROUP_CONCAT`` outputs), sorted by sigel."""
    if not isinstance(sigels, str) or not sigels:
        return None, None
    codes = sigels.split(", ")
    labels = names.split("; ") if isinstance(names, str) else []
    if len(labels) != len(codes):  # a name containing the separator: keep the engine's order
        return sigels, names if isinstance(names, str) else None
    ordered = sorted(zip(codes, labels))
    return ", ".join(c for c, _ in ordered), "; ".join(n for _, n in ordered)
