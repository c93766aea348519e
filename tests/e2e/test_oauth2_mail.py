"""IMAP and SMTP logins with OAuth2 through the command, as an Exchange Online customer sets
it up: one app registration (``oauth2`` in ``[smtp]`` and ``[[imap]]``, the client secret in a
file) gets tokens from a real token endpoint on loopback; Dovecot's oauth2 passdb checks them
by introspection, the SMTP server by the same authority. One token serves both logins; a
token file written by another tool is read again at each login; no secret or token reaches
the output or the state."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from notifier.oauth2 import TokenFile
from notifier.sources.mail.connection import build_options, connect
from tests.api_server import ApiServerFactory
from tests.dovecot import DovecotFactory, DovecotServer
from tests.e2e.cli import CSV_HEADER, csv_row, notifier, write_config
from tests.mailfactory import reply
from tests.oauth2_server import TokenAuthority
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

SENDER = "it-helpdesk@example.org"
CLIENT = ("3f2a5b1c-notifier", "Xy7~client.secret-value_42")


def mail_config(tmp_path: Path, sink: SmtpTestServer, dovecot: DovecotServer, grant: str) -> Path:
    """SMTP and one IMAP folder, both logging in with ``grant`` (an inline ``oauth2`` table)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
directory = "{tmp_path / "state"}"
[smtp]
host = "{sink.host}"
port = {sink.port}
security = "plain"
username = "{SENDER}"
oauth2 = {grant}
from_address = "{SENDER}"
[log]
format = "json"
[rules]
max_age = 0
[[imap]]
name = "mail"
host = "{dovecot.host}"
port = {dovecot.port}
security = "plain"
username = "robot"
oauth2 = {grant}
timeout = "5s"
folder = "Resolved"
mode = "folder"
idle = false
""",
        encoding="utf-8",
    )
    return config


def test_one_app_registration_logs_in_to_imap_and_smtp_and_no_secret_is_shown(
    tmp_path: Path,
    dovecot_factory: DovecotFactory,
    smtp_server: SmtpServerFactory,
    api_server: ApiServerFactory,
) -> None:
    authority = TokenAuthority(api_server, time.monotonic, users=("robot", SENDER), client=CLIENT)
    dovecot = dovecot_factory(
        users={"robot": "unused-password"}, oauth2_introspection_url=authority.introspection_url
    )
    dovecot.create_folder("Resolved")
    sink = smtp_server(oauth2=authority.valid)
    (tmp_path / "client-secret").write_text(CLIENT[1] + "\n")
    grant = (
        f'{{ token_url = "{authority.token_url}", client_id = "{CLIENT[0]}", '
        f'client_secret_file = "client-secret", scope = "https://outlook.office365.com/.default" }}'
    )
    config = mail_config(tmp_path, sink, dovecot, grant)
    start = notifier("once", "--config", str(config))  # the first start marks what is there
    dovecot.append("Resolved", reply(61))
    first = notifier("once", "--config", str(config))
    assert start.returncode == first.returncode == 0, first.stdout + first.stderr
    assert [m.rcpt_tos[0] for m in sink.messages] == ["ann@example.org"]
    # Each run asked for one token and used it for both logins.
    assert len(authority.issued) == 2
    logins = sink.handler.logins  # type: ignore[attr-defined]
    assert [(mechanism, user, ok) for mechanism, user, ok in logins] == [("XOAUTH2", SENDER, True)]

    checked = notifier("check-config", "--config", str(config), "--connect")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "XOAUTH2" in checked.stdout
    assert (
        "login as robot ok (not encrypted, XOAUTH2 with a token from token endpoint"
        in checked.stdout
    )

    authority.refusal = {"error": "unauthorized_client",
                         "error_description": "AADSTS700016: Application with identifier "
                         f"'{CLIENT[0]}' was not found in the directory 'contoso'."}  # fmt: skip
    dovecot.append("Resolved", reply(62, requester="bob@example.org"))
    refused = notifier("once", "--config", str(config))
    assert refused.returncode == 1
    events = [json.loads(line) for line in refused.stdout.splitlines() if line.startswith("{")]
    errors = [e for e in events if e["event"] == "source_error"]
    assert errors and "no OAuth2 token" in errors[0]["error"], events
    assert (
        "401: unauthorized_client: AADSTS700016: Application with identifier" in errors[0]["error"]
    )
    audit = notifier("audit", "--config", str(config), "--format", "json")
    status = notifier("status", "--config", str(config))
    assert status.returncode == 1, status.stdout  # a refused login needs attention
    assert "oauth2 logins:" in status.stdout and "FAILING" in status.stdout, status.stdout
    assert "AADSTS700016" in status.stdout
    outputs = "".join(
        run.stdout + run.stderr for run in (start, first, checked, refused, audit, status)
    ).encode()
    haystacks = [outputs] + [p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file()]
    forms = [CLIENT[1].encode()]
    for token in authority.issued:  # the token, and the XOAUTH2 blob that carried it
        blob = f"user={SENDER}\x01auth=Bearer {token}\x01\x01".encode()
        forms += [token.encode(), base64.b64encode(blob), token.split(".")[1].encode()]
    for form in forms:
        assert not any(form in haystack for haystack in haystacks), form


def test_a_token_file_is_read_again_at_each_login(
    tmp_path: Path, dovecot_factory: DovecotFactory, api_server: ApiServerFactory
) -> None:
    """Another tool refreshes the file: the next login takes the new token, not the one read
    at start (which has been revoked by then)."""
    authority = TokenAuthority(api_server, time.monotonic, users=("robot",), client=CLIENT)
    dovecot = dovecot_factory(
        users={"robot": "unused-password"}, oauth2_introspection_url=authority.introspection_url
    )
    import httpx

    def fetch() -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1],
        }
        return str(httpx.post(authority.token_url, data=form, timeout=5).json()["access_token"])

    path = tmp_path / "token"
    path.write_text(fetch())
    options = build_options(
        host=dovecot.host, port=dovecot.port, security="plain", username="robot",
        password=None, tokens=TokenFile(path), ca_file=None, timeout=5,
    )  # fmt: skip
    connect(options).logout()
    authority.revoke()
    path.write_text(fetch() + "\n")  # the other tool's refresh
    connect(options).logout()


def test_an_imap_token_revoked_before_it_ends_is_replaced_at_the_next_login(
    dovecot_factory: DovecotFactory, api_server: ApiServerFactory
) -> None:
    from notifier.oauth2 import ClientCredentials, TokenRequest

    authority = TokenAuthority(api_server, time.monotonic, users=("robot",), client=CLIENT)
    dovecot = dovecot_factory(
        users={"robot": "unused-password"}, oauth2_introspection_url=authority.introspection_url
    )
    tokens = ClientCredentials(TokenRequest(authority.token_url, *CLIENT), timeout=5)
    options = build_options(
        host=dovecot.host, port=dovecot.port, security="plain", username="robot",
        password=None, tokens=tokens, ca_file=None, timeout=5,
    )  # fmt: skip
    connect(options).logout()
    authority.revoke()  # 20 s of life left, but no longer good
    connect(options).logout()
    assert len(authority.issued) == tokens.renewals == 2


def test_oauth_login_signs_in_by_a_device_code_and_the_daemon_renews_from_it(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    """A tenant that allows no app-only access: `notifier oauth login smtp` shows the code,
    the user enters it, the refresh token is stored (0600, never printed); `once` sends with
    tokens renewed from it; once it is revoked, the deferral says to sign in again."""
    import os
    import re
    import stat
    import subprocess
    import sys

    authority = TokenAuthority(api_server, time.monotonic, users=(SENDER,), client=CLIENT)
    sink = smtp_server(oauth2=authority.valid)
    exports = tmp_path / "exports"
    exports.mkdir()
    config = write_config(tmp_path, sink, exports)
    text = config.read_text().replace(
        'from_address = "it-helpdesk@example.org"',
        f'from_address = "{SENDER}"\nusername = "{SENDER}"',
    )
    config.write_text(
        text
        + f"""
