"""The one exception tree of linkeddata, classified by rule.

Every error the library raises on purpose derives from :class:`LinkedDataError`, so a
caller (and the CLI) can catch one type and print one line. The rule that picks the
class is *whose fault it is*: your input or settings (``ConfigError``,
``InvalidInputError``), the server or the network (``HTTPError`` and below, whatever
the client), or a bound you set (``PageLimitError``). An answer from a server that
cannot be read is always :class:`BadResponseError`, never :class:`ParseError`.

One line per class: what it means — who raises it — exit code of the ``linkeddata``
command (``LinkedDataError.exit_code``; a usage error is click's 2, a run that skipped
records exits 2 after its summary, Ctrl-C 130)::

    LinkedDataError             base class — everything below — 1
    ├── ConfigError             a bad option, environment variable or config file — config, http, auth, build — 1
    │   └── MissingExtraError   an optional package is not installed; names the extra — auth, marc, notebook, serve — 1
    ├── InvalidInputError       bad input you gave: an id, ISIL, parameter, query or file — every client, checked before any request — 1
    │   ├── InvalidISILError    an ISIL breaks ISO 15511 — organisations.isil — 1
    │   └── ParseError          a document you gave cannot be parsed (names it), or one record of an answer (skipped, counted) — readers, store, profiles, pica, oaipmh records — 1
    ├── HTTPError               a request failed; ``url`` and ``status`` — http.request / http.error_for — 1
    │   ├── BadResponseError    the server's answer cannot be read (not JSON/XML, not the documented shape) — every client — 1
    │   ├── NotFoundError       404, or an answer without the asked-for item (status then None) — http.error_for, clients — 1
    │   ├── GoneError           410: the record was deleted — http.error_for — 1
    │   ├── NegotiationError    HTML or a media type / view that was not asked for — libris.read, sources — 1
    │   ├── AuthError           401/403: credentials missing, expired or without the level needed — http.error_for, auth, write — 1
    │   ├── ConflictError       409/412 (someone else changed the record), a duplicate holding, a linked record — write — 1
    │   ├── BodyTooLargeError   a body over its kind's size limit (``http.BodyTooLargeError``) — http — 1
    │   ├── RedirectError       a redirect to a host that is not a configured service (``http.RedirectError``) — http — 1
    │   └── ServiceUnavailableError 429/5xx after the retries, a timeout, a cut connection — http — 1
    │       ├── DeadlineError   the total deadline of one request passed (``http.DeadlineError``) — http — 1
    │       └── RepeatedPageError a paged service sent the same page or cursor again — http.Pager and its clients — 1
    ├── PageLimitError          a paged read reached ``max_pages``/``max_seconds`` before the service ended — http.Pager — 1
    ├── OAIError                an OAI-PMH error code (``code``) — libris.oaipmh — 1
    ├── JsonLdError             expansion, compaction or framing failed — jsonld — 1
    ├── StoreError              the triple store refused an operation — store, remote — 1
    │   ├── StoreLockedError    another process holds the store — store — 1
    │   └── StoreBusyError      a read-only opening raced the writer; retry — store — 1
    └── QueryError              a SPARQL query is malformed or unknown, or its parameters — query — 1

>>> from linkeddata.errors import NotFoundError, LinkedDataError
>>> issubclass(NotFoundError, LinkedDataError), issubclass(BadResponseError, InvalidInputError)
(True, False)
"""

from __future__ import annotations

from typing import TypeVar

_E = TypeVar("_E", bound="LinkedDataError")


class LinkedDataError(Exception):
    """Base class of every error raised by linkeddata."""

    #: The exit code of the ``linkeddata`` command when this error ends it.
    exit_code: int = 1
    #: The same message in the command line's words (its option names), when they differ;
    #: the library's own message names the Python parameters.
    cli_message: str | None = None

    def for_cli(self: _E, message: str) -> _E:
        """Set :attr:`cli_message` and return the error (``raise QueryError(…).for_cli(…)``)."""
        self.cli_message = message
        return self


class ConfigError(LinkedDataError):
    """A setting (option, environment variable or config file) is invalid."""


class MissingExtraError(ConfigError):
    """An optional package is not installed; ``extra`` names the extra of linkeddata that brings it."""

    def __init__(self, message: str, *, extra: str | None = None):
        super().__init__(message)
        self.extra = extra


class InvalidInputError(LinkedDataError):
    """User input is malformed: an id, an ISIL, a parameter, a file."""


def at_least_one(**counts: int) -> None:
    """Raise :class:`InvalidInputError` naming the first count (batch size, concurrency…) below 1.

    >>> at_least_one(batch_size=500, concurrency=0)
    Traceback (most recent call last):
    ...
    linkeddata.errors.InvalidInputError: concurrency must be at least 1, got 0
    """
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name.replace('_', ' ')} must be at least 1, got {value!r}")


class InvalidISILError(InvalidInputError):
    """An ISIL breaks the ISO 15511 rules."""


class ParseError(InvalidInputError):
    """A document you gave (or one record of an answer) could not be parsed; the message names it.

    A whole answer from a server that cannot be read is :class:`BadResponseError` instead.
    """


class HTTPError(LinkedDataError):
    """A request failed. ``url`` and ``status`` tell which and how."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class BadResponseError(HTTPError):
    """The server's answer cannot be read: not JSON or XML, or not the shape the service documents."""


class NotFoundError(HTTPError):
    """The service answered 404, or its answer does not hold the item asked for (``status`` is then None)."""


class GoneError(HTTPError):
    """The service answered 410: the record was deleted."""


class NegotiationError(HTTPError):
    """The response was HTML or not of the media type that was asked for."""


class AuthError(HTTPError):
    """Credentials are missing, expired or lack the permission level needed."""


class ConflictError(HTTPError):
    """The record changed on the server since it was fetched (409/412)."""


class ServiceUnavailableError(HTTPError):
    """The service kept failing (429/5xx/timeouts) after all retries."""


class RepeatedPageError(ServiceUnavailableError):
    """A paged service answered the same page again (it ignores the paging parameters)."""


class PageLimitError(LinkedDataError):
    """A paged read reached its bound (``max_pages`` or ``max_seconds``) before the service said it ended."""


class OAIError(LinkedDataError):
    """An OAI-PMH protocol error; ``code`` is the OAI error code."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"OAI-PMH error {code}: {message}".rstrip(": "))
        self.code = code


class JsonLdError(LinkedDataError):
    """JSON-LD processing (expand, compact, frame, to RDF) failed."""


class StoreError(LinkedDataError):
    """The triple store refused an operation."""


class StoreLockedError(StoreError):
    """Another process has the on-disk store open for writing."""


class StoreBusyError(StoreError):
    """A read-only opening raced the writer of the store (its files changed meanwhile); retry."""


class QueryError(LinkedDataError):
    """A SPARQL query is malformed, unknown, or its parameters are invalid."""
