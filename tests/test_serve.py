"""Serving a store with the Oxigraph server: locks, missing or mismatched binary, CLI smoke."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.errors import ConfigError, StoreError, StoreLockedError
from linkeddata.records import Record
from linkeddata.remote import RemoteStore
from linkeddata.serve import check_version, find_oxigraph, free_port, parse_bind, running_server, serve, stop
from linkeddata.stores import open_store

from .conftest import DATA
from .hostile import oxigraph_binary, stored  # noqa: F401  (oxigraph_binary: autouse, skips without a server)

BIB = "https://libris.kb.se/t7bk2vz9m4hq8wx"
HOLD = "https://libris.kb.se/h2zq9ckr0w5dv7l"


def records() -> list[Record]:
    return [Record(BIB, json.loads((DATA / "record-bib.jsonld").read_text("utf-8"))),
            Record(HOLD, json.loads((DATA / "record-hold.jsonld").read_text("utf-8")))]


def built_store(path):
    return stored(path, records())


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_missing_binary_is_a_config_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"not found; install it with: pip install 'linkeddata\[server\]'"):
        find_oxigraph(tmp_path / "nowhere" / "oxigraph")
    monkeypatch.setenv("LINKEDDATA_OXIGRAPH", str(tmp_path / "oxigraph"))
    with pytest.raises(ConfigError, match="not found"):
        serve(tmp_path / "kg", f"127.0.0.1:{free_port()}")


def test_other_version_is_refused(tmp_path):
    fake = tmp_path / "oxigraph"
    fake.write_text("#!/bin/sh\necho 'oxigraph 0.4.11'\n", "utf-8")
    fake.chmod(0o755)
    with pytest.raises(ConfigError, match=r"oxigraph server 0\.4\.11 differs from pyoxigraph"):
        check_version(fake)
    with pytest.raises(ConfigError, match="differs"):
        serve(tmp_path / "kg", f"127.0.0.1:{free_port()}", binary=fake)


def test_bind_must_be_host_and_port():
    assert parse_bind("127.0.0.1:7878") == ("127.0.0.1", 7878)
    assert parse_bind("[::1]:80") == ("::1", 80)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_bind("7878")


def test_store_open_for_writing_in_this_process_is_locked(tmp_path):
    path = tmp_path / "kg"
    store = open_store(path)
    store.load_records(records())
    store.flush()
    with pytest.raises(StoreLockedError, match="open for writing in this process"):
        serve(path, f"127.0.0.1:{free_port()}")
    with running_server(path, read_only=True) as server:  # a snapshot is fine meanwhile
        assert RemoteStore(server.url).graphs() == {BIB, HOLD}
    store.close()


def test_store_locked_by_another_process(tmp_path):
    path = built_store(tmp_path / "kg")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, pyoxigraph; s = pyoxigraph.Store(sys.argv[1]); print('ready', flush=True); "
                               "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match="in use by another writer"):
            serve(path, f"127.0.0.1:{free_port()}")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_port_in_use(tmp_path):
    with running_server(None) as server:
        with pytest.raises(StoreError, match="address already in use"):
            serve(None, f"127.0.0.1:{server.port}")


def test_serve_survives_restart_with_data(tmp_path):
    path = built_store(tmp_path / "kg")
    with running_server(path) as server:
        assert server.store().count_triples(BIB) > 0
        server.store().delete_record(HOLD)
    with running_server(path, read_only=True) as server:
        remote = server.store()
        assert remote.graphs() == {BIB}
        assert len(list(remote.query("SELECT ?t WHERE { ?i kbv:hasTitle/kbv:mainTitle ?t }"))) == 1


def test_cli_refuses_missing_store(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--store", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no store at" in result.output


def test_cli_serve_smoke(tmp_path):
    path = built_store(tmp_path / "kg")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "linkeddata", "serve", "--store", str(path),
                                "--bind", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not _answers(port) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read()
        assert process.stderr.readline().startswith("Serving")  # the command is up (handlers installed)
        remote = RemoteStore(f"http://127.0.0.1:{port}")
        rows = remote.query("holdings-of", {"instance": f"{BIB}#it"})
        assert len(list(rows)) >= 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert "Stopping" in process.stderr.read()
        assert not _answers(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_stop_is_idempotent():
    process = serve(None, f"127.0.0.1:{free_port()}")
    assert stop(process) is not None
    assert stop(process) == process.returncode


def test_server_url_for_wildcard_and_ipv6_binds():
    from linkeddata.serve import Server

    def url(bind: str) -> str:
        return Server(None, *parse_bind(bind)).url  # type: ignore[arg-type]

    assert url("127.0.0.1:7878") == "http://127.0.0.1:7878"
    assert url("0.0.0.0:7878") == "http://127.0.0.1:7878"
    assert url("[::1]:7878") == "http://[::1]:7878"
    assert url("[::]:7878") == "http://[::1]:7878"
    assert Server(None, "::1", 7878).query_url == "http://[::1]:7878/query"  # type: ignore[arg-type]
