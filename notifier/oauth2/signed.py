"""Logins that prove themselves by an RS256 JWT signed with a private key (``cryptography``
signs; nothing here hand-writes RSA): :class:`ClientCertificate`, Microsoft's certificate
credentials (a client assertion instead of a secret), and :class:`ServiceAccountTokens`,
Google's service accounts acting for a user by domain-wide delegation (RFC 7523).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from notifier.oauth2.grants import ClientCredentials, TokenError, TokenRequest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey


def rsa_key(pem: str) -> RSAPrivateKey:
    """The RSA private key of a PEM text; TokenError when it is not one."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise TokenError("the private key cannot be read") from exc
    if not isinstance(key, RSAPrivateKey):
        raise TokenError("the private key is not an RSA key")
    return key


def signed_jwt(key: RSAPrivateKey, header: dict[str, str], claims: dict[str, object]) -> str:
    """``header.claims.signature``, signed RS256 (PKCS#1 v1.5, SHA-256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = f"{_b64url(json.dumps({'alg': 'RS256', 'typ': 'JWT', **header}))}."
    signed += _b64url(json.dumps(claims))
    return f"{signed}.{_b64url(key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


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

        try:
            der = x509.load_pem_x509_certificate(self.certificate.encode()).public_bytes(
                serialization.Encoding.DER
            )
        except ValueError as exc:
            raise TokenError("the client certificate cannot be read") from exc
        sha1, sha256 = hashes.Hash(hashes.SHA1()), hashes.Hash(hashes.SHA256())  # noqa: S303
        sha1.update(der)
        sha256.update(der)
        header = {"x5t": _b64url(sha1.finalize()), "x5t#S256": _b64url(sha256.finalize())}
        now = int(time.time())
        claims: dict[str, object] = {
            "aud": audience, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()),
            "nbf": now, "iat": now, "exp": now + 600,
        }  # fmt: skip
        return signed_jwt(rsa_key(self.private_key), header, claims)


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
        request = TokenRequest(account.token_uri, account.client_email, "", scope, "none")
        super().__init__(request, **kwargs)
        self._account = account
        self.where = f"{self.where} (service account {account.client_email} for {account.subject})"
        try:  # read once, at start: a bad key is a configuration error, not a later refusal
            self._key = rsa_key(account.private_key)
        except TokenError as exc:
            raise TokenError(f"{self.where}: the service account's key: {exc}") from exc

    def _grant(self) -> dict[str, str]:
        # The scope travels inside the signed assertion, not beside it.
        return {"grant_type": JWT_GRANT, "assertion": self._assertion()}

    def _assertion(self) -> str:
        now = int(time.time())
        header = {"kid": self._account.private_key_id} if self._account.private_key_id else {}
        claims: dict[str, object] = {
            "iss": self._account.client_email, "sub": self._account.subject,
            "scope": self._request.scope, "aud": self._account.token_uri,
            "iat": now, "exp": now + 3600,
        }  # fmt: skip
        return signed_jwt(self._key, header, claims)


def _b64url(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
