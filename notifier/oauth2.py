"""OAuth2 access tokens for the adapters that log in with a bearer token (API sources, IMAP
and SMTP): :class:`ClientCredentials` by the client-credentials grant (RFC 6749 section 4.4),
:class:`RefreshTokens` by a refresh token that :func:`device_login` got once (RFC 8628, for
tenants that allow no app-only access), both renewed ahead of their expiry, and
:class:`TokenFile` for a token another tool keeps fresh.

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
import os
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol
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


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientCertificate:
    """A client that proves itself by a certificate instead of a secret (Microsoft's
    certificate credentials): each token request carries a JWT signed with its private key,
    naming the certificate by its thumbprints (``x5t``, ``x5t#S256``). Source:
    learn.microsoft.com/entra/identity-platform/certificate-credentials."""

    private_key: str  # PEM
    certificate: str  # PEM

    def assertion(self, audience: str, client_id: str) -> str:
        import uuid

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

        try:
            key = serialization.load_pem_private_key(self.private_key.encode(), password=None)
            der = x509.load_pem_x509_certificate(self.certificate.encode()).public_bytes(
                serialization.Encoding.DER
            )
        except (ValueError, TypeError) as exc:
            raise TokenError("the client certificate or its key cannot be read") from exc
        if not isinstance(key, RSAPrivateKey):
            raise TokenError("the client certificate's key is not an RSA key")
        sha1, sha256 = hashes.Hash(hashes.SHA1()), hashes.Hash(hashes.SHA256())  # noqa: S303
        sha1.update(der)
        sha256.update(der)
        header = {"alg": "RS256", "typ": "JWT", "x5t": _b64url(sha1.finalize()),
                  "x5t#S256": _b64url(sha256.finalize())}  # fmt: skip
        now = int(time.time())
        claims = {"aud": audience, "iss": client_id, "sub": client_id,
                  "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}  # fmt: skip
        signed = f"{_b64url(json.dumps(header))}.{_b64url(json.dumps(claims))}"
        return f"{signed}.{_b64url(key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


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
    certificate: ClientCertificate | None = None  # instead of client_secret


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
        lifetime = _lifetime(found.get("expires_in"))
        early = min(self._margin, lifetime / 2)
        self._token = str(found["access_token"])
        self._renew_at = asked + lifetime - early * (1 - random.random() / 4)
        self.renewals += 1
        self.renewed_at = time.time()
        self.valid_until = self.renewed_at + lifetime
        self.last_error = ""
        self._answered(found)

    def _refusal(self, status: int, found: dict[str, object], body: bytes) -> str:
        return _refusal(status, found, body)


class RefreshStore:
    """The refresh token a login got, in a file of mode 0600 in the state directory (it is a
    long-lived secret: nothing else there is readable by others either), replaced atomically
    when the provider rotates it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str:
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return ""
        except (OSError, ValueError) as exc:
            raise TokenError(f"{self.path}: cannot be read ({type(exc).__name__})") from exc
        token = found.get("refresh_token") if isinstance(found, dict) else None
        return token if isinstance(token, str) else ""

    def save(self, refresh_token: str) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"refresh_token": refresh_token, "saved_at": int(time.time())}, out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)


class RefreshTokens(ClientCredentials):
    """Access tokens by the refresh-token grant (RFC 6749 section 6), from the refresh token
    ``notifier oauth login`` stored; a new one the provider hands out replaces it."""

    def __init__(self, request: TokenRequest, store: RefreshStore, *, login: str, **kwargs: Any):
        super().__init__(request, **kwargs)
        self._store = store
        self._login = login  # the command that gets a refresh token again, for messages

    def _grant(self) -> dict[str, str]:
        refresh = self._store.read()
        if not refresh:
            raise TokenError(f"{self.where}: no refresh token yet: run `{self._login}` once")
        return {"grant_type": "refresh_token", "refresh_token": refresh, **self._scope()}

    def _answered(self, found: dict[str, object]) -> None:
        rotated = found.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self._store.save(rotated)

    def _refusal(self, status: int, found: dict[str, object], body: bytes) -> str:
        said = _refusal(status, found, body)
        if found.get("error") == "invalid_grant":  # revoked, expired, or the password changed
            return f"{said}; the stored refresh token no longer works: run `{self._login}`"
        return said


JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class ServiceAccount:
    """A Google service account's key (its JSON key file: ``client_email``, ``private_key``,
    ``private_key_id``, ``token_uri``) and the user it acts for by domain-wide delegation."""

    client_email: str
    private_key: str  # PEM
    private_key_id: str
    token_uri: str
    subject: str  # the mailbox's user

    @classmethod
    def from_json(cls, text: str, subject: str, where: str) -> ServiceAccount:
        try:
            found = json.loads(text)
        except ValueError as exc:
            raise TokenError(f"{where}: not a service account's JSON key") from exc
        if not isinstance(found, dict) or found.get("type") != "service_account":
            raise TokenError(f"{where}: not a service account's JSON key (type is not "
                             "service_account)")  # fmt: skip
        missing = [k for k in ("client_email", "private_key") if not found.get(k)]
        if missing:
            raise TokenError(f"{where}: the key file has no {', '.join(missing)}")
        return cls(
            str(found["client_email"]), str(found["private_key"]),
            str(found.get("private_key_id") or ""),
            str(found.get("token_uri") or "https://oauth2.googleapis.com/token"), subject,
        )  # fmt: skip


class ServiceAccountTokens(ClientCredentials):
    """Google's two-legged OAuth for service accounts: a JWT signed with the account's key
    (RS256), naming the user it acts for (``sub``), exchanged for an access token (RFC 7523).
    Sources: developers.google.com/identity/protocols/oauth2/service-account ("Preparing to
    make an authorized API call": the header, the claim set, the request)."""

    def __init__(self, account: ServiceAccount, scope: str, **kwargs: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        request = TokenRequest(account.token_uri, account.client_email, "", scope, "none")
        super().__init__(request, **kwargs)
        self._account = account
        try:
            key = load_pem_private_key(account.private_key.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise TokenError(f"{self.where}: the service account's private_key cannot be "
                             "read") from exc  # fmt: skip
        if not isinstance(key, RSAPrivateKey):
            raise TokenError(f"{self.where}: the service account's key is not an RSA key")
        self._key = key
        self.where = f"{self.where} (service account {account.client_email} for {account.subject})"

    def _grant(self) -> dict[str, str]:
        # The scope travels inside the signed assertion, not beside it.
        return {"grant_type": JWT_GRANT, "assertion": self._assertion()}

    def _assertion(self) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT"}
        if self._account.private_key_id:
            header["kid"] = self._account.private_key_id
        claims = {
            "iss": self._account.client_email, "sub": self._account.subject,
            "scope": self._request.scope, "aud": self._account.token_uri,
            "iat": now, "exp": now + 3600,
        }  # fmt: skip
        signed = f"{_b64url(json.dumps(header))}.{_b64url(json.dumps(claims))}"
        signature = self._key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64url(signature)}"


def _b64url(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class DeviceLogin:
    """What a device-code login needs: the provider's device authorization endpoint, and the
    token request it ends with (its scope should include ``offline_access`` where the
    provider asks for it, to be given a refresh token)."""

    device_url: str
    request: TokenRequest


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def device_login(
    login: DeviceLogin,
    *,
    show: Callable[[str], None],
    ca_file: Path | None = None,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """The device authorization grant (RFC 8628): ask for a user code, ``show`` the operator
    where to enter it, and poll the token endpoint until they have signed in; the refresh
    token. TokenError when the provider refuses, the operator declines or the code expires."""
    where = f"device login at {urlsplit(login.device_url).netloc or login.device_url}"
    request = login.request
    with httpx.Client(
        timeout=httpx.Timeout(timeout),
        verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
        follow_redirects=False,
        transport=transport,
    ) as http:
        asked = {"client_id": request.client_id, "scope": request.scope}
        status, found, body = post_form(
            http, replace(request, token_url=login.device_url), asked, where, secret=False
        )
        code = found.get("device_code")
        if status != 200 or not isinstance(code, str):
            raise TokenError(f"{where}: {_refusal(status, found, body)}")
        uri = found.get("verification_uri") or found.get("verification_url") or ""
        user_code = found.get("user_code") or ""
        show(str(found.get("message") or f"To sign in, open {uri} and enter the code {user_code}."))
        interval = max(1.0, _lifetime(found.get("interval"), 5.0))
        deadline = clock() + _lifetime(found.get("expires_in"), 900.0)
        while clock() < deadline:
            sleep(interval)
            status, found, body = post_form(
                http, request, {"grant_type": DEVICE_GRANT, "device_code": code}, where
            )
            error = found.get("error")
            if status == 200 and isinstance(found.get("refresh_token"), str):
                return str(found["refresh_token"])
            if status == 200:
                raise TokenError(f"{where}: signed in, but no refresh token was given (is "
                                 "offline_access in the scope?)")  # fmt: skip
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5.0
                continue
            raise TokenError(f"{where}: {_refusal(status, found, body)}")
        raise TokenError(f"{where}: the code expired before anyone signed in")


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


def _lifetime(value: object, default: float = DEFAULT_LIFETIME) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        return default
    return seconds if seconds > 0 else default


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
