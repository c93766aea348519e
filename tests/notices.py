"""A ready-made notice and the headers every notice carries, shared by the SMTP tests."""

from __future__ import annotations

import dataclasses

from notifier.core.model import Notice

# Every notice's headers, in the order build_message writes them (text/plain, no threading).
BASE_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]

_NOTICE = Notice(
    resolution_key="jira:IT-42:2025-03-04T05:00:00Z",
    ticket_id="IT-42",
    source="jira",
    team="desk",
    to_email="ann@example.org",
    to_name="Ann Example",
    subject="Your printer is working again",
    text="Hello Ann,\n\nyour printer is working again.\n",
    html=None,
    message_id="<0123456789abcdef@notifier.example.org>",
    in_reply_to="",
    references=(),
    reply_to="",
    template="default/resolved",
)


def make_notice(**changes: object) -> Notice:
    """The sample notice with some fields changed."""
    return dataclasses.replace(_NOTICE, **changes)  # type: ignore[arg-type]
