"""Configuration: the only reader of the TOML file, the environment and secret files.

Precedence, highest first: environment variables ``NOTIFIER_<SECTION>__<KEY>``, the TOML file,
then the defaults here. Every model forbids unknown keys so that a typo is an error naming the
key, never a silently ignored setting. Secrets are ``SecretStr`` and come from files or systemd
credentials (``$CREDENTIALS_DIRECTORY``); a plain-text password in the TOML is refused unless
``allow_plaintext_password = true``.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from notifier.delivery.message import parse_address
from notifier.durations import Duration
from notifier.errors import ConfigError, PermanentDeliveryError

DEFAULT_CONFIG_PATH = Path("/etc/notifier/config.toml")
EX_CONFIG = 78


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StateSettings(_Section):
    """Where the SQLite outbox and audit trail live."""

    # systemd's StateDirectory= sets $STATE_DIRECTORY; prefer it over the packaged default.
    directory: Path = Field(
        default_factory=lambda: Path(os.environ.get("STATE_DIRECTORY", "/var/lib/notifier"))
    )


class SmtpSettings(_Section):
    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "plain"] = "starttls"
    username: str | None = None
    password_file: Path | None = None
    password_credential: str | None = None
    password: SecretStr | None = None
    allow_plaintext_password: bool = False
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
        try:
            parse_address(self.from_address, "smtp.from_address")
        except PermanentDeliveryError as exc:
            raise ValueError(str(exc)) from None
        return self

    def resolve_password(self) -> str | None:
        """Read the password from wherever it is configured; ConfigError names the key."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return _read_secret(self.password_file, "smtp.password_file")
        if self.password_credential is not None:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(
                    "smtp.password_credential: $CREDENTIALS_DIRECTORY is not set "
                    "(use LoadCredential= in the systemd unit, or password_file)"
                )
            return _read_secret(
                Path(directory) / self.password_credential, "smtp.password_credential"
            )
        return None


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


class RunSettings(_Section):
    poll_interval: Duration = timedelta(seconds=30)


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class TemplateSettings(_Section):
    # None means the templates shipped with notifier.
    directory: Path | None = None


class TeamSettings(_Section):
    """One team: which tickets are theirs and how replies reach them."""

    # field name -> accepted values (case-insensitive). "team" matches the export's group column;
    # any other name matches that raw column of the ticket.
    match: dict[str, list[str]] = Field(default_factory=dict)
    reply_to: str | None = None
    display_name: str | None = None


class ExportSettings(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    path: str
    preset: str | None = None
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    resolved_statuses: list[str] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    timezone: str = "UTC"
    settle_seconds: float = Field(default=5.0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


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
    teams: dict[str, TeamSettings] = Field(default_factory=dict)
    exports: list[ExportSettings] = Field(default_factory=list)

    @_model_validator(mode="after")
    def _unique_source_names(self) -> Settings:
        names = [export.name for export in self.exports]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"exports: source names must be unique: {', '.join(duplicates)}")
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
        # The TOML document arrives as init arguments; the environment overrides it.
        return (env_settings, init_settings)


def load_settings(path: Path | None, *, required: bool = True) -> Settings:
    """Read, merge and validate the configuration, or raise ConfigError naming the key.

    Relative paths in the file are taken relative to the file's own directory.
    """
    document: dict[str, Any] = {}
    if path is not None:
        document = _read_toml(path, required=required)
    try:
        settings = Settings(**document)
    except ValidationError as exc:
        where = str(path) if path is not None and path.exists() else "configuration"
        raise ConfigError(f"{where}: {_describe(exc)}") from None
    if path is not None:
        settings = _anchor_relative_paths(settings, path.resolve().parent)
    return settings


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
    def anchor(value: Path | None) -> Path | None:
        if value is None or value.is_absolute():
            return value
        return base / value

    exports = [
        export.model_copy(
            update={
                "path": export.path if Path(export.path).is_absolute() else str(base / export.path)
            }
        )
        for export in settings.exports
    ]
    return settings.model_copy(
        update={
            "state": settings.state.model_copy(
                update={"directory": anchor(settings.state.directory)}
            ),
            "templates": settings.templates.model_copy(
                update={"directory": anchor(settings.templates.directory)}
            ),
            "smtp": settings.smtp.model_copy(
                update={
                    "password_file": anchor(settings.smtp.password_file),
                    "ca_file": anchor(settings.smtp.ca_file),
                }
            ),
            "exports": exports,
        }
    )
