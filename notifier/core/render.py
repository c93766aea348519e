"""Rendering notices from each team's Jinja templates.

Templates run in Jinja's ``SandboxedEnvironment`` with ``StrictUndefined``: a team template can
neither reach Python internals nor silently print an empty value for a misspelt name. Every
template is compiled once, when the renderer is built. A broken template only affects its own
team: rendering for that team raises :class:`TemplateError` (the notice is held) and the other
teams go on.

Layout: ``<directory>/<team>/resolved.subject.j2``, ``resolved.txt.j2`` and optionally
``resolved.html.j2``; a file a team does not have falls back to ``<directory>/default/``.
Language variants are ``resolved.<lang>.txt.j2`` (``fr``, ``de``...): for a requester whose
language is known the order is the team's variant, default's variant, then the team's and
default's files without a language, so a requester is addressed in their language before a
team's wording is preferred. An HTML part is only taken in the notice's language: a German text
never goes out beside an English HTML part (it goes out as plain text instead).

Rendered text carries invisible marks saying which parts are ticket data and which values the
template allowed as they are (``| allow_jargon``); see :mod:`notifier.core.marks`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from notifier.core.errors import ConfigError, TemplateError
from notifier.core.marks import allow_jargon, mark_data
from notifier.core.model import RenderedMessage
from notifier.core.rules import DEFAULT_TEAM
from notifier.core.sandbox import (
    TEMPLATE_FILE_CAP,
    BoundedEnvironment,
    BoundedLoader,
    RenderLimit,
    budget,
    render_part,
)

KIND = "resolved"
DIGEST = "digest"  # several notices to one requester in one message (docs/rules.md)
PARTS = ("subject", "txt", "html")
REQUIRED_DEFAULTS = ("subject", "txt")
_FILE_NAME = re.compile(
    r"^(?P<kind>resolved|digest)\.(?:(?P<lang>[a-z]{2,3})\.)?(?P<part>subject|txt|html)\.j2$"
)


def template_languages(directory: Path) -> list[str]:
    """Languages some team has a ``resolved.<lang>.txt.j2`` for, read from the file names
    alone (nothing is compiled): the candidates a ticket's text may be identified as."""
    found: set[str] = set()
    if directory.is_dir():
        for team_dir in directory.iterdir():
            if team_dir.is_dir():
                for path in team_dir.glob("resolved.*.txt.j2"):
                    match = _FILE_NAME.match(path.name)
                    if match and match["lang"]:
                        found.add(match["lang"])
    return sorted(found)


