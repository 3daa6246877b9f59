"""OAuth2 client credentials for the Libris write API.

Libris registers an OAuth2 client (a client id and secret) for an organisation; the
client has a permission level (1: holdings only, 2: bibliographic records and
holdings) and one or more sigels. A bearer token is fetched from the login service
with the ``client_credentials`` grant and sent on every write request.

:func:`make_auth` returns a :class:`LibrisAuth`, a ``requests`` auth object that

* fetches a token through the project's shared session (authlib does the OAuth2
  protocol work; the session's retries, timeout and User-Agent apply),
* renews it shortly *before* ``expires_in`` runs out, and once more when the server
  nevertheless answers 401 "Access token has expired",
* never shows the secret or the token in its repr, in log records or in error
  messages. (The HTTP cache never sees the token either: requests-cache redacts
  ``Authorization`` from stored requests and keys, and POSTs are not cached.)

Credentials come from, in this order: the arguments, the environment variables
``LINKEDDATA_CLIENT_ID`` / ``LINKEDDATA_CLIENT_SECRET``, or a TOML file (default
``<user config dir>/linkeddata/credentials.toml``, or ``LINKEDDATA_CREDENTIALS``) that
only its owner may read::

    client_id = "my-client"
    client_secret = "…"
    sigel = "Abc"                      # optional: the default active sigel
    token_url = "https://login.libris.kb.se/oauth/token"   # optional

Never pass secrets on a command line. The token URL defaults to
``service_url("login")`` (``LINKEDDATA_LOGIN_URL``).

>>> auth = LibrisAuth("my-client", "s3cret", token_url="http://127.0.0.1:9/oauth/token")
>>> "s3cret" in repr(auth)
False
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from requests.auth import AuthBase

from .config import service_url
from .errors import AuthError, ConfigError, MissingExtraError, ServiceUnavailableError
from .http import MAX_RETRY_AFTER, RETRY_STATUSES, BodyTooLargeError, DeadlineError, limits

log = logging.getLogger(__name__)

ENV_CLIENT_ID = "LINKEDDATA_CLIENT_ID"
ENV_CLIENT_SECRET = "LINKEDDATA_CLIENT_SECRET"
ENV_SIGEL = "LINKEDDATA_SIGEL"
ENV_CREDENTIALS = "LINKEDDATA_CREDENTIALS"
#: Never renew earlier than this many seconds before expiry (short tokens renew at 80 %).
MAX_LEEWAY = 60.0
#: Attempts at the token endpoint on 429, 5xx or connection failures.
TOKEN_ATTEMPTS = 3


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the credentials file is looked for (``LINKEDDATA_CREDENTIALS`` or the user config dir)."""
    env = os.environ if env is None else env
    if env.get(ENV_CREDENTIALS):
        return Path(env[ENV_CREDENTIALS])
    from platformdirs import user_config_dir

    return Path(user_config_dir("linkeddata")) / "credentials.toml"


def read_credentials_file(path: str | Path) -> dict[str, str]:
    """Read a credentials TOML file; refuse it unless only its owner can read or write it."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"credentials file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); run: chmod 600 {path}"
        )
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read credentials file {path}: {exc.strerror or type(exc).__name__}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        # the message of a TOML error may quote a line of the file: do not repeat it
        raise ConfigError(f"credentials file {path} is not valid TOML (line/column hidden: it may hold a secret)") from None
    section = data.get("libris", data)
    if not isinstance(section, dict):
        raise ConfigError(f"credentials file {path}: [libris] must be a table")
    return {k: str(v) for k, v in section.items() if isinstance(v, (str, int))}


def load_credentials(
    client_id: str | None = None,
    client_secret: str | None = None,
    env: Mapping[str, str] | None = None,
    path: str | Path | None = None,
) -> dict[str, str]:
    """Resolve ``client_id``, ``client_secret`` and (optional) ``sigel``/``token_url``.

    Arguments win over ``LINKEDDATA_CLIENT_ID``/``LINKEDDATA_CLIENT_SECRET``, which win
    over the credentials file. Raises :class:`ConfigError` when id or secret is missing.
    """
    env = os.environ if env is None else env
    file_values: dict[str, str] = {}
    if not (client_id or env.get(ENV_CLIENT_ID)) or not (client_secret or env.get(ENV_CLIENT_SECRET)):
        file_values = read_credentials_file(path or credentials_path(env))
    creds = {
        "client_id": client_id or env.get(ENV_CLIENT_ID) or file_values.get("client_id", ""),
        "client_secret": client_secret or env.get(ENV_CLIENT_SECRET) or file_values.get("client_secret", ""),
    }
    for key in ("sigel", "token_url"):
        if file_values.get(key):
            creds[key] = file_values[key]
    if not creds["client_id"] or not creds["client_secret"]:
        raise ConfigError(
            f"no Libris OAuth2 credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, "
            f"or write them to {path or credentials_path(env)} (mode 600)"
        )
    return creds


def resolve_sigel(sigel: str | None = None, env: Mapping[str, str] | None = None,
                  path: str | Path | None = None) -> str:
    """The active sigel: the argument, else ``LINKEDDATA_SIGEL``, else ``sigel`` in the credentials file."""
    env = os.environ if env is None else env
    value = sigel or env.get(ENV_SIGEL)
    if not value:
        value = read_credentials_file(path or credentials_path(env)).get("sigel")
    if not value:
        raise ConfigError(f"no active sigel: pass sigel= or set {ENV_SIGEL}").for_cli(
            f"no active sigel: pass --sigel/--library or set {ENV_SIGEL}")
    return value.strip()


def _client_class() -> type:
    try:
        from authlib.integrations.requests_client.oauth2_session import OAuth2Auth, OAuth2ClientAuth
        from authlib.integrations.base_client import OAuthError
        from authlib.oauth2.client import OAuth2Client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("the Libris write API needs authlib: pip install 'linkeddata[oauth]'",
                                extra="oauth") from exc

    class _SharedSessionClient(OAuth2Client):
        """authlib's protocol client, sending through our shared requests session."""

        client_auth_class = OAuth2ClientAuth
        token_auth_class = OAuth2Auth
        oauth_error_class = OAuthError
        SESSION_REQUEST_PARAMS = ("timeout", "allow_redirects")

        def __repr__(self) -> str:
            return f"<OAuth2 client {self.client_id!r}>"

    return _SharedSessionClient


