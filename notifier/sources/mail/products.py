"""One mailbox, many helpdesk products: pick the preset for each mail, read it once.

A mail carries its product's marks in its headers and sender (``X-RT-Ticket``, ``X-Mailer:
osTicket Mailer``, ``X-FreeScout-Mail-Type``, ...; :func:`products_of`). :class:`PresetChooser`
hands a marked mail to that product's preset only, so a loose reader (osTicket's and Freshdesk's
``[#123]`` subject tag) never takes another product's mail. An unmarked mail (a product behind a
relay that rewrote its headers) is offered to every configured preset, and a reading that decides
something (resolved, reopened) wins over one that only saw an update.

What no preset recognises is ``otherwise``'s: ignored as ``no_match`` in preset mode, read as a
technician's reply in folder mode, by the match rules in match mode. In folder mode only a mail
with a product's marks, or one a preset reads as resolved or reopened, is a product notification:
a technician's own reply quoting ``[#123]`` in its subject stays a reply.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from notifier.core.errors import ConfigError
from notifier.sources.mail.presets import PRESETS, PresetInterpreter, Reading, line_ends
from notifier.sources.mail.presets.django_helpdesk import DH_SUBJECT
from notifier.sources.mail.rules import FindOriginal, Interpreter
from notifier.sources.mail.types import NotAResolution, ParsedMail, TicketFacts

__all__ = ["AUTO", "PresetChooser", "build_presets", "products_of"]

AUTO = "auto"

# Tried in this order when a mail carries no product's marks: the readers that need their own
# product's format first, the loose "[#123]" readers last.
TRIAL_ORDER = (
    "rt",
    "zammad",
    "znuny",
    "redmine",
    "roundup",
    "freescout",
    "jsm",
    "zendesk",
    "glpi",
    "servicenow",
    "django-helpdesk",
    "freshdesk",
    "osticket",
)

# Marks in the body count on lines of the mail's own, never in quoted text: a technician's
# reply quoting a notification is not that product's mail.
_SN_WATERMARK = re.compile(r"^(?![ \t]*>)[^\n]*\bRef:MSG\d{4,}", re.MULTILINE)
_JSM_FOOTER = re.compile(r"^[ \t]*Powered by Jira Service Management", re.MULTILINE)


_OTRS_BRAND = re.compile(r"\b(?:znuny|otrs)\b")


def _django_helpdesk(mail: ParsedMail) -> bool:
    """Django sets no product header: the "[queue-id] title (state)" subject and the same
    ticket named in the text ("[it-57]", "?ticket=it-57") as every template does."""
    match = DH_SUBJECT.match(" ".join(mail.subject.split()))
    if match is None:
        return False
    ticket = re.escape(match.group("id"))
    named = re.compile(rf"^(?![ \t]*>)[^\n]*(?:\[{ticket}\]|[?&]ticket={ticket}\b)", re.M)
    return bool(named.search(mail.text))


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _header_prefix(mail: ParsedMail, prefix: str) -> bool:
    return any(name.startswith(prefix) for name in mail.headers)


def _in_domain(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def _marks(mail: ParsedMail) -> Mapping[str, bool]:
    mailer = f"{mail.header('x-mailer')} {mail.header('x-powered-by')}".lower()
    sender = _domain(mail.sender.address)
    msgid = mail.message_id.lower()
    managed = mail.header("x-managed-by") or mail.header("managed-by")
    return {
        # RT::Action::SendEmail::SetRTSpecialHeaders
        "rt": bool(
            mail.header("x-rt-ticket")
            or mail.header("rt-ticket")
            or mail.header("x-rt-loop-prevention")
            or managed.startswith("RT ")
        ),
        # include/class.mailer.php: X-Mailer on every mail
        "osticket": "osticket" in mailer,
        # Channel::EmailBuild (outgoing); X-Zammad-* are Zammad's own control headers
        "zammad": "zammad" in mailer or _header_prefix(mail, "x-zammad-"),
        # app/Misc/Mail.php: X-FreeScout-Mail-Type on every mail
        "freescout": _header_prefix(mail, "x-freescout-"),
        # Jira: X-JIRA-FingerPrint, Message-ID <JIRA.…@Atlassian.JIRA>; Cloud sends from
        # *.atlassian.net
        "jsm": _header_prefix(mail, "x-jira")
        or msgid.endswith("@atlassian.jira>")
        or _in_domain(sender, "atlassian.net")
        or bool(_JSM_FOOTER.search(mail.text)),
        "zendesk": _header_prefix(mail, "x-zendesk")
        or msgid.endswith("zendesk.com>")
        or _in_domain(sender, "zendesk.com"),
        "freshdesk": _header_prefix(mail, "x-freshdesk")
        or _in_domain(sender, "freshdesk.com")
        or msgid.endswith("freshdesk.com>"),
        # NotificationTarget::getMessageIdForEvent: <GLPI_<uuid>-Ticket-<id>/<event>…>
        "glpi": msgid.startswith("<glpi_") or "glpi" in mailer,
        # Kernel/System/Email.pm: "<Product> Mail Service (<version>)", "OTRS (https://otrs.com/)"
        "znuny": bool(_OTRS_BRAND.search(mailer)),
        # app/models/mailer.rb: X-Mailer: Redmine, X-Redmine-* on every mail
        "redmine": _header_prefix(mail, "x-redmine-") or mail.header("x-mailer") == "Redmine",
        # roundup/roundupdb.py: X-Roundup-Name, X-Roundup-Loop, X-Roundup-<class>-Id, ...
        "roundup": _header_prefix(mail, "x-roundup-"),
        "django-helpdesk": _django_helpdesk(mail),
        # the instance's domain, and the watermark every notification ends with
        "servicenow": _in_domain(sender, "service-now.com")
        or msgid.endswith("service-now.com>")
        or bool(_SN_WATERMARK.search(mail.text)),
    }


def products_of(mail: ParsedMail) -> tuple[str, ...]:
    """The preset keys whose product's marks ``mail`` carries, in :data:`TRIAL_ORDER`."""
    marks = _marks(mail)
    return tuple(key for key in TRIAL_ORDER if marks.get(key))