def language_of(tag: str) -> str:
    """The primary language subtag, lower-case: ``fr-CA`` and ``FR`` both give ``fr``."""
    return tag.strip().replace("_", "-").split("-", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str  # "network/resolved.txt.j2"
    template: jinja2.Template | None
    error: str  # set when the file could not be compiled
    digest: str


class Renderer:
    """Compiled templates for every team found under one directory."""

    def __init__(
        self,
        directory: Path,
        compiled: Mapping[tuple[str, str, str, str], _Compiled],
        default_language: str = "en",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.default_language = default_language
        self._compiled = compiled
        self._clock = clock
        # Templates that went over the step limit: not run again until templates are loaded
        # again (SIGHUP, restart), so a team's hostile template costs one budget, not one a
        # notice. Name -> reason.
        self._stopped: dict[str, str] = {}

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        default_language: str = "en",
        clock: Callable[[], float] = time.monotonic,
    ) -> Renderer:
        """Compile every template; ConfigError if the default team's templates are missing.

        ``clock`` (monotonic seconds) times each notice's rendering (see notifier.core.sandbox)."""
        if not directory.is_dir():
            raise ConfigError(f"templates.directory: {directory} is not a directory")
        environment = BoundedEnvironment(
            loader=BoundedLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=mark_data,
            filters={"allow_jargon": allow_jargon},
        )
        compiled: dict[tuple[str, str, str, str], _Compiled] = {}
        for team_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
            for path in sorted(team_dir.iterdir()):
                match = _FILE_NAME.match(path.name)
                if match and path.is_file():
                    key = (team_dir.name, match["kind"], match["lang"] or "", match["part"])
                    compiled[key] = _compile(environment, directory, path)
        for part in REQUIRED_DEFAULTS:
            if (DEFAULT_TEAM, KIND, "", part) not in compiled:
                raise ConfigError(
                    f"templates.directory: {directory} has no {DEFAULT_TEAM}/{KIND}.{part}.j2"
                )
        return cls(directory, compiled, language_of(default_language) or "en", clock)

    @property
    def teams(self) -> list[str]:
        return sorted({team for team, _, _, _ in self._compiled})

    def languages(self, team: str) -> list[str]:
        """Languages with a text template for ``team`` (its own or default's), default first."""
        found = {
            lang
            for owner, kind, lang, part in self._compiled
            if owner in (team, DEFAULT_TEAM) and kind == KIND and part == "txt" and lang
        }
        return [self.default_language, *sorted(found - {self.default_language})]

    def problems(self) -> list[str]:
        """Compile errors, one line each (for check-config and the start-up log)."""
        return [c.error for c in self._compiled.values() if c.error]

    def render(
        self, team: str, context: Mapping[str, Any], language: str = "", kind: str = KIND
    ) -> RenderedMessage:
        """Render one notice; TemplateError says which file and line went wrong, or which
        render limit it went over (one budget for all the notice's parts)."""
        with budget(self._clock):
            return self._render_notice(team, context, language, kind)

    def _render_notice(
        self, team: str, context: Mapping[str, Any], language: str, kind: str
    ) -> RenderedMessage:
        wanted = language_of(language) if language else ""
        if wanted == self.default_language:
            wanted = ""
        text_template, used_language = self._pick_with_language(team, kind, wanted, "txt")
        subject_template = self._pick(team, kind, used_language, "subject")
        # An HTML part in the notice's language, or none: never the default language's HTML
        # beside a text in the requester's language (the mail then goes out as plain text).
        html_template = (
            self._pick_in(team, kind, used_language, "html")
            if used_language
            else self._pick(team, kind, "", "html", required=False)
        )
        subject = " ".join(self._render(subject_template, context).split())
        if not subject:
            raise TemplateError(f"{subject_template.name}: the subject rendered empty")
        text = self._render(text_template, context).strip() + "\n"
        html = self._render(html_template, context) if html_template else None
        used = [t for t in (subject_template, text_template, html_template) if t]
        version = hashlib.sha256("".join(t.digest for t in used).encode()).hexdigest()[:12]
        return RenderedMessage(
            subject=subject,
            text=text,
            html=html,
            template=f"{text_template.name.split('/')[0]}/{kind}",
            template_version=version,
            language=used_language or self.default_language,
        )

    def _pick_with_language(
        self, team: str, kind: str, language: str, part: str
    ) -> tuple[_Compiled, str]:
        if language:
            for owner in (team, DEFAULT_TEAM):
                if (owner, kind, language, part) in self._compiled:
                    return self._pick(owner, kind, language, part), language
        return self._pick(team, kind, "", part), ""

    def _pick_in(self, team: str, kind: str, language: str, part: str) -> _Compiled | None:
        """The team's or default's file of exactly this language, or None."""
        for owner in (team, DEFAULT_TEAM):
            found = self._compiled.get((owner, kind, language, part))
            if found is not None:
                if found.error:
                    raise TemplateError(found.error)
                return found
        return None

    def _pick(
        self, team: str, kind: str, language: str, part: str, *, required: bool = True
    ) -> _Compiled:
        found = None
        for owner in (team, DEFAULT_TEAM):
            found = found or self._compiled.get((owner, kind, language, part))
        if language:
            for owner in (team, DEFAULT_TEAM):
                found = found or self._compiled.get((owner, kind, "", part))
        if found is None:
            if required:
                raise TemplateError(f"no {kind}.{part}.j2 for team {team!r} or {DEFAULT_TEAM!r}")
            return None  # type: ignore[return-value]
        if found.error:
            raise TemplateError(found.error)
        return found

    def _render(self, compiled: _Compiled, context: Mapping[str, Any]) -> str:
        assert compiled.template is not None
        if compiled.name in self._stopped:
            raise TemplateError(self._stopped[compiled.name])
        try:
            return render_part(compiled.template, context)
        except Exception as exc:  # the template, or a filter or method on ticket data, failed
            line = _template_line(exc.__traceback__, compiled.template.filename)
            where = f"{compiled.name}:{line}" if line else compiled.name
            if not isinstance(exc, RenderLimit):
                raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
            reason = f"{where}: render limit: {exc}"
            if exc.kind == "steps":
                self._stopped[compiled.name] = (
                    f"{reason} (on an earlier notice: not run again until the templates are "
                    "loaded again)"
                )
            raise TemplateError(reason) from None


def _compile(environment: BoundedEnvironment, root: Path, path: Path) -> _Compiled:
    name = path.relative_to(root).as_posix()
    try:
        if path.stat().st_size > TEMPLATE_FILE_CAP:
            return _Compiled(name, None, f"{name}: over {TEMPLATE_FILE_CAP} bytes", "")
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
    except Exception as exc:  # e.g. nesting too deep for the compiler: this file only
        return _Compiled(name, None, f"{name}: cannot compile: {type(exc).__name__}", digest)


def _template_line(trace: TracebackType | None, filename: str | None) -> int | None:
    """Jinja rewrites tracebacks so that template frames carry the template's line numbers."""
    line = None
    while trace is not None:
        if filename and trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
