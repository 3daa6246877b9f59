"""Hostile servers on 127.0.0.1: bodies are bounded while read, requests have a total deadline.

Each server is a few lines of socket code (tests/hostile.py). Limits are set small
(megabytes, seconds) so that every test is fast; the figures with the default
limits are in the closing note of issue 15.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from linkeddata.http import BodyTooLargeError, DeadlineError, download, limits_for, make_session, request
from linkeddata.errors import ConfigError, HTTPError, LinkedDataError

from .hostile import one_line, RawServer, answer, double_gzip_bomb, drip, endless_chunks, gzip_bomb

MB = 1 << 20


@pytest.fixture
def session():
    s = make_session(cache=False, rate_limit=None, retries=1, backoff_factor=0.01, timeout=(2, 5),
                     max_bytes=4 * MB, deadline=20)
    yield s
    s.close()


JSONLD = {"Content-Type": "application/ld+json"}


# ------------------------------------------------------------------ decoded size, while read


@pytest.mark.parametrize("stream", [False, True])
def test_gzip_bomb_is_refused_after_the_limit_not_after_the_body(session, stream):
    with RawServer(answer(gzip_bomb(256 * MB), {**JSONLD, "Content-Encoding": "gzip"})) as server:
        with pytest.raises(BodyTooLargeError) as info:
            response = request(session, "GET", server.url(), stream=stream)
            for _ in response.iter_content(MB):
                pass
    message = one_line(info.value)
    assert server.url() in message and "exceeds" in message and str(4 * MB) in message


def test_stacked_gzip_gzip_bomb_is_refused(session):
    body = double_gzip_bomb(5 * 1024 * MB)
    assert len(body) < 64 * 1024
    with RawServer(answer(body, {**JSONLD, "Content-Encoding": "gzip, gzip"})) as server:
        with pytest.raises(BodyTooLargeError) as info:
            request(session, "GET", server.url())
    assert server.url() in one_line(info.value)


def test_stacked_gzip_within_the_limit_decodes_both_layers(session):
    payload = b'{"@id": "https://libris.kb.se/x"}'
    with RawServer(answer(gzip.compress(gzip.compress(payload)), {**JSONLD, "Content-Encoding": "gzip, gzip"})) as server:
        assert request(session, "GET", server.url()).content == payload


def test_endless_chunked_body_is_refused_at_the_limit(session):
    with RawServer(endless_chunks()) as server:
        with pytest.raises(BodyTooLargeError) as info:
            request(session, "GET", server.url())
    assert server.url() in one_line(info.value)
    assert server.sent < 16 * MB  # the client stopped reading soon after its 4 MB limit


def test_unasked_content_encoding_is_refused(session):
    with RawServer(answer(b"\x1b\x00garbage", {**JSONLD, "Content-Encoding": "br"})) as server:
        with pytest.raises(HTTPError) as info:
            request(session, "GET", server.url())
    assert "br" in one_line(info.value)


def test_each_kind_has_its_own_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("LINKEDDATA_MAX_BYTES_RECORD", "1M")
    monkeypatch.setenv("LINKEDDATA_DEADLINE_PAGE", "7")
    assert limits_for("record").max_bytes == MB
    assert limits_for("page").deadline == 7.0
    assert limits_for("page").max_bytes == limits_for("page", {}).max_bytes
    monkeypatch.setenv("LINKEDDATA_MAX_BYTES_DUMP", "lots")
    with pytest.raises(ConfigError):
        limits_for("dump")
    s = make_session(cache=False, rate_limit=None, retries=0, purpose="record", env={"LINKEDDATA_MAX_BYTES_RECORD": "2M"})
    body = b"x" * (3 * MB)
    with RawServer(answer(body, {**JSONLD, "Transfer-Encoding": "identity"})) as server:
        with pytest.raises(BodyTooLargeError):
            request(s, "GET", server.url(), kind="record")
        assert len(request(s, "GET", server.url(), kind="page").content) == len(body)
    s.close()


def test_bomb_with_the_cache_on_is_one_line_and_not_stored(tmp_path):
    cache = tmp_path / "cache.sqlite"
    s = make_session(cache=cache, rate_limit=None, retries=0, max_bytes=2 * MB)
    with RawServer(answer(gzip_bomb(64 * MB), {**JSONLD, "Content-Encoding": "gzip", "ETag": '"1"'})) as server:
        with pytest.raises(BodyTooLargeError) as info:
            request(s, "GET", server.url())
    s.close()
    one_line(info.value)
    assert cache.stat().st_size < MB


def test_download_streams_to_disk_within_the_dump_limit(session, tmp_path):
    body = gzip_bomb(8 * MB)
    target = tmp_path / "dump.jsonl"
    with RawServer(answer(body, {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})) as server:
        assert download(session, server.url(), target, max_bytes=16 * MB) == 8 * MB
        assert target.stat().st_size == 8 * MB
        with pytest.raises(BodyTooLargeError):
            download(session, server.url(), tmp_path / "small.jsonl", max_bytes=4 * MB)
    assert not (tmp_path / "small.jsonl").exists() and not (tmp_path / "small.jsonl.part").exists()


_CHILD = textwrap.dedent("""
    import resource, sys
    from linkeddata.http import make_session, request
    from linkeddata.errors import LinkedDataError
    s = make_session(cache=False, rate_limit=None, retries=0, purpose="record")
    try:
        request(s, "GET", sys.argv[1], kind="record")
        print("read it all")
    except LinkedDataError as exc:
        print("refused:", exc)
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec
    hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
    print("peak_mb", int(hwm[0].split()[1]) // 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""")


@pytest.mark.parametrize("name", ["gzip-1GB", "gzip-gzip-5GB", "endless-chunked"])
def test_peak_memory_under_each_bomb_with_the_default_limits(name):
    """A child with the default record limit (64 MB) stays well below the bomb's size."""
    if name == "gzip-1GB":
        handler = answer(gzip_bomb(1024 * MB), {**JSONLD, "Content-Encoding": "gzip"})
    elif name == "gzip-gzip-5GB":
        handler = answer(double_gzip_bomb(5 * 1024 * MB), {**JSONLD, "Content-Encoding": "gzip, gzip"})
    else:
        handler = endless_chunks(cap=1024 * MB)
    with RawServer(handler) as server:
        out = subprocess.run([sys.executable, "-c", _CHILD, server.url()], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "LINKEDDATA_DEADLINE_RECORD": "60"})
    assert "refused:" in out.stdout and "exceeds" in out.stdout, out.stdout + out.stderr
    peak = int(out.stdout.rsplit("peak_mb", 1)[1])
    print(f"{name}: peak {peak} MB")
    assert peak < 400


