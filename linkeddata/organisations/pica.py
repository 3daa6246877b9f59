"""PICA+ records (the format of the German ISIL agency) → a neutral dict of fields.

A :class:`PicaRecord` holds ``fields``: tag → list of occurrences, each occurrence a
dict subfield code → list of values (order of values kept, order between codes not)::

    {"008H": [{"e": ["DE-Xy1"], "d": ["Xy 1"]}],
     "032P": [{"a": ["Hauptstr. 1"], "b": ["Ort"], "2": ["S"]}, {"b": ["Ort"], "2": ["P"]}]}

Three input shapes are read:

* **normalized PICA+** (as in the agency's ``sigel.dat`` dumps): one record per line,
  an optional left-padded PPN before the first field, every field introduced by
  ``\\x1e`` (record separator), ``TAG`` or ``TAG/OCC`` then a space, every subfield
  introduced by ``\\x1f`` followed by its one-character code;
* **plain (annotated) PICA+**: one field per line, ``TAG $aVALUE$bVALUE``, records
  separated by an empty line, ``$$`` is a literal dollar sign;
* **PICA+ as JSON** from the agency API. Where the agency's documentation is silent we
  read robustly: ``data`` as an object tag → field, the field an object (one occurrence)
  or a list of objects, a subfield value a string or a list of strings, codes with or
  without a leading ``$``; and the ``compact`` form, an array with one array per field
  ``[tag, occurrence-or-null, code, value, code, value, …]`` (the occurrence slot may be
  missing: then the array has an odd length).

>>> rec = parse_plain_record("008H $eDE-Xy1$dXy 1\\n029A $aMusterbibliothek")
>>> rec.first("008H", "e"), rec.first("029A", "a")
('DE-Xy1', 'Musterbibliothek')
>>> pica_from_json({"032P": [{"b": "Ort", "2": "S"}, {"b": ["Ort"], "2": "P"}]}).values("032P", "2")
['S', 'P']
>>> pica_from_json([["029A", None, "a", "Name"]]).first("029A", "a")
'Name'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParseError

log = logging.getLogger(__name__)

FIELD_SEP = "\x1e"
SUBFIELD_SEP = "\x1f"

_TAG = re.compile(r"[0-2][0-9]{2}[A-Z@](?:/[0-9]{2,3})?")

Occurrence = dict[str, list[str]]
Fields = dict[str, list[Occurrence]]


@dataclass
class PicaRecord:
    """One PICA+ record as a neutral dict of fields (see the module docstring)."""

    fields: Fields = field(default_factory=dict)
    ppn: str | None = None

    def add(self, tag: str, subfields: Iterable[tuple[str, str]]) -> None:
        """Append one field occurrence (tag with an optional ``/occ`` suffix is stored without it)."""
        occ: Occurrence = {}
        for code, value in subfields:
            occ.setdefault(code, []).append(value)
        self.fields.setdefault(tag.split("/", 1)[0], []).append(occ)

    def get(self, tag: str) -> list[Occurrence]:
        """All occurrences of a field (empty list when absent)."""
        return self.fields.get(tag, [])

    def values(self, tag: str, code: str) -> list[str]:
        """All values of subfield ``code`` in all occurrences of ``tag``."""
        return [v for occ in self.get(tag) for v in occ.get(code, [])]

    def first(self, tag: str, code: str, default: str | None = None) -> str | None:
        """The first value of ``tag $code`` or ``default``."""
        vals = self.values(tag, code)
        return vals[0] if vals else default

    def to_dict(self) -> Fields:
        """The neutral dict (a copy)."""
        return {tag: [{c: list(v) for c, v in occ.items()} for occ in occs] for tag, occs in self.fields.items()}

    def __contains__(self, tag: object) -> bool:
        return tag in self.fields


def occ_first(occ: Occurrence, code: str, default: str | None = None) -> str | None:
    """The first value of a subfield in one occurrence."""
    vals = occ.get(code)
    return vals[0] if vals else default


# ------------------------------------------------------------------ normalized / plain text


def parse_normalized_record(line: str, source: str = "PICA+ record") -> PicaRecord:
    """Parse one line of normalized PICA+ (``\\x1e`` before fields, ``\\x1f`` before subfields)."""
    line = line.rstrip("\r\n")
    parts = line.split(FIELD_SEP)
    rec = PicaRecord(ppn=parts[0].strip() or None)
    for raw in parts[1:]:
        if not raw.strip():
            continue
        head, sep, rest = raw.partition(SUBFIELD_SEP)
        tag = head.strip()
        if not _TAG.fullmatch(tag):
            raise ParseError(f"{source}: bad PICA+ tag {tag!r}")
        subs = [(s[0], s[1:]) for s in (SUBFIELD_SEP + rest).split(SUBFIELD_SEP)[1:] if s] if sep else []
        rec.add(tag, subs)
    if not rec.fields:
        raise ParseError(f"{source}: no PICA+ fields")
    if rec.ppn is None:
        rec.ppn = rec.first("003@", "0")
    return rec


def _split_dollar(text: str) -> list[tuple[str, str]]:
    subs: list[tuple[str, str]] = []
    i = 0
    current: list[str] | None = None
    code = ""
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text) and text[i + 1] == "$":
            if current is not None:
                current.append("$")
            i += 2
            continue
        if ch == "$" and i + 1 < len(text):
            if current is not None:
                subs.append((code, "".join(current)))
            code = text[i + 1]
            current = []
            i += 2
            continue
        if current is not None:
            current.append(ch)
        i += 1
    if current is not None:
        subs.append((code, "".join(current)))
    return subs


def parse_plain_record(text: str, source: str = "PICA+ record") -> PicaRecord:
    """Parse one record of plain PICA+ (``TAG $aVALUE$bVALUE`` per line)."""
    rec = PicaRecord()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head, _, rest = line.strip().partition(" ")
        if not _TAG.fullmatch(head) or not rest.lstrip().startswith("$"):
            raise ParseError(f"{source}, line {n}: not a PICA+ field: {line[:60]!r}")
        rec.add(head, _split_dollar(rest.lstrip()))
    if not rec.fields:
        raise ParseError(f"{source}: no PICA+ fields")
    rec.ppn = rec.first("003@", "0")
    return rec


def iter_pica_text(text: str, source: str = "PICA+ file", *, strict: bool = False,
                   skipped: list[tuple[str, str]] | None = None) -> Iterator[PicaRecord]:
    """Records of a PICA+ text in either the normalized or the plain form (detected).

    Odd records are logged and skipped unless ``strict`` (then :class:`ParseError`);
    ``skipped`` collects ``(record, reason)`` of each.
    """
    parse: Callable[[str, str], PicaRecord]
    if FIELD_SEP in text:
        chunks = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
        parse = parse_normalized_record
    else:
        chunks = [(n, chunk) for n, chunk in enumerate(re.split(r"\n\s*\n", text), 1) if chunk.strip()]
        parse = parse_plain_record
    for n, chunk in chunks:
        try:
            yield parse(chunk, f"{source} record {n}")
        except ParseError as exc:
            if strict:
                raise
            log.warning("skipping unreadable record %d of %s", n, source)
            if skipped is not None:
                skipped.append((f"{source} record {n}", str(exc)))


# ------------------------------------------------------------------ JSON


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _json_occurrence(obj: Any, tag: str, source: str) -> list[tuple[str, str]]:
    if isinstance(obj, list) and all(isinstance(x, str) for x in obj) and len(obj) % 2 == 0:
        return [(obj[i], obj[i + 1]) for i in range(0, len(obj), 2)]
    if not isinstance(obj, dict):
        raise ParseError(f"{source}: field {tag} is neither an object nor a list of objects")
    subs: list[tuple[str, str]] = []
    for code, value in obj.items():
        code = str(code).lstrip("$")
        if len(code) != 1:
            raise ParseError(f"{source}: field {tag} has a bad subfield code {code!r}")
        for v in _as_list(value):
            if isinstance(v, (dict, list)):
                raise ParseError(f"{source}: {tag} ${code} is not a string")
            subs.append((code, str(v)))
    return subs


def _compact_field(arr: list[Any], source: str) -> tuple[str, list[tuple[str, str]]]:
    if not arr or not isinstance(arr[0], str):
        raise ParseError(f"{source}: compact field without a tag")
    tag = arr[0]
    rest = arr[1:]
    if len(rest) % 2 == 1:  # [tag, occurrence, code, value, ...]
        occ, rest = rest[0], rest[1:]
        if occ not in (None, "") and str(occ).isdigit():
            tag = f"{tag}/{occ}"
    pairs = []
    for i in range(0, len(rest), 2):
        code, value = rest[i], rest[i + 1]
        if not isinstance(code, str) or len(code.lstrip("$")) != 1 or value is None or isinstance(value, (dict, list)):
            raise ParseError(f"{source}: compact field {tag} has a bad subfield")
        pairs.append((code.lstrip("$"), str(value)))
    return tag, pairs


def pica_from_json(data: Any, source: str = "PICA+ JSON") -> PicaRecord:
    """Read PICA+ given as JSON (``data`` object or ``compact`` array; see module docstring)."""
    rec = PicaRecord()
    if isinstance(data, list):
        for arr in data:
            if not isinstance(arr, list):
                raise ParseError(f"{source}: compact record item is not an array")
            tag, pairs = _compact_field(arr, source)
            if not _TAG.fullmatch(tag):
                raise ParseError(f"{source}: bad PICA+ tag {tag!r}")
            rec.add(tag, pairs)
    elif isinstance(data, dict):
        for tag, value in data.items():
            if not _TAG.fullmatch(tag):
                raise ParseError(f"{source}: bad PICA+ tag {tag!r}")
            occurrences = value if isinstance(value, list) and (not value or not isinstance(value[0], str)) else [value]
            for occ in occurrences:
                rec.add(tag, _json_occurrence(occ, tag, source))
    else:
        raise ParseError(f"{source}: PICA+ JSON must be an object or an array, got {type(data).__name__}")
    if not rec.fields:
        raise ParseError(f"{source}: no PICA+ fields")
    rec.ppn = rec.first("003@", "0")
    return rec


def pica_to_json(rec: PicaRecord) -> dict[str, Any]:
    """The ``data`` object shape (single values as strings, one occurrence as an object)."""
    out: dict[str, Any] = {}
    for tag, occs in rec.fields.items():
        shaped = [{c: (v[0] if len(v) == 1 else list(v)) for c, v in occ.items()} for occ in occs]
        out[tag] = shaped[0] if len(shaped) == 1 else shaped
    return out


def pica_to_compact(rec: PicaRecord) -> list[list[Any]]:
    """The ``compact`` array shape: ``[tag, null, code, value, …]`` per field."""
    out: list[list[Any]] = []
    for tag, occs in rec.fields.items():
        for occ in occs:
            arr: list[Any] = [tag, None]
            for code, values in occ.items():
                for v in values:
                    arr += [code, v]
            out.append(arr)
    return out
