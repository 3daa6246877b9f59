"""The one HTTP session, built in one place and injected everywhere.

:func:`make_session` returns a :class:`requests.Session` with

* an HTTP cache (requests-cache, SQLite in the user cache dir) keyed on the URL
  *and* the ``Accept`` and ``Accept-Profile`` headers, so a Turtle answer is never
  served for a JSON-LD request;
* a per-host rate limit (requests-ratelimiter);
* retries on connection errors, 429 and 5xx that honour ``Retry-After``
  (seconds or HTTP-date), bounded in count and in total wait;
* a default timeout and the ``linkeddata/<version>`` User-Agent.

:func:`request` sends one request through such a session and turns failures into
the :mod:`linkeddata.errors` tree with a one-line message that names the URL.

>>> s = make_session(cache=False)
>>> s.headers["User-Agent"].startswith("linkeddata/")
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .__about__ import __version__
from .errors import (
    AuthError,
    ConflictError,
    GoneError,
    HTTPError,
    NotFoundError,
    ServiceUnavailableError,
)

log = logging.getLogger(__name__)

USER_AGENT = f"linkeddata/{__version__}"
DEFAULT_TIMEOUT = (10.0, 60.0)
#: Longest ``Retry-After`` we are willing to sleep for, in seconds.
MAX_RETRY_AFTER = 120.0
#: Refuse bodies larger than this unless a caller raises the limit.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Times a body that arrives cut short is fetched again (idempotent methods only).
BODY_RETRIES = 2


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
    """A Session with a default timeout on every request."""

    default_timeout: float | tuple[float, float] = DEFAULT_TIMEOUT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def default_cache_path() -> Path:
    """The SQLite file of the HTTP cache, in the user cache dir."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("linkeddata")) / "http-cache.sqlite"


def make_session(
    *,
    cache: bool | str | Path = True,
    expire_after: timedelta | int = timedelta(days=1),
    rate_limit: float | None = 10.0,
    retries: int = 5,
    backoff_factor: float = 0.5,
    max_retry_after: float = MAX_RETRY_AFTER,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> requests.Session:
    """Build the shared session.

    :param cache: ``True`` for the user cache dir, a path for another SQLite file,
        ``False`` for no cache.
    :param rate_limit: requests per second per host, ``None`` for no limit.
    :param retries: retries on connection errors, 429 and 5xx.
    :param max_retry_after: a ``Retry-After`` longer than this fails at once.
    :param max_bytes: a response announcing a larger body is refused before it is read.
    """
    cls = _session_class(bool(cache), rate_limit is not None)
    kwargs: dict[str, Any] = {}
    if cache:
        path = default_cache_path() if cache is True else Path(cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(
            cache_name=str(path),
            backend="sqlite",
            match_headers=["Accept", "Accept-Profile"],
            expire_after=expire_after,
            allowable_codes=(200,),
            allowable_methods=("GET", "HEAD"),
        )
    if rate_limit is not None:
        kwargs.update(per_second=rate_limit, per_host=True, limit_statuses=())
    session = cls(**kwargs)
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
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.hooks["response"].append(size_guard(max_bytes))
    session.default_timeout = timeout  # type: ignore[attr-defined]
    session.max_redirects = 10
    return session


def size_guard(max_bytes: int) -> Callable[..., requests.Response]:
    """A response hook that refuses a body announced larger than ``max_bytes``.

    Hooks run before requests (or the cache) reads the body, so nothing is downloaded.
    """

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            response.close()
            raise HTTPError(f"{response.url}: response of {int(length)} bytes exceeds the {max_bytes} byte limit",
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


def error_for(response: requests.Response, what: str | None = None) -> HTTPError:
    """The :class:`HTTPError` subclass that describes a failed response."""
    status = response.status_code
    url = response.url
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("error") or "")
    except ValueError:
        detail = ""
    if not detail:
        detail = response.reason or ""
    subject = what or url
    if status == 404:
        message = f"not found: {subject}"
    elif status == 410:
        message = f"gone (deleted): {subject}"
    elif status in (429,) or status >= 500:
        message = f"{subject}: HTTP {status} {detail} (after retries)".replace("  ", " ")
        return ServiceUnavailableError(message, url=url, status=status)
    else:
        message = f"{subject}: HTTP {status} {detail}".rstrip()
    return _STATUS_ERRORS.get(status, HTTPError)(message, url=url, status=status)


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    ok: tuple[int, ...] = (200,),
    what: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **kwargs: Any,
) -> requests.Response:
    """Send one request; return the response if its status is in ``ok``.

    Network failures, timeouts, redirect loops and bodies larger than ``max_bytes``
    become :class:`ServiceUnavailableError`/:class:`HTTPError` with a one-line message.
    A body cut short (the connection dropped mid-response) is fetched again, up to
    :data:`BODY_RETRIES` times, for idempotent methods.
    """
    attempts = BODY_RETRIES + 1 if method.upper() in IDEMPOTENT else 1
    for attempt in range(attempts):
        try:
            return _request_once(session, method, url, ok=ok, what=what, max_bytes=max_bytes, **kwargs)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            if attempt == attempts - 1:
                raise ServiceUnavailableError(f"{url}: response cut short ({_reason(exc)})", url=url) from exc
            log.info("%s: response cut short, fetching again", url)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _request_once(session: requests.Session, method: str, url: str, *, ok: tuple[int, ...], what: str | None,
                  max_bytes: int, **kwargs: Any) -> requests.Response:
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
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        response.close()
        raise HTTPError(f"{url}: response of {int(length)} bytes exceeds the {max_bytes} byte limit", url=url)
    if response.status_code not in ok:
        raise error_for(response, what)
    return response


def _reason(exc: Exception) -> str:
    """A short reason: the innermost urllib3 cause without the connection-pool preamble."""
    cause: Any = exc.args[0] if exc.args else exc
    cause = getattr(cause, "reason", None) or cause
    text = str(cause).splitlines()[0] if str(cause) else type(exc).__name__
    if "): " in text:  # "HTTPSConnection(host=…, port=443): Failed to resolve …"
        text = text.rsplit("): ", 1)[1]
    return text[:200]
