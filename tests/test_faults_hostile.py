"""Hostile input: XML bombs, external entities, huge advertised bodies, SPARQL injection.

The RDF/XML bomb runs in a child process with a 1 GB address-space limit and a
time limit, so a parser that expands entities crashes the child, not the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from linkeddata.emulator import Emulator
from linkeddata.errors import HTTPError, LinkedDataError, ParseError
from linkeddata.http import make_session, request
from linkeddata.libris.oaipmh import OAIClient
from linkeddata.records import Record
from linkeddata.stores import open_store

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
SECRET = "TOP-SECRET-7f3c91"


def _laughs(depth: int = 9, fanout: int = 10) -> str:
    """Nested internal entities: ``&e{depth};`` expands to 3·fanout**depth characters."""
    decls = ['<!ENTITY e0 "ha!">'] + [f'<!ENTITY e{i} "{f"&e{i - 1};" * fanout}">' for i in range(1, depth + 1)]
    return "".join(decls)


def rdfxml_bomb(depth: int = 9, padding: int = 0) -> str:
    """A billion-laughs RDF/XML record; ``padding`` bytes of comment before the DOCTYPE."""
    pad = f"<!--{'x' * padding}-->\n" if padding else ""
    return (f'<?xml version="1.0"?>\n{pad}<!DOCTYPE rdf:RDF [{_laughs(depth)}]>\n'
            f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:kbv="https://id.kb.se/vocab/">'
            f'<rdf:Description rdf:about="https://libris.kb.se/bomb1"><kbv:mainEntity>'
            f'<rdf:Description rdf:about="https://libris.kb.se/bomb1#it"><kbv:title>&e{depth};</kbv:title>'
            f'</rdf:Description></kbv:mainEntity></rdf:Description></rdf:RDF>')


def rdfxml_xxe(path: str) -> str:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY xxe SYSTEM "file://{path}">]>\n'
            f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:kbv="https://id.kb.se/vocab/">'
            f'<rdf:Description rdf:about="https://libris.kb.se/xxe1"><kbv:title>&xxe;</kbv:title>'
            f'</rdf:Description></rdf:RDF>')


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n", "utf-8")
    return path


# ------------------------------------------------------------------ RDF/XML through the store


_CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from linkeddata.records import Record
    from linkeddata.stores import open_store
    store = open_store(None)
    body = sys.stdin.buffer.read()
    stats = store.load_records([Record("https://libris.kb.se/bomb1", body, media_type="application/rdf+xml")])
    longest = max((len(q.object.value) for q in store.inner), default=0)
    print("records", stats.records, "skipped", len(stats.skipped), "longest", longest)
""")


@pytest.mark.parametrize(("padding", "encoding"), [(0, "utf-8"), (70_000, "utf-8"), (0, "utf-16")])
def test_rdfxml_entity_bomb_is_refused_or_not_expanded(padding, encoding):
    """A billion-laughs RDF/XML record is skipped (or loaded unexpanded); the process survives.

    Padding puts a long comment before the DOCTYPE; UTF-16 hides ``<!ENTITY`` from a byte search.
    """
    doc = rdfxml_bomb(padding=padding).replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    try:
        child = subprocess.run([sys.executable, "-c", _CHILD], input=doc.encode(encoding), capture_output=True,
                               timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("loading an RDF/XML entity bomb did not finish within 60 s")
    assert child.returncode == 0, f"the loader crashed on an entity bomb (exit {child.returncode})"
    out = child.stdout.decode().split()
    assert out[0] == "records"
    longest = int(out[out.index("longest") + 1])
    assert longest < 100_000, "the entity was expanded"


def test_rdfxml_small_entity_expansion_is_bounded_in_store():
    """Even a modest bomb (30 kB expanded) must not blow up: it loads or is skipped, never crashes."""
    store = open_store(None)
    stats = store.load_records([Record("https://libris.kb.se/bomb1", rdfxml_bomb(depth=4).encode(),
                                       media_type="application/rdf+xml")])
    assert stats.records + len(stats.skipped) == 1


def test_rdfxml_external_entity_is_not_resolved(secret_file):
    store = open_store(None)
    stats = store.load_records([Record("https://libris.kb.se/xxe1", rdfxml_xxe(str(secret_file)).encode(),
                                       media_type="application/rdf+xml")])
    assert all(SECRET not in str(q) for q in store.inner)
    assert stats.records + len(stats.skipped) == 1
    if stats.skipped:
        assert "\n" not in stats.skipped[0][1]


def test_rdfxml_external_entity_is_refused_by_load_file(tmp_path, secret_file):
    path = tmp_path / "evil.rdf"
    path.write_text(rdfxml_xxe(str(secret_file)), "utf-8")
    store = open_store(None)
    try:
        store.load_file(path, graph="https://libris.kb.se/xxe1")
    except ParseError as exc:
        assert "\n" not in str(exc)
    assert all(SECRET not in str(q) for q in store.inner)


# ------------------------------------------------------------------ OAI-PMH XML


def _oai_envelope(doctype: str, body: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            '<responseDate>2024-01-01T00:00:00Z</responseDate>'
            '<request verb="Identify">https://libris.kb.se/api/oaipmh/</request>'
            '<Identify><repositoryName>' + body + '</repositoryName>'
            '<baseURL>https://libris.kb.se/api/oaipmh/</baseURL><protocolVersion>2.0</protocolVersion>'
            '<adminEmail>libris@kb.se</adminEmail><earliestDatestamp>2003-05-06T22:00Z</earliestDatestamp>'
            '<deletedRecord>persistent</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity>'
            '</Identify></OAI-PMH>')


@pytest.fixture(scope="module")
def oai_emu():
    with Emulator(services=["oaipmh"]) as emu:
        yield emu


@pytest.fixture
def oai(oai_emu):
    oai_emu.faults.clear()
    session = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01)
    yield oai_emu, OAIClient(oai_emu.url("oaipmh"), session=session)
    oai_emu.faults.clear()
    session.close()