# ------------------------------------------------------------------ a total deadline


@pytest.mark.parametrize("in_headers", [False, True])
def test_slow_drip_fails_after_the_deadline(in_headers):
    s = make_session(cache=False, rate_limit=None, retries=2, backoff_factor=0.01, timeout=(2, 5), deadline=1.5)
    with RawServer(drip(0.2, in_headers=in_headers)) as server:
        start = time.monotonic()
        with pytest.raises(DeadlineError) as info:
            request(s, "GET", server.url())
        took = time.monotonic() - start
    s.close()
    message = one_line(info.value)
    assert server.url() in message and "1.5 s deadline" in message
    assert 1.4 < took < 1.5 + 10, took  # the drip itself would last 2000 s per attempt


def test_slow_drip_of_a_streamed_body_fails_after_the_deadline(tmp_path):
    s = make_session(cache=False, rate_limit=None, retries=0, timeout=(2, 5))
    with RawServer(drip(0.2)) as server:
        start = time.monotonic()
        with pytest.raises(DeadlineError):
            download(s, server.url(), tmp_path / "d", deadline=1.0)
        assert time.monotonic() - start < 1.0 + 10  # (the drip lasts 2000 s)
    s.close()


def test_cli_fetch_against_a_drip_exits_1_withone_line(monkeypatch):
    from linkeddata.cli import cli

    with RawServer(drip(0.2)) as server:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", server.base)
        monkeypatch.setenv("LINKEDDATA_DEADLINE_RECORD", "1")
        start = time.monotonic()
        result = CliRunner().invoke(cli, ["--no-cache", "fetch", "f5nc8rlm2x0vq7s"])
        took = time.monotonic() - start
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "deadline" in lines[0] and server.base in lines[0]
    assert took < 1 + 10  # (the drip lasts 2000 s)


def test_cli_fetch_of_a_bomb_exits_1_withone_line(monkeypatch):
    from linkeddata.cli import cli

    with RawServer(answer(gzip_bomb(128 * MB), {**JSONLD, "Content-Encoding": "gzip"})) as server:
        monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", server.base)
        monkeypatch.setenv("LINKEDDATA_MAX_BYTES_RECORD", "1M")
        result = CliRunner().invoke(cli, ["fetch", "f5nc8rlm2x0vq7s"], env={"XDG_CACHE_HOME": os.getcwd() + "/.c"})
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "exceeds" in lines[0], result.output


@pytest.mark.parametrize("args", [["harvest", "oai", "-q"], ["load", "{base}/x.jsonld"]])
def test_cli_harvest_and_load_of_an_endless_body_stop_at_the_limit(args, monkeypatch, tmp_path):
    from linkeddata.cli import cli

    with RawServer(endless_chunks(content_type="text/xml")) as server:
        monkeypatch.setenv("LINKEDDATA_OAIPMH_URL", server.base)
        monkeypatch.setenv("LINKEDDATA_MAX_BYTES_PAGE", "2M")
        monkeypatch.setenv("LINKEDDATA_MAX_BYTES_RECORD", "2M")  # `load URL` reads one record (kind record)
        argv = [a.format(base=server.base) for a in args]
        result = CliRunner().invoke(cli, ["--no-cache", *argv, "--store", str(tmp_path / "kg")])
    assert result.exit_code == (1 if args[0] == "harvest" else 2), result.output
    lines = [line for line in result.output.splitlines() if "exceeds" in line]
    limit = "LINKEDDATA_MAX_BYTES_PAGE" if args[0] == "harvest" else "LINKEDDATA_MAX_BYTES_RECORD"
    assert len(lines) == 1 and server.base in lines[0] and limit in lines[0], result.output
    assert "Traceback" not in result.output
    assert server.sent < 16 * MB
