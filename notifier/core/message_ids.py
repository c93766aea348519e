"""The Message-IDs notifier gives its notices: stable per resolution and per ticket.

Derived from the resolution key (and the ticket), never random: a retry, a re-queue after a
crash or a re-read of the same input carries the same Message-ID, so the requester's mail
program shows one message and recipients' servers can drop a duplicate.
"""

from __future__ import annotations

import hashlib
import re

# A domain as a Message-ID's right-hand side (RFC 5322 dot-atom, letters, digits, dots, hyphens).
DOMAIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", re.ASCII)


def message_id_for(resolution_key: str, domain: str) -> str:
    """The Message-ID of the notice for one resolution: the same for every retry and re-queue."""
    digest = hashlib.sha256(b"notice\x1f" + resolution_key.encode()).hexdigest()[:32]
    return f"<{digest}@{_check_domain(domain)}>"


def thread_reference_for(source: str, ticket_id: str, domain: str) -> str:
    """A stable Message-ID-like reference per ticket, so all notices about it thread together."""
    digest = hashlib.sha256(f"ticket\x1f{source}\x1f{ticket_id}".encode()).hexdigest()[:32]
    return f"<{digest}@{_check_domain(domain)}>"


def _check_domain(domain: str) -> str:
    if not DOMAIN_RE.fullmatch(domain):
        raise ValueError(f"invalid Message-ID domain {domain!r}")
    return domain
