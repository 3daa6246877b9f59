"""RDF formats by name, file extension or media type, as pyoxigraph's ``RdfFormat``.

The one table the store, the profiles and the remote store read formats from.

>>> rdf_format("ttl") == rdf_format("data.ttl") == rdf_format("text/turtle; charset=utf-8")
True
>>> rdf_format("dump.nq").media_type
'application/n-quads'
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from .errors import ParseError

__all__ = ["EXTENSIONS", "FORMAT_NAMES", "JSON_LINES", "rdf_format"]

#: File extensions → RDF formats (what :meth:`linkeddata.store.LocalStore.load_file` reads).
EXTENSIONS: dict[str, ox.RdfFormat] = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
    ".xml": ox.RdfFormat.RDF_XML,
    ".n3": ox.RdfFormat.N3,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
}
#: Extensions of JSON Lines files (one JSON-LD record per line; not an RDF format of pyoxigraph).
JSON_LINES = (".jsonl", ".ndjson", ".ndjsonld")

#: Format names accepted wherever a format is named.
FORMAT_NAMES: dict[str, ox.RdfFormat] = {
    "ttl": ox.RdfFormat.TURTLE, "turtle": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES,
    "ntriples": ox.RdfFormat.N_TRIPLES, "nq": ox.RdfFormat.N_QUADS, "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG, "rdf": ox.RdfFormat.RDF_XML, "xml": ox.RdfFormat.RDF_XML,
    "n3": ox.RdfFormat.N3, "jsonld": ox.RdfFormat.JSON_LD, "json": ox.RdfFormat.JSON_LD,
}


def rdf_format(name_or_path: str | Path) -> ox.RdfFormat:
    """The RDF format for a format name, media type or file name.

    :raises ParseError: none of them tells the format.
    """
    text = str(name_or_path)
    if text.lower() in FORMAT_NAMES:
        return FORMAT_NAMES[text.lower()]
    suffix = Path(text).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    fmt = ox.RdfFormat.from_media_type(text.split(";")[0].strip()) if "/" in text else None
    if fmt is None:
        raise ParseError(f"cannot tell the RDF format of {text!r}; name the format "
                         f"({', '.join(sorted(FORMAT_NAMES))})")
    return fmt
