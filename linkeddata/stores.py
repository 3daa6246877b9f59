"""Open any store: a folder, memory or a SPARQL server, as a :class:`~linkeddata.store_protocol.Store`.

:func:`open_store` is the one way in. It returns a
:class:`~linkeddata.store.LocalStore` for a path (or ``None``: in memory) and a
:class:`~linkeddata.remote.RemoteStore` for an ``http(s)://`` URL; a store passes through
unchanged, so functions that take "a store or where to find one" call it once.

>>> open_store("http://127.0.0.1:7878")
<RemoteStore http://127.0.0.1:7878>
>>> open_store(None)
<LocalStore memory>
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .remote import RemoteStore, is_url
from .store import open_local_store
from .store_protocol import Store

__all__ = ["StoreLike", "open_store"]

#: What :func:`open_store` accepts: a store, a path, a server URL or ``None`` (memory).
StoreLike = Store | str | Path | None


def open_store(store: StoreLike = None, read_only: bool = False, **remote_options: Any) -> Store:
    """The store at ``store``: a folder (created if needed), a server URL, ``None`` for memory.

    ``remote_options`` go to :class:`~linkeddata.remote.RemoteStore` (endpoints, session,
    auth…) and are refused for a local store. One writer per folder per process: opening
    a folder again returns the same store (see :func:`linkeddata.store.open_local_store`).
    """
    if isinstance(store, Store):
        return store
    if is_url(store):
        url = str(store)
        if not urlsplit(url).netloc:
            raise ConfigError(f"not a SPARQL server URL: {url!r}")
        return RemoteStore(url, read_only=read_only, **remote_options)
    if remote_options:
        raise ConfigError(f"options for a SPARQL server given for a local store: {', '.join(sorted(remote_options))}")
    return open_local_store(store, read_only=read_only)
