"""The emulated Libris XL REST server (``https://libris.kb.se``).

One :class:`~linkeddata.emulator.server.Service` composed of route modules, each
optional: ``libris_write`` (create/update/delete, ``/_findhold`` …), ``libris_find``
(``/find``) and ``libris_read`` (``GET /<id>`` and ``/context.jsonld``). Each module
defines ``add_routes(service, emu)``. They are added in :data:`LIBRIS_ROUTE_MODULES`
order because the read module's ``/<id>`` catch-all must come last.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from .server import Service

log = logging.getLogger(__name__)

#: Route modules under ``linkeddata.emulator``, in the order their routes are tried.
LIBRIS_ROUTE_MODULES: tuple[str, ...] = ("libris_write", "libris_find", "libris_read")


def build(emu: Any) -> Service:
    """The libris service over ``emu.corpus``, with every route module that is installed."""
    service = Service("libris")
    for name in LIBRIS_ROUTE_MODULES:
        qualified = f"{__package__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise
            log.debug("libris emulator: no %s module, skipping its routes", name)
            continue
        module.add_routes(service, emu)
    return service
