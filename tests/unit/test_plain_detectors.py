"""Table tests for each pattern detector of the plain-language gate, positives and negatives."""

from __future__ import annotations

import pytest

from notifier.plain import detectors as d
from notifier.plain.words import Familiarity, everyday_acronyms


def _texts(findings: list[d.Finding]) -> list[str]:
    return [f.text for f in findings]


CASES: list[tuple[d.Detector, str, list[str]]] = [
    # IPv4: confirmed by ipaddress; times, versions and prices are not addresses.
    (d.find_ipv4, "Your laptop got 10.20.4.117 today.", ["10.20.4.117"]),
    (d.find_ipv4, "The range 192.168.0.0/24 is blocked.", ["192.168.0.0/24"]),
    (d.find_ipv4, "See you at 10:30 on 27.11.2026.", []),
    (d.find_ipv4, "Update to version 1.2.3.4 or 1.2.3 please.", []),
    (d.find_ipv4, "Not an address: 300.1.2.3.", []),
    (d.find_ipv4, "It costs $1,299.00 in total.", []),
    # IPv6
    (d.find_ipv6, "It used fe80::1c2b:3aff:fe4d:5e6f all day.", ["fe80::1c2b:3aff:fe4d:5e6f"]),
    (d.find_ipv6, "Route 2001:db8::5/64 then.", ["2001:db8::5/64"]),
    (d.find_ipv6, "The call ran from 10:30:15 to 11:00:00.", []),
    (d.find_ipv6, "The score was 3:2:1.", []),
    # MAC
    (
        d.find_mac,
        "Device 00:1A:2B:3C:4D:5E and 00-1a-2b-3c-4d-5f.",
        ["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5f"],
    ),
    (d.find_mac, "Cisco form 001a.2b3c.4d5e here.", ["001a.2b3c.4d5e"]),
    (d.find_mac, "Phone 0161.4960.1234 is a number.", []),
    # GUID
    (
        d.find_guid,
        "Id {3F2504E0-4F89-11D3-9A0C-0305E82C3301}.",
        ["{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"],
    ),
    (
        d.find_guid,
        "Ref 3f2504e0-4f89-11d3-9a0c-0305e82c3301 ok",
        ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"],
    ),
    (d.find_guid, "Call 0161-496-0123 today.", []),
    # Host names: server-like names only; web addresses and file names are fine.
    (d.find_hostnames, "Files on fs01.corp.example.com now.", ["fs01.corp.example.com"]),
    (d.find_hostnames, "Open intranet.local in the browser.", ["intranet.local"]),
    (d.find_hostnames, "Mail went via smtp.corp.example.org.", ["smtp.corp.example.org"]),
    (d.find_hostnames, "Go to portal.example.com to book.", []),
    (d.find_hostnames, "Read www.gov.uk and report.pdf, e.g. today.", []),
    (d.find_hostnames, "It was done.Thanks for waiting.", []),
    # Machine names
    (
        d.find_machine_names,
        "PC-4411, LAPTOP-7GH2K, SRV01 and srv-db-02.",
        ["PC-4411", "LAPTOP-7GH2K", "SRV01", "srv-db-02"],
    ),
    (d.find_machine_names, "Room B12, room 3.14, room AB12 and iPhone 15.", []),
    (d.find_machine_names, "It has 16GB, arrives on the 21st at 10am.", []),
    (d.find_machine_names, "Send it to AB12 3CD please, not Office365 or COVID-19.", []),
    (d.find_machine_names, "The FY2026 and Q3 budget.", []),
    # Paths
    (d.find_paths, r"Saved in C:\Users\sjones\Desktop.", [r"C:\Users\sjones\Desktop"]),
    (d.find_paths, r"Share \\fs01\finance\q3 is back.", [r"\\fs01\finance\q3"]),
    (d.find_paths, "Edit /etc/hosts and ~/.ssh/config now.", ["/etc/hosts", "~/.ssh/config"]),
    (d.find_paths, "Logs in /var/log/syslog.", ["/var/log/syslog"]),
    (d.find_paths, "On 27/11/2026, phone and/or email us 24/7.", []),
    (d.find_paths, "Run it with /force please.", []),
    (d.find_paths, "Open https://help.example.org/a/b now.", []),
    # Stack traces and exceptions
    (
        d.find_stack_traces,
        "Traceback (most recent call last):",
        ["Traceback (most recent call last):"],
    ),
    (d.find_stack_traces, "It threw NullPointerException.", ["NullPointerException"]),
    (d.find_stack_traces, "It threw System.IO.IOException.", ["System.IO.IOException"]),
    (d.find_stack_traces, "   at Acme.App.Save(String path)", ["   at Acme.App.Save(String path)"]),
    (d.find_stack_traces, "There was an Error and an Exception.", []),
    # Error codes
    (d.find_error_codes, "Error 0x80070005 again.", ["0x80070005"]),
    (d.find_error_codes, "AADSTS50058 and ORA-12154.", ["AADSTS50058", "ORA-12154"]),
    (d.find_error_codes, "It failed with exit code 1603.", ["exit code 1603"]),
    (d.find_error_codes, "The log said ENOENT.", ["ENOENT"]),
    (d.find_error_codes, "You will not see the error code again.", []),
    (d.find_error_codes, "We fixed the error 3 days ago.", []),
    # HTTP status, only in context
    (d.find_http_status, "The page gave HTTP 503 all morning.", ["HTTP 503"]),
    (d.find_http_status, "It said 503 Service Unavailable.", ["503 Service Unavailable"]),
    (d.find_http_status, "You saw error 404 before.", ["error 404"]),
    (d.find_http_status, "It costs $404 and 503 people use it.", []),
    (d.find_http_status, "Your status: 500 users moved.", []),
    # Commands
    (d.find_commands, "I ran ipconfig /flushdns for you.", ["ipconfig /flushdns"]),
    (d.find_commands, "Please run gpupdate /force.", ["gpupdate /force"]),
    (d.find_commands, "I ran sudo apt upgrade on it.", ["sudo apt upgrade"]),
    (d.find_commands, "Run Get-ADUser to check.", ["Get-ADUser"]),
    (d.find_commands, "I ran chmod 755 on the folder.", ["chmod 755"]),
    (d.find_commands, "Type `net stop spooler` first.", ["`net stop spooler`"]),
    (d.find_commands, "Please ping me, cat lovers; the file is Read-Only; Set-Up done.", []),
    (d.find_commands, "Find the cat picture and kill time.", []),
    # Ticket codes
    (
        d.find_ticket_codes,
        "See INC0012345, RITM0012345 and KB0012345.",
        ["INC0012345", "RITM0012345", "KB0012345"],
    ),
    (
        d.find_ticket_codes,
        "CHG0031337, PRB0001234, REQ0101010, SCTASK0012345.",
        ["CHG0031337", "PRB0001234", "REQ0101010", "SCTASK0012345"],
    ),
    (d.find_ticket_codes, "Your ticket number is 48213; the file is 12 KB.", []),
    # Identifiers
    (
        d.find_identifiers,
        "Set userPrincipalName and DisplayName.",
        ["userPrincipalName", "DisplayName"],
    ),
    (d.find_identifiers, "The max_upload_size was low.", ["max_upload_size"]),
    (d.find_identifiers, "Use your iPhone, PowerPoint, OneDrive, YouTube and LinkedIn.", []),
    (d.find_identifiers, "Ask Ms McDonald or Mr MacArthur.", []),
    # Long hex
    (d.find_hex, "The hash 3f2a9c1b7d4e5f60a1b2 differs.", ["3f2a9c1b7d4e5f60a1b2"]),
    (d.find_hex, "Call 01614960123456 or read deadbeefcafe.", []),
]


