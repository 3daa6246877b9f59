"""The one HTTP session, built in one place and injected everywhere.

:func:`make_session` returns a :class:`requests.Session` with

* an HTTP cache (requests-cache, SQLite in the user cache dir) keyed on the URL
  *and* the ``Accept`` and ``Accept-Profile`` headers, so a Turtle answer is never
  served for a JSON-LD request. Every stored answer is revalidated before use
  (``If-None-Match``/``If-Modified-Since``; a 304 reuses the stored body) unless
  ``Cache-Control`` allows otherwise; JSON-LD contexts and the vocabulary are kept
  for a week. Answers without a validator are not stored at all;
* a per-host rate limit (requests-ratelimiter);
* retries on connection errors, 429 and 5xx that honour ``Retry-After``
  (seconds or HTTP-date), bounded in count and in total wait;
* **bounded bodies**: every body is counted *while* it is read, after decoding
  (``gzip``, ``deflate``, stacked ``gzip, gzip``; chunked bodies without an end),
  against the limit of its kind (:data:`KINDS`: record, page, dump, …), and
* **a total deadline** per request (retries, redirects and the body included), so
  a server that drips one byte at a time cannot hold the process;
* redirects followed only to configured services (a redirect to a canonical IRI is
  rewritten to its configured base), never to another host;
* a default timeout and the ``linkeddata/<version>`` User-Agent.

Limits and deadlines come from :func:`make_session` arguments, else
``LINKEDDATA_MAX_BYTES_<KIND>`` / ``LINKEDDATA_DEADLINE_<KIND>`` (or, for every
kind, ``LINKEDDATA_MAX_BYTES`` / ``LINKEDDATA_DEADLINE``), else :data:`KINDS`.
Sizes accept ``K``/``M``/``G`` suffixes, deadlines are seconds.

:func:`request` sends one request through such a session and turns failures into
the :mod:`linkeddata.errors` tree with a one-line message that names the URL;
:func:`download` streams a (large) body to a file under the ``dump`` limits.

>>> s = make_session(cache=False)
>>> s.headers["User-Agent"].startswith("linkeddata/")
True
>>> parse_size("64M")
67108864
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import heapq
import json
import logging
import os
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Generic, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from .__about__ import __version__
from .errors import (
    AuthError,
    BadResponseError,
    ConfigError,
    ConflictError,
    GoneError,
    HTTPError,
    LinkedDataError,
    NotFoundError,
    PageLimitError,
    RepeatedPageError,
    ServiceUnavailableError,
)

log = logging.getLogger(__name__)

USER_AGENT = f"linkeddata/{__version__}"
DEFAULT_TIMEOUT = (10.0, 60.0)
#: Longest ``Retry-After`` we are willing to sleep for, in seconds.
MAX_RETRY_AFTER = 120.0
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Times a body that arrives cut short is fetched again (idempotent methods only).
BODY_RETRIES = 2
#: The content codings the client asks for and decodes itself (bounded).
ACCEPT_ENCODING = "gzip, deflate"
_STEP = 64 * 1024

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How large a body of one kind may be (decoded bytes) and how long its request may take (s)."""

    max_bytes: int
    deadline: float


#: The kinds of response and their default limits.
KINDS: dict[str, Limits] = {
    "record": Limits(64 * _MB, 120.0),     # one record (GET /<id>)
    "page": Limits(256 * _MB, 300.0),      # a page of a paged service (OAI-PMH, /find, EMM, SPARQL results)
    "dump": Limits(64 * 1024 * _MB, 6 * 3600.0),  # a dump download, streamed to disk (see download())
    "context": Limits(64 * _MB, 120.0),    # a JSON-LD context or the vocabulary
    "token": Limits(1 * _MB, 60.0),        # an OAuth2 token answer
}
DEFAULT_KIND = "page"
#: Kept for callers that name it: the default ``page`` limit.
DEFAULT_MAX_BYTES = KINDS[DEFAULT_KIND].max_bytes

#: URLs (glob patterns, any host) kept longer in the cache: contexts and the vocabulary.
LONG_LIVED = ("*/context.jsonld", "*/vocab", "*/vocab/", "*/vocab/display", "*/vocab/data*", "*/sys/context/*")
LONG_LIVED_FOR = timedelta(days=7)


class BodyTooLargeError(HTTPError):
    """A response body is larger than the limit of its kind."""


class DeadlineError(ServiceUnavailableError):
    """A request (with its retries, redirects and body) took longer than its deadline."""


class RedirectError(HTTPError):
    """A redirect pointed somewhere the client does not follow."""


def parse_size(value: str | int) -> int:
    """``"64M"`` → 67108864; plain integers are bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", str(value))
    if not m:
        raise ConfigError(f"not a size: {value!r} (expected bytes, or a number with K, M or G)")
    factor = {"": 1, "k": 1024, "m": _MB, "g": 1024 * _MB, "t": 1024 * 1024 * _MB}[m.group(2).lower()]
    return int(float(m.group(1)) * factor)


def _parse_seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return seconds


def limits_for(kind: str, env: Mapping[str, str] | None = None, *, max_bytes: int | str | None = None,
               deadline: float | None = None) -> Limits:
    """The effective limits of ``kind``: arguments, else environment, else :data:`KINDS`.

    >>> limits_for("record", {"LINKEDDATA_MAX_BYTES_RECORD": "1M", "LINKEDDATA_DEADLINE": "5"})
    Limits(max_bytes=1048576, deadline=5.0)
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown kind of response {kind!r}; one of {', '.join(KINDS)}")
    env = os.environ if env is None else env
    base = KINDS[kind]
    size_name = next((n for n in (f"LINKEDDATA_MAX_BYTES_{kind.upper()}", "LINKEDDATA_MAX_BYTES") if env.get(n)), None)
    time_name = next((n for n in (f"LINKEDDATA_DEADLINE_{kind.upper()}", "LINKEDDATA_DEADLINE") if env.get(n)), None)
    size = parse_size(max_bytes) if max_bytes is not None else (
        parse_size(env[size_name]) if size_name else base.max_bytes)
    if size_name and max_bytes is None and size <= 0:
        raise ConfigError(f"{size_name} must be positive, got {env[size_name]!r}")
    seconds = float(deadline) if deadline is not None else (
        _parse_seconds(time_name, env[time_name]) if time_name else base.deadline)
    return Limits(size, seconds)


