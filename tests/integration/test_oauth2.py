"""OAuth2 client credentials for the API sources, against a real token endpoint on loopback
that issues short-lived tokens and an API that takes only a token still valid: renewed ahead
of expiry with no request refused, a revoked token replaced once, the providers' own errors
named (``invalid_client``, Microsoft's ``AADSTS7000215``) with no secret in them, and an
endpoint that is down and back."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest

from notifier.core.errors import SourceError
from notifier.oauth2 import ClientCredentials, TokenError, TokenRequest
from notifier.sources.api.client import ApiAuth, ApiClient
from tests.api_server import Answer, ApiServer, ApiServerFactory, Asked

SECRET = "cs-5ecret-9f2"
LIFETIME = 20  # seconds a token is valid


class Provider:
    """A token endpoint and the API it guards, sharing one (fake) clock."""

    def __init__(self, api_server: ApiServerFactory, *, error: dict[str, object] | None = None):
        self.now = 0.0
        self.valid: dict[str, float] = {}  # token -> expiry
        self.numbers = itertools.count(1)
        self.error = error
        self.refused = 0
        self.token_endpoint: ApiServer = api_server(self.issue)
        self.api: ApiServer = api_server(self.answer)

    def issue(self, asked: Asked) -> Answer:
        form = asked.form()
        secret = form.get("client_secret")
        if "authorization" in asked.headers:
            _, _, pair = (
                base64.b64decode(asked.headers["authorization"][6:]).decode().partition(":")
            )
            secret = pair
        if (
            self.error is not None
            or secret != SECRET
            or form.get("grant_type") != "client_credentials"
        ):
            return Answer(
                400 if self.error is None else 401, self.error or {"error": "invalid_client"}
            )
        token = f"tok-{next(self.numbers)}"
        self.valid[token] = self.now + LIFETIME
        return Answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": LIFETIME})

    def answer(self, asked: Asked) -> Answer:
        token = asked.headers.get("authorization", "").removeprefix("Bearer ")
        if self.valid.get(token, -1.0) <= self.now:
            self.refused += 1
            return Answer(401, {"error": "invalid_token"})
        return Answer(200, {"ok": True})

    def client(
        self, *, client_auth: str = "post", secret: str = SECRET
    ) -> tuple[ApiClient, ClientCredentials]:
        tokens = ClientCredentials(
            TokenRequest(f"{self.token_endpoint.url}/oauth_token.do", "notifier", secret,
                         scope="useraccount", client_auth=client_auth),  # type: ignore[arg-type]
            timeout=5, margin=5, clock=lambda: self.now,
        )  # fmt: skip
        return ApiClient(
            "ServiceNow", self.api.url, ApiAuth("oauth2", tokens=tokens), timeout=5
        ), tokens


@pytest.mark.parametrize("client_auth", ["post", "basic"])
def test_tokens_are_renewed_ahead_of_expiry_and_no_request_is_refused(
    api_server: ApiServerFactory, client_auth: str
) -> None:
    provider = Provider(api_server)
    client, tokens = provider.client(client_auth=client_auth)
    for _ in range(200):  # 200 requests a second apart: tokens of 20 s
        assert client.get("/api/now/table/incident") == {"ok": True}
        provider.now += 1.0
    assert provider.refused == 0
    assert tokens.renewals >= 10
    asked = [a for a in provider.token_endpoint.asked]
    assert all(a.form().get("scope") == "useraccount" for a in asked)
    if client_auth == "basic":
        assert all("client_secret" not in a.form() for a in asked)
    client.close()


def test_a_revoked_token_is_replaced_once_and_the_request_goes_through(
    api_server: ApiServerFactory,
) -> None:
    provider = Provider(api_server)
    client, tokens = provider.client()
    assert client.get("/x") == {"ok": True}
    provider.valid.clear()  # revoked at the provider
    assert client.get("/x") == {"ok": True}
    assert (provider.refused, tokens.renewals) == (1, 2)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (None, "400: invalid_client"),
        (
            {"error": "invalid_client",
             "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the "
             "secret being sent in the request is the client secret value, not the client "
             "secret ID.\r\nTrace ID: 1f0c Correlation ID: 77a1 Timestamp: 2026-12-03 10:00:00Z",
             "error_codes": [7000215], "timestamp": "2026-12-03 10:00:00Z"},
            "401: invalid_client: AADSTS7000215: Invalid client secret provided.",
        ),
    ],
    ids=["generic", "microsoft"],
)  # fmt: skip
def test_a_refused_client_is_named_with_the_providers_words_and_no_secret(
    api_server: ApiServerFactory, error: dict[str, object] | None, said: str
) -> None:
    provider = Provider(api_server, error=error)
    client, _ = provider.client(secret="wrong-secret-77")
    with pytest.raises(SourceError) as caught:
        client.get("/api/now/table/incident")
    message = str(caught.value)
    assert "ServiceNow API GET /api/now/table/incident: no OAuth2 token: token endpoint" in message
    assert said in message
    assert "wrong-secret-77" not in message and SECRET not in message
    assert provider.api.asked == []  # nothing was sent without a token


def test_a_token_endpoint_that_is_down_is_a_source_error_until_it_is_back(
    api_server: ApiServerFactory,
) -> None:
    provider = Provider(api_server)
    client, _ = provider.client()
    provider.token_endpoint.close()
    with pytest.raises(
        SourceError, match=r"no OAuth2 token: token endpoint 127\.0\.0\.1:\d+: ConnectError"
    ):
        client.get("/x")
    provider.token_endpoint = api_server(provider.issue, port=provider.token_endpoint.port)
    assert client.get("/x") == {"ok": True}


def test_a_certificate_credential_signs_each_token_request(api_server: ApiServerFactory) -> None:
    """Microsoft's certificate credentials: no secret travels; each request carries a JWT
    signed by the certificate's key and naming it by thumbprint, which the endpoint checks;
    a certificate it does not know is refused with Microsoft's words."""
    import time
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from notifier.oauth2 import ClientCertificate
    from tests.oauth2_server import TokenAuthority

    def certificate() -> tuple[str, x509.Certificate]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "notifier")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
        return pem, cert

    authority = TokenAuthority(api_server, time.monotonic, users=("robot",))
    pem, cert = certificate()
    authority.certificate = cert
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    request = TokenRequest(authority.token_url, authority.client[0], "", scope="x",
                           certificate=ClientCertificate(pem, cert_pem))  # fmt: skip
    tokens = ClientCredentials(request, timeout=5)
    assert tokens.token() in authority.issued
    form = authority.server.asked[-1].form()
    assert "client_secret" not in form and form["client_assertion_type"].endswith("jwt-bearer")

    other_pem, other = certificate()  # a certificate the app registration does not hold
    stranger = ClientCredentials(
        TokenRequest(authority.token_url, authority.client[0], "", scope="x",
                     certificate=ClientCertificate(other_pem, other.public_bytes(
                         serialization.Encoding.PEM).decode())),
        timeout=5,
    )  # fmt: skip
    with pytest.raises(TokenError, match="401: invalid_client: AADSTS700027"):
        stranger.token()