def test_oai_xml_bomb_is_not_expanded(oai):
    emu, client = oai
    doc = _oai_envelope(f"<!DOCTYPE OAI-PMH [{_laughs(9)}]>", "&e9;")
    emu.faults.add("body", service="oaipmh", body=doc, content_type="text/xml; charset=utf-8", times=None)
    try:
        info = client.identify()
    except LinkedDataError as exc:
        assert "\n" not in str(exc)
        return
    assert len(info.repository_name) < 100_000


def test_oai_external_entity_is_not_resolved(oai, secret_file):
    emu, client = oai
    doc = _oai_envelope(f'<!DOCTYPE OAI-PMH [<!ENTITY xxe SYSTEM "file://{secret_file}">]>', "&xxe;")
    emu.faults.add("body", service="oaipmh", body=doc, content_type="text/xml; charset=utf-8", times=None)
    try:
        info = client.identify()
    except LinkedDataError as exc:
        assert SECRET not in str(exc)
        return
    assert SECRET not in info.repository_name


def test_oai_garbage_is_a_one_line_error(oai):
    emu, client = oai
    emu.faults.add("body", service="oaipmh", body="<OAI-PMH><unclosed>", content_type="text/xml", times=None)
    with pytest.raises(HTTPError) as info:
        client.identify()
    assert "\n" not in str(info.value) and emu.url("oaipmh") in str(info.value)


# ------------------------------------------------------------------ huge advertised body


class _HugeHandlerServer:
    """A raw server that advertises a 1 GB body and sends only a few bytes, counting what it sent."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sent = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/huge"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/ld+json\r\n"
                        b"Content-Length: 1073741824\r\n\r\n")
                self.sent += 1  # counted before sending: the client may have refused it before sendall returns
                conn.sendall(head + b'{"@graph": [')

    def close(self) -> None:
        self.sock.close()


def test_advertised_one_gigabyte_body_is_refused_without_reading_it():
    server = _HugeHandlerServer()
    session = make_session(cache=False, rate_limit=None, retries=0, backoff_factor=0.01, timeout=(2, 5))
    try:
        with pytest.raises(HTTPError) as info:
            request(session, "GET", server.url, stream=True)
    finally:
        session.close()
        server.close()
    message = str(info.value)
    assert "\n" not in message and server.url in message and "1073741824" in message


# ------------------------------------------------------------------ SPARQL injection through --param


def _small_store(path):
    doc = {"@graph": [{"@id": "https://libris.kb.se/inj1", "@type": "Record",
                       "mainEntity": {"@id": "https://libris.kb.se/inj1#it"}},
                      {"@id": "https://libris.kb.se/inj1#it", "@type": "Instance",
                       "hasTitle": [{"@type": "Title", "mainTitle": "Ormarnas sommar"}]}]}
    with open_store(path) as store:
        store.load_records([Record("https://libris.kb.se/inj1", doc)])
        before = store.canonical_nquads()
    open_store(path).close()
    return before


@pytest.mark.parametrize("value", [
    "} ; DROP ALL",
    "x\" } } ; DROP ALL ; SELECT * WHERE { \"",
    "<https://libris.kb.se/inj1#it> } ; DROP ALL #",
    "> ) } ; CLEAR ALL ; #",
])
def test_sparql_param_injection_is_neutralised(tmp_path, value):
    from linkeddata.query import run_query

    store_path = tmp_path / "kg"
    before = _small_store(store_path)
    store = open_store(store_path)
    try:
        list(run_query(store, "SELECT ?t WHERE { ?i kbv:mainTitle ?t . FILTER(?t != ?x) }", {"x": value}))
    except LinkedDataError as exc:
        assert "\n" not in str(exc)
    assert store.canonical_nquads() == before
    store.close()

    from linkeddata.cli import cli

    result = CliRunner().invoke(cli, ["query", "SELECT ?i WHERE { ?i a kbv:Instance . FILTER(?i != ?x) }",
                                      "--store", str(store_path), "--param", f"x={value}"])
    assert result.exit_code in (0, 1), result.output
    check = open_store(store_path, read_only=True)
    assert check.canonical_nquads() == before


def test_advertised_one_gigabyte_body_is_refused_by_the_default_request_path():
    """Callers such as fetch_record do not pass ``stream=True``: the size check must still come first."""
    server = _HugeHandlerServer()
    session = make_session(cache=False, rate_limit=None, retries=0, backoff_factor=0.01, timeout=(2, 5))
    try:
        with pytest.raises(HTTPError) as info:
            request(session, "GET", server.url)
    finally:
        session.close()
        server.close()
    message = str(info.value)
    assert "\n" not in message and server.url in message
    assert "exceeds" in message and "1073741824" in message
    assert server.sent == 1  # one response, refused from its headers: no retry, nothing downloaded


def test_a_document_that_is_not_json_is_skipped_with_a_readable_reason(tmp_path):
    from linkeddata.cli import cli

    bad = tmp_path / "utf16.jsonld"
    bad.write_bytes("\ufeff{\"@id\": \"https://libris.kb.se/x\"}".encode("utf-16-le"))
    result = CliRunner().invoke(cli, ["load", str(bad), "--store", str(tmp_path / "kg")])
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("skipped")]
    assert "not valid JSON (lexical error: invalid char in json text.)" in line and "b'" not in line
