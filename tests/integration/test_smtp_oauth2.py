"""SMTP with OAuth2: the delivery session logs in by AUTH XOAUTH2 with tokens from a real
token endpoint on loopback, against an aiosmtpd server that takes a token only while it is
valid. Tokens are renewed as they end with no notice failing; a token the server refuses is
replaced once; a client the provider refuses is a clear error naming the provider's words,
and the notices wait and go out once it is fixed. Time is the number of messages received
(one second each), shared by the endpoint, the server and the client, so renewals happen at
the same points on any machine."""

from __future__ import annotations

from pathlib import Path

from notifier.core.audit import AuditQuery
from notifier.delivery.smtp import SmtpOptions, SmtpSender
from notifier.oauth2 import ClientCredentials, TokenRequest
from notifier.service import Service
from tests.api_server import ApiServerFactory
from tests.integration.test_service import Clock, ListSource, make_service, resolution
from tests.oauth2_server import TokenAuthority
from tests.smtp_server import SmtpServerFactory, SmtpTestServer

SENDER = "notices@contoso.example"


def oauth_service(
    tmp_path: Path,
    smtp_server: SmtpServerFactory,
    api_server: ApiServerFactory,
    count: int,
    *,
    per_session: int = 20,
    exclude_auth: tuple[str, ...] = (),
) -> tuple[Service, SmtpTestServer, TokenAuthority, ClientCredentials]:
    started: list[SmtpTestServer] = []

    def now() -> float:  # messages received so far, one second each
        return float(len(started[0].messages)) if started else 0.0

    authority = TokenAuthority(api_server, now, users=(SENDER,), lifetime=20)
    server = smtp_server(oauth2=authority.valid, exclude_auth=exclude_auth)
    started.append(server)
    clock, source = Clock(), ListSource([resolution(n) for n in range(count)])
    service = make_service(tmp_path, server, clock, source, rate_limit_per_minute=1000)
    client_id, secret = authority.client
    tokens = ClientCredentials(
        TokenRequest(authority.token_url, client_id, secret,
                     scope="https://outlook.office365.com/.default"),
        timeout=5, margin=5, clock=now,
    )  # fmt: skip
    service.sender = SmtpSender(
        SmtpOptions(host=server.host, port=server.port, security="plain", timeout=5,
                    username=SENDER, tokens=tokens, from_address=SENDER,
                    max_messages_per_session=per_session),
        clock,
    )  # fmt: skip
    return service, server, authority, tokens


def test_500_notices_over_xoauth2_with_20_second_tokens_renew_and_none_fails(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    service, server, authority, tokens = oauth_service(tmp_path, smtp_server, api_server, 500)
    report = service.run_pass()
    assert report.sent == 500 and (report.deferred, report.failed) == (0, 0), report
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(ids) == len(set(ids)) == 500  # each notice once
    assert tokens.renewals >= 10 and len(authority.issued) == tokens.renewals
    logins = server.handler.logins  # type: ignore[attr-defined]
    assert logins and all(accepted for _, _, accepted in logins)
    assert {mechanism for mechanism, _, _ in logins} == {"XOAUTH2"}
    assert service.outbox.audit_records(AuditQuery(outcome="deferred")) == []
    assert service.outbox.counts_by_state() == {"sent": 500}


def test_a_token_the_server_refuses_is_replaced_once_in_the_same_session(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    service, server, authority, tokens = oauth_service(tmp_path, smtp_server, api_server, 2)
    tokens.token()  # the token is had, then revoked at the provider before the login
    authority.revoke()
    report = service.run_pass()
    assert report.sent == 2, report
    logins = server.handler.logins  # type: ignore[attr-defined]
    assert [accepted for _, _, accepted in logins] == [False, True]
    assert tokens.renewals == 2


def test_a_refused_client_names_the_providers_error_and_the_notices_wait_for_the_fix(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    service, server, authority, _ = oauth_service(tmp_path, smtp_server, api_server, 3)
    authority.refusal = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
        "being sent in the request is the client secret value, not the client secret ID.",
        "error_codes": [7000215],
    }
    report = service.run_pass()
    assert (report.sent, report.deferred) == (0, 3), report
    deferred = service.outbox.audit_records(AuditQuery(outcome="deferred"))
    assert deferred and all(
        "no OAuth2 token: token endpoint 127.0.0.1:" in row.reason
        and "401: invalid_client: AADSTS7000215: Invalid client secret provided." in row.reason
        for row in deferred
    ), [row.reason for row in deferred]
    assert all(authority.client[1] not in row.reason for row in deferred)
    assert server.messages == []

    authority.refusal = None  # the admin fixes the secret
    service.clock.now += service.policy.maximum  # type: ignore[attr-defined]
    report = service.run_pass()
    assert report.sent == 3 and len(server.messages) == 3, report


def test_a_server_offering_only_oauthbearer_is_logged_in_by_it(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    service, server, _, _ = oauth_service(
        tmp_path, smtp_server, api_server, 2, exclude_auth=("XOAUTH2",)
    )
    assert service.run_pass().sent == 2
    logins = server.handler.logins  # type: ignore[attr-defined]
    assert [(mechanism, user, ok) for mechanism, user, ok in logins] == [
        ("OAUTHBEARER", SENDER, True)
    ]


def test_a_token_endpoint_that_is_down_defers_the_notices_until_it_is_back(
    tmp_path: Path, smtp_server: SmtpServerFactory, api_server: ApiServerFactory
) -> None:
    service, server, authority, _ = oauth_service(tmp_path, smtp_server, api_server, 2)
    authority.stop()
    report = service.run_pass()
    assert (report.sent, report.deferred) == (0, 2), report
    (row, _) = service.outbox.audit_records(AuditQuery(outcome="deferred"))
    assert (
        "no OAuth2 token: token endpoint 127.0.0.1:" in row.reason and "ConnectError" in row.reason
    )
    authority.restart()
    service.clock.now += service.policy.maximum  # type: ignore[attr-defined]
    assert service.run_pass().sent == 2 and len(server.messages) == 2
