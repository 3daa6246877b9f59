"""OAI-PMH harvests to files: ``marcxml`` as MARCXML or MARC21 (pymarc), ``oai_dc`` as a table.

What most library systems harvest is MARC, which is not RDF, so it goes to files instead of the
store. Records are written batch by batch, each batch to its own part file (written to a temporary
name, then renamed), and a checkpoint in the output folder remembers the resumption token after
every batch: a killed harvest continues with the next batch. With ``split="run"`` (the default) the
parts of a finished run are joined into one file; ``split="batch"`` keeps one file per batch.

Under ``marcxml_includehold`` each bibliographic record is followed by its holdings records
(leader/06 ``x``, library in ``852 $b``), as supplier batches are. Deleted records have no MARC;
their identifiers go to ``<name>.deleted.txt``. A record that cannot be read is skipped and named.

>>> output_format("marcxml_includehold", None), output_format("oai_dc", None)
('marcxml', 'csv')
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from .checkpoints import open_checkpoint
from .errors import InvalidInputError, LinkedDataError, ParseError, at_least_one
from .http import make_session
from .libris.oaipmh import FILE_PREFIXES, OAIClient, base_format, check_datestamp, check_prefix, decode_token, dublin_core

log = logging.getLogger(__name__)

#: Output formats per metadataPrefix family, the first is the default.
OUTPUT_FORMATS = {"marcxml": ("marcxml", "marc21"), "oai_dc": ("csv", "tsv")}
EXTENSIONS = {"marcxml": ".xml", "marc21": ".mrc", "csv": ".csv", "tsv": ".tsv"}
_XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
_XML_TAIL = b"</collection>\n"
DC_COLUMNS = ("identifier", "datestamp", "element", "value")


@dataclass
class FileHarvestSummary:
    """What a file harvest did (this run)."""

    prefix: str
    records: int = 0
    holdings: int = 0
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    batches: int = 0
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    resumed: bool = False
    completed: bool = False

    def __str__(self) -> str:
        text = (f"oai {self.prefix}: {self.records} records ({self.holdings} holdings) written to "
                f"{len(self.files)} file(s), {self.deleted} deleted, {len(self.skipped)} skipped in "
                f"{self.batches} batches, {self.seconds:.1f} s")
        return text + (" (resumed)" if self.resumed else "") + ("" if self.completed else " (incomplete)")


def output_format(prefix: str, fmt: str | None) -> str:
    """The file format for a prefix (``marcxml``/``marc21`` for MARC, ``csv``/``tsv`` for oai_dc)."""
    family = base_format(prefix)
    allowed = OUTPUT_FORMATS.get(family)
    if allowed is None:
        raise InvalidInputError(f"metadataPrefix {prefix!r} is not written to files; one of {', '.join(FILE_PREFIXES)}")
    if fmt is None:
        return allowed[0]
    if fmt not in allowed:
        raise InvalidInputError(f"{prefix} is written as {' or '.join(allowed)}, not {fmt!r}")
    return fmt


def _marc_records(xml: str, ident: str) -> list[Any]:
    from .libris.marc import read_marc

    records = read_marc(xml.encode("utf-8"), "marcxml")
    if not records:
        raise ParseError(f"OAI record {ident}: no MARC record in the metadata")
    return records


def _write_part(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _encode(records: list[Any], fmt: str) -> bytes:
    """MARC records as one part: MARCXML records (no envelope) or ISO 2709 records."""
    from .libris.marc import _fix_indicators, pymarc

    pm = pymarc()
    if fmt == "marc21":
        return b"".join(_fix_indicators(r).as_marc() for r in records)
    return b"".join(pm.record_to_xml(_fix_indicators(r), namespace=False) + b"\n" for r in records)


def _table(rows: list[tuple[str, str, str, str]], fmt: str, header: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    if header:
        writer.writerow(DC_COLUMNS)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _finish_file(parts: list[Path], target: Path, fmt: str) -> None:
    """Join part files into ``target`` (MARCXML gets its ``<collection>`` envelope)."""
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("wb") as out:
        if fmt == "marcxml":
            out.write(_XML_HEAD)
        for n, part in enumerate(parts):
            data = part.read_bytes()
            if fmt in ("csv", "tsv") and n and b"\n" in data:
                data = data.split(b"\n", 1)[1]  # one header line
            out.write(data)
        if fmt == "marcxml":
            out.write(_XML_TAIL)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    for part in parts:
        part.unlink(missing_ok=True)


def harvest_oai_files(output: str | Path, *, metadata_prefix: str = "marcxml", set: str | None = None,  # noqa: A002
                      from_: str | None = None, until: str | None = None, format: str | None = None,  # noqa: A002
                      split: str = "run", batch_size: int = 500, resume: bool = True,
                      session: requests.Session | None = None, base_url: str | None = None,
                      name: str | None = None) -> FileHarvestSummary:
    """Harvest ``ListRecords`` in a file prefix (``marcxml…``, ``oai_dc…``) into files in ``output``.

    :param format: ``marcxml`` (default) or ``marc21`` for MARC; ``csv`` (default) or ``tsv`` for oai_dc.
    :param split: ``run`` (one file per run) or ``batch`` (one file per batch).
    :param name: file name stem (default ``oai-<prefix>[-<set>]``).
    """
    check_prefix(metadata_prefix, FILE_PREFIXES)
    fmt = output_format(metadata_prefix, format)
    if split not in ("run", "batch"):
        raise InvalidInputError(f"split must be 'run' or 'batch', not {split!r}")
    at_least_one(batch_size=batch_size)
    check_datestamp(from_, "from")
    check_datestamp(until, "until")
    started = time.monotonic()
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a folder (the output of a file harvest is a folder)")
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or "oai-" + metadata_prefix + (f"-{set.replace(':', '-')}" if set else "")
    key = {"set": set, "from": from_, "until": until, "prefix": metadata_prefix, "format": fmt, "split": split,
           "name": stem}
    checkpoint = open_checkpoint(folder, "oai-files", key, restart=not resume)
    summary = FileHarvestSummary(metadata_prefix)
    summary.resumed = bool(checkpoint.batches) and not checkpoint.completed
    if checkpoint.completed:  # the next run is incremental from the previous until
        if from_ is None and checkpoint.state.get("until"):
            from_ = checkpoint.state["until"]
        checkpoint.state = {"until": checkpoint.state.get("until"), "run": checkpoint.state.get("run", 1) + 1}
        checkpoint.completed = False
    state = checkpoint.state
    state.setdefault("run", 1)
    state.setdefault("parts", [])
    run_stem = f"{stem}-{state['run']}" if state["run"] > 1 else stem
    client = OAIClient(base_url, session or make_session(purpose="harvest"))
    pending: list[bytes] = []
    deleted: list[str] = []
    count = 0

    def commit(next_token: str | None) -> None:
        nonlocal pending, deleted, count
        if pending or deleted:
            number = len(state["parts"]) + 1
            part = folder / (f"{run_stem}-{number:05d}{EXTENSIONS[fmt]}" if split == "batch"
                             else f"{run_stem}.part{number:05d}{EXTENSIONS[fmt]}")
            data = b"".join(pending)
            if fmt in ("csv", "tsv"):
                data = _table([], fmt, True) + data
            if fmt == "marcxml" and split == "batch":
                data = _XML_HEAD + data + _XML_TAIL
            _write_part(part, data)
            if deleted:
                with (folder / f"{run_stem}.deleted.txt").open("a", encoding="utf-8") as fh:
                    fh.write("".join(i + "\n" for i in deleted))
            state["parts"].append(part.name)
            summary.batches += 1
            checkpoint.batches += 1
        checkpoint.records += count
        state["token"] = next_token
        checkpoint.save()
        pending, deleted, count = [], [], 0

    pages = client.iter_pages("ListRecords", metadata_prefix, set, from_, until, state.get("token"))
    try:
        for page in pages:
            if page.token is None:
                state["until"] = (decode_token(page.next_token).get("u") if page.next_token else None) \
                    or page.response_date
            for ident, reason in page.skipped:
                summary.skipped.append((ident, reason))
            for item in page.items:
                ident = item.header.identifier
                if item.header.deleted:
                    deleted.append(ident)
                    summary.deleted += 1
                    continue
                try:
                    if item.metadata is None or item.conversion_failed:
                        raise ParseError(f"OAI record {ident}: no usable metadata")
                    if fmt in ("csv", "tsv"):
                        rows = [(ident, item.header.datestamp or "", k, v) for k, v in dublin_core(item.metadata)]
                        for extra in item.attached:
                            rows += [(extra.iri, "", k, v) for k, v in dublin_core(extra.metadata)]
                        pending.append(_table(rows, fmt, False))
                    else:
                        records = _marc_records(item.metadata, ident)
                        for extra in item.holdings:
                            try:
                                records += _marc_records(extra.metadata, extra.iri)
                                summary.holdings += 1
                            except LinkedDataError as exc:
                                summary.skipped.append((extra.iri, str(exc)))
                        pending.append(_encode(records, fmt))
                except LinkedDataError as exc:
                    log.warning("skipped %s: %s", ident, exc)
                    summary.skipped.append((ident, str(exc)))
                    continue
                summary.records += 1
                count += 1
            if count >= batch_size or len(pending) >= batch_size or not page.next_token:
                commit(page.next_token)
        commit(None)
    finally:
        checkpoint.skipped += len(summary.skipped)
        checkpoint.save()
    parts = [folder / p for p in state["parts"]]
    if split == "run":
        target = folder / f"{run_stem}{EXTENSIONS[fmt]}"
        if parts or not target.exists():
            _finish_file(parts, target, fmt)
        summary.files = [str(target)]
    else:
        summary.files = [str(p) for p in parts]
    state["parts"] = []
    checkpoint.completed = True
    checkpoint.save()
    summary.completed = True
    summary.seconds = time.monotonic() - started
    log.info("%s", summary)
    return summary


__all__ = ["FileHarvestSummary", "OUTPUT_FORMATS", "harvest_oai_files", "output_format"]
