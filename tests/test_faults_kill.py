"""SIGKILL a harvest or a build at many points, re-run it, and get exactly the fault-free store.

The emulator runs in this process; each harvest/build runs in a child process on an
on-disk store, which is killed with SIGKILL after it has made a given number of
requests (seen in the emulator's request log) or after a random short time. After
the kills the job is run to completion and the store's canonical N-Quads must equal
those of a store built once without faults. At least 20 children are really killed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from linkeddata.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
KILLS_PER_CHAIN = {"find": 12, "build": 8}
MAX_ATTEMPTS = 30  # per chain: bounded even if many runs finish before their kill point
RUN_TIMEOUT = 60.0

CHILD = textwrap.dedent("""
    import hashlib, sys
    from linkeddata.http import make_session
    from linkeddata.stores import open_store
    mode, store_path, libris = sys.argv[1], sys.argv[2], sys.argv[3]
    session = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.01)
    if mode == "find":
        from linkeddata.harvest import harvest_find
        store = open_store(store_path)
        summary = harvest_find(store, {"q": "*"}, full=True, page_size=20, batch_size=10, concurrency=2,
                               session=session, base_url=libris)
        store.close()
        print("done", summary.records, summary.resumed)
    elif mode == "build":
        from linkeddata.build import run_build
        result = run_build(None, store_path, session=session)
        print("done", result.records, result.holdings, result.organisations)
    elif mode == "digest":
        store = open_store(store_path, read_only=True)
        text = store.canonical_nquads()
        print(hashlib.sha256(text.encode()).hexdigest(), text.count("\\n"))
""")


@pytest.fixture(scope="module")
def emu():
    with Emulator(size=30, latency=0.002) as emulator:
        yield emulator


def _env(emu) -> dict[str, str]:
    env = {**os.environ, **emu.env(), "LINKEDDATA_NO_CACHE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _spawn(emu, mode: str, store: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(store), emu.url("libris")], env=_env(emu),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(emu, mode: str, store: Path) -> str:
    proc = _spawn(emu, mode, store)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{mode} run did not finish within {RUN_TIMEOUT:.0f} s")
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode().strip()


def _digest(emu, store: Path) -> str:
    return _run(emu, "digest", store)


def _run_and_kill(emu, mode: str, store: Path, after_requests: int | None, after_seconds: float | None) -> bool:
    """Start a run and SIGKILL it at the kill point; ``True`` when it was really killed."""
    start = len(emu.request_log)
    proc = _spawn(emu, mode, store)
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - started < RUN_TIMEOUT:
            if after_requests is not None and len(emu.request_log) - start >= after_requests:
                break
            if after_seconds is not None and time.monotonic() - started >= after_seconds:
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:  # pragma: no cover - only if communicate timed out
            proc.kill()
            proc.communicate()
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"{mode} run failed with exit {proc.returncode}")
    return proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("mode", ["find", "build"])
def test_sigkill_then_rerun_gives_exactly_the_fault_free_store(emu, tmp_path, mode):
    reference = tmp_path / "reference"
    _run(emu, mode, reference)
    expected = _digest(emu, reference)
    assert int(expected.split()[1]) > 100

    store = tmp_path / "killed"
    rng = random.Random(f"kill-{mode}")
    kills = attempts = 0
    while kills < KILLS_PER_CHAIN[mode] and attempts < MAX_ATTEMPTS:
        attempts += 1
        if attempts % 3 == 0:  # a random moment: imports, store opening, mid-request, mid-commit
            killed = _run_and_kill(emu, mode, store, None, rng.uniform(0.05, 1.5))
        else:  # after the n-th request the emulator saw
            killed = _run_and_kill(emu, mode, store, rng.randint(1, 60), None)
        kills += killed
    assert kills >= KILLS_PER_CHAIN[mode], f"only {kills} of {attempts} runs were killed"

    _run(emu, mode, store)
    assert _digest(emu, store) == expected


def test_kill_fixture_self_check(emu, tmp_path):
    """The digest tells different stores apart (so the comparison above can fail)."""
    a, b = tmp_path / "a", tmp_path / "b"
    _run(emu, "find", a)
    proc = _spawn(emu, "find", b)
    checkpoints = b / ".linkeddata" / "checkpoints"
    began = time.monotonic()
    while time.monotonic() - began < RUN_TIMEOUT and proc.poll() is None:
        if checkpoints.is_dir() and any(checkpoints.glob("*.json")):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip("the run finished before it could be killed")
    assert _digest(emu, a) != _digest(emu, b)
