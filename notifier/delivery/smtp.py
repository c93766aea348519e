"""SMTP delivery with :mod:`smtplib`: one session per batch, failures classified, never raised.

A :class:`SmtpSession` connects on its first send, reuses the connection for the batch and
answers every notice with a :class:`DeliveryResult`: ``SENT``, ``TRANSIENT`` (retry later) or
``PERMANENT`` (dead letter). Library exceptions stop here; nothing about one message escapes
as an exception.
"""

from __future__ import annotations

import functools
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

from notifier.delivery.message import address_spec, message_bytes
from notifier.errors import ConfigError, DeliveryError
from notifier.model import DeliveryOutcome, DeliveryResult, Notice

__all__ = ["SmtpOptions", "SmtpSender", "SmtpSession", "classify_code"]

Security = Literal["starttls", "tls", "plain"]
CheckStep = tuple[str, bool, str]


@dataclass(frozen=True, kw_only=True)
class SmtpOptions:
    """How to reach the SMTP server. ``password`` is a plain str: the config layer unwraps it."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None
    timeout: float
    ca_file: Path | None = None
    max_messages_per_session: int = 50
    local_hostname: str | None = None
    from_address: str
    from_name: str = ""

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "plain"):
            raise ConfigError(f"smtp.security: {self.security!r} is not starttls, tls or plain")
        if not 0 < self.port < 65536:
            raise ConfigError(f"smtp.port: {self.port} is not a TCP port")
        if not self.timeout > 0:
            raise ConfigError("smtp.timeout: must be greater than 0 seconds")
        if self.max_messages_per_session < 1:
            raise ConfigError("smtp.max_messages_per_session: must be at least 1")
        if (self.username is None) != (self.password is None):
            raise ConfigError("smtp.username and smtp.password: set both or neither")

    @property
    def server(self) -> str:
        """``host:port``, used to prefix every explanation."""
        return f"{self.host}:{self.port}"


def classify_code(code: int) -> DeliveryOutcome:
    """The outcome of an SMTP refusal by reply code.

    5xx is permanent except 552, which RFC 5321 (4.5.3.1.10) says to treat as 452 (a full
    mailbox may empty). Anything that is not a 5xx (4xx, or a code we do not understand)
    is worth another try.
    """
    if 500 <= code <= 599 and code != 552:
        return DeliveryOutcome.PERMANENT
    return DeliveryOutcome.TRANSIENT


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", errors="replace")
    return reply


class _ConnectFailed(Exception):
    """Opening the session failed; carries the result every later send in the batch returns."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


class SmtpSender:
    """Builds sessions; holds options and the clock only. Nothing connects here."""

    def __init__(self, options: SmtpOptions, clock: Callable[[], datetime]) -> None:
        self._options = options
        self._clock = clock

    @property
    def options(self) -> SmtpOptions:
        return self._options

    def session(self) -> SmtpSession:
        """A session for one batch; use it as a context manager so it is closed with QUIT."""
        return SmtpSession(self._options, self._clock)

    def check(self) -> list[CheckStep]:
        """Connect, EHLO, STARTTLS and AUTH as configured, send nothing; report each step.

        Each entry is ``(step, ok, what happened)``; the list stops at the first failure.
        """
        steps: list[CheckStep] = []
        try:
            conn = _open(self._options, steps.append)
        except _ConnectFailed:
            return steps
        try:
            code, reply = conn.quit()
            steps.append(("quit", True, f"{code} {_text(reply)}"))
        except (smtplib.SMTPException, OSError) as exc:
            steps.append(("quit", False, f"{self._options.server}: {exc}"))
            conn.close()
        return steps


