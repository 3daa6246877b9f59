"""Organisation files loaded without the network: PICA+ text and the ISIL agency's JSON.

``linkeddata load FILE.pica`` reads, by content:

* PICA+ text, normalized (one record per line, as the agency's ``sigel.dat``) or plain
  (``TAG $aVALUE`` lines, records separated by an empty line);
* the agency's JSON: an API answer (a ``Collection`` with ``member``), a list of members, one
  member (``data`` or compact ``record``), or a bare PICA+ ``data`` object / compact array.

Every record becomes one organisation graph (see :mod:`linkeddata.organisations.model`); a record
that cannot be read is skipped and named (``record 3``, or its ISIL), the others load.

>>> is_organisation_file("libraries.pica"), is_organisation_file("DE-1a.pica.json"), is_organisation_file("x.ttl")
(True, True, False)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, LinkedDataError, ParseError
from .isil import organisation_from_member, organisation_from_pica
from .model import Organisation, organisation_records
from .pica import iter_pica_text, pica_from_json

log = logging.getLogger(__name__)

#: File name endings read as organisation files.
SUFFIXES = (".pica", ".pica.json", ".picajson")
#: Largest file read (the whole agency register is about 60 MB of JSON).
MAX_FILE_BYTES = 512 * 1024 * 1024


def is_organisation_file(path: str | Path) -> bool:
    """Whether ``path`` is named as an organisation file (:data:`SUFFIXES`)."""
    return str(path).lower().endswith(SUFFIXES)


def _members(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("member"), list):
        members: list[Any] = data["member"]
        return members
    if isinstance(data, dict) and ("data" in data or "record" in data):
        return [data]
    if isinstance(data, list) and data and all(isinstance(m, dict) for m in data):
        return data
    return [{"data": data}]  # a bare PICA+ object or compact array


def read_organisation_file(path: str | Path) -> tuple[list[Organisation], list[tuple[str, str]]]:
    """The organisations in a PICA+ or agency JSON file and ``(record, reason)`` of those skipped.

    :raises InvalidInputError: the file cannot be read, or is neither PICA+ nor JSON.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInputError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    orgs: list[Organisation] = []
    skipped: list[tuple[str, str]] = []
    if text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ParseError(f"{path}: not valid JSON ({exc})") from exc
        for n, member in enumerate(_members(data), 1):
            name = f"{path.name} record {n}"
            try:
                if isinstance(member, dict) and "data" in member and len(member) == 1:
                    orgs.append(organisation_from_pica(pica_from_json(member["data"], name), source=str(path)))
                else:
                    org = organisation_from_member(member, name)
                    org.source = str(path)
                    orgs.append(org)
            except (LinkedDataError, RecursionError) as exc:
                ident = member.get("identifier") if isinstance(member, dict) else None
                skipped.append((f"{name}" + (f" ({ident})" if isinstance(ident, str) else ""), str(exc)))
        return orgs, skipped
    bad: list[tuple[str, str]] = []
    for n, rec in enumerate(iter_pica_text(text, source=path.name, skipped=bad), 1):
        try:
            orgs.append(organisation_from_pica(rec, source=str(path)))
        except LinkedDataError as exc:
            label = rec.ppn or rec.first("029A", "a") or rec.first("008H", "e")
            skipped.append((f"{path.name} record {n}" + (f" ({label})" if label else ""), str(exc)))
    skipped[:0] = bad
    if not orgs and not skipped:
        raise ParseError(f"{path}: no PICA+ records")
    return orgs, skipped


def load_organisation_file(store: Any, path: str | Path, *, strict: bool = False, batch_size: int | None = 500) -> Any:
    """Load the organisations of a file into ``store``; returns the store's LoadStats with the skipped ones.

    :raises ParseError: with ``strict``, on the first record that cannot be read.
    """
    orgs, skipped = read_organisation_file(path)
    if strict and skipped:
        raise ParseError(f"{skipped[0][0]}: {skipped[0][1]}")
    for name, reason in skipped:
        log.warning("skipped %s: %s", name, reason)
    stats = store.load_records(organisation_records(orgs), batch_size=batch_size or 500, strict=strict)
    stats.skipped[:0] = skipped
    return stats


__all__ = ["SUFFIXES", "is_organisation_file", "load_organisation_file", "read_organisation_file"]
