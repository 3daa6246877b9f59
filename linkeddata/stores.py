"""Open any store: a folder, memory or a SPARQL server, as a :class:`~linkeddata.store_protocol.Store`.

:func:`open_store` is the one way in. It returns a
:class:`~linkeddata.store.LocalStore` for a path (or ``None``: in memory) and a
:class:`~linkeddata.remote.RemoteStore` for an ``http(s)://`` URL; a store passes through
unchanged, so functions that take "a store or where to find one" call it once. Text of
another ``scheme://`` is an error, not a folder named after it (:func:`store_location`).

>>> open_store("http://127.0.0.1:7878")
<RemoteStore http://127.0.0.1:7878>
>>> open_store(None)
<LocalStore memory>
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .remote import RemoteStore, is_url
from .store import open_local_store
from .store_protocol import Store

__all__ = ["StoreLike", "open_store", "store_location"]

#: What :func:`open_store` accepts: a store, a path, a server URL or ``None`` (memory).
StoreLike = Store | str | Path | None

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_EXPECTED = "expected a directory path or an http(s):// SPARQL endpoint URL"


def store_location(value: str | Path) -> str | Path:
    """What a store argument names: a server URL (kept as text) or a folder (a :class:`~pathlib.Path`).

    Another ``scheme://`` and a folder under a file are errors (before anything is created).

    >>> store_location("HTTP://127.0.0.1:7878")
    'HTTP://127.0.0.1:7878'
    >>> store_location("ftp://x")
    Traceback (most recent call last):
    ...
    linkeddata.errors.ConfigError: store 'ftp://x': ftp:// is not supported; expected a directory path or an http(s):// SPARQL endpoint URL
    """
    if is_url(value):
        return value
    if isinstance(value, str):
        scheme = _SCHEME.match(value)
        if scheme:
            raise ConfigError(f"store {value!r}: {scheme[1]}:// is not supported; {_EXPECTED}")
    path = Path(value)
    for parent in path.expanduser().parents:  # a file on the way: say so before anything is made
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"store {path}: its parent {parent} is not a directory")
            break
    return path


def open_store(store: StoreLike = None, read_only: bool = False, **remote_options: Any) -> Store:
    """The store at ``store``: a folder (created if needed), a server URL, ``None`` for memory.

    ``remote_options`` go to :class:`~linkeddata.remote.RemoteStore` (endpoints, session,
    auth…) and are refused for a local store. One writer per folder per process: opening
    a folder again returns the same store (see :func:`linkeddata.store.open_local_store`).
    """
    if isinstance(store, Store):
        return store
    if store is not None:
        store = store_location(store)
    if is_url(store):
        url = str(store)
        if not urlsplit(url).netloc:
            raise ConfigError(f"not a SPARQL server URL: {url!r}")
        return RemoteStore(url, read_only=read_only, **remote_options)
    if remote_options:
        raise ConfigError(f"options for a SPARQL server given for a local store: {', '.join(sorted(remote_options))}")
    return open_local_store(store, read_only=read_only)
