"""Commands and cmdlets a technician typed, with their arguments."""

from __future__ import annotations

import re

from notifier.plain.detectors.findings import _QUICK_CMDLET, Finding, _finding, _quick, _trim

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
