"""EMM dumps: the emulator's traps (libris-services.md §5.3) and the client that reads them."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from linkeddata.emulator import Emulator
from linkeddata.errors import InvalidInputError, ServiceUnavailableError
from linkeddata.http import make_session
from linkeddata.libris.dumps import DumpClient, DumpReader, DumpRegenerated, check_selection, iter_download


@pytest.fixture()
def emu():
    with Emulator(services=["emm", "libris"], size=40, emm_dump_page_size=10) as emulator:
        yield emulator


def _client(emu, selection="itemAndInstance:Umu"):
    return DumpClient(selection, session=make_session(cache=False, rate_limit=None), base_url=emu.url("emm"),
                      poll_interval=0.01, max_wait=5)


def test_bad_selections_fail_before_any_request():
    for bad in ("", "itemAndInstance:", "type:", "type:a b", "bib:S", "everything"):
        with pytest.raises(InvalidInputError, match="selection"):
            check_selection(bad)


def test_generating_pages_have_99_items_and_no_total_until_done(emu):
    emu.options["emm_dump_generating"] = 2
    url = emu.url("emm") + "/full?selection=itemAndInstance:Umu&offset=0"
    first = requests.get(url, timeout=10).json()
    assert first["_status"] == "generating" and "totalItems" not in first and "next" in first
    assert len(first["items"]) == 1 + 9  # the context item and min(page, available - 1) ids
    client = _client(emu)
    done = client.wait_until_done()
    assert done.done and done.total == len(emu.corpus.held_by("Umu"))
    assert client.requests == 2  # one more generating page, then done


def test_pages_give_each_holding_and_its_instance_once(emu):
    client = _client(emu)
    first = client.wait_until_done()
    reader = DumpReader("itemAndInstance:Umu")
    records = [r for _, page in client.iter_pages(first.start_time) for item in page.items for r in reader.records(item)]
    holdings = [r for r in records if r.data["@graph"][1]["@type"] == "Item"]
    assert sorted(r.iri for r in holdings) == sorted(emu.corpus.held_by("Umu"))
    instances = {r.iri for r in records} - {r.iri for r in holdings}
    assert instances == {emu.corpus.resolve(r.data["@graph"][1]["itemOf"]["@id"]) for r in holdings}
    assert all("@context" not in r.data for r in records)  # the KBV context item resolved locally
    assert all(set(h.data["@graph"][1]["itemOf"]) == {"@id"} for h in holdings) and not reader.skipped
    assert client.requests == 1 + -(-len(holdings) // 10)


def test_a_dump_regenerated_while_paging_raises(emu):
    emu.options["emm_dump_regenerate_after"] = 2
    client = _client(emu)
    first = client.wait_until_done()
    with pytest.raises(DumpRegenerated) as caught:
        for _ in client.iter_pages(first.start_time):
            pass
    assert caught.value.old == first.start_time != caught.value.new


def test_download_streams_to_disk_and_a_cut_download_is_an_error(emu, tmp_path):
    client = _client(emu, "type:Agent")
    client.wait_until_done()
    dest = tmp_path / "agents.ndjsonld.gz"
    assert client.download(dest) > 0 and not (tmp_path / "agents.ndjsonld.gz.part").exists()
    reader = DumpReader("type:Agent")
    items = list(iter_download(dest))
    records = [r for _, item in items for r in reader.records(item)]
    assert {r.data["@graph"][1]["@type"] for r in records} == {"Person", "Organization"}
    # resuming at a line still reads the context item first
    assert [n for n, _ in iter_download(dest, start_line=3)][0] == 0 and len(list(iter_download(dest, 3))) == len(items) - 2
    emu.faults.add("truncate", service="emm", path="download", times=None)
    with pytest.raises(ServiceUnavailableError, match="download"):
        client.download(tmp_path / "cut.gz")
    assert not list(tmp_path.glob("cut.gz*"))


def test_items_of_another_library_or_an_unknown_context_are_skipped_and_named():
    reader = DumpReader("itemAndInstance:S")
    other = {"@id": "https://libris.kb.se/h1", "@context": [None, "https://x.test/ctx"],
             "@graph": [{"@id": "https://libris.kb.se/h1"}, {"@id": "https://libris.kb.se/h1#it", "@type": "Item"}]}
    assert reader.records(other) == [] and "not in the dump" in reader.skipped[0][1]
    reader.contexts["https://x.test/ctx"] = None
    assert reader.records(other) == [] and "not a holding of" in reader.skipped[1][1]


def test_a_holding_now_held_by_another_library_left_the_selection_and_is_not_skipped():
    reader = DumpReader("itemAndInstance:S")
    moved = {"@id": "https://libris.kb.se/h2", "@graph": [
        {"@id": "https://libris.kb.se/h2"},
        {"@id": "https://libris.kb.se/h2#it", "@type": "Item", "heldBy": {"@id": "https://libris.kb.se/library/Umu"},
         "itemOf": {"@id": "https://libris.kb.se/i1#it"}}]}
    assert reader.records(moved) == [] and reader.left == ["https://libris.kb.se/h2"] and not reader.skipped
    moved["@graph"][1]["heldBy"] = {"@id": "https://example.org/not-a-library"}  # not a Libris library: bad
    assert reader.records(moved) == [] and reader.left == ["https://libris.kb.se/h2"] and len(reader.skipped) == 1


def test_download_while_generating_holds_only_the_ids_written_so_far(emu):
    emu.options["emm_dump_generating"] = 5
    body = requests.get(emu.url("emm") + "/full?selection=all&download=x", timeout=10).content
    lines = gzip.decompress(body).splitlines()
    assert 1 < len(lines) < len(list(emu.corpus.iter_records())) and json.loads(lines[0])["@id"]
