"""Mail that must never cause a notice: auto-replies, bounces, list mail, our own mail.

A notifier that answers automatic mail can loop forever with a vacation responder or a helpdesk
system, or tell a requester their request is done because a newsletter arrived. Every rule below
is applied to the parsed message; the first that matches gives the reason that is recorded.

Terms: *trusted* means the From address is listed in ``trusted_senders`` (``it@example.org``)
or its domain is (``@example.org``, exact domain, no subdomains). Those are the helpdesk
systems whose notifications are the input, and they mark them as automatic on purpose.

=====  ==============================================================  =======  ================
Order  Rule (first match wins)                                         Trusted  Source
=====  ==============================================================  =======  ================
1      From is one of ``own_addresses`` (case-insensitive)             noise    loop prevention
2      ``multipart/report``: report-type delivery-status is a bounce,  noise    RFC 6522,
       disposition-notification a read receipt                                  RFC 3464, 8098
3      ``X-MS-Exchange-Message-Is-Ndr`` (Exchange non-delivery         noise    Microsoft message
       report) or ``X-Failed-Recipients`` (Exim bounce)                         headers; Exim
4      From local part MAILER-DAEMON, postmaster, mail-daemon, or      noise    RFC 3834 s. 2,
       display name "Mail Delivery Subsystem" / "Mail Delivery                  RFC 5321 s. 4.5.5
       System"
5      ``Auto-Submitted: auto-replied`` (vacation, other responders)   noise    RFC 3834 s. 5
6      ``Precedence: auto_reply`` (osTicket, some vacation programs)   noise    de-facto
7      ``X-Autoreply``, ``X-Autorespond``, ``X-Vacation`` unless "no"  noise    de-facto: vacation,
                                                                                cPanel, Zimbra
8      Subject starts with an out-of-office or bounce prefix           noise    Outlook/Exchange,
       ("Automatic reply:", "Out of Office:", "Autoreply:",                     Gmail, Postfix,
       "Abwesenheitsnotiz:", "Réponse automatique :", "Undeliverable:",         Exim
       ...; :data:`OUT_OF_OFFICE_SUBJECTS`, :data:`BOUNCE_SUBJECTS`)
9      Null return path ``Return-Path: <>``: DSNs and RFC 3834         allowed  RFC 3834 s. 3.3,
       responses are sent with an empty envelope sender; after 5-8,             RFC 5321 s. 4.5.5
       so a responder's own mark names the reason
10     ``Auto-Submitted`` any other value but ``no``                   allowed  RFC 3834 s. 5,
       (auto-generated, auto-notified)                                          RFC 5436
11     ``X-Auto-Response-Suppress`` other than ``None``: it asks that  allowed  [MS-OXCMAIL]
       nothing answers the message, and is set by Exchange on                   s. 2.1.3.2.20
       out-of-office replies and by automated senders
12     ``X-MS-Exchange-Inbox-Rules-Loop`` (made or forwarded by an     allowed  Microsoft message
       inbox rule), ``X-MS-Exchange-Generated-Message-Source``                  headers
13     ``List-Id`` (any mailing list), except Redmine's own: from a    noise    RFC 2919;
       trusted sender, with X-Redmine-* headers and List-Id                     Redmine
       "<[project.]From address with @ as .>"                                   mailer.rb
14     ``Precedence: list`` or ``junk`` (with or without               noise    RFC 3834 s. 2,
       ``List-Unsubscribe``)                                                    RFC 2369
15     ``Precedence: bulk``                                            allowed  RFC 3834 s. 2
=====  ==============================================================  =======  ================

"allowed" means a trusted sender passes that rule (helpdesk systems set ``Auto-Submitted:
auto-generated``, ``Precedence: bulk``, ``X-Auto-Response-Suppress`` and a null return path on
their notifications, and an inbox rule may forward them); "noise" means the rule holds for
every sender, trusted or not: a trusted system never sends bounces, vacation replies or list
mail, and an entry like ``@example.org`` also covers people whose out-of-office replies must
still be ignored. The reasons name the rule and the header that matched it.

A ``List-Unsubscribe`` header alone is not list mail: transactional senders add it too.

Not checked here, on purpose: whether the From address is genuine (no DKIM/DMARC; the IMAP
mailbox should only receive from the helpdesk system), and who the requester is: that comes
from the ticket data, never from the Reply-To of automated mail.
"""

