"""A tiny HTTP framework for the loopback emulator: requests, responses, routes, faults.

Each emulated service is a :class:`Service` with a list of :class:`Route`\\ s; the
:class:`~linkeddata.emulator.Emulator` runs one real ``ThreadingHTTPServer`` on
127.0.0.1 per service. :class:`Faults` injects failures before a route runs, so
tests can make any path answer 429/503, reset, stall, truncate or lie about its type.

>>> svc = Service("demo", [Route("GET", r"/hello/(?P<name>\\w+)", lambda req, name: Response.text(f"hi {name}"))])
>>> svc.handle(Request("GET", "/hello/ada", {}, {}, b"", "http://127.0.0.1:1")).body
b'hi ada'
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

log = logging.getLogger(__name__)

#: The text a 5xx error body carries instead of the real reason (``HttpTools.sendError``).
GENERIC_5XX_MESSAGE = "Internal server error."


@dataclass
class Request:
    """An incoming request, already parsed."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    #: The query string as sent, not decoded (``MarcHttpExport`` splits it by hand).
    raw_query: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.headers, CaseInsensitiveDict):
            self.headers = CaseInsensitiveDict(self.headers)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter (as the Libris servers read it)."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def url(self) -> str:
        return self.base_url + self.path


@dataclass
class Response:
    """An outgoing response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, content_type: str = "application/json", **headers: str) -> Response:
        body = json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8")
        return cls(status, body, {"Content-Type": content_type, **_hdr(headers)})

    @classmethod
    def text(cls, text: str | bytes, status: int = 200, content_type: str = "text/plain; charset=utf-8", **headers: str) -> Response:
        body = text.encode("utf-8") if isinstance(text, str) else text
        return cls(status, body, {"Content-Type": content_type, **_hdr(headers)})

    @classmethod
    def error(cls, status: int, message: str, **headers: str) -> Response:
        """The JSON error body the Libris REST server sends (``HttpTools.sendError``).

        As there, a 5xx hides ``message`` behind a generic text and adds an ``error_id``
        (the message is logged instead).
        """
        reason = _REASONS.get(status, "Error")
        body: dict[str, Any] = {"status_code": status, "status": reason, "message": message}
        if status >= 500:
            error_id = str(uuid.uuid4())
            log.debug("error %s (%s): %s", error_id, status, message)
            body.update(message=GENERIC_5XX_MESSAGE, error_id=error_id)
        return cls.json(body, status=status, **headers)


def _hdr(kwargs: dict[str, str]) -> dict[str, str]:
    """``Content_Profile`` → ``Content-Profile`` for keyword-built headers."""
    return {k.replace("_", "-"): v for k, v in kwargs.items()}


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            406: "Not Acceptable", 409: "Conflict", 410: "Gone", 412: "Precondition Failed", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}

Handler = Callable[..., Response]


@dataclass
class Route:
    """``method`` and a full-match ``pattern`` on the path; named groups become handler kwargs."""

    method: str
    pattern: str
    handler: Handler

    def __post_init__(self) -> None:
        self._regex = re.compile(self.pattern)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method and not (self.method == "GET" and method == "HEAD"):
            return None
        m = self._regex.fullmatch(path)
        return m.groupdict() if m else None


class Service:
    """One emulated service: a name and routes tried in order."""

    def __init__(self, name: str, routes: Iterable[Route] = ()):
        self.name = name
        self.routes: list[Route] = list(routes)

    def add(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator form of ``routes.append(Route(...))``."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, handler))
            return handler

        return register

    def handle(self, request: Request) -> Response:
        allowed = False
        for route in self.routes:
            params = route.match(request.method, request.path)
            if params is not None:
                return route.handler(request, **params)
            if route._regex.fullmatch(request.path):
                allowed = True
        if allowed:
            return Response.error(405, f"Method {request.method} not allowed")
        return Response.error(404, "Document not found.")


# ---------------------------------------------------------------- faults

FAULT_KINDS = ("status", "reset", "slow", "truncate", "html", "body", "redirect-loop", "redirect")


@dataclass
class Fault:
    """One fault rule. See :meth:`Faults.add`."""

    kind: str
    service: str | None = None
    path: str | None = None
    method: str | None = None
    times: int | None = 1
    after: int = 0
    probability: float | None = None
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes | None = None
    content_type: str | None = None
    location: str | None = None
    seen: int = 0
    fired: int = 0

    def applies(self, service: str, request: Request) -> bool:
        if self.service and self.service != service:
            return False
        if self.method and self.method != request.method:
            return False
        if self.path and not re.search(self.path, request.path + ("?" + "&".join(f"{k}={v[0]}" for k, v in request.query.items()) if request.query else "")):
            return False
        return True


class Faults:
    """Fault switches, checked before every request.

    >>> f = Faults(seed=1)
    >>> rule = f.add("status", path=r"^/abc", status=429, retry_after="1", times=2)
    >>> rule.kind, rule.times
    ('status', 2)
    """

    def __init__(self, seed: int | None = None):
        self.rules: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, kind: str, **kw: Any) -> Fault:
        """Add a rule.

        :param kind: ``status`` (answer ``status`` with optional ``retry_after``, seconds or
            HTTP-date), ``reset`` (close the connection without answering), ``slow`` (sleep
            ``delay`` seconds first), ``truncate`` (cut the real body in half while keeping its
            Content-Length), ``html`` (an HTML error page with status 200), ``body`` (replace the
            body with ``body``/``content_type``), ``redirect-loop`` (302 to itself), ``redirect``
            (302 to ``location``, by default the same path without its query: a proxy that loses it).
        :param service: only this service; ``path``: regex searched in path+query;
            ``method``: only this method.
        :param times: fire this many times (``None``: always); ``after``: let this many
            matching requests through first; ``probability``: fire at random (seeded).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        if isinstance(kw.get("body"), str):
            kw["body"] = kw["body"].encode("utf-8")
        rule = Fault(kind, **kw)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def pick(self, service: str, request: Request) -> Fault | None:
        with self._lock:
            for rule in self.rules:
                if not rule.applies(service, request):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None