# ------------------------------------------------------------------ deadlines


class _Watchdog:
    """One daemon thread that shuts the sockets of requests whose deadline passed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Scope]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._counter = 0

    def arm(self, scope: _Scope) -> None:
        with self._cond:
            self._counter += 1
            heapq.heappush(self._heap, (scope.deadline_at, self._counter, scope))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="linkeddata-http-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:  # finished requests leave at once
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, scope = self._heap[0]
                now = time.monotonic()
                if at > now and not scope.done:
                    self._cond.wait(min(at - now, 60.0))
                    continue
                heapq.heappop(self._heap)
            if not scope.done:
                scope.expire()


_WATCHDOG = _Watchdog()


@dataclass(eq=False)
class _Scope:
    """One request's budget: its deadline, its body limit and the connections it uses."""

    url: str
    limits: Limits
    kind: str
    deadline_at: float = 0.0
    expired: bool = False
    done: bool = False
    connections: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.deadline_at = time.monotonic() + self.limits.deadline
        _WATCHDOG.arm(self)

    def attach(self, conn: Any) -> None:
        with self._lock:
            if self.expired:
                raise self.error()
            self.connections.append(conn)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            conns, self.connections = self.connections, []
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # wakes a blocked read (TLS too)

    def check(self) -> None:
        if self.expired or time.monotonic() > self.deadline_at:
            self.expired = True
            raise self.error()

    def finish(self) -> None:
        self.done = True
        with self._lock:
            self.connections = []

    def error(self) -> DeadlineError:
        return DeadlineError(f"{self.url}: no complete answer within the {self.limits.deadline:g} s deadline "
                             f"(LINKEDDATA_DEADLINE_{self.kind.upper()})", url=self.url)


_ACTIVE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("linkeddata_http_scope", default=None)
_WANTED: contextvars.ContextVar[tuple[str | None, Limits | None] | None] = contextvars.ContextVar(
    "linkeddata_http_wanted", default=None)


@contextlib.contextmanager
def limits(kind: str | None = None, *, max_bytes: int | str | None = None,
           deadline: float | None = None) -> Iterator[None]:
    """Requests sent in this block use the limits of ``kind`` (and the given overrides).

    >>> with limits("record", max_bytes=1000):
    ...     pass
    """
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown kind of response {kind!r}; one of {', '.join(KINDS)}")
    explicit = None
    if max_bytes is not None or deadline is not None:
        explicit = limits_for(kind or DEFAULT_KIND, max_bytes=max_bytes, deadline=deadline)
    token = _WANTED.set((kind, explicit))
    try:
        yield
    finally:
        _WANTED.reset(token)


class _Attached:
    """Connection mixin: a connection joins the current request's scope when it sends."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        scope = _ACTIVE.get()
        if scope is not None:
            scope.attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _DeadlineHTTPConnection(_Attached, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_Attached, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


# ------------------------------------------------------------------ bounded bodies


class _Inflater:
    """A zlib decoder whose every output piece is at most ``_STEP`` bytes."""

    def __init__(self, coding: str):
        self.coding = coding
        self.gzip = coding in ("gzip", "x-gzip")
        self._d = self._new(zlib.MAX_WBITS | 16 if self.gzip else zlib.MAX_WBITS)
        self._started = False

    @staticmethod
    def _new(wbits: int) -> Any:
        return zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._d.eof:
                if not self.gzip:
                    return  # bytes after the end of a deflate stream are ignored
                self._d = self._new(zlib.MAX_WBITS | 16)  # another gzip member follows
            try:
                out = self._d.decompress(data, _STEP)
            except zlib.error:
                if self.gzip or self._started:
                    raise
                self._d = self._new(-zlib.MAX_WBITS)  # "deflate" sent without its zlib header
                out = self._d.decompress(data, _STEP)
            self._started = True
            if out:
                yield out
            data = self._d.unconsumed_tail or (self._d.unused_data if self._d.eof else b"")

    def finish(self) -> Iterator[bytes]:
        if self._started and not self._d.eof:
            raise zlib.error(f"{self.coding} stream ends early")
        rest = self._d.flush()
        if rest:
            yield rest


def _decoders(url: str, headers: Mapping[str, str]) -> list[_Inflater]:
    codings = [c.strip().lower() for c in (headers.get("Content-Encoding") or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
    if unknown:
        raise HTTPError(f"{url}: the body is encoded as {', '.join(unknown)}, which was not asked for "
                        f"(Accept-Encoding: {ACCEPT_ENCODING})", url=url)
    return [_Inflater(c) for c in reversed(codings)]


def _through(stages: list[_Inflater], pieces: Iterator[bytes], counts: list[int], limit: int,
             scope: _Scope) -> Iterator[bytes]:
    """Feed ``pieces`` through the decoding ``stages``; every stage's output is counted against ``limit``."""

    def run(i: int, data: bytes, final: bool) -> Iterator[bytes]:
        if i == len(stages):
            if data:
                yield data
            return
        stage = stages[i]
        for out in stage.feed(data):
            counts[i + 1] += len(out)
            if counts[i + 1] > limit:
                raise _TooLarge(counts[i + 1])
            scope.check()
            yield from run(i + 1, out, False)
        if final:
            for out in stage.finish():
                counts[i + 1] += len(out)
                if counts[i + 1] > limit:
                    raise _TooLarge(counts[i + 1])
                yield from run(i + 1, out, False)
            yield from run(i + 1, b"", True)

    for chunk in pieces:
        yield from run(0, chunk, False)
    yield from run(0, b"", True)


