"""``linkeddata map``: map a KBV record to schema.org, bibo or BIBFRAME offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .common import FormatChoice, get_session, output_option, read_input, write_output


@click.command("map")
@click.argument("source")
@click.option("--profile", required=True, help="sdo, bibo, loc (or loc-dcmi-w3c, sdo-w3c…) or a target context IRI.")
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, path_type=Path),
              help="Vocabulary file or folder (Turtle/JSON-LD). Default: fetch id.kb.se/vocab/ (cached).")
@click.option("--format", "fmt", type=FormatChoice(["jsonld", "ttl"]), default="jsonld", show_default=True)
@output_option()
@click.option("--keep-unmapped", is_flag=True, help="Keep KBV terms that have no mapping (Libris drops them).")
def map_command(source: str, profile: str, vocab_path: Path | None, fmt: str, output: str | None,
                keep_unmapped: bool) -> None:
    """Map a record (a local JSON-LD/Turtle FILE, - for standard input, or a Libris ID) to a target vocabulary.

    \b
    Examples:
      linkeddata map record.jsonld --profile sdo
      linkeddata map k9dt4hbw6p1ncz8 --profile loc --format ttl -o record.ttl
      linkeddata map record.jsonld --profile bibo --vocab vocab/
    """
    from ..profiles import load_vocab, map_document, resolve_profile, to_turtle

    iri = resolve_profile(profile)
    session = get_session()
    vocab = load_vocab(vocab_path) if vocab_path else load_vocab(session=session)
    if source == "-":  # a JSON-LD or Turtle document on standard input
        from ..errors import ParseError
        from ..records import Record

        text = read_input("-")
        if text.lstrip().startswith(("{", "[")):
            try:
                document: Any = json.loads(text)
            except ValueError as exc:
                raise ParseError(f"standard input: not JSON-LD ({exc})") from exc
        else:
            document = Record("standard input", text.encode("utf-8"), media_type="text/turtle")
        mapped = map_document(document, iri, vocab=vocab, drop_unmapped=not keep_unmapped)
    elif Path(source).is_file():
        mapped = map_document(source, iri, vocab=vocab, drop_unmapped=not keep_unmapped)
    else:
        from ..libris.read import fetch_record

        record = fetch_record(source, format="jsonld", session=session, embellished=False)
        mapped = map_document(record, iri, vocab=vocab, drop_unmapped=not keep_unmapped)
    text = to_turtle(mapped, iri) if fmt == "ttl" else json.dumps(mapped, ensure_ascii=False, indent=2) + "\n"
    write_output(output, text)


def add_map(group: click.Group) -> None:
    """Add the ``map`` command to ``group``."""
    group.add_command(map_command)


register = add_map
