"""Serve a store built by linkeddata over HTTP: the Oxigraph server behind a guarding front.

The server is the ``oxigraph`` command from the ``oxigraph`` package (the
``[server]`` extra), the same engine and version as the embedded ``pyoxigraph``, so
it opens the store directory as it is. It offers SPARQL 1.1 Query, Update and the
Graph Store Protocol at ``/query``, ``/update`` and ``/store``; a
:class:`linkeddata.remote.RemoteStore` talks to it.

``linkeddata serve`` puts a small front (:func:`serve_guarded`) before the Oxigraph
server, which listens on a private loopback port. The threat is any web page the user
visits (its forms and scripts can reach 127.0.0.1) and any query text a client sends:

* read-only unless ``writable``; updates and Graph Store writes need the token
  (``Authorization: Bearer``) and come from no foreign ``Origin``; a ``Host`` that is not
  this server (DNS rebinding) is refused;
* ``SERVICE`` and ``LOAD`` are refused unless their IRI is allowed by name (else the
  server would fetch arbitrary URLs for the caller);
* every query has a timeout (the server's ``--timeout-s``, and the front's wait).

:func:`serve` and :func:`running_server` start the bare Oxigraph server (for tests
and trusted local programs).

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
import hmac
import http.server
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import ConfigError, MissingExtraError, StoreError, StoreLockedError
from .store import open_for_writing

if TYPE_CHECKING:
    from .remote import RemoteStore

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
    raise MissingExtraError(f"the Oxigraph server command {where} was not found; {INSTALL_HINT}", extra="server")


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
        raise ConfigError(f"bind must be HOST:PORT, got {bind!r}")
    return host.strip("[]"), int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
            f"store {store_dir} is in use by another writer; stop it, or serve it read-only")
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
    extra_args: list[str] | None = None,
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
        if not read_only and open_for_writing(resolved):
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
    args += list(extra_args or [])
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

    def store(self, **kwargs: Any) -> RemoteStore:
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


# ------------------------------------------------------------------ the guarding front

#: Seconds a query may run (the server's ``--timeout-s`` and the front's wait) unless told otherwise.
DEFAULT_QUERY_TIMEOUT = 30.0
#: Largest request body (a query, an update, a graph) the front accepts.
MAX_REQUEST_BYTES = 256 * 1024 * 1024
TOKEN_ENV = "LINKEDDATA_SERVE_TOKEN"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True)
class Guard:
    """What the front in front of the Oxigraph server lets through.

    :param writable: accept updates (``/update``, Graph Store writes); default: refuse them.
    :param token: updates must carry it (``Authorization: Bearer <token>``, or as the
        password of basic auth); required when ``writable``.
    :param allowed_origins: browser origins (``http://host:port``) besides the server's own.
    :param allow_service: endpoint IRIs a query may name in ``SERVICE``; none by default.
    :param allow_load: IRIs an update may ``LOAD``; none by default.
    :param query_timeout: seconds a query may run.
    """

    writable: bool = False
    token: str | None = None
    allowed_origins: frozenset[str] = frozenset()
    allow_service: frozenset[str] = frozenset()
    allow_load: frozenset[str] = frozenset()
    query_timeout: float = DEFAULT_QUERY_TIMEOUT
    max_request_bytes: int = MAX_REQUEST_BYTES

    def __post_init__(self) -> None:
        if self.writable and not self.token:
            raise ConfigError(f"a writable server needs an update token (token, or {TOKEN_ENV})")
        if self.query_timeout <= 0:
            raise ConfigError("the query timeout must be positive")


class Refused(Exception):
    """A request the front does not pass on: ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


_SPARQL_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][^\s{}()<>.,;'"\#]*)
  | (?P<word>[^\s{}()<>,;'"\#?$\[\]=!&|+*/^]+)
  | (?P<other>.)
""", re.X | re.S)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def _unescape(text: str) -> str:
    """SPARQL codepoint escapes (``\\u0053``) are decoded before parsing, anywhere in the text."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _sparql_tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    for m in _SPARQL_TOKEN.finditer(_unescape(text)):
        kind = m.lastgroup or "other"
        if kind not in ("ws", "comment"):
            tokens.append((kind, m.group()))
    return tokens


def check_sparql(text: str, guard: Guard) -> None:
    """Raise :class:`Refused` when a query or update names a ``SERVICE`` or ``LOAD``
    source that ``guard`` does not allow by name.

    >>> check_sparql("SELECT * WHERE { ?s ?p 'SERVICE <x>' }", Guard())
    >>> check_sparql("SELECT * WHERE { SERVICE <http://evil.example/> { ?s ?p ?o } }", Guard())
    Traceback (most recent call last):
    ...
    linkeddata.serve.Refused: SERVICE <http://evil.example/> is not allowed (serve --allow-service)
    """
    from urllib.parse import urljoin

    tokens = _sparql_tokens(text)
    prefixes: dict[str, str] = {}
    base = ""
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        upper = value.upper() if kind == "word" else ""
        if upper in ("PREFIX", "BASE"):
            if upper == "PREFIX" and i + 2 < len(tokens) and tokens[i + 2][0] == "iri":
                prefixes[tokens[i + 1][1]] = urljoin(base, tokens[i + 2][1][1:-1])
                i += 3
                continue
            if upper == "BASE" and i + 1 < len(tokens) and tokens[i + 1][0] == "iri":
                base = urljoin(base, tokens[i + 1][1][1:-1])
                i += 2
                continue
        if upper in ("SERVICE", "LOAD"):
            j = i + 1
            if j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].upper() == "SILENT":
                j += 1
            target_kind, target = tokens[j] if j < len(tokens) else ("other", "")
            allowed = guard.allow_service if upper == "SERVICE" else guard.allow_load
            option = "--allow-service" if upper == "SERVICE" else "--allow-load"
            if target_kind == "iri":
                iri = urljoin(base, target[1:-1])
            elif target_kind == "word" and ":" in target and target.split(":", 1)[0] + ":" in prefixes:
                name, local = target.split(":", 1)
                iri = prefixes[name + ":"] + local
            else:
                raise Refused(403, f"{upper} {target or 'without a target'} is not allowed "
                                   f"(only IRIs allowed by name: serve {option})")
            if iri not in allowed:
                raise Refused(403, f"{upper} <{iri}> is not allowed (serve {option})")
            i = j + 1
            continue
        i += 1


def _basic_password(value: str) -> str | None:
    import base64
    import binascii

    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[1] if ":" in decoded else None


class _FrontHandler(http.server.BaseHTTPRequestHandler):
    """One request at the front: check it, then pass it to the Oxigraph server."""

    server: _FrontServer
    protocol_version = "HTTP/1.1"
    server_version = "linkeddata-serve"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.info("%s %s", self.address_string(), format % args)

    def _refuse(self, error: Refused) -> None:
        log.warning("refused %s %s: %s", self.command, self.path.split("?", 1)[0], error.reason)
        body = f"refused: {error.reason}\n".encode()
        self.close_connection = True
        try:
            self.send_response(error.status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the client has gone
            pass

    def _handle(self) -> None:
        try:
            path, body = self._check()
        except Refused as error:
            self._refuse(error)
            return
        self._forward(path, body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _check_origin(self) -> None:
        front = self.server
        host = (self.headers.get("Host") or "").strip().lower()
        if front.loopback and host.rsplit(":", 1)[0] not in _LOOPBACK:
            raise Refused(403, f"Host {host or '(none)'} is not this server (a DNS-rebinding page?)")
        origin = self.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in front.origins:
            raise Refused(403, f"requests from the web page at {origin} are not allowed (serve --allow-origin)")
        if (self.headers.get("Sec-Fetch-Site") or "").lower() in ("cross-site", "same-site") and origin is None:
            raise Refused(403, "cross-site requests are not allowed")

    def _check_token(self) -> None:
        token = self.server.guard.token or ""
        auth = self.headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else _basic_password(value) if scheme.lower() == "basic" else None
        if not token or given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise Refused(401, "an update needs the server's token (Authorization: Bearer …)")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise Refused(411, "send the body with a Content-Length")
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            raise Refused(400, "bad Content-Length")
        if int(length) > self.server.guard.max_request_bytes:
            raise Refused(413, f"request body over {self.server.guard.max_request_bytes} bytes")
        return self.rfile.read(int(length)) if int(length) else b""

    def _check(self) -> tuple[str, bytes]:
        from urllib.parse import parse_qs, urlsplit

        guard = self.server.guard
        self._check_origin()
        parts = urlsplit(self.path)
        route = parts.path.rstrip("/") or "/"
        method = self.command
        writes = method in ("PUT", "DELETE", "PATCH") or (method == "POST" and route in ("/update", "/store"))
        if route not in ("/", "/query", "/update", "/store"):
            raise Refused(404, f"no such endpoint {route}")
        if method == "OPTIONS":
            raise Refused(405, "no CORS here")
        if writes or route == "/update":
            if not guard.writable:
                raise Refused(403, "this server is read-only (serve --writable allows updates)")
            self._check_token()
        body = self._read_body() if method in ("POST", "PUT", "PATCH") else b""
        texts = [v for k, vs in parse_qs(parts.query).items() if k in ("query", "update") for v in vs]
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if route in ("/query", "/update") and method == "POST":
            if ctype == "application/x-www-form-urlencoded":
                form = parse_qs(body.decode("utf-8", "replace"))
                texts += [v for k, vs in form.items() if k in ("query", "update") for v in vs]
            elif ctype in ("application/sparql-query", "application/sparql-update"):
                texts.append(body.decode("utf-8", "replace"))
            else:
                raise Refused(415, f"a SPARQL {route[1:]} is sent as a form or as application/sparql-{route[1:]}")
        for text in texts:
            check_sparql(text, guard)
        return self.path, body

    def _forward(self, path: str, body: bytes) -> None:
        import http.client

        front = self.server
        conn = http.client.HTTPConnection("127.0.0.1", front.backend_port, timeout=front.guard.query_timeout)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "authorization", "origin", "cookie", "content-length",
                                        "transfer-encoding", "keep-alive")}
        headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, path, body=body if body or self.command in ("POST", "PUT") else None,
                         headers=headers)
            response = conn.getresponse()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive",
                                       "access-control-allow-origin"):
                    self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command != "HEAD":
                while True:
                    chunk = response.read(64 * 1024)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
        except TimeoutError:
            # the Oxigraph server does not stop a running evaluation: restart it so that the
            # query does not go on using a core after its client was told it timed out
            front.restart_backend()
            self._refuse(Refused(504, f"the query ran longer than {front.guard.query_timeout:g} s "
                                      "(serve --query-timeout); the server was restarted to stop it"))
        except (ConnectionError, OSError) as exc:  # the client went away, or the backend
            log.info("%s %s: %s", self.command, path.split("?", 1)[0], exc)
            self.close_connection = True
        finally:
            conn.close()  # a client gone mid-answer also drops the backend's


