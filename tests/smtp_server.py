"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1, a free port, scripted behaviour.

Nothing here mocks smtplib: the code under test talks SMTP over a real socket to a real
server running in a background thread, and the tests read what the server received.

Use the ``smtp_server`` fixture from ``tests/conftest.py``::

    def test_something(smtp_server: SmtpServerFactory) -> None:
        server = smtp_server(security="starttls", auth=("robot", "s3cret"))
        ...  # point the client at server.host, server.port, server.ca_file
        assert server.messages[0].message["Subject"] == "..."

or, outside pytest, ``with SmtpTestServer(...) as server: ...``. For e2e tests that run
``notifier`` as a subprocess, ``server.client_settings()`` gives host, port, security, ca_file
(a PEM file on disk) and credentials, and ``server.wait_for_messages(n)`` waits for delivery.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import re
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = [
    "ReceivedMessage",
    "ServerBehaviour",
    "SmtpServerFactory",
    "SmtpTestServer",
    "free_port",
    "server_tls_context",
]

ServerSecurity = Literal["plain", "starttls", "tls"]
SERVER_HOSTNAMES = ("127.0.0.1", "localhost")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_tls_context(ca: trustme.CA, names: Iterable[str] = SERVER_HOSTNAMES) -> ssl.SSLContext:
    """A server-side TLS context with a certificate from ``ca`` for ``names``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@dataclass(frozen=True)
class ServerBehaviour:
    """What the server answers. The default accepts everything.

    ``defer_first``: answer the first N messages at end of DATA with ``defer_reply`` (4xx).
    ``data_reply``: answer every (later) message at end of DATA with this instead of accepting
    (for example ``"550 5.7.1 Rejected as spam"`` or ``"552 5.2.2 Mailbox full"``).
    ``refuse_recipients``: address (any case) -> reply given at RCPT TO.
    ``drop_first``: for the first N messages, read the whole DATA, then close the connection
    without answering (the client cannot know whether the message was taken).
    ``data_delay``: wait this many seconds at end of DATA before answering (a slow server, so
    that a test can act while a transaction is in flight).
    ``slow_messages``: text -> seconds: a message that contains the text waits that long at
    end of DATA (it stays in flight while others, on other connections, can finish).
    ``accept_reply``: the reply that accepts a message at end of DATA (the message is
    recorded); for example a 200 KiB line, which a client cannot read.
    ``reply_delay``: every answer after the greeting waits this long (a server slow at every
    step, each answer within the client's timeout).
    ``drip``: at this point the server answers one byte every ``drip_interval`` seconds, a
    multi-line reply that never ends: ``"greeting"`` (the 220 on connect), ``"mail"`` (the
    answer to MAIL FROM) or ``"end_of_data"`` (the final answer, after the message was read and
    recorded in ``messages``). With ``drip_interval = 0`` the lines stream as fast as they
    can instead (a reply that never ends).
    """

    defer_first: int = 0
    defer_reply: str = "451 4.7.1 Greylisted, please try again later"
    data_reply: str | None = None
    refuse_recipients: Mapping[str, str] = field(default_factory=dict)
    drop_first: int = 0
    data_delay: float = 0.0
    slow_messages: Mapping[bytes, float] = field(default_factory=dict)
    accept_reply: str = "250 2.0.0 OK queued"
    drip: Literal["greeting", "mail", "end_of_data"] | None = None
    drip_interval: float = 0.5
    reply_delay: float = 0.0


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted, exactly as it arrived."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    connection: int  # 1 for the first connection the server saw after start, 2 for the next...

    @property
    def message(self) -> EmailMessage:
        """The message parsed with ``email.policy.default`` (headers decoded)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def raw_header_lines(self) -> list[bytes]:
        """Header section lines as received, continuation lines kept separate."""
        head = re.split(rb"\r?\n\r?\n", self.data, maxsplit=1)[0]
        return re.split(rb"\r?\n", head)

    @property
    def header_names(self) -> list[str]:
        """Field names in order, read from the raw bytes (not via the email parser)."""
        names = []
        for line in self.raw_header_lines:
            if line[:1] in (b" ", b"\t"):
                continue  # folded continuation of the previous field
            names.append(line.split(b":", 1)[0].decode("ascii", "replace"))
        return names


class RecordingHandler:
    """aiosmtpd handler: applies a :class:`ServerBehaviour` and records what was accepted."""

    def __init__(self, behaviour: ServerBehaviour) -> None:
        self.behaviour = behaviour
        self.messages: list[ReceivedMessage] = []
        self.data_attempts = 0  # every end of DATA, accepted or not
        self.dropped: list[bytes] = []  # messages read in full, then the connection was dropped
        self.in_data = 0  # transactions between end of DATA and the reply, now
        self.most_in_data = 0  # the most at once so far (clients sending side by side)
        self.drips = 0  # dripping answers started so far
        self._changed = threading.Condition()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusals = {k.lower(): v for k, v in self.behaviour.refuse_recipients.items()}
        if address.lower() in refusals:
            return refusals[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._changed:
            self.in_data += 1
            self.most_in_data = max(self.most_in_data, self.in_data)
        try:
            return await self._answer_data(server, envelope)
        finally:
            with self._changed:
                self.in_data -= 1

    async def _answer_data(self, server: SMTP, envelope: Envelope) -> str:
        behaviour = self.behaviour
        with self._changed:
            self.data_attempts += 1
            attempt = self.data_attempts
        data = bytes(envelope.original_content or b"")
        if behaviour.data_delay > 0:
            await asyncio.sleep(behaviour.data_delay)
        for text, delay in behaviour.slow_messages.items():
            if text in data:
                await asyncio.sleep(delay)
        if attempt <= behaviour.drop_first:
            with self._changed:
                self.dropped.append(data)
                self._changed.notify_all()
            transport = server.transport
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
            # connection_lost cancels this coroutine; the sleep only bounds a surprise.
            await asyncio.sleep(30)
            return "451 4.3.0 not reached"
        if attempt <= behaviour.drop_first + behaviour.defer_first:
            return behaviour.defer_reply
        if behaviour.data_reply is not None:
            return behaviour.data_reply
        received = ReceivedMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            connection=int(getattr(server, "connection_number", 0)),
        )
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()
        if behaviour.drip == "end_of_data" and isinstance(server, _CountingSMTP):
            server.drip_next = True
        return behaviour.accept_reply

    def drip_started(self) -> None:
        with self._changed:
            self.drips += 1
            self._changed.notify_all()

    def wait_for_drips(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` dripping answers have started; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.drips >= count, timeout)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMessage]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


class _CountingSMTP(SMTP):
    """aiosmtpd's SMTP protocol, knowing which TCP connection (1, 2, ...) it serves, and
    telling its server when a session opens and closes."""

    connection_number = 0
    owner: SmtpTestServer | None = None
    drip_next = False  # the next reply is dripped (ServerBehaviour.drip)
    greeted = False  # the 220 greeting was sent
    continuing = False  # the last line pushed was not the last of its answer ("250-")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.owner is not None:
            self.owner._session_opened()
        self.drip_next = self._behaviour().drip == "greeting"

    def _behaviour(self) -> ServerBehaviour:
        handler = self.event_handler
        return handler.behaviour if isinstance(handler, RecordingHandler) else ServerBehaviour()

    async def smtp_MAIL(self, arg: str | None) -> None:
        self.drip_next = self._behaviour().drip == "mail"
        await super().smtp_MAIL(arg)

    async def push(self, status: Any) -> None:
        delay = self._behaviour().reply_delay
        text = status.encode() if isinstance(status, str) else bytes(status)
        if delay > 0 and self.greeted and not self.continuing:
            await asyncio.sleep(delay)  # once per answer, before its first line
        self.greeted = True
        self.continuing = text[3:4] == b"-"
        if not self.drip_next:
            await super().push(status)
            return
        self.drip_next = False
        handler = self.event_handler
        if isinstance(handler, RecordingHandler):
            handler.drip_started()
        code = text[:3]
        interval = self._behaviour().drip_interval
        line = code + b"-still working on it\r\n"
        while interval <= 0:
            self._writer.write(line * 100)
            await self._writer.drain()
            await asyncio.sleep(0)
        while True:  # until the client goes away (connection_lost cancels this coroutine)
            for value in line:
                self._writer.write(bytes([value]))
                await self._writer.drain()
                await asyncio.sleep(interval)

    def connection_lost(self, error: Exception | None) -> None:
        if self.owner is not None:
            self.owner._session_closed()
        super().connection_lost(error)


TokenCheck = Callable[[str, str], bool]  # (user, bearer token) -> valid now


class OAuthHandler(RecordingHandler):
    """A :class:`RecordingHandler` that also offers AUTH XOAUTH2 and OAUTHBEARER, as Exchange
    Online and Gmail do, taking a token only when ``check`` says it is valid now. A refusal
    is answered as they answer it: a 334 with the error JSON, then 535 after the client's
    empty answer."""

    def __init__(self, behaviour: ServerBehaviour, check: TokenCheck) -> None:
        super().__init__(behaviour)
        self.check = check
        self.logins: list[tuple[str, str, bool]] = []  # (mechanism, user, accepted)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")

    async def _bearer(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        blob = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        parts = dict(part.split("=", 1) for part in blob.split("\x01") if "=" in part)
        user = parts.get("user", "")
        if mechanism == "OAUTHBEARER":  # gs2 header "n,a=<user>,"
            user = blob.split(",", 2)[1].removeprefix("a=") if blob.count(",") >= 2 else ""
        token = parts.get("auth", "").removeprefix("Bearer ")
        accepted = self.check(user, token)
        self.logins.append((mechanism, user, accepted))
        if accepted:
            return AuthResult(success=True, handled=False, auth_data=user)
        error = '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False)


class _Controller(Controller):
    def __init__(self, owner: SmtpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        # asyncio calls the factory once per accepted TCP connection, before any TLS
        # handshake, so failed implicit-TLS handshakes are counted too.
        smtp = _CountingSMTP(self.handler, **self.SMTP_kwargs)
        smtp.connection_number = self._owner._count_connection()
        smtp.owner = self._owner
        return smtp


class SmtpTestServer:
    """An aiosmtpd server on 127.0.0.1 and a free port, running in a background thread.

    ``security``: ``"plain"``; ``"starttls"`` (offers STARTTLS and, unless
    ``require_starttls=False``, refuses mail before it); ``"tls"`` (implicit TLS).
    ``auth``: ``(username, password)`` to offer AUTH PLAIN/LOGIN and require it.
    ``oauth2``: a token check; AUTH XOAUTH2 and OAUTHBEARER are offered and required.
    ``ca``: the CA that signs the server certificate; ``ca_file`` is its PEM on disk.
    """

    def __init__(
        self,
        *,
        security: ServerSecurity = "plain",
        behaviour: ServerBehaviour | None = None,
        auth: tuple[str, str] | None = None,
        oauth2: TokenCheck | None = None,
        exclude_auth: tuple[str, ...] = (),
        require_starttls: bool = True,
        ca: trustme.CA | None = None,
        tmp_dir: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = 0
        self.security: ServerSecurity = security
        self.auth = auth
        self.oauth2 = oauth2
        self.exclude_auth = exclude_auth
        self.handler: RecordingHandler = (
            OAuthHandler(behaviour or ServerBehaviour(), oauth2)
            if oauth2 is not None
            else RecordingHandler(behaviour or ServerBehaviour())
        )
        self.ca = ca or trustme.CA()
        self._own_tmp = tmp_dir is None
        self._tmp_dir = tmp_dir or Path(tempfile.mkdtemp(prefix="smtp-test-"))
        self.ca_file = self._tmp_dir / "smtp-test-ca.pem"
        self._require_starttls = require_starttls
        self._controller: _Controller | None = None
        self._connections = 0
        self._open_sessions = 0
        self.most_sessions_open = 0  # SMTP sessions open at the same time, at most so far
        self._lock = threading.Lock()

    # -- what the server saw ------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every message accepted so far, in order."""
        return list(self.handler.messages)

    @property
    def connections(self) -> int:
        """How many TCP connections clients opened since start (the start-up probe excluded)."""
        with self._lock:
            return self._connections

    @property
    def data_attempts(self) -> int:
        """How many messages reached the end of DATA, whatever the answer was."""
        return self.handler.data_attempts

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until ``count`` messages were accepted (or ``timeout``); return all of them."""
        return self.handler.wait_for(count, timeout)

    def client_settings(self) -> dict[str, Any]:
        """What a client needs, keyed like ``SmtpOptions`` fields."""
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "ca_file": self.ca_file if self.security != "plain" else None,
            "username": self.auth[0] if self.auth else None,
            "password": self.auth[1] if self.auth else None,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        kwargs: dict[str, Any] = {"server_hostname": "smtp.test", "ready_timeout": 5.0}
        if self.security == "starttls":
            kwargs["tls_context"] = server_tls_context(self.ca)
            kwargs["require_starttls"] = self._require_starttls
        elif self.security == "tls":
            kwargs["ssl_context"] = server_tls_context(self.ca)
        if self.auth is not None or self.oauth2 is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
            kwargs["auth_exclude_mechanism"] = list(self.exclude_auth)
            # aiosmtpd only counts STARTTLS as TLS; implicit TLS is encrypted from the start.
            kwargs["auth_require_tls"] = self.security == "starttls"
        last_error: OSError | None = None
        for _ in range(5):  # the free port may be taken between probing and binding
            self.port = free_port(self.host)
            controller = _Controller(
                self, self.handler, hostname=self.host, port=self.port, **kwargs
            )
            try:
                controller.start()
            except OSError as exc:
                last_error = exc
                controller.stop(no_assert=True)
                continue
            self._controller = controller
            with self._lock:
                self._connections = 0  # forget Controller.start()'s own probe connection
            self.handler.drips = 0  # and the greeting it may have had dripped
            return self
        raise RuntimeError(f"could not start the SMTP test server: {last_error}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._own_tmp:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _count_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _session_opened(self) -> None:
        with self._lock:
            self._open_sessions += 1
            self.most_sessions_open = max(self.most_sessions_open, self._open_sessions)

    def _session_closed(self) -> None:
        with self._lock:
            self._open_sessions -= 1

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(data, LoginPassword)
            and data.login.decode() == self.auth[0]
            and data.password.decode() == self.auth[1]
        )
        # handled=False: let aiosmtpd send the standard 235 or 535 reply itself.
        return AuthResult(success=ok, handled=False)


class SmtpServerFactory:
    """Starts :class:`SmtpTestServer` instances that share one CA; stops them all at the end."""

    def __init__(self, ca: trustme.CA, tmp_dir: Path) -> None:
        self.ca = ca
        self.tmp_dir = tmp_dir
        self._servers: list[SmtpTestServer] = []

    def __call__(
        self,
        *,
        security: ServerSecurity = "plain",
        behaviour: ServerBehaviour | None = None,
        auth: tuple[str, str] | None = None,
        oauth2: TokenCheck | None = None,
        exclude_auth: tuple[str, ...] = (),
        require_starttls: bool = True,
    ) -> SmtpTestServer:
        server = SmtpTestServer(
            security=security,
            behaviour=behaviour,
            auth=auth,
            oauth2=oauth2,
            exclude_auth=exclude_auth,
            require_starttls=require_starttls,
            ca=self.ca,
            tmp_dir=self.tmp_dir,
        )
        server.start()
        self._servers.append(server)
        return server

    def stop_all(self) -> None:
        while self._servers:
            self._servers.pop().stop()