class _TooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def _too_large(url: str, scope: _Scope, size: int | None = None) -> BodyTooLargeError:
    limit = scope.limits.max_bytes
    got = f"more than {limit} bytes" if size is None else f"{size} bytes"
    return BodyTooLargeError(f"{url}: response of {got} exceeds the {limit} byte limit for a {scope.kind} "
                             f"(LINKEDDATA_MAX_BYTES_{scope.kind.upper()})", url=url)


def _bounded_body(raw: Any, scope: _Scope, url: str, headers: Mapping[str, str]) -> Iterator[bytes]:
    """The decoded body of a urllib3 response, piece by piece, within ``scope``'s size and time."""
    limit = scope.limits.max_bytes
    stages = _decoders(url, headers)
    counts = [0] * (len(stages) + 1)

    def network() -> Iterator[bytes]:
        for chunk in raw.stream(_STEP, decode_content=False):
            counts[0] += len(chunk)
            if counts[0] > limit:
                raise _TooLarge(counts[0])
            scope.check()
            yield chunk

    try:
        yield from _through(stages, network(), counts, limit, scope)
    except _TooLarge:
        raise _too_large(url, scope) from None
    except zlib.error as exc:
        if scope.expired:
            raise scope.error() from None
        raise requests.exceptions.ContentDecodingError(f"{url}: {exc}") from None
    except DeadlineError:
        raise
    except Exception:
        if scope.expired:
            raise scope.error() from None
        raise


class _BoundedRaw:
    """Stands in for ``response.raw`` of a streamed response: reads are bounded and decoded."""

    def __init__(self, raw: Any, scope: _Scope, url: str):
        self._raw = raw
        self._scope = scope
        self._url = url
        self._iter: Iterator[bytes] | None = None
        self._buffer = b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def _pieces(self) -> Iterator[bytes]:
        if self._iter is None:
            self._iter = _bounded_body(self._raw, self._scope, self._url, self._raw.headers)
        return self._iter

    def stream(self, amt: int | None = _STEP, decode_content: bool | None = True) -> Iterator[bytes]:
        try:
            if self._buffer:
                data, self._buffer = self._buffer, b""
                yield data
            yield from self._pieces()
        finally:
            self._done()

    def read(self, amt: int | None = None, decode_content: bool | None = True, **kwargs: Any) -> bytes:
        pieces = self._pieces()
        while amt is None or len(self._buffer) < amt:
            try:
                piece = next(pieces)
            except StopIteration:
                self._done()
                break
            self._buffer += piece
        if amt is None:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:amt], self._buffer[amt:]
        return data

    def _done(self) -> None:
        if _ACTIVE.get() is not self._scope:  # not a redirect hop read inside the request
            self._scope.finish()

    def close(self) -> None:
        self._scope.finish()
        self._raw.close()

    def release_conn(self) -> None:
        self._raw.release_conn()


class LinkedDataAdapter(HTTPAdapter):
    """An HTTPAdapter that reads every body bounded in size and time (see the module doc)."""

    def __init__(self, *args: Any, default: tuple[str, Limits], **kwargs: Any):
        self.default = default
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        scope = _ACTIVE.get()
        own = scope is None
        if scope is None:
            kind, lim = self.default
            scope = _Scope(request.url or "", lim, kind)
        token = _ACTIVE.set(scope)
        try:
            try:
                response = super().send(request, stream=True, **kwargs)
            except requests.RequestException:
                if scope.expired:
                    raise scope.error() from None
                raise
            url = response.url or request.url or ""
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > scope.limits.max_bytes:
                response.close()
                raise _too_large(url, scope, int(length))
            if stream:
                response.raw = _BoundedRaw(response.raw, scope, url)
                own = False  # the body reader finishes the scope
                return response
            raw = response.raw
            try:
                response._content = b"".join(_bounded_body(raw, scope, url, response.headers))
            except BaseException as exc:
                raw.close()
                mapped = _requests_error(exc)
                if mapped is not None:
                    raise mapped from exc
                raise
            response._content_consumed = True  # type: ignore[attr-defined]
            raw.release_conn()
            return response
        finally:
            _ACTIVE.reset(token)
            if own:
                scope.finish()


