"""Built-in column mappings for the exports of common ticket systems.

Each preset lists, per ticket field, the column names (or JSON keys) the product writes, in the
order they are tried, and the status words that mean "resolved". The names were checked against
the products' documentation and real exports found in public code (see each preset's ``notes``);
products let admins rename and localise columns, so a user's ``columns`` table overrides any single
entry, and ``resolved_statuses`` replaces the preset's set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from notifier.core.errors import ConfigError
from notifier.sources.records.mapping import FIELDS, ColumnMapping, Sideload, normalise_status
from notifier.sources.records.timestamps import load_zone

DEFAULT_RESOLVED = ("resolved", "closed", "done", "solved")


@dataclass(frozen=True)
class Preset:
    """What one product's export looks like. ``notes`` says where the names come from."""

    name: str
    formats: tuple[str, ...]
    columns: Mapping[str, tuple[str, ...]]
    resolved_statuses: tuple[str, ...]
    notes: str
    delimiter: str = ","
    numeric_dates: str = ""
    sideloads: tuple[Sideload, ...] = ()


JIRA = Preset(
    name="jira",
    formats=("csv",),
    columns={
        "ticket_id": ("Issue key", "Key"),
        "requester_email": (
            "Reporter email",
            "Custom field (Reporter email)",
            "Custom field (Requester email)",
        ),
        "requester_name": ("Reporter",),
        "title": ("Summary",),
        "status": ("Status",),
        "resolved_at": ("Resolved",),
        "updated_at": ("Updated",),
        "team": ("Custom field (Team)", "Component/s", "Project name"),
        "resolution_note": ("Custom field (Resolution note)", "Custom field (Resolution notes)"),
        "language": ("Custom field (Language)",),
        "original_message_id": ("Custom field (Message-ID)",),
    },
    resolved_statuses=("Done", "Resolved", "Closed"),
    notes=(
        "Jira 'Export > CSV (all fields)' from the issue navigator: 'Summary', 'Issue key', "
        "'Issue id', 'Status', 'Resolution', 'Reporter', 'Created', 'Resolved', 'Component/s', "
        "custom fields as 'Custom field (Name)'; dates like '05/Mar/24 2:22 PM' in the exporting "
        "user's time zone (set the export's timezone). 'Reporter' is usually a display name: add "
        "the email as a custom field ('Custom field (Reporter email)') or map requester_email "
        "to your own column; a 'Reporter' cell holding one address is used as it is. Repeated "
        "columns (Labels, Comment) are joined."
    ),
)

ZENDESK = Preset(
    name="zendesk",
    formats=("csv", "json", "jsonl"),
    columns={
        "ticket_id": ("Id", "id"),
        "requester_email": (
            "Requester email",
            "requester.email",
            "via.source.from.address",
        ),
        "requester_name": ("Requester", "requester.name", "via.source.from.name"),
        "title": ("Subject", "subject"),
        "status": ("Status", "status"),
        "resolved_at": ("Solved at", "metric_set.solved_at", "solved_at"),
        "updated_at": ("Updated at", "updated_at"),
        "team": ("Group", "group.name", "group_id"),
        "resolution_note": ("Resolution note", "resolution_note"),
        "language": ("Requester language", "requester.locale"),
        "original_message_id": ("Message-ID", "message_id"),
    },
    resolved_statuses=("Solved", "Closed"),
    # The incremental ticket export (GET /api/v2/incremental/tickets.json) and the Tickets API
    # with include=users,metric_sets write the related records as top-level arrays beside
    # "tickets" (developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/
    # side_loading/): users[] by id (the ticket's requester_id), metric_sets[] by ticket_id
    # (api-reference/ticketing/tickets/ticket_metrics/: "solved_at").
    sideloads=(
        Sideload(array="users", key="id", ref="requester_id", into="requester"),
        Sideload(array="metric_sets", key="ticket_id", ref="id", into="metric_set"),
    ),
    notes=(
        "Zendesk admin CSV export ('Id', 'Requester', 'Requester email', 'Group', 'Subject', "
        "'Status', 'Created at', 'Solved at', ...) and the JSON shapes of the full JSON export "
        "and the Tickets API ({\"tickets\": [...]}, fields 'id', 'subject', 'status'), and the "
        "incremental ticket export. A ticket object carries 'requester_id', not the email: "
        "export with include=users,metric_sets and the users[] and metric_sets[] sideloads are "
        "joined ('requester.email', 'metric_set.solved_at'); otherwise the email-channel sender "
        "'via.source.from.address' is used. Neither export carries "
        "comments: map resolution_note to a custom field if you want the agent's words. Dates "
        "without a zone are in the account's time zone (set the export's timezone)."
    ),
)

SERVICENOW = Preset(
    name="servicenow",
    formats=("json", "jsonl", "csv"),
    columns={
        "ticket_id": ("number", "sys_id"),
        "requester_email": ("caller_id.email", "u_requester_email", "sys_created_by.email"),
        "requester_name": ("caller_id.name", "caller_id.display_value"),
        "title": ("short_description",),
        "status": ("state", "incident_state"),
        "resolved_at": ("resolved_at", "closed_at"),
        "updated_at": ("sys_updated_on",),
        "team": ("assignment_group.name", "assignment_group.display_value", "assignment_group"),
        "resolution_note": ("close_notes",),
        "language": ("caller_id.preferred_language",),
        "original_message_id": ("u_message_id",),
    },
    resolved_statuses=("6", "7", "Resolved", "Closed"),
    notes=(
        'ServiceNow incident table, Table API ({"result": [...]}) or list export '
        "(?JSONv2 gives {\"records\": [...]}). Fields 'number', 'short_description', 'state' "
        "(6 = Resolved, 7 = Closed, or the display words), 'resolved_at', 'close_notes', "
        "'assignment_group'. The caller's email needs a dot-walked field: request "
        "sysparm_fields=...,caller_id.email,caller_id.name. With sysparm_display_value=all each "
        'value is {"display_value", "value"}: names and groups use the display value, dates '
        "use 'value' (UTC, so keep timezone = UTC)."
    ),
)

