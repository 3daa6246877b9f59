"""Records out of large inputs, streamed with constant memory.

* :func:`json_lines_records` — one JSON-LD record per line, plain or gzipped (the EMM
  dump format, including its *context item* ``{"@id": X, "@context": {…}}`` that later
  records name with ``"@context": [null, X]``). A line that is not UTF-8, not JSON, too
  long or nested too deep becomes a :class:`~linkeddata.records.Record` with ``error``
  set: the loader counts, names and skips it, and the lines after it load.
* :func:`json_document_records` — a JSON-LD document with a big ``@graph`` (one named
  graph per record, or the records' nodes side by side), or a list of records, read
  incrementally with ijson; records are yielded as they are completed.
* :func:`open_binary` — a path, ``-`` (standard input) or a binary stream, gunzipped
  when it starts with the gzip magic bytes.

>>> import io
>>> lines = io.BytesIO(b'{"@id": "https://x.test/c", "@context": {"@vocab": "https://id.kb.se/vocab/"}}\\n'
...                    b'{"@context": [null, "https://x.test/c"], "@graph": [{"@id": "https://x.test/r1",'
...                    b' "mainEntity": {"@id": "https://x.test/r1#it"}}]}\\n'
...                    b'\\xff\\n')
>>> [(r.iri, r.error) for r in json_lines_records(lines, "dump")]
[('https://x.test/r1', None), ('dump:3', 'not UTF-8 (invalid start byte at byte 0)')]
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from . import jsonld
from .errors import ParseError
from .records import Record

log = logging.getLogger(__name__)

#: The longest JSON line (one record) read; longer lines are skipped unread.
MAX_LINE_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@contextlib.contextmanager
def open_binary(source: str | Path | IO[bytes]) -> Iterator[IO[bytes]]:
    """A binary stream for a path, ``-`` (stdin) or a stream; gzip is undone transparently."""
    if isinstance(source, (str, Path)) and str(source) == "-":
        stream: IO[bytes] = sys.stdin.buffer
        owned = False
    elif isinstance(source, (str, Path)):
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ParseError(f"{source}: {exc.strerror or exc}") from exc
        owned = True
    else:
        stream, owned = source, False
    try:
        buffered: Any = stream if hasattr(stream, "peek") else io.BufferedReader(stream)
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=buffered) as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield buffered
    finally:
        if owned:
            stream.close()


def _context_items(doc: Any) -> bool:
    return isinstance(doc, dict) and "@context" in doc and "@graph" not in doc and set(doc) <= {"@id", "@context"}


def resolve_context(doc: dict[str, Any], contexts: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with a ``@context`` that names a context item (``[null, X]`` or ``X``) made inline."""
    context = doc.get("@context")
    refs = [c for c in context if c is not None] if isinstance(context, list) else [context]
    if len(refs) == 1 and isinstance(refs[0], str) and refs[0] in contexts:
        return {**doc, "@context": contexts[refs[0]]}
    if isinstance(context, list) and len(refs) == 1 and context and context[0] is None:
        return {**doc, "@context": refs[0]}  # [null, X]: X alone, the reset is implied for a record
    return doc


def _record_of(doc: Any, where: str) -> Record:
    if not isinstance(doc, dict):
        return Record(where, error=f"expected a JSON object, got {type(doc).__name__}", source=where)
    iri = jsonld.record_iri_of(doc)
    if not isinstance(iri, str) or not iri:
        return Record(where, error="cannot tell which record this is (no @id)", source=where)
    return Record(iri, doc, source=where)


def json_lines_records(stream: IO[bytes], source: str) -> Iterator[Record]:
    """Records of a JSON-lines stream (one record per line), in order; bad lines as error records."""
    contexts: dict[str, Any] = {}
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        where = f"{source}:{number}"
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield Record(where, error=f"line longer than {MAX_LINE_BYTES >> 20} MB", source=where)
            continue
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except UnicodeDecodeError as exc:
            yield Record(where, error=f"not UTF-8 ({exc.reason} at byte {exc.start})", source=where)
            continue
        except RecursionError:
            yield Record(where, error="nested too deeply", source=where)
            continue
        except ValueError as exc:
            yield Record(where, error=f"not valid JSON ({exc})", source=where)
            continue
        if _context_items(doc):
            if isinstance(doc.get("@id"), str):
                kbv = doc["@context"] == jsonld.kbv_context() or jsonld._is_kbv_reference(doc["@id"])
                contexts[doc["@id"]] = jsonld.KBV_CONTEXT_IRI if kbv else doc["@context"]
            continue
        if isinstance(doc, dict) and contexts:
            doc = resolve_context(doc, contexts)
        elif isinstance(doc, dict) and isinstance(doc.get("@context"), list):
            doc = resolve_context(doc, {})
        yield _record_of(doc, where)