from __future__ import annotations

from collections.abc import Collection

from notifier.sources.mail.types import ParsedMail

__all__ = ["BOUNCE_SUBJECTS", "OUT_OF_OFFICE_SUBJECTS", "address_problem", "noise_reason"]

# Lower-case; matched at the start of the subject, never after "Re:" (a person answering one).
OUT_OF_OFFICE_SUBJECTS: tuple[str, ...] = (
    # Outlook / Exchange, in the languages of the client; Gmail, Zimbra, cPanel
    "automatic reply:",
    "auto reply:",
    "auto-reply:",
    "autoreply:",
    "auto response:",
    "out of office:",
    "out of office reply",
    "out of office autoreply",
    "abwesenheitsnotiz:",
    "automatische antwort:",
    "réponse automatique :",
    "réponse automatique:",
    "respuesta automática:",
    "risposta automatica:",
    "automatisch antwoord:",
    "automatisk svar:",
    "autosvar:",
    "resposta automática:",
    "automaattinen vastaus:",
    "automatyczna odpowiedź:",
    "automatická odpověď:",
)
# Bounces that are not multipart/report (old MTAs, some hosted services).
BOUNCE_SUBJECTS: tuple[str, ...] = (
    "undeliverable:",
    "undelivered mail returned to sender",
    "delivery status notification (failure)",
    "mail delivery failed",
    "returned mail:",
    "failure notice",
    "unzustellbar:",
    "non remis :",
    "non remis:",
    "non recapitabile:",
    "onbestelbaar:",
)

_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_DAEMON_NAMES = frozenset({"mail delivery subsystem", "mail delivery system"})
_VACATION_HEADERS = ("x-autoreply", "x-autorespond", "x-vacation")
_NOT_SET = frozenset({"no", "false", "0", "off"})  # an empty value still counts


def _is_trusted(address: str, trusted_senders: Collection[str]) -> bool:
    if not address:
        return False
    domain = "@" + address.rpartition("@")[2]
    for entry in trusted_senders:
        entry = entry.strip().lower()
        if entry == address or (entry.startswith("@") and entry == domain):
            return True
    return False


def _token(value: str) -> str:
    """The keyword of a header like ``auto-replied; owner-email="x"`` or ``Bulk``."""
    return value.split(";", 1)[0].strip().lower()


