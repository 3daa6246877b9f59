"""A notebook's services and store: the emulator (or the real services) and a store of its own.

:func:`connect` points at an emulator the notebook takes from :mod:`linkeddata.testing`
(or at the real services);
:func:`notebook_store` gives each notebook run its own store, so a notebook can run twice,
in parallel with itself, and after the test suite without seeing another run's data.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError
from .magics import use_store

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

_emulator: EmulatorLike | None = None
_temporary: dict[str, tuple[Path, Any]] = {}  # notebook name → (its temporary folder, its store)


class EmulatorLike(Protocol):
    """What :func:`connect` needs of an emulator (:class:`linkeddata.testing.Emulator` has it)."""

    @property
    def servers(self) -> Mapping[str, Any]: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def env(self) -> dict[str, str]: ...


def connect(use_real_services: bool = False, *, emulator: EmulatorLike | None = None,
            cache: bool = True) -> requests.Session:
    """A session for a notebook: against an emulator (started here if it is not running) or the real services.

    Points the ``LINKEDDATA_*_URL`` variables at ``emulator``, e.g.
    ``connect(emulator=linkeddata.testing.Emulator(size=40))``, and stops the one an
    earlier call was given, so re-running the cell is safe. With
    ``use_real_services=True`` it removes those variables (``emulator`` is not started)
    and returns a cached, rate-limited session for the public services.

    :raises ConfigError: neither an emulator nor ``use_real_services=True``.
    """
    from ..http import make_session

    global _emulator
    if _emulator is not None and _emulator is not emulator:
        _emulator.stop()
    _emulator = None
    for name in [k for k in os.environ if k.startswith("LINKEDDATA_") and k.endswith("_URL")]:
        del os.environ[name]
    if use_real_services:
        return make_session(cache=cache)
    if emulator is None:
        raise ConfigError("connect() needs an emulator (emulator=linkeddata.testing.Emulator()) "
                          "or use_real_services=True")
    if not emulator.servers:
        emulator.start()
    _emulator = emulator
    os.environ.update(emulator.env())
    return make_session(purpose="page", rate_limit=None)


def emulator() -> EmulatorLike | None:
    """The emulator :func:`connect` pointed at, or ``None``."""
    return _emulator


def notebook_store(name: str, path: str | Path | None = None) -> Any:
    """The store of the notebook ``name``, also made the default store of ``%sparql``.

    With ``path`` the store lives there and is kept (a re-run reopens it and resumes
    harvests from their checkpoints). Without, every call makes a fresh temporary folder
    (``linkeddata-<name>-…`` in the system's temporary directory, private to this
    process) and removes the one the previous call made for ``name``: re-running the
    cell starts from an empty store, and runs in parallel or after the tests never share
    one. Temporary folders are removed when the Python process ends.
    """
    from ..stores import open_store

    if path is not None:
        store = open_store(Path(path).expanduser())
        use_store(store)
        return store
    _drop(name)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "notebook"
    folder = Path(tempfile.mkdtemp(prefix=f"linkeddata-{safe}-"))
    store = open_store(folder / "store")
    _temporary[name] = (folder, store)
    use_store(store)
    log.info("notebook %s: a temporary store in %s", name, folder)
    return store


def _drop(name: str) -> None:
    held = _temporary.pop(name, None)
    if held is None:
        return
    folder, store = held
    try:
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _drop_all() -> None:
    for name in list(_temporary):
        _drop(name)
