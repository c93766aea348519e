"""One IMAP connection with deadlines: every command, from writing it to the end of its
answer (and the greeting, and a TLS handshake), ends within the source's ``timeout`` however
slowly the bytes come (docs/guarantees.md). :func:`connect` opens and logs in; errors are
:data:`NETWORK_ERRORS`, translated to ``SourceError`` by the source.
"""

from __future__ import annotations

import contextlib
import imaplib
import io
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from notifier.core.errors import ConfigError, SourceError
from notifier.netio import BoundedTLS, DeadlineReader, StepClock, send_all
from notifier.oauth2 import TokenError, TokenSource

# Everything an IMAP conversation can throw at us; translated to SourceError at the boundary.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    IMAPClientError,
    imaplib.IMAP4.error,
    OSError,  # includes socket.timeout, ConnectionError and ssl.SSLError
)
# Fetch bodies in groups of at most this many bytes, so memory stays bounded.
FETCH_BYTES = 32 * 1024 * 1024
# Deadlines (docs/guarantees.md). Every IMAP command, from writing it to the end of its answer
# (and the greeting, and a TLS handshake), must end within the source's ``timeout`` however
# slowly the bytes come, plus one second for every STEADY_RATE bytes it received (counted up
# to FETCH_BYTES): a big FETCH arriving at least that fast is never cut, a drip gains nothing.
STEADY_RATE = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ImapOptions:
    """How to reach and log in to one IMAP server."""

    host: str
    port: int
    security: Literal["tls", "starttls", "plain"]
    username: str
    password: str | None = None
    tokens: TokenSource | None = None  # OAuth2 (XOAUTH2) instead of a password
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


class _BoundedIMAP4(imaplib.IMAP4):
    """imaplib's connection with every command on a deadline (see :mod:`notifier.netio`).

    A step starts with each command (and at open, for the greeting); the reads and writes of
    its answer share the step's deadline. Outside a step (IMAP IDLE) reads are left as they are.
    """

    clock: StepClock
    _base_timeout: float | None
    _reader: io.BufferedReader | None = None
    _reader_sock: socket.socket | None = None

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        self.clock.start()
        super().open(host, port, timeout)

    def _command(self, name: str, *args: Any) -> Any:
        self.clock.start()
        return super()._command(name, *args)  # type: ignore[misc]

    def _file(self) -> io.BufferedReader:
        if self._reader is None or self._reader_sock is not self.sock:  # new socket: STARTTLS
            self._reader_sock = self.sock
            self._reader = io.BufferedReader(
                DeadlineReader(self.sock, self.clock, self._base_timeout)
            )
        return self._reader

    def readline(self) -> bytes:
        line = self._file().readline(imaplib._MAXLINE + 1)  # type: ignore[attr-defined]
        if len(line) > imaplib._MAXLINE:  # type: ignore[attr-defined]
            raise self.error(f"got more than {imaplib._MAXLINE} bytes")  # type: ignore[attr-defined]
        return line

    def read(self, size: int) -> bytes:
        return self._file().read(size)

    def send(self, data: Any) -> None:
        send_all(self.sock, bytes(data), self.clock, self._base_timeout)


class _PlainIMAP4(_BoundedIMAP4):
    def __init__(self, host: str, port: int, clock: StepClock, timeout: float) -> None:
        self.clock, self._base_timeout = clock, timeout
        super().__init__(host, port, timeout=timeout)


class _TlsIMAP4(_BoundedIMAP4):
    def __init__(
        self, host: str, port: int, clock: StepClock, timeout: float, context: BoundedTLS
    ) -> None:
        self.clock, self._base_timeout, self._context = clock, timeout, context
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        return self._context.wrap_socket(sock, server_hostname=self.host)