def noise_reason(
    mail: ParsedMail, *, own_addresses: Collection[str], trusted_senders: Collection[str]
) -> str | None:
    """None when the message may be acted on, else a short reason for the record.

    See the module docstring for the rules, their order, their sources, and which of them a
    trusted helpdesk sender passes.
    """
    address = mail.sender.address.lower()
    trusted = _is_trusted(address, trusted_senders)

    # 1. Our own mail, even when it comes back through a helpdesk or a forward.
    if address and address in {own.strip().lower() for own in own_addresses}:
        return f"our own mail: From {address}"

    # 2-5. Bounces and delivery reports: noise from every sender.
    if mail.content_type == "multipart/report":
        report = mail.report_type or "unknown"
        kind = {
            "delivery-status": "bounce",
            "disposition-notification": "read receipt",
        }.get(report, "delivery report")
        return f"{kind}: multipart/report; report-type={report}"
    if "x-ms-exchange-message-is-ndr" in mail.headers:
        return "bounce: X-MS-Exchange-Message-Is-Ndr"
    if "x-failed-recipients" in mail.headers:
        return f"bounce: X-Failed-Recipients {mail.header('x-failed-recipients')}".rstrip()
    local = address.rpartition("@")[0]
    if local in _DAEMON_LOCAL_PARTS:
        return f"From {local.upper() if local == 'mailer-daemon' else local}"
    if mail.sender.name.strip().lower() in _DAEMON_NAMES:
        return f"From {mail.sender.name.strip()}"

    # 5. RFC 3834 responders.
    auto_submitted = mail.header("auto-submitted")
    keyword = _token(auto_submitted)
    if keyword == "auto-replied":
        return f"auto-replied: Auto-Submitted: {auto_submitted}"

    # 6-8. Vacation programs and out-of-office replies.
    precedence = mail.header("precedence")
    if _token(precedence) in ("auto_reply", "auto-reply"):
        return f"auto-replied: Precedence: {precedence}"
    for name in _VACATION_HEADERS:
        if name in mail.headers and _token(mail.header(name)) not in _NOT_SET:
            return f"out of office: {_display(name)}: {mail.header(name)}".rstrip(" :")
    subject = mail.subject.strip()
    if subject.lower().startswith(OUT_OF_OFFICE_SUBJECTS):
        return f"out of office: Subject {subject[:80]!r}"
    if subject.lower().startswith(BOUNCE_SUBJECTS):
        return f"bounce: Subject {subject[:80]!r}"
    # 9. Last of these, as the least specific: responders send with it too (RFC 3834 s. 3.3).
    if mail.return_path == "" and not trusted:
        return "null return path (bounce)"

    # 10-12. Other automatic mail; helpdesk systems mark their notifications this way.
    if not trusted:
        if auto_submitted and keyword != "no":
            label = keyword if keyword in ("auto-generated", "auto-notified") else "automatic mail"
            return f"{label}: Auto-Submitted: {auto_submitted}"
        value = mail.header("x-auto-response-suppress")
        if "x-auto-response-suppress" in mail.headers and _token(value) != "none":
            return f"automatic mail: X-Auto-Response-Suppress: {value}".rstrip(" :")
        for name in ("x-ms-exchange-inbox-rules-loop", "x-ms-exchange-generated-message-source"):
            if name in mail.headers:
                return f"automatic mail: {_display(name)}: {mail.header(name)}".rstrip(" :")

    # 13-15. Mailing lists and bulk mail.
    list_id = mail.header("list-id")
    if "list-id" in mail.headers and not (trusted and _redmine_list_id(mail, address)):
        return f"list mail: List-Id {list_id}".rstrip()
    level = _token(precedence)
    if level in ("list", "junk"):
        if "list-unsubscribe" in mail.headers:
            return f"list mail: List-Unsubscribe with Precedence: {precedence}"
        return f"Precedence: {precedence}"
    if level == "bulk" and not trusted:
        return f"Precedence: {precedence}"
    return None


def _redmine_list_id(mail: ParsedMail, address: str) -> bool:
    """Redmine's notifications carry List-Id "<project.redmine.example.org>" for From
    redmine@example.org (app/models/mailer.rb), and X-Redmine-* headers no list sets."""
    if not any(name.startswith("x-redmine-") for name in mail.headers):
        return False
    own = address.replace("@", ".")
    value = mail.header("list-id").strip().strip("<>").lower()
    return bool(own) and (value == own or value.endswith("." + own))


_DISPLAY_NAMES = {
    "x-autoreply": "X-Autoreply",
    "x-autorespond": "X-Autorespond",
    "x-vacation": "X-Vacation",
    "x-ms-exchange-inbox-rules-loop": "X-MS-Exchange-Inbox-Rules-Loop",
    "x-ms-exchange-generated-message-source": "X-MS-Exchange-Generated-Message-Source",
}


def _display(name: str) -> str:
    return _DISPLAY_NAMES.get(name, name)


_ADDRESS_FIELDS = ("From", "Sender", "To", "Cc", "Reply-To")


def address_problem(mail: ParsedMail) -> str | None:
    """ "invalid address in From, To" when the parser found address fields it could not read.

    Recorded in front of an interpreter's "no requester address": the mail did name someone,
    in a form no one can be written to, which says more than that nobody was found.
    """
    broken = {
        defect.partition(":")[0]
        for defect in mail.defects
        if defect.endswith((": invalid address", ": unparseable address list"))
    }
    fields = [name for name in _ADDRESS_FIELDS if name in broken]
    fields += sorted(broken - set(fields))
    return f"invalid address in {', '.join(fields)}" if fields else None
