"""Hostile ticket data through composing and message building (property-based)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.compose import TeamProfile, compose
from notifier.delivery.message import build_message
from notifier.errors import PermanentDeliveryError
from notifier.model import Resolution
from notifier.render import Renderer

ROOT = Path(__file__).resolve().parents[2]
RENDERER = Renderer.load(ROOT / "templates")
TEAM = TeamProfile("default", "IT Help Desk", "help@example.org", "rewrite")
NASTY = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200
) | st.sampled_from(
    [
        "=?utf-8?q?x=0D=0ABcc:_evil@example.com?=",
        "Hi\r\nBcc: evil@example.com",
        "{{ ''.__class__.__mro__ }}",
        "{% for x in range(10**9) %}x{% endfor %}",
        "\ue000INC0012345\ue001",  # a forged 'allowed' mark
        "\x00\x1b[31m",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=NASTY, note=NASTY, name=NASTY)
def test_hostile_ticket_data_never_escapes_or_adds_a_header(
    title: str, note: str, name: str
) -> None:
    """Whatever a ticket says, composing never runs it as a template, never raises anything but
    a clean refusal, and the built message has exactly the headers notifier sets."""
    resolution = Resolution(
        source="s", ticket_id="T-1", requester_email="ann@example.org", requester_name=name,
        title=title, resolution_note=note, resolved_at=datetime(2026, 11, 27, tzinfo=UTC),
    )  # fmt: skip
    composed = compose(resolution, TEAM, RENDERER, domain="example.org")
    assert "__mro__" not in composed.notice.subject or "__mro__" in title
    assert "\ue000" not in composed.notice.text and "\ue001" not in composed.notice.text
    try:
        message = build_message(
            composed.notice,
            from_address="it@example.org",
            from_name="IT",
            now=datetime(2026, 11, 27, tzinfo=UTC),
        )
    except PermanentDeliveryError:
        return  # a name that cannot be a display name is refused with a clear reason
    names = [name.lower() for name in message.keys()]  # noqa: SIM118 - every header, repeats too
    assert "bcc" not in names and names.count("to") == 1 and names.count("subject") == 1
    raw = message.as_bytes()
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block
    # The forged mark did not make the ticket code 'allowed': the gate still saw it.
    if "INC0012345" in note and "\ue000" in note:
        assert (
            any(f.text == "INC0012345" for f in composed.review.findings)
            or composed.review.rewritten
        )
