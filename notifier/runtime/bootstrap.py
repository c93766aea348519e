"""The composition root: validated settings in, wired objects out.

This is the only place adapters are built. Nothing connects here: the SMTP session opens on the
first send, sources open files when polled.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import structlog

from notifier.core.clock import Clock, system_clock
from notifier.core.compose import TeamProfile
from notifier.core.errors import ConfigError, StateError
from notifier.core.language import COMMON_LANGUAGES
from notifier.core.policy import RetryPolicy
from notifier.core.ports import (
    Roles,
    Source,
    SourceState,
    StateQueries,
    StateStore,
    WebhookInbox,
)
from notifier.core.render import Renderer, template_languages
from notifier.core.roles import SoleInstance, source_lease
from notifier.core.rules import (
    DEFAULT_TEAM,
    NoticeRules,
    OwnAddresses,
    TeamRoute,
    WorkingHours,
    mailbox_key,
)
from notifier.delivery.smtp import SmtpOptions, SmtpSender, tls_context
from notifier.plain import Gate, GateSettings, load_glossary
from notifier.runtime.config import (
    ApiSettings,
    ImapSettings,
    OAuth2Settings,
    Settings,
    StateSettings,
    TeamSettings,
    WebhookSettings,
    listen_address,
)
from notifier.service import DeliveryLimits, Service
from notifier.sources.export.source import ExportSource
from notifier.store.sqlite.outbox import Outbox
from notifier.store.sqlite.reader import StateReader

if TYPE_CHECKING:
    from notifier.oauth2 import (
        BrowserLogin,
        ClientCertificate,
        ClientCredentials,
        DeviceLogin,
        ServiceAccount,
        TokenRequest,
        TokenSource,
    )
    from notifier.runtime.health import LoginHealth
    from notifier.sources.api.source import ApiSource
    from notifier.sources.mail.imap import ImapSource
    from notifier.sources.webhook.presets.preset import WebhookPreset
    from notifier.sources.webhook.receiver import Receiver
    from notifier.sources.webhook.server import WebhookServer
    from notifier.store.postgres.leases import Membership
from notifier.sources.export.presets import build_mapping

log = structlog.get_logger("notifier.roles")


def bundled_path(name: str) -> Path:
    """A folder shipped with notifier (``templates``, ``examples``): in the wheel or the checkout."""
    package = Path(__file__).resolve().parent.parent  # notifier/, beside _bundled/
    for candidate in (package / "_bundled" / name, package.parent / name):
        if candidate.exists():
            return candidate
    return package.parent / name


def templates_directory(settings: Settings) -> Path:
    return settings.templates.directory or bundled_path("templates")


def build_renderer(settings: Settings) -> Renderer:
    return Renderer.load(
        templates_directory(settings), default_language=settings.plain.default_language
    )


def gate_settings(settings: Settings) -> GateSettings:
    plain = settings.plain
    return GateSettings(
        unfamiliar_share_block=plain.unfamiliar_share_block,
        min_words_for_share=plain.min_words_for_share,
        grade_warn=plain.grade_warn,
        sentence_words_warn=plain.sentence_words_warn,
        everyday_acronyms=frozenset(plain.everyday_acronyms),
        extra_familiar_words=frozenset(word.lower() for word in plain.familiar_words),
    )


def build_gate(settings: Settings, team: str | None = None) -> Gate:
    """The plain-language gate for a team: the shared settings plus the team's glossary."""
    entries: list[dict[str, object]] = []
    if team is not None and team in settings.teams:
        entries = list(settings.teams[team].glossary)
    glossary = load_glossary(files=settings.plain.glossary_files, entries=entries)
    return Gate(gate_settings(settings), glossary)