class _FrontServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    guard: Guard
    backend_port: int
    origins: frozenset[str]
    loopback: bool
    restart_backend: Callable[[], None] = staticmethod(lambda: None)


class _FrontServer6(_FrontServer):
    address_family = socket.AF_INET6


def _front(host: str, port: int, guard: Guard, backend_port: int) -> _FrontServer:
    cls: type[_FrontServer] = _FrontServer6 if ":" in host else _FrontServer
    try:
        server = cls((host, port), _FrontHandler)
    except OSError as exc:
        raise StoreError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.guard = guard
    server.backend_port = backend_port
    actual = server.server_address[1]
    names = {host, *(_LOOPBACK if host in _LOOPBACK or host in ("0.0.0.0", "::") else ())}
    own = {f"http://{n if ':' not in n or n.startswith('[') else f'[{n}]'}:{actual}" for n in names}
    server.origins = frozenset(o.rstrip("/").lower() for o in own | set(guard.allowed_origins))
    server.loopback = host in _LOOPBACK
    return server


@dataclass
class GuardedServer:
    """The front (``url``) and the Oxigraph server behind it (``backend``)."""

    front: _FrontServer
    backend: subprocess.Popen[bytes]
    host: str
    port: int
    guard: Guard
    thread: threading.Thread | None = None
    restarting: bool = False
    restarts: int = 0

    @property
    def url(self) -> str:
        return Server(self.backend, self.host, self.port).url

    @property
    def query_url(self) -> str:
        return self.url + "/query"

    def serve_forever(self) -> None:
        self.front.serve_forever(poll_interval=0.2)

    def run(self) -> None:
        """Serve in this thread until the front is shut down or the Oxigraph server dies
        (not when it is restarted after a query timeout); then stop both.

        :raises StoreError: the Oxigraph server stopped on its own (its last log line).
        """
        stopped = threading.Event()

        def watch_backend() -> None:
            while not stopped.is_set():
                process = self.backend
                process.wait()
                time.sleep(0.2)
                if process is self.backend and not self.restarting and not stopped.is_set():
                    self.front.shutdown()
                    return

        threading.Thread(target=watch_backend, name="linkeddata-serve-watch", daemon=True).start()
        try:
            self.serve_forever()
            if not stopped.is_set() and self.backend.poll() is not None:
                text = server_log(self.backend).strip()
                raise StoreError(f"oxigraph server stopped (exit {self.backend.returncode}): "
                                 f"{text.splitlines()[-1] if text else 'no output'}")
        finally:
            stopped.set()
            self.front.server_close()
            stop(self.backend)

    def stop(self) -> int | None:
        self.front.shutdown() if self.thread is not None else None
        self.front.server_close()
        return stop(self.backend)