def http_date(seconds_from_now: float) -> str:
    """An HTTP-date ``seconds_from_now`` in the future (for Retry-After)."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# ---------------------------------------------------------------- the real server


@dataclass
class LoggedRequest:
    service: str
    method: str
    path: str
    query: dict[str, list[str]]
    #: Case-insensitive, as the request's.
    headers: Mapping[str, str]
    time: float
    status: int = 0


class ServiceServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to one :class:`Service`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, service: Service, faults: Faults, log_list: list[LoggedRequest], host: str = "127.0.0.1",
                 port: int = 0, latency: float = 0.0):
        self.service = service
        self.faults = faults
        self.request_log = log_list
        self.latency = latency
        self._log_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode("ascii") if isinstance(host, bytes) else host
        return f"http://{name}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ServiceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s %s", self.server.service.name, format % args)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:  # answer, as a server does, instead of a traceback on the emulator's stderr
            self.close_connection = True
            self._write(Response.error(400, "Bad Content-Length"))
            return
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          CaseInsensitiveDict(self.headers.items()), body, self.server.base_url, parts.query)
        entry = LoggedRequest(self.server.service.name, self.command, parts.path, request.query,
                              CaseInsensitiveDict(request.headers), time.monotonic())
        with self.server._log_lock:
            self.server.request_log.append(entry)
        if self.server.latency:
            time.sleep(self.server.latency)
        fault = self.server.faults.pick(self.server.service.name, request)
        if fault and fault.kind == "reset":
            self.close_connection = True
            try:
                import socket
                import struct

                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.connection.close()
            entry.status = -1
            return
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        response = self._respond(fault, request)
        entry.status = response.status
        self._write(response, truncate=bool(fault and fault.kind == "truncate"))

    def _respond(self, fault: Fault | None, request: Request) -> Response:
        if fault and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.body is not None:
                return Response(fault.status, fault.body, {"Content-Type": fault.content_type or "text/plain", **headers})
            return Response.error(fault.status, "Injected fault", **headers)
        if fault and fault.kind == "html":
            return Response.text("<!DOCTYPE html><html><body><h1>Service error</h1></body></html>",
                                 content_type="text/html; charset=utf-8")
        if fault and fault.kind == "redirect-loop":
            return Response(302, b"", {"Location": request.url})
        if fault and fault.kind == "redirect":
            return Response(302, b"", {"Location": fault.location or request.url.split("?", 1)[0]})
        try:
            response = self.server.service.handle(request)
        except Exception as exc:  # the emulator must answer, like a real server
            log.exception("emulator %s failed on %s", self.server.service.name, request.path)
            response = Response.error(500, f"Emulator error: {exc}")
        if fault and fault.kind == "body":
            response = Response(response.status, fault.body or b"", {**response.headers,
                                "Content-Type": fault.content_type or response.headers.get("Content-Type", "text/plain")})
        return response

    def _write(self, response: Response, truncate: bool = False) -> None:
        self.send_response(response.status)
        headers = dict(response.headers)
        body = response.body if self.command != "HEAD" else b""
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        try:
            self.end_headers()
            if truncate:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts, slow faults)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch


def start_server(server: ServiceServer) -> threading.Thread:
    # a short poll interval: shutdown() waits up to one interval, and test suites stop many emulators
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"emulator-{server.service.name}", daemon=True)
    thread.start()
    return thread
