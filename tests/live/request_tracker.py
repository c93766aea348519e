"""A real Request Tracker 5 (Debian's ``request-tracker5``), on SQLite in a temporary directory.

The packages come from Debian, installed by the test command (``scripts/test.sh``) when missing.
:class:`RequestTracker` writes an ``RT_SiteConfig.pm`` of its own (``RT_SITE_CONFIG``; with
``RT_SITE_CONFIG_DIR=/dev/null`` Debian's ``/etc/request-tracker5/RT_SiteConfig.d`` cannot
override it), initialises the database, grants the rights stock RT withholds, and serves it with
``rt-server`` on a free loopback port. Requesters write to it through RT's own mail gateway
(``rt-mailgate-5``); the technician answers and resolves through REST 1.0. RT hands its mail to
a sendmail stand-in (``$SendmailPath``, called with ``-oi -t``) that submits it to the given
SMTP port, as a local MTA would.

Facts found while writing this (RT 5.0.3 from Debian 12), each one needed here:

* stock RT lets nobody create tickets by mail: Everyone gets CreateTicket and ReplyToTicket;
* ``rt-server`` exits (9) when ``$MasonSessionDir`` does not exist;
* the *Resolved* mail ("According to our records, your request has been resolved") carries no
  note of the technician's: their words are in the correspondence mail before it;
* every mail carries ``X-RT-Ticket``, ``X-RT-Loop-Prevention`` and ``Precedence: bulk``; only
  the autoreply says ``Auto-Submitted``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from tests.live.servers import HelpdeskError, free_port, loopback_opener, serve, stop

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
SETUP_DATABASE = Path("/usr/sbin/rt-setup-database-5")
MAILGATE = Path("/usr/bin/rt-mailgate-5")
RTNAME = "it.example.org"
QUEUE_ADDRESS = "support@example.org"
TECHNICIAN = ("tech", "Tech-Pa55word!", "tech@example.org", "Tom Technician")

_SENDMAIL = """\
#!/usr/bin/python3
# sendmail -oi -t for RT: the recipients are in the message; hand it to the SMTP hop.
import email, email.policy, email.utils, smtplib, sys
raw = sys.stdin.buffer.read()
message = email.message_from_bytes(raw, policy=email.policy.compat32)
to = [a for _, a in email.utils.getaddresses(
    message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", []))]
with smtplib.SMTP("127.0.0.1", {port}, timeout=30) as smtp:
    smtp.sendmail("{bounce}", to, raw)
"""

_SITE_CONFIG = """\
Set($rtname, '{rtname}');
Set($Organization, 'example.org');
Set($Timezone, 'UTC');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebPath, '');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{home}/rt5.db');
Set($CorrespondAddress, '{queue}');
Set($CommentAddress, 'support-comment@example.org');
Set($RTAddressRegexp, qr/^support(-comment)?\\@example\\.org$/i);
Set($OwnerEmail, 'rt-owner@example.org');
Set($MailCommand, 'sendmailpipe');
Set($SendmailPath, '{home}/sendmail');
Set($SendmailArguments, '-oi');
Set($LogToSyslog, undef);
Set($LogToSTDERR, 'warning');
Set($MasonDataDir, '{home}/mason_data');
Set($MasonSessionDir, '{home}/session_data');
1;
"""

_RIGHTS = """\
@Groups = ( {{ Name => 'Technicians', Description => 'IT technicians' }} );
@Users = ( {{
    Name => '{user}', Password => '{password}', EmailAddress => '{address}',
    RealName => '{name}', Privileged => 1, MemberOf => 'Technicians',
}} );
@ACL = (
    map( {{ {{ GroupDomain => 'SystemInternal', GroupType => 'Everyone',
             Queue => 'General', Right => $_ }} }} qw(CreateTicket ReplyToTicket SeeQueue) ),
    map( {{ {{ GroupDomain => 'UserDefined', GroupId => 'Technicians',
             Queue => 'General', Right => $_ }} }}
         qw(SeeQueue ShowTicket ShowTicketComments ReplyToTicket CommentOnTicket
            ModifyTicket OwnTicket TakeTicket) ),
);
1;
"""


class RequestTracker:
    """One RT: ``start()``, mail it, answer and resolve through REST, ``stop()``."""

    def __init__(self, home: Path, *, smtp_port: int) -> None:
        self.home = home
        self.smtp_port = smtp_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: subprocess.Popen[bytes] | None = None
        self._http = loopback_opener()
        config = home / "RT_SiteConfig.pm"
        self._env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        self._env.update(RT_SITE_CONFIG=str(config), RT_SITE_CONFIG_DIR="/dev/null", TZ="UTC")

    def start(self) -> RequestTracker:
        for program in (RT_SERVER, SETUP_DATABASE, MAILGATE):
            if not program.exists():
                raise HelpdeskError(
                    f"{program} is missing: install request-tracker5 rt5-db-sqlite rt5-clients "
                    "(scripts/test.sh does)"
                )
        for folder in ("mason_data", "session_data"):
            (self.home / folder).mkdir(parents=True)
        sendmail = self.home / "sendmail"
        sendmail.write_text(_SENDMAIL.format(port=self.smtp_port, bounce="rt-owner@example.org"))
        sendmail.chmod(0o755)
        (self.home / "RT_SiteConfig.pm").write_text(
            _SITE_CONFIG.format(rtname=RTNAME, port=self.port, home=self.home, queue=QUEUE_ADDRESS)
        )
        user, password, address, name = TECHNICIAN
        rights = self.home / "rights.initialdata"
        rights.write_text(_RIGHTS.format(user=user, password=password, address=address, name=name))
        self._run([str(SETUP_DATABASE), "--action", "init", "--skip-create"])
        self._run([str(SETUP_DATABASE), "--action", "insert", "--datafile", str(rights)])
        self._server = serve(
            [str(RT_SERVER), "--server", "Starlet", "--host", "127.0.0.1", "--port",
             str(self.port), "--max-workers", "2"],
            log=self.home / "rt-server.log", url=self.url + "/REST/1.0/", env=self._env,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        stop(self._server)
        shutil.rmtree(self.home / "mason_data", ignore_errors=True)

    # -- what people do ------------------------------------------------------------------------

    def mail_in(self, raw: bytes) -> None:
        """A requester's mail to the queue, through RT's own mail gateway (as an MTA pipe)."""
        self._run(
            [str(MAILGATE), "--url", self.url + "/", "--queue", "General", "--action",
             "correspond", "--timeout", "120"],
            stdin=raw,
        )  # fmt: skip

    def ticket_of(self, requester: str) -> int:
        found = self._rest("search/ticket", {"query": f"Requestor = '{requester}'", "format": "i"})
        ids = [line.split("/")[1] for line in found.splitlines() if line.startswith("ticket/")]
        if not ids:
            raise HelpdeskError(f"no ticket of {requester}: {found!r}")
        return int(ids[-1])

    def reply(self, ticket: int, text: str) -> None:
        """The technician's answer to the requester (correspondence)."""
        body = "\n ".join(text.splitlines())
        self._rest(
            f"ticket/{ticket}/comment",
            {"content": f"id: {ticket}\nAction: correspond\nText: {body}\n"},
        )

    def set_status(self, ticket: int, status: str) -> None:
        self._rest(f"ticket/{ticket}/edit", {"content": f"Status: {status}\n"})

    # -- plumbing ------------------------------------------------------------------------------

    def _run(self, command: list[str], stdin: bytes | None = None) -> None:
        done = subprocess.run(
            command, env=self._env, input=stdin, capture_output=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise HelpdeskError(f"{command[0]} failed: {done.stdout!r} {done.stderr!r}")

    def _rest(self, path: str, fields: dict[str, str]) -> str:
        user, password, _, _ = TECHNICIAN
        data = urllib.parse.urlencode({"user": user, "pass": password, **fields}).encode()
        request = urllib.request.Request(  # noqa: S310 - self.url is http://127.0.0.1:<port>
            f"{self.url}/REST/1.0/{path}", data=data
        )
        with self._http.open(request, timeout=60) as answer:
            text = str(answer.read().decode("utf-8", "replace"))
        if " 200 " not in (text.splitlines() or [""])[0] + " ":
            raise HelpdeskError(f"REST {path}: {text!r}")
        return text
