"""SPARQL over the store: bundled queries, safe parameters, result formatting.

Bundled queries are ``.rq`` files in the top-level ``queries/`` folder (package data).
Their leading comment block documents them::

    # Holdings per library, with the library's ISIL, name and city.
    # @param instance  IRI of an instance (default: every instance)

:func:`bind` turns ``name=value`` parameters into RDF terms (``<iri>``/``http…`` →
IRI, integers, decimals, ``true``/``false``, ``"text"@lang``, anything else a plain
string), checked against the parameters the query declares. :func:`with_values` then
adds them to the query as an inline ``VALUES`` block at the start of its top-level group:
each value is serialised as an RDF term by pyoxigraph (escaped, so a value can never
become query syntax), and the same text goes to a local store and to a SPARQL server.

>>> from linkeddata.stores import open_store
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

#: ``--format`` names for SELECT/ASK results; CONSTRUCT/DESCRIBE take :data:`GRAPH_FORMATS`.
OUTPUT_FORMATS = ("table", "csv", "tsv", "json", "sparql-json", "sparql-xml")
#: ``--format`` names for CONSTRUCT/DESCRIBE results (triples).
GRAPH_FORMATS = ("table", "nt", "ttl")
#: Types a query header may declare for a parameter.
PARAM_TYPES = ("iri", "number", "integer", "string", "boolean", "any")


@dataclass(frozen=True)
class Param:
    """A parameter declared in a query's header: ``# @param NAME TYPE [required] description``."""

    name: str
    type: str = "any"
    required: bool = False
    description: str = ""

    def __str__(self) -> str:
        text = self.name if self.type == "any" else f"{self.name}:{self.type}"
        return text if self.required else f"[{text}]"


@dataclass
class BundledQuery:
    """A query shipped with the package."""

    name: str
    path: Path
    description: str
    params: dict[str, Param] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.path.read_text("utf-8")


_PARAM_LINE = re.compile(r"@param\s+[?$]?(\w+)\s*(.*)")


def _first_word(text: str, words: tuple[str, ...]) -> tuple[str | None, str]:
    head, _, tail = text.partition(" ")
    return (head, tail.strip()) if head in words else (None, text.strip())


def parse_header(text: str) -> tuple[str, dict[str, Param]]:
    """The description and declared parameters of a query's leading comment block.

    >>> parse_header("# @param lat number required  latitude of the centre")[1]["lat"]
    Param(name='lat', type='number', required=True, description='latitude of the centre')
    """
    lines, params = [], {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line.lstrip("#").strip()
        m = _PARAM_LINE.match(body)
        if m:
            kind, rest = _first_word(m.group(2), PARAM_TYPES)
            need, rest = _first_word(rest, ("required", "optional"))
            params[m.group(1)] = Param(m.group(1), kind or "any", need == "required", rest)
        elif body:
            lines.append(body)
    return " ".join(lines), params


def bundled_queries() -> dict[str, BundledQuery]:
    """Bundled queries by name (file name without ``.rq``)."""
    out = {}
    for path in sorted(asset_dir("queries").glob("*.rq")):
        description, params = parse_header(path.read_text("utf-8"))
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
        try:
            return path.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise QueryError(f"query file {text} is not UTF-8 text (byte {exc.start})") from exc
        except OSError as exc:
            raise QueryError(f"cannot read query file {text}: {exc.strerror or exc}") from exc
    if re.search(r"\b(SELECT|CONSTRUCT|ASK|DESCRIBE)\b", text, re.IGNORECASE):
        return text
    raise QueryError(f"unknown query {text!r}: not a bundled query ({', '.join(queries)}), .rq file or SPARQL")


_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_DOUBLE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_LANG = re.compile(r'"(.*)"@([A-Za-z]+(?:-[A-Za-z0-9]+)*)', re.DOTALL)
_TYPED = re.compile(r'"(.*)"\^\^<([^<>"{}|^`\\\s]+)>', re.DOTALL)
_IRI = re.compile(r"<([^<>\"{}|^`\\\s]*)>")
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\s]+")
_BARE_IRI = re.compile(r"(https?|urn|mailto):[^<>\"{}|^`\\\s]+")
#: A Libris XL short id (``k9dt4hbw6p1ncz8``): 15 or 16 letters and digits, both present.
LIBRIS_ID = re.compile(r"(?=[0-9a-z]*[0-9])(?=[0-9a-z]*[a-z])[0-9a-z]{15,16}")
_NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long", "short", "byte",
                              "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger",
                              "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte")}
_INTEGER = _NUMERIC - {XSD + "decimal", XSD + "double", XSD + "float"}


def _literal(text: str, datatype: str) -> ox.Literal:
    return ox.Literal(text, datatype=ox.NamedNode(XSD + datatype))


