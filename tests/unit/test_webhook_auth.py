"""The products' request checks: signatures over the exact bytes, replay windows, secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from notifier.sources.webhook.auth import Check, Request, refusal

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SECRET = b"s3cret-value"
BODY = b'{"ticket": {"id": 7}}'
WINDOW = timedelta(minutes=5)


def sign(data: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(SECRET, data, getattr(hashlib, algorithm)).digest()


def request(headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Request:
    return Request({k.lower(): v for k, v in (headers or {}).items()}, query or {}, BODY)


ZENDESK = Check(
    "hmac", header="X-Zendesk-Webhook-Signature", encoding="base64", signed="timestamp+body",
    timestamp_header="X-Zendesk-Webhook-Signature-Timestamp", timestamp_format="iso",
)  # fmt: skip
JIRA = Check("hmac", header="X-Hub-Signature", prefix="sha256=")
ZAMMAD = Check("hmac", header="X-Hub-Signature", algorithm="sha1", prefix="sha1=")
GLPI = Check(
    "hmac", header="X-GLPI-signature", signed="body+timestamp", timestamp_header="X-GLPI-timestamp"
)


def test_a_base64_signature_over_timestamp_and_body_passes_and_anything_else_fails() -> None:
    stamp = "2026-12-03T11:58:00Z"
    good = base64.b64encode(sign(stamp.encode() + BODY)).decode()
    headers = {"X-Zendesk-Webhook-Signature": good, "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    assert refusal(ZENDESK, SECRET, request(headers), NOW, WINDOW) is None
    body_only = base64.b64encode(sign(BODY)).decode()
    wrong = {**headers, "X-Zendesk-Webhook-Signature": body_only}
    assert refusal(ZENDESK, SECRET, request(wrong), NOW, WINDOW) == "the signature does not match"
    assert refusal(ZENDESK, b"other", request(headers), NOW, WINDOW) == (
        "the signature does not match"
    )


def test_a_timestamp_outside_the_replay_window_is_refused_even_when_well_signed() -> None:
    stamp = "2026-12-03T11:50:00Z"
    headers = {
        "X-Zendesk-Webhook-Signature": base64.b64encode(sign(stamp.encode() + BODY)).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
    why = refusal(ZENDESK, SECRET, request(headers), NOW, WINDOW)
    assert why is not None and "10 min old, outside the replay window of 5 min" in why
    ahead = {**headers, "X-Zendesk-Webhook-Signature-Timestamp": "2026-12-03T12:30:00Z"}
    assert "ahead" in str(refusal(ZENDESK, SECRET, request(ahead), NOW, WINDOW))
    garbage = {**headers, "X-Zendesk-Webhook-Signature-Timestamp": "yesterday"}
    assert "is not a time" in str(refusal(ZENDESK, SECRET, request(garbage), NOW, WINDOW))


@pytest.mark.parametrize(
    ("check", "algorithm", "prefix"), [(JIRA, "sha256", "sha256="), (ZAMMAD, "sha1", "sha1=")]
)
def test_a_hub_signature_is_the_hex_hmac_of_the_raw_body_after_its_prefix(
    check: Check, algorithm: str, prefix: str
) -> None:
    good = prefix + sign(BODY, algorithm).hex()
    assert refusal(check, SECRET, request({"X-Hub-Signature": good}), NOW, WINDOW) is None
    assert refusal(check, SECRET, request({"X-Hub-Signature": good.upper()}), NOW, WINDOW) is None
    no_prefix = sign(BODY, algorithm).hex()
    assert "does not start with" in str(
        refusal(check, SECRET, request({"X-Hub-Signature": no_prefix}), NOW, WINDOW)
    )
    assert refusal(check, SECRET, request(), NOW, WINDOW) == "the X-Hub-Signature header is missing"


def test_glpi_signs_the_body_followed_by_its_unix_timestamp() -> None:
    stamp = str(int(NOW.timestamp()) - 30)
    good = sign(BODY + stamp.encode()).hex()
    headers = {"X-GLPI-signature": good, "X-GLPI-timestamp": stamp}
    assert refusal(GLPI, SECRET, request(headers), NOW, WINDOW) is None
    before = {**headers, "X-GLPI-signature": sign(stamp.encode() + BODY).hex()}
    assert refusal(GLPI, SECRET, request(before), NOW, WINDOW) == "the signature does not match"


def test_shared_secrets_in_a_header_a_bearer_token_basic_auth_and_the_url() -> None:
    header = Check("header", header="X-Webhook-Secret")
    assert (
        refusal(header, SECRET, request({"X-Webhook-Secret": SECRET.decode()}), NOW, WINDOW) is None
    )
    assert "does not match" in str(
        refusal(header, SECRET, request({"X-Webhook-Secret": "x"}), NOW, WINDOW)
    )
    bearer = Check("bearer")
    auth = {"Authorization": f"Bearer {SECRET.decode()}"}
    assert refusal(bearer, SECRET, request(auth), NOW, WINDOW) is None
    assert "no 'Authorization: Bearer'" in str(refusal(bearer, SECRET, request(), NOW, WINDOW))
    basic = Check("basic")
    credentials = base64.b64encode(b"notifier:" + SECRET).decode()
    user_password = b"notifier:" + SECRET
    assert (
        refusal(
            basic, user_password, request({"Authorization": f"Basic {credentials}"}), NOW, WINDOW
        )
        is None
    )
    assert "not base64" in str(
        refusal(basic, user_password, request({"Authorization": "Basic %%"}), NOW, WINDOW)
    )
    query = Check("query")
    assert refusal(query, SECRET, request(query={"token": SECRET.decode()}), NOW, WINDOW) is None
    assert refusal(query, SECRET, request(), NOW, WINDOW) == "the URL's token is missing"
    assert refusal(Check("none"), b"", request(), NOW, WINDOW) is None


def test_a_non_ascii_basic_password_is_compared_as_sent() -> None:
    secret = "notifier:Grüße-2026".encode()
    sent = base64.b64encode(secret).decode()
    basic = Check("basic")
    assert refusal(basic, secret, request({"Authorization": f"Basic {sent}"}), NOW, WINDOW) is None
