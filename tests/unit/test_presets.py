"""Each preset reads a realistic export row of its product; build_mapping validates and overrides."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from notifier.core.errors import ConfigError, InputError
from notifier.core.model import Resolution
from notifier.sources.export.csv_records import iter_csv_records
from notifier.sources.export.json_records import iter_json_records
from notifier.sources.export.presets import PRESETS, build_mapping
from notifier.sources.export.streams import CsvHeader, Record
from notifier.sources.records.mapping import ColumnMapping
from notifier.sources.records.rows import row_to_resolution


def from_csv(text: str, mapping: ColumnMapping) -> list[Resolution | None]:
    out: list[Resolution | None] = []
    for item in iter_csv_records(io.BytesIO(text.encode()), mapping.delimiter):
        if isinstance(item, CsvHeader):
            mapping, missing = mapping.for_header(item.names)
            assert missing == []
        else:
            assert isinstance(item, Record)
            out.append(row_to_resolution(item.data, mapping, source="s", origin=f"x:{item.line}"))
    return out


def from_json(text: str, mapping: ColumnMapping) -> list[Resolution | None]:
    out: list[Resolution | None] = []
    for item in iter_json_records(io.BytesIO(text.encode())):
        assert isinstance(item, Record)
        out.append(row_to_resolution(item.data, mapping, source="s", origin=f"x:{item.line}"))
    return out


JIRA_CSV = (
    "Summary,Issue key,Issue id,Issue Type,Status,Project key,Project name,Priority,Resolution,"
    "Assignee,Reporter,Creator,Created,Updated,Last Viewed,Resolved,Component/s,Labels,Labels,"
    "Description,Custom field (Reporter email),Custom field (Resolution note)\r\n"
    "VPN drops every hour,ITSD-7,10007,Incident,Done,ITSD,IT Service Desk,High,Done,Tom B,"
    "Maria Lopez,Maria Lopez,04/Mar/24 9:00 AM,05/Mar/24 2:30 PM,,05/Mar/24 2:22 PM,Network,"
    'vpn,remote,"It drops, every hour",maria@example.org,The VPN is stable again.\r\n'
    "Second screen,ITSD-8,10008,Task,In Progress,ITSD,IT Service Desk,Low,,,Bo,Bo,"
    "05/Mar/24 9:00 AM,05/Mar/24 9:00 AM,,,,,,,bo@example.org,\r\n"
)


def test_jira_csv_row() -> None:
    """Jira's CSV: 'Issue key', 'Status' Done, 'Resolved' as dd/MMM/yy h:mm a in the set zone."""
    res = from_csv(JIRA_CSV, build_mapping("jira", {}, None, None, "Europe/Paris"))
    first = res[0]
    assert first is not None
    assert (first.ticket_id, first.requester_email, first.requester_name) == (
        "ITSD-7",
        "maria@example.org",
        "Maria Lopez",
    )
    assert first.resolved_at == datetime(2024, 3, 5, 13, 22, tzinfo=UTC)
    assert first.team_hint == "Network"
    assert first.resolution_note == "The VPN is stable again."
    assert first.fields["Labels"] == "vpn\nremote"
    assert res[1] is None


ZENDESK_CSV = (
    "Id,Requester,Requester id,Requester external id,Requester email,Requester domain,Submitter,"
    "Assignee,Group,Subject,Tags,Status,Priority,Via,Ticket type,Created at,Updated at,"
    "Assigned at,Organization,Due date,Initially assigned at,Solved at\n"
    "4711,Hannah Schmidt,38124,,hannah@example.org,example.org,Hannah Schmidt,Jonas,IT Support,"
    "Plotter offline,plotter,Solved,Normal,Mail,Incident,2024-03-04 10:02,2024-03-05 14:40,"
    "2024-03-04 10:30,Example,,2024-03-04 10:30,2024-03-05 14:22\n"
)