@pytest.mark.parametrize(("detector", "text", "expected"), CASES)
def test_detector_table(detector: d.Detector, text: str, expected: list[str]) -> None:
    """Each detector finds exactly the expected spans, and nothing in the negative cases."""
    found = detector(text)
    assert _texts(found) == expected
    for finding in found:
        assert text[finding.start : finding.end] == finding.text
        assert finding.suggestion
        assert finding.severity == "block"


def test_links_cover_urls_and_email_addresses() -> None:
    """Links and e-mail addresses are found so the gate can stay quiet inside them."""
    text = "Mail sam@example.com or open https://help.example.org/vpn. Or www.example.org."
    assert [text[a:b] for a, b in d.find_links(text)] == [
        "sam@example.com",
        "https://help.example.org/vpn",
        "www.example.org",
    ]


ACRONYM_CASES = [
    ("We fixed DHCP and GPO.", ["DHCP", "GPO"]),
    ("Your PC, USB stick, PDF and VPN work.", []),
    ("PLEASE NOTE: DO NOT UNPLUG IT.", []),
    ("Two PCs and three VLANs.", ["VLANs"]),
    ("Phase II starts, as does SRV01.", []),
    ("The MP4 file and the WPA2 key.", ["WPA2"]),
]


@pytest.mark.parametrize(("text", "expected"), ACRONYM_CASES)
def test_acronym_rule(text: str, expected: list[str]) -> None:
    """Acronyms not on the everyday list are reported; shouted words and codes are not."""
    found = d.find_acronyms(
        text, everyday=everyday_acronyms(), is_familiar=Familiarity().is_familiar
    )
    assert _texts(found) == expected


@pytest.mark.parametrize(
    ("text", "acronym"),
    [
        ("We set up single sign-on (SSO) for you.", "SSO"),
        ("SSO (single sign-on) is on.", "SSO"),
        ("Dynamic Host Configuration Protocol (DHCP) hands out addresses.", "DHCP"),
        ("Use multi-factor authentication (MFA) from now on.", "MFA"),
        ("SAML stands for Security Assertion Markup Language.", "SAML"),
        ("the Department for Work and Pensions (DWP) wrote", "DWP"),
    ],
)
def test_spelled_out_acronyms_are_explained(text: str, acronym: str) -> None:
    """An acronym spelled out in the same text, before or after it, counts as explained."""
    assert acronym in d.explained_acronyms(text)


def test_wrong_spelling_out_does_not_explain() -> None:
    """Parentheses alone do not explain an acronym: the initials must match."""
    assert "GPO" not in d.explained_acronyms("We changed a setting (GPO) for you.")