[smtp.oauth2]
grant = "device_code"
token_url = "{authority.token_url}"
device_url = "{authority.device_url}"
client_id = "{CLIENT[0]}"
scope = "https://outlook.office365.com/SMTP.Send offline_access"
""",
        encoding="utf-8",
    )
    before = notifier("once", "--config", str(config))
    (exports / "a.csv").write_text(CSV_HEADER + csv_row("HD-1", "ann@example.org"))
    login = subprocess.Popen(
        [sys.executable, "-m", "notifier", "oauth", "login", "smtp", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert login.stdout is not None
    shown = login.stdout.readline()
    code = re.search(r"enter the code (\S+)", shown)
    assert code and "https://microsoft.com/devicelogin" in shown, shown + login.stderr.read()  # type: ignore[union-attr]
    authority.approve(code.group(1))
    out, err = login.communicate(timeout=60)
    assert login.returncode == 0, out + err
    (stored,) = (tmp_path / "state" / "oauth2").glob("*.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert "signed in" in out and str(stored) in out
    refresh_tokens = set(authority.refresh_tokens)
    assert refresh_tokens and not any(t in shown + out + err for t in refresh_tokens)

    sent = notifier("once", "--config", str(config))
    assert [m.rcpt_tos[0] for m in sink.messages] == ["ann@example.org"], (
        sent.stdout + sent.stderr + before.stderr
    )
    assert authority.refresh_tokens.isdisjoint(refresh_tokens)  # rotated, and the new one kept
    assert json.loads(stored.read_text())["refresh_token"] in authority.refresh_tokens

    authority.revoke()  # the user's password changed: every refresh token ends
    (exports / "b.csv").write_text(CSV_HEADER + csv_row("HD-2", "bob@example.org"))
    refused = notifier("once", "--config", str(config))
    assert len(sink.messages) == 1
    trail = notifier("audit", "--config", str(config), "--status", "deferred", "--format", "json")
    (deferred,) = json.loads(trail.stdout)
    assert "invalid_grant: AADSTS70000" in deferred["reason"], deferred
    assert "run `notifier oauth login smtp`" in deferred["reason"]
    for run in (before, sent, refused, trail):
        assert not any(
            t in run.stdout + run.stderr for t in authority.refresh_tokens | refresh_tokens
        )


def test_a_google_service_account_acts_for_each_mailbox_by_a_signed_jwt(
    tmp_path: Path,
    dovecot_factory: DovecotFactory,
    smtp_server: SmtpServerFactory,
    api_server: ApiServerFactory,
) -> None:
    """Google Workspace: the service account's JSON key signs a JWT for each login's user
    (domain-wide delegation); the endpoint checks the signature and answers as Google does
    when the user is not delegated or the key is wrong; no key material is shown."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    email = "notifier@helpdesk-project.iam.gserviceaccount.com"
    authority = TokenAuthority(api_server, time.monotonic, users=("robot", SENDER), client=CLIENT)
    authority.service_account = (email, key.public_key())
    (tmp_path / "service-account.json").write_text(json.dumps({
        "type": "service_account", "project_id": "helpdesk-project",
        "private_key_id": "4f1c0d2e9b", "private_key": pem, "client_email": email,
        "client_id": "108177812345678901234", "token_uri": authority.token_url,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    }))  # fmt: skip
    dovecot = dovecot_factory(
        users={"robot": "unused-password"}, oauth2_introspection_url=authority.introspection_url
    )
    dovecot.create_folder("Resolved")
    sink = smtp_server(oauth2=authority.valid)
    grant = '{ provider = "google", service_account_file = "service-account.json" }'
    config = mail_config(tmp_path, sink, dovecot, grant)
    start = notifier("once", "--config", str(config))
    dovecot.append("Resolved", reply(71))
    first = notifier("once", "--config", str(config))
    assert start.returncode == first.returncode == 0, first.stdout + first.stderr
    assert [m.rcpt_tos[0] for m in sink.messages] == ["ann@example.org"]
    logins = sink.handler.logins  # type: ignore[attr-defined]
    assert [(user, ok) for _, user, ok in logins] == [(SENDER, True)]

    authority.users = ("robot",)  # the sending mailbox is not delegated (any more)
    dovecot.append("Resolved", reply(72, requester="bob@example.org"))
    refused = notifier("once", "--config", str(config))
    trail = notifier("audit", "--config", str(config), "--status", "deferred", "--format", "json")
    (deferred,) = json.loads(trail.stdout)
    assert (
        "401: unauthorized_client: Client is unauthorized to retrieve access tokens"
        in deferred["reason"]
    )
    assert f"service account {email} for {SENDER}" in deferred["reason"]

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    authority.service_account = (email, other.public_key())  # the key was rotated at Google
    wrong = notifier("once", "--config", str(config))
    events = [json.loads(line) for line in wrong.stdout.splitlines() if line.startswith("{")]
    errors = [e["error"] for e in events if e["event"] == "source_error"]
    assert errors and "400: invalid_grant: Invalid JWT Signature." in errors[0], events
    outputs = "".join(r.stdout + r.stderr for r in (start, first, refused, trail, wrong))
    body = "".join(pem.splitlines()[1:-1])
    assert body[:40] not in outputs and body[-40:] not in outputs
    assert not any(token in outputs for token in authority.issued)


