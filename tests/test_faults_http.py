"""Fault injection over real HTTP: the client retries what is transient and fails clearly on the rest.

Every test talks to the loopback emulator with the real session
(``make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01)``)
and injects one fault with ``emu.faults``.
"""

from __future__ import annotations

import pytest

from linkeddata.emulator import Emulator
from linkeddata.emulator.server import http_date
from linkeddata.errors import (
    BadResponseError,
    HTTPError,
    LinkedDataError,
    NegotiationError,
    ParseError,
    ServiceUnavailableError,
)
from linkeddata.http import make_session, request
from linkeddata.libris.read import fetch_record
from linkeddata.records import Record
from linkeddata.stores import open_store


@pytest.fixture(scope="module")
def emu():
    with Emulator(services=["libris"]) as emulator:
        yield emulator


@pytest.fixture
def libris(emu):
    """The emulator with no faults and an empty request log."""
    emu.faults.clear()
    emu.request_log.clear()
    yield emu
    emu.faults.clear()


@pytest.fixture
def session():
    s = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01, timeout=(5, 20))
    yield s
    s.close()


@pytest.fixture(scope="module")
def ids(emu):
    """Three record ids of the hand-written corpus (bibliographic ones)."""
    bib = [iri for iri in sorted(emu.corpus.records) if emu.corpus.kind(iri) == "bib"]
    assert len(bib) >= 3
    return [iri.rsplit("/", 1)[-1] for iri in bib[:3]]


def _fetch(libris, session, ident, **kw) -> Record:
    return fetch_record(ident, session=session, base_url=libris.url("libris"), **kw)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, f"error message is not one line: {text!r}"
    return text


def _hits(libris, ident: str) -> int:
    return sum(1 for r in libris.requests_to("libris") if r.path.endswith(ident))


# ------------------------------------------------------------------ transient faults are retried


@pytest.mark.parametrize("retry_after", ["1", "date"])
def test_429_with_retry_after_is_retried_to_the_fault_free_result(libris, session, ids, retry_after):
    ident = ids[0]
    clean = _fetch(libris, session, ident)
    libris.request_log.clear()
    value = http_date(1) if retry_after == "date" else retry_after
    rule = libris.faults.add("status", service="libris", path=ident, status=429, retry_after=value, times=1)
    got = _fetch(libris, session, ident)
    assert rule.fired == 1
    assert _hits(libris, ident) == 2
    assert got.iri == clean.iri and got.data == clean.data and got.etag == clean.etag


def test_503_burst_within_the_retry_budget_is_absorbed(libris, session, ids):
    ident = ids[1]
    clean = _fetch(libris, session, ident, format="ttl")
    libris.request_log.clear()
    libris.faults.add("status", service="libris", path=ident, status=503, times=3)
    got = _fetch(libris, session, ident, format="ttl")
    assert _hits(libris, ident) == 4
    assert got.data == clean.data


def test_503_burst_longer_than_the_budget_fails_with_one_line_naming_the_url(libris, session, ids):
    ident = ids[1]
    libris.faults.add("status", service="libris", path=ident, status=503, times=None)
    with pytest.raises(ServiceUnavailableError) as info:
        _fetch(libris, session, ident)
    message = _one_line(info.value)
    assert ident in message and "503" in message
    assert _hits(libris, ident) == 4  # 1 + 3 retries, then stop: bounded


def test_connection_reset_is_retried(libris, session, ids):
    ident = ids[2]
    clean = _fetch(libris, session, ident)
    libris.request_log.clear()
    libris.faults.add("reset", service="libris", path=ident, times=2)
    got = _fetch(libris, session, ident)
    assert got.data == clean.data
    assert _hits(libris, ident) == 3


def test_permanent_reset_fails_with_one_line(libris, session, ids):
    ident = ids[2]
    libris.faults.add("reset", service="libris", path=ident, times=None)
    with pytest.raises(ServiceUnavailableError) as info:
        _fetch(libris, session, ident)
    assert libris.url("libris") in _one_line(info.value)


# ------------------------------------------------------------------ faults that must fail clearly