def test_zendesk_csv_row() -> None:
    """Zendesk's admin CSV: 'Id', 'Requester email', 'Group', 'Status' Solved, 'Solved at'."""
    (res,) = from_csv(ZENDESK_CSV, build_mapping("zendesk", {}, None, None, "UTC"))
    assert res is not None
    assert (res.ticket_id, res.requester_email, res.team_hint) == (
        "4711",
        "hannah@example.org",
        "IT Support",
    )
    assert res.resolved_at == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)


ZENDESK_JSON = json.dumps(
    {
        "tickets": [
            {
                "id": 35436,
                "subject": "Help, my printer is on fire!",
                "status": "closed",
                "requester_id": 20978392,
                "group_id": 98738,
                "via": {"channel": "email", "source": {"from": {"address": "kofi@example.org"}}},
                "requester": {"name": "Kofi Asante", "email": "kofi@example.org"},
                "metric_set": {"solved_at": "2024-03-05T14:22:00Z"},
            },
            {"id": 35437, "subject": "Open one", "status": "open", "requester_id": 1},
        ],
        "next_page": None,
        "count": 2,
    }
)


def test_zendesk_json_tickets() -> None:
    """Zendesk's Tickets JSON with sideloaded requester and metric set."""
    res = from_json(ZENDESK_JSON, build_mapping("zendesk", {}, None, None, "UTC"))
    first = res[0]
    assert first is not None
    assert (first.ticket_id, first.requester_email, first.requester_name) == (
        "35436",
        "kofi@example.org",
        "Kofi Asante",
    )
    assert first.resolved_at == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)
    assert first.team_hint == "98738"
    assert res[1] is None


def test_zendesk_json_falls_back_to_the_email_sender() -> None:
    """Without sideloaded users the email channel's sender address is the requester."""
    row = {"id": 1, "status": "solved", "via": {"source": {"from": {"address": "a@example.org"}}}}
    res = row_to_resolution(
        row, build_mapping("zendesk", {}, None, None, "UTC"), source="s", origin="o"
    )
    assert res is not None
    assert res.requester_email == "a@example.org"


SERVICENOW_PLAIN = json.dumps(
    {
        "result": [
            {
                "number": "INC0010001",
                "short_description": "Outlook asks for password",
                "state": "6",
                "caller_id.email": "amira@example.org",
                "caller_id.name": "Amira Haddad",
                "assignment_group": "Service Desk",
                "resolved_at": "2024-03-05 14:22:00",
                "close_notes": "Fixed the password prompt.",
            },
            {"number": "INC0010002", "state": "2", "caller_id.email": "x@example.org"},
            {"number": "INC0010003", "state": "7", "caller_id.email": "lukas@example.org"},
        ]
    }
)


def test_servicenow_table_api_numeric_states() -> None:
    """ServiceNow incidents: state 6 (Resolved) and 7 (Closed) count, 2 (In Progress) does not."""
    res = from_json(SERVICENOW_PLAIN, build_mapping("servicenow", {}, None, None, "UTC"))
    assert [r.ticket_id if r else None for r in res] == ["INC0010001", None, "INC0010003"]
    first = res[0]
    assert first is not None
    assert first.resolution_note == "Fixed the password prompt."
    assert first.team_hint == "Service Desk"
    assert first.resolved_at == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)


SERVICENOW_DISPLAY_ALL = json.dumps(
    {
        "result": [
            {
                "number": {"display_value": "INC0010004", "value": "INC0010004"},
                "state": {"display_value": "Resolved", "value": "6"},
                "caller_id": {
                    "display_value": "Abel Tuter",
                    "link": "https://x.service-now.com/api/now/table/sys_user/62826bf0",
                    "value": "62826bf03710200044e0bfc8bcbe5df1",
                },
                "caller_id.email": {
                    "display_value": "abel@example.org",
                    "value": "abel@example.org",
                },
                "assignment_group": {
                    "display_value": "Network",
                    "value": "287ebd7da9fe198100f92cc8",
                },
                "resolved_at": {
                    "display_value": "05/03/2024 15:22:00",
                    "value": "2024-03-05 14:22:00",
                },
            }
        ]
    }
)


