"""SPARQL over the store: bundled queries, safe parameters, result formatting.

Bundled queries are ``.rq`` files in the top-level ``queries/`` folder (package data).
Their leading comment block documents them::

    # Holdings per library, with the library's ISIL, name and city.
    # @param instance  IRI of an instance (default: every instance)

:func:`bind` turns ``--param name=value`` strings into RDF terms
(``<iri>``/``http…`` → IRI, integers, decimals, ``true``/``false``, ``"text"@lang``,
anything else a plain string) that are *substituted* for the variables by the engine,
never pasted into the query text.

>>> from linkeddata.store import open_store
>>> store = open_store(None)
>>> rows = run_query(store, "SELECT ?x WHERE {}", {"x": "42"})
>>> [str(r["x"]) for r in rows]
['"42"^^<http://www.w3.org/2001/XMLSchema#integer>']
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .errors import QueryError
from .resources import asset_dir
from .store_protocol import Store

XSD = "http://www.w3.org/2001/XMLSchema#"
PREFIXES = {
    "kbv": "https://id.kb.se/vocab/",
    "schema": "http://schema.org/",
    "sdo": "http://schema.org/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": XSD,
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "marc": "https://id.kb.se/marc/",
    "lv": "http://purl.org/lobid/lv#",
}

OUTPUT_FORMATS = ("table", "csv", "tsv", "json", "xml")


@dataclass
class BundledQuery:
    """A query shipped with the package."""

    name: str
    path: Path
    description: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.path.read_text("utf-8")


def _parse_header(text: str) -> tuple[str, dict[str, str]]:
    lines, params = [], {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line.lstrip("#").strip()
        m = re.match(r"@param\s+(\w+)\s*(.*)", body)
        if m:
            params[m.group(1)] = m.group(2).strip()
        elif body:
            lines.append(body)
    return " ".join(lines), params


def bundled_queries() -> dict[str, BundledQuery]:
    """Bundled queries by name (file name without ``.rq``)."""
    out = {}
    for path in sorted(asset_dir("queries").glob("*.rq")):
        description, params = _parse_header(path.read_text("utf-8"))
        out[path.stem] = BundledQuery(path.stem, path, description, params)
    return out


def resolve_query(query: str) -> str:
    """SPARQL text from a bundled query name, a ``.rq`` file path, or inline SPARQL."""
    text = query.strip()
    queries = bundled_queries()
    if text in queries:
        return queries[text].text
    if text.endswith(".rq") or (len(text) < 4096 and "\n" not in text and Path(text).is_file()):
        path = Path(text)
        if not path.is_file():
            raise QueryError(f"no query file {text} (bundled queries: {', '.join(queries)})")
        return path.read_text("utf-8")
    if re.search(r"\b(SELECT|CONSTRUCT|ASK|DESCRIBE)\b", text, re.IGNORECASE):
        return text
    raise QueryError(f"unknown query {text!r}: not a bundled query ({', '.join(queries)}), .rq file or SPARQL")


_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?\d*\.\d+")
_LANG = re.compile(r'"(.*)"@([A-Za-z]+(?:-[A-Za-z0-9]+)*)', re.DOTALL)
_TYPED = re.compile(r'"(.*)"\^\^<([^<>"{}|^`\\\s]+)>', re.DOTALL)
_IRI = re.compile(r"<([^<>\"{}|^`\\\s]*)>")


def to_term(value: Any) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """A Python value or a ``--param`` string as an RDF term.

    >>> to_term("https://libris.kb.se/x#it")
    <NamedNode value=https://libris.kb.se/x#it>
    >>> to_term("3.5")
    <Literal value=3.5 datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#decimal>>
    >>> to_term("} ; DROP ALL")
    <Literal value=} ; DROP ALL datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#string>>
    """
    if isinstance(value, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return value
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))
    if isinstance(value, (float, Decimal)):
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + ("decimal" if isinstance(value, Decimal) else "double")))
    text = str(value)
    m = _IRI.fullmatch(text)
    if m:
        return ox.NamedNode(m.group(1))
    if re.fullmatch(r"(https?|urn|mailto):[^<>\"{}|^`\\\s]+", text):
        return ox.NamedNode(text)
    if _INT.fullmatch(text):
        return ox.Literal(text, datatype=ox.NamedNode(XSD + "integer"))
    if _DEC.fullmatch(text):
        try:
            Decimal(text)
            return ox.Literal(text, datatype=ox.NamedNode(XSD + "decimal"))
        except InvalidOperation:
            pass
    if text in ("true", "false"):
        return ox.Literal(text, datatype=ox.NamedNode(XSD + "boolean"))
    m = _LANG.fullmatch(text)
    if m:
        return ox.Literal(m.group(1), language=m.group(2))
    m = _TYPED.fullmatch(text)
    if m:
        return ox.Literal(m.group(1), datatype=ox.NamedNode(m.group(2)))
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return ox.Literal(text)


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["name=value", …]`` → dict, with a clear error for malformed pairs."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lstrip("?$")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise QueryError(f"--param must be name=value with a SPARQL variable name, got {pair!r}")
        out[name] = value
    return out


def bind(params: Mapping[str, Any] | None) -> dict[ox.Variable, Any]:
    """Variables → terms for pyoxigraph's ``substitutions``."""
    return {ox.Variable(k.lstrip("?$")): to_term(v) for k, v in (params or {}).items()}


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_FORM = re.compile(r"\b(SELECT|CONSTRUCT|ASK|DESCRIBE)\b", re.IGNORECASE)