def test_a_reload_keeps_the_token_provider_the_sources_share(
    tmp_path: Path, api_server: ApiServerFactory
) -> None:
    """A reload builds the sources again and closes the old ones; the provider of one client
    is shared (bootstrap keeps one per client), so closing an old source must not close it."""
    import time

    from notifier.runtime.bootstrap import build_api_source
    from notifier.runtime.config import ApiSettings
    from notifier.store.sqlite.outbox import Outbox
    from tests.oauth2_server import TokenAuthority

    authority = TokenAuthority(api_server, time.monotonic, users=("robot",))

    def table(asked: Asked) -> Answer:
        token = asked.headers.get("authorization", "").removeprefix("Bearer ")
        ok = authority.valid("robot", token)
        return Answer(200 if ok else 401, {"result": []} if ok else {"error": "no"})

    api = api_server(table)
    (tmp_path / "secret").write_text(authority.client[1])
    settings = ApiSettings.model_validate({
        "name": "sn", "product": "servicenow", "url": api.url,
        "oauth2": {"token_url": authority.token_url, "client_id": authority.client[0],
                   "client_secret_file": str(tmp_path / "secret")},
    })  # fmt: skip
    outbox = Outbox.open(tmp_path / "state")
    try:
        old = build_api_source(settings, outbox)
        assert "no incident is visible" in old.check()
        old.close()  # the reload closes the old source
        new = build_api_source(settings, outbox)
        assert "no incident is visible" in new.check()  # the same token, still good
        authority.revoke()  # the next request needs a new one, from the shared provider
        assert "no incident is visible" in new.check()
        new.close()
    finally:
        outbox.close()
    assert len(authority.issued) == 2
