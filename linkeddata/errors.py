"""The one exception tree of linkeddata.

Every error the library raises on purpose derives from :class:`LinkedDataError`,
so a caller (and the CLI) can catch one type and print one line::

    LinkedDataError
    ├── ConfigError                 bad option, env var or config file
    ├── InvalidInputError           bad user input (ids, ISILs, parameters, files)
    │   ├── InvalidISILError
    │   └── ParseError              a document that cannot be parsed (names the source)
    ├── HTTPError                   a request failed (names the URL)
    │   ├── NotFoundError           404
    │   ├── GoneError               410: the record was deleted
    │   ├── NegotiationError        HTML or an unexpected media type came back
    │   ├── AuthError               401/403: missing or insufficient credentials
    │   ├── ConflictError           409/412: someone else changed the record
    │   └── ServiceUnavailableError 429/5xx after the retries ran out, or a timeout
    │       └── RepeatedPageError   a paged service sent the same page again
    ├── PageLimitError              a paged read reached max_pages or max_seconds
    ├── OAIError                    an OAI-PMH error code (``code`` attribute)
    ├── JsonLdError                 expansion, compaction or framing failed
    ├── StoreError                  the triple store refused an operation
    │   └── StoreLockedError        another process holds the store
    └── QueryError                  a SPARQL query is malformed or unknown

>>> from linkeddata.errors import NotFoundError, LinkedDataError
>>> issubclass(NotFoundError, LinkedDataError)
True
"""

from __future__ import annotations


class LinkedDataError(Exception):
    """Base class of every error raised by linkeddata."""


class ConfigError(LinkedDataError):
    """A setting (option, environment variable or config file) is invalid."""


class InvalidInputError(LinkedDataError):
    """User input is malformed: an id, an ISIL, a parameter, a file."""


class InvalidISILError(InvalidInputError):
    """An ISIL breaks the ISO 15511 rules."""


class ParseError(InvalidInputError):
    """A document could not be parsed; the message names its source."""


class HTTPError(LinkedDataError):
    """A request failed. ``url`` and ``status`` tell which and how."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class NotFoundError(HTTPError):
    """The service answered 404."""


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