def test_slow_response_past_the_timeout_is_a_one_line_service_error(libris, ids):
    ident = ids[0]
    slow = make_session(cache=False, rate_limit=None, retries=1, backoff_factor=0.01, timeout=(2, 0.3))
    libris.faults.add("slow", service="libris", path=ident, delay=1.0, times=None)
    try:
        with pytest.raises(ServiceUnavailableError) as info:
            _fetch(libris, slow, ident)
    finally:
        slow.close()
    message = _one_line(info.value)
    assert libris.url("libris") in message and ident in message
    assert _hits(libris, ident) == 2  # bounded: one retry, then the error


def test_truncated_body_never_yields_a_record(libris, session, ids):
    ident = ids[0]
    libris.faults.add("truncate", service="libris", path=ident, times=None)
    with pytest.raises(LinkedDataError) as info:
        _fetch(libris, session, ident)
    assert libris.url("libris") in _one_line(info.value)


def test_truncated_body_once_then_whole(libris, session, ids):
    """A body cut short once is fetched again: the record arrives whole, never partial."""
    ident = ids[0]
    clean = _fetch(libris, session, ident)
    libris.faults.add("truncate", service="libris", path=ident, times=1)
    got = _fetch(libris, session, ident)
    assert got.data == clean.data


def test_html_error_page_with_status_200_is_a_negotiation_error(libris, session, ids):
    ident = ids[1]
    libris.faults.add("html", service="libris", path=ident, times=None)
    for fmt in ("jsonld", "ttl", "rdf"):
        with pytest.raises(NegotiationError) as info:
            _fetch(libris, session, ident, format=fmt)
        message = _one_line(info.value)
        assert ident in message and "HTML" in message


def test_malformed_json_ld_body_is_a_bad_response_not_bad_input(libris, session, ids):
    ident = ids[1]
    libris.faults.add("body", service="libris", path=ident, body='{"@graph": [{"@id": "https://libris.kb.se/',
                      content_type="application/ld+json", times=None)
    with pytest.raises(BadResponseError) as info:
        _fetch(libris, session, ident)
    assert ident in _one_line(info.value)


def test_redirect_loop_is_a_one_line_too_many_redirects(libris, session, ids):
    ident = ids[2]
    libris.faults.add("redirect-loop", service="libris", path=ident, times=None)
    with pytest.raises(HTTPError) as info:
        _fetch(libris, session, ident)
    message = _one_line(info.value)
    assert "too many redirects" in message and ident in message
    assert _hits(libris, ident) <= session.max_redirects + 2  # bounded


def test_retry_after_beyond_the_cap_fails_at_once(libris, ids):
    ident = ids[2]
    capped = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01, max_retry_after=5)
    libris.faults.add("status", service="libris", path=ident, status=429, retry_after="3600", times=None)
    try:
        with pytest.raises(ServiceUnavailableError) as info:
            _fetch(libris, capped, ident)
    finally:
        capped.close()
    message = _one_line(info.value)
    assert "3600" in message and "Retry-After" in message
    assert _hits(libris, ident) == 1  # no sleeping, no second try


def test_retry_after_date_beyond_the_cap_fails_at_once(libris, ids):
    ident = ids[0]
    capped = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01, max_retry_after=5)
    libris.faults.add("status", service="libris", path=ident, status=503, retry_after=http_date(7200), times=None)
    try:
        with pytest.raises(ServiceUnavailableError) as info:
            _fetch(libris, capped, ident)
    finally:
        capped.close()
    _one_line(info.value)
    assert _hits(libris, ident) == 1


def test_advertised_huge_content_length_is_refused(libris, session, ids):
    """http.request refuses a body whose Content-Length exceeds max_bytes."""
    ident = ids[0]
    url = f"{libris.url('libris')}/{ident}"
    with pytest.raises(HTTPError) as info:
        request(session, "GET", url, max_bytes=100, headers={"Accept": "application/ld+json"})
    message = _one_line(info.value)
    assert url in message and "exceeds" in message


# ------------------------------------------------------------------ malformed bodies never half-load


