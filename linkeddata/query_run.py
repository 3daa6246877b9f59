"""A query on a store with a time limit and bounded memory, its results streamed to an output.

pyoxigraph cannot cancel a running evaluation from Python (nor does the Oxigraph server at
its ``--timeout-s``: :mod:`linkeddata.serve` restarts it). So, as ``serve`` does, a query on
a store directory runs in a worker process that can be killed: a child Python process opens
the store read-only (a writer's published snapshot while another process writes it), runs
the query under an address-space limit (``max_memory``) and writes the formatted results to
a pipe; this process copies them to the output as they come and kills the child at the
deadline. One-line :class:`QueryLimitError` naming the query and the limit.

Results are streamed, never collected, except for the ``table`` format (its columns are
aligned, so it holds at most :data:`MAX_TABLE_ROWS` rows, else an error says to use ``csv``).

Stores that a child cannot open (in memory, or a SPARQL server) run here: the deadline is
checked between result rows, so an evaluation that produces no row for a long time
(``ORDER BY``, ``GROUP BY``, ``COUNT`` over a large join) and pyoxigraph's own serialisers
(``sparql-json``, ``sparql-xml``, ``tsv``) cannot be interrupted there; a remote store's
HTTP requests have their own deadline.

>>> import io
>>> from linkeddata.stores import open_store
>>> out = io.BytesIO()
>>> stream_query(open_store(None), "SELECT ?x WHERE {}", out, {"x": "42"}, fmt="csv").rows
1
>>> out.getvalue().decode()
'x\\n42\\n'
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox

from .errors import LinkedDataError, QueryError

log = logging.getLogger(__name__)

#: Seconds a query may run by default (``0`` or ``None``: no limit).
DEFAULT_TIMEOUT = 300.0
#: Bytes of address space the worker process may use by default (``0`` or ``None``: no limit).
DEFAULT_MAX_MEMORY = 4 * 1024**3
#: Rows a ``table`` holds (it is aligned, so collected); other formats stream.
MAX_TABLE_ROWS = 100_000
_ERROR_MARK = "linkeddata-query-error: "
_MEMORY_EXIT = 4


class QueryLimitError(QueryError):
    """A query stopped at its time limit or its memory limit."""


@dataclass
class QueryRun:
    """What :func:`stream_query` wrote: result rows (or triples), output bytes, seconds."""

    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    worker: bool = False


def query_label(query: str) -> str:
    """The query as an error names it: a bundled name, a file, or its text shortened."""
    text = " ".join(query.split())
    return f"query {text}" if len(text) <= 60 else f"query {text[:57]}…"


class _Counting:
    """A binary output that counts bytes and remembers whether it ends with a newline."""

    def __init__(self, out: IO[bytes]):
        self.out = out
        self.bytes = 0
        self.last = b"\n"

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        if data:
            self.out.write(data)
            self.bytes += len(data)
            self.last = data[-1:]
        return len(data)

    def text(self, text: str) -> None:
        self.write(text.encode("utf-8"))

    def flush(self) -> None:
        self.out.flush()


def _deadline_rows(items: Iterable[Any], deadline: float | None, label: str, limit: float | None) -> Iterator[Any]:
    for item in items:
        if deadline is not None and time.monotonic() > deadline:
            raise QueryLimitError(_time_message(label, limit))
        yield item


def _time_message(label: str, limit: float | None) -> str:
    return f"{label} stopped at its time limit of {limit:g} s (--timeout SECONDS, 0 for none)"


def _memory_message(label: str, limit: int | None) -> str:
    size = f"{limit / 1024**2:,.0f} MB" if limit else "the memory available"
    return f"{label} needed more than {size} of memory (--max-memory MB, 0 for none)"


def write_results(results: Any, fmt: str, out: IO[bytes], *, nl: bool = False, label: str = "the query",
                  deadline: float | None = None, limit: float | None = None) -> QueryRun:
    """Stream pyoxigraph results to ``out`` in the formats of :func:`linkeddata.query.format_results`
    (same text), row by row; ``table`` is collected up to :data:`MAX_TABLE_ROWS` rows.
    A ``deadline`` (monotonic time) is checked between rows."""
    from .query import PREFIXES, _csv_text, _table, json_value, output_format, term_value

    triples = isinstance(results, ox.QueryTriples)
    fmt = output_format(fmt, triples=triples, nl=nl)
    sink = _Counting(out)
    run = QueryRun()

    def counted(items: Iterable[Any]) -> Iterator[Any]:
        for item in _deadline_rows(items, deadline, label, limit):
            run.rows += 1
            yield item

    if isinstance(results, ox.QueryBoolean):
        header: list[str] = ["result"]
        data: Iterable[list[Any]] = [[bool(results)]]
    elif triples:
        header = ["subject", "predicate", "object"]
        data = ([t.subject, t.predicate, t.object] for t in counted(results))
    else:
        header = [v.value for v in results.variables]
        data = ([s[n] for n in header] for s in counted(results))
    if triples and fmt in ("nt", "ttl"):
        rdf_format = ox.RdfFormat.N_TRIPLES if fmt == "nt" else ox.RdfFormat.TURTLE
        ox.serialize(counted(results), cast(IO[bytes], sink), format=rdf_format, prefixes=PREFIXES if fmt == "ttl" else None)
    elif fmt in ("sparql-json", "sparql-xml") or (fmt == "tsv" and not isinstance(results, ox.QueryBoolean)):
        wire = {"sparql-json": ox.QueryResultsFormat.JSON, "sparql-xml": ox.QueryResultsFormat.XML,
                "tsv": ox.QueryResultsFormat.TSV}[fmt]
        results.serialize(sink, format=wire)
    elif fmt == "json":
        first = True
        sink.text("" if nl else "[")
        for row in data:
            obj = {h: v if isinstance(v, bool) else json_value(v) for h, v in zip(header, row)}
            if nl:
                sink.text(json.dumps(obj, ensure_ascii=False) + "\n")
            else:
                sink.text(("\n" if first else ",\n") + textwrap.indent(json.dumps(obj, ensure_ascii=False, indent=2),
                                                                       "  "))
            first = False
        if not nl:
            sink.text("]\n" if first else "\n]\n")
    elif fmt in ("csv", "tsv"):
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n", delimiter="," if fmt == "csv" else "\t")
        writer.writerow(header)
        for row in data:
            writer.writerow(["" if v is None else _csv_text(term_value(v) if not isinstance(v, bool) else v)
                             for v in row])
            if buffer.tell() > 64 * 1024:
                sink.text(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        sink.text(buffer.getvalue())
    else:  # table: aligned columns, so the rows are held (bounded)
        held: list[list[Any]] = []
        for row in data:
            if len(held) >= MAX_TABLE_ROWS:
                raise QueryLimitError(f"{label}: a table shows at most {MAX_TABLE_ROWS:,} rows; "
                                      "use --format csv or json for more")
            held.append([str(v) for v in row] if triples else
                        [term_value(v) if not isinstance(v, bool) else v for v in row])
        sink.text(_table(header, held))
    if sink.last != b"\n":
        sink.write(b"\n")
    sink.flush()
    run.bytes = sink.bytes
    return run


def _store_dir(store: Any) -> Path | None:
    """The directory a worker process can open for ``store``, else ``None`` (run here)."""
    if isinstance(store, (str, Path)) and not str(store).startswith(("http://", "https://")):
        return Path(store)
    path = getattr(store, "path", None)
    if path is None or getattr(getattr(store, "capabilities", None), "remote", False):
        return None
    if not getattr(store, "read_only", True):  # written here: the child reads the snapshot of what is written
        store.flush()
        store.publish_snapshot(force=True)
    return Path(path)


def stream_query(
    store: Any,
    query: str,
    output: IO[bytes],
    params: Mapping[str, Any] | None = None,
    *,
    fmt: str = "table",
    nl: bool = False,
    union: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
) -> QueryRun:
    """Run a bundled query name, ``.rq`` path or SPARQL text on ``store`` and stream its
    results to the binary ``output`` in ``fmt`` (see :func:`write_results`).

    ``store`` is a store directory, a :class:`~linkeddata.store.LocalStore` or a
    :class:`~linkeddata.remote.RemoteStore`. On a directory the query runs in a worker
    process, stopped at ``timeout`` seconds and limited to ``max_memory`` bytes of address
    space (``0``/``None``: no limit); elsewhere the timeout is checked between rows.

    :raises QueryLimitError: the query ran out of time or memory (one line naming it and the limit).
    :raises QueryError: a bad query, parameter or format (before anything runs).
    """
    from .query import bind, bundled_queries, resolve_query, with_values

    name = query.strip() if query.strip() in bundled_queries() else None
    label = f"query {name}" if name else query_label(query)
    text = resolve_query(query)
    timeout = timeout or None
    max_memory = max_memory or None
    if timeout is not None and timeout < 0 or max_memory is not None and max_memory < 0:
        raise QueryError("a query's time and memory limits are positive numbers (0 for none)")
    directory = _store_dir(store)
    started = time.monotonic()
    deadline = started + timeout if timeout else None
    if directory is None:
        from .query import run_query

        results = run_query(store, text, params, union=union)
        run = write_results(results, fmt, output, nl=nl, label=label, deadline=deadline, limit=timeout)
    else:
        bind(params, text, name=name)
        job = {"store": str(directory), "query": with_values(text, params, name=name), "fmt": fmt, "nl": nl,
               "union": union, "label": label, "max_memory": max_memory}
        run = _run_worker(job, output, timeout, label)
    run.seconds = time.monotonic() - started
    return run


def _run_worker(job: dict[str, Any], output: IO[bytes], timeout: float | None, label: str) -> QueryRun:
    """Run ``job`` in a child process, copying its output; kill it at ``timeout``."""
    command = [sys.executable, "-c", "from linkeddata.query_run import _worker; _worker()"]
    # few malloc arenas: each reserves 64 MB of address space, counted by the memory limit
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}
    try:
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env)
    except OSError as exc:
        raise QueryError(f"cannot start a worker process for {label}: {exc}") from exc
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        child.kill()

    timer = threading.Timer(timeout, expire) if timeout else None
    errors: list[str] = []

    def drain_stderr() -> None:
        assert child.stderr is not None
        for raw in child.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line.startswith(_ERROR_MARK) or "memory allocation of" in line:
                errors.append(line)
            elif line:
                log.info("query worker: %s", line[:500])

    reader = threading.Thread(target=drain_stderr, name="linkeddata-query-stderr", daemon=True)
    reader.start()
    run = QueryRun(worker=True)
    try:
        assert child.stdin is not None and child.stdout is not None
        if timer is not None:
            timer.start()
        try:
            child.stdin.write(json.dumps(job).encode("utf-8"))
            child.stdin.close()
        except OSError:  # it died at once: its exit status says why
            pass
        while True:
            chunk = os.read(child.stdout.fileno(), 64 * 1024)
            if not chunk:
                break
            output.write(chunk)
            run.bytes += len(chunk)
        code = child.wait()
    except BaseException:
        child.kill()
        child.wait()
        raise
    finally:
        if timer is not None:
            timer.cancel()
        reader.join(5)
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
    output.flush()
    if timed_out.is_set():
        raise QueryLimitError(_time_message(label, timeout))
    if code == 0:
        return run
    marked = [e[len(_ERROR_MARK):] for e in errors if e.startswith(_ERROR_MARK)]
    aborted = code in (-signal.SIGABRT, 128 + signal.SIGABRT)  # an allocation or a thread stack failed
    if code == _MEMORY_EXIT or any("memory allocation of" in e for e in errors) or (aborted and job["max_memory"]):
        raise QueryLimitError(_memory_message(label, job["max_memory"]))
    if marked:
        kind, _, text = marked[-1].partition(" ")
        try:
            told = json.loads(text)
            message, cli = str(told["message"]), told.get("cli")
        except (ValueError, TypeError, KeyError):  # the plain form ("QueryLimitError memory")
            message, cli = text, None
        from . import errors as error_module

        cls = getattr(error_module, kind, None)
        if kind == "QueryLimitError":
            cls = QueryLimitError
        if not (isinstance(cls, type) and issubclass(cls, LinkedDataError)):
            cls = QueryError
        error = cls(message)
        error.cli_message = cli
        raise error
    raise QueryError(f"{label} failed in its worker process (exit status {code})")


def _worker() -> None:
    """The child's side of :func:`_run_worker`: the job as JSON on stdin, results on stdout."""
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if job.get("max_memory"):
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (job["max_memory"], job["max_memory"]))
        except (ImportError, ValueError, OSError) as exc:  # no such limit on this system
            log.warning("cannot limit the query's memory: %s", exc)
    try:
        from .query import evaluate
        from .store import open_local_store

        store = open_local_store(job["store"], read_only=True)
        results = evaluate(store.inner, job["query"], union=job["union"])
        write_results(results, job["fmt"], sys.stdout.buffer, nl=job["nl"], label=job["label"])
    except MemoryError:
        sys.stderr.write(_ERROR_MARK + "QueryLimitError memory\n")
        sys.stderr.flush()
        os._exit(_MEMORY_EXIT)
    except BrokenPipeError:
        os._exit(1)
    except LinkedDataError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        cli = (exc.cli_message or "").splitlines()[0] if exc.cli_message else None
        sys.stderr.write(f"{_ERROR_MARK}{type(exc).__name__} {json.dumps({'message': message, 'cli': cli})}\n")
        sys.stderr.flush()
        os._exit(3)
    sys.stdout.flush()
    os._exit(0)
