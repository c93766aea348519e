"""A user's own sign-in, for tenants that allow no app-only access: :func:`device_login`,
the device authorization grant (RFC 8628) that ``notifier oauth login`` runs once, and
:class:`RefreshTokens`, which renews access tokens from the refresh token it got, kept by
:class:`RefreshStore` in the state directory.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from notifier.oauth2.grants import (
    ClientCredentials,
    TokenError,
    TokenRequest,
    lifetime,
    post_form,
    provider_words,
)


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
        said = provider_words(status, found, body)
        if found.get("error") == "invalid_grant":  # revoked, expired, or the password changed
            return f"{said}; the stored refresh token no longer works: run `{self._login}`"
        return said


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
            raise TokenError(f"{where}: {provider_words(status, found, body)}")
        uri = found.get("verification_uri") or found.get("verification_url") or ""
        user_code = found.get("user_code") or ""
        show(str(found.get("message") or f"To sign in, open {uri} and enter the code {user_code}."))
        interval = max(1.0, lifetime(found.get("interval"), 5.0))
        deadline = clock() + lifetime(found.get("expires_in"), 900.0)
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
            raise TokenError(f"{where}: {provider_words(status, found, body)}")
        raise TokenError(f"{where}: the code expired before anyone signed in")
