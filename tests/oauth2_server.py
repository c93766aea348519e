"""A token introspection endpoint (RFC 7662) on 127.0.0.1, for Dovecot's oauth2 passdb.

Dovecot, configured with ``DovecotServer(oauth2_introspection_url=...)``, POSTs
``token=<bearer token>`` here for every XOAUTH2/OAUTHBEARER login and lets the user in when the
answer says ``"active": true`` for that user. The tokens this endpoint knows are the only ones
that work; it records every token it was asked about, so a test can see that the login really
went through the OAuth check.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class IntrospectionServer:
    """``with IntrospectionServer({"token": "user"}) as server: server.url``."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = dict(tokens)  # active token -> the user it belongs to
        self.asked: list[str] = []  # every token Dovecot asked about, in order
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                token = form.get("token", [""])[0]
                body = json.dumps(owner.introspect(token)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth2-introspection", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/introspect"

    def introspect(self, token: str) -> dict[str, object]:
        with self._lock:
            self.asked.append(token)
        user = self.tokens.get(token)
        return {"active": True, "username": user} if user else {"active": False}

    def __enter__(self) -> IntrospectionServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class TokenAuthority:
    """An OAuth2 authorization server on 127.0.0.1 for the mail logins: a token endpoint
    (``/token``, the client-credentials grant, RFC 6749 4.4) issuing tokens that live
    ``lifetime`` seconds of ``clock``, and an introspection endpoint (``/introspect``, RFC
    7662) for Dovecot's oauth2 passdb; :meth:`valid` is the same check for the SMTP server.

    ``refusal``: answer the token endpoint with this error body (HTTP 401) instead, as a
    provider does for a revoked client; ``revoke()`` ends every token issued so far. A token
    is the app's (client credentials): it opens every mailbox of ``users``; introspection
    names the first, the IMAP user.

    A Google service account too (``service_account``: its email and public key): the
    jwt-bearer grant (RFC 7523) takes an RS256 assertion whose signature, issuer, audience,
    scope and time it checks, and answers as Google does (``invalid_grant: Invalid JWT
    Signature.``, ``unauthorized_client`` for a user not delegated); the token opens only the
    mailbox of its ``sub``.

    A user's sign-in too, as Microsoft answers it: ``/devicecode`` (RFC 8628) gives a user
    code, :meth:`approve` is the user entering it, then the device-code grant at ``/token``
    gives an access token and a refresh token; the refresh-token grant rotates it. A refresh
    token :meth:`revoke` ended is ``invalid_grant`` (AADSTS70000).
    """

    def __init__(
        self,
        api_server: Callable[..., Any],
        clock: Callable[[], float],
        *,
        users: tuple[str, ...],
        client: tuple[str, str] = ("notifier-app", "cl1ent-5ecret-value"),
        lifetime: float = 20.0,
    ) -> None:
        self.clock = clock
        self.users = users
        self.client = client
        self.lifetime = lifetime
        self.refusal: dict[str, object] | None = None
        self.issued: list[str] = []
        self._expiry: dict[str, float] = {}
        self._devices: dict[str, tuple[str, bool]] = {}  # device code -> (user code, approved)
        self.refresh_tokens: set[str] = set()  # the ones that still work
        self.service_account: tuple[str, Any] | None = None  # (client_email, public key)
        self.certificate: Any = None  # a client certificate (cryptography x509) it trusts
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (PKCE challenge, redirect)
        self._owner: dict[str, str] = {}  # token -> the only user it opens (service accounts)
        self._lock = threading.Lock()
        self._start = api_server
        self.server = api_server(self._answer)

    def stop(self) -> None:
        self.server.close()

    def restart(self) -> None:
        """Serve again on the same port, as a provider back from an outage."""
        self.server = self._start(self._answer, port=self.server.port)

    @property
    def token_url(self) -> str:
        return f"{self.server.url}/token"

    @property
    def device_url(self) -> str:
        return f"{self.server.url}/devicecode"

    def authorize(self, challenge: str, redirect_uri: str) -> str:
        """The user signed in at the authorization endpoint: the code it sends back."""
        with self._lock:
            code = f"4/0Ab-code-{len(self._codes) + 1}"
            self._codes[code] = (challenge, redirect_uri)
            return code

    def approve(self, user_code: str) -> None:
        with self._lock:
            for device, (code, _) in list(self._devices.items()):
                if code == user_code:
                    self._devices[device] = (code, True)

    @property
    def introspection_url(self) -> str:
        return f"{self.server.url}/introspect"

    def valid(self, user: str, token: str) -> bool:
        with self._lock:
            owner = self._owner.get(token)
            allowed = user == owner if owner is not None else user in self.users
            return allowed and self._expiry.get(token, -1.0) > self.clock()

    def revoke(self) -> None:
        with self._lock:
            self._expiry.clear()
            self.refresh_tokens.clear()

    def _answer(self, asked: Any) -> Any:
        from tests.api_server import Answer

        form = asked.form()
        if asked.path == "/introspect":
            token = form.get("token", "")
            user = self.users[0]
            return Answer(200, {"active": True, "username": user}
                          if self.valid(user, token) else {"active": False})  # fmt: skip
        if self.refusal is not None:
            return Answer(401, self.refusal)
        if asked.path == "/devicecode":
            with self._lock:
                device, user_code = (
                    f"dc-{len(self._devices) + 1}",
                    f"K{len(self._devices) + 1}X7-QP2M",
                )
                self._devices[device] = (user_code, False)
            return Answer(200, {
                "device_code": device, "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900,
                "interval": 1,
                "message": "To sign in, use a web browser to open the page "
                f"https://microsoft.com/devicelogin and enter the code {user_code} to authenticate.",
            })  # fmt: skip
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_bearer(form.get("assertion", ""))
        if grant == "authorization_code":
            import base64
            import hashlib

            with self._lock:
                challenge, redirect = self._codes.pop(form.get("code", ""), ("", ""))
            verifier = form.get("code_verifier", "").encode()
            made = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if not challenge or made.decode() != challenge or form.get("redirect_uri") != redirect:
                return Answer(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return Answer(200, self._tokens(refresh=True))
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self._lock:
                _, approved = self._devices.get(form.get("device_code", ""), ("", False))
            if not approved:
                return Answer(400, {"error": "authorization_pending",
                                    "error_description": "AADSTS70016: OAuth 2.0 device flow "
                                    "error. Authorization is pending."})  # fmt: skip
            return Answer(200, self._tokens(refresh=True))
        if grant == "refresh_token":
            with self._lock:
                known = form.get("refresh_token", "") in self.refresh_tokens
                self.refresh_tokens.discard(form.get("refresh_token", ""))
            if not known:
                return Answer(400, {"error": "invalid_grant",
                                    "error_description": "AADSTS70000: The provided value for "
                                    "the 'refresh_token' is not valid."})  # fmt: skip
            return Answer(200, self._tokens(refresh=True))
        if form.get("client_assertion"):
            refused = self._client_assertion(form)
            if refused is not None:
                return refused
        elif (form.get("client_id"), form.get("client_secret")) != self.client:
            return Answer(401, {"error": "invalid_client",
                                "error_description": "client authentication failed"})  # fmt: skip
        return Answer(200, self._tokens(refresh=False))

    def _client_assertion(self, form: dict[str, str]) -> Any:
        """Microsoft's certificate credentials: the assertion signed by the certificate's key,
        naming it by thumbprint, for this endpoint and client; None when it is good."""
        import base64
        import json as json_module

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        from tests.api_server import Answer

        def part(text: str) -> bytes:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

        bad = Answer(401, {"error": "invalid_client", "error_description": "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."})  # fmt: skip
        if self.certificate is None or form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return bad
        header, claims, signature = form["client_assertion"].split(".")
        digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - Microsoft's x5t is a SHA-1 thumbprint
        digest.update(self.certificate.public_bytes(serialization.Encoding.DER))
        named = json_module.loads(part(header))
        said = json_module.loads(part(claims))
        if part(named.get("x5t", "")) != digest.finalize():
            return bad
        try:
            self.certificate.public_key().verify(part(signature), f"{header}.{claims}".encode(),
                                                 padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
        except InvalidSignature:
            return bad
        if (
            said.get("aud") != self.token_url
            or not said.get("iss") == said.get("sub") == self.client[0]
        ):
            return Answer(401, {"error": "invalid_client", "error_description": "AADSTS700024: Client assertion is not within its valid time range."})  # fmt: skip
        return None

    def _jwt_bearer(self, assertion: str) -> Any:
        import base64
        import json as json_module

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        from tests.api_server import Answer

        def part(text: str) -> bytes:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

        assert self.service_account is not None, "no service account is set up"
        email, public_key = self.service_account
        try:
            header, claims, signature = assertion.split(".")
            public_key.verify(part(signature), f"{header}.{claims}".encode(),
                              padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
        except (ValueError, InvalidSignature):
            return Answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})  # fmt: skip
        said = json_module.loads(part(claims))
        now = time.time()
        if said.get("iss") != email or said.get("aud") != self.token_url:
            return Answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."})  # fmt: skip
        if not (said["iat"] - 300 <= now <= said["exp"]) or said["exp"] - said["iat"] > 3600:
            return Answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."})  # fmt: skip
        if said.get("sub") not in self.users or "https://mail.google.com/" not in said.get(
            "scope", ""
        ):
            return Answer(401, {"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})  # fmt: skip
        answer = self._tokens(refresh=False)
        with self._lock:
            self._owner[str(answer["access_token"])] = str(said["sub"])
        return Answer(200, answer)

    def _tokens(self, *, refresh: bool) -> dict[str, object]:
        with self._lock:
            token = f"eyJ0eXAi.tok-{len(self.issued) + 1}.sig"
            self.issued.append(token)
            self._expiry[token] = self.clock() + self.lifetime
            answer: dict[str, object] = {
                "token_type": "Bearer", "expires_in": int(self.lifetime),
                "ext_expires_in": int(self.lifetime), "access_token": token,
            }  # fmt: skip
            if refresh:
                rotated = f"0.AXkA-refresh-{len(self.issued)}"
                self.refresh_tokens.add(rotated)
                answer["refresh_token"] = rotated
            return answer
