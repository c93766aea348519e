"""Jira and Jira Service Management notifications (docs/imap-presets.md)."""

from __future__ import annotations

import re

from notifier.sources.mail.presets.reading import (
    Reading,
    first_group,
    note_block,
    one_line,
    unquoted,
)
from notifier.sources.mail.rules import clean_title, strip_quoted
from notifier.sources.mail.types import ParsedMail

# --- Jira Service Management ---------------------------------------------------------------
# Jira's issue notifications: subject "[JIRA] (<KEY-1>) <summary>", header X-JIRA-FingerPrint,
# text body "<actor> resolved <KEY-1>." / "reopened <KEY-1>." with field changes such as
# "Resolution: Done" and "Status: Resolved (was: In Progress)", and the issue block quoted with
# "> Reporter: <name>". Jira mails each recipient separately; the reporter's copy is To them.

_JIRA_SUBJECT = re.compile(
    r"^(?:(?:re|fwd?|aw)\s*:\s*)*\[JIRA\]\s*\((?P<key>[A-Z][A-Z0-9_]*-\d+)\)\s*(?P<title>.*)$",
    re.IGNORECASE,
)
_JIRA_KEY = re.compile(r"\b(?P<key>[A-Z][A-Z0-9_]*-\d+)\b")
_JIRA_DONE = r"(?:Resolved|Done|Closed|Completed)"
_JIRA_STATUS_DONE = re.compile(rf"^[ \t>]*Status:\s*{_JIRA_DONE}\b[^\n]*\(was:", re.MULTILINE)
_JIRA_STATUS_REOPEN = re.compile(
    rf"^[ \t>]*Status:\s*(?!{_JIRA_DONE}\b)[^\n(]+\(was:\s*{_JIRA_DONE}\s*\)", re.MULTILINE
)
_JIRA_REPORTER = re.compile(r"^[ \t>]*Reporter:\s*(?P<name>.+?)\s*$", re.MULTILINE)
_JIRA_RESOLUTION = re.compile(r"^[ \t>]*Resolution:\s*(?P<value>.+?)\s*$", re.MULTILINE)
_JIRA_FIELD_LINE = re.compile(r"^[ \t]{2,}[A-Z][\w /]*:\s")


def _jira_note(text: str) -> str:
    """The comment added with the transition: after the dashed line, minus field lines."""
    parts = re.split(r"^-{6,}[ \t]*$", text, maxsplit=1, flags=re.MULTILINE)
    body = parts[1] if len(parts) == 2 else ""
    lines = [ln for ln in body.splitlines() if not _JIRA_FIELD_LINE.match(ln)]
    return strip_quoted("\n".join(lines))


# Service projects mail the customer their own notifications instead (Atlassian, "Managing
# service project notifications": Request resolved, Request reopened, Public comment added,
# Customer-visible status changed...). A real one (Jira Cloud, archived on oss-security,
# 2026-08-11): subject "<KEY-1> <summary>", body "—-—-—-—" / "Reply above this line.",
# "<agent> commented:" and the comment, "View request: …/servicedesk/customer/portal/<n>/<KEY-1>…",
# "This is shared with …", footer "Powered by Jira Service Management". The wording of the
# resolved and reopened lines is not published; the forms below are read.
_JSM_MARKS = re.compile(
    r"^[ \t]*Reply above this line\.|Powered by Jira Service Management|"
    r"/servicedesk/customer/portal/\d+/",
    re.MULTILINE,
)
_JSM_SUBJECT = re.compile(
    r"^(?:(?:re|fwd?|aw)\s*:\s*)*(?P<key>[A-Z][A-Z0-9_]*-\d+)\s+(?P<title>.+)$"
)
_JSM_RESOLVED = re.compile(
    rf"\bresolved this\b|\bhas been resolved\b|^[ \t]*Request resolved[ \t.]*$|"
    rf"\bstatus (?:has )?changed to:?\s+\*?{_JIRA_DONE}\b",
    re.IGNORECASE | re.MULTILINE,
)
_JSM_REOPENED = re.compile(
    r"\breopened this\b|\bhas been reopened\b|^[ \t]*Request reopened[ \t.]*$|"
    r"\bstatus (?:has )?changed to:?\s+\*?Re-?opened\b",
    re.IGNORECASE | re.MULTILINE,
)
_JSM_COMMENT = re.compile(r"^[^\n]{1,120}\bcommented:[ \t]*$", re.MULTILINE)
_JSM_STATUS_LINE = re.compile(
    rf"^[^\n]*\bstatus (?:has )?changed to:?\s+\*?{_JIRA_DONE}\b[^\n]*$", re.I | re.M
)
_JSM_SPEAKER = re.compile(r"\A[^\n:]{1,60}:[ \t]+")
_JSM_NOTE_END = re.compile(
    r"[ \t]*(?:View request\b|Turn off this request|This is shared with\b|-{6,}|"
    r"Your request status\b|[^\n]*\b(?:resolved this|reopened this)\b|"
    r"[^\n]*\bstatus (?:has )?changed to\b)",
    re.IGNORECASE,
)


def _read_jsm_customer(mail: ParsedMail) -> Reading | None:
    """A service project's notification to the customer (see above)."""
    text = unquoted(mail.text)
    match = _JSM_SUBJECT.match(one_line(mail.subject))
    if match is None or not _JSM_MARKS.search(text):
        return None
    key, title = match.group("key"), match.group("title").strip()
    if _JSM_REOPENED.search(text):
        return Reading(key, "reopened", "customer notification: request reopened", title=title)
    if not _JSM_RESOLVED.search(text):
        return Reading(key, "update", "customer notification: comment or status", title=title)
    if _JSM_COMMENT.search(text):
        note = note_block(text, _JSM_COMMENT, _JSM_NOTE_END)
    else:  # the comment follows the status line, as "<agent>: <comment>"
        note = _JSM_SPEAKER.sub("", note_block(text, _JSM_STATUS_LINE, _JSM_NOTE_END), count=1)
    return Reading(
        key, "resolved", "customer notification: request resolved", title, note=note,
        to_customer=True,
    )  # fmt: skip


def read_jira(mail: ParsedMail) -> Reading | None:
    subject = one_line(mail.subject)
    match = _JIRA_SUBJECT.match(subject)
    if match is None:  # the portal mail carries X-JIRA-FingerPrint too
        customer = _read_jsm_customer(mail)
        if customer is not None:
            return customer
    if match is not None:
        key, title = match.group("key"), match.group("title").strip()
    elif mail.header("x-jira-fingerprint") and (found := _JIRA_KEY.search(subject)):
        key, title = found.group("key"), clean_title(_JIRA_KEY.sub("", subject, count=1))
    else:
        return None
    text = mail.text
    reporter = first_group(_JIRA_REPORTER, text, "name")
    fields = {"resolution": r} if (r := first_group(_JIRA_RESOLUTION, text, "value")) else {}
    if re.search(rf"\breopened {re.escape(key)}\b", text) or _JIRA_STATUS_REOPEN.search(text):
        return Reading(key, "reopened", "issue reopened", title=title)
    if re.search(rf"\bresolved {re.escape(key)}\b", text) or _JIRA_STATUS_DONE.search(text):
        return Reading(
            key,
            "resolved",
            "issue resolved",
            title=title,
            requester_name=reporter,
            note=_jira_note(text),
            fields=fields,
        )
    return Reading(key, "update", "issue updated or commented", title=title)
