"""pytest fixtures for testing code that uses linkeddata, against the loopback emulator.

Loaded by itself when linkeddata is installed (entry point ``pytest11`` named
``linkeddata``; ``-p no:linkeddata`` turns it off):

``ld_emulator``
    The :class:`~linkeddata.testing.Emulator` with every service, started once per
    test session; while it runs, the ``LINKEDDATA_*_URL`` variables point at it, so
    library calls without an explicit ``base_url`` reach it (never the real services).
    ``ld_emulator.urls`` and ``ld_emulator.env()`` give its addresses. Faults added in
    a test are cleared after that test. Override ``ld_emulator_options`` (a session
    fixture returning keyword arguments for :class:`~linkeddata.testing.Emulator`) to
    choose services or the corpus size.
``ld_session``
    A ``requests`` session for the emulator (no cache, no rate limit, short back-off),
    closed after the test.
``ld_store``
    An empty in-memory store (:func:`linkeddata.store.open_local_store`), closed after the test.

Example::

    from linkeddata.libris.read import fetch_record

    def test_my_code(ld_emulator, ld_session, ld_store):
        ld_store.load_records([fetch_record("k9dt4hbw6p1ncz8", session=ld_session)])
        assert len(ld_store) > 0
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import requests

    from ..emulator import Emulator
    from ..store import LocalStore

_running: list[Emulator] = []


@pytest.fixture(scope="session")
def ld_emulator_options() -> dict[str, Any]:
    """Keyword arguments for the session's emulator; override it in your ``conftest.py``."""
    return {}


@pytest.fixture(scope="session")
def ld_emulator(ld_emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """The emulator, running for the whole session with ``LINKEDDATA_*_URL`` set."""
    from . import Emulator

    with Emulator(**ld_emulator_options) as emu, emu.environment():
        _running.append(emu)
        try:
            yield emu
        finally:
            _running.remove(emu)


@pytest.fixture(autouse=True)
def _ld_clear_faults() -> Iterator[None]:
    """Faults a test adds to the session's emulator end with that test (no-op when it is not running)."""
    yield
    for emu in _running:
        emu.faults.clear()


@pytest.fixture
def ld_session(ld_emulator: Emulator) -> Iterator[requests.Session]:
    """A session for the emulator, closed after the test."""
    from . import emulator_session

    session = emulator_session()
    yield session
    session.close()


@pytest.fixture
def ld_store() -> Iterator[LocalStore]:
    """An empty in-memory store, closed after the test."""
    from ..store import open_local_store

    store = open_local_store(None)
    yield store
    store.close()