def _requests_error(exc: BaseException) -> Exception | None:
    """The requests exception that ``Response.content`` would raise for a urllib3 read error."""
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    if isinstance(exc, ProtocolError):
        return requests.exceptions.ChunkedEncodingError(exc)
    if isinstance(exc, DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    if isinstance(exc, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    if isinstance(exc, SSLError):
        return requests.exceptions.SSLError(exc)
    return None


# ------------------------------------------------------------------ the session


class BoundedRetry(Retry):
    """urllib3 Retry that refuses to sleep longer than ``max_retry_after`` seconds."""

    max_retry_after: float = MAX_RETRY_AFTER

    def new(self, **kw: Any) -> BoundedRetry:
        new = super().new(**kw)
        new.max_retry_after = self.max_retry_after
        return new

    def get_retry_after(self, response: Any) -> float | None:
        retry_after = super().get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            url = getattr(response, "geturl", lambda: None)() or "the service"
            raise ServiceUnavailableError(
                f"{url} asked to wait {retry_after:.0f} s (Retry-After), more than the {self.max_retry_after:.0f} s limit",
                url=url,
                status=response.status,
            )
        return retry_after


def _session_class(cache: bool, rate_limit: bool) -> type[requests.Session]:
    bases: list[type] = []
    if cache:
        from requests_cache import CacheMixin

        bases.append(CacheMixin)
    if rate_limit:
        from requests_ratelimiter import LimiterMixin

        bases.append(LimiterMixin)
    bases.append(TimeoutSession)
    return type("LinkedDataSession", tuple(bases), {})


class TimeoutSession(requests.Session):
    """A Session with a default timeout, a deadline and a body limit on every request,
    that follows redirects only to configured services."""

    default_timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
    default_kind: str = DEFAULT_KIND
    #: kind → limits of this session (see :func:`make_session`).
    kind_limits: dict[str, Limits] = {}
    #: extra ``host:port`` a redirect may go to (besides the configured services).
    allowed_hosts: frozenset[str] = frozenset()

    def limits_of(self, kind: str | None) -> tuple[str, Limits]:
        kind = kind or self.default_kind
        lim = self.kind_limits.get(kind) or limits_for(kind)
        return kind, lim

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        if _ACTIVE.get() is not None:  # nested (e.g. a token fetched inside a request): same scope
            return super().request(method, url, *args, **kwargs)
        wanted = _WANTED.get()
        kind, lim = self.limits_of(wanted[0] if wanted else None)
        if wanted and wanted[1] is not None:
            lim = wanted[1]
        scope = _Scope(str(url), lim, kind)
        token = _ACTIVE.set(scope)
        streamed = False
        try:
            response = super().request(method, url, *args, **kwargs)
            streamed = isinstance(response.raw, _BoundedRaw) and not getattr(response, "_content_consumed", False)
            return response
        finally:
            _ACTIVE.reset(token)
            if not streamed:
                scope.finish()

    def resolve_redirects(self, resp: requests.Response, req: requests.PreparedRequest, *args: Any,
                          yield_requests: bool = False, **kwargs: Any) -> Iterator[Any]:
        redirects = super().resolve_redirects(resp, req, *args, yield_requests=yield_requests, **kwargs)  # type: ignore[misc]
        if not yield_requests:
            return redirects  # type: ignore[no-any-return]

        def peek() -> Iterator[Any]:  # allow_redirects=False only peeks at the next hop: never an error
            with contextlib.suppress(RedirectError):
                yield from redirects

        return peek()

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        location = super().get_redirect_target(resp)
        if location is None:
            return None
        return follow_redirect(resp.url, urljoin(resp.url, location), self.allowed_hosts)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme, f"{(parts.hostname or '').lower()}:{port}"


def follow_redirect(source: str, target: str, allowed_hosts: frozenset[str] | set[str] = frozenset()) -> str:
    """Where a redirect from ``source`` to ``target`` may go, or :class:`RedirectError`.

    Allowed: the same host and port (never from https to http), a configured
    service's base, or ``allowed_hosts``. A canonical IRI of a data service
    (``https://libris.kb.se/…``) goes to its configured base instead.

    >>> follow_redirect("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
    'http://127.0.0.1:9/b'
    """
    from .config import SERVICES, service_url, to_request_url

    scheme, host = _origin(target)
    source_scheme, source_host = _origin(source)
    if scheme not in ("http", "https"):
        raise RedirectError(f"{source}: redirected to {target}, not an http(s) URL; refusing to follow", url=source)
    rewritten = to_request_url(target)
    if rewritten != target.split("#", 1)[0]:
        return rewritten
    if host == source_host and not (source_scheme == "https" and scheme == "http"):
        return target
    configured = set(allowed_hosts)
    for service in SERVICES:
        try:
            base = service_url(service)
        except ConfigError:
            continue
        configured.add(_origin(base)[1])
    if host in configured:
        return target
    raise RedirectError(f"{source}: redirected to {target}, which is not a configured service; refusing to follow",
                        url=source)


def default_cache_path() -> Path:
    """The SQLite file of the HTTP cache, in the user cache dir."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("linkeddata")) / "http-cache.sqlite"


def no_cache(env: Mapping[str, str] | None = None) -> bool:
    """True when ``LINKEDDATA_NO_CACHE`` is set (to anything but ``0``/``false``/``no``): no
    session then uses the default HTTP cache, in the library as in the CLI.

    >>> no_cache({"LINKEDDATA_NO_CACHE": "1"}), no_cache({"LINKEDDATA_NO_CACHE": "0"}), no_cache({})
    (True, False, False)
    """
    value = (os.environ if env is None else env).get("LINKEDDATA_NO_CACHE", "")
    return value.strip().lower() not in ("", "0", "false", "no")


#: What each purpose of a session means by default: its kind of response and whether it caches.
PURPOSES: dict[str, tuple[str, bool]] = {
    "default": (DEFAULT_KIND, True),
    "record": ("record", True),
    "page": ("page", False),
    "harvest": ("page", False),
    "dump": ("dump", False),
    "context": ("context", True),
    "token": ("token", False),
    "write": ("record", False),
    "query": ("page", False),
}


def make_session(
    *,
    cache: bool | str | Path | None = None,
    expire_after: timedelta | int | None = None,
    rate_limit: float | None = 10.0,
    retries: int = 5,
    backoff_factor: float = 0.5,
    max_retry_after: float = MAX_RETRY_AFTER,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    max_bytes: int | str | None = None,
    deadline: float | None = None,
    purpose: str = "default",
    allowed_hosts: tuple[str, ...] | list[str] = (),
    env: Mapping[str, str] | None = None,
) -> requests.Session:
    """Build the shared session.

    :param purpose: what the session is for (:data:`PURPOSES`): it picks the default
        kind of response (its size limit and deadline) and whether to cache.
    :param cache: ``True`` for the user cache dir, a path for another SQLite file,
        ``False`` for no cache, ``None`` for the purpose's default. ``LINKEDDATA_NO_CACHE``
        turns the user cache dir off (an explicit path stays).
    :param expire_after: how long a stored answer counts as fresh without asking the
        server; default 0: revalidate every time (contexts and vocabulary: a week).
    :param rate_limit: requests per second per host, ``None`` for no limit.
    :param retries: retries on connection errors, 429 and 5xx.
    :param max_retry_after: a ``Retry-After`` longer than this fails at once.
    :param max_bytes: body limit (decoded bytes) of the default kind; ``None``: from the environment or :data:`KINDS`.
    :param deadline: total seconds per request of the default kind; ``None``: likewise.
    :param allowed_hosts: extra ``host:port`` redirects may go to.
    """
    if purpose not in PURPOSES:
        raise ConfigError(f"unknown session purpose {purpose!r}; one of {', '.join(PURPOSES)}")
    if rate_limit is not None and not rate_limit > 0:
        raise ConfigError(f"rate limit must be a positive number of requests per second (None: no limit), got {rate_limit}")
    if retries < 0:
        raise ConfigError(f"retries must be 0 or more, got {retries}")
    kind, cached_by_default = PURPOSES[purpose]
    if cache is None:
        cache = cached_by_default
    if cache is True and no_cache(env):
        cache = False
    cls = _session_class(bool(cache), rate_limit is not None)
    kwargs: dict[str, Any] = {}
    if cache:
        from requests_cache import EXPIRE_IMMEDIATELY

        path = default_cache_path() if cache is True else Path(cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(
            cache_name=str(path),
            backend="sqlite",
            match_headers=["Accept", "Accept-Profile"],
            expire_after=EXPIRE_IMMEDIATELY if expire_after is None else expire_after,
            urls_expire_after={pattern: LONG_LIVED_FOR for pattern in LONG_LIVED},
            cache_control=True,
            allowable_codes=(200,),
            allowable_methods=("GET", "HEAD"),
            filter_fn=_cacheable,
            key_fn=cache_key,
        )
    if rate_limit is not None:
        kwargs.update(per_second=rate_limit, per_host=True, limit_statuses=())
    session = cls(**kwargs)
    kind_limits = {k: limits_for(k, env) for k in KINDS}
    kind_limits[kind] = limits_for(kind, env, max_bytes=max_bytes, deadline=deadline)
    retry = BoundedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff_factor,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=IDEMPOTENT,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.max_retry_after = max_retry_after
    adapter = LinkedDataAdapter(max_retries=retry, pool_maxsize=16, default=(kind, kind_limits[kind]))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept-Encoding"] = ACCEPT_ENCODING
    session.default_timeout = timeout  # type: ignore[attr-defined]
    session.default_kind = kind  # type: ignore[attr-defined]
    session.kind_limits = kind_limits  # type: ignore[attr-defined]
    session.allowed_hosts = frozenset(allowed_hosts)  # type: ignore[attr-defined]
    session.max_redirects = 10
    return session


@contextlib.contextmanager
def session_for(session: requests.Session | None, purpose: str = "default") -> Iterator[requests.Session]:
    """``session`` itself, or a new session for ``purpose`` that is closed when the block ends.

    Generators that may create their own session use it, so the session dies with them::

        def pages(session=None):
            with session_for(session, "page") as s:
                yield from ...
    """
    if session is not None:
        yield session
        return
    own = make_session(purpose=purpose)
    try:
        yield own
    finally:
        own.close()


class SessionOwner:
    """Base of clients that take a session or make their own, and close only the one they made.

    >>> class Client(SessionOwner):
    ...     def __init__(self, session=None):
    ...         self.own_session(session, "harvest")
    >>> with Client() as c:
    ...     c.session.headers["User-Agent"].startswith("linkeddata")
    True
    """

    session: requests.Session
    _own_session: bool

    def own_session(self, session: requests.Session | None, purpose: str) -> None:
        """Use ``session``, or make one for ``purpose`` that :meth:`close` closes."""
        self._own_session = session is None
        self.session = session or make_session(purpose=purpose)

    def close(self) -> None:
        """Close the session if this client made it (a session passed in stays the caller's)."""
        if self._own_session:
            self.session.close()

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_Owner = TypeVar("_Owner", bound=SessionOwner)


def _cacheable(response: requests.Response) -> bool:
    """Only bodies read in full are stored (a streamed download never is)."""
    content: Any = response._content
    return content is not False and content is not None


def _record_prefix(url: str) -> str:
    parts = urlsplit(url)
    path = re.sub(r"/data(?:-view)?(?:\.\w+)?$", "", parts.path).rstrip("/")
    digest = hashlib.sha256(f"{parts.scheme}://{(parts.netloc or '').lower()}{path}".encode()).hexdigest()
    return digest[:16] + "-"


def cache_key(request: Any, **kwargs: Any) -> str:
    """requests-cache's key, prefixed by a digest of the URL path so that all entries
    of one record (any query, media type or ``/data.<ext>``) can be found and dropped."""
    from requests_cache import create_key

    return _record_prefix(request.url) + create_key(request, **kwargs)


def invalidate(session: requests.Session | None, url: str) -> int:
    """Drop every cached answer for ``url`` (any query, media type or ``/data.<ext>``).

    Uses the session's cache, or, for a session without one, the default cache file if
    it exists (another run may read it). Returns the number of entries dropped.
    """
    cache = getattr(session, "cache", None) if session is not None else None
    own = None
    if cache is None:
        path = default_cache_path()
        if not path.exists():
            return 0
        from requests_cache.backends.sqlite import SQLiteCache

        cache = own = SQLiteCache(str(path))
    try:
        prefix = _record_prefix(url)
        keys = [k for k in cache.responses.keys() if str(k).startswith(prefix)]
        if keys:
            cache.delete(*keys)
        log.debug("dropped %d cached answers for %s", len(keys), url)
        return len(keys)
    except Exception as exc:  # noqa: BLE001 - a broken cache file must not fail a write
        log.warning("could not drop cached answers for %s: %s", url, exc)
        return 0
    finally:
        if own is not None:
            with contextlib.suppress(Exception):
                own.close()  # type: ignore[no-untyped-call]


def size_guard(max_bytes: int) -> Callable[..., requests.Response]:
    """A response hook that refuses a body announced larger than ``max_bytes`` (kept for callers;
    sessions from :func:`make_session` bound every body while it is read)."""

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            response.close()
            raise BodyTooLargeError(f"{response.url}: response of {int(length)} bytes exceeds the {max_bytes} byte limit",
                                    url=response.url, status=response.status_code)
        return response

    return check


_STATUS_ERRORS: dict[int, type[HTTPError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    412: ConflictError,
}


def error_class(status: int) -> type[HTTPError]:
    """The :class:`HTTPError` subclass of a failed status (the one mapping every client uses).

    >>> error_class(412).__name__, error_class(503).__name__, error_class(400).__name__
    ('ConflictError', 'ServiceUnavailableError', 'HTTPError')
    """
    if status == 429 or status >= 500:
        return ServiceUnavailableError
    return _STATUS_ERRORS.get(status, HTTPError)


def server_message(response: requests.Response) -> str:
    """The server's own words about a failure: ``message``/``error`` (and ``errors``) of a JSON
    body, the title of a Jetty error page, else the reason phrase; one line, at most 300 characters."""
    text = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            text = str(body.get("message") or body.get("error") or "")
            if body.get("errors"):
                text += " " + json.dumps(body["errors"], ensure_ascii=False)[:300]
    except (ValueError, HTTPError):
        text = ""
    if not text.strip():
        match = re.search(r"<title>\s*Error\s+\d+\s+(.*?)</title>", response.text or "", re.S | re.I)
        text = match.group(1) if match else ""
    if not text.strip():
        text = response.reason or ""
    return " ".join(str(text).split())[:300]


def error_for(response: requests.Response, what: str | None = None) -> HTTPError:
    """The :class:`HTTPError` subclass that describes a failed response."""
    status = response.status_code
    url = response.url
    detail = server_message(response)
    subject = what or url
    if status == 404:
        message = f"not found: {subject}"
    elif status == 410:
        message = f"gone (deleted): {subject}"
    elif status in (429,) or status >= 500:
        message = f"{subject}: HTTP {status} {detail} (after retries)".replace("  ", " ")
    else:
        message = f"{subject}: HTTP {status} {detail}".rstrip()
    return error_class(status)(message, url=url, status=status)


def response_json(response: requests.Response, what: str | None = None) -> Any:
    """The JSON body of ``response``, or :class:`~linkeddata.errors.BadResponseError` naming it."""
    try:
        return response.json()
    except ValueError as exc:
        kind = (response.headers.get("Content-Type") or "no media type").split(";")[0]
        raise BadResponseError(f"{what or response.url}: the answer from {response.url} is not JSON ({kind})",
                               url=response.url, status=response.status_code) from exc


def get_json(session: requests.Session, url: str, *, params: Mapping[str, Any] | None = None,
             what: str | None = None, accept: str = "application/json", kind: str | None = None,
             headers: Mapping[str, str] | None = None) -> Any:
    """``GET url`` asking for JSON; the parsed body. Failures are one-line errors naming ``what``."""
    response = request(session, "GET", url, params=params, what=what, kind=kind,
                       headers={"Accept": accept, **(headers or {})})
    return response_json(response, what)


@contextlib.contextmanager
def uncached(session: requests.Session) -> Iterator[None]:
    """Requests sent in this block never answer from (nor store into) the session's HTTP cache:
    for real-time answers (availability, a record about to be updated) and secrets in headers."""
    disabled = getattr(session, "cache_disabled", None)
    if disabled is None:
        yield
    else:
        with disabled():
            yield


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    ok: tuple[int, ...] = (200,),
    what: str | None = None,
    max_bytes: int | None = None,
    kind: str | None = None,
    deadline: float | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request; return the response if its status is in ``ok``.

    :param kind: the kind of response (:data:`KINDS`) whose size limit and deadline apply;
        default: the session's. ``max_bytes``/``deadline`` override them for this request.

    Network failures, timeouts, the deadline, redirect loops and bodies larger than the
    limit become :class:`ServiceUnavailableError`/:class:`HTTPError` with a one-line
    message. A body cut short (the connection dropped mid-response) is fetched again,
    up to :data:`BODY_RETRIES` times, for idempotent methods.
    """
    attempts = BODY_RETRIES + 1 if method.upper() in IDEMPOTENT else 1
    kind = kind or getattr(session, "default_kind", None) or DEFAULT_KIND
    for attempt in range(attempts):
        try:
            with limits(kind, max_bytes=max_bytes, deadline=deadline):
                return _request_once(session, method, url, ok=ok, what=what, **kwargs)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            if attempt == attempts - 1:
                raise ServiceUnavailableError(f"{url}: response cut short ({_reason(exc)})", url=url) from exc
            log.info("%s: response cut short, fetching again", url)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _request_once(session: requests.Session, method: str, url: str, *, ok: tuple[int, ...], what: str | None,
                  **kwargs: Any) -> requests.Response:
    try:
        response = session.request(method, url, **kwargs)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        raise
    except requests.TooManyRedirects as exc:
        raise HTTPError(f"{url}: too many redirects", url=url) from exc
    except requests.Timeout as exc:
        raise ServiceUnavailableError(f"{url}: timed out", url=url) from exc
    except requests.ConnectionError as exc:
        raise ServiceUnavailableError(f"{url}: connection failed ({_reason(exc)})", url=url) from exc
    except requests.RequestException as exc:
        raise HTTPError(f"{url}: {_reason(exc)}", url=url) from exc
    if response.status_code not in ok:
        raise error_for(response, what)
    return response


def download(session: requests.Session, url: str, target: str | Path | IO[bytes], *, kind: str = "dump",
             max_bytes: int | None = None, deadline: float | None = None, what: str | None = None,
             chunk_size: int = 1024 * 1024, **kwargs: Any) -> int:
    """Stream the (decoded) body of ``GET url`` to ``target`` (a path or a binary file) within
    the limits of ``kind`` (default ``dump``); return the number of bytes written.

    A path is written to ``<path>.part`` and renamed when complete, so a failed download
    never leaves a file that looks whole. Errors are one line naming the URL.
    """
    response = request(session, "GET", url, stream=True, kind=kind, max_bytes=max_bytes, deadline=deadline,
                       what=what, **kwargs)
    written = 0
    try:
        if isinstance(target, (str, Path)):
            path = Path(target)
            part = path.with_name(path.name + ".part")
            with part.open("wb") as out:
                written = _copy(response, out, url, chunk_size)
            os.replace(part, path)
        else:
            written = _copy(response, target, url, chunk_size)
    finally:
        response.close()
        if isinstance(target, (str, Path)):
            with contextlib.suppress(OSError):
                Path(target).with_name(Path(target).name + ".part").unlink()
    return written


def _copy(response: requests.Response, out: IO[bytes], url: str, chunk_size: int) -> int:
    written = 0
    try:
        for chunk in response.iter_content(chunk_size):
            out.write(chunk)
            written += len(chunk)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
            requests.ConnectionError) as exc:
        raise ServiceUnavailableError(f"{url}: download cut short after {written} bytes ({_reason(exc)})",
                                      url=url) from exc
    return written


def _reason(exc: Exception) -> str:
    """A short reason: the innermost urllib3 cause without the connection-pool preamble."""
    cause: Any = exc.args[0] if exc.args else exc
    cause = getattr(cause, "reason", None) or cause
    text = str(cause).splitlines()[0] if str(cause) else type(exc).__name__
    if "): " in text:  # "HTTPSConnection(host=…, port=443): Failed to resolve …"
        text = text.rsplit("): ", 1)[1]
    return text[:200]


# ------------------------------------------------------------------ paging

C = TypeVar("C")
P = TypeVar("P")
T = TypeVar("T")

#: Default bound on the pages of one paged read.
DEFAULT_MAX_PAGES = 100_000


@dataclass(frozen=True)
class PageEvent:
    """What a :class:`Pager` tells its ``progress`` callback after each page."""

    what: str
    #: 1-based number of the page just read.
    number: int
    #: The cursor (offset, URL, token…) that page was asked with.
    cursor: object
    #: Seconds since the first page was asked for.
    elapsed: float


class Pager(Generic[C, P]):
    """The pages of one paged read, with the same bounds and guards for every client.

    The client supplies the rule: ``fetch(cursor)`` reads the page a cursor names (an
    offset, a ``next`` URL, a resumption token…) and ``next_cursor(page, cursor)`` says
    which cursor comes next, or ``None`` at the end (see :func:`offset_rule`,
    :func:`link_rule`, :func:`token_rule`). The pager adds, for everyone:

    * at most ``max_pages`` pages and, after the first, no new page once ``max_seconds``
      have passed: past either bound it raises :class:`~linkeddata.errors.PageLimitError`
      (``on_limit="error"``) or stops with a warning and ``truncated = True`` (``"stop"``);
    * repeat detection: a cursor asked for before, or (with ``fingerprint``) a page equal
      to the one before, raises :class:`~linkeddata.errors.RepeatedPageError`, so a server
      that ignores the paging parameters is never read ``max_pages`` times;
    * ``progress(event)`` after each page; ``pages`` (pages read, ``first`` included),
      ``cursor`` (the cursor of the page last yielded, to resume there) and ``next``
      (the cursor of the page after it once known, ``None`` at the end). ``next_cursor``
      is called when the consumer asks for the next page, so it may use what the
      consumer learnt from the page.

    ``first`` is a page the caller already has for ``start`` (it is not fetched again).

    >>> pages = {0: [1, 2], 2: [3], 3: []}
    >>> list(Pager("demo", pages.__getitem__, offset_rule(len), 0))
    [[1, 2], [3], []]
    """

    def __init__(self, what: str, fetch: Callable[[C], P], next_cursor: Callable[[P, C], C | None], start: C, *,
                 max_pages: int | None = DEFAULT_MAX_PAGES, max_seconds: float | None = None,
                 on_limit: Literal["error", "stop"] = "error", fingerprint: Callable[[P], Hashable] | None = None,
                 progress: Callable[[PageEvent], None] | None = None, first: P | None = None):
        if max_pages is not None and max_pages < 1:
            raise ConfigError(f"{what}: max_pages must be at least 1, got {max_pages}")
        if max_seconds is not None and max_seconds <= 0:
            raise ConfigError(f"{what}: max_seconds must be positive, got {max_seconds}")
        if on_limit not in ("error", "stop"):
            raise ConfigError(f"{what}: on_limit must be 'error' or 'stop', got {on_limit!r}")
        self.what = what
        self.fetch = fetch
        self.next_cursor = next_cursor
        self.start = start
        self.max_pages = max_pages
        self.max_seconds = max_seconds
        self.on_limit = on_limit
        self.fingerprint = fingerprint
        self.progress = progress
        self.first = first
        self.pages = 0
        self.cursor: C | None = None
        self.next: C | None = start
        self.truncated = False

    def _limit(self, message: str) -> None:
        if self.on_limit == "error":
            raise PageLimitError(message)
        self.truncated = True
        log.warning("%s", message)

    def __iter__(self) -> Iterator[P]:
        started = time.monotonic()
        cursor: C = self.start
        seen: set[Hashable] = set()
        previous: Hashable = None
        first, self.first = self.first, None
        while True:
            if self.max_pages is not None and self.pages >= self.max_pages:
                return self._limit(f"{self.what} stopped after {self.max_pages} pages (max_pages)")
            elapsed = time.monotonic() - started
            if self.pages and self.max_seconds is not None and elapsed > self.max_seconds:
                return self._limit(f"{self.what} stopped after {self.max_seconds:g} s and {self.pages} pages "
                                   "(max_seconds)")
            try:
                repeated = cursor in seen
                seen.add(cursor)
            except TypeError:  # a cursor that cannot be hashed is not checked
                repeated = False
            if repeated:
                raise RepeatedPageError(f"{self.what}: the server sent {_short(cursor)} again as the next page "
                                        "(it does not page)")
            page = first if first is not None else self.fetch(cursor)
            first = None
            self.pages += 1
            if self.fingerprint is not None:
                mark = self.fingerprint(page)
                if mark is not None and mark == previous:
                    raise RepeatedPageError(f"{self.what}: page {self.pages} ({_short(cursor)}) repeats the page "
                                        "before (the same page again: the server does not page)")
                previous = mark
            self.cursor = cursor
            if self.progress is not None:
                self.progress(PageEvent(self.what, self.pages, cursor, time.monotonic() - started))
            self.next = None
            yield page
            nxt = self.next_cursor(page, cursor)  # after the consumer is done with the page
            self.next = nxt
            if nxt is None:
                return
            cursor = nxt


def _short(cursor: object) -> str:
    text = repr(cursor)
    return text if len(text) <= 80 else text[:77] + "…"


def offset_rule(count: Callable[[P], int], *, total: Callable[[P], int | None] | None = None
                ) -> Callable[[P, int], int | None]:
    """Offset/limit paging: the next offset is this one plus the ``count`` of items received;
    the read ends at an empty page, or once ``total`` (when the page tells it) is reached."""

    def rule(page: P, offset: int) -> int | None:
        n = count(page)
        if n <= 0:
            return None
        nxt = offset + n
        if total is not None:
            known = total(page)
            if known is not None and nxt >= known:
                return None
        return nxt

    return rule


def link_rule(link: Callable[[P], str | None], base: str | None = None) -> Callable[[P, str], str | None]:
    """Next-link paging: the next cursor is the page's ``next`` link (made absolute against the
    URL of the page, or ``base``); the read ends when the page has none."""

    def rule(page: P, url: str) -> str | None:
        found = link(page)
        return urljoin(base or url, found) if found else None

    return rule


def token_rule(token: Callable[[P], str | None]) -> Callable[[P, str | None], str | None]:
    """Resumption-token paging: the next cursor is the page's token; none (or empty) ends the read."""

    def rule(page: P, current: str | None) -> str | None:
        return token(page) or None

    return rule


def fetch_many(keys: Sequence[str], fetch: Callable[[str], T], concurrency: int = 4) -> list[T | LinkedDataError]:
    """``fetch`` each key with at most ``concurrency`` threads; results (or the library
    errors they raised) in input order, so one failure never costs the others."""

    def one(key: str) -> T | LinkedDataError:
        try:
            return fetch(key)
        except LinkedDataError as exc:
            return exc

    if concurrency <= 1 or len(keys) <= 1:
        return [one(k) for k in keys]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="linkeddata-fetch") as pool:
        return list(pool.map(one, keys))