class _BoundedClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient over :class:`_BoundedIMAP4`; IMAP IDLE waits outside any step deadline."""

    def __init__(self, options: ImapOptions, context: ssl.SSLContext) -> None:
        self.clock = StepClock(
            options.timeout, bytes_per_second=STEADY_RATE, counted_bytes=FETCH_BYTES
        )
        self.bounded_tls = BoundedTLS(context, self.clock, options.timeout)
        self._options = options
        super().__init__(
            options.host,
            port=options.port,
            ssl=options.security == "tls",
            ssl_context=context,
            timeout=options.timeout,
        )

    def _create_IMAP4(self) -> imaplib.IMAP4:
        opts = self._options
        if opts.security == "tls":
            return _TlsIMAP4(opts.host, opts.port, self.clock, opts.timeout, self.bounded_tls)
        return _PlainIMAP4(opts.host, opts.port, self.clock, opts.timeout)

    def idle(self) -> None:
        super().idle()
        self.clock.stop()  # idle_check waits as long as its caller asks

    def idle_done(self) -> Any:
        self.clock.start()
        return super().idle_done()


def connect(options: ImapOptions) -> IMAPClient:
    """Open, secure and log in; SourceError names the server and the step that failed."""
    step = "connect"
    try:
        context = ssl.create_default_context(
            cafile=str(options.ca_file) if options.ca_file else None
        )
        client = _BoundedClient(options, context)
        try:
            if options.security == "starttls":
                step = "STARTTLS"
                client.starttls(client.bounded_tls)
            step = "login"
            if options.tokens is not None:
                _oauth2_login(client, options)
            else:
                _login(client, options)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client
    except NETWORK_ERRORS as exc:
        raise SourceError(f"IMAP {options.server}: {step} failed: {describe_error(exc)}") from exc
    except SourceError:
        raise
    except Exception as exc:
        # What imapclient raises for an answer it cannot parse. At login its text could quote
        # what was sent, so only the kind is named there.
        what = type(exc).__name__ if step == "login" else None
        raise SourceError(
            f"IMAP {options.server}: {step} failed: {not_understood(exc, what)}"
        ) from exc


def _oauth2_login(client: IMAPClient, options: ImapOptions) -> None:
    """AUTHENTICATE XOAUTH2 with the source's token; a refused one is reported to the source
    and the login tried once more with a new one (revoked, or ended early by clocks apart)."""
    assert options.tokens is not None
    tokens = options.tokens
    for attempt in (1, 2):
        try:
            token = tokens.token()
        except TokenError as exc:
            raise SourceError(
                f"IMAP {options.server}: login failed: no OAuth2 token: {exc}"
            ) from exc
        try:
            client.oauth2_login(options.username, token)
            return
        except LoginError:
            if attempt == 2:
                raise
            tokens.refused(token)


def _login(client: IMAPClient, options: ImapOptions) -> None:
    """LOGIN carries ASCII only (RFC 3501 quoted strings); any other password goes by
    AUTHENTICATE PLAIN, UTF-8 as RFC 4616 says. A secret's characters never reach a message."""
    username, password = options.username, options.password or ""
    if username.isascii() and password.isascii():
        client.login(username, password)
    elif client.has_capability("AUTH=PLAIN"):
        client.plain_login(username, password)
    else:
        raise SourceError(
            f"IMAP {options.server}: login failed: the user name or password has characters "
            "outside ASCII, which IMAP LOGIN cannot carry, and the server offers no AUTH=PLAIN"
        )


def not_understood(exc: Exception, text: str | None = None) -> str:
    """Words for an exception no IMAP error class covers: imapclient's (or this module's)
    reading of a garbled answer, such as ``int(b"many")``."""
    return f"an answer could not be understood ({text or f'{type(exc).__name__}: {exc}'})"


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    text = str(exc) or type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text


def build_options(
    *,
    host: str,
    port: int,
    security: Literal["tls", "starttls", "plain"],
    username: str,
    password: str | None,
    tokens: TokenSource | None,
    ca_file: Path | None,
    timeout: float,
) -> ImapOptions:
    if password is None and tokens is None:
        raise ConfigError(
            f"imap {host}: set password_file, password_credential, oauth2 or oauth2_token_file"
        )
    try:
        ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"imap {host}: ca_file: cannot load {ca_file}: {exc}") from exc
    return ImapOptions(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        tokens=tokens,
        ca_file=ca_file,
        timeout=timeout,
    )
