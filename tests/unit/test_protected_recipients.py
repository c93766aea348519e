"""The last-line guard: no notice to the helpdesk's own addresses, whatever the source said.

The settings are the real validated models and ``build_rules`` the real composition root, so
what is protected is exactly what a configuration file protects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from notifier.core.errors import ConfigError
from notifier.core.model import Resolution
from notifier.core.rules import evaluate
from notifier.runtime.bootstrap import build_rules
from notifier.runtime.config import Settings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def settings(**rules: Any) -> Settings:
    return Settings.model_validate(
        {
            "smtp": {"from_address": "IT-Helpdesk@example.org"},
            "rules": {"max_age": 0, **rules},
            "teams": {"network": {"reply_to": "network-desk@example.org"}},
            "imap": [
                {
                    "name": "support",
                    "host": "imap.example.org",
                    "username": "Support@Example.org",
                    "password": "x",
                    "allow_plaintext_password": True,
                    "trusted_senders": ["rt@tickets.example.org", "@helpdesk.example.net"],
                },
                {  # a login name, not an address: nothing to protect
                    "name": "legacy",
                    "host": "imap.example.org",
                    "username": "it",
                    "password": "x",
                    "allow_plaintext_password": True,
                },
            ],
        }
    )


PROTECTED = settings(
    never_notify=["ceo@example.org", "@partner.example", "Vendor.Example", "bücher.example"]
)


def verdict(address: str, config: Settings = PROTECTED) -> tuple[str | None, str]:
    resolution = Resolution(source="desk", ticket_id="HD-42", requester_email=address)
    suppressed = evaluate(resolution, "default", build_rules(config, None), NOW).suppressed_by
    return (suppressed.rule, suppressed.detail) if suppressed else (None, "")


@pytest.mark.parametrize(
    ("address", "names"),
    [
        ("it-helpdesk@example.org", "smtp.from_address"),
        ("support@example.org", "[[imap]] 'support'"),  # the watched mailbox
        ("SUPPORT@EXAMPLE.ORG", "[[imap]] 'support'"),
        ("support+ticket-42@example.org", "[[imap]] 'support'"),  # subaddress: same mailbox
        ("network-desk@example.org", "team 'network'"),
        ("rt@tickets.example.org", "trusted_senders"),
        ("anyone@helpdesk.example.net", "trusted_senders"),
        ("ceo@example.org", "never_notify"),
        ("bob@partner.example", "never_notify"),
        ("bob@eu.partner.example", "never_notify"),  # subdomains are covered
        ("sales@vendor.example", "never_notify"),
        (" <Support@Example.org.> ", "[[imap]] 'support'"),
        ("shop@xn--bcher-kva.example", "never_notify 'bücher.example'"),  # IDNA: one domain
    ],
)
def test_a_protected_address_is_never_notified(address: str, names: str) -> None:
    """Each protected address (any case, a +tag, a trailing dot) is suppressed by the guard,
    and the reason names the ticket and the setting that protects the address."""
    rule, detail = verdict(address)
    assert rule == "protected_recipient", (address, rule, detail)
    assert "HD-42" in detail and names in detail, detail


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.org",
        "it@example.org",  # the legacy box logs in as "it": that is no address
        "bob@notpartner.example",  # a domain matches at a label boundary only
        "bob@partner.example.com",
        "anyone@sub.helpdesk.example.net",  # trusted domains are exact, as in the noise filter
        "ceo@eu.example.org",
    ],
)
def test_other_addresses_pass_the_guard(address: str) -> None:
    assert verdict(address) == (None, ""), address


def test_the_guard_is_the_first_rule_so_its_reason_is_recorded() -> None:
    """A protected address is named even when a later rule (a team opting out) would also
    suppress: the audit says why this address can never get a notice."""
    config = settings()
    rules = build_rules(config, config.teams["network"])
    resolution = Resolution(source="desk", ticket_id="HD-1", requester_email="support@example.org")
    evaluation = evaluate(resolution, "network", rules, NOW)
    assert evaluation.steps[0].rule == "protected_recipient"
    assert evaluation.suppressed_by is not None
    assert evaluation.suppressed_by.rule == "protected_recipient"


@pytest.mark.parametrize("entry", ["", "@", "a@b@c", "bad domain.example", "@-x.example", "x@"])
def test_a_bad_never_notify_entry_is_a_config_error_naming_it(entry: str) -> None:
    with pytest.raises((ConfigError, ValueError)) as caught:
        settings(never_notify=[entry])
    assert "never_notify" in str(caught.value)
