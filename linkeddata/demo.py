"""The demo: the bundled build run over real HTTP against the loopback emulator.

This module belongs to the testing layer (it starts :class:`linkeddata.testing.Emulator`);
the ``linkeddata demo`` command and ``linkeddata.run_demo`` call it, nothing in the
product does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from .build import BuildResult, run_build
from .store import open_local_store
from .http import make_session
from .testing import Emulator

__all__ = ["run_demo"]


def run_demo(store: str | Path | None = None, *, size: int = 0,
             progress: Callable[[int], None] | None = None) -> BuildResult:
    """Start the emulator, run the bundled build against it over HTTP, stop the emulator.

    With no ``store`` the store lives in a temporary folder that is removed afterwards.

    :param size: generated records in the emulator's corpus besides the fixtures.
    """
    with Emulator(size=size) as emu, emu.environment():
        session = make_session(cache=False, rate_limit=None)
        if store is not None:
            return run_build(None, store, session=session, progress=progress)
        with tempfile.TemporaryDirectory(prefix="linkeddata-demo-") as tmp:
            result = run_build(None, Path(tmp) / "store", session=session, progress=progress)
            result.store = None
            open_local_store(Path(tmp) / "store").close()
            return result
