"""Configuration: the only reader of the TOML file, the environment and secret files.

Precedence, highest first: environment variables ``NOTIFIER_<SECTION>__<KEY>``, the TOML file,
then the defaults here. Every model forbids unknown keys so that a typo is an error naming the
key, never a silently ignored setting. Secrets are ``SecretStr`` and come from files or systemd
credentials (``$CREDENTIALS_DIRECTORY``); a plain-text password in the TOML is refused unless
``allow_plaintext_password = true``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from notifier.core.durations import Duration
from notifier.core.errors import ConfigError, PermanentDeliveryError
from notifier.delivery.message import parse_address
from notifier.sources.addresses import AddressListError, check_single

DEFAULT_CONFIG_PATH = Path("/etc/notifier/config.toml")
EX_CONFIG = 78


def _check_zone(cls: type, value: str) -> str:
    """A time zone name the system knows (zoneinfo), as used by exports and working hours."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PasswordMixin(_Section):
    """Where a server password comes from: a file, a systemd credential, or (if insisted) TOML."""

    password_file: Path | None = None
    password_credential: str | None = None
    password: SecretStr | None = None
    allow_plaintext_password: bool = False

    def _check_password_sources(self) -> None:
        given = [
            name
            for name in ("password_file", "password_credential", "password")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give only one of {', '.join(given)}")
        if self.password is not None and not self.allow_plaintext_password:
            raise ValueError(
                "a plain-text 'password' is refused: use password_file or password_credential "
                "(or set allow_plaintext_password = true if you really mean it)"
            )

    def resolve_password(self, section: str = "smtp") -> str | None:
        """Read the password from wherever it is configured; ConfigError names the key."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return _read_secret(self.password_file, f"{section}.password_file")
        if self.password_credential is not None:
            return _read_credential(self.password_credential, f"{section}.password_credential")
        return None


class StateSettings(_PasswordMixin):
    """Where the state lives: a SQLite file in ``directory`` (the default), or the PostgreSQL
    database ``url`` names, shared by every instance (docs/high-availability.md). The
    directory keeps this instance's own files either way (status.json, OAuth2 sign-ins)."""

    # systemd's StateDirectory= sets $STATE_DIRECTORY; prefer it over the packaged default.
    directory: Path = Field(
        default_factory=lambda: Path(os.environ.get("STATE_DIRECTORY", "/var/lib/notifier"))
    )
    # postgresql://user@host[:port][,host2[:port]]/database[?options]: libpq's URL, options
    # included (target_session_attrs=read-write, sslmode...). The password is not in it.
    url: str | None = None
    ca_file: Path | None = None  # the CA the server's certificate must chain to (sslrootcert)
    # A shared state: how long a lease (this instance's, a source's) lasts unrenewed, and the
    # name `notifier status` shows for this instance (the host's name by default).
    lease: Duration = timedelta(seconds=15)
    instance_name: str = Field(default_factory=socket.gethostname, min_length=1)

    @_model_validator(mode="after")
    def _check_database(self) -> StateSettings:
        self._check_password_sources()
        if self.url is None:
            if self.ca_file is not None or self.password_file or self.password_credential:
                raise ValueError("ca_file and the password apply to a database: set url too")
            return self
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                "url: a PostgreSQL URL (postgresql://user@host/database) is expected, "
                f"not {parts.scheme + '://' if parts.scheme else repr(self.url)}"
            )
        if parts.password is not None and not self.allow_plaintext_password:
            raise ValueError(
                "url: a password in the URL is refused: use password_file or "
                "password_credential (or set allow_plaintext_password = true)"
            )
        if not parts.path.strip("/"):
            raise ValueError("url: name the database (postgresql://user@host/database)")
        if self.lease < timedelta(seconds=3):
            raise ValueError("lease: at least 3 s (it is renewed every third of it)")
        return self


MICROSOFT_MAIL_SCOPE = "https://outlook.office365.com/.default"  # the app's own access
# A signed-in user's access to their mailbox, and a refresh token to keep it.
MICROSOFT_USER_MAIL_SCOPE = (
    "https://outlook.office365.com/IMAP.AccessAsUser.All "
    "https://outlook.office365.com/SMTP.Send offline_access"
)


GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - an address


def microsoft_endpoint(tenant: str, name: str = "token") -> str:
    """An endpoint of the Microsoft identity platform (v2.0) for a tenant (its id, or a domain
    such as ``contoso.onmicrosoft.com``): ``token``, ``devicecode`` or ``authorize``."""
    return f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/{name}"


