"""Presets for the real default notification mails of common helpdesk products.

Each preset reads one product's notification (subject tag, headers, body lines of its default
templates) into a :class:`Reading`: which ticket, and whether it was resolved, reopened or merely
updated. :class:`PresetInterpreter` turns that into ``TicketFacts`` or ``NotAResolution`` and finds
the requester's address. Where each format comes from, and what an admin must configure so the
watched mailbox receives the right copy, is in ``docs/imap-presets.md``.

The requester is taken from the notification's own content (a line naming them, the To of the copy
addressed to them, or the requester's original mail in the same thread), never from Reply-To, and
never is one of ``not_requesters`` (the watched mailbox, notifier's From, trusted senders): when
no place names them with confidence the mail is an :class:`InputError` naming the ticket.
Picking the preset for each mail of a mailbox shared by several products is
:mod:`notifier.sources.mail.products`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from notifier.sources.mail.presets.django_helpdesk import read_django_helpdesk
from notifier.sources.mail.presets.freescout import read_freescout
from notifier.sources.mail.presets.freshdesk import read_freshdesk
from notifier.sources.mail.presets.glpi import read_glpi
from notifier.sources.mail.presets.jira import read_jira
from notifier.sources.mail.presets.osticket import read_osticket
from notifier.sources.mail.presets.reading import PresetInterpreter, Reading, line_ends
from notifier.sources.mail.presets.redmine import read_redmine
from notifier.sources.mail.presets.roundup import read_roundup
from notifier.sources.mail.presets.rt import read_rt
from notifier.sources.mail.presets.servicenow import read_servicenow
from notifier.sources.mail.presets.zammad import read_zammad
from notifier.sources.mail.presets.zendesk import read_zendesk
from notifier.sources.mail.presets.znuny import read_znuny

__all__ = ["PRESETS", "PresetInterpreter", "Reading", "line_ends"]

# --- the table -----------------------------------------------------------------------------

PRESETS: Mapping[str, PresetInterpreter] = MappingProxyType(
    {
        "rt": PresetInterpreter("rt", "Request Tracker", read_rt, root_is_request=True),
        "osticket": PresetInterpreter("osticket", "osTicket", read_osticket),
        "zammad": PresetInterpreter(
            "zammad",
            "Zammad",
            read_zammad,
            requester_from_to=False,  # agent notifications are addressed to agents
            requester_from_thread=True,
            root_is_request=True,
        ),
        "jsm": PresetInterpreter("jsm", "Jira Service Management", read_jira),
        "servicenow": PresetInterpreter("servicenow", "ServiceNow", read_servicenow),
        "freshdesk": PresetInterpreter("freshdesk", "Freshdesk", read_freshdesk),
        "zendesk": PresetInterpreter("zendesk", "Zendesk", read_zendesk),
        "glpi": PresetInterpreter("glpi", "GLPI", read_glpi),
        "freescout": PresetInterpreter(
            "freescout",
            "FreeScout",
            read_freescout,
            requester_from_to=False,  # user notifications are addressed to agents
            requester_from_thread=True,
        ),
        "znuny": PresetInterpreter("znuny", "Znuny (OTRS)", read_znuny),
        "redmine": PresetInterpreter("redmine", "Redmine", read_redmine),
        "django-helpdesk": PresetInterpreter(
            "django-helpdesk", "django-helpdesk", read_django_helpdesk
        ),
        "roundup": PresetInterpreter(
            "roundup",
            "Roundup",
            read_roundup,
            # Every nosy member gets a copy and none names the requester; In-Reply-To is the
            # issue's first message, the requester's own when they opened it by mail.
            requester_from_thread=True,
        ),
    }
)
