"""OAuth2 access tokens for the adapters that log in with a bearer token (API sources, IMAP
and SMTP): :class:`ClientCredentials` by the client-credentials grant (RFC 6749 section 4.4),
renewed ahead of their expiry, and :class:`TokenFile` for a token another tool keeps fresh.

:class:`ClientCredentials` asks the token endpoint for a token when it has none or when the one
it has ends within ``margin`` (less a random part of it, so that instances sharing a client do
not all ask in the same second), and again after :meth:`ClientCredentials.refused` (the server
answered 401 with a token that had not yet expired: revoked, or clocks apart). The token is
kept in memory only: it lives minutes, and a file would be one more secret on disk for the
seconds a restart saves. A refusal is a :class:`TokenError` naming the endpoint's host and the
provider's error code and description (``invalid_client``, ``AADSTS7000215: Invalid client
secret provided``), never the secret or a token.
"""

from __future__ import annotations

import base64
import json
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote_plus, urlsplit

import httpx

MAX_TOKEN_ANSWER = 64 * 1024
DEFAULT_LIFETIME = 300.0  # seconds, when the answer has no expires_in


class TokenError(Exception):
    """The token endpoint could not be reached, or refused; the message says which and why."""


class TokenSource(Protocol):
    """Where a login's bearer token comes from."""

    where: str  # names the source in messages ("token endpoint login.microsoftonline.com")

    def token(self) -> str:
        """A token to log in with now; TokenError when none can be had."""
        ...

    def refused(self, token: str) -> None:
        """The server refused ``token``: the next :meth:`token` should be another one."""
        ...


class TokenFile:
    """A token another tool keeps fresh in a file: read again at every login, since the copy
    read at start is the one that expires."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"token file {path}"

    def token(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"{self.where}: cannot be read: {type(exc).__name__}") from exc
        if not text:
            raise TokenError(f"{self.where}: empty")
        return text

    def refused(self, token: str) -> None:
        """Nothing to renew here: the tool that writes the file does."""


MICROSOFT_MAIL_SCOPE = "https://outlook.office365.com/.default"


def microsoft_token_url(tenant: str) -> str:
    """The Microsoft identity platform's v2.0 token endpoint of a tenant (its id, or a domain
    such as ``contoso.onmicrosoft.com``)."""
    return f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"


@dataclass(frozen=True)
class TokenRequest:
    token_url: str
    client_id: str
    client_secret: str
    scope: str = ""
    # "post": client_id and client_secret in the form (Microsoft, ServiceNow); "basic": in an
    # Authorization header (RFC 6749's default).
    client_auth: Literal["post", "basic"] = "post"


class ClientCredentials:
    def __init__(
        self,
        request: TokenRequest,
        *,
        timeout: float = 30.0,
        ca_file: Path | None = None,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._request = request
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0
        self.renewals = 0
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
            follow_redirects=False,
            transport=transport,
        )
        self.where = f"token endpoint {urlsplit(request.token_url).netloc or request.token_url}"

    def token(self) -> str:
        """A token valid for at least the margin (one request at a time renews it)."""
        with self._lock:
            if not self._token or self._clock() >= self._renew_at:
                self._fetch()
            return self._token

    def refused(self, token: str) -> None:
        """The server refused ``token``: the next :meth:`token` asks for a new one (unless
        another thread already did)."""
        with self._lock:
            if token == self._token:
                self._token = ""

    def close(self) -> None:
        self._http.close()

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials"}
        if self._request.scope:
            form["scope"] = self._request.scope
        headers = {"Accept": "application/json"}
        if self._request.client_auth == "basic":
            # RFC 6749 2.3.1: each part form-encoded, then joined and base64-encoded.
            pair = (
                f"{quote_plus(self._request.client_id)}:{quote_plus(self._request.client_secret)}"
            )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {
                "client_id": self._request.client_id,
                "client_secret": self._request.client_secret,
            }
        asked = self._clock()
        try:
            with self._http.stream(
                "POST", self._request.token_url, data=form, headers=headers
            ) as answer:
                body = _capped(answer)
        except httpx.HTTPError as exc:
            raise TokenError(f"{self.where}: {type(exc).__name__}: {exc}") from exc
        try:
            found = json.loads(body) if body is not None else {}
        except ValueError:
            found = {}
        if not isinstance(found, dict):
            found = {}
        if answer.status_code != 200 or not found.get("access_token"):
            raise TokenError(f"{self.where}: {_refusal(answer.status_code, found, body or b'')}")
        lifetime = _lifetime(found.get("expires_in"))
        early = min(self._margin, lifetime / 2)
        self._token = str(found["access_token"])
        self._renew_at = asked + lifetime - early * (1 - random.random() / 4)
        self.renewals += 1


def _capped(answer: httpx.Response) -> bytes | None:
    """The answer's body, or None when it is over the cap (no token answer is that long)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_bytes():
        size += len(chunk)
        if size > MAX_TOKEN_ANSWER:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _lifetime(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        return DEFAULT_LIFETIME
    return seconds if seconds > 0 else DEFAULT_LIFETIME


def _refusal(status: int, found: dict[str, object], body: bytes) -> str:
    """The provider's own words: its error code and description (Microsoft puts its AADSTS
    code first in the description), or the HTTP status."""
    code = str(found.get("error") or "")
    said = " ".join(str(found.get("error_description") or "").split())[:300]
    if code:
        return f"{status}: {code}" + (f": {said}" if said else "")
    if found and not found.get("access_token"):
        return f"{status}: the answer has no access_token"
    text = " ".join(body.decode("utf-8", "replace").split())[:120]
    return f"{status}: {text or 'no answer'}"
