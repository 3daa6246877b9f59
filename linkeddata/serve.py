"""Serve a store built by linkeddata over HTTP with the Oxigraph server.

The server is the ``oxigraph`` command from the ``oxigraph`` package (the
``[server]`` extra), the same engine and version as the embedded ``pyoxigraph``, so
it opens the store directory as it is. It offers SPARQL 1.1 Query, Update and the
Graph Store Protocol at ``/query``, ``/update`` and ``/store``; a
:class:`linkeddata.remote.RemoteStore` talks to it.

One process may write a store at a time: serving a store that a
:class:`~linkeddata.store.LocalStore` of this process (or another process) holds
for writing raises :class:`~linkeddata.errors.StoreLockedError`; ``read_only=True``
serves a consistent snapshot instead.

>>> with running_server(None) as server:            # doctest: +SKIP
...     RemoteStore(server.url).count_triples()
0
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError, StoreError, StoreLockedError

log = logging.getLogger(__name__)

BINARY_ENV = "LINKEDDATA_OXIGRAPH"
DEFAULT_BIND = "127.0.0.1:7878"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
INSTALL_HINT = "install it with: pip install 'linkeddata[server]' (the oxigraph package)"


def find_oxigraph(binary: str | Path | None = None) -> str:
    """Path of the ``oxigraph`` server command: ``binary``, ``$LINKEDDATA_OXIGRAPH``,
    the one next to this Python interpreter, or the one on ``PATH``."""
    candidates: list[str] = []
    if binary:
        candidates.append(str(binary))
    elif os.environ.get(BINARY_ENV):
        candidates.append(os.environ[BINARY_ENV])
    else:
        here = Path(sys.executable).parent
        candidates += [str(here / "oxigraph"), str(here / "oxigraph.exe")]
        found = shutil.which("oxigraph")
        if found:
            candidates.append(found)
    for candidate in candidates:
        path = shutil.which(candidate) if os.sep not in candidate else candidate
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = candidates[0] if (binary or os.environ.get(BINARY_ENV)) else "oxigraph"
    raise ConfigError(f"the Oxigraph server command {where} was not found; {INSTALL_HINT}")


def oxigraph_version(binary: str | Path | None = None) -> str:
    """The version of the ``oxigraph`` command (``"0.5.13"``)."""
    path = find_oxigraph(binary)
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"cannot run {path} --version: {exc}") from exc
    m = re.search(r"(\d+\.\d+\.\d+\S*)", out.stdout + out.stderr)
    if not m:
        raise ConfigError(f"cannot tell the version of {path} (output: {out.stdout.strip()[:80]!r})")
    return m.group(1)


def check_version(binary: str | Path | None = None) -> str:
    """The server's version; :class:`ConfigError` when it differs from pyoxigraph's
    (the on-disk format must match the library that built the store)."""
    import pyoxigraph

    version = oxigraph_version(binary)
    if version != pyoxigraph.__version__:
        raise ConfigError(
            f"oxigraph server {version} differs from pyoxigraph {pyoxigraph.__version__} that builds the store; "
            f"install the same version: pip install 'oxigraph=={pyoxigraph.__version__}'")
    return version


def parse_bind(bind: str) -> tuple[str, int]:
    """``"host:port"`` → ``(host, port)``."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"--bind must be HOST:PORT, got {bind!r}")
    return host.strip("[]"), int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _locked_here(store_dir: Path) -> bool:
    from . import store as store_module

    with store_module._open_lock:
        existing = store_module._open_stores.get(store_dir)
    return existing is not None and not existing.read_only


def _port_answers(host: str, port: int) -> bool:
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.create_connection((probe, port), timeout=0.5):
            return True
    except OSError:
        return False


def server_log(process: subprocess.Popen[Any]) -> str:
    """What a server started by :func:`serve` has written so far (its temporary log)."""
    return _log_text(getattr(process, "log_file", None))


def _log_text(log_file: IO[bytes] | None) -> str:
    if log_file is None:
        return ""
    if log_file.closed:
        return ""
    log_file.flush()
    log_file.seek(0)
    return log_file.read().decode("utf-8", "replace")