def build_sources(settings: Settings, seen: SourceState, inbox: WebhookInbox) -> list[Source]:
    from notifier.sources.webhook.source import WebhookSource

    sources: list[Source] = []
    for export in settings.exports:
        mapping = build_mapping(
            export.preset,
            export.columns,
            export.resolved_statuses,
            export.delimiter,
            export.timezone,
        )
        sources.append(
            ExportSource(
                export.name,
                export.path,
                mapping,
                seen,
                file_format=export.format,
                settle_seconds=export.settle_seconds,
                young_file_seconds=export.young_file_seconds,
            )
        )
    for box in settings.imap:
        sources.append(build_imap_source(settings, box, seen))
    for hook in settings.webhook:
        sources.append(WebhookSource(hook.name, webhook_preset(hook), inbox, seen))
    for api in settings.api:
        sources.append(build_api_source(api, seen))
    return sources


def _token_request(grant: OAuth2Settings, key: str, scope: str) -> TokenRequest:
    from notifier.oauth2 import TokenRequest

    pem = grant.resolve_certificate(key)
    return TokenRequest(
        grant.endpoint, grant.client_id, grant.resolve_secret(key), scope=scope,
        client_auth=grant.client_auth,
        certificate=_client_certificate(pem, key) if pem is not None else None,
    )  # fmt: skip


