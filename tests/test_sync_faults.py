"""SIGKILL a sync while it loads a dump and while it follows the change feed, run it again, and
get exactly the store of a run without faults (the bench kills more often: `bench sync-kill`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linkeddata.emulator import Emulator
from linkeddata.testing.kills import kill_chain

ROOT = Path(__file__).resolve().parents[1]
KILLS = 3  # per phase here; the bench runs >= 20 (`python -m bench sync-kill`)
MAX_ATTEMPTS = 16
RUN_TIMEOUT = 60.0

CHILD = textwrap.dedent("""
    import sys
    from linkeddata.http import make_session
    from linkeddata.stores import open_store
    mode, store_path = sys.argv[1], sys.argv[2]
    from linkeddata.sync import sync
    store = open_store(store_path)
    session = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01)
    summary = sync(store, ["all"], download=mode == "download", batch_size=15, session=session,
                   poll_interval=0.01, max_wait=10)
    store.close()
    print("done", summary.records, summary.deleted)
""")


@pytest.fixture(scope="module")
def emu():
    with Emulator(size=60, latency=0.002, emm_dump_page_size=4, emm_page_size=10) as emulator:
        yield emulator


def _spawn(emu, mode: str, store: Path) -> subprocess.Popen:
    env = {**os.environ, **emu.env(), "LINKEDDATA_NO_CACHE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(store)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(emu, mode: str, store: Path) -> str:
    proc = _spawn(emu, mode, store)
    out, err = proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode().strip()


def _digest(store: Path) -> str:
    import hashlib

    from linkeddata.stores import open_store

    with open_store(store, read_only=True) as st:
        text = st.canonical_nquads()
    return f"{hashlib.sha256(text.encode()).hexdigest()} {text.count(chr(10))}"


def _kill_chain(emu, mode: str, store: Path, seed: str, expected: str | None = None) -> int:
    """Runs killed after a number of requests or a random moment; how many were really killed.

    With ``expected``, a run that finishes before enough kills must give that store, which
    is then started afresh (so every kill falls in a dump load)."""
    import shutil

    def fresh() -> None:
        assert _digest(store) == expected
        shutil.rmtree(store)

    chain = kill_chain(lambda: _spawn(emu, mode, store), emu.request_log, KILLS, seed=seed, max_attempts=MAX_ATTEMPTS,
                       max_requests=25, moments=(0.3, 1.5), timeout=RUN_TIMEOUT,
                       finished=fresh if expected is not None else None)
    return chain.killed


@pytest.mark.parametrize("mode", ["pages", "download"])
def test_killed_dump_load_and_follow_end_as_the_fault_free_store(emu, tmp_path, mode):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    _run(emu, mode, reference)
    expected = _digest(reference)
    assert _kill_chain(emu, mode, killed, f"dump-{mode}", expected) >= KILLS
    _run(emu, mode, killed)
    assert int(expected.split()[1]) > 500 and _digest(killed) == expected
    if mode == "download":
        return  # following the feed is the same after either kind of dump load

    emu.corpus.churn(150, seed=len(mode))  # then follow the feed: fault-free and killed
    _run(emu, mode, reference)
    assert _kill_chain(emu, mode, killed, f"follow-{mode}") >= KILLS
    _run(emu, mode, killed)
    expected_after = _digest(reference)
    assert expected_after != expected and _digest(killed) == expected_after