FRESHDESK = Preset(
    name="freshdesk",
    formats=("csv",),
    columns={
        "ticket_id": ("Ticket ID", "Ticket Id"),
        "requester_email": ("Email", "Contact Email", "Requester Email"),
        "requester_name": ("Full name", "Contact Name", "Requester Name"),
        "title": ("Subject",),
        "status": ("Status",),
        "resolved_at": ("Resolved time", "Resolved Time", "Closed time"),
        "updated_at": ("Last updated time", "Last update time", "Updated time"),
        "team": ("Group",),
        "resolution_note": ("Resolution note", "Resolution Note"),
        "language": ("Language",),
        "original_message_id": ("Message-ID",),
    },
    resolved_statuses=("Resolved", "Closed"),
    notes=(
        "Freshdesk 'Tickets > Export' CSV: 'Ticket ID', 'Subject', 'Status', 'Priority', "
        "'Group', 'Agent', 'Created time', 'Resolved time', 'Closed time', ...; the requester "
        "appears only when contact fields are ticked in the export dialog ('Full name', "
        "'Email'). Times are in the helpdesk time zone (set the export's timezone)."
    ),
)

GLPI = Preset(
    name="glpi",
    formats=("csv",),
    columns={
        "ticket_id": ("ID",),
        "requester_email": (
            "Demandeur - Adresses de messagerie",
            "Demandeur - Courriel",
            "Requester - Email",
            "Requester - Emails",
            "Email",
        ),
        "requester_name": (
            "Demandeur - Demandeur",
            "Requester - Requester",
            "Demandeur",
            "Requester",
        ),
        "title": ("Titre", "Title"),
        "status": ("Statut", "Status"),
        "resolved_at": ("Date de résolution", "Resolution date", "Date de clôture", "Closing date"),
        "updated_at": ("Dernière modification", "Last update"),
        "team": ("Attribué à - Groupe", "Assigned to - Group", "Groupe", "Group"),
        "resolution_note": ("Solution - Solution", "Solution - Description", "Solution"),
        "language": ("Langue", "Language"),
        "original_message_id": ("Message-ID",),
    },
    resolved_statuses=("Solved", "Closed", "Résolu", "Clos"),
    delimiter=";",
    numeric_dates="dmy",
    notes=(
        "GLPI ticket search 'Export > CSV' (semicolon-separated, column titles in the user's "
        "language, 'ID;Titre;Statut;...;Date de résolution' or 'ID;Title;Status;...;Resolution "
        "date'); statuses as shipped ('Solved'/'Closed', 'Résolu'/'Clos'). Add the requester's "
        "email to the search display (its title varies by version and language) or map "
        "requester_email to it. Dates follow the user's preference; YYYY-MM-DD (the default) and "
        "DD-MM-YYYY are read, MM-DD-YYYY is not."
    ),
)

PRESETS: Mapping[str, Preset] = MappingProxyType(
    {preset.name: preset for preset in (JIRA, ZENDESK, SERVICENOW, FRESHDESK, GLPI)}
)


def build_mapping(
    preset: str | None,
    columns: Mapping[str, str],
    resolved_statuses: Sequence[str] | None,
    delimiter: str | None,
    default_timezone: str,
) -> ColumnMapping:
    """The mapping for one export source: a preset (or plain field names) with overrides.

    Without a preset, each field is read from a column of its own name (``ticket_id``,
    ``requester_email``...). Raises :class:`ConfigError` naming the bad preset, field, delimiter or
    time zone.
    """
    if preset is None:
        base: Mapping[str, tuple[str, ...]] = {name: (name,) for name in FIELDS}
        statuses: Sequence[str] = DEFAULT_RESOLVED
        chosen_delimiter, numeric_dates = ",", ""
        sideloads: tuple[Sideload, ...] = ()
    else:
        found = PRESETS.get(preset)
        if found is None:
            raise ConfigError(
                f"unknown export preset {preset!r}; known: {', '.join(sorted(PRESETS))}"
            )
        base, statuses = found.columns, found.resolved_statuses
        chosen_delimiter, numeric_dates = found.delimiter, found.numeric_dates
        sideloads = found.sideloads

    merged = {name: tuple(base.get(name, ())) for name in FIELDS}
    for name, column in columns.items():
        if name not in merged:
            raise ConfigError(
                f"unknown ticket field {name!r} in columns; known: {', '.join(FIELDS)}"
            )
        if not column.strip():
            raise ConfigError(f"columns.{name} is empty")
        merged[name] = (column.strip(),)

    if delimiter is not None:
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ConfigError(
                f"delimiter must be one character other than a quote, got {delimiter!r}"
            )
        chosen_delimiter = delimiter
    try:
        load_zone(default_timezone)
    except ValueError as exc:
        raise ConfigError(f"default_timezone: {exc}") from exc

    wanted = statuses if resolved_statuses is None else resolved_statuses
    return ColumnMapping(
        columns=MappingProxyType(merged),
        resolved_statuses=frozenset(normalise_status(s) for s in wanted if s.strip()),
        delimiter=chosen_delimiter,
        default_timezone=default_timezone,
        numeric_dates=numeric_dates,
        sideloads=sideloads,
    )
