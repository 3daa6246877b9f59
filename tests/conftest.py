"""Shared fixtures: the loopback emulator, an HTTP session for it, real-data paths.

The installed package's pytest plugin (linkeddata.testing) adds the ``ld_*`` fixtures
for users' suites; fixtures here never take that prefix (tests/test_testing.py checks).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linkeddata.http import make_session

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
SHARED_DATA = TESTS.parent.parent / "shared" / "data"

# Tests never use the user's HTTP cache or real services.
os.environ.setdefault("LINKEDDATA_NO_CACHE", "1")


@pytest.fixture(scope="session")
def emulator():
    """All emulated services on loopback, for the whole test session."""
    from linkeddata.emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture
def emu_env(emulator, monkeypatch):
    """The emulator's LINKEDDATA_*_URL variables set for one test."""
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    emulator.faults.clear()
    yield emulator
    emulator.faults.clear()


@pytest.fixture
def session():
    """A session with no cache and no rate limit, few retries and short back-off."""
    s = make_session(cache=False, rate_limit=None, retries=3, backoff_factor=0.05, timeout=(5, 20))
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (the real published data); skips when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
