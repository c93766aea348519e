"""Whether a webhook request comes from the product it claims: the products' own checks.

Every comparison is constant-time (``hmac.compare_digest``). A refusal says what was wrong
for the log ("signature does not match", "timestamp 2026-12-03T10:00:00Z is 9 min old"), never
the secret or the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

CheckKind = Literal["hmac", "header", "basic", "bearer", "query", "none"]
Signed = Literal["body", "timestamp+body", "body+timestamp"]

DEFAULT_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Check:
    """How one product proves a request is its own.

    - ``hmac``: ``header`` holds ``prefix`` + the HMAC (``algorithm``, ``encoding``) of what
      ``signed`` names, keyed with the secret; with ``timestamp_header``, a timestamp outside
      the replay window is refused too.
    - ``header``: ``header`` holds the secret itself (Freshdesk, ServiceNow custom headers).
    - ``basic``: HTTP basic auth; the secret is ``user:password``.
    - ``bearer``: ``Authorization: Bearer <secret>``.
    - ``query``: the URL's ``token`` parameter is the secret (for senders that can set no
      header, such as django-helpdesk).
    - ``none``: nothing is checked (only for a listener no one else can reach; the config
      refuses it unless asked for by name).
    """

    kind: CheckKind
    header: str = ""
    algorithm: Literal["sha256", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    signed: Signed = "body"
    timestamp_header: str = ""
    timestamp_format: Literal["unix", "iso"] = "unix"
    # Whether a signed timestamp outside the replay window is refused. GLPI queues a webhook
    # once and resends it unchanged, so its retries carry the first attempt's time.
    window: bool = True

    @property
    def needs_secret(self) -> bool:
        return self.kind != "none"


@dataclass(frozen=True)
class Request:
    """What a check reads of one request: lower-case header names, the query, the raw body."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


def refusal(
    check: Check, secret: bytes, request: Request, now: datetime, window: timedelta
) -> str | None:
    """Why ``request`` is refused (for the log), or None when ``check`` passes."""
    if check.kind == "none":
        return None
    if check.kind == "query":
        return _same(request.query.get("token", ""), secret, "the URL's token")
    if check.kind == "header":
        return _same(request.headers.get(check.header.lower(), ""), secret, check.header)
    authorization = request.headers.get("authorization", "")
    if check.kind == "bearer":
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return "no 'Authorization: Bearer' header"
        return _same(token.strip(), secret, "the bearer token")
    if check.kind == "basic":
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return "no 'Authorization: Basic' header"
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return "the basic credentials are not base64"
        if not given:
            return "the user name or password is missing"
        # Bytes against bytes: a non-ASCII password is compared as the sender encoded it.
        if not hmac.compare_digest(given, secret):
            return "the user name or password does not match"
        return None
    return _signature_refusal(check, secret, request, now, window)


def _same(given: str, secret: bytes, what: str) -> str | None:
    if not given:
        return f"{what} is missing"
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret):
        return f"{what} does not match"
    return None


def _signature_refusal(
    check: Check, secret: bytes, request: Request, now: datetime, window: timedelta
) -> str | None:
    given = request.headers.get(check.header.lower(), "").strip()
    if not given:
        return f"the {check.header} header is missing"
    if check.prefix:
        if not given.lower().startswith(check.prefix.lower()):
            return f"the {check.header} header does not start with {check.prefix!r}"
        given = given[len(check.prefix) :]
    stamp = b""
    if check.timestamp_header:
        raw = request.headers.get(check.timestamp_header.lower(), "").strip()
        if not raw:
            return f"the {check.timestamp_header} header is missing"
        moment = _moment(raw, check.timestamp_format)
        if moment is None:
            return f"the {check.timestamp_header} header {raw[:40]!r} is not a time"
        if check.window and abs(now - moment) > window:
            age = now - moment
            return (
                f"the {check.timestamp_header} {moment:%Y-%m-%dT%H:%M:%SZ} is "
                f"{_minutes(age)} {'old' if age > timedelta(0) else 'ahead'}, outside the "
                f"replay window of {_minutes(window)}"
            )
        stamp = raw.encode("ascii", "replace")
    signed = {
        "body": request.body,
        "timestamp+body": stamp + request.body,
        "body+timestamp": request.body + stamp,
    }[check.signed]
    digest = hmac.new(secret, signed, getattr(hashlib, check.algorithm)).digest()
    expected = (
        base64.b64encode(digest).decode("ascii") if check.encoding == "base64" else digest.hex()
    )
    if check.encoding == "hex":
        given = given.lower()
    if not hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii")):
        return "the signature does not match"
    return None


def _moment(raw: str, form: Literal["unix", "iso"]) -> datetime | None:
    try:
        if form == "unix":
            return datetime.fromtimestamp(int(raw), UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _minutes(span: timedelta) -> str:
    seconds = abs(span.total_seconds())
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