def _named_node(iri: str, what: str = "") -> ox.NamedNode:
    if not _ABSOLUTE_IRI.fullmatch(iri):
        raise QueryError(f"{what}expected an absolute IRI (like https://libris.kb.se/k9dt4hbw6p1ncz8#it), got {iri!r}")
    try:
        return ox.NamedNode(iri)
    except ValueError as exc:
        raise QueryError(f"{what}not a valid IRI {iri!r}: {str(exc).splitlines()[0]}") from exc


def to_term(value: Any) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """A Python value or a ``--param`` string as an RDF term (for undeclared parameters).

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
        return _literal("true" if value else "false", "boolean")
    if isinstance(value, int):
        return _literal(str(value), "integer")
    if isinstance(value, (float, Decimal)):
        return _literal(str(value), "decimal" if isinstance(value, Decimal) else "double")
    text = str(value)
    m = _IRI.fullmatch(text)
    if m:
        return _named_node(m.group(1))
    if _BARE_IRI.fullmatch(text):
        return _named_node(text)
    if _INT.fullmatch(text):
        return _literal(text, "integer")
    if _DEC.fullmatch(text):
        return _literal(text, "decimal")
    if _DOUBLE.fullmatch(text):
        return _literal(text, "double")
    if text in ("true", "false"):
        return _literal(text, "boolean")
    m = _LANG.fullmatch(text)
    if m:
        return ox.Literal(m.group(1), language=m.group(2))
    m = _TYPED.fullmatch(text)
    if m:
        return ox.Literal(m.group(1), datatype=_named_node(m.group(2)))
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return ox.Literal(text)


def param_term(param: Param, value: Any) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """``value`` as the RDF term of a declared parameter, checked against its type.

    A Libris short id given where an IRI is declared expands to its thing IRI.

    >>> param_term(Param("instance", "iri"), "k9dt4hbw6p1ncz8")
    <NamedNode value=https://libris.kb.se/k9dt4hbw6p1ncz8#it>
    >>> param_term(Param("lat", "number"), "59,33")
    Traceback (most recent call last):
    ...
    linkeddata.errors.QueryError: parameter lat: expected a number (like 59.33), got '59,33'
    """
    what = f"parameter {param.name}: "
    kind = param.type
    if kind == "any":
        return to_term(value)
    if isinstance(value, ox.Literal) and kind in ("number", "integer"):
        ok = value.datatype.value in (_INTEGER if kind == "integer" else _NUMERIC)
        if not ok:
            raise QueryError(f"{what}expected {'an integer' if kind == 'integer' else 'a number'}, got {value}")
        return value
    if isinstance(value, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        expected = {"iri": ox.NamedNode, "string": ox.Literal, "boolean": ox.Literal}[kind]
        if not isinstance(value, expected):
            raise QueryError(f"{what}expected {'an IRI' if kind == 'iri' else 'a ' + kind}, got {value}")
        return value
    if kind == "iri":
        text = str(value).strip()
        if LIBRIS_ID.fullmatch(text):
            return ox.NamedNode(f"https://libris.kb.se/{text}#it")
        m = _IRI.fullmatch(text)
        return _named_node(m.group(1) if m else text, what)
    if kind == "boolean":
        if isinstance(value, bool) or str(value).lower() in ("true", "false"):
            return _literal(str(value).lower(), "boolean")
        raise QueryError(f"{what}expected true or false, got {str(value)!r}")
    if kind in ("number", "integer"):
        if isinstance(value, bool):
            raise QueryError(f"{what}expected a number, got {value!r}")
        if isinstance(value, int):
            return _literal(str(value), "integer")
        if kind == "number" and isinstance(value, (float, Decimal)):
            return to_term(value)
        text = str(value).strip()
        if _INT.fullmatch(text):
            return _literal(text, "integer")
        if kind == "number" and _DEC.fullmatch(text):
            return _literal(text, "decimal")
        if kind == "number" and _DOUBLE.fullmatch(text):
            return _literal(text, "double")
        example = "like 59.33" if kind == "number" else "a whole number like 80"
        raise QueryError(f"{what}expected {'a number' if kind == 'number' else 'an integer'} ({example}), "
                         f"got {str(value)!r}")
    text = str(value)
    m = _LANG.fullmatch(text)
    return ox.Literal(m.group(1), language=m.group(2)) if m else ox.Literal(text)


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["name=value", …]`` → dict, with a clear error for malformed or repeated pairs."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lstrip("?$")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise QueryError(f"a parameter must be name=value with a SPARQL variable name, got {pair!r}").for_cli(
                f"--param must be name=value with a SPARQL variable name, got {pair!r}")
        if name in out:
            raise QueryError(f"parameter {name} given twice ({out[name]!r} and {value!r})").for_cli(
                f"--param {name} given twice ({out[name]!r} and {value!r})")
        out[name] = value
    return out


def bind(params: Mapping[str, Any] | None, query: str | None = None, *, name: str | None = None
         ) -> dict[ox.Variable, Any]:
    """Variables → terms for ``params``, checked against ``query``'s declared parameters.

    A query whose header declares parameters (``# @param NAME TYPE [required] …``) accepts
    exactly those: an unknown name or a missing required one is a :class:`QueryError`, and
    each value must fit its type. A query without declarations accepts only the names of
    variables it uses. A ``None`` value leaves its variable unbound.
    """
    params = {k.lstrip("?$"): v for k, v in (params or {}).items() if v is not None}  # None: left unbound
    if query is None:
        return {ox.Variable(k): to_term(v) for k, v in params.items()}
    label = f"query {name}" if name else "the query"
    _, declared = parse_header(query.lstrip())
    if declared:
        unknown = [k for k in params if k not in declared]
        if unknown:
            raise QueryError(f"unknown parameter {unknown[0]!r} for {label}; it takes: "
                             f"{', '.join(str(p) for p in declared.values())}")
        missing = [p.name for p in declared.values() if p.required and p.name not in params]
        if missing:
            need = declared[missing[0]]
            what = need.description or need.type
            raise QueryError(f"{label} needs parameter {need.name} ({what})").for_cli(
                f"{label} needs --param {need.name}=… ({what})")
        return {ox.Variable(k): param_term(declared[k], v) for k, v in params.items()}
    used = set(re.findall(r"[?$]([A-Za-z_][A-Za-z0-9_]*)", _mask_comments_and_strings(query)))
    unknown = [k for k in params if k not in used]
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}: {label} has no variable ?{unknown[0]}")
    return {ox.Variable(k): to_term(v) for k, v in params.items()}


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_FORM = re.compile(r"\b(SELECT|CONSTRUCT|ASK|DESCRIBE)\b", re.IGNORECASE)


def _mask_comments_and_strings(text: str) -> str:
    """Same length as ``text`` with comments, strings and IRIs blanked out (for searching)."""
    pattern = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|#[^\n]*')
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def with_values(query: str, params: Mapping[str, Any] | None, *, name: str | None = None) -> str:
    """The query with ``params`` bound by an inline ``VALUES`` block at the start of its
    top-level group, so every pattern, ``BIND`` and ``FILTER`` sees them. Values are
    checked against the query's declared parameters (:func:`bind`) and serialised as
    RDF terms (escaped by pyoxigraph), never pasted as text.

    >>> with_values("SELECT ?x WHERE { ?s ?p ?x }", {"s": "https://libris.kb.se/a"})
    'SELECT ?x WHERE { VALUES (?s) { (<https://libris.kb.se/a>) } ?s ?p ?x }'
    """
    terms = bind(params, query, name=name)
    if not terms:
        return query
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


def run_query(store: Store | ox.Store, query: str, params: Mapping[str, Any] | None = None, *,
              union: bool = True) -> Any:
    """Run a bundled query name, ``.rq`` path or SPARQL text against a store.

    ``params`` are checked against the query's declared parameters (see :func:`bind`)
    before anything runs. Returns pyoxigraph's ``QuerySolutions`` (SELECT),
    ``QueryBoolean`` (ASK) or ``QueryTriples`` (CONSTRUCT/DESCRIBE). A
    :class:`~linkeddata.store_protocol.Store` runs it its own way (:meth:`Store.query`);
    a bare ``pyoxigraph.Store`` runs it here (:func:`query_oxigraph`).
    """
    if isinstance(store, ox.Store):
        return query_oxigraph(store, query, params, union=union)
    return store.query(query, params, union=union)


def query_oxigraph(inner: ox.Store, query: str, params: Mapping[str, Any] | None = None, *,
                   union: bool = True) -> Any:
    """Run a query (as :func:`run_query`) on a ``pyoxigraph.Store``, parameters in a ``VALUES`` block."""
    text = resolve_query(query)
    name = query.strip() if query.strip() in bundled_queries() else None
    return evaluate(inner, with_values(text, params, name=name), union=union)


def evaluate(inner: ox.Store, text: str, *, union: bool = True) -> Any:
    """SPARQL text (parameters already bound) run by pyoxigraph; errors as :class:`QueryError`."""
    try:
        return inner.query(text, use_default_graph_as_union=union, prefixes=PREFIXES)
    except SyntaxError as exc:
        raise QueryError(f"SPARQL syntax error: {str(exc).splitlines()[0]}") from exc
    except (OSError, ValueError) as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from exc


def term_value(term: Any) -> Any:
    """A term as a plain Python value for tables: IRIs and literals as their text, blank
    nodes as ``_:id`` (so they cannot pass for values), unbound as ``None``."""
    if term is None:
        return None
    if isinstance(term, ox.BlankNode):
        return str(term)
    return term.value if hasattr(term, "value") else str(term)


def json_value(term: Any) -> Any:
    """A term as a JSON value: numbers and booleans typed, everything else as :func:`term_value`."""
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        try:
            if datatype in _INTEGER:
                return int(term.value)
            if datatype in _NUMERIC:
                number = float(term.value)
                return number if number == number and abs(number) != float("inf") else term.value
        except ValueError:
            return term.value
        if datatype == XSD + "boolean":
            return term.value in ("true", "1")
    return term_value(term)


def rows(results: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of SELECT results (values as text, unbound as ``None``)."""
    header, data = term_rows(results)
    return header, [[term_value(t) if not isinstance(t, bool) else t for t in row] for row in data]


def term_rows(results: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of results as RDF terms (ASK: one boolean)."""
    if isinstance(results, ox.QueryBoolean):
        return ["result"], [[bool(results)]]
    if isinstance(results, ox.QueryTriples):
        return ["subject", "predicate", "object"], [[t.subject, t.predicate, t.object] for t in results]
    names = [v.value for v in results.variables]
    return names, [[s[n] for n in names] for s in results]


def output_format(fmt: str, *, triples: bool, nl: bool = False) -> str:
    """The checked output format name for results (``triples``: of a CONSTRUCT/DESCRIBE).

    >>> output_format("turtle", triples=True)
    'ttl'
    """
    fmt = {"turtle": "ttl", "ntriples": "nt", "n-triples": "nt"}.get(fmt, fmt)
    if nl and fmt != "json":
        raise QueryError("nl (one JSON object per line) goes with format 'json'").for_cli(
            "--nl (one JSON object per line) goes with --format json")
    if triples and fmt not in GRAPH_FORMATS:
        formats = ", ".join(GRAPH_FORMATS)
        raise QueryError(f"a CONSTRUCT or DESCRIBE query returns triples: use format {formats}, not {fmt}").for_cli(
            f"a CONSTRUCT or DESCRIBE query returns triples: use --format {formats}, not {fmt}")
    if not triples and fmt not in OUTPUT_FORMATS:
        raise QueryError(f"unknown output format {fmt!r}; one of {', '.join(OUTPUT_FORMATS)}")
    return fmt


def format_results(results: Any, fmt: str = "table", *, nl: bool = False) -> str:
    """Render results as ``table``, ``csv``, ``tsv`` (SPARQL TSV), ``json`` (an array of
    row objects, or one object per line with ``nl``), ``sparql-json`` or ``sparql-xml``.
    CONSTRUCT/DESCRIBE results (triples) render as ``table``, ``nt`` or ``ttl``.
    """
    fmt = output_format(fmt, triples=isinstance(results, ox.QueryTriples), nl=nl)
    if isinstance(results, ox.QueryTriples):
        if fmt == "table":
            header, data = term_rows(results)
            return _table(header, [[str(v) for v in row] for row in data])
        rdf_format = ox.RdfFormat.N_TRIPLES if fmt == "nt" else ox.RdfFormat.TURTLE
        serialized = ox.serialize(results, format=rdf_format, prefixes=PREFIXES if fmt == "ttl" else None)
        return (serialized or b"").decode("utf-8")
    if fmt in ("sparql-json", "sparql-xml"):
        wire = ox.QueryResultsFormat.JSON if fmt == "sparql-json" else ox.QueryResultsFormat.XML
        return str(results.serialize(format=wire).decode("utf-8"))
    if fmt == "tsv" and not isinstance(results, ox.QueryBoolean):
        return str(results.serialize(format=ox.QueryResultsFormat.TSV).decode("utf-8"))
    if fmt == "json":
        header, data = term_rows(results)
        objects = [{h: v if isinstance(v, bool) else json_value(v) for h, v in zip(header, row)} for row in data]
        if nl:
            return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)
        return json.dumps(objects, ensure_ascii=False, indent=2) + "\n"
    header, data = rows(results)
    if fmt in ("csv", "tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n", delimiter="," if fmt == "csv" else "\t")
        writer.writerow(header)
        writer.writerows(["" if v is None else _csv_text(v) for v in row] for row in data)
        return buffer.getvalue()
    return _table(header, data)


def _csv_text(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _table(header: list[str], data: list[list[Any]]) -> str:
    from .tables import format_table

    return format_table(data, header) + f"\n({len(data)} row{'s' if len(data) != 1 else ''})"


def results_to_records(results: Any) -> list[dict[str, Any]]:
    """SELECT results as a list of dicts (values as text, blank nodes as ``_:id``)."""
    header, data = rows(results)
    return [dict(zip(header, row)) for row in data]