class OAuth2Settings(_Section):
    """Where an OAuth2 login gets its tokens (docs/oauth2.md): the client-credentials grant
    (app-only) or a refresh token from one device-code sign-in (``notifier oauth login``), at
    a token endpoint, the client, its secret from a file or a systemd credential, the scope.
    ``provider = "microsoft"`` fills in the Microsoft identity platform's endpoints of
    ``tenant`` and, for IMAP and SMTP, Exchange Online's scopes."""

    provider: Literal["generic", "microsoft", "google"] = "generic"
    # client_credentials: the app's own access (a Google service account for "google");
    # device_code or authorization_code: a user signs in once (`notifier oauth login`).
    grant: Literal["client_credentials", "device_code", "authorization_code"] = "client_credentials"
    tenant: str = ""  # microsoft: the directory (tenant) id, or its domain
    token_url: str = ""  # generic: the token endpoint
    device_url: str = ""  # generic, device_code: the device authorization endpoint
    authorization_url: str = ""  # generic, authorization_code: the authorization endpoint
    redirect_port: int = Field(default=0, ge=0, le=65535)  # the sign-in's loopback redirect
    client_id: str = ""
    # google: the service account's JSON key (domain-wide delegation acts for the login's user).
    service_account_file: Path | None = None
    service_account_credential: str | None = None
    client_secret_file: Path | None = None
    client_secret_credential: str | None = None
    # Or a certificate credential: one PEM file with the private key and the certificate.
    client_certificate_file: Path | None = None
    client_certificate_credential: str | None = None
    scope: str = ""
    # "post": the client's id and secret in the form (Microsoft, ServiceNow); "basic": in an
    # Authorization header.
    client_auth: Literal["post", "basic"] = "post"

    @_model_validator(mode="after")
    def _one_secret(self) -> OAuth2Settings:
        if self.provider == "google" and self.grant == "device_code":
            raise ValueError(
                "Google's device-code flow does not grant mail access: use grant = "
                "'authorization_code' (a user's sign-in) or a service account"
            )
        if self.provider == "google" and self.grant == "client_credentials":
            keys = (self.service_account_file, self.service_account_credential)
            if sum(key is not None for key in keys) != 1:
                raise ValueError(
                    "provider 'google' needs one of service_account_file, "
                    "service_account_credential (or grant = 'authorization_code')"
                )
            return self
        if self.service_account_file or self.service_account_credential:
            raise ValueError("service_account_file: for provider 'google' only")
        if not self.client_id:
            raise ValueError("give client_id")
        proofs = [
            key
            for key in (
                "client_secret_file", "client_secret_credential", "client_certificate_file",
                "client_certificate_credential",
            )
            if getattr(self, key) is not None
        ]  # fmt: skip
        if len(proofs) > 1 or (not proofs and self.grant == "client_credentials"):
            raise ValueError(
                "give one of client_secret_file, client_secret_credential, "
                "client_certificate_file, client_certificate_credential"
            )
        if self.provider == "microsoft" and not re.fullmatch(r"[A-Za-z0-9.-]+", self.tenant):
            raise ValueError("provider 'microsoft' needs tenant = '<directory id or domain>'")
        if self.provider == "generic" and not self.token_url:
            raise ValueError("give token_url (or provider = 'microsoft' with tenant)")
        if self.provider == "generic" and self.grant == "device_code" and not self.device_url:
            raise ValueError("grant 'device_code' needs device_url")
        if (
            self.provider == "generic"
            and self.grant == "authorization_code"
            and not self.authorization_url
        ):
            raise ValueError("grant 'authorization_code' needs authorization_url")
        for name, url in (
            ("token_url", self.endpoint), ("device_url", self.device_endpoint),
            ("authorization_url", self.authorization_endpoint),
        ):  # fmt: skip
            if url and not url.startswith("https://") and not _loopback_http(url):
                raise ValueError(f"{name} {url!r}: use https")
        return self

    @property
    def endpoint(self) -> str:
        if self.token_url or self.provider == "generic":
            return self.token_url
        if self.provider == "google":
            return GOOGLE_TOKEN_URL
        return microsoft_endpoint(self.tenant)

    @property
    def authorization_endpoint(self) -> str:
        if self.grant != "authorization_code" or self.authorization_url:
            return self.authorization_url
        if self.provider == "google":
            return "https://accounts.google.com/o/oauth2/v2/auth"
        if self.provider == "microsoft":
            return microsoft_endpoint(self.tenant, "authorize")
        return ""

    @property
    def device_endpoint(self) -> str:
        if self.grant != "device_code" or self.device_url or self.provider == "generic":
            return self.device_url
        return microsoft_endpoint(self.tenant, "devicecode")

    def mail_scope(self) -> str:
        """The scope an IMAP or SMTP login asks for: Exchange Online's own by default (the
        app's, or the signed-in user's with a refresh token)."""
        if self.scope or self.provider == "generic":
            return self.scope
        if self.provider == "google":
            return "https://mail.google.com/"
        if self.grant != "client_credentials":
            return MICROSOFT_USER_MAIL_SCOPE
        return MICROSOFT_MAIL_SCOPE

    def resolve_service_account(self, key: str) -> str:
        """The service account's JSON key (provider 'google')."""
        if self.service_account_file is not None:
            return _read_secret(self.service_account_file, f"{key}.service_account_file")
        assert self.service_account_credential is not None
        return _read_credential(
            self.service_account_credential, f"{key}.service_account_credential"
        )

    def resolve_certificate(self, key: str) -> str | None:
        """The client certificate's PEM (its private key and certificate), if one is set."""
        if self.client_certificate_file is not None:
            return _read_secret(self.client_certificate_file, f"{key}.client_certificate_file")
        if self.client_certificate_credential is not None:
            return _read_credential(
                self.client_certificate_credential, f"{key}.client_certificate_credential"
            )
        return None

    def resolve_secret(self, key: str) -> str:
        """The client secret; "" for a public client (a device-code login needs none)."""
        if self.client_secret_file is not None:
            return _read_secret(self.client_secret_file, f"{key}.client_secret_file")
        if self.client_secret_credential is not None:
            return _read_credential(
                self.client_secret_credential, f"{key}.client_secret_credential"
            )
        return ""