@pytest.mark.parametrize(
    ("fmt", "garbage", "media_type"),
    [
        ("ttl", "@prefix : <https://id.kb.se/vocab/> .\n<https://libris.kb.se/x> :mainEntity [ :title ",
         "text/turtle"),
        ("rdf", '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                '<rdf:Description rdf:about="https://libris.kb.se/x"><unclosed>', "application/rdf+xml"),
        ("trig", "<https://libris.kb.se/x> { <https://libris.kb.se/x> <https://id.kb.se/vocab/p> ",
         "application/trig"),
    ],
)
def test_malformed_rdf_body_is_skipped_and_the_store_holds_only_whole_records(libris, session, ids, fmt, garbage,
                                                                              media_type):
    clean_store = open_store(None)
    clean_store.load_records([_fetch(libris, session, i, format=fmt) for i in ids])
    bad = ids[1]
    libris.faults.add("body", service="libris", path=bad, body=garbage, content_type=media_type, times=None)
    store = open_store(None)
    stats = store.load_records([_fetch(libris, session, i, format=fmt) for i in ids])
    assert [iri.rsplit("/", 1)[-1] for iri, _ in stats.skipped] == [bad]
    assert "\n" not in stats.skipped[0][1]
    assert stats.records == 2
    good = {f"https://libris.kb.se/{i}" for i in ids if i != bad}
    assert store.graphs() == good
    for g in good:
        assert store.count_triples(g) == clean_store.count_triples(g) > 0


def test_malformed_body_with_strict_load_raises_naming_the_record(libris, session, ids):
    bad = ids[0]
    libris.faults.add("body", service="libris", path=bad, body="<https://libris.kb.se/x> <p> .",
                      content_type="text/turtle", times=None)
    store = open_store(None)
    with pytest.raises(ParseError) as info:
        store.load_records([_fetch(libris, session, i, format="ttl") for i in ids], strict=True)
    assert bad in _one_line(info.value)
    assert store.count_triples() == 0


# ------------------------------------------------------------------ the CLI under permanent faults


def _cli(libris, args):
    from click.testing import CliRunner

    from linkeddata.cli import cli

    env = {**libris.env(), "LINKEDDATA_NO_CACHE": "1"}
    return CliRunner().invoke(cli, args, env=env)


def _stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("kind", ["html", "redirect-loop", "status404"])
def test_cli_fetch_under_a_permanent_fault_exits_1_with_one_line(libris, ids, kind):
    ident = ids[0]
    if kind == "status404":
        libris.faults.add("status", service="libris", path=ident, status=404, times=None)
    else:
        libris.faults.add(kind, service="libris", path=ident, times=None)
    result = _cli(libris, ["fetch", ident])
    assert result.exit_code == 1, result.output
    lines = _stderr_lines(result)
    assert len(lines) == 1, lines
    assert ident in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_cli_load_under_a_permanent_fault_reports_it_in_one_line(libris, ids, tmp_path, strict):
    # issue 14's rule: every good source loads and each bad one is reported (exit 2);
    # --strict stops before writing anything (exit 1)
    bad = ids[1]
    libris.faults.add("redirect-loop", service="libris", path=bad, times=None)
    store_path = tmp_path / "kg"
    result = _cli(libris, ["load", ids[0], bad, "--store", str(store_path), *(["--strict"] if strict else [])])
    assert result.exit_code == (1 if strict else 2), result.output
    lines = _stderr_lines(result)
    assert len(lines) == 1 and bad in lines[0], lines
    from linkeddata.stores import open_store as _open

    store = _open(store_path)
    try:
        assert f"https://libris.kb.se/{bad}" not in store.graphs()
        assert (f"https://libris.kb.se/{ids[0]}" in store.graphs()) is not strict
    finally:
        store.close()


def test_cli_load_of_a_malformed_record_reports_it_on_one_line(libris, ids, tmp_path):
    bad = ids[2]
    libris.faults.add("body", service="libris", path=bad, body='{"@graph": [', content_type="application/ld+json",
                      times=None)
    result = _cli(libris, ["load", bad, "--store", str(tmp_path / "kg")])
    assert result.exit_code == 2, result.output  # a bad record is skipped and reported
    lines = _stderr_lines(result)
    assert len(lines) == 1 and bad in lines[0], lines


def test_cli_query_with_a_broken_query_exits_1_with_one_line(libris, ids, tmp_path):
    from linkeddata.stores import open_store as _open

    store_path = tmp_path / "kg"
    store = _open(store_path)
    store.load_records([fetch_record(ids[0], base_url=libris.url("libris"),
                                     session=make_session(cache=False, rate_limit=None))])
    store.close()
    result = _cli(libris, ["query", "SELECT ?s WHERE { ?s ?p ", "--store", str(store_path)])
    assert result.exit_code == 1
    lines = _stderr_lines(result)
    assert len(lines) == 1 and "SPARQL" in lines[0], lines
