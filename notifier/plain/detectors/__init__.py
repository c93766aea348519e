"""Pattern detectors: each finds one kind of technical detail a requester should not see.

Every detector is a small function ``text -> list[Finding]`` with its regular expressions
compiled at import time, so a table of cases can test it alone. Overlaps between detectors are
settled by the gate (the longest span wins), not here. Borderline decisions, each tested:

* ``10:30`` is a time and ``1.2.3`` a version, not addresses: every address candidate is
  confirmed with :mod:`ipaddress`, and four numbers after "version" are a version.
* An e-mail address and a link to a named web site (``https://help.example.org/vpn``,
  ``www.example.org``) are normal in a notice: the gate does not report inside them, except an
  IP address. A bare host name is reported when it looks like a server (a digit in a label, an
  internal suffix such as ``.local`` or ``.corp``, or four labels and more).
* Machine names need two letters and two digits (``SRV01``) or a hyphen (``PC-4411``), so room
  numbers (``B12``, ``room 3.14``), ordinals, times (``10am``), sizes (``16GB``), postcodes and
  product names in the shipped list (``Office365``) are not machine names.
* CamelCase is an identifier unless it is a product name people use (iPhone, PowerPoint) or a
  surname (McDonald, MacArthur, DeSouza).
* HTTP status codes are reported only with context ("HTTP 503", "503 Service Unavailable",
  "error 404"); a bare number or a price is not one.
"""

from __future__ import annotations

from collections.abc import Callable

from notifier.plain.detectors.acronyms import explained_acronyms, find_acronyms
from notifier.plain.detectors.addresses import find_guid, find_ipv4, find_ipv6, find_mac
from notifier.plain.detectors.commands import find_commands
from notifier.plain.detectors.errors import find_error_codes, find_http_status, find_stack_traces
from notifier.plain.detectors.findings import SUGGESTIONS, Finding, Severity
from notifier.plain.detectors.identifiers import find_hex, find_identifiers, find_ticket_codes
from notifier.plain.detectors.links import find_links
from notifier.plain.detectors.names import find_hostnames, find_machine_names
from notifier.plain.detectors.paths import find_paths

__all__ = [
    "DETECTORS",
    "KIND_PRIORITY",
    "SUGGESTIONS",
    "Detector",
    "Finding",
    "Severity",
    "explained_acronyms",
    "find_acronyms",
    "find_commands",
    "find_error_codes",
    "find_guid",
    "find_hex",
    "find_hostnames",
    "find_http_status",
    "find_identifiers",
    "find_ipv4",
    "find_ipv6",
    "find_links",
    "find_mac",
    "find_machine_names",
    "find_paths",
    "find_stack_traces",
    "find_ticket_codes",
]

Detector = Callable[[str], list[Finding]]

DETECTORS: tuple[Detector, ...] = (
    find_stack_traces,
    find_commands,
    find_paths,
    find_ipv6,
    find_ipv4,
    find_mac,
    find_guid,
    find_error_codes,
    find_http_status,
    find_ticket_codes,
    find_hostnames,
    find_machine_names,
    find_hex,
    find_identifiers,
)

# When two findings cover the same span, the kind earlier here wins (it says more).
KIND_PRIORITY: tuple[str, ...] = (
    "stack_trace",
    "command",
    "path",
    "ipv6",
    "ipv4",
    "mac",
    "guid",
    "error_code",
    "http_status",
    "ticket_code",
    "exception",
    "hostname",
    "machine_name",
    "hex",
    "identifier",
    "glossary",
    "acronym",
)
