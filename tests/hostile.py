"""Small hostile HTTP servers on 127.0.0.1 for the tests (bodies, drips, redirects)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest

Handler = Callable[[socket.socket, bytes, "RawServer"], None]


def one_line(exc: BaseException) -> str:
    """The error's message, asserted to be one non-empty line."""
    text = str(exc)
    assert text and "\n" not in text, text
    return text


def gzip_member(size: int = 1 << 20) -> bytes:
    """One gzip member of ``size`` zero bytes (about 1 KB for 1 MB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(b"\0" * size) + c.flush()


def gzip_bomb(decoded: int) -> bytes:
    """A multi-member gzip body that decodes to ``decoded`` zero bytes (1 GB → about 1 MB)."""
    member = gzip_member()
    return member * max(1, decoded // (1 << 20))


def double_gzip_bomb(decoded: int) -> bytes:
    """``Content-Encoding: gzip, gzip``: a gzip of a gzip bomb (5 GB → a few KB)."""
    return gzip.compress(gzip_bomb(decoded), 9)


class RawServer:
    """A TCP server answering every connection with ``handler(conn, request_head, server)``."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.requests: list[bytes] = []
        self.sent = 0
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/x") -> str:
        return self.base + path

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    part = conn.recv(65536)
                    if not part:
                        return
                    data += part
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                while len(rest) < length:
                    part = conn.recv(65536)
                    if not part:
                        break
                    rest += part
                self.requests.append(head + b"\r\n\r\n" + rest)
                self.handler(conn, head + b"\r\n\r\n" + rest, self)
            except OSError:
                pass

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def answer(body: bytes, headers: dict[str, str] | None = None, status: str = "200 OK") -> Handler:
    """A handler that sends ``body`` with ``Content-Length`` and ``headers``."""

    def handle(conn: socket.socket, request: bytes, server: RawServer) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        server.send(conn, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return handle


def endless_chunks(cap: int = 256 << 20, content_type: str = "application/ld+json") -> Handler:
    """A chunked body that never ends (the server gives up after ``cap`` bytes)."""

    def handle(conn: socket.socket, request: bytes, server: RawServer) -> None:
        server.send(conn, f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"[" * 65536
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while server.sent < cap and not server.closed.is_set():
            server.send(conn, framed)

    return handle


def drip(interval: float, *, in_headers: bool = False, total: int = 10_000) -> Handler:
    """Send one byte every ``interval`` seconds (of the body, or of the headers)."""

    def handle(conn: socket.socket, request: bytes, server: RawServer) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/ld+json\r\nContent-Length: {total}\r\n\r\n".encode()
        if in_headers:
            data = head + b"x" * total
        else:
            server.send(conn, head)
            data = b"x" * total
        for i in range(len(data)):
            if server.closed.is_set():
                return
            server.send(conn, data[i:i + 1])
            time.sleep(interval)

    return handle


# ---------------------------------------------------------------- serving a store (test_serve, test_hostile_serve)


@pytest.fixture(scope="module", autouse=True)
def oxigraph_binary() -> str:
    """The Oxigraph server's version; the module is skipped without a usable server binary.
    Import it into a test module to apply it there."""
    from linkeddata.errors import ConfigError
    from linkeddata.serve import check_version

    try:
        return check_version()
    except ConfigError as exc:
        pytest.skip(f"no usable oxigraph server: {exc}")


def stored(path: Any, records: list[Any]) -> Any:
    """``path`` holding a store of ``records``, closed and released (for a server to open)."""
    import gc

    from linkeddata.stores import open_store

    store = open_store(path)
    store.load_records(records)
    store.close()
    del store
    gc.collect()  # the embedded store releases its lock when collected
    return path