def _loopback_http(url: str) -> bool:
    """``http://`` to this machine only: anything else sends credentials in the clear."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return scheme == "http" and host in ("127.0.0.1", "::1", "localhost")


class SmtpSettings(_PasswordMixin):
    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "plain"] = "starttls"
    username: str | None = None
    oauth2: OAuth2Settings | None = None  # log in with OAuth2 tokens (XOAUTH2), not a password
    timeout: Duration = timedelta(seconds=30)
    ca_file: Path | None = None
    max_messages_per_session: int = Field(default=50, ge=1)
    local_hostname: str | None = None
    from_address: str = "it-helpdesk@localhost"
    from_name: str = "IT Help Desk"

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"starttls": 587, "tls": 465, "plain": 25}[self.security]

    @_model_validator(mode="after")
    def _one_password_source(self) -> SmtpSettings:
        self._check_password_sources()
        has_password = any(
            getattr(self, key) is not None
            for key in ("password_file", "password_credential", "password")
        )
        if self.oauth2 is not None and has_password:
            raise ValueError("give either oauth2 or a password, not both")
        if self.oauth2 is not None and not self.username:
            raise ValueError("oauth2 needs username (the mailbox that sends)")
        try:
            parse_address(self.from_address, "smtp.from_address")
        except PermanentDeliveryError as exc:
            raise ValueError(str(exc)) from None
        return self


def _read_credential(name: str, key: str) -> str:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise ConfigError(
            f"{key}: $CREDENTIALS_DIRECTORY is not set "
            "(use LoadCredential= in the systemd unit, or a *_file key)"
        )
    return _read_secret(Path(directory) / name, key)


def _read_secret(path: Path, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from exc


class DeliverySettings(_Section):
    retry_initial: Duration = timedelta(minutes=1)
    retry_max: Duration = timedelta(hours=1)
    give_up_after: Duration = timedelta(days=3)
    rate_limit_per_minute: int = Field(default=120, ge=1)
    batch_size: int = Field(default=200, ge=1)
    # SMTP connections sending at once. Each can leave one message sent but not yet recorded
    # when notifier is killed (sent again, same Message-ID), so 1 keeps that window smallest.
    connections: int = Field(default=1, ge=1, le=16)


class RunSettings(_Section):
    poll_interval: Duration = timedelta(seconds=30)

    @field_validator("poll_interval")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsSettings(_Section):
    """The Prometheus endpoint (docs/operations.md). Changing it takes a restart."""

    # A loopback address such as "127.0.0.1:9464" or "[::1]:9464"; unset: no endpoint.
    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _loopback(cls, value: str | None) -> str | None:
        if value is not None:
            from notifier.runtime.metrics import parse_listen

            try:
                parse_listen(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value


class AuditSettings(_Section):
    """How long private data stays in the audit trail (docs/audit.md)."""

    # After this age, requester addresses and message words are dropped (once a day, by the
    # daemon); the chain stays verifiable. Unset: kept for as long as the state file lives.
    retention: Duration | None = None


class TemplateSettings(_Section):
    # None means the templates shipped with notifier.
    directory: Path | None = None


PlainPolicy = Literal["warn", "hold", "rewrite"]


class PlainSettings(_Section):
    """The plain-language gate (docs/plain-language.md)."""

    policy: PlainPolicy = "rewrite"
    unfamiliar_share_block: float = Field(default=0.15, ge=0, le=1)
    min_words_for_share: int = Field(default=12, ge=1)
    grade_warn: float = Field(default=8.0, ge=0)
    sentence_words_warn: int = Field(default=25, ge=1)
    everyday_acronyms: list[str] = Field(default_factory=list)
    familiar_words: list[str] = Field(default_factory=list)
    glossary_files: list[Path] = Field(default_factory=list)
    default_language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _working_days() -> list[Weekday]:
    return list(_DAYS[:5])


class WorkingHoursSettings(_Section):
    """When a team's notices may go out; notices due outside wait for the next start."""

    start: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="18:00", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")
    days: list[Weekday] = Field(default_factory=_working_days)
    timezone: str = "UTC"

    _known_zone = field_validator("timezone")(_check_zone)

    @_model_validator(mode="after")
    def _start_before_end(self) -> WorkingHoursSettings:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    def day_numbers(self) -> frozenset[int]:
        return frozenset(_DAYS.index(day) for day in self.days)