class LibrisAuth(AuthBase):
    """Bearer-token auth for Libris, renewed before it expires. Pass as ``auth=`` to a request.

    :param client_id: the registered client id.
    :param client_secret: its secret (kept private; never logged).
    :param token_url: the token endpoint (``…/oauth/token``).
    :param session: the shared session used to fetch tokens (default :func:`~linkeddata.http.make_session`).
    :param sigel: the default active sigel (``XL-Active-Sigel``), if known.
    """

    def __init__(self, client_id: str, client_secret: str, token_url: str | None = None,
                 session: requests.Session | None = None, sigel: str | None = None):
        self.client_id = client_id
        self.__secret = client_secret
        self.token_url = token_url or service_url("login")
        if session is None:
            from .http import make_session

            session = make_session(purpose="token")
        self.session = session
        self.sigel = sigel
        self._token: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.fetch_count = 0

    def __repr__(self) -> str:
        return f"LibrisAuth(client_id={self.client_id!r}, token_url={self.token_url!r}, secret=***)"

    # -- tokens ----------------------------------------------------------------

    @property
    def expires_at(self) -> float | None:
        """When the current token expires (epoch seconds), or ``None`` before the first fetch."""
        return None if self._token is None else self._token.get("expires_at")

    @property
    def scope(self) -> str | None:
        return None if self._token is None else self._token.get("scope")

    def _leeway(self) -> float:
        lifetime = float((self._token or {}).get("expires_in") or 0)
        return min(MAX_LEEWAY, lifetime * 0.2) if lifetime else 0.0

    def _expired(self) -> bool:
        if self._token is None:
            return True
        expires_at = self._token.get("expires_at")
        if expires_at is None:
            return False
        return time.time() >= float(expires_at) - self._leeway()

    def fetch_token(self) -> dict[str, Any]:
        """Fetch a fresh token now (``client_credentials`` grant); returns it without logging it.

        The token request is a POST, which the session does not retry; asking for a token
        is safe to repeat, so 429, 5xx and connection failures are retried here, up to
        :data:`TOKEN_ATTEMPTS` times, honouring ``Retry-After`` (bounded).
        """
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            try:
                return self._fetch_token_once()
            except ServiceUnavailableError as exc:
                if attempt == TOKEN_ATTEMPTS:
                    raise
                delay = min(getattr(exc, "retry_after", None) or 0.5 * 2 ** (attempt - 1), MAX_RETRY_AFTER)
                log.info("token request failed (%s); trying again in %.1f s", exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch_token_once(self) -> dict[str, Any]:
        cls = _client_class()
        client = cls(self.session, client_id=self.client_id, client_secret=self.__secret,
                     token_endpoint_auth_method="client_secret_post", token_endpoint=self.token_url)
        client.register_compliance_hook("access_token_response", _refuse_redirect)
        try:
            with limits("token"):
                # never follow a redirect: a 307/308 would re-POST the secret wherever Location points
                token = client.fetch_token(self.token_url, grant_type="client_credentials", allow_redirects=False)
        except _TokenRedirect as exc:
            raise AuthError(
                f"token request for client {self.client_id!r} at {self.token_url} was redirected (HTTP {exc.status}) "
                f"to {exc.location or 'nowhere'}; the client secret is sent to the configured token URL only "
                f"(set LINKEDDATA_LOGIN_URL or token_url to the right one)", url=self.token_url, status=exc.status,
            ) from None
        except (DeadlineError, BodyTooLargeError) as exc:
            raise ServiceUnavailableError(f"token request at {self.token_url} failed: {str(exc).split(': ', 1)[-1]}",
                                          url=self.token_url) from None
        except requests.Timeout:
            raise ServiceUnavailableError(f"{self.token_url}: timed out fetching a token", url=self.token_url) from None
        except requests.ConnectionError:
            raise ServiceUnavailableError(f"{self.token_url}: connection failed fetching a token",
                                          url=self.token_url) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in RETRY_STATUSES:
                error = ServiceUnavailableError(f"token request at {self.token_url} failed (HTTP {status})",
                                                url=self.token_url, status=status)
                error.retry_after = _retry_after(exc.response)  # type: ignore[attr-defined]
                raise error from None
            raise self._token_error(status, "") from None
        except Exception as exc:  # authlib OAuthError or a malformed answer
            code = getattr(exc, "error", None) or type(exc).__name__
            raise self._token_error(None, str(code)) from None
        finally:
            client.client_secret = None
        if not token.get("access_token"):
            raise self._token_error(None, "no access_token in the answer")
        # measure expiry from when we asked, in float seconds (authlib rounds to whole seconds)
        if token.get("expires_in"):
            token["expires_at"] = time.time() + float(token["expires_in"])
        self._token = dict(token)
        self.fetch_count += 1
        log.info("fetched a Libris token for client %s (expires in %s s, scope %s)", self.client_id,
                 token.get("expires_in"), token.get("scope"))
        return self._token

    def _token_error(self, status: int | None, detail: str) -> AuthError:
        where = f"HTTP {status}" if status else detail
        message = f"token request for client {self.client_id!r} at {self.token_url} failed ({where})"
        if status in (400, 401, 403) or detail in ("invalid_client", "unauthorized_client", "access_denied"):
            message += "; check LINKEDDATA_CLIENT_ID/LINKEDDATA_CLIENT_SECRET or the credentials file"
        return AuthError(message, url=self.token_url, status=status)

    def ensure_token(self) -> str:
        """Return a valid access token, renewing it first when it is about to expire."""
        with self._lock:
            if self._expired():
                self.fetch_token()
            assert self._token is not None
            return str(self._token["access_token"])

    def invalidate(self) -> None:
        """Forget the current token (the next request fetches a new one)."""
        with self._lock:
            self._token = None

    # -- requests hook ---------------------------------------------------------

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.ensure_token()}"
        r.hooks.setdefault("response", []).append(self._retry_on_expired)  # as register_hook does
        return r

    def _retry_on_expired(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """One retry with a new token when the server says the token expired."""
        if response.status_code != 401 or getattr(response.request, "_ld_retried", False):
            return response
        body = response.text[:500].lower()
        if "expired" not in body:
            return response
        log.info("server said the token expired; fetching a new one and retrying once")
        self.invalidate()
        request = response.request.copy()
        request.headers["Authorization"] = f"Bearer {self.ensure_token()}"
        request._ld_retried = True  # type: ignore[attr-defined]
        response.content  # noqa: B018 - release the connection
        response.close()
        new = response.connection.send(request, **kwargs)
        new.history.append(response)
        new.request = request
        return new


class _TokenRedirect(Exception):
    def __init__(self, status: int, location: str | None):
        super().__init__(status)
        self.status = status
        self.location = location


def _refuse_redirect(response: requests.Response) -> requests.Response:
    """authlib compliance hook: a redirect of the token request is an error, never followed."""
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location")
        response.close()
        raise _TokenRedirect(response.status_code, location[:200] if location else None)
    return response


def make_auth(client_id: str | None = None, client_secret: str | None = None, token_url: str | None = None,
              session: requests.Session | None = None, sigel: str | None = None) -> LibrisAuth:
    """Build a :class:`LibrisAuth` from arguments, environment or the credentials file.

    >>> make_auth("id", "secret", token_url="http://127.0.0.1:9/oauth/token").client_id
    'id'
    """
    creds = load_credentials(client_id, client_secret)
    return LibrisAuth(creds["client_id"], creds["client_secret"],
                      token_url=token_url or creds.get("token_url") or None, session=session,
                      sigel=sigel or os.environ.get(ENV_SIGEL) or creds.get("sigel"))


def _retry_after(response: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or HTTP-date), if any."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
