"""Service base URLs, the IRI rules of the data, and other settings.

Every service has a canonical base (the one that appears in data) and a configured
base (where requests go). The configured base comes from an explicit argument,
else the ``LINKEDDATA_<SERVICE>_URL`` environment variable (set but empty is an error,
not the default), else, for the services
on the Libris host (OAI-PMH, the EMM change feed), the configured Libris base plus
their path, else the canonical one. ``linkeddata config`` prints them all.

The IRIs stored data uses are built here and nowhere else: :func:`library_iri` (a
Libris library), :data:`KBV_PROFILE` (the KBV system context),
:data:`LIBRARY_BASE`; they always use the canonical bases.

>>> service_url("libris", env={})
'https://libris.kb.se'
>>> service_url("libris", env={"LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:8080/"})
'http://127.0.0.1:8080'
>>> to_request_url("https://libris.kb.se/abc#it", env={"LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:8080"})
'http://127.0.0.1:8080/abc'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

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

#: Services on the Libris host: unless their own variable is set, their base is the
#: configured Libris base plus this path.
DERIVED: dict[str, str] = {"oaipmh": "/api/oaipmh", "emm": "/api/emm"}

#: Services whose IRIs appear in data, in the order they are tried when rebasing.
_DATA_SERVICES = ("id", "libris")

DEFAULT_STORE = "linkeddata-store"

#: Canonical base of Libris's library IRIs (``heldBy`` of holdings, bibdb's organisations).
LIBRARY_BASE = SERVICES["libris"] + "/library/"
#: The KBV system context: the profile of data as Libris stores it (no mapping).
KBV_PROFILE = SERVICES["id"] + "/sys/context/kbv"


def library_iri(sigel_or_iri: str) -> str:
    """Libris's IRI of a library: :data:`LIBRARY_BASE` plus the sigel, whitespace removed
    and URL-encoded; an ``http(s)://`` IRI passes through unchanged.

    >>> library_iri(" Hig ")
    'https://libris.kb.se/library/Hig'
    >>> library_iri("https://libris.kb.se/library/Umu")
    'https://libris.kb.se/library/Umu'
    """
    if sigel_or_iri.startswith(("http://", "https://")):
        return sigel_or_iri
    return LIBRARY_BASE + quote(re.sub(r"\s+", "", sigel_or_iri), safe="")


def env_name(service: str) -> str:
    """The environment variable that overrides a service's base URL."""
    return f"LINKEDDATA_{service.upper()}_URL"


def service_url(service: str, override: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The base URL requests to ``service`` go to, without a trailing slash.

    >>> service_url("oaipmh", env={"LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:8080"})
    'http://127.0.0.1:8080/api/oaipmh'
    """
    return service_source(service, override, env)[0]


def service_source(service: str, override: str | None = None,
                   env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(base URL, where it came from)``: ``option``, ``env LINKEDDATA_<SERVICE>_URL``,
    ``derived from LINKEDDATA_LIBRIS_URL`` or ``default``.

    >>> service_source("emm", env={})
    ('https://libris.kb.se/api/emm', 'default')
    """
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    env = os.environ if env is None else env
    name = env_name(service)
    if override:
        url, source = override, "option"
    elif _env_value(env, name) is not None:
        url, source = env[name], f"env {name}"
    elif service in DERIVED and _env_value(env, env_name("libris")) is not None:
        libris = service_url("libris", None, env)
        url, source = libris + DERIVED[service], f"derived from {env_name('libris')}"
    else:
        url, source = SERVICES[service], "default"
    if not url.startswith(("http://", "https://")):
        what = "the option" if source == "option" else name
        raise ConfigError(f"{what} must be an http(s) URL for {service}, got {url!r}")
    return url.rstrip("/"), source


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, ``None`` when unset; set but empty (or blank) is an error, not the default."""
    value = env.get(name)
    if value is not None and not value.strip():
        raise ConfigError(f"{name} is set but empty: unset it or give an http(s) URL")
    return value


def effective_config(env: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """Every service's effective base URL and its source (what ``linkeddata config`` prints)."""
    return [{"service": service, "base": url, "source": source}
            for service in SERVICES for url, source in [service_source(service, None, env)]]


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
    return canonical_mapper(env, overrides)(url)


def canonical_mapper(env: Mapping[str, str] | None = None,
                     overrides: Mapping[str, str] | None = None) -> Callable[[str], str]:
    """:func:`to_canonical_iri` with the configured bases looked up once, for many IRIs.

    >>> canonical_mapper(env={"LINKEDDATA_LIBRIS_URL": "http://127.0.0.1:8080"})("http://127.0.0.1:8080/x")
    'https://libris.kb.se/x'
    """
    moved = [(base, SERVICES[service]) for service in _DATA_SERVICES
             for base in [service_url(service, (overrides or {}).get(service), env)] if base != SERVICES[service]]

    def canonical(url: str) -> str:
        for base, canonical_base in moved:
            if url == base or url.startswith(base + "/"):
                return canonical_base + url[len(base):]
        return url

    return canonical


def default_store(env: Mapping[str, str] | None = None) -> str:
    """``LINKEDDATA_STORE`` (a folder or a server URL) or ``linkeddata-store``, as given."""
    env = os.environ if env is None else env
    return env.get("LINKEDDATA_STORE") or DEFAULT_STORE