def _startup_error(text: str, store_dir: Path | None, bind: str) -> Exception:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "exited at once")
    lowered = text.lower()
    if "lock" in lowered and store_dir is not None:
        return StoreLockedError(
            f"store {store_dir} is in use by another writer; stop it, or serve it with --read-only")
    if "address" in lowered and ("in use" in lowered or "addrinuse" in lowered):
        return StoreError(f"cannot listen on {bind}: address already in use")
    return StoreError(f"oxigraph server failed to start: {first[:300]}")


def serve(
    store_dir: str | Path | None,
    bind: str = DEFAULT_BIND,
    read_only: bool = False,
    *,
    union_default_graph: bool = True,
    binary: str | Path | None = None,
    check: bool = True,
    wait: float | None = START_TIMEOUT,
    output: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start the Oxigraph server on ``store_dir`` (``None``: an empty in-memory store).

    :param union_default_graph: queries without ``GRAPH`` see all record graphs (as local queries do).
    :param check: refuse a server whose version differs from pyoxigraph's.
    :param wait: seconds to wait until the port answers (``None``: return at once).
    :param output: where the server's log goes (default: a temporary file, read on failure).
    :raises StoreLockedError: the store is open for writing (here or in another process).
    :raises ConfigError: the server command is missing or of another version.
    """
    path = find_oxigraph(binary)
    if check:
        check_version(path)
    host, port = parse_bind(bind)
    resolved = None
    if store_dir is not None:
        resolved = Path(store_dir).expanduser().resolve()
        if resolved.exists() and not resolved.is_dir():
            raise StoreError(f"{store_dir} is a file, not a store directory")
        if read_only and not resolved.is_dir():
            raise StoreError(f"no store at {store_dir}")
        if not read_only and _locked_here(resolved):
            raise StoreLockedError(
                f"store {store_dir} is open for writing in this process; close it first "
                "(store.close() and drop references), or serve it read-only")
    if _port_answers(host, port):
        raise StoreError(f"cannot listen on {bind}: address already in use (another server?)")
    args = [path, "serve-read-only" if read_only else "serve", "--bind", f"{host}:{port}"]
    if resolved is not None:
        args += ["--location", str(resolved)]
    elif read_only:
        raise StoreError("a read-only server needs a store directory")
    if union_default_graph:
        args.append("--union-default-graph")
    log_file = tempfile.TemporaryFile() if output is None else None
    log.info("starting %s", " ".join(args))
    try:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log_file or output,
                                   stderr=subprocess.STDOUT)
    except OSError as exc:
        raise ConfigError(f"cannot start {path}: {exc}") from exc
    process.log_file = log_file  # type: ignore[attr-defined]
    if wait is None:
        return process
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise _startup_error(_log_text(log_file), resolved, bind)
            if _port_answers(host, port):
                return process
            time.sleep(0.05)
        raise StoreError(f"oxigraph server did not answer on {bind} within {wait:g} s")
    except BaseException:
        stop(process)
        raise


def stop(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> int | None:
    """Stop a server started by :func:`serve` (terminate, then kill); its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    log_file = getattr(process, "log_file", None)
    if log_file is not None:
        log_file.close()
    return process.returncode


@dataclass
class Server:
    """A running server: its process and URLs."""

    process: subprocess.Popen[bytes]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def query_url(self) -> str:
        return self.url + "/query"

    def store(self, **kwargs: Any) -> Any:
        """A :class:`~linkeddata.remote.RemoteStore` on this server."""
        from .remote import RemoteStore

        return RemoteStore(self.url, **kwargs)


@contextlib.contextmanager
def running_server(store_dir: str | Path | None, bind: str | None = None, read_only: bool = False,
                   **kwargs: Any) -> Iterator[Server]:
    """Serve ``store_dir`` for a ``with`` block (on a free loopback port unless ``bind``),
    waiting until the port answers; the server is stopped on exit."""
    if bind is None:
        bind = f"127.0.0.1:{free_port()}"
    host, port = parse_bind(bind)
    process = serve(store_dir, bind, read_only, **kwargs)
    try:
        yield Server(process, host, port)
    finally:
        stop(process)