def test_oauth_login_in_a_browser_trades_a_pkce_code_for_a_refresh_token(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    """Google's way for a user (its device flow grants no mail scope): the command listens on
    a loopback redirect and prints the address to open; the browser comes back with the code
    and the state; the code and the PKCE verifier become a refresh token, stored 0600."""
    import os
    import re
    import stat
    import subprocess
    import sys
    from urllib.parse import parse_qs, urlsplit

    import httpx

    authority = TokenAuthority(api_server, time.monotonic, users=(SENDER,), client=CLIENT)
    sink = smtp_server(oauth2=authority.valid)
    exports = tmp_path / "exports"
    exports.mkdir()
    (tmp_path / "client-secret").write_text(CLIENT[1])
    config = write_config(tmp_path, sink, exports)
    text = config.read_text().replace(
        'from_address = "it-helpdesk@example.org"',
        f'from_address = "{SENDER}"\nusername = "{SENDER}"',
    )
    config.write_text(text + f"""
[smtp.oauth2]
provider = "google"
grant = "authorization_code"
token_url = "{authority.token_url}"
authorization_url = "{authority.server.url}/authorize"
client_id = "{CLIENT[0]}"
client_secret_file = "client-secret"
""", encoding="utf-8")  # fmt: skip
    login = subprocess.Popen(
        [sys.executable, "-m", "notifier", "oauth", "login", "smtp", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert login.stdout is not None
    shown = login.stdout.readline() + login.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)", shown)
    assert found and "ssh -L" in shown, shown + login.stderr.read()  # type: ignore[union-attr]
    asked = parse_qs(urlsplit(found.group(1)).query)
    assert asked["scope"] == ["https://mail.google.com/"]
    assert asked["code_challenge_method"] == ["S256"] and asked["access_type"] == ["offline"]
    redirect = asked["redirect_uri"][0]
    assert urlsplit(redirect).hostname == "127.0.0.1"
    forged = httpx.get(redirect, params={"code": "x", "state": "not-ours"}, timeout=10)
    assert forged.status_code == 400  # a redirect without this sign-in's state is refused
    code = authority.authorize(asked["code_challenge"][0], redirect)
    back = httpx.get(redirect, params={"code": code, "state": asked["state"][0]}, timeout=10)
    assert back.status_code == 200 and b"Signed in" in back.content
    out, err = login.communicate(timeout=60)
    assert login.returncode == 0, out + err
    (stored,) = (tmp_path / "state" / "oauth2").glob("*.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert not any(t in shown + out + err for t in authority.refresh_tokens)

    (exports / "a.csv").write_text(CSV_HEADER + csv_row("HD-1", "ann@example.org"))
    notifier("once", "--config", str(config))
    assert [m.rcpt_tos[0] for m in sink.messages] == ["ann@example.org"]