def serve_guarded(store_dir: str | Path | None, bind: str = DEFAULT_BIND, guard: Guard | None = None, *,
                  read_only: bool = False, background: bool = False, **kwargs: Any) -> GuardedServer:
    """Start the Oxigraph server on a private loopback port and the guarding front on ``bind``.

    The front refuses updates unless ``guard.writable`` (and then wants the token and the
    server's own origin), ``SERVICE``/``LOAD`` unless allowed by name, foreign origins and
    hosts; queries time out after ``guard.query_timeout``. ``background`` runs the front
    in a thread (else call :meth:`GuardedServer.serve_forever`).
    """
    guard = guard or Guard()
    host, port = parse_bind(bind)
    if _port_answers(host, port):
        raise StoreError(f"cannot listen on {bind}: address already in use (another server?)")
    extra = ["--timeout-s", str(max(1, int(round(guard.query_timeout))))]

    def start() -> tuple[subprocess.Popen[bytes], int]:
        backend_port = free_port()
        return serve(store_dir, f"127.0.0.1:{backend_port}", read_only, extra_args=extra, **kwargs), backend_port

    process, backend_port = start()
    try:
        front = _front(host, port, guard, backend_port)
    except BaseException:
        stop(process)
        raise
    server = GuardedServer(front, process, host, front.server_address[1], guard)
    lock = threading.Lock()

    def restart() -> None:
        with lock:
            old = server.backend
            log.warning("a query ran past %g s; restarting the Oxigraph server to stop it", guard.query_timeout)
            server.restarting = True
            stop(old)
            server.backend, front.backend_port = start()
            server.restarting = False
            server.restarts += 1

    front.restart_backend = restart
    if background:
        server.thread = threading.Thread(target=server.serve_forever, name="linkeddata-serve-front", daemon=True)
        server.thread.start()
    return server


@contextlib.contextmanager
def running_guarded(store_dir: str | Path | None, guard: Guard | None = None, bind: str | None = None,
                    **kwargs: Any) -> Iterator[GuardedServer]:
    """:func:`serve_guarded` for a ``with`` block, on a free loopback port unless ``bind``."""
    server = serve_guarded(store_dir, bind or f"127.0.0.1:{free_port()}", guard, background=True, **kwargs)
    try:
        yield server
    finally:
        server.stop()
