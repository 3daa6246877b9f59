"""The loopback emulator and test helpers, for your own tests.

Everything a test needs to run linkeddata offline: :class:`Emulator` (real HTTP
servers on 127.0.0.1 emulating Libris XL, id.kb.se, the ISIL agency and the
library database), its fault switches, and a session suited to it::

    from linkeddata.testing import Emulator, emulator_session
    from linkeddata.libris.read import fetch_record

    with Emulator(services=["libris"]) as emu, emu.environment():
        record = fetch_record("k9dt4hbw6p1ncz8", session=emulator_session())

With pytest installed, the plugin :mod:`linkeddata.testing.pytest_plugin` loads by
itself (entry point ``pytest11``) and gives the fixtures ``ld_emulator``,
``ld_session`` and ``ld_store``; disable it with ``-p no:linkeddata``.

This package is the public face of :mod:`linkeddata.emulator`; import from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from ..emulator import SERVICE_MODULES as SERVICE_MODULES
    from ..emulator import Emulator as Emulator
    from ..emulator import available_services as available_services
    from ..emulator.server import FAULT_KINDS as FAULT_KINDS
    from ..emulator.server import Fault as Fault
    from ..emulator.server import Faults as Faults
    from ..emulator.server import LoggedRequest as LoggedRequest
    from ..emulator.server import http_date as http_date

# imported on first use, so that loading the pytest plugin stays cheap
_LAZY: dict[str, str] = {
    "Emulator": "..emulator",
    "SERVICE_MODULES": "..emulator",
    "available_services": "..emulator",
    "FAULT_KINDS": "..emulator.server",
    "Fault": "..emulator.server",
    "Faults": "..emulator.server",
    "LoggedRequest": "..emulator.server",
    "http_date": "..emulator.server",
}

__all__ = sorted([*_LAZY, "emulator_session"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def emulator_session(*, retries: int = 3, timeout: float | tuple[float, float] = (5, 20)) -> requests.Session:
    """A session for the emulator: no HTTP cache, no rate limit, short back-off.

    >>> s = emulator_session(retries=0)
    >>> s.close()
    """
    from ..http import make_session

    return make_session(cache=False, rate_limit=None, retries=retries, backoff_factor=0.05, timeout=timeout)
