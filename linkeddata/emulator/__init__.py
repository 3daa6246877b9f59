"""A loopback emulator of Libris XL, id.kb.se, the ISIL agency and the library database.

Real HTTP servers on 127.0.0.1 (one free port per service), for tests, demos and
your own offline code, the way moto serves AWS users::

    from linkeddata.emulator import Emulator

    with Emulator() as emu:
        emu.urls["libris"]          # 'http://127.0.0.1:41231'
        with emu.environment():     # sets LINKEDDATA_*_URL for the block
            ...
        emu.faults.add("status", service="libris", status=429, retry_after="1")

The data it serves (records, organisations, the vocabulary) is package data written
for this project; see :mod:`linkeddata.emulator.corpus`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from ..config import env_name
from .server import Faults, LoggedRequest, ServiceServer, Service, start_server

log = logging.getLogger(__name__)

#: service name → module under ``linkeddata.emulator`` with ``build(emulator) -> Service``.
SERVICE_MODULES: dict[str, str] = {
    "libris": "libris",
    "id": "idkbse",
    "isil": "isil",
    "bibdb": "bibdb",
    "login": "login",
    "oaipmh": "oaipmh",
    "emm": "emm",
    "xsearch": "xsearch",
}


def available_services() -> list[str]:
    """Services whose emulator module is present in this installation."""
    names = []
    for name, module in SERVICE_MODULES.items():
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise
            continue
        names.append(name)
    return names


class Emulator:
    """Start the emulated services on loopback; a context manager.

    :param services: which services to start (default: all available).
    :param latency: seconds added to every response (for harvest benchmarks).
    :param seed: seed for random faults and generated data.
    :param size: how many generated bibliographic records the corpus holds
        besides the hand-written ones (see :mod:`linkeddata.emulator.corpus`).
    """

    def __init__(self, services: Iterable[str] | None = None, *, host: str = "127.0.0.1", latency: float = 0.0,
                 seed: int = 42, size: int = 0, ports: dict[str, int] | None = None, **options: Any):
        self.services = list(services) if services is not None else available_services()
        self.host = host
        self.latency = latency
        self.seed = seed
        self.size = size
        self.ports = ports or {}
        self.options = options
        self.faults = Faults(seed=seed)
        self.request_log: list[LoggedRequest] = []
        self.servers: dict[str, ServiceServer] = {}
        self._corpus: Any = None

    @property
    def corpus(self) -> Any:
        """The shared record corpus (built on first use)."""
        if self._corpus is None:
            from .corpus import Corpus

            self._corpus = Corpus(size=self.size, seed=self.seed)
        return self._corpus

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of each running service."""
        return {name: server.base_url for name, server in self.servers.items()}

    def url(self, service: str) -> str:
        return self.servers[service].base_url

    def env(self) -> dict[str, str]:
        """``LINKEDDATA_<SERVICE>_URL`` variables pointing at this emulator."""
        env = {env_name(name): url for name, url in self.urls.items()}
        if "login" in self.servers:
            env[env_name("login")] = self.urls["login"] + "/oauth/token"
        return env

    @contextlib.contextmanager
    def environment(self) -> Iterator[dict[str, str]]:
        """Set :meth:`env` in ``os.environ`` for the duration of the block."""
        old = {k: os.environ.get(k) for k in self.env()}
        os.environ.update(self.env())
        try:
            yield self.env()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def start(self) -> Emulator:
        """Start every service; if one cannot start, stop those already running and re-raise."""
        unknown = [name for name in self.services if name not in SERVICE_MODULES]
        if unknown:
            raise ValueError(f"unknown emulator service(s) {', '.join(unknown)}; known: {', '.join(SERVICE_MODULES)}")
        try:
            for name in self.services:
                module = importlib.import_module(f"{__name__}.{SERVICE_MODULES[name]}")
                service: Service = module.build(self)
                server = ServiceServer(service, self.faults, self.request_log, self.host, self.ports.get(name, 0),
                                       self.latency)
                start_server(server)
                self.servers[name] = server
                log.info("emulator %s listening on %s", name, server.base_url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        self.servers.clear()

    def requests_to(self, service: str) -> list[LoggedRequest]:
        """The logged requests one service received."""
        return [r for r in self.request_log if r.service == service]

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Emulator", "Faults", "available_services"]
