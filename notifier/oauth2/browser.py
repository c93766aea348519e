"""A user's sign-in in a browser, where the provider has no device-code flow for mail
(Google's does not grant ``https://mail.google.com/``): the authorization-code grant with
PKCE (RFC 6749 section 4.1, RFC 7636) and a loopback redirect (RFC 8252 section 7.3).

:func:`browser_login` listens on ``127.0.0.1`` for the one redirect, shows the operator the
address to open (in a browser on this machine, or through ``ssh -L``), checks the ``state``
it comes back with, and trades the code and its verifier for a refresh token. The listener
answers that one request and closes; it waits ``timeout`` at most.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from notifier.oauth2.grants import TokenError, TokenRequest, post_form, provider_words

DONE_PAGE = b"<!doctype html><title>notifier</title><p>Signed in. You can close this window.</p>"


@dataclass(frozen=True)
class BrowserLogin:
    authorization_url: str  # the provider's authorization endpoint
    request: TokenRequest  # where the code is traded, by which client, for which scope
    port: int = 0  # the loopback redirect's port; 0: any free one


def browser_login(
    login: BrowserLogin,
    *,
    show: Callable[[str], None],
    ca_file: Path | None = None,
    timeout: float = 600.0,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Sign in by the authorization-code grant with PKCE; the refresh token."""
    where = f"sign-in at {urlsplit(login.authorization_url).netloc or login.authorization_url}"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    answers: list[dict[str, list[str]]] = []
    arrived = threading.Event()

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if query.get("state") != [state]:  # not our sign-in (or a forged redirect)
                self.send_error(400, "unknown sign-in")
                return
            answers.append(query)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(DONE_PAGE)))
            self.end_headers()
            self.wfile.write(DONE_PAGE)
            arrived.set()

        def log_message(self, *args: object) -> None:
            """Quiet: the code is in the request line."""

    server = http.server.HTTPServer(("127.0.0.1", login.port), Redirect)
    redirect = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, name="oauth-redirect", daemon=True)
    thread.start()
    try:
        request = login.request
        address = login.authorization_url + "?" + urlencode({
            "response_type": "code", "client_id": request.client_id, "redirect_uri": redirect,
            "scope": request.scope, "state": state, "code_challenge_method": "S256",
            "code_challenge": challenge.rstrip(b"=").decode("ascii"),
            "access_type": "offline", "prompt": "consent",  # Google: give a refresh token
        })  # fmt: skip
        show(
            "Open this address in a browser on this machine (from another one, forward the "
            f"port first: ssh -L {server.server_address[1]}:127.0.0.1:"
            f"{server.server_address[1]} <this server>) and sign in:\n{address}"
        )
        if not arrived.wait(timeout):
            raise TokenError(f"{where}: nobody signed in within {timeout:.0f} s")
    finally:
        server.shutdown()
        server.server_close()
    answer = answers[0]
    if "error" in answer:
        said = " ".join(answer.get("error_description", [""])).strip()
        raise TokenError(f"{where}: {answer['error'][0]}" + (f": {said}" if said else ""))
    code = answer.get("code", [""])[0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
            "code_verifier": verifier}  # fmt: skip
    with httpx.Client(
        timeout=httpx.Timeout(30.0),
        verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
        follow_redirects=False,
        transport=transport,
    ) as http_client:
        status, found, body = post_form(http_client, login.request, form, where)
    refresh = found.get("refresh_token")
    if status != 200:
        raise TokenError(f"{where}: {provider_words(status, found, body)}")
    if not isinstance(refresh, str) or not refresh:
        raise TokenError(f"{where}: signed in, but no refresh token was given")
    return refresh