@dataclass(frozen=True)
class PresetChooser:
    """An :class:`Interpreter` over several presets, picking one per mail (module docstring)."""

    presets: Sequence[PresetInterpreter]
    otherwise: Interpreter | None = None  # None: preset mode, unrecognised mail is no_match
    folder_mode: bool = False

    def interpret(
        self, mail: ParsedMail, find_original: FindOriginal
    ) -> TicketFacts | NotAResolution:
        mail = line_ends(mail)
        marked = set(products_of(mail))
        if marked:
            mine = [p for p in self.presets if p.key in marked]
            if not mine:
                names = ", ".join(PRESETS[key].product for key in sorted(marked))
                return NotAResolution(
                    "no_match", f"a {names} mail; presets read here: {self._keys()}"
                )
            chosen = self._best(mail, mine, decisive_only=False)
            if chosen is None:
                products = ", ".join(p.product for p in mine)
                return NotAResolution(
                    "no_match", f"a {products} mail, but not a notification the preset reads"
                )
        else:
            chosen = self._best(mail, self.presets, decisive_only=self.folder_mode)
        if chosen is not None:
            preset, reading = chosen
            return preset.decide(mail, reading, find_original)
        if self.otherwise is not None:
            return self.otherwise.interpret(mail, find_original)
        return NotAResolution("no_match", f"no preset recognises it ({self._keys()})")

    def _best(
        self, mail: ParsedMail, presets: Sequence[PresetInterpreter], *, decisive_only: bool
    ) -> tuple[PresetInterpreter, Reading] | None:
        """The first reading that decides something, else (unless ``decisive_only``) the first."""
        first: tuple[PresetInterpreter, Reading] | None = None
        for preset in presets:
            reading = preset.read(mail)
            if reading is None:
                continue
            if reading.kind != "update":
                return preset, reading
            first = first or (preset, reading)
        return None if decisive_only else first

    def _keys(self) -> str:
        return ", ".join(p.key for p in self.presets)


def build_presets(
    chosen: str | Sequence[str],
    *,
    otherwise: Interpreter | None = None,
    folder_mode: bool = False,
    not_requesters: Collection[str] = (),
    where: str = "imap.presets",
) -> PresetChooser:
    """The chooser for ``presets = "auto"`` or a list of preset keys.

    ``not_requesters``: addresses a preset must never take for the requester (the watched
    mailbox, notifier's From, trusted helpdesk senders). ConfigError names an unknown key."""
    if isinstance(chosen, str):
        if chosen != AUTO:
            raise ConfigError(f"{where}: use {AUTO!r} or a list of presets, not {chosen!r}")
        keys: Sequence[str] = TRIAL_ORDER
    else:
        keys = list(dict.fromkeys(chosen))
        if not keys:
            raise ConfigError(f"{where}: the list is empty; name presets or use {AUTO!r}")
        unknown = [key for key in keys if key not in PRESETS]
        if unknown:
            raise ConfigError(
                f"{where}: unknown preset {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(PRESETS))} (or {AUTO!r})"
            )
        keys = sorted(keys, key=TRIAL_ORDER.index)
    blocked = frozenset(a.strip().lower() for a in not_requesters if "@" in a.strip("@"))
    presets = [_with_blocked(PRESETS[key], blocked) for key in keys]
    return PresetChooser(tuple(presets), otherwise=otherwise, folder_mode=folder_mode)


def _with_blocked(preset: PresetInterpreter, blocked: frozenset[str]) -> PresetInterpreter:
    return replace(preset, not_requesters=blocked) if blocked else preset
