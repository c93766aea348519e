"""Rendering notices from each team's Jinja templates.

Templates run in Jinja's ``SandboxedEnvironment`` with ``StrictUndefined``: a team template can
neither reach Python internals nor silently print an empty value for a misspelt name. Every
template is compiled once, when the renderer is built. A broken template only affects its own
team: rendering for that team raises :class:`TemplateError` (the notice is held) and the other
teams go on.

Layout: ``<directory>/<team>/resolved.subject.j2``, ``resolved.txt.j2`` and optionally
``resolved.html.j2``; a file a team does not have falls back to ``<directory>/default/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from notifier.errors import ConfigError, TemplateError
from notifier.model import RenderedMessage
from notifier.rules import DEFAULT_TEAM

KIND = "resolved"
PARTS = ("subject", "txt", "html")
REQUIRED_DEFAULTS = ("subject", "txt")


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str  # "network/resolved.txt.j2"
    template: jinja2.Template | None
    error: str  # set when the file could not be compiled
    digest: str


class Renderer:
    """Compiled templates for every team found under one directory."""

    def __init__(self, directory: Path, compiled: Mapping[tuple[str, str], _Compiled]) -> None:
        self.directory = directory
        self._compiled = compiled

    @classmethod
    def load(cls, directory: Path) -> Renderer:
        """Compile every template; ConfigError if the default team's templates are missing."""
        if not directory.is_dir():
            raise ConfigError(f"templates.directory: {directory} is not a directory")
        environment = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        compiled: dict[tuple[str, str], _Compiled] = {}
        for team_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
            for part in PARTS:
                path = team_dir / f"{KIND}.{part}.j2"
                if path.is_file():
                    compiled[(team_dir.name, part)] = _compile(environment, directory, path)
        for part in REQUIRED_DEFAULTS:
            if (DEFAULT_TEAM, part) not in compiled:
                raise ConfigError(
                    f"templates.directory: {directory} has no {DEFAULT_TEAM}/{KIND}.{part}.j2"
                )
        return cls(directory, compiled)

    @property
    def teams(self) -> list[str]:
        return sorted({team for team, _ in self._compiled})

    def problems(self) -> list[str]:
        """Compile errors, one line each (for check-config and the start-up log)."""
        return [c.error for c in self._compiled.values() if c.error]

    def render(self, team: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Render one notice; TemplateError says which file and line went wrong."""
        subject_template = self._pick(team, "subject")
        text_template = self._pick(team, "txt")
        html_template = self._pick(team, "html", required=False)
        subject = " ".join(_render(subject_template, context).split())
        if not subject:
            raise TemplateError(f"{subject_template.name}: the subject rendered empty")
        text = _render(text_template, context).strip() + "\n"
        html = _render(html_template, context) if html_template else None
        used = [t for t in (subject_template, text_template, html_template) if t]
        version = hashlib.sha256("".join(t.digest for t in used).encode()).hexdigest()[:12]
        return RenderedMessage(
            subject=subject,
            text=text,
            html=html,
            template=f"{text_template.name.split('/')[0]}/{KIND}",
            template_version=version,
        )

    def _pick(self, team: str, part: str, *, required: bool = True) -> _Compiled:
        found = self._compiled.get((team, part)) or self._compiled.get((DEFAULT_TEAM, part))
        if found is None:
            if required:
                raise TemplateError(f"no {KIND}.{part}.j2 for team {team!r} or {DEFAULT_TEAM!r}")
            return None  # type: ignore[return-value]
        if found.error:
            raise TemplateError(found.error)
        return found


def _compile(environment: SandboxedEnvironment, root: Path, path: Path) -> _Compiled:
    name = path.relative_to(root).as_posix()
    try:
        source = path.read_bytes()
        source.decode("utf-8")
    except OSError as exc:
        return _Compiled(name, None, f"{name}: cannot read: {exc.strerror}", "")
    except UnicodeDecodeError as exc:
        return _Compiled(name, None, f"{name}: not UTF-8 (byte {exc.start})", "")
    digest = hashlib.sha256(source).hexdigest()
    try:
        return _Compiled(name, environment.get_template(name), "", digest)
    except jinja2.TemplateSyntaxError as exc:
        return _Compiled(name, None, f"{name}:{exc.lineno}: {exc.message}", digest)


def _render(compiled: _Compiled, context: Mapping[str, Any]) -> str:
    assert compiled.template is not None
    try:
        return compiled.template.render(context)
    except jinja2.TemplateError as exc:
        line = _template_line(exc.__traceback__, compiled.template.filename)
        where = f"{compiled.name}:{line}" if line else compiled.name
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a filter or method inside the sandbox failed on ticket data
        line = _template_line(exc.__traceback__, compiled.template.filename)
        where = f"{compiled.name}:{line}" if line else compiled.name
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None


def _template_line(trace: TracebackType | None, filename: str | None) -> int | None:
    """Jinja rewrites tracebacks so that template frames carry the template's line numbers."""
    line = None
    while trace is not None:
        if filename and trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
