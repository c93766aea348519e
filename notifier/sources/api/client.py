"""The HTTP client of the API sources: httpx with every timeout set, TLS verified (against the
system's CAs or ``ca_file``), answers capped in size, and the products' rate limits honoured.

A ``429`` (or a ``503`` with ``Retry-After``) is waited out when the wait is short (up to
``MAX_WAIT`` seconds, at most ``RETRIES`` times); a longer one ends this poll with a
:class:`SourceError` naming the wait, and the next poll tries again. Credentials never appear
in an error: messages name the method, the path and the status.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from notifier.core.errors import SourceError
from notifier.oauth2 import ClientCredentials, TokenError

MAX_WAIT = 10.0  # seconds of Retry-After waited out within one poll
RETRIES = 3
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class ApiStatusError(SourceError):
    """The API answered with an HTTP error status (``status``), for the readers that act on
    one (Jira Data Center has no ``search/jql``: ``404``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ApiAuth:
    """``basic``: ``user`` and ``secret``; ``bearer``: ``Authorization: Bearer <secret>``;
    ``header``: ``header`` holds ``scheme`` + the secret (RT's ``Authorization: token ...``,
    Redmine's ``X-Redmine-API-Key``); ``oauth2``: a bearer token from ``tokens``, asked for
    again once when the server refuses it; ``session``: ``flow`` logs in and signs each
    request (GLPI's session), and ``GET logout_path`` ends it when the client closes;
    ``none``."""

    kind: Literal["basic", "bearer", "header", "oauth2", "session", "none"]
    secret: str = ""
    user: str = ""
    header: str = ""
    scheme: str = ""
    tokens: ClientCredentials | None = None
    flow: httpx.Auth | None = None
    logout_path: str = ""

    def headers(self) -> dict[str, str]:
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.secret}"}
        if self.kind == "header":
            return {self.header: f"{self.scheme} {self.secret}".strip()}
        return {}


class ApiClient:
    """GETs JSON from one API; ``product`` names it in errors."""

    def __init__(
        self,
        product: str,
        base_url: str,
        auth: ApiAuth,
        *,
        timeout: float = 30.0,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        stop: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.product = product
        self.base_url = base_url.rstrip("/")
        self._stop = stop
        self._sleep = sleep
        self._logout = auth.logout_path
        self._asked = False
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=_http_auth(auth),
            headers={"Accept": "application/json", "User-Agent": "notifier", **auth.headers()},
            timeout=httpx.Timeout(timeout),
            verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        if self._logout and self._asked:
            # Best effort: a session left open ends by itself on the server.
            with contextlib.suppress(httpx.HTTPError, SourceError):
                self._http.get(self._logout, timeout=5)
        # Not the token provider: bootstrap shares one per client among sources and reloads.
        self._http.close()

    def get(self, path: str, params: Mapping[str, str | int | list[str]] | None = None) -> Any:
        """The JSON answer of ``GET path``; SourceError for anything but a 2xx with JSON."""
        where = f"{self.product} API GET {path}"
        self._asked = True
        for attempt in range(RETRIES + 1):
            try:
                with self._http.stream("GET", path, params=dict(params or {})) as answer:
                    wait = _retry_after(answer)
                    if wait is not None and attempt < RETRIES:
                        if wait > MAX_WAIT:
                            raise SourceError(
                                f"{where}: rate limited ({answer.status_code}), asked to wait "
                                f"{wait:.0f} s; the next poll tries again"
                            )
                        self._pause(wait)
                        continue
                    body = _read_capped(answer, where)
                    _check_status(answer, where)
            except httpx.HTTPError as exc:
                raise SourceError(f"{where}: {type(exc).__name__}: {exc}") from exc
            except TokenError as exc:
                raise SourceError(f"{where}: no OAuth2 token: {exc}") from exc
            try:
                return json.loads(body)
            except ValueError as exc:
                raise SourceError(f"{where}: the answer is not JSON ({exc})") from exc
        raise SourceError(f"{where}: still rate limited after {RETRIES} waits")

    def _pause(self, seconds: float) -> None:
        if self._stop is not None:
            self._stop.wait(seconds)
        else:
            self._sleep(seconds)


class _OAuth2Bearer(httpx.Auth):
    """``Authorization: Bearer`` with the provider's current token; on a 401, one more try
    with a new one (a token revoked, or ended early by clocks apart)."""

    def __init__(self, tokens: ClientCredentials) -> None:
        self._tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        answer = yield request
        if answer.status_code == 401:
            self._tokens.refused(token)
            request.headers["Authorization"] = f"Bearer {self._tokens.token()}"
            yield request


def _http_auth(auth: ApiAuth) -> httpx.Auth | tuple[str, str] | None:
    if auth.kind == "basic":
        return (auth.user, auth.secret)
    if auth.kind == "oauth2":
        assert auth.tokens is not None, "an oauth2 ApiAuth carries its token provider"
        return _OAuth2Bearer(auth.tokens)
    if auth.kind == "session":
        assert auth.flow is not None, "a session ApiAuth carries its flow"
        return auth.flow
    return None


def _retry_after(answer: httpx.Response) -> float | None:
    """Seconds to wait before asking again, when the server says so (429, or 503 with
    ``Retry-After``); None otherwise. A 429 without ``Retry-After`` waits for the product's
    own reset header: ``X-RateLimit-Reset`` as Unix time (ServiceNow) or an ISO-8601 time
    (Jira), or ``RateLimit-Reset`` as seconds from now (the IETF draft: Zendesk, Okta)."""
    if answer.status_code not in (429, 503):
        return None
    value = answer.headers.get("Retry-After", "").strip()
    if not value:
        if answer.status_code != 429:
            return None
        reset = _reset(answer.headers)
        return 1.0 if reset is None else reset
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _reset(headers: httpx.Headers) -> float | None:
    now = datetime.now(UTC)
    delta = headers.get("RateLimit-Reset", "").strip()
    if delta.isdigit():
        return float(delta)
    value = headers.get("X-RateLimit-Reset", "").strip()
    if value.isdigit():  # Unix time; a small number would be seconds from now
        number = float(value)
        return max(0.0, number - now.timestamp()) if number > 1e9 else number
    if value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.utcoffset() is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - now).total_seconds())
    return None


def _read_capped(answer: httpx.Response, where: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise SourceError(f"{where}: the answer is over {MAX_ANSWER_BYTES:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_status(answer: httpx.Response, where: str) -> None:
    status = answer.status_code
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise ApiStatusError(
            f"{where}: {status}: the credentials were refused (check the user name, password "
            "or token, and the account's rights)",
            status,
        )
    raise ApiStatusError(f"{where}: {status} {answer.reason_phrase}", status)
