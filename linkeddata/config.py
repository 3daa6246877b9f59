"""Service base URLs and other settings.

Every service has a canonical base (the one that appears in data) and a configured
base (where requests go). The configured base comes from an explicit argument,
else the ``LINKEDDATA_<SERVICE>_URL`` environment variable, else the canonical one.

>>> service_url("libris", env={})
'https://libris.kb.se'
>>> service_url("libris", env={"LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:8080/"})
'http://127.0.0.1:8080'
>>> to_request_url("https://libris.kb.se/abc#it", env={"LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:8080"})
'http://127.0.0.1:8080/abc'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError

#: Canonical base URL of every service linkeddata talks to.
SERVICES: dict[str, str] = {
    "libris": "https://libris.kb.se",
    "id": "https://id.kb.se",
    "isil": "https://sigel.staatsbibliothek-berlin.de",
    "bibdb": "https://bibdb.libris.kb.se",
    "login": "https://login.libris.kb.se/oauth/token",
    "oaipmh": "https://libris.kb.se/api/oaipmh",
    "emm": "https://libris.kb.se/api/emm",
    "xsearch": "http://api.libris.kb.se/xsearch",
}

#: Services whose IRIs appear in data, in the order they are tried when rebasing.
_DATA_SERVICES = ("id", "libris")

DEFAULT_STORE = "linkeddata-store"


def env_name(service: str) -> str:
    """The environment variable that overrides a service's base URL."""
    return f"LINKEDDATA_{service.upper()}_URL"


def service_url(service: str, override: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The base URL requests to ``service`` go to, without a trailing slash."""
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    env = os.environ if env is None else env
    url = override or env.get(env_name(service)) or SERVICES[service]
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{env_name(service)} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def to_request_url(iri: str, env: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None) -> str:
    """Map a canonical IRI (``https://libris.kb.se/…``) to the configured base, dropping the fragment."""
    iri = iri.split("#", 1)[0]
    for service in _DATA_SERVICES:
        canonical = SERVICES[service]
        for scheme_variant in (canonical, canonical.replace("https://", "http://", 1)):
            if iri == scheme_variant or iri.startswith(scheme_variant + "/"):
                base = service_url(service, (overrides or {}).get(service), env)
                return base + iri[len(scheme_variant):]
    return iri


def to_canonical_iri(url: str, env: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None) -> str:
    """Inverse of :func:`to_request_url`: map a configured-base URL back to its canonical IRI."""
    for service in _DATA_SERVICES:
        base = service_url(service, (overrides or {}).get(service), env)
        if base != SERVICES[service] and (url == base or url.startswith(base + "/")):
            return SERVICES[service] + url[len(base):]
    return url


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    """``LINKEDDATA_STORE`` or ``./linkeddata-store``."""
    env = os.environ if env is None else env
    return Path(env.get("LINKEDDATA_STORE") or DEFAULT_STORE)