def _mask_comments_and_strings(text: str) -> str:
    """Same length as ``text`` with comments, strings and IRIs blanked out (for searching)."""
    pattern = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|#[^\n]*')
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def with_values(query: str, params: Mapping[str, Any] | None) -> str:
    """The query with ``params`` bound by an inline ``VALUES`` block at the start of its
    top-level group, so every pattern, ``BIND`` and ``FILTER`` sees them. Values are
    serialised as RDF terms (escaped by pyoxigraph), never pasted as text.

    >>> with_values("SELECT ?x WHERE { ?s ?p ?x }", {"s": "https://libris.kb.se/a"})
    'SELECT ?x WHERE { VALUES (?s) { (<https://libris.kb.se/a>) } ?s ?p ?x }'
    """
    if not params:
        return query
    terms = bind(params)
    masked = _mask_comments_and_strings(query)
    form = _FORM.search(masked)
    start = form.end() if form else 0
    where = _WHERE.search(masked, start)
    brace = where.end() if where else masked.find("{", start) + 1
    if brace <= 0:
        raise QueryError("cannot bind parameters: the query has no WHERE clause")
    names = " ".join(f"?{v.value}" for v in terms)
    values = " ".join(str(t) for t in terms.values())
    return f"{query[:brace]} VALUES ({names}) {{ ({values}) }}{query[brace:]}"


def run_query(store: Any, query: str, params: Mapping[str, Any] | None = None, *, union: bool = True) -> Any:
    """Run a bundled query name, ``.rq`` path or SPARQL text against a store.

    Returns pyoxigraph's ``QuerySolutions`` (SELECT), ``QueryBoolean`` (ASK) or
    ``QueryTriples`` (CONSTRUCT/DESCRIBE).
    """
    text = resolve_query(query)
    if isinstance(store, Store) and store.capabilities.remote:
        return store.query(text, params, union=union)
    inner = getattr(store, "inner", store)
    text = with_values(text, params)
    try:
        return inner.query(text, use_default_graph_as_union=union, prefixes=PREFIXES)
    except SyntaxError as exc:
        raise QueryError(f"SPARQL syntax error: {str(exc).splitlines()[0]}") from exc
    except (OSError, ValueError) as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from exc


def term_value(term: Any) -> Any:
    """A term as a plain Python value for tables (IRIs and literals as their text)."""
    if term is None:
        return None
    return term.value if hasattr(term, "value") else str(term)


def rows(results: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of SELECT results (values as text, unbound as ``None``)."""
    if isinstance(results, ox.QueryBoolean):
        return ["result"], [[bool(results)]]
    if isinstance(results, ox.QueryTriples):
        return ["subject", "predicate", "object"], [[str(t.subject), str(t.predicate), str(t.object)] for t in results]
    names = [v.value for v in results.variables]
    return names, [[term_value(s[n]) for n in names] for s in results]


def format_results(results: Any, fmt: str = "table") -> str:
    """Render results as ``table``, ``csv``, ``tsv``, ``json`` (SPARQL JSON) or ``xml``."""
    if fmt not in OUTPUT_FORMATS:
        raise QueryError(f"unknown output format {fmt!r}; one of {', '.join(OUTPUT_FORMATS)}")
    if isinstance(results, ox.QueryTriples):
        if fmt == "table":
            header, data = rows(results)
            return _table(header, data)
        return results.serialize(format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    if fmt == "json":
        return results.serialize(format=ox.QueryResultsFormat.JSON).decode("utf-8")
    if fmt == "xml":
        return results.serialize(format=ox.QueryResultsFormat.XML).decode("utf-8")
    if fmt == "tsv":
        return results.serialize(format=ox.QueryResultsFormat.TSV).decode("utf-8")
    header, data = rows(results)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in data)
        return buffer.getvalue()
    return _table(header, data)


def _table(header: list[str], data: list[list[Any]]) -> str:
    from .tables import format_table

    return format_table(data, header) + f"\n({len(data)} row{'s' if len(data) != 1 else ''})"


def results_to_records(results: Any) -> list[dict[str, Any]]:
    """SELECT results as a list of dicts (values as text)."""
    header, data = rows(results)
    return [dict(zip(header, row)) for row in data]


def to_json_rows(results: Any) -> str:
    return json.dumps(results_to_records(results), ensure_ascii=False, indent=1)