class _Replay(io.RawIOBase):
    """A stream whose first bytes can be read twice (for a look-ahead on stdin)."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.buffer = bytearray()
        self.recording = True
        self.position = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self.recording and self.position < len(self.buffer):
            end = len(self.buffer) if size is None or size < 0 else self.position + size
            chunk = bytes(self.buffer[self.position:end])
            self.position += len(chunk)
            return chunk
        data = self.raw.read(size)
        if self.recording:
            self.buffer += data
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[:len(data)] = data
        return len(data)

    def rewind(self) -> None:
        self.recording = False
        self.position = 0


def _head(stream: IO[bytes], source: str) -> tuple[str, Any, bool]:
    """The document's top level: ``("list" | "graph" | "object", @context, context_after_graph)``."""
    builder: Any = None
    context: Any = None
    try:
        for prefix, event, value in ijson.parse(stream):
            if builder is not None:
                if prefix == "" and event in ("map_key", "end_map"):
                    context, builder = builder.value, None
                else:
                    builder.event(event, value)
                    continue
            if prefix == "" and event == "start_array":
                return "list", None, False
            if prefix == "" and event == "map_key":
                if value == "@graph":
                    return "graph", context, False
                if value == "@context":
                    builder = ijson.ObjectBuilder()
            if prefix == "" and event == "end_map":
                return "object", context, False
            if prefix == "" and event not in ("start_map", "map_key"):
                return "scalar", None, False
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ParseError(f"{source}: not valid JSON ({_reason(exc)})") from exc
    raise ParseError(f"{source}: empty document")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if text[:2] in ("b'", 'b"'):  # yajl's message arrives as the repr of bytes
        import ast

        try:
            text = ast.literal_eval(text).decode("utf-8", "replace").strip()
        except (ValueError, SyntaxError, AttributeError):
            pass
    lines = text.splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def json_document_records(stream: IO[bytes], source: str, graph: str | None = None) -> Iterator[Record]:
    """Records of one JSON-LD document, streamed (see the module docstring for the shapes).

    ``graph`` puts the whole document into that graph (read whole). A document whose
    top-level ``@context`` comes after its ``@graph`` is read twice when it is a file.
    """
    if graph:
        yield Record(graph, _load_whole(stream, source), source=source)
        return
    seekable = stream.seekable() if hasattr(stream, "seekable") else False
    replay = None if seekable else _Replay(stream)
    reader: IO[bytes] = stream if seekable else replay  # type: ignore[assignment]
    start = stream.tell() if seekable else 0
    shape, context, _ = _head(reader, source)
    if seekable:
        stream.seek(start)
    else:
        replay.rewind()  # type: ignore[union-attr]
    if shape in ("object", "scalar"):
        doc = _load_whole(reader, source)
        if shape == "object" and not isinstance(doc.get("@graph"), list):
            yield _record_of(doc, source)
        else:
            yield Record(source, error="expected a JSON-LD object or a list of records", source=source)
        return
    if shape == "graph" and context is None and seekable:
        context = _late_context(stream, start, source)
    items = _checked(ijson.items(reader, "item" if shape == "list" else "@graph.item", use_float=True), source)
    if shape == "list":
        for number, item in enumerate(items, 1):
            yield item if isinstance(item, Record) else _record_of(item, f"{source} item {number}")
    else:
        yield from _grouped(items, context, source)


def _checked(items: Iterator[Any], source: str) -> Iterator[Any]:
    """``items``, ending with an error record where the JSON turns bad (the records before it load)."""
    number = 0
    try:
        for number, item in enumerate(items, 1):  # noqa: B007 - number is used after the loop
            yield item
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        yield Record(f"{source} item {number + 1}", error=f"not valid JSON ({_reason(exc)}); the rest of the "
                     "document is not read", source=source)


def _late_context(stream: IO[bytes], start: int, source: str) -> Any:
    """A top-level ``@context`` placed after ``@graph`` (a second pass over the file)."""
    try:
        context = next(ijson.items(stream, "@context", use_float=True), None)
    except (ijson.JSONError, UnicodeDecodeError):
        context = None  # the main pass reports the syntax error where it is
    stream.seek(start)
    return context


def _load_whole(stream: IO[bytes], source: str) -> Any:
    try:
        return json.loads(stream.read())
    except UnicodeDecodeError as exc:
        raise ParseError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except RecursionError as exc:
        raise ParseError(f"{source}: nested too deeply") from exc
    except ValueError as exc:
        raise ParseError(f"{source}: not valid JSON ({exc})") from exc


def _is_graph_object(item: dict[str, Any]) -> bool:
    return "@graph" in item and set(item) <= {"@id", "@graph", "@context", "@type"}


def _grouped(items: Iterator[Any], context: Any, source: str) -> Iterator[Record]:
    """Records of a top-level ``@graph``: each graph object is a record, and side-by-side
    nodes are grouped, a new record starting at each ``Record`` node (one with
    ``mainEntity``); nested graph objects after a record's nodes (embellishment) join it."""
    iri: str | None = None
    has_record = False
    nodes: list[Any] = []
    number = 0

    def record() -> Record:
        doc: dict[str, Any] = {"@graph": nodes}
        if context is not None:
            doc = {"@context": context, **doc}
        if not iri:
            return Record(f"{source} item {number}", error="cannot tell which record these nodes belong to",
                          source=source)
        return Record(iri, doc, source=source)

    for number, item in enumerate(items, 1):
        if isinstance(item, Record):  # where the document turned bad
            if nodes:
                yield record()
                nodes = []
            yield item
            continue
        if not isinstance(item, dict):
            yield Record(f"{source} item {number}", error=f"expected a JSON object, got {type(item).__name__}",
                         source=source)
            continue
        node_id = item.get("@id")
        if _is_graph_object(item) and not (has_record and isinstance(node_id, str) and "?" in node_id):
            if nodes:
                yield record()
                iri, has_record, nodes = None, False, []
            if context is not None and "@context" not in item:
                item = {"@context": context, **item}
            yield _record_of(item, f"{source} item {number}")
            continue
        starts = "mainEntity" in item and isinstance(node_id, str)
        if starts and has_record and node_id != iri:
            yield record()
            iri, has_record, nodes = None, False, []
        if starts and not has_record:
            iri, has_record = node_id, True
        elif iri is None and isinstance(node_id, str):
            iri = node_id
        nodes.append(item)
    if nodes:
        yield record()