def _client_certificate(pem: str, key: str) -> ClientCertificate:
    """A certificate credential from one PEM file holding its private key and certificate (as
    ``openssl req -x509 -newkey rsa:2048 -keyout - -out -`` writes them)."""
    import re

    from notifier.oauth2 import ClientCertificate

    found = {
        block.group(1): block.group(0)
        for block in re.finditer(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", pem, re.S)
    }
    private = next((text for kind, text in found.items() if kind.endswith("PRIVATE KEY")), None)
    if private is None or "CERTIFICATE" not in found:
        raise ConfigError(
            f"{key}.client_certificate: needs one PEM file holding the private key and the "
            "certificate"
        )
    return ClientCertificate(private, found["CERTIFICATE"])


def oauth2_tokens(
    grant: OAuth2Settings, key: str, scope: str, ca_file: Path | None
) -> ClientCredentials:
    """The app-only token provider of ``grant``: one per client, scope and CA, so IMAP and
    SMTP logins of one app registration (and a reload with the same settings) share its
    token."""
    return _shared_tokens(_token_request(grant, key, scope), ca_file)


# Every token provider built, for the status file (``notifier status`` shows each login).
_PROVIDERS: list[ClientCredentials] = []


def login_health() -> dict[str, LoginHealth]:
    """Each OAuth2 login's last renewal and refusal, for the status file."""
    from datetime import UTC, datetime

    from notifier.runtime.health import LoginHealth

    def moment(seconds: float | None) -> datetime | None:
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None

    return {
        provider.where: LoginHealth(
            renewals=provider.renewals,
            renewed_at=moment(provider.renewed_at),
            valid_until=moment(provider.valid_until),
            last_error=provider.last_error,
            last_error_at=moment(provider.last_error_at),
        )
        for provider in _PROVIDERS
    }


def _known(provider: ClientCredentials) -> ClientCredentials:
    _PROVIDERS.append(provider)
    return provider


@functools.lru_cache(maxsize=64)
def _shared_tokens(request: TokenRequest, ca_file: Path | None) -> ClientCredentials:
    from notifier.oauth2 import ClientCredentials

    return _known(ClientCredentials(request, ca_file=ca_file))


@functools.lru_cache(maxsize=64)
def _shared_refresh(
    request: TokenRequest, ca_file: Path | None, store: Path, login: str
) -> ClientCredentials:
    from notifier.oauth2 import RefreshStore, RefreshTokens

    return _known(RefreshTokens(request, RefreshStore(store), login=login, ca_file=ca_file))


def refresh_store(state: Path, request: TokenRequest) -> Path:
    """Where the refresh token of one client and scope is kept: one sign-in serves every
    section that names the same grant."""
    import hashlib

    name = f"{request.token_url}\n{request.client_id}\n{request.scope}"
    return state / "oauth2" / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"


@functools.lru_cache(maxsize=64)
def _shared_service(account: ServiceAccount, scope: str, ca_file: Path | None) -> ClientCredentials:
    from notifier.oauth2 import ServiceAccountTokens

    return _known(ServiceAccountTokens(account, scope, ca_file=ca_file))


def _service_account(grant: OAuth2Settings, key: str, user: str) -> ServiceAccount:
    """The Google service account of ``grant``, acting for ``user`` (the login's mailbox)."""
    from dataclasses import replace

    from notifier.oauth2 import ServiceAccount, TokenError

    text = grant.resolve_service_account(key)
    try:
        account = ServiceAccount.from_json(text, user, f"{key}.service_account")
    except TokenError as exc:
        raise ConfigError(str(exc)) from exc
    return replace(account, token_uri=grant.token_url) if grant.token_url else account


def mail_tokens(
    settings: Settings,
    key: str,
    grant: OAuth2Settings | None,
    token_file: Path | None,
    ca_file: Path | None,
    user: str = "",
) -> TokenSource | None:
    """An IMAP or SMTP login's token source: the grant, a token file, or none (a password).
    ``key`` is ``smtp`` or ``imap.<name>``; ``user`` the login's user name (the mailbox a
    Google service account acts for)."""
    if grant is not None and grant.provider == "google" and grant.grant == "client_credentials":
        from notifier.oauth2 import TokenError

        account = _service_account(grant, f"{key}.oauth2", user)
        try:
            return _shared_service(account, grant.mail_scope(), ca_file)
        except TokenError as exc:  # the key cannot be read
            raise ConfigError(f"{key}.oauth2: {exc}") from exc
    if grant is not None:
        request = _token_request(grant, f"{key}.oauth2", grant.mail_scope())
        if grant.grant != "client_credentials":  # a user's sign-in: its refresh token
            login = f"notifier oauth login {key.removeprefix('imap.')}"
            store = refresh_store(settings.state.directory, request)
            return _shared_refresh(request, ca_file, store, login)
        return _shared_tokens(request, ca_file)
    if token_file is not None:
        from notifier.oauth2 import TokenFile

        return TokenFile(token_file)
    return None


def sign_in_of(
    settings: Settings, source: str
) -> tuple[DeviceLogin | BrowserLogin, Path, Path | None]:
    """For ``notifier oauth login SOURCE`` (``smtp`` or an ``[[imap]]`` name): the user's
    sign-in of its grant (a device code, or a browser), where its refresh token goes, and the
    CA to trust."""
    from notifier.oauth2 import BrowserLogin, DeviceLogin

    sections: dict[str, tuple[OAuth2Settings | None, Path | None]] = {
        "smtp": (settings.smtp.oauth2, settings.smtp.ca_file)
    }
    sections |= {box.name: (box.oauth2, box.ca_file) for box in settings.imap}
    if source not in sections:
        raise ConfigError(f"oauth login: no source {source!r}; known: {', '.join(sections)}")
    grant, ca_file = sections[source]
    key = "smtp" if source == "smtp" else f"imap.{source}"
    if grant is None or grant.grant == "client_credentials":
        raise ConfigError(
            f"{key}.oauth2: oauth login is for grant = 'device_code' or 'authorization_code'"
        )
    request = _token_request(grant, f"{key}.oauth2", grant.mail_scope())
    login: DeviceLogin | BrowserLogin = (
        DeviceLogin(grant.device_endpoint, request)
        if grant.grant == "device_code"
        else BrowserLogin(grant.authorization_endpoint, request, grant.redirect_port)
    )
    return login, refresh_store(settings.state.directory, request), ca_file


def build_api_source(api: ApiSettings, state: SourceState) -> ApiSource:
    """One ``[[api]]`` source: its product's reader and an HTTP client with its credentials."""
    from notifier.sources.api.client import ApiAuth, ApiClient
    from notifier.sources.api.products import PRODUCTS, ReaderOptions
    from notifier.sources.api.source import ApiSource as Polled

    where = f"api.{api.name}"
    product = PRODUCTS[api.product]
    token = api.resolve_token()
    password = api.resolve_password(where)
    if api.ca_file is not None and not api.ca_file.is_file():
        raise ConfigError(f"{where}.ca_file: {api.ca_file} is not a readable file")
    if api.oauth2 is not None:
        tokens = oauth2_tokens(api.oauth2, f"{where}.oauth2", api.oauth2.scope, api.ca_file)
        auth = ApiAuth("oauth2", tokens=tokens)
    elif token is None:
        auth = ApiAuth("basic", password or "", user=api.username or "")
    else:
        auth = product.token_auth(token)
    if product.session is not None:
        auth = product.session(api.url, auth, api.resolve_app_token())
    try:
        options = ReaderOptions(
            api.query,
            tuple(api.resolved_statuses or ()),
            None if api.timezone == "UTC" else ZoneInfo(api.timezone),
        )
        reader = product.reader(options)
    except ConfigError as exc:
        raise ConfigError(f"{where}.query: {exc}") from exc
    client = ApiClient(
        reader.product, api.url, auth, timeout=api.timeout.total_seconds(), ca_file=api.ca_file
    )
    return Polled(
        api.name, reader, client, state, overlap=api.overlap, backfill_since=api.backfill_since
    )


def webhook_preset(hook: WebhookSettings) -> WebhookPreset:
    """The preset one ``[[webhook]]`` names, or the generic one its settings describe."""
    from notifier.sources.webhook.auth import Check
    from notifier.sources.webhook.presets import PRESETS, generic

    where = f"webhook.{hook.name}"
    if hook.preset != "generic":
        found = PRESETS.get(hook.preset)
        if found is None:
            known = ", ".join(sorted([*PRESETS, "generic"]))
            raise ConfigError(f"{where}.preset: unknown preset {hook.preset!r}; known: {known}")
        return found
    auth = hook.auth or "none"
    if auth.startswith("hmac-"):
        check = Check(
            "hmac",
            header=hook.signature_header or "",
            algorithm="sha1" if auth == "hmac-sha1" else "sha256",
            encoding=hook.signature_encoding,
            prefix=hook.signature_prefix,
        )
    elif auth == "header":
        check = Check("header", header=hook.secret_header or "")
    else:
        check = Check(auth)  # type: ignore[arg-type]  # basic, bearer, query, none
    try:
        return generic(
            check,
            hook.fields,
            resolved_statuses=hook.resolved_statuses,
            reopened_statuses=hook.reopened_statuses,
            event_id_header=hook.event_id_header or "",
            event_id_field=hook.event_id_field or "",
            timezone=hook.timezone,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}.fields: {exc}") from None


def build_receiver(
    settings: Settings, inbox: WebhookInbox, wake: Callable[[], None], clock: Clock = system_clock
) -> Receiver:
    """The receiver of every ``[[webhook]]``: its check, secret and limits per path."""
    from notifier.sources.webhook.receiver import Endpoint, Receiver, RefusalLog

    endpoints = []
    for hook in settings.webhook:
        preset = webhook_preset(hook)
        secret = hook.resolve_secret()
        if preset.check.needs_secret and not secret:
            raise ConfigError(
                f"webhook.{hook.name}: preset {hook.preset!r} checks a shared secret: give "
                "secret_file or secret_credential"
            )
        endpoints.append(
            Endpoint(
                source=hook.name,
                path=hook.effective_path,
                preset=preset,
                secret=secret,
                window=hook.replay_window,
                max_body=hook.max_body_bytes or settings.webhooks.max_body_bytes,
            )
        )
    refusals = RefusalLog(settings.webhooks.refusal_log_interval)
    return Receiver(endpoints, inbox, clock=clock, wake=wake, refusals=refusals)


def start_webhook_server(settings: Settings, receiver: Receiver) -> WebhookServer | None:
    """The listener, started, when any ``[[webhook]]`` is configured; else None."""
    from notifier.sources.webhook.server import ListenLimits, WebhookServer

    if not settings.webhook:
        return None
    options = settings.webhooks
    host, port = listen_address(options.listen)
    limits = ListenLimits(
        max_clients=options.max_clients,
        max_header_bytes=options.max_header_bytes,
        max_body_bytes=options.max_body_bytes,
        idle_timeout=options.idle_timeout,
        request_timeout=options.request_timeout,
        threads=options.threads,
    )
    return WebhookServer(host, port, receiver, limits).start()


def build_imap_source(settings: Settings, box: ImapSettings, state: SourceState) -> ImapSource:
    from notifier.sources.mail.connection import build_options
    from notifier.sources.mail.imap import FolderPolicy, ImapSource
    from notifier.sources.mail.interpreter import build_interpreter
    from notifier.sources.mail.products import build_presets
    from notifier.sources.mail.rules import Interpreter, compile_rule
    from notifier.sources.mail.types import MailLimits

    rules = [
        compile_rule(
            rule.name,
            senders=tuple(rule.senders),
            subject=rule.subject,
            headers=rule.headers,
            body=rule.body,
            means=rule.means,
        )
        for rule in box.rules
    ]
    interpreter: Interpreter
    chosen = box.preset_keys
    if chosen is None:
        interpreter = build_interpreter(
            box.mode,
            rules=rules,
            requester_header=box.requester_header,
            not_requesters=_not_requesters(settings, box),
        )
    else:
        # Presets read the products' notifications; in folder or match mode the rest of the
        # mail is the technicians' replies or the rules' (docs/imap-presets.md).
        otherwise = None
        if box.mode != "preset":
            otherwise = build_interpreter(
                box.mode,
                rules=rules,
                requester_header=box.requester_header,
                not_requesters=_not_requesters(settings, box),
            )
        interpreter = build_presets(
            chosen,
            otherwise=otherwise,
            folder_mode=box.mode == "folder",
            not_requesters=_not_requesters(settings, box),
            where=f"imap {box.name}: presets",
        )
    options = build_options(
        host=box.host,
        port=box.effective_port,
        security=box.security,
        username=box.username,
        password=box.resolve_password(f"imap.{box.name}"),
        tokens=mail_tokens(
            settings,
            f"imap.{box.name}",
            box.oauth2,
            box.oauth2_token_file,
            box.ca_file,
            box.username,
        ),
        ca_file=box.ca_file,
        timeout=box.timeout.total_seconds(),
    )
    policy = FolderPolicy(
        folder=box.folder,
        original_folders=tuple(box.original_folders),
        backfill_since=box.backfill_since,
        after=box.after,
        flag=box.flag,
        move_to=box.move_to,
        fetch_chunk=box.fetch_chunk,
        limits=MailLimits(max_bytes=box.max_message_bytes),
        own_addresses=(settings.smtp.from_address,),
        trusted_senders=tuple(box.trusted_senders),
        languages=(
            *COMMON_LANGUAGES,
            settings.plain.default_language,
            *template_languages(templates_directory(settings)),
        ),
    )
    return ImapSource(
        box.name,
        options,
        policy,
        interpreter,
        state,
        idle=box.idle,
        idle_renew=box.idle_renew,
        reconnect_max=box.reconnect_max,
    )


def _not_requesters(settings: Settings, box: ImapSettings) -> tuple[str, ...]:
    """Addresses a preset or folder mode never takes for the requester: the watched mailbox (its user name,
    when that is an address), notifier's From, the teams' Reply-To and the trusted helpdesk
    senders (exact addresses: a trusted domain may be the requesters' own)."""
    from email.utils import parseaddr

    replies = [team.reply_to for team in settings.teams.values() if team.reply_to]
    found = [box.username, settings.smtp.from_address, *box.trusted_senders, *replies]
    addresses = [parseaddr(a)[1] or a for a in found]
    return tuple(a for a in addresses if "@" in a and not a.startswith("@"))


def build_routes(settings: Settings) -> list[TeamRoute]:
    return [
        TeamRoute(name, {field: tuple(values) for field, values in team.match.items()})
        for name, team in settings.teams.items()
        if team.match
    ]


def own_addresses(settings: Settings) -> OwnAddresses:
    """Every address a notice must never go to, for every source: the From address, the
    teams' Reply-To, each watched mailbox's login when it is an address, the trusted
    helpdesk senders and ``[rules] never_notify`` (docs/rules.md)."""
    addresses: dict[str, str] = {}
    exact_domains: dict[str, str] = {}
    domains: dict[str, str] = {}

    def address(value: str, what: str) -> None:
        local, domain = mailbox_key(value)
        if local and domain:
            addresses.setdefault(f"{local}@{domain}", f"{what} ({value.strip()})")

    for entry in settings.rules.never_notify:
        if entry.strip().startswith("@") or "@" not in entry:
            domain = mailbox_key("x@" + entry.strip().lstrip("@"))[1]
            domains.setdefault(domain, f"under [rules] never_notify {entry.strip()!r}")
        else:
            address(entry, "listed in [rules] never_notify")
    address(settings.smtp.from_address, "our From address, smtp.from_address")
    for name, team in settings.teams.items():
        if team.reply_to:
            address(team.reply_to, f"the reply_to of team {name!r}")
    for box in settings.imap:
        if "@" in box.username:
            address(box.username, f"the mailbox [[imap]] {box.name!r} watches")
        for sender in box.trusted_senders:
            what = f"a trusted sender of [[imap]] {box.name!r}, trusted_senders"
            if sender.strip().startswith("@"):
                exact_domains.setdefault(mailbox_key("x" + sender)[1], f"{what} {sender.strip()!r}")
            else:
                address(sender, what)
    return OwnAddresses(addresses, exact_domains, domains)


def build_rules(
    settings: Settings, team: TeamSettings | None, own: OwnAddresses | None = None
) -> NoticeRules:
    """The global [rules] merged with one team's own settings."""
    rules = settings.rules
    hours = team.working_hours if team is not None else None
    return NoticeRules(
        notify=team.notify if team is not None else True,
        closure_reasons=frozenset(
            reason.casefold()
            for reason in [*rules.closure_reasons, *(team.closure_reasons if team else [])]
        ),
        closure_fields=tuple(rules.closure_fields),
        suppress_requesters=tuple(
            pattern.lower()
            for pattern in [*rules.suppress_requesters, *(team.suppress_requesters if team else [])]
        ),
        resolver_fields=tuple(rules.resolver_fields),
        max_age=rules.max_age or None,
        delay=team.delay if team is not None and team.delay is not None else rules.delay,
        working_hours=None
        if hours is None
        else WorkingHours(
            start=time.fromisoformat(hours.start),
            end=time.max if hours.end == "24:00" else time.fromisoformat(hours.end),
            days=hours.day_numbers(),
            zone=ZoneInfo(hours.timezone),
        ),
        own_addresses=own_addresses(settings) if own is None else own,
    )


def build_team_profiles(settings: Settings) -> dict[str, TeamProfile]:
    shared = build_gate(settings)
    own = own_addresses(settings)
    profiles = {
        name: TeamProfile(
            name,
            team.display_name or settings.smtp.from_name,
            team.reply_to or "",
            team.plain_policy or settings.plain.policy,
            build_gate(settings, name) if team.glossary else shared,
            build_rules(settings, team, own),
            team.reply_hint or "",
        )
        for name, team in settings.teams.items()
    }
    profiles.setdefault(
        DEFAULT_TEAM,
        TeamProfile(
            DEFAULT_TEAM,
            settings.smtp.from_name,
            "",
            settings.plain.policy,
            shared,
            build_rules(settings, None, own),
        ),
    )
    return profiles


def build_sender(settings: Settings, clock: Clock = system_clock) -> SmtpSender:
    """The SMTP sender; ConfigError now (not at the first send) for an unusable ca_file."""
    smtp = settings.smtp
    options = SmtpOptions(
        host=smtp.host,
        port=smtp.effective_port,
        security=smtp.security,
        username=smtp.username,
        password=smtp.resolve_password() if smtp.username and not smtp.oauth2 else None,
        tokens=mail_tokens(settings, "smtp", smtp.oauth2, None, smtp.ca_file, smtp.username or ""),
        timeout=smtp.timeout.total_seconds(),
        ca_file=smtp.ca_file,
        max_messages_per_session=smtp.max_messages_per_session,
        local_hostname=smtp.local_hostname,
        from_address=smtp.from_address,
        from_name=smtp.from_name,
        team_names=tuple(
            (name, team.display_name)
            for name, team in sorted(settings.teams.items())
            if team.display_name
        ),
    )
    tls_context(options)
    return SmtpSender(options, clock)


def open_outbox(settings: Settings, *, exclusive: bool = True) -> StateStore:
    """The state store, migrated. On SQLite, ``exclusive`` locks it for this process (the
    daemon); a PostgreSQL state is shared by every instance and takes no such lock."""
    state = settings.state
    if state.url is None:
        return Outbox.open(state.directory, exclusive=exclusive)
    from notifier.store.postgres.store import PostgresStore  # psycopg only when configured

    try:  # this instance's own files (status.json, OAuth2 sign-ins) stay local
        state.directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(
            f"cannot create state directory {state.directory}: {exc.strerror}"
        ) from exc
    return PostgresStore.open(*_database(state), password=state.resolve_password("state"))


def open_reader(state: StateSettings) -> StateQueries:
    """Read-only questions about the state (status, metrics); connects on the first one."""
    if state.url is None:
        return StateReader(state.directory)
    from notifier.store.postgres.reader import PostgresReader

    return PostgresReader(*_database(state), password=state.resolve_password("state"))


def copy_state(source: StateStore, target: StateStore) -> Mapping[str, int]:
    """``notifier migrate-state``: the whole of ``source`` into the empty ``target``."""
    from notifier.store.sql.store import SqlStore

    if not (isinstance(source, SqlStore) and isinstance(target, SqlStore)):
        raise StateError("migrate-state copies between notifier's SQL stores only")
    return source.copy_into(target)


def state_database(state: StateSettings) -> str:
    """The shared database, as messages name it (no password); "" for a SQLite state."""
    if state.url is None:
        return ""
    return _database(state)[1]


def _database(state: StateSettings) -> tuple[str, str]:
    """libpq's connection string for ``[state] url``, and the name messages give it."""
    from notifier.store.postgres import address

    url = state.url or ""
    return address.conninfo(url, state.ca_file), address.where(url)


class RoleKeeper(Roles, Protocol):
    """Roles, kept: the sources wanted (again after a reload), renewing started and stopped."""

    def want(self, sources: Iterable[str]) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


def open_roles(settings: Settings, outbox: StateStore) -> RoleKeeper:
    """What this instance does among those sharing its state: everything, on SQLite; on
    PostgreSQL, what its leases allow (not renewing yet: call ``start``)."""
    state = settings.state
    if state.url is None:
        return SoleInstance()
    from notifier.runtime.roles import LeaseKeeper

    keeper = LeaseKeeper(_membership(settings, outbox, state.instance_name), state.lease)
    keeper.want(source_names(settings))
    return keeper


class Wakeups(Protocol):
    """Wake-ups from the other instances sharing the state (``store/postgres/wakeups.py``)."""

    def start(self) -> None: ...

    def close(self) -> None: ...


def open_wakeups(settings: Settings, wake: Callable[[], None]) -> Wakeups:
    """On a shared state: ``wake`` is called when another instance received a webhook event
    (this one may hold its source's lease) or queued notices (this one may send them). Not
    listening yet: call ``start``."""
    state = settings.state
    if state.url is None:
        return SoleInstance()  # no other instance to be woken by
    from notifier.store.postgres.wakeups import WakeListener

    conninfo, where = _database(state)
    return WakeListener(conninfo, where, wake, password=state.resolve_password("state"))


# How long `notifier reread` holds a source's lease at most, should it end without giving it
# back: its IMAP search is bounded by the mailbox's own timeouts.
REREAD_HOLD = timedelta(minutes=2)


@contextlib.contextmanager
def source_taken_over(settings: Settings, outbox: StateStore, source: str) -> Iterator[str | None]:
    """While a command changes what ``source`` has read (``notifier reread``). On a shared
    state: the source's lease, taken from the instance reading it (named in the value; its
    chunk being committed is waited for, what it reads meanwhile is not kept), given back at
    the end (or lapses after ``REREAD_HOLD``). On SQLite nothing: the state directory's lock
    keeps the daemon out."""
    if settings.state.url is None:
        yield None
        return
    membership = _membership(settings, outbox, f"{settings.state.instance_name} (reread)")
    try:
        lease = source_lease(source)
        previous = membership.take(lease, max(settings.state.lease, REREAD_HOLD))
        try:
            yield previous
        finally:
            try:
                membership.give_back(lease)
            except StateError as exc:  # the change is made: the lease lapses by itself
                log.warning("lease_release_failed", instance=outbox.instance, error=str(exc))
    finally:
        membership.close()


def _membership(settings: Settings, outbox: StateStore, name: str) -> Membership:
    from notifier.store.postgres.leases import Membership

    state = settings.state
    conninfo, where = _database(state)
    return Membership(
        conninfo, where, instance=outbox.instance, name=name, pid=os.getpid(),
        password=state.resolve_password("state"),
    )  # fmt: skip


def source_names(settings: Settings) -> list[str]:
    """Every polled source's name: exports, mailboxes, APIs and webhook inboxes."""
    return [
        *(e.name for e in settings.exports),
        *(box.name for box in settings.imap),
        *(api.name for api in settings.api),
        *(hook.name for hook in settings.webhook),
    ]


def build_service(
    settings: Settings,
    outbox: StateStore,
    *,
    clock: Clock = system_clock,
    roles: RoleKeeper | None = None,
) -> Service:
    delivery = settings.delivery
    if roles is not None:
        roles.want(source_names(settings))
    return Service(
        roles=roles,
        sources=build_sources(settings, outbox, outbox),
        outbox=outbox,
        renderer=build_renderer(settings),
        routes=build_routes(settings),
        teams=build_team_profiles(settings),
        sender=build_sender(settings, clock),
        policy=RetryPolicy(delivery.retry_initial, delivery.retry_max, delivery.give_up_after),
        limits=DeliveryLimits(
            delivery.batch_size,
            delivery.rate_limit_per_minute,
            settings.rules.limit_per_recipient,
            settings.rules.limit_period,
            delivery.connections,
        ),
        domain=settings.smtp.from_address.rpartition("@")[2],
        clock=clock,
        backfill_since={
            **{box.name: box.backfill_since for box in settings.imap if box.backfill_since},
            **{api.name: api.backfill_since for api in settings.api if api.backfill_since},
        },
        helpdesks=helpdesks_of(settings),
        same_within=settings.rules.same_resolution_within,
    )


def helpdesks_of(settings: Settings) -> dict[str, str]:
    """Source name -> the helpdesk it reads, for the sources that name one."""
    named: list[tuple[str, str | None]] = [(e.name, e.helpdesk) for e in settings.exports]
    named += [(box.name, box.helpdesk) for box in settings.imap]
    named += [(hook.name, hook.helpdesk) for hook in settings.webhook]
    named += [(api.name, api.helpdesk) for api in settings.api]
    return {name: helpdesk for name, helpdesk in named if helpdesk}


def poll_interval(settings: Settings) -> timedelta:
    return settings.run.poll_interval