# never_notify entries: a domain of letter/digit/hyphen labels, a local part without spaces.
_DOMAIN = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)(\.(?!-)[\w-]{1,63}(?<!-))*\.?$")
_LOCAL_PART = re.compile(r'^[^\s@<>()\[\],;:"]{1,64}$')


class RuleSettings(_Section):
    """Notification rules for every team (docs/rules.md); teams may add their own."""

    # Closure reasons that never get a notice, matched (case-insensitive) in closure_fields.
    closure_reasons: list[str] = Field(
        default_factory=lambda: [
            "duplicate", "spam", "merged", "won't do", "won't fix", "wontfix",
            "auto-closed", "cancelled", "canceled", "rejected", "not a bug",
        ]
    )  # fmt: skip
    closure_fields: list[str] = Field(
        default_factory=lambda: [
            "resolution", "close_code", "close code", "resolution_code", "resolution code",
            "closure reason", "closure_reason",
        ]
    )  # fmt: skip
    # Requester addresses that never get a notice (shell-style patterns, case-insensitive).
    suppress_requesters: list[str] = Field(
        default_factory=lambda: [
            "noreply@*", "no-reply@*", "donotreply@*", "do-not-reply@*",
            "mailer-daemon@*", "postmaster@*",
        ]
    )  # fmt: skip
    # Addresses ("ceo@example.org") and domains ("@example.net" or "example.net", subdomains
    # included) that never get a notice, on top of our own (docs/rules.md, protected_recipient).
    never_notify: list[str] = Field(default_factory=list)
    # Columns naming who resolved the ticket: no notice when that is the requester.
    resolver_fields: list[str] = Field(
        default_factory=lambda: [
            "assignee", "assigned_to", "assigned to", "assignee email", "assigned_to.email",
            "agent", "technician", "resolved by", "resolved_by",
        ]
    )  # fmt: skip
    # Resolutions older than this when first seen get no notice (backfill guard); 0 = off.
    # An IMAP source's backfill_since lets its resolutions since that date through
    # (docs/rules.md, "Old resolutions").
    max_age: Duration = timedelta(days=7)
    # Sources of one helpdesk: a ticket's resolutions this close in time are the same one.
    same_resolution_within: Duration = timedelta(minutes=2)
    # A notice waits this long before it is due, so a reopen can cancel it (teams may override).
    delay: Duration = timedelta(0)
    # At most this many notices per requester per period; more due at once become one digest.
    limit_per_recipient: int = Field(default=3, ge=1)
    limit_period: Duration = timedelta(hours=1)

    @field_validator("never_notify")
    @classmethod
    def _addresses_or_domains(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            local, at, domain = entry.strip().rpartition("@")
            if "@" in local or (at and local and not _LOCAL_PART.match(local)):
                domain = ""  # refused below
            if not _DOMAIN.match(domain):
                raise ValueError(
                    f"entry {entry!r} is neither an address (helpdesk@example.org) "
                    "nor a domain (@example.org or example.org)"
                )
        return entries


class TeamSettings(_Section):
    """One team: which tickets are theirs and how replies reach them."""

    # field name -> accepted values (case-insensitive). "team" matches the export's group column;
    # any other name matches that raw column of the ticket.
    match: dict[str, list[str]] = Field(default_factory=dict)
    reply_to: str | None = None
    # One sentence telling the requester what a reply will do (templates: team.reply_hint).
    reply_hint: str | None = None
    display_name: str | None = None
    # false: this team's resolutions never get a notice (recorded as suppressed).
    notify: bool = True
    # This team's hold window (default: rules.delay).
    delay: Duration | None = None
    # When this team's notices may go out (default: any time).
    working_hours: WorkingHoursSettings | None = None
    # More requester patterns and closure reasons, added to the [rules] ones.
    suppress_requesters: list[str] = Field(default_factory=list)
    closure_reasons: list[str] = Field(default_factory=list)
    # The plain-language policy for this team's notices; default: plain.policy.
    plain_policy: PlainPolicy | None = None
    # Entries in the glossary file format (term, plain, severity, safe, pos, forms,
    # plain_forms, note); checked by the glossary loader, which names a bad entry.
    glossary: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("reply_to")
    @classmethod
    def _one_reply_address(cls, value: str | None) -> str | None:
        # Checked at start, not at the first send: "a@x, b@y" would dead-letter every notice.
        if value is not None and value.strip():
            try:
                parse_address(check_single(value), "reply_to")
            except (AddressListError, PermanentDeliveryError) as exc:
                raise ValueError(str(exc)) from None
        return value


class ExportSettings(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    # Sources that read one helpdesk (its mail, webhooks, exports) share a name here: one
    # resolution seen through several of them is told once (docs/webhooks.md).
    helpdesk: str | None = None
    path: str
    preset: str | None = None
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    resolved_statuses: list[str] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    timezone: str = "UTC"
    settle_seconds: float = Field(default=5.0, ge=0)
    # Unset: the longer of 60 s and ten times settle_seconds (see docs/exports.md).
    young_file_seconds: float | None = Field(default=None, ge=0, le=86400)

    _known_zone = field_validator("timezone")(_check_zone)

    @_model_validator(mode="after")
    def _young_after_settled(self) -> ExportSettings:
        if self.young_file_seconds is not None and self.young_file_seconds < self.settle_seconds:
            raise ValueError(
                f"young_file_seconds ({self.young_file_seconds:g}) must not be less than "
                f"settle_seconds ({self.settle_seconds:g})"
            )
        return self


class ImapRuleSettings(_Section):
    """One match rule: every condition given must hold (see docs/imap-presets.md)."""

    name: str
    senders: list[str] = Field(default_factory=list)
    subject: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    # A matching mail is a resolution, or an update or reopen of the ticket it names.
    means: Literal["resolved", "update", "reopened"] = "resolved"


class ImapSettings(_PasswordMixin):
    """One watched IMAP folder."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    # Sources that read one helpdesk (its mail, webhooks, exports) share a name here: one
    # resolution seen through several of them is told once (docs/webhooks.md).
    helpdesk: str | None = None
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    oauth2: OAuth2Settings | None = None  # log in with OAuth2 tokens (XOAUTH2)
    oauth2_token_file: Path | None = None  # or a token another tool keeps fresh
    ca_file: Path | None = None
    timeout: Duration = timedelta(seconds=30)
    folder: str = "INBOX"
    original_folders: list[str] = Field(default_factory=list)
    mode: Literal["folder", "match", "preset"] = "folder"
    preset: str | None = None  # the old spelling of presets = ["<name>"]
    # "auto" or preset keys: one source reads every listed product's notifications, picking
    # the product per mail (docs/imap-presets.md). Keys are checked when the source is built.
    presets: Literal["auto"] | list[str] | None = None
    requester_header: str | None = None
    rules: list[ImapRuleSettings] = Field(default_factory=list)
    trusted_senders: list[str] = Field(default_factory=list)
    after: Literal["nothing", "flag", "move"] = "nothing"
    flag: str = "$Notified"
    move_to: str | None = None
    idle: bool = True
    idle_renew: Duration = timedelta(minutes=9)
    backfill_since: date | None = None
    fetch_chunk: int = Field(default=100, ge=1, le=1000)
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    reconnect_max: Duration = timedelta(minutes=5)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143

    @field_validator("presets", mode="before")
    @classmethod
    def _presets_list_or_auto(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "auto":
            raise ValueError(f"presets = {value!r}: use a list, presets = [{value!r}], or 'auto'")
        return value

    @property
    def preset_keys(self) -> Literal["auto"] | list[str] | None:
        """``presets``, or ``[preset]`` for the old key; None when no preset is configured."""
        if self.presets is not None:
            return self.presets
        return [self.preset] if self.preset else None

    @_model_validator(mode="after")
    def _consistent(self) -> ImapSettings:
        self._check_password_sources()
        has_password = any(
            getattr(self, key) is not None
            for key in ("password_file", "password_credential", "password")
        )
        given = [
            key
            for key, present in (
                ("oauth2", self.oauth2 is not None),
                ("oauth2_token_file", self.oauth2_token_file is not None),
                ("a password", has_password),
            )
            if present
        ]
        if len(given) > 1:
            raise ValueError(f"give one way to log in, not {' and '.join(given)}")
        if self.preset is not None and self.presets is not None:
            raise ValueError("give preset = '<name>' or presets = [...], not both")
        if self.presets == []:
            raise ValueError("presets = [] names no preset; list some or use presets = 'auto'")
        if self.mode == "preset" and not self.preset_keys:
            raise ValueError("mode = 'preset' needs presets = ['<name>', ...] or 'auto'")
        if self.mode == "match" and not self.rules:
            raise ValueError("mode = 'match' needs at least one [[imap.rules]]")
        if self.after == "move" and not self.move_to:
            raise ValueError("after = 'move' needs move_to = '<folder>'")
        if self.idle_renew > timedelta(minutes=29) or self.idle_renew < timedelta(seconds=10):
            raise ValueError("idle_renew must be between 10s and 29m (RFC 2177)")
        return self


class WebhooksSettings(_Section):
    """The webhook listener (docs/webhooks.md). Changing ``listen`` takes a restart."""

    # host:port; loopback by default: put nginx or Caddy in front for TLS (docs/webhooks.md).
    listen: str = "127.0.0.1:8787"
    max_clients: int = Field(default=1000, ge=1, le=100_000)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    idle_timeout: Duration = timedelta(seconds=10)
    request_timeout: Duration = timedelta(seconds=30)
    threads: int = Field(default=4, ge=1, le=64)
    refusal_log_interval: Duration = timedelta(minutes=1)

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        listen_address(value)
        return value


def listen_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:8787``, ``[::1]:8787`` or ``0.0.0.0:8787`` as (host, port)."""
    value = text.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = value.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r} is not host:port (for example 127.0.0.1:8787)")
    return host, int(port_text)


WebhookAuth = Literal["hmac-sha256", "hmac-sha1", "header", "basic", "bearer", "query", "none"]


class WebhookSettings(_Section):
    """One webhook source, ``[[webhook]]`` (docs/webhooks.md)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    # Sources that read one helpdesk (its mail, webhooks, exports) share a name here: one
    # resolution seen through several of them is told once (docs/webhooks.md).
    helpdesk: str | None = None
    # A product's preset (django-helpdesk, zendesk, jira, zammad, freshdesk, servicenow, glpi)
    # or "generic": then auth and fields say how to read the payload.
    preset: str
    path: str | None = None  # default /webhooks/<name>
    secret_file: Path | None = None
    secret_credential: str | None = None
    replay_window: Duration = timedelta(minutes=5)
    max_body_bytes: int | None = Field(default=None, ge=1024, le=64 * 1024 * 1024)
    # "generic" only: how requests are checked, and how the payload maps onto a ticket.
    auth: WebhookAuth | None = None
    signature_header: str | None = None  # hmac-*: the header with the signature
    signature_prefix: str = ""  # hmac-*: such as "sha256="
    signature_encoding: Literal["hex", "base64"] = "hex"
    secret_header: str | None = None  # header: the header that holds the secret
    event_id_header: str | None = None
    event_id_field: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    resolved_statuses: list[str] | None = None
    reopened_statuses: list[str] = Field(default_factory=lambda: ["reopened"])
    timezone: str = "UTC"
    _zone = field_validator("timezone")(_check_zone)

    @_model_validator(mode="after")
    def _consistent(self) -> WebhookSettings:
        if self.secret_file is not None and self.secret_credential is not None:
            raise ValueError("give only one of secret_file, secret_credential")
        if self.path is not None and (not self.path.startswith("/") or "?" in self.path):
            raise ValueError(f"path {self.path!r} must start with '/' and have no query")
        generic_only = ("auth", "signature_header", "secret_header", "fields")
        if self.preset != "generic":
            given = [key for key in generic_only if getattr(self, key)]
            if given:
                raise ValueError(f"{', '.join(given)}: only for preset = 'generic'")
        elif self.auth is None:
            raise ValueError("preset = 'generic' needs auth (hmac-sha256, header, bearer...)")
        elif self.auth.startswith("hmac") and not self.signature_header:
            raise ValueError(f"auth = {self.auth!r} needs signature_header")
        elif self.auth == "header" and not self.secret_header:
            raise ValueError("auth = 'header' needs secret_header")
        return self

    @property
    def effective_path(self) -> str:
        return (self.path or f"/webhooks/{self.name}").rstrip("/") or "/"

    def resolve_secret(self) -> bytes:
        """The shared secret, from its file or systemd credential; ConfigError names the key."""
        key = f"webhook.{self.name}"
        if self.secret_file is not None:
            return _read_secret(self.secret_file, f"{key}.secret_file").encode()
        if self.secret_credential is not None:
            return _read_credential(self.secret_credential, f"{key}.secret_credential").encode()
        return b""


class ApiSettings(_PasswordMixin):
    """One API source, ``[[api]]`` (docs/api-sources.md): a helpdesk's REST API polled for the
    tickets changed since a cursor."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    # Sources that read one helpdesk (its mail, webhooks, exports) share a name here: one
    # resolution seen through several of them is told once (docs/webhooks.md).
    helpdesk: str | None = None
    product: Literal[
        "rt",
        "redmine",
        "roundup",
        "zendesk",
        "jira",
        "servicenow",
        "freshdesk",
        "glpi",
        "zammad",
    ]
    url: str  # the helpdesk's base URL, https:// (http:// only to a loopback address)
    username: str | None = None  # with a password: HTTP basic auth
    token_file: Path | None = None  # an API token instead (RT auth token, Redmine API key)
    token_credential: str | None = None
    oauth2: OAuth2Settings | None = None  # or tokens from an OAuth2 client-credentials grant
    # GLPI: the API client's App-Token, when it asks for one (Setup > General > API).
    app_token_file: Path | None = None
    app_token_credential: str | None = None
    # GLPI: its server's time zone (its API's dates carry none).
    timezone: str = "UTC"
    _known_zone = field_validator("timezone")(_check_zone)
    ca_file: Path | None = None
    timeout: Duration = timedelta(seconds=30)
    # Each poll asks again from this long before the cursor (clock skew between the servers).
    overlap: Duration = timedelta(minutes=5)
    # On the first start, read tickets changed since this day (default: from now on only).
    backfill_since: date | None = None
    # More of the product's own query, ANDed: RT TicketSQL ("Queue = 'Support'"), Jira JQL
    # ("project = HELP"), a ServiceNow encoded query, Roundup ("keyword=network") or Zammad
    # search terms; Redmine: a project identifier; Zendesk, Freshdesk: unused.
    query: str = ""
    resolved_statuses: list[str] | None = None

    @_model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        self._check_password_sources()
        token = self.token_file is not None or self.token_credential is not None
        if self.token_file is not None and self.token_credential is not None:
            raise ValueError("give only one of token_file, token_credential")
        has_password = any(
            getattr(self, key) is not None
            for key in ("password_file", "password_credential", "password")
        )
        given = [
            what
            for what, present in (
                ("a token", token), ("a password", has_password), ("oauth2", self.oauth2)
            )
            if present
        ]  # fmt: skip
        if len(given) > 1:
            raise ValueError(f"give one way to log in, not {' and '.join(given)}")
        if has_password and not self.username:
            raise ValueError("a password needs username")
        if not given:
            raise ValueError(
                "give token_file, token_credential, username and a password, or oauth2"
            )
        if self.oauth2 is not None and self.oauth2.grant != "client_credentials":
            raise ValueError("oauth2: API sources take grant = 'client_credentials' only")
        glpi_only = [
            key
            for key in ("app_token_file", "app_token_credential")
            if getattr(self, key) is not None
        ]
        if self.timezone != "UTC":
            glpi_only.append("timezone")
        if glpi_only and self.product != "glpi":
            raise ValueError(f"{', '.join(glpi_only)}: for product 'glpi' only")
        if self.app_token_file is not None and self.app_token_credential is not None:
            raise ValueError("give only one of app_token_file, app_token_credential")
        scheme, _, rest = self.url.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        if scheme not in ("http", "https") or not host:
            raise ValueError(f"url {self.url!r} is not an http(s) address")
        if scheme == "http" and not _loopback_http(self.url):
            raise ValueError(
                f"url {self.url!r}: plain http sends the credentials in the clear; use https"
            )
        return self

    def resolve_app_token(self) -> str:
        key = f"api.{self.name}"
        if self.app_token_file is not None:
            return _read_secret(self.app_token_file, f"{key}.app_token_file")
        if self.app_token_credential is not None:
            return _read_credential(self.app_token_credential, f"{key}.app_token_credential")
        return ""

    def resolve_token(self) -> str | None:
        key = f"api.{self.name}"
        if self.token_file is not None:
            return _read_secret(self.token_file, f"{key}.token_file")
        if self.token_credential is not None:
            return _read_credential(self.token_credential, f"{key}.token_credential")
        return None


class Settings(BaseSettings):
    """The whole validated configuration."""

    model_config = SettingsConfigDict(
        env_prefix="NOTIFIER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    state: StateSettings = Field(default_factory=StateSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    run: RunSettings = Field(default_factory=RunSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    plain: PlainSettings = Field(default_factory=PlainSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    teams: dict[str, TeamSettings] = Field(default_factory=dict)
    exports: list[ExportSettings] = Field(default_factory=list)
    imap: list[ImapSettings] = Field(default_factory=list)
    webhooks: WebhooksSettings = Field(default_factory=WebhooksSettings)
    webhook: list[WebhookSettings] = Field(default_factory=list)
    api: list[ApiSettings] = Field(default_factory=list)

    @_model_validator(mode="after")
    def _unique_source_names(self) -> Settings:
        names = [export.name for export in self.exports] + [box.name for box in self.imap]
        names += [hook.name for hook in self.webhook] + [source.name for source in self.api]
        paths = [hook.effective_path for hook in self.webhook]
        shared = sorted({path for path in paths if paths.count(path) > 1})
        if shared:
            raise ValueError(f"webhook: two sources on one path: {', '.join(shared)}")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"exports/imap/webhook: source names must be unique: {', '.join(duplicates)}"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML document arrives as init arguments; the environment overrides it. Variables
        # naming one entry of a list (NOTIFIER_EXPORTS__0__PATH) were applied to the document
        # already (load_settings): pydantic-settings would take them as the whole list.
        if isinstance(env_settings, EnvSettingsSource):
            env_settings.env_vars = {
                name: value
                for name, value in env_settings.env_vars.items()
                if _INDEXED.match(name.upper()) is None
            }
        return (env_settings, init_settings)


def load_settings(path: Path | None, *, required: bool = True) -> Settings:
    """Read, merge and validate the configuration, or raise ConfigError naming the key.

    Relative paths in the file are taken relative to the file's own directory.
    """
    document: dict[str, Any] = {}
    if path is not None:
        document = _read_toml(path, required=required)
    _check_environment_keys()
    document = _apply_indexed_environment(document)
    try:
        settings = Settings(**document)
    except ValidationError as exc:
        where = str(path) if path is not None and path.exists() else "configuration"
        raise ConfigError(f"{where} (or NOTIFIER_* environment): {_describe(exc)}") from None
    except SettingsError as exc:
        # pydantic-settings could not decode an environment value (e.g. JSON for a list).
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(f"environment: {exc}{cause}") from None
    if path is not None:
        settings = _anchor_relative_paths(settings, path.resolve().parent)
    return settings


ENVIRONMENT_PREFIX = "NOTIFIER_"
# Variables with the prefix that are not configuration keys.
_NOT_SETTINGS = frozenset({"NOTIFIER_CONFIG"})


# NOTIFIER_EXPORTS__<n>__<KEY>: one key of the n-th [[exports]] (or [[imap]], [[webhook]],
# [[api]]) entry, from 0.
_INDEXED = re.compile(r"NOTIFIER_(EXPORTS|IMAP|WEBHOOK|API)__(\d+)__(.+)")
_LIST_MODELS: dict[str, type[BaseModel]] = {
    "exports": ExportSettings,
    "imap": ImapSettings,
    "webhook": WebhookSettings,
    "api": ApiSettings,
}


def _apply_indexed_environment(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each NOTIFIER_<LIST>__<n>__<KEY> variable applied to entry n.

    A value starting with ``[`` or ``{`` is read as JSON (a list or a table); any other is a
    string, which validation turns into the key's type as it does for the other variables.
    """
    updated = dict(document)
    for name in sorted(os.environ):
        match = _INDEXED.fullmatch(name)
        if match is None:
            continue
        section, index, key = match.group(1).lower(), int(match.group(2)), match.group(3).lower()
        entries = [dict(entry) for entry in updated.get(section) or []]
        if index >= len(entries):
            raise ConfigError(
                f"environment: {name}: no {section} entry {index} in the file "
                f"(it has {len(entries)}; they count from 0)"
            )
        path = key.split("__")
        if path[0] not in _LIST_MODELS[section].model_fields:
            raise ConfigError(f"environment: {name}: unknown key {section}.{path[0]}")
        raw = os.environ[name]
        value: Any = raw
        if raw.lstrip().startswith(("[", "{")):
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise ConfigError(f"environment: {name}: not valid JSON: {exc}") from None
        target = entries[index]
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
        updated[section] = entries
    return updated


def _check_environment_keys() -> None:
    """An unknown NOTIFIER_* variable is a typo: name it, as for unknown TOML keys."""
    for name in sorted(os.environ):
        if not name.startswith(ENVIRONMENT_PREFIX) or name in _NOT_SETTINGS:
            continue
        if _INDEXED.fullmatch(name):
            continue  # checked where it is applied
        section, _, key = name[len(ENVIRONMENT_PREFIX) :].lower().partition("__")
        field = Settings.model_fields.get(section)
        if field is None:
            raise ConfigError(f"environment: {name}: unknown section {section!r}")
        model = field.annotation
        if key and isinstance(model, type) and issubclass(model, BaseModel):
            top = key.split("__", 1)[0]
            if top not in model.model_fields:
                raise ConfigError(f"environment: {name}: unknown key {section}.{top}")


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: configuration file not found") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{key}: {message}")
    return "; ".join(problems)


def _anchor_relative_paths(settings: Settings, base: Path) -> Settings:
    """Every path in the settings (a ``Path`` field, in any section, list or table) relative
    to ``base``, the config file's directory; and each export's ``path`` (a glob, text)."""

    def anchor(value: Any) -> Any:
        if isinstance(value, Path):
            return value if value.is_absolute() else base / value
        if isinstance(value, BaseModel):
            return value.model_copy(
                update={name: anchor(getattr(value, name)) for name in type(value).model_fields}
            )
        if isinstance(value, list):
            return [anchor(item) for item in value]
        if isinstance(value, dict):
            return {key: anchor(item) for key, item in value.items()}
        return value

    anchored: Settings = anchor(settings)
    exports = [
        export.model_copy(
            update={
                "path": export.path if Path(export.path).is_absolute() else str(base / export.path)
            }
        )
        for export in anchored.exports
    ]
    return anchored.model_copy(update={"exports": exports})
