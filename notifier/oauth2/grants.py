"""The token endpoint's grants every login shares: :class:`ClientCredentials` (RFC 6749
section 4.4), whose renewal the other grants reuse, :class:`TokenFile` for a token another
tool keeps fresh, and :func:`post_form`, one request to a token endpoint with the client's
credentials (a secret in the form or by HTTP basic, or a signed client assertion).

A token is asked for when there is none or when the one held ends within ``margin`` (less a
random part of it, so that instances sharing a client do not all ask in the same second), and
again after :meth:`ClientCredentials.refused` (the server answered 401 with a token that had not
yet expired: revoked, or clocks apart). It is kept in memory only: it lives minutes, and a file
would be one more secret on disk for the seconds a restart saves. A refusal is a
:class:`TokenError` naming the endpoint's host and the provider's error code and description
(``invalid_client``, ``AADSTS7000215: Invalid client secret provided``), never the secret or a
token.
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
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


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


class ClientAssertion(Protocol):
    """A client that proves itself by a signed JWT instead of a secret (signed.py)."""

    def assertion(self, audience: str, client_id: str) -> str: ...


@dataclass(frozen=True)
class TokenRequest:
    token_url: str
    client_id: str
    client_secret: str
    scope: str = ""
    # "post": client_id and client_secret in the form (Microsoft, ServiceNow); "basic": in an
    # Authorization header (RFC 6749's default); "none": the grant proves who asks (a signed
    # JWT).
    client_auth: Literal["post", "basic", "none"] = "post"
    certificate: ClientAssertion | None = None  # instead of client_secret


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
        # For `notifier status`: when a token was last had and until when, the last refusal.
        self.renewed_at: float | None = None  # wall clock (time.time)
        self.valid_until: float | None = None
        self.last_error = ""
        self.last_error_at: float | None = None
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
                try:
                    self._fetch()
                except TokenError as exc:
                    self.last_error, self.last_error_at = str(exc), time.time()
                    raise
            return self._token

    def refused(self, token: str) -> None:
        """The server refused ``token``: the next :meth:`token` asks for a new one (unless
        another thread already did)."""
        with self._lock:
            if token == self._token:
                self._token = ""

    def close(self) -> None:
        self._http.close()

    def _grant(self) -> dict[str, str]:
        """The grant's own form fields."""
        return {"grant_type": "client_credentials", **self._scope()}

    def _scope(self) -> dict[str, str]:
        return {"scope": self._request.scope} if self._request.scope else {}

    def _answered(self, found: dict[str, object]) -> None:
        """What else the token answer carries (a new refresh token), for a grant to keep."""

    def _fetch(self) -> None:
        form = self._grant()
        asked = self._clock()
        status, found, body = post_form(self._http, self._request, form, self.where)
        if status != 200 or not found.get("access_token"):
            raise TokenError(f"{self.where}: {self._refusal(status, found, body)}")
        seconds = lifetime(found.get("expires_in"))
        early = min(self._margin, seconds / 2)
        self._token = str(found["access_token"])
        self._renew_at = asked + seconds - early * (1 - random.random() / 4)
        self.renewals += 1
        self.renewed_at = time.time()
        self.valid_until = self.renewed_at + seconds
        self.last_error = ""
        self._answered(found)

    def _refusal(self, status: int, found: dict[str, object], body: bytes) -> str:
        return provider_words(status, found, body)


def post_form(
    http: httpx.Client,
    request: TokenRequest,
    form: dict[str, str],
    where: str,
    *,
    secret: bool = True,
) -> tuple[int, dict[str, object], bytes]:
    """POST ``form`` to the request's endpoint with the client's credentials (in the form or
    by HTTP basic, RFC 6749 2.3.1; none for a public client, or when ``secret`` is False):
    the status, the JSON object answered ({} when it is not one) and the capped body."""
    form = dict(form)
    headers = {"Accept": "application/json"}
    if request.client_auth == "none":
        pass
    elif secret and request.certificate is not None:
        try:
            assertion = request.certificate.assertion(request.token_url, request.client_id)
        except TokenError as exc:
            raise TokenError(f"{where}: {exc}") from exc
        form |= {"client_id": request.client_id, "client_assertion_type": ASSERTION_TYPE,
                 "client_assertion": assertion}  # fmt: skip
    elif not secret or not request.client_secret:
        form["client_id"] = request.client_id
    elif request.client_auth == "basic":
        # Each part form-encoded, then joined and base64-encoded.
        pair = f"{quote_plus(request.client_id)}:{quote_plus(request.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form |= {"client_id": request.client_id, "client_secret": request.client_secret}
    try:
        with http.stream("POST", request.token_url, data=form, headers=headers) as answer:
            body = _capped(answer)
    except httpx.HTTPError as exc:
        raise TokenError(f"{where}: {type(exc).__name__}: {exc}") from exc
    try:
        found = json.loads(body) if body is not None else {}
    except ValueError:
        found = {}
    return answer.status_code, found if isinstance(found, dict) else {}, body or b""


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


def lifetime(value: object, default: float = DEFAULT_LIFETIME) -> float:
    """Seconds from an answer's ``expires_in`` (or ``interval``), ``default`` when unusable."""
    try:
        seconds = float(str(value))
    except ValueError:
        return default
    return seconds if seconds > 0 else default


def provider_words(status: int, found: dict[str, object], body: bytes) -> str:
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
