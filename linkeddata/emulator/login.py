"""Emulated Libris login service: the OAuth2 token endpoint.

``POST /oauth/token`` with ``grant_type=client_credentials`` and the client id and
secret in the form body (or HTTP Basic) answers, as login.libris.kb.se does::

    {"access_token": "…", "expires_in": 3600, "token_type": "Bearer",
     "scope": "read write", "app_version": "1.5.0"}

Tokens live in a :class:`TokenRegistry` shared through the emulator object, so the
libris service (see :mod:`linkeddata.emulator.libris_write`) can check them. The
lifetime is ``Emulator(token_lifetime=…)`` seconds (default 3600; tests use 1–2 s).

Registered test clients (override with ``Emulator(oauth_clients=[OAuthClient(...), ...])``):

======================  ======================  =====  ==========================
client_id               client_secret           level  sigels
======================  ======================  =====  ==========================
``test-holdings``       ``holdings-secret``     1      ``Umu``, ``Sthm``
``test-cataloguer``     ``cataloguer-secret``   2      ``S``, ``Umu``, ``Sthm``, ``Uu``, ``G``, ``L``, ``Lkp``
======================  ======================  =====  ==========================

Level 1 may create, update and delete holdings of its sigels; level 2 also
bibliographic and authority records.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .server import Request, Response, Service


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth2 client of the emulator."""

    client_id: str
    client_secret: str = field(repr=False)
    level: int = 1
    sigels: tuple[str, ...] = ()


DEFAULT_CLIENTS: tuple[OAuthClient, ...] = (
    OAuthClient("test-holdings", "holdings-secret", 1, ("Umu", "Sthm")),
    OAuthClient("test-cataloguer", "cataloguer-secret", 2, ("S", "Umu", "Sthm", "Uu", "G", "L", "Lkp")),
)


@dataclass
class IssuedToken:
    client: OAuthClient
    expires_at: float


class TokenRegistry:
    """Clients and the tokens issued to them; thread-safe."""

    def __init__(self, clients: tuple[OAuthClient, ...] | list[OAuthClient], lifetime: float = 3600):
        self.clients = {c.client_id: c for c in clients}
        self.lifetime = lifetime
        self.tokens: dict[str, IssuedToken] = {}
        self.issued = 0
        self._lock = threading.Lock()

    def authenticate(self, client_id: str | None, client_secret: str | None) -> OAuthClient | None:
        client = self.clients.get(client_id or "")
        if client is None or not secrets.compare_digest(client.client_secret, client_secret or ""):
            return None
        return client

    def issue(self, client: OAuthClient | str, lifetime: float | None = None) -> tuple[str, float]:
        """A new token for ``client``; returns ``(token, lifetime)``."""
        if isinstance(client, str):
            client = self.clients[client]
        lifetime = self.lifetime if lifetime is None else lifetime
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = IssuedToken(client, time.time() + lifetime)
            self.issued += 1
        return token, lifetime

    def check(self, authorization: str | None) -> tuple[OAuthClient | None, str | None]:
        """``(client, None)`` for a valid ``Bearer`` header, else ``(None, error message)``."""
        if not authorization:
            return None, "No access token (Authorization header) in request"
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, "Bad access token."
        with self._lock:
            issued = self.tokens.get(token.strip())
        if issued is None:
            return None, "Bad access token."
        if time.time() >= issued.expires_at:
            return None, "Access token has expired"
        return issued.client, None


def registry(emu: Any) -> TokenRegistry:
    """The emulator's token registry (created on first use)."""
    reg = getattr(emu, "_oauth_registry", None)
    if reg is None:
        options = getattr(emu, "options", {}) or {}
        reg = TokenRegistry(tuple(options.get("oauth_clients") or DEFAULT_CLIENTS),
                            float(options.get("token_lifetime", 3600)))
        emu._oauth_registry = reg
    return reg


def _form(req: Request) -> dict[str, str]:
    fields = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    for k, v in req.query.items():
        fields.setdefault(k, v[0])
    return fields


def build(emu: Any) -> Service:
    service = Service("login")
    reg = registry(emu)

    def token(req: Request) -> Response:
        form = _form(req)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = req.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return Response.json({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type"}, status=400)
        client = reg.authenticate(client_id, client_secret)
        if client is None:
            return Response.json({"error": "invalid_client", "error_description": "Invalid client credentials"},
                                 status=401)
        access, lifetime = reg.issue(client)
        expires_in: float | int = int(lifetime) if float(lifetime).is_integer() else lifetime
        return Response.json({"access_token": access, "expires_in": expires_in, "token_type": "Bearer",
                              "scope": "read write", "app_version": "1.5.0"}, Cache_Control="no-store")

    service.add("POST", r"/oauth/token/?")(token)
    return service
