"""What a webhook preset is: one product's check, its event id and how its payload maps onto a
ticket (:class:`WebhookPreset`), and the mapping builder every preset and the generic one use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from notifier.sources.records.mapping import ColumnMapping, mapping_of, statuses
from notifier.sources.webhook.auth import Check

Payload = Mapping[str, object]
# Reshapes a product's payload into the record the mapping reads (a status code into its
# word, the resolving follow-up's time): pure, and raises ValueError for a payload it cannot use.
Prepare = Callable[[Payload], Payload]


def _as_is(payload: Payload) -> Payload:
    return payload


@dataclass(frozen=True)
class WebhookPreset:
    """One product's webhooks. ``event_id_header`` (or ``event_id_field``, a top-level key of
    the payload): the product's id of one event, kept across its retries; without one, the
    event id is a digest of the body. ``reopen_statuses``: the
    status words that say the ticket was reopened (a waiting notice is cancelled, recorded);
    any other status that is not resolved is an update. ``sources``: where the shapes and the
    check come from."""

    key: str
    product: str
    check: Check
    mapping: ColumnMapping
    event_id_header: str = ""
    event_id_field: str = ""
    prepare: Prepare = _as_is
    reopen_statuses: frozenset[str] = frozenset()
    sources: str = ""
    paste: str = ""  # the payload to paste into the product, where the admin writes it
    # The product sends every update of a resolved ticket, and no time of its resolution
    # (GLPI): a ticket's resolution is told once, until an event shows it open again.
    told_until_reopened: bool = False


__all__ = ["Payload", "Prepare", "WebhookPreset", "mapping_of", "statuses"]
