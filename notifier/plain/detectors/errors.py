"""Stack traces, error codes and HTTP status codes (the latter only with context)."""

from __future__ import annotations

import re

from notifier.plain.detectors.findings import (
    _HTTP_CONTEXT,
    _QUICK_EXCEPTION,
    _QUICK_NAMED_CODE,
    _QUICK_STATUS_REASON,
    _QUICK_THREE_DIGITS,
    Finding,
    _finding,
    _quick,
)

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