class SmtpSession:
    """One batch over (usually) one SMTP connection. Not thread-safe; one batch at a time."""

    def __init__(self, options: SmtpOptions, clock: Callable[[], datetime]) -> None:
        self._options = options
        self._clock = clock
        self._conn: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        self._failed: DeliveryResult | None = None
        self.connections_opened = 0  # for logs and tests: how often this batch connected

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, notice: Notice) -> DeliveryResult:
        """Send one notice and say how it went. Never raises for a problem with the message."""
        opts = self._options
        try:
            data = message_bytes(
                notice, from_address=opts.from_address, from_name=opts.from_name, now=self._clock()
            )
        except DeliveryError as exc:
            return DeliveryResult(DeliveryOutcome.PERMANENT, detail=str(exc))
        envelope_from = address_spec(opts.from_address, "from_address")  # cached: checked once
        recipient = address_spec(notice.to_email, "to_email")

        if self._failed is not None:
            # The server could not be reached for this batch: do not hammer it once per notice.
            return self._failed
        if self._conn is not None and self._sent_on_connection >= opts.max_messages_per_session:
            self._quit()
        if self._conn is None:
            try:
                self._conn = _open(opts, None)
            except _ConnectFailed as failed:
                self._failed = failed.result
                return failed.result
            self.connections_opened += 1
            self._sent_on_connection = 0
        return self._transaction(self._conn, envelope_from, recipient, data)

    def close(self) -> None:
        """End the session politely (QUIT); errors are ignored, the socket is closed regardless."""
        self._quit()

    def _transaction(
        self, conn: smtplib.SMTP, envelope_from: str, recipient: str, data: bytes
    ) -> DeliveryResult:
        server = self._options.server
        self._sent_on_connection += 1
        try:
            # docmd, not mail()/rcpt(): those re-parse addresses address_spec already checked.
            code, reply = conn.docmd("mail", f"FROM:<{envelope_from}>")
            if code != 250:
                # A refused sender (530 authentication required, 550 sender not allowed) is
                # about our configuration or session, not this notice: retry, never dead-letter.
                return self._refused(conn, "MAIL FROM", code, reply, transient=True)
            code, reply = conn.docmd("rcpt", f"TO:<{recipient}>")
            if code not in (250, 251):
                return self._refused(conn, f"RCPT TO <{recipient}>", code, reply)
            # data() raises SMTPDataError when DATA itself is refused, returns the final reply.
            code, reply = conn.data(data)
            if code != 250:
                return self._refused(conn, "end of DATA", code, reply)
        except smtplib.SMTPDataError as exc:
            return self._refused(conn, "DATA", exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPResponseException as exc:
            return self._refused(conn, "command", exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            # SMTPServerDisconnected is an OSError too; smtplib raises it for a dropped
            # connection and, wrapping the socket timeout, for a server that went silent.
            self._drop()
            if _timed_out(exc):
                reason = f"no answer within {self._options.timeout:g} s"
            elif isinstance(exc, smtplib.SMTPServerDisconnected):
                reason = f"connection closed by server ({exc})"
            else:
                reason = f"connection failed ({exc or type(exc).__name__})"
            return DeliveryResult(DeliveryOutcome.TRANSIENT, detail=f"{server}: {reason}")
        return DeliveryResult(DeliveryOutcome.SENT, code=code, reply=_text(reply))

    def _refused(
        self,
        conn: smtplib.SMTP,
        stage: str,
        code: int,
        reply: bytes | str,
        *,
        transient: bool = False,
    ) -> DeliveryResult:
        """The server refused this message; keep the connection for the next one if we can."""
        text = _text(reply)
        if code == 421 or code < 0:
            # 421: the server is closing the channel. -1: smtplib saw garbage, not a reply.
            self._drop()
        else:
            try:
                rset_code, _ = conn.rset()
                if rset_code != 250:
                    self._quit()
            except (smtplib.SMTPException, OSError):
                self._drop()
        return DeliveryResult(
            DeliveryOutcome.TRANSIENT if transient else classify_code(code),
            code=code,
            reply=text,
            detail=f"{self._options.server}: {stage} refused: {code} {text}",
        )

    def _quit(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            conn.close()

    def _drop(self) -> None:
        """Forget a broken connection without talking to the server again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


@functools.lru_cache(maxsize=4)
def tls_context(options: SmtpOptions) -> ssl.SSLContext:
    """The client TLS context: system CAs, or ``ca_file``; ConfigError when that is unusable.

    Built once per configuration: loading the CA bundle costs ~20 ms, a quarter of a pass.
    """
    try:
        return ssl.create_default_context(
            cafile=str(options.ca_file) if options.ca_file is not None else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"smtp.ca_file: cannot load {options.ca_file}: {exc}") from exc


def _open(options: SmtpOptions, record: Callable[[CheckStep], None] | None) -> smtplib.SMTP:
    """Connect, greet, secure and log in as configured; raise :class:`_ConnectFailed` if not.

    ``record`` receives each step as it completes (for ``check-config --connect``).
    """
    note: Callable[[CheckStep], None] = record if record is not None else (lambda _: None)
    try:
        context = tls_context(options)
    except ConfigError as exc:
        note(("connect", False, str(exc)))
        raise _ConnectFailed(
            DeliveryResult(DeliveryOutcome.TRANSIENT, detail=f"{options.server}: {exc}")
        ) from exc
    conn: smtplib.SMTP | None = None
    step = "connect"
    try:
        # Pass the host to the constructor: smtplib only uses it for TLS hostname checks then.
        if options.security == "tls":
            conn = smtplib.SMTP_SSL(
                options.host,
                options.port,
                local_hostname=options.local_hostname,
                timeout=options.timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                options.host,
                options.port,
                local_hostname=options.local_hostname,
                timeout=options.timeout,
            )
        note((step, True, f"connected ({_tls_version(conn)})"))

        step = "ehlo"
        conn.ehlo_or_helo_if_needed()
        note((step, True, _extensions(conn)))

        if options.security == "starttls":
            step = "starttls"
            if not conn.has_extn("starttls"):
                raise _step_failed(conn, options, step, "server does not offer STARTTLS", None, "")
            code, reply = conn.starttls(context=context)
            conn.ehlo()
            note((step, True, f"{code} {_text(reply)} ({_tls_version(conn)})"))

        step = "auth"
        if options.username is not None and options.password is not None:
            # Over "plain" this sends the password in the clear; the operator chose that.
            code, reply = conn.login(options.username, options.password)
            clear = " (password sent unencrypted)" if options.security == "plain" else ""
            note((step, True, f"{code} {_text(reply)}{clear}"))
        else:
            note((step, True, "skipped: no username configured"))
        return conn
    except _ConnectFailed as failed:
        note((step, False, failed.result.detail))
        raise
    except ssl.SSLCertVerificationError as exc:
        reason = f"certificate verify failed: {exc.verify_message}"
        raise _step_failed(conn, options, step, reason, None, "", note) from exc
    except smtplib.SMTPResponseException as exc:
        what = "authentication failed" if step == "auth" else f"{step} refused"
        text = _text(exc.smtp_error)
        raise _step_failed(
            conn, options, step, f"{what}: {exc.smtp_code} {text}", exc.smtp_code, text, note
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise _step_failed(conn, options, step, f"{step}: {exc}", None, "", note) from exc
    except (OSError, smtplib.SMTPException) as exc:
        if _timed_out(exc):
            reason = f"no answer within {options.timeout:g} s during {step}"
        else:
            reason = f"{step} failed: {exc or type(exc).__name__}"
        raise _step_failed(conn, options, step, reason, None, "", note) from exc


def _step_failed(
    conn: smtplib.SMTP | None,
    options: SmtpOptions,
    step: str,
    reason: str,
    code: int | None,
    reply: str,
    note: Callable[[CheckStep], None] | None = None,
) -> _ConnectFailed:
    """Close the half-open connection and describe the failure, naming the server."""
    if conn is not None:
        conn.close()
    detail = f"{options.server}: {reason}"
    if note is not None:
        note((step, False, detail))
    return _ConnectFailed(
        DeliveryResult(DeliveryOutcome.TRANSIENT, code=code, reply=reply, detail=detail)
    )


def _timed_out(exc: BaseException) -> bool:
    """True if ``exc`` is, or was raised while handling, a socket timeout."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _tls_version(conn: smtplib.SMTP) -> str:
    sock = conn.sock
    if isinstance(sock, ssl.SSLSocket):
        return f"{sock.version()}, certificate verified"
    return "not encrypted"


def _extensions(conn: smtplib.SMTP) -> str:
    names = " ".join(sorted(name.upper() for name in conn.esmtp_features))
    return f"extensions: {names}" if names else "no ESMTP extensions (HELO)"
