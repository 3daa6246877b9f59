"""The ``%sparql`` / ``%%sparql`` IPython magics (``%load_ext linkeddata``)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, LinkedDataError
from .frames import BACKENDS, LANG_MODES, _require, open_for_query, query_df, to_dataframe

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
    from ..query import parse_params, run_query

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
                return run_sparql_magic(line, cell, getattr(self.shell, "user_ns", None))
            except LinkedDataError as exc:  # shown as one line, without a traceback
                raise UsageError(str(exc)) from exc

    ipython.register_magics(SparqlMagics)


def unload_ipython_extension(ipython: Any) -> None:  # noqa: ARG001 - IPython's hook
    """Nothing to undo (magics stay registered until the kernel restarts)."""
