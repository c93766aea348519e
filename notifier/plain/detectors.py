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

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from notifier.plain.textcache import text_cache
from notifier.plain.words import product_names

Severity = Literal["block", "warn", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Something in a text that a requester may not understand."""

    kind: str
    text: str
    start: int
    end: int
    suggestion: str
    severity: Severity
    replacement: str | None = None


SUGGESTIONS = {
    "ipv4": "leave the address out; say 'your computer', 'the printer' or 'the server'",
    "ipv6": "leave the address out; say 'your computer', 'the printer' or 'the server'",
    "mac": "leave the hardware code out; say 'your laptop' or 'the printer'",
    "guid": "leave the code out; say what it belongs to in plain words",
    "hostname": "leave the server name out; say 'the file server' or 'our email system'",
    "machine_name": "leave the machine name out; say 'your computer' or 'the printer'",
    "path": "leave the path out; say 'your Documents folder' or 'the team's shared folder'",
    "stack_trace": "leave the error details out; say what went wrong and what works now",
    "exception": "leave the error name out; say what went wrong and what works now",
    "error_code": "leave the error code out; say what went wrong and what works now",
    "http_status": "leave the status code out; say 'the website was not working'",
    "command": "leave the command out; say what you did ('I cleared a saved setting')",
    "ticket_code": "leave the code out, or link to the page in plain words",
    "identifier": "leave the technical name out; describe it in plain words",
    "hex": "leave the code out; say what it belongs to in plain words",
}

_TRAILING = ".,;:!?)]}'\"’”"

# Cheap first checks: most messages have none of these, and a pattern with no lookbehind at its
# start lets the regex engine skip ahead fast. Each detector returns early when its check fails.
_QUICK_IPV4 = re.compile(r"\d\.\d{1,3}\.\d")
_QUICK_IPV6 = re.compile(r"::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]")
_QUICK_MAC = re.compile(r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.")
_QUICK_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-")
_QUICK_HOST = re.compile(r"[A-Za-z0-9]\.[A-Za-z]{2}")
_QUICK_DIGIT_WORD = re.compile(r"[A-Za-z]-?\d|\d-?[A-Za-z]")
_QUICK_UNIX_PATH = re.compile(r"/[\w.~]")
_QUICK_EXCEPTION = re.compile(r"Exception|Error|Fault|Traceback|File \"|^[ \t]*at ", re.MULTILINE)
_QUICK_THREE_DIGITS = re.compile(r"[1-5]\d\d")
_QUICK_STATUS_REASON = re.compile(r"[1-5]\d\d\s+[A-Za-z]")
_HTTP_CONTEXT = ("http", "error", "status", "respon", "return", "code")
_QUICK_TICKET = re.compile(r"[A-Z]\d{4}")
_QUICK_CAMEL = re.compile(r"[a-z][A-Z]|[A-Za-z0-9]_[A-Za-z0-9]")
_QUICK_HEX = re.compile(r"[0-9a-fA-F]{12}")
_QUICK_LINK = re.compile(r"://|www\.|@")
_QUICK_NAMED_CODE = re.compile(r"[A-Z]{2}[A-Z_-]*\d|[A-Z]_[A-Z]|E[A-Z]{3}")
_QUICK_CMDLET = re.compile(r"[a-z]-[A-Z]")
_QUICK_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]")
_QUICK_UNC_PATH = re.compile(r"\\\\")
# The checks asked through _quick() (all but _QUICK_STATUS_REASON). None may match a line break
# (tested), so a text can be searched paragraph by paragraph.
_LINE_QUICK = (
    _QUICK_IPV4,
    _QUICK_IPV6,
    _QUICK_MAC,
    _QUICK_GUID,
    _QUICK_HOST,
    _QUICK_DIGIT_WORD,
    _QUICK_UNIX_PATH,
    _QUICK_EXCEPTION,
    _QUICK_THREE_DIGITS,
    _QUICK_TICKET,
    _QUICK_CAMEL,
    _QUICK_HEX,
    _QUICK_LINK,
    _QUICK_NAMED_CODE,
    _QUICK_CMDLET,
    _QUICK_WINDOWS_PATH,
    _QUICK_UNC_PATH,
)


def _quick(pattern: re.Pattern[str], text: str) -> bool:
    """``pattern.search(text)`` for a pattern of _LINE_QUICK, answered from a cache."""
    return pattern in _quick_hits(text)


def _quick_hits(text: str) -> frozenset[re.Pattern[str]]:
    """The _LINE_QUICK patterns found in a text. Every detector asks about the same text, so
    the latest few are kept (unless long: at most 16 texts of 20,000 characters are held);
    each paragraph's answer is cached too, since a template's own paragraphs recur."""
    if len(text) > _QUICK_HITS_LONGEST:
        return _find_quick_hits(text)
    return _recent_quick_hits(text)


_QUICK_HITS_LONGEST = 20_000


def _find_quick_hits(text: str) -> frozenset[re.Pattern[str]]:
    hits: frozenset[re.Pattern[str]] = frozenset()
    for paragraph in text.split("\n\n"):
        hits |= _paragraph_hits(paragraph)
    return hits


_recent_quick_hits = lru_cache(maxsize=16)(_find_quick_hits)


@text_cache
def _paragraph_hits(paragraph: str) -> frozenset[re.Pattern[str]]:
    return frozenset(pattern for pattern in _LINE_QUICK if pattern.search(paragraph))


def _finding(kind: str, text: str, start: int, end: int) -> Finding:
    return Finding(kind, text[start:end], start, end, SUGGESTIONS[kind], "block")


def _trim(text: str, start: int, end: int) -> int:
    """Drop sentence punctuation that a greedy pattern swallowed at the end."""
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    return end


# -- addresses ----------------------------------------------------------------------------

_IPV4_RE = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?!\w|\.\d)")
_VERSION_BEFORE_RE = re.compile(r"(?i)\b(?:version|ver|v|build|release)\.?\s*$")
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?:%[\w.]+)?(?:/\d{1,3})?(?![\w:])"
)
_MAC_RE = re.compile(
    r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![\w:-])"
    r"|(?<![\w.])(?=[\d.]*[A-Fa-f])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])"
)
_GUID_RE = re.compile(
    r"\{?(?<![\w-])[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}(?![\w-])\}?"
)


def find_ipv4(text: str) -> list[Finding]:
    """IPv4 addresses and networks (10.1.2.3, 192.168.0.0/24), confirmed with ipaddress."""
    found: list[Finding] = []
    if not _quick(_QUICK_IPV4, text):
        return found
    for match in _IPV4_RE.finditer(text):
        candidate = match.group()
        try:
            ipaddress.ip_interface(candidate)
        except ValueError:
            continue
        if _VERSION_BEFORE_RE.search(text, max(0, match.start() - 12), match.start()):
            continue
        found.append(_finding("ipv4", text, match.start(), match.end()))
    return found


def find_ipv6(text: str) -> list[Finding]:
    """IPv6 addresses (fe80::1, 2001:db8::5/64); times such as 10:30:15 fail ipaddress."""
    found: list[Finding] = []
    if not _quick(_QUICK_IPV6, text):
        return found
    for match in _IPV6_RE.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in ".:" and text[end - 2 : end] != "::":
            end -= 1
        candidate = text[match.start() : end]
        if not any(ch in "0123456789abcdefABCDEF" for ch in candidate):
            continue
        try:
            ipaddress.ip_interface(candidate.split("%")[0] if "/" not in candidate else candidate)
        except ValueError:
            continue
        found.append(_finding("ipv6", text, match.start(), end))
    return found


def find_mac(text: str) -> list[Finding]:
    """MAC addresses: 00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5e, 001a.2b3c.4d5e."""
    if not _quick(_QUICK_MAC, text):
        return []
    return [_finding("mac", text, m.start(), m.end()) for m in _MAC_RE.finditer(text)]


def find_guid(text: str) -> list[Finding]:
    """GUIDs, with or without braces."""
    if not _quick(_QUICK_GUID, text):
        return []
    return [_finding("guid", text, m.start(), m.end()) for m in _GUID_RE.finditer(text)]


# -- names --------------------------------------------------------------------------------

_HOST_RE = re.compile(
    r"(?<![\w@.\-/\\])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z](?![\w@-]|\.[A-Za-z0-9])"
)
_PUBLIC_TLDS = frozenset(
    [
        "com",
        "org",
        "net",
        "edu",
        "gov",
        "mil",
        "int",
        "io",
        "co",
        "uk",
        "de",
        "fr",
        "eu",
        "us",
        "ca",
        "au",
        "nz",
        "ie",
        "nl",
        "be",
        "ch",
        "at",
        "se",
        "no",
        "dk",
        "fi",
        "es",
        "it",
        "pt",
        "pl",
        "cz",
        "jp",
        "cn",
        "in",
        "br",
        "mx",
        "za",
        "info",
        "biz",
        "app",
        "dev",
        "cloud",
        "online",
        "site",
        "me",
        "tv",
        "ly",
        "ai",
    ]
)
_INTERNAL_TLDS = frozenset(
    [
        "local",
        "lan",
        "corp",
        "internal",
        "intranet",
        "localdomain",
        "home",
        "arpa",
        "test",
        "example",
        "invalid",
        "ad",
        "priv",
        "private",
        "intra",
    ]
)
_SERVER_LABELS = frozenset(
    [
        "corp",
        "ad",
        "dc",
        "dc1",
        "dc2",
        "srv",
        "svr",
        "server",
        "prod",
        "dev",
        "stage",
        "staging",
        "int",
        "internal",
        "infra",
        "mgmt",
        "vpn",
        "smtp",
        "imap",
        "mx",
        "ldap",
        "sql",
        "db",
        "fs",
        "nas",
        "san",
        "esx",
        "vcenter",
    ]
)


def find_hostnames(text: str) -> list[Finding]:
    """Dotted host names that look like servers: a digit in a label (fs01.corp.example.com),
    an internal suffix (intranet.local), a server word (mail.corp.example.org) or 4+ labels.

    Two- and three-label public names (portal.example.com, gov.uk) read as web addresses and
    are left alone; so are file names (report.pdf), because their suffix is no known domain.
    """
    found: list[Finding] = []
    if not _quick(_QUICK_HOST, text):
        return found
    for match in _HOST_RE.finditer(text):
        labels = match.group().lower().split(".")
        tld = labels[-1]
        if tld not in _PUBLIC_TLDS and tld not in _INTERNAL_TLDS:
            continue
        if labels[0] == "www":
            continue
        serverish = (
            tld in _INTERNAL_TLDS
            or len(labels) >= 4
            or any(any(ch.isdigit() for ch in label) for label in labels)
            or any(label in _SERVER_LABELS for label in labels[:-1])
        )
        if serverish:
            found.append(_finding("hostname", text, match.start(), match.end()))
    return found


# Only tokens with a digit in them: "[A-Za-z]...\d..." with hyphen-joined parts.
_NAME_TOKEN_RE = re.compile(
    r"\b(?<![.@/\\:-])[A-Za-z][A-Za-z-]*\d[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![\w@/\\]|-\w|\.\w|:\d)"
)
_MACHINE_SHAPE_RE = re.compile(r"[A-Za-z]{2,}\d{2,}[A-Za-z0-9]*")
_NOT_MACHINE_RE = re.compile(
    r"(?i)(?:FY|CY|Q[1-4]|H[12])\d{2,4}"  # fiscal years, quarters
    r"|\d+(?:st|nd|rd|th)"  # ordinals (never reached: they start with a digit)
)
_PLACE_BEFORE_RE = re.compile(
    r"(?i)\b(?:room|rm|floor|level|building|bldg|office|desk|suite|unit|bay|gate|platform"
    r"|flight|model|version|ver|size|type|seat|locker|aisle)\.?\s*(?:no\.?\s*)?$"
)
_POSTCODE_AFTER_RE = re.compile(r"\s\d[A-Z]{2}\b")


def find_machine_names(text: str) -> list[Finding]:
    """Computer and server names with digits: PC-4411, LAPTOP-7GH2K, SRV01, srv-db-02."""
    found: list[Finding] = []
    if not _quick(_QUICK_DIGIT_WORD, text):
        return found
    products = product_names()
    for match in _NAME_TOKEN_RE.finditer(text):
        token = match.group()
        digits = sum(ch.isdigit() for ch in token)
        letters = sum(ch.isalpha() for ch in token)
        if not digits or letters < 2 or len(token) < 4:
            continue
        if token.lower() in products or _NOT_MACHINE_RE.fullmatch(token):
            continue
        if "-" not in token and not _MACHINE_SHAPE_RE.fullmatch(token):
            continue
        if _PLACE_BEFORE_RE.search(text, max(0, match.start() - 16), match.start()):
            continue
        if _POSTCODE_AFTER_RE.match(text, match.end()):
            continue  # UK postcode: "AB12 3CD"
        found.append(_finding("machine_name", text, match.start(), match.end()))
    return found


# -- paths --------------------------------------------------------------------------------

_WINDOWS_PATH_RE = re.compile(r"(?<![\w])[A-Za-z]:[\\/](?:[^\s\"'<>|*?,;]*)")
_UNC_PATH_RE = re.compile(r"\\\\[\w.$-]+(?:\\[^\s\"'<>|,;]*)*")
_UNIX_PATH_RE = re.compile(r"(?<![\w/.:~\\%-])(?:~|\.{1,2})?/(?:[\w.@%+~-]+/)*[\w.@%+~-]*")
_UNIX_ROOTS = frozenset(
    [
        "etc",
        "var",
        "usr",
        "home",
        "tmp",
        "opt",
        "dev",
        "proc",
        "mnt",
        "srv",
        "bin",
        "sbin",
        "root",
        "lib",
        "boot",
        "media",
        "sys",
        "run",
    ]
)


def find_paths(text: str) -> list[Finding]:
    """Windows (C:\\Users\\x), UNC (\\\\fs01\\finance) and Unix (/etc/hosts, ~/.ssh) paths.

    A Unix path needs two parts or a well-known first part (/etc), so dates (27/11/2026),
    "and/or", "24/7" and Windows switches (/force) are not paths.
    """
    found: list[Finding] = []
    for pattern, needed in (
        (_WINDOWS_PATH_RE, _QUICK_WINDOWS_PATH),
        (_UNC_PATH_RE, _QUICK_UNC_PATH),
    ):
        if not _quick(needed, text):
            continue
        for match in pattern.finditer(text):
            end = _trim(text, match.start(), match.end())
            found.append(_finding("path", text, match.start(), end))
    if not _quick(_QUICK_UNIX_PATH, text):
        return found
    for match in _UNIX_PATH_RE.finditer(text):
        end = _trim(text, match.start(), match.end())
        candidate = text[match.start() : end]
        parts = [part for part in candidate.split("/") if part and part not in {"~", ".", ".."}]
        relative = candidate.startswith(("~/", "./", "../"))
        if (relative and parts) or len(parts) >= 2 or (parts and parts[0] in _UNIX_ROOTS):
            if candidate.startswith("/") and not any(ch.isalpha() for ch in candidate):
                continue
            found.append(_finding("path", text, match.start(), end))
    return found


# -- errors -------------------------------------------------------------------------------

_STACK_RE = re.compile(
    r"Traceback \(most recent call last\):?"
    r"|^[ \t]*File \"[^\"\n]+\", line \d+(?:, in [\w<>.]+)?"
    r"|^[ \t]*at [\w$.<>`]+\([^()\n]*\)(?: in [^\n]*?:line \d+)?",
    re.MULTILINE,
)
_EXCEPTION_RE = re.compile(
    r"(?<![\w.])(?:[A-Za-z_][\w]*\.)*[A-Z][A-Za-z0-9]*(?:Exception|Error|Fault)(?![\w])"
)


def find_stack_traces(text: str) -> list[Finding]:
    """Stack traces (Python, Java, .NET frames) and exception names (NullPointerException)."""
    if not _quick(_QUICK_EXCEPTION, text):
        return []
    found = [_finding("stack_trace", text, m.start(), m.end()) for m in _STACK_RE.finditer(text)]
    found.extend(
        _finding("exception", text, m.start(), m.end()) for m in _EXCEPTION_RE.finditer(text)
    )
    return found


_HEX_CODE_RE = re.compile(r"(?<![\w])0x[0-9A-Fa-f]{4,16}(?![\w])")
_NAMED_CODE_RE = re.compile(
    r"\b(?:AADSTS\d{4,}|ORA-\d{4,5}|SQLSTATE\W?\w+|(?:NET::)?ERR_[A-Z_]{3,}|E_[A-Z_]{3,}"
    r"|WSAE[A-Z]+|STATUS_[A-Z_]{3,}|ERROR_[A-Z_]{3,}|DNS_PROBE_[A-Z_]+|MSB\d{4}|CS\d{4}"
    r"|E(?:ACCES|PERM|NOENT|CONNREFUSED|CONNRESET|TIMEDOUT|HOSTUNREACH|ADDRINUSE|NOSPC|PIPE))\b"
)
_CONTEXT_CODE_RE = re.compile(
    r"(?i:\b(?:error|exit|stop|status|return|event)\s+(?:code|id))\s*[:#]?\s*"
    r"(?:-?\d+|0x[0-9A-Fa-f]+|[A-Z][A-Z0-9_]{3,})\b"
    r"|(?i:\berror)\s*[:#]?\s*(?:-?\d{4,}|-\d+)\b"
)


def find_error_codes(text: str) -> list[Finding]:
    """Error codes: 0x80070005, AADSTS50058, ORA-12154, ENOENT, "error code 1603"."""
    spans: list[tuple[int, int]] = []
    if "0x" in text:
        spans.extend(m.span() for m in _HEX_CODE_RE.finditer(text))
    if _quick(_QUICK_NAMED_CODE, text):
        spans.extend(m.span() for m in _NAMED_CODE_RE.finditer(text))
    lowered = text.lower()
    if "error" in lowered or "code" in lowered or " id" in lowered:
        spans.extend(m.span() for m in _CONTEXT_CODE_RE.finditer(text))
    return [_finding("error_code", text, start, end) for start, end in sorted(set(spans))]


_REASONS = (
    "OK|Created|Accepted|No Content|Moved Permanently|Not Modified|Bad Request|Unauthorized"
    "|Forbidden|Not Found|Method Not Allowed|Request Timeout|Conflict|Gone|Payload Too Large"
    "|Too Many Requests|Internal Server Error|Not Implemented|Bad Gateway|Service Unavailable"
    "|Gateway Timeout"
)
_HTTP_RE = re.compile(
    r"(?i:\bHTTPS?(?:/\d(?:\.\d)?)?\s*(?:status\s*)?(?:code\s*)?(?:error\s*)?[:#]?\s*)"
    r"[1-5]\d\d(?!\d)(?:\s+(?i:" + _REASONS + r"))?"
    r"|(?<![$€£¥\w.,])[1-5]\d\d\s+(?i:" + _REASONS + r")\b"
    r"|(?i:\b(?:error|status|response|returned|returns|returning|code)\s*[:#]?\s*)"
    r"[1-5]\d\d(?![\d.,]\d|\d|\s*(?:%|percent|users|people|pages|items|emails))"
)


def find_http_status(text: str) -> list[Finding]:
    """HTTP status codes in context: "HTTP 503", "503 Service Unavailable", "error 404"."""
    lowered = text.lower()
    if not _quick(_QUICK_THREE_DIGITS, text) or not (
        any(word in lowered for word in _HTTP_CONTEXT) or _QUICK_STATUS_REASON.search(text)
    ):
        return []
    return [_finding("http_status", text, m.start(), m.end()) for m in _HTTP_RE.finditer(text)]


# -- commands -----------------------------------------------------------------------------

_BACKTICK_RE = re.compile(r"`[^`\n]+`")
_COMMAND_NAMES = (
    "sudo|ipconfig|ifconfig|gpupdate|gpresult|nslookup|tracert|traceroute|netstat|nbtstat"
    "|chkdsk|regedit|msconfig|sfc|dism|systemctl|journalctl|chmod|chown|chgrp|apt-get|robocopy"
    "|xcopy|icacls|certutil|klist|whoami|diskpart|bcdedit|taskkill|tasklist|wmic|msiexec"
    "|kubectl|powershell|pwsh|nmap|netsh|dsregcmd|gpedit(?:\\.msc)?|services\\.msc|eventvwr"
    "|mstsc|ssh|scp|rsync|wget|telnet|nltest|repadmin|dcdiag|setspn|winget|choco|dig"
)
_COMMAND_RE = re.compile(
    r"(?<![\w./\\-])(?:" + _COMMAND_NAMES + r")(?:\.exe)?(?![\w-])"
    # Words that are also ordinary English count only with a switch or a subcommand.
    r"|(?<![\w./-])(?:net\s+(?:use|user|localgroup|stop|start|view|time|session)"
    r"|apt\s+(?:install|upgrade|update|remove|purge|autoremove|list)"
    r"|(?:yum|dnf|brew)\s+(?:install|update|upgrade|remove)"
    r"|git\s+(?:pull|push|clone|commit|checkout|reset|fetch|status|log|stash|rebase)"
    r"|docker\s+(?:run|ps|pull|restart|stop|start|exec|compose|logs)"
    r"|pip3?\s+install|npm\s+(?:install|run|update|ci)"
    r"|(?:rm|ls|cp|mv|kill|ping|shutdown|find|grep|cat|mount|ps|top|curl)\s+(?:-{1,2}|/)\w+"
    r"|(?:cat|less|tail|nano|vi|vim|cd)\s+(?:~|\.{0,2})/[\w.]"
    r"|ping\s+(?=\d{1,3}\.\d|[\w-]+\.[\w-]+\.\w)"
    r"|service\s+[\w-]+\s+(?:restart|start|stop|status|reload))"
)
_CMDLET_VERBS = (
    "Get|Set|New|Remove|Add|Start|Stop|Restart|Test|Invoke|Enable|Disable|Clear|Update|Import"
    "|Export|Install|Uninstall|Connect|Disconnect|Reset|Resolve|Write|Out|Format|Select|Where"
    "|Measure|Unlock|Grant|Revoke|Register|Unregister|Move|Rename|Copy|Repair|Suspend|Resume"
    "|Search|Sync|Publish|Find"
)
_CMDLET_RE = re.compile(
    r"(?<![\w-])(?:" + _CMDLET_VERBS + r")-(?:[A-Z][a-z]*[A-Z][A-Za-z]*|Service|Process|Item"
    r"|Content|Host|Mailbox|Computer|Printer|EventLog|Date|Location|Command|Help|Module|Acl"
    r"|Member|Job|Variable|Object|Credential|Disk|Volume|Partition|Printer)\b"
)
# The first word of every command pattern: a set lookup decides whether to run the patterns.
_COMMAND_WORDS = frozenset(
    [
        *_COMMAND_NAMES.replace("(?:\\.msc)?", "").replace("\\", "").split("|"),
        "gpedit.msc",
        "net",
        "apt",
        "yum",
        "dnf",
        "brew",
        "git",
        "docker",
        "pip",
        "pip3",
        "npm",
        "rm",
        "ls",
        "cp",
        "mv",
        "kill",
        "ping",
        "shutdown",
        "find",
        "grep",
        "cat",
        "mount",
        "ps",
        "top",
        "curl",
        "less",
        "tail",
        "nano",
        "vi",
        "vim",
        "cd",
        "service",
    ]
)
_QUICK_WORD_RE = re.compile(r"[a-z][a-z0-9.-]*[a-z0-9]")
_ARGUMENT_RE = re.compile(r"[ \t]+(?:(?:-{1,2}|/)[\w:=.?-]+|\d{1,4}(?![\w.:/])|[a-z][\w.@:-]*)")


def find_commands(text: str) -> list[Finding]:
    """Shell and Windows commands with their arguments: ``ipconfig /flushdns``,
    ``sudo apt upgrade``, ``gpupdate /force``, ``Get-ADUser``, ``chmod 755``, backticked code."""
    found = (
        [_finding("command", text, m.start(), m.end()) for m in _BACKTICK_RE.finditer(text)]
        if "`" in text
        else []
    )
    # Try the command patterns only where a known command word starts: a set lookup per word
    # is far cheaper than scanning the big alternation at every position, and one set
    # operation over all the words is cheaper still when there is none (most texts).
    matches: list[re.Match[str]] = []
    if not _COMMAND_WORDS.isdisjoint(_QUICK_WORD_RE.findall(text)):
        matches = [
            hit
            for word in _QUICK_WORD_RE.finditer(text)
            if word.group() in _COMMAND_WORDS and (hit := _COMMAND_RE.match(text, word.start()))
        ]
    if _quick(_QUICK_CMDLET, text):
        matches.extend(_CMDLET_RE.finditer(text))
    for match in matches:
        end = match.end()
        # Swallow switches and arguments; a plain word only right after sudo-like commands.
        taken = 0
        while taken < 6:
            argument = _ARGUMENT_RE.match(text, end)
            if argument is None:
                break
            word = argument.group().strip()
            if word[0].isalpha() and not (taken < 2 and _takes_words(match.group())):
                break
            end = argument.end()
            taken += 1
        found.append(_finding("command", text, match.start(), _trim(text, match.start(), end)))
    # "sudo apt upgrade" also matches "apt upgrade": keep only the outermost command.
    return [
        f
        for f in found
        if not any(
            o is not f
            and o.start <= f.start
            and f.end <= o.end
            and (o.end - o.start) > (f.end - f.start)
            for o in found
        )
    ]


def _takes_words(command: str) -> bool:
    """Only a bare ``sudo``/``apt``-like command takes plain words (``sudo apt upgrade``)."""
    if len(command.split()) > 1:
        return False
    first = command.lower()
    return first in {
        "sudo",
        "apt",
        "apt-get",
        "yum",
        "dnf",
        "brew",
        "winget",
        "choco",
        "ssh",
        "systemctl",
        "service",
        "net",
        "git",
        "docker",
        "npm",
        "pip",
        "pip3",
    }


# -- codes and identifiers ----------------------------------------------------------------

_TICKET_RE = re.compile(
    r"\b(?:INC|RITM|CHG|PRB|KB|REQ|SCTASK|CTASK|PTASK|TASK|SR|RFC|PBI|STRY|WO)\d{4,}\b"
)


def find_ticket_codes(text: str) -> list[Finding]:
    """Ticket-system codes: INC0012345, RITM0012345, CHG..., PRB..., KB0012345, REQ..."""
    if not _quick(_QUICK_TICKET, text):
        return []
    return [_finding("ticket_code", text, m.start(), m.end()) for m in _TICKET_RE.finditer(text)]


_CAMEL_RE = re.compile(
    r"(?<![\w.'’-])(?:[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)(?![\w'’-])"
)
_SNAKE_RE = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w-])")
_SURNAME_RE = re.compile(r"(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|St)[A-Z][a-z]+")


def find_identifiers(text: str) -> list[Finding]:
    """camelCase, PascalCase and snake_case names (userPrincipalName, DisplayName, max_size),
    except product names people use (iPhone, PowerPoint, OneDrive) and surnames (McDonald)."""
    found: list[Finding] = []
    if not _quick(_QUICK_CAMEL, text):
        return found
    products = product_names()
    for match in _CAMEL_RE.finditer(text):
        token = match.group()
        if token.lower() in products or _SURNAME_RE.fullmatch(token):
            continue
        found.append(_finding("identifier", text, match.start(), match.end()))
    found.extend(_finding("identifier", text, m.start(), m.end()) for m in _SNAKE_RE.finditer(text))
    return found


_HEX_RE = re.compile(
    r"(?<![\w-])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}(?![\w-])"
)


def find_hex(text: str) -> list[Finding]:
    """Long hexadecimal strings (hashes, keys): 12 or more hex digits with letters and digits."""
    if not _quick(_QUICK_HEX, text):
        return []
    return [_finding("hex", text, m.start(), m.end()) for m in _HEX_RE.finditer(text)]


# -- links (not findings: the gate stays quiet inside them) --------------------------------

_LINK_RE = re.compile(
    r"\b(?:https?|ftp)://[^\s<>\"']+"
    r"|\bwww\.[^\s<>\"']+"
    r"|[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def find_links(text: str) -> list[tuple[int, int]]:
    """Spans of web links and e-mail addresses: plain enough for a requester to use."""
    if not _quick(_QUICK_LINK, text):
        return []
    return [(m.start(), _trim(text, m.start(), m.end())) for m in _LINK_RE.finditer(text)]


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


# -- acronyms -----------------------------------------------------------------------------

_ACRONYM_RE = re.compile(r"(?<![\w'’&/.-])([A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*)(s)?(?![\w'’&/-]|\.\w)")
_PAREN_AFTER_RE = re.compile(r"\(\s*([A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&]*)s?\s*\)")
_PAREN_BEFORE_RE = re.compile(r"\b([A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*)s?\s*\(([^()\n]{3,80})\)")
_MEANS_RE = re.compile(
    r"\b([A-Z][A-Z0-9&]*[A-Z][A-Z0-9&]*)s?,?\s+(?:\(|-|–|—)?\s*(?:which\s+)?"
    r"(?:stands for|means|is short for|short for)\s+([^.;:\n]{3,80})"
)
_INITIAL_WORD_RE = re.compile(r"[A-Za-z0-9][\w']*")
# Each pattern that reads the words after an acronym needs one of these strings.
_AFTER_PATTERNS = ((_PAREN_BEFORE_RE, ("(",)), (_MEANS_RE, ("stands for", "means", "short for")))
_SMALL_WORDS = frozenset({"of", "and", "the", "for", "to", "a", "an", "in", "on", "by", "&"})
_ROMAN_RE = re.compile(r"[IVX]+")


def _initials_match(acronym: str, words: list[str]) -> bool:
    letters = "".join(ch for ch in acronym.lower() if ch.isalnum())
    full = "".join(word[0].lower() for word in words)
    short = "".join(word[0].lower() for word in words if word.lower() not in _SMALL_WORDS)
    return letters in {full, short}


def _words_of(phrase: str) -> list[str]:
    return _INITIAL_WORD_RE.findall(phrase.replace("-", " "))


def explained_acronyms(text: str) -> frozenset[str]:
    """Acronyms the text spells out: "single sign-on (SSO)", "SSO (single sign-on)",
    "SSO stands for single sign-on"; the initials of the words must give the letters."""
    explained: set[str] = set()
    for match in _PAREN_AFTER_RE.finditer(text):
        acronym = match.group(1)
        before = _words_of(text[max(0, match.start() - 120) : match.start()])
        size = sum(ch.isalnum() for ch in acronym)
        for count in range(1, min(len(before), size + 3) + 1):
            if _initials_match(acronym, before[-count:]):
                explained.add(acronym)
                break
    for pattern, needs in _AFTER_PATTERNS:
        if not any(literal in text for literal in needs):
            continue  # a cheap substring test spares a scan at every position
        for match in pattern.finditer(text):
            acronym = match.group(1)
            after = _words_of(match.group(2))
            size = sum(ch.isalnum() for ch in acronym)
            for count in range(1, min(len(after), size + 3) + 1):
                if _initials_match(acronym, after[:count]):
                    explained.add(acronym)
                    break
    return frozenset(explained)


def find_acronyms(
    text: str,
    *,
    everyday: frozenset[str],
    is_familiar: Callable[[str], bool],
    explained: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Runs of 2 to 6 capitals (digits allowed after the first: MP4) that are not everyday
    (PC, USB), not a word shouted in capitals (PLEASE, DONE), not a Roman numeral and not
    spelled out in the same text. Plurals count as the acronym (PCs)."""
    found = []
    for match in _ACRONYM_RE.finditer(text):
        acronym = match.group(1)
        digits = sum(ch.isdigit() for ch in acronym)
        # More than one digit is a code or a machine name (SRV01, AB12), reported elsewhere.
        if not 2 <= len(acronym) <= 6 or digits > 1 or len(acronym) - digits < 2:
            continue
        if acronym in everyday or acronym in explained or _ROMAN_RE.fullmatch(acronym):
            continue
        if acronym.isalpha() and is_familiar(acronym.lower()):
            continue
        found.append(
            Finding(
                "acronym",
                match.group(),
                match.start(),
                match.end(),
                f"spell out '{acronym}' the first time, or say what it is in plain words",
                "block",
            )
        )
    return found