def test_servicenow_display_value_all_objects() -> None:
    """{display_value, value} objects: names use display values, dates the UTC 'value'."""
    (res,) = from_json(
        SERVICENOW_DISPLAY_ALL, build_mapping("servicenow", {}, ["Resolved"], None, "UTC")
    )
    assert res is not None
    assert res.ticket_id == "INC0010004"
    assert res.requester_name == "Abel Tuter"
    assert res.team_hint == "Network"
    assert res.status == "Resolved"
    assert res.resolved_at == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)
    assert res.fields["caller_id.value"] == "62826bf03710200044e0bfc8bcbe5df1"


FRESHDESK_CSV = (
    "Ticket ID,Subject,Description,Status,Priority,Source,Type,Agent,Group,Created time,"
    "Due by Time,Resolved time,Closed time,Last update time,Full name,Email\n"
    "231,Keyboard broken,Keys stick,Resolved,Medium,Email,Incident,Jo,Hardware,"
    "2024-03-04 09:00:00,2024-03-06 09:00:00,2024-03-05 15:22:00,,2024-03-05 15:22:00,"
    "Grace Mensah,grace@example.org\n"
    "232,Mouse,Lost,Pending,Low,Portal,Question,Jo,Hardware,2024-03-04 09:00:00,,,,,Ed,ed@example.org\n"
)


def test_freshdesk_csv_row() -> None:
    """Freshdesk's ticket export with contact fields ticked: 'Email', 'Resolved time'."""
    res = from_csv(FRESHDESK_CSV, build_mapping("freshdesk", {}, None, None, "Europe/Paris"))
    first = res[0]
    assert first is not None
    assert (first.ticket_id, first.requester_email, first.requester_name, first.team_hint) == (
        "231",
        "grace@example.org",
        "Grace Mensah",
        "Hardware",
    )
    assert first.resolved_at == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)
    assert res[1] is None


GLPI_FR = (
    "\ufeffID;Titre;Statut;Date d'ouverture;Date de résolution;Priorité;Demandeur - Demandeur;"
    "Demandeur - Adresses de messagerie;Attribué à - Groupe\r\n"
    "1 024;Imprimante HS;Résolu;04-03-2024 10:00;05-03-2024 15:22;Moyenne;Léa Martin;"
    "lea@example.org;Support N1\r\n"
    "1 025;Écran;En cours (Attribué);04-03-2024 11:00;;Basse;Paul;paul@example.org;Support N1\r\n"
)
GLPI_EN = (
    "ID;Title;Status;Opening date;Resolution date;Requester - Requester;Requester - Email;"
    "Assigned to - Group\n"
    "77;Printer;Closed;2024-03-04 10:00;2024-03-05 15:22;Lea Martin;lea@example.org;Level 1\n"
)


@pytest.mark.parametrize("text", [GLPI_FR.lstrip("\ufeff"), GLPI_EN])
def test_glpi_csv_in_french_and_english(text: str) -> None:
    """GLPI's ';'-separated search export: French or English titles and status words."""
    res = from_csv(text, build_mapping("glpi", {}, None, None, "Europe/Paris"))
    first = res[0]
    assert first is not None
    assert first.requester_email == "lea@example.org"
    assert first.resolved_at == datetime(2024, 3, 5, 14, 22, tzinfo=UTC)
    assert first.team_hint in {"Support N1", "Level 1"}
    assert all(r is None for r in res[1:])


def test_every_preset_documents_its_sources_and_required_columns() -> None:
    """Each preset names where its columns come from and maps the two required fields."""
    for preset in PRESETS.values():
        assert len(preset.notes) > 80
        assert preset.columns["ticket_id"]
        assert preset.columns["requester_email"]
        assert preset.resolved_statuses


def test_user_columns_override_single_preset_entries() -> None:
    """A columns table replaces only the fields it names; the rest keep the preset's names."""
    mapping = build_mapping("jira", {"requester_email": "Reporter Mail"}, None, None, "UTC")
    assert mapping.candidates("requester_email") == ("Reporter Mail",)
    assert mapping.candidates("ticket_id") == PRESETS["jira"].columns["ticket_id"]


