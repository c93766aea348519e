"""SMTP delivery with :mod:`smtplib`: one session per batch, failures classified, never raised.

A :class:`SmtpSession` connects on its first send, reuses the connection for the batch and
answers every notice with a :class:`DeliveryResult`: ``SENT``, ``TRANSIENT`` (retry later) or
``PERMANENT`` (dead letter). Library exceptions stop here; nothing about one message escapes
as an exception, except :class:`~notifier.core.errors.SendInterrupted`: a stop arrived before the
message was handed over, and the caller puts it back in the queue untried.

Every read and write keeps to a deadline (:mod:`notifier.netio`): a server that drips its
answers cannot hold a batch, or a stop, for longer than one answer's ``smtp.timeout``.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, cast

from notifier.core.errors import ConfigError, DeliveryError, SendInterrupted
from notifier.core.model import DeliveryOutcome, DeliveryResult, Notice
from notifier.delivery.message import address_spec, message_bytes
from notifier.netio import BoundedTLS, DeadlineReader, ReadLimitExceeded, StepClock, send_all
from notifier.oauth2 import TokenError, TokenSource

if TYPE_CHECKING:
    from typing_extensions import Buffer  # typing.Buffer from Python 3.12

__all__ = [
    "MAX_REPLY_BYTES",
    "TRANSACTION_TIMEOUTS",
    "SmtpOptions",
    "SmtpSender",
    "SmtpSession",
    "classify_code",
]

Security = Literal["starttls", "tls", "plain"]
CheckStep = tuple[str, bool, str]

# Deadlines (docs/guarantees.md). Each command, from writing it to the end of its answer (and
# the greeting, and the message with the answer to it), must end within ``smtp.timeout``
# however slowly the bytes come; a whole transaction (MAIL FROM to the answer after the
# message) and the opening of a session (connect to AUTH) each within this many times that.
TRANSACTION_TIMEOUTS = 2
# The most one answer may hold (EHLO answers are well under 1 KiB); more is a runaway server.
MAX_REPLY_BYTES = 64 * 1024
_MAX_LINE = 8192  # smtplib's own limit on one answer line


@dataclass(frozen=True, kw_only=True)
class SmtpOptions:
    """How to reach the SMTP server. ``password`` is a plain str: the config layer unwraps it."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None
    # OAuth2 instead of a password: the bearer tokens of XOAUTH2 or OAUTHBEARER (RFC 7628).
    tokens: TokenSource | None = None
    timeout: float
    ca_file: Path | None = None
    max_messages_per_session: int = 50
    local_hostname: str | None = None
    from_address: str
    from_name: str = ""
    # (team, display name) pairs: a team's notices come from the name that signs them.
    team_names: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "plain"):
            raise ConfigError(f"smtp.security: {self.security!r} is not starttls, tls or plain")
        if not 0 < self.port < 65536:
            raise ConfigError(f"smtp.port: {self.port} is not a TCP port")
        if not self.timeout > 0:
            raise ConfigError("smtp.timeout: must be greater than 0 seconds")
        if self.max_messages_per_session < 1:
            raise ConfigError("smtp.max_messages_per_session: must be at least 1")
        if self.tokens is not None:
            if self.username is None or self.password is not None:
                raise ConfigError("smtp.oauth2: needs username, and no password")
        elif (self.username is None) != (self.password is None):
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


class UnreadableReply(smtplib.SMTPException):
    """The client could not read the server's answer (a line or an answer over the caps).

    Not a refusal: the server's code is unknown. After the message was sent, the server may
    have accepted it.
    """


