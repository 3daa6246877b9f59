"""The emulator framework and services under edge cases: start-up failures, threads, raw query strings."""

from __future__ import annotations

import socket
import threading
import time
import types

import pytest
import requests
from click.testing import CliRunner

from linkeddata.emulator import Emulator
from linkeddata.emulator.corpus import Corpus
from linkeddata.emulator.libris_find import _Finder

BIB_IRI = "https://libris.kb.se/f5nc8rlm2x0vq7s"


@pytest.fixture
def busy_port():
    """A loopback port that something else is listening on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def _emulator_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"emulator-{name}" and t.is_alive()]


def test_a_service_that_cannot_start_stops_the_ones_already_running(busy_port):
    before = len(_emulator_threads("bibdb"))
    with pytest.raises(OSError):
        Emulator(services=["bibdb", "isil"], ports={"isil": busy_port}).start()
    deadline = time.monotonic() + 5
    while len(_emulator_threads("bibdb")) > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(_emulator_threads("bibdb")) == before  # the bibdb server was shut down, not leaked


def test_unknown_service_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="nosuch"):
        Emulator(services=["nosuch"]).start()


def test_cli_serve_refuses_an_unknown_service_in_one_line():
    from linkeddata.cli import cli

    result = CliRunner().invoke(cli, ["emulator", "serve", "--service", "nosuch", "--seconds", "0"])
    assert result.exit_code == 2 and not isinstance(result.exception, KeyError)
    assert "nosuch" in result.output and "Traceback" not in result.output


def test_cli_serve_on_a_port_in_use_fails_in_one_line(busy_port):
    from linkeddata.cli import cli

    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", str(busy_port), "--service", "bibdb",
                                      "--seconds", "0"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: cannot start the emulator"), lines


def test_find_cache_shared_by_threads_survives_a_clear_between_store_and_read():
    class ClearedByAnotherThread(dict):
        """A cache that another request thread empties right after each store."""

        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            self.clear()

    corpus = Corpus()
    finder = _Finder(types.SimpleNamespace(corpus=corpus, options={}))
    finder._cache = ClearedByAnotherThread()
    assert finder.search([("q", "*")]) == list(corpus.iter_records())


def test_lookup_waits_for_a_write_that_is_re_indexing_the_record():
    """A reader never sees a record as missing while ``replace`` re-indexes it."""
    corpus = Corpus()
    seen: list[str | None] = []
    reader = threading.Thread(target=lambda: seen.append(corpus.resolve(BIB_IRI)))
    original = corpus._add

    def add_while_another_thread_reads(iri, doc):
        reader.start()
        reader.join(0.2)  # the reader must wait for the writer's lock, not answer "missing"
        original(iri, doc)

    corpus._add = add_while_another_thread_reads
    corpus.replace(BIB_IRI, corpus.get(BIB_IRI))
    reader.join(5)
    assert seen == [BIB_IRI]


def test_marc_export_reads_from_and_until_undecoded():
    """``+01:00`` is sent literally (MarcHttpExport does not URL-decode): a ``+`` is not a space."""
    with Emulator(services=["libris"]) as emu:
        url = (emu.url("libris") + "/api/marc_export/?from=2000-01-01T00:00:00+01:00"
               "&until=2100-01-01T00:00:00+01:00&deleted=ignore")
        response = requests.post(url, data=b"locations=*\nformat=MARCXML\n", timeout=20)
    assert response.status_code == 200, response.text[:200]
    assert response.content.count(b"<record>") == len(list(emu.corpus.iter_records(kind="bib")))


# ------------------------------------------------------------------ EMM dumps (libris-services.md §5.3)


@pytest.fixture(scope="module")
def emm():
    with Emulator(services=["emm"], size=60, emm_dump_page_size=5) as emu:
        yield emu


def test_emm_entry_point_links_a_dump_index(emm):
    entry = requests.get(emm.url("emm") + "/", timeout=10).json()
    index = requests.get(entry["url"], timeout=10)
    assert index.status_code == 200
    urls = [c["url"] for c in index.json()["categories"]]
    assert f"{entry['url']}?selection=all" in urls and any("itemAndInstance:S" in u for u in urls)


def test_emm_dump_pages_are_keyed_at_id_with_the_context_item_first_and_short_pages(emm):
    corpus = emm.corpus
    collection = requests.get(emm.url("emm") + "/full?selection=itemAndInstance:Uu", timeout=10)
    assert collection.headers["Content-Type"].startswith("application/activity+json")
    first = requests.get(collection.json()["first"]["id"], timeout=10).json()
    assert first["_status"] == "done" and first["totalItems"] == len(corpus.held_by("Uu")) > 10
    context_item, *records = first["items"]
    assert "@graph" not in context_item and context_item["@context"]["@vocab"] == "https://id.kb.se/vocab/"
    assert len(records) == 5 and all("id" not in r and r["@context"] == [None, context_item["@id"]] for r in records)
    item = records[0]["@graph"][1]
    assert item["@type"] == "Item" and item["itemOf"]["meta"]["@type"] == "Record"
    second_url = first["next"]
    victim = requests.get(second_url, timeout=10).json()["items"][0]["@id"]
    corpus.delete(victim)  # deleted after the id list was taken: dropped, the page is short
    second = requests.get(second_url, timeout=10).json()
    assert len(second["items"]) == 4 and victim not in [r["@id"] for r in second["items"]]
    assert second["next"].endswith("&offset=10")
    page, seen = second, 0
    while "next" in page and seen < 20:  # bounded
        page, seen = requests.get(page["next"], timeout=10).json(), seen + 1
    assert "next" not in page and 0 < len(page["items"]) <= 5


def test_emm_dump_type_selection_download_and_errors(emm):
    import gzip
    import json

    base = emm.url("emm") + "/full"
    download = requests.get(base + "?selection=type:Agent&download=.ndjsonld.gz", timeout=10)
    assert download.headers["Content-Disposition"] == "attachment; filename=type:Agent.ndjsonld.gz"
    lines = [json.loads(line) for line in gzip.decompress(download.content).splitlines()]
    assert "@graph" not in lines[0]
    assert {line["@graph"][1]["@type"] for line in lines[1:]} == {"Person", "Organization"}
    empty = requests.get(base + "?selection=all&offset=abc", timeout=10)
    assert empty.status_code == 200 and empty.content == b""
    assert requests.get(base + "?selection=all&computedLabel=fr&offset=0", timeout=10).status_code == 400
    unknown = requests.get(base + "?selection=nosuch&offset=0", timeout=10)
    assert unknown.status_code == 500 and "error_id" in unknown.json()


def test_5xx_error_bodies_hide_the_reason_behind_an_error_id():
    from linkeddata.emulator.server import GENERIC_5XX_MESSAGE, Response

    body = Response.error(500, "KeyError: 'x'\n  at line 2").body
    data = __import__("json").loads(body)
    assert data["message"] == GENERIC_5XX_MESSAGE and len(data["error_id"]) == 36 and "KeyError" not in body.decode()
    assert __import__("json").loads(Response.error(404, "Document not found.").body) == {
        "status_code": 404, "status": "Not Found", "message": "Document not found."}


# ------------------------------------------------------------------ OAI-PMH


@pytest.fixture(scope="module")
def oai():
    with Emulator(services=["oaipmh"], size=40, oai_page_size=10) as emu:
        yield emu


def _oai_records(text: str) -> list[str]:
    import re

    return re.findall(r"<record>.*?</record>", text)


def test_oai_with_deleted_data_carries_tombstones_across_resumption_tokens(oai):
    import re

    base = oai.url("oaipmh") + "/"
    deleted_id = "https://libris.kb.se/x1zh5gk7nb2dw9q"
    plain = requests.get(base, params={"verb": "GetRecord", "metadataPrefix": "jsonld", "identifier": deleted_id},
                         timeout=10).text
    assert 'status="deleted"' in plain and "<metadata>" not in plain
    tomb = requests.get(base, params={"verb": "GetRecord", "metadataPrefix": "jsonld", "identifier": deleted_id,
                                      "x-withDeletedData": "true"}, timeout=10).text
    assert 'status="deleted"' in tomb and "marc:Deleted" in tomb
    params = {"verb": "ListRecords", "metadataPrefix": "jsonld", "x-withDeletedData": "true"}
    deleted, pages = [], 0
    while params and pages < 100:  # bounded
        text = requests.get(base, params=params, timeout=10).text
        deleted += [r for r in _oai_records(text) if 'status="deleted"' in r]
        token = re.search(r"<resumptionToken>([^<]+)</resumptionToken>", text)
        params, pages = ({"verb": "ListRecords", "resumptionToken": token.group(1)} if token else None), pages + 1
    assert pages > 2 and len(deleted) == len(oai.corpus.deleted)
    assert all("<metadata><![CDATA[" in r and "marc:Deleted" in r for r in deleted)


def test_oai_post_with_a_body_that_is_not_utf8_is_an_oai_error_not_a_500(oai):
    response = requests.post(oai.url("oaipmh") + "/", data=b"verb=Identify&x=\xff\xfe",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert response.status_code == 200 and 'code="badArgument"' in response.text


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_a_bad_content_length_is_a_400_not_a_dropped_connection(length):
    with Emulator(services=["bibdb"]) as emu:
        host, port = emu.url("bibdb").rsplit("/", 1)[1].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]


def test_record_deleted_between_lookup_and_read_is_410_not_500():
    """A DELETE that lands between the id lookup and the read answers 410, like any deleted record."""
    with Emulator(services=["libris"]) as emu:
        corpus = emu.corpus
        original = corpus.lookup
        fired: list[bool] = []

        def lookup_then_a_concurrent_delete(ident):
            found = original(ident)
            if found and found[0] == BIB_IRI and not fired:
                fired.append(True)
                corpus.delete(BIB_IRI)
            return found

        corpus.lookup = lookup_then_a_concurrent_delete
        response = requests.get(emu.url("libris") + "/f5nc8rlm2x0vq7s", timeout=10)
    assert response.status_code == 410 and response.json()["message"] == "Document has been deleted."
