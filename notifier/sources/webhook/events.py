"""One received webhook event into what the service reads: a resolution, a reopen, an update
(ignored, with its reason) or a problem naming what is wrong. Pure; the receiver calls it to
answer the sender, the source to read the committed event, and both get the same verdict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

from notifier.core.model import Ignored, InputProblem, Reopened, Resolution
from notifier.sources.records.mapping import MAX_ID_CHARS
from notifier.sources.records.verdict import RecordVerdict, record_verdict
from notifier.sources.webhook.presets.preset import WebhookPreset

WebhookVerdict = RecordVerdict


def event_id_of(preset: WebhookPreset, headers: Mapping[str, str], body: bytes) -> str:
    """The product's id of this event (kept across its retries), else a digest of the body."""
    if preset.event_id_header:
        given = headers.get(preset.event_id_header.lower(), "").strip()
        if given:
            return given[:MAX_ID_CHARS]
    if preset.event_id_field:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, Mapping):
            value = payload.get(preset.event_id_field)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return f"{preset.event_id_field}:{value}"[:MAX_ID_CHARS]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def verdict_of(
    preset: WebhookPreset, body: str, *, source: str, origin: str, received_at: datetime
) -> WebhookVerdict:
    """What one event says. A payload that is not a JSON object, or that the preset cannot
    read, is an :class:`InputProblem` naming ``origin`` and why."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return InputProblem(source, origin, f"the body is not JSON ({exc})")
    if not isinstance(payload, Mapping):
        return InputProblem(
            source, origin, f"the body is a JSON {type(payload).__name__}, not an object"
        )
    try:
        record = preset.prepare(payload)
    except ValueError as exc:
        return InputProblem(source, origin, f"not a {preset.product} webhook payload: {exc}")
    return record_verdict(
        record, preset.mapping, reopen_statuses=preset.reopen_statuses, source=source,
        origin=origin, seen_at=received_at, what="payload",
    )  # fmt: skip


def events_of(
    verdict: WebhookVerdict, product: str
) -> list[Resolution | Reopened | Ignored | InputProblem]:
    """The events one verdict gives the service: an update (a ticket changed, not resolved
    and not reopened) is recorded as ignored beside the reopen check every open event gets."""
    if isinstance(verdict, Reopened) and not verdict.announced:
        update = Ignored(
            verdict.source,
            verdict.origin,
            f"update: {product} ticket {verdict.ticket_id} is {verdict.status}, not resolved",
            verdict.ticket_id,
        )
        return [verdict, update]
    return [verdict]