class _Bounded(smtplib.SMTP):
    """smtplib's client with every step on a deadline (see :mod:`notifier.netio`).

    A step starts with each write (a command, or the message) and at connect (the greeting);
    it ends within ``timeout`` and within the overall limit of :attr:`clock`, if one is set.
    """

    clock: StepClock

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self.clock.start()
        return super().connect(host, port, source_address)

    def send(self, s: Buffer | str) -> None:
        self.clock.start()
        s = s.encode(self.command_encoding) if isinstance(s, str) else bytes(s)
        if not self.sock:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        try:
            send_all(self.sock, s, self.clock, self.timeout)
        except OSError as exc:
            self.close()
            raise smtplib.SMTPServerDisconnected("Server not connected") from exc

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = io.BufferedReader(DeadlineReader(self.sock, self.clock, self.timeout))
        try:
            return super().getreply()
        except ReadLimitExceeded as exc:
            self.close()
            raise UnreadableReply(str(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            # getreply raises this for one thing only: a line over smtplib's limit, which it
            # reports as a made-up "500 Line too long." That is not the server refusing.
            self.close()
            raise UnreadableReply(f"a line longer than {_MAX_LINE} bytes") from exc

    def bound(self, seconds: float) -> None:
        """Every step from now on also ends within ``seconds`` from now (None: no limit)."""
        self.clock.limit(seconds)

    def unbound(self) -> None:
        self.clock.limit(None)


class _BoundedSMTP(_Bounded):
    def __init__(self, options: SmtpOptions) -> None:
        self.clock = _step_clock(options)
        super().__init__(
            options.host,
            options.port,
            local_hostname=options.local_hostname,
            timeout=options.timeout,
        )


class _BoundedSMTPS(_Bounded, smtplib.SMTP_SSL):
    def __init__(self, options: SmtpOptions, context: ssl.SSLContext) -> None:
        self.clock = _step_clock(options)
        super().__init__(
            options.host,
            options.port,
            local_hostname=options.local_hostname,
            timeout=options.timeout,
            context=cast(ssl.SSLContext, BoundedTLS(context, self.clock, options.timeout)),
        )


def _step_clock(options: SmtpOptions) -> StepClock:
    clock = StepClock(options.timeout, max_step_bytes=MAX_REPLY_BYTES)
    clock.limit(TRANSACTION_TIMEOUTS * options.timeout)  # the opening, until _open ends
    return clock


class SmtpSender:
    """Builds sessions; holds options and the clock only. Nothing connects here."""

    def __init__(self, options: SmtpOptions, clock: Callable[[], datetime]) -> None:
        self._options = options
        self._clock = clock

    @property
    def options(self) -> SmtpOptions:
        return self._options

    def session(self, stop: threading.Event | None = None) -> SmtpSession:
        """A session for one batch; use it as a context manager so it is closed with QUIT.

        Once ``stop`` is set no new command is written: the answer in flight is awaited (within
        its deadline), a message not yet handed over raises SendInterrupted from ``send``.
        """
        return SmtpSession(self._options, self._clock, stop)

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

    def __init__(
        self,
        options: SmtpOptions,
        clock: Callable[[], datetime],
        stop: threading.Event | None = None,
    ) -> None:
        self._options = options
        self._clock = clock
        self._stop = stop
        self._team_names = dict(options.team_names)
        self._conn: _Bounded | None = None
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
        """Send one notice and say how it went. Never raises for a problem with the message;
        raises SendInterrupted when a stop came before the message was handed over."""
        opts = self._options
        try:
            data = message_bytes(
                notice,
                from_address=opts.from_address,
                from_name=self._team_names.get(notice.team, opts.from_name),
                now=self._clock(),
            )
        except DeliveryError as exc:
            return DeliveryResult(DeliveryOutcome.PERMANENT, detail=str(exc))
        envelope_from = address_spec(opts.from_address, "from_address")  # cached: checked once
        recipient = address_spec(notice.to_email, "to_email")

        if self._failed is not None:
            # The server could not be reached (or answered too slowly) for this batch: do not
            # hammer it, or wait for it, once per notice.
            return self._failed
        if self._conn is not None and self._sent_on_connection >= opts.max_messages_per_session:
            self._quit()
        if self._conn is None:
            try:
                self._conn = _open(opts, None, self._stop)
            except _ConnectFailed as failed:
                self._failed = failed.result
                return failed.result
            self.connections_opened += 1
            self._sent_on_connection = 0
        return self._transaction(self._conn, envelope_from, recipient, data)

    def close(self) -> None:
        """End the session politely (QUIT); errors are ignored, the socket is closed regardless.

        After a stop there is no QUIT: its answer is not worth waiting for."""
        if self._stopping():
            self._drop()
        self._quit()

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _interrupt_if_stopping(self, stage: str) -> None:
        """Before a new command: after a stop, leave without sending it (nothing was sent)."""
        if self._stopping():
            self._drop()  # the server drops a transaction that never reached the end of DATA
            raise SendInterrupted(f"{self._options.server}: stopped before {stage}")

    def _transaction(
        self, conn: _Bounded, envelope_from: str, recipient: str, data: bytes
    ) -> DeliveryResult:
        server = self._options.server
        self._sent_on_connection += 1
        stage = "MAIL FROM"
        conn.bound(TRANSACTION_TIMEOUTS * self._options.timeout)
        try:
            # docmd, not mail()/rcpt(): those re-parse addresses address_spec already checked.
            code, reply = conn.docmd("mail", f"FROM:<{envelope_from}>")
            if code != 250:
                # A refused sender (530 authentication required, 550 sender not allowed) is
                # about our configuration or session, not this notice: retry, never dead-letter.
                return self._refused(conn, "MAIL FROM", code, reply, transient=True)
            self._interrupt_if_stopping(stage := "RCPT TO")
            code, reply = conn.docmd("rcpt", f"TO:<{recipient}>")
            if code not in (250, 251):
                return self._refused(conn, f"RCPT TO <{recipient}>", code, reply)
            self._interrupt_if_stopping(stage := "DATA")
            code, reply = conn.docmd("data")
            if code != 354:
                return self._refused(conn, "DATA", code, reply)
            self._interrupt_if_stopping(stage := "end of DATA")
            conn.send(_data_block(data))
            code, reply = conn.getreply()
            if code != 250:
                return self._refused(conn, "end of DATA", code, reply)
        except (UnreadableReply, OSError, smtplib.SMTPException) as exc:
            # SMTPServerDisconnected is an OSError too; smtplib raises it for a dropped
            # connection and, wrapping the socket timeout, for a server that went silent.
            overall = conn.clock.overall_expired
            self._drop()
            if isinstance(exc, UnreadableReply):
                reason = f"the answer to {stage} could not be read ({exc})"
            elif _timed_out(exc) and overall:
                reason = (
                    f"the transaction took longer than "
                    f"{TRANSACTION_TIMEOUTS * self._options.timeout:g} s (at {stage})"
                )
            elif _timed_out(exc):
                reason = f"no complete answer within {self._options.timeout:g} s to {stage}"
            elif isinstance(exc, smtplib.SMTPServerDisconnected):
                reason = f"connection closed by server ({exc})"
            else:
                reason = f"connection failed ({exc or type(exc).__name__})"
            if stage == "end of DATA":
                reason += (
                    "; the server may have accepted the message: it is retried with the same "
                    "Message-ID"
                )
            if isinstance(exc, UnreadableReply) or _timed_out(exc):
                # A server this slow or this broken holds every message of the batch the same
                # way: the rest wait for their next attempt instead of a deadline each.
                self._failed = DeliveryResult(
                    DeliveryOutcome.TRANSIENT,
                    detail=f"{server}: not tried: an earlier message of this batch got no "
                    f"usable answer in time",
                )
            return DeliveryResult(DeliveryOutcome.TRANSIENT, detail=f"{server}: {reason}")
        finally:
            if self._conn is not None:
                conn.unbound()
        return DeliveryResult(DeliveryOutcome.SENT, code=code, reply=_text(reply))

    def _refused(
        self,
        conn: _Bounded,
        stage: str,
        code: int,
        reply: bytes | str,
        *,
        transient: bool = False,
    ) -> DeliveryResult:
        """The server refused this message; keep the connection for the next one if we can."""
        text = _text(reply)
        if code == 421 or code < 0 or self._stopping():
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


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _data_block(data: bytes) -> bytes:
    """The message as sent after DATA: leading dots doubled, ended by CRLF "." CRLF."""
    block = _LEADING_DOT.sub(b"..", data)
    if not block.endswith(b"\r\n"):
        block += b"\r\n"
    return block + b".\r\n"


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


def _open(
    options: SmtpOptions,
    record: Callable[[CheckStep], None] | None,
    stop: threading.Event | None = None,
) -> _Bounded:
    """Connect, greet, secure and log in as configured; raise :class:`_ConnectFailed` if not.

    ``record`` receives each step as it completes (for ``check-config --connect``). The whole
    opening keeps to ``TRANSACTION_TIMEOUTS`` x ``timeout``; after ``stop`` no further step
    starts (SendInterrupted).
    """
    note: Callable[[CheckStep], None] = record if record is not None else (lambda _: None)
    try:
        context = tls_context(options)
    except ConfigError as exc:
        note(("connect", False, str(exc)))
        raise _ConnectFailed(
            DeliveryResult(DeliveryOutcome.TRANSIENT, detail=f"{options.server}: {exc}")
        ) from exc
    conn: _Bounded | None = None
    step = "connect"

    def go_on(next_step: str) -> str:
        if stop is not None and stop.is_set():
            raise SendInterrupted(f"{options.server}: stopped before {next_step}")
        return next_step

    try:
        # Pass the host to the constructor: smtplib only uses it for TLS hostname checks then.
        if options.security == "tls":
            conn = _BoundedSMTPS(options, context)
        else:
            conn = _BoundedSMTP(options)
        note((step, True, f"connected ({_tls_version(conn)})"))

        step = go_on("ehlo")
        conn.ehlo_or_helo_if_needed()
        note((step, True, _extensions(conn)))

        if options.security == "starttls":
            step = go_on("starttls")
            if not conn.has_extn("starttls"):
                raise _step_failed(conn, options, step, "server does not offer STARTTLS", None, "")
            bounded = BoundedTLS(context, conn.clock, options.timeout)
            code, reply = conn.starttls(context=cast(ssl.SSLContext, bounded))
            conn.ehlo()
            note((step, True, f"{code} {_text(reply)} ({_tls_version(conn)})"))

        step = go_on("auth")
        if options.username is not None and options.tokens is not None:
            code, reply, mechanism = _oauth2_login(conn, options.username, options.tokens)
            note((step, True, f"{code} {_text(reply)} ({mechanism}, {options.tokens.where})"))
        elif options.username is not None and options.password is not None:
            # Over "plain" this sends the password in the clear; the operator chose that.
            code, reply = _login(conn, options.username, options.password)
            clear = " (password sent unencrypted)" if options.security == "plain" else ""
            note((step, True, f"{code} {_text(reply)}{clear}"))
        else:
            note((step, True, "skipped: no username configured"))
        go_on("MAIL FROM")
        conn.unbound()
        return conn
    except SendInterrupted:
        if conn is not None:
            conn.close()
        raise
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
    except TokenError as exc:  # no token to log in with: the provider says why
        raise _step_failed(conn, options, step, f"no OAuth2 token: {exc}", None, "", note) from exc
    except UnreadableReply as exc:
        reason = f"the answer during {step} could not be read ({exc})"
        raise _step_failed(conn, options, step, reason, None, "", note) from exc
    except (OSError, smtplib.SMTPException) as exc:
        if _timed_out(exc) and conn is not None and conn.clock.overall_expired:
            limit = TRANSACTION_TIMEOUTS * options.timeout
            reason = f"opening the session took longer than {limit:g} s (at {step})"
        elif _timed_out(exc):
            reason = f"no complete answer within {options.timeout:g} s during {step}"
        else:
            reason = f"{step} failed: {exc or type(exc).__name__}"
        raise _step_failed(conn, options, step, reason, None, "", note) from exc


def _login(conn: _Bounded, username: str, password: str) -> tuple[int, bytes]:
    """AUTH PLAIN (RFC 4616: user name and password as UTF-8), or LOGIN where PLAIN is not
    offered (no standard; sent as UTF-8 too, which servers comparing bytes accept).

    smtplib's own login encodes as ASCII and crashes on any other character.
    """
    offered = conn.esmtp_features.get("auth", "").upper().split()

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    if "PLAIN" in offered:
        code, reply = conn.docmd("AUTH", "PLAIN " + b64(f"\0{username}\0{password}"))
    elif "LOGIN" in offered:
        code, reply = conn.docmd("AUTH", "LOGIN " + b64(username))
        if code == 334:
            code, reply = conn.docmd(b64(password))
    else:
        raise smtplib.SMTPNotSupportedError(
            f"the server offers no AUTH mechanism notifier speaks (PLAIN, LOGIN): {offered}"
        )
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)
    return code, reply


def _oauth2_login(conn: _Bounded, username: str, tokens: TokenSource) -> tuple[int, bytes, str]:
    """AUTH XOAUTH2 (Microsoft's and Google's) or OAUTHBEARER (RFC 7628) with the source's
    token; a refused token is reported to the source and the login tried once more with a
    new one (it may have been revoked, or ended early by clocks apart).

    A refusal comes as a 334 challenge holding the server's error (JSON, base64): the client
    answers it (empty for XOAUTH2, ``^A`` for OAUTHBEARER) to get the final 535.
    """
    offered = conn.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("XOAUTH2", "OAUTHBEARER") if m in offered), None)
    if mechanism is None:
        raise smtplib.SMTPNotSupportedError(
            f"the server offers no OAuth2 mechanism (XOAUTH2, OAUTHBEARER): {offered}"
        )
    code, reply = 0, b""
    for attempt in (1, 2):
        token = tokens.token()
        if mechanism == "XOAUTH2":
            initial = f"user={username}\x01auth=Bearer {token}\x01\x01"
        else:
            initial = f"n,a={username},\x01auth=Bearer {token}\x01\x01"
        code, reply = conn.docmd(
            "AUTH", f"{mechanism} {base64.b64encode(initial.encode()).decode('ascii')}"
        )
        if code == 334:
            code, reply = conn.docmd("" if mechanism == "XOAUTH2" else "AQ==")
        if code in (235, 503):  # 503: already authenticated
            return code, reply, mechanism
        if attempt == 1 and code in (535, 454):
            tokens.refused(token)
            continue
        break
    raise smtplib.SMTPAuthenticationError(code, reply)


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