def test_resolved_statuses_override_and_normalise() -> None:
    """User statuses replace the preset's set and are compared trimmed and case-folded."""
    mapping = build_mapping("jira", {}, ["  Fertig "], None, "UTC")
    assert mapping.resolved_statuses == frozenset({"fertig"})
    assert mapping.is_resolved("FERTIG")
    assert not mapping.is_resolved("Done")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("jiraa", {}, None, None, "UTC"), "unknown export preset 'jiraa'"),
        ((None, {"requester": "x"}, None, None, "UTC"), "unknown ticket field 'requester'"),
        ((None, {"title": " "}, None, None, "UTC"), "columns.title is empty"),
        ((None, {}, None, ";;", "UTC"), "delimiter"),
        ((None, {}, None, None, "Mars/Olympus"), "Mars/Olympus"),
    ],
)
def test_bad_configuration_names_the_culprit(args: tuple[object, ...], message: str) -> None:
    """build_mapping raises ConfigError naming the bad preset, field, delimiter or zone."""
    with pytest.raises(ConfigError, match=message):
        build_mapping(*args)  # type: ignore[arg-type]


def test_header_missing_required_columns_lists_them() -> None:
    """for_header names each required field without a column, with the names looked for."""
    mapping = build_mapping("zendesk", {}, None, None, "UTC")
    narrowed, missing = mapping.for_header(["id", "Subject", "Status"])
    assert narrowed.candidates("ticket_id") == ("id",)
    assert len(missing) == 1
    assert missing[0].startswith("requester email (expected a column named 'Requester email'")


# Jira's 'Export > CSV' writes the reporter's display name; where users are named by their
# address (customers created from mail, Jira Service Management portal-only customers) the
# 'Reporter' cell holds the address itself, and the export has no email column at all.
JIRA_REPORTER_IS_ADDRESS = (
    "Summary,Issue key,Issue id,Status,Resolution,Reporter,Created,Resolved\r\n"
    "VPN drops,ITSD-7,10007,Done,Done,maria@example.org,04/Mar/24 9:00 AM,05/Mar/24 2:22 PM\r\n"
    'Printer,ITSD-8,10008,Done,Done,"Bo Berg <bo@example.org>",04/Mar/24 9:00 AM,'
    "05/Mar/24 2:22 PM\r\n"
)
# GLPI names a requester created by the mail collector by its address (login = address).
GLPI_REQUESTER_IS_ADDRESS = (
    "ID;Titre;Statut;Date de résolution;Demandeur - Demandeur\r\n"
    "1 024;Imprimante HS;Résolu;05-03-2024 15:22;lea@example.org\r\n"
)


def test_a_reporter_column_holding_the_address_gives_the_requester() -> None:
    """Issue 15 item 12: no email column, the 'Reporter' / 'Demandeur' cell is the address."""
    jira = from_csv(JIRA_REPORTER_IS_ADDRESS, build_mapping("jira", {}, None, None, "UTC"))
    assert [(r.requester_email, r.requester_name) for r in jira if r is not None] == [
        ("maria@example.org", ""),  # never greet by the address
        ("bo@example.org", "Bo Berg"),
    ]
    (glpi,) = from_csv(GLPI_REQUESTER_IS_ADDRESS, build_mapping("glpi", {}, None, None, "UTC"))
    assert glpi is not None and glpi.requester_email == "lea@example.org"


def test_a_reporter_column_holding_an_address_list_or_a_name_is_rejected() -> None:
    """Only one address counts; a list is rejected, and a plain name still is no address."""
    mapping, missing = build_mapping("jira", {}, None, None, "UTC").for_header(
        ["Issue key", "Status", "Reporter"]
    )
    assert missing == []
    listed = {"Issue key": "ITSD-9", "Status": "Done", "Reporter": "a@example.org, b@example.org"}
    with pytest.raises(InputError, match=r"column 'Reporter'.*address list"):
        row_to_resolution(listed, mapping, source="s", origin="x:2")
    named = {"Issue key": "ITSD-9", "Status": "Done", "Reporter": "Maria Lopez"}
    with pytest.raises(InputError, match=r"missing requester email.*'Reporter' holds a name"):
        row_to_resolution(named, mapping, source="s", origin="x:2")
