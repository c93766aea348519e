"""The HTML form of ``notifier report``: one self-contained page.

Inline CSS, an inline SVG bar chart, no scripts, no fonts, no images, no links to fetch: it can
be mailed as an attachment or opened from a file share and looks the same offline.
"""

from __future__ import annotations

from html import escape

from notifier.cli.report_words import (
    COLUMNS,
    human_duration,
    never_told,
    people,
    percent,
    period,
    table_cells,
    unnamed_input,
)
from notifier.core.printable import printable
from notifier.core.report import Report, TeamLine

# outcome, colour (readable on white, distinguishable without relying on red/green alone)
_PARTS = (
    ("notified", "#2a7ab0"),
    ("suppressed", "#9a9a9a"),
    ("held", "#e0a030"),
    ("failed", "#b03030"),
    ("cancelled", "#6a5acd"),
    ("pending", "#7fbfdf"),
    ("rejected", "#5a3a1a"),  # never told: their ticket's input could not be used
)
_LEGEND = {"rejected": "rejected (never told)"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 60em; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
p.period { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; width: 100%; }
th, td { padding: 0.35em 0.6em; border-bottom: 1px solid #ddd; text-align: right;
         white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f5f7; font-weight: 600; }
tr.total td { font-weight: 700; border-top: 2px solid #888; }
.legend span { display: inline-block; margin-right: 1.2em; }
.legend i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em;
            vertical-align: -0.1em; }
svg text { font-family: inherit; font-size: 13px; }
ul.reasons { margin-top: 0.3em; }
footer { color: #666; font-size: 0.85em; margin-top: 2em; }
"""


def render_html(report: Report) -> str:
    lines = [*report.teams, report.total]
    head = "".join(f"<th>{escape(name)}</th>" for name in COLUMNS)
    body = "\n".join(
        f'<tr class="{"total" if line is report.total else "team"}">'
        + "".join(f"<td>{escape(cell)}</td>" for cell in table_cells(line))
        + "</tr>"
        for line in lines
    )
    reasons = "\n".join(
        f"<li><strong>{escape(printable(line.team))}</strong>: "
        + ", ".join(
            f"{count} {escape(printable(reason))}" for reason, count in line.suppressed.items()
        )
        + "</li>"
        for line in report.teams
        if line.suppressed
    )
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{_LEGEND.get(name, name)}</span>'
        for name, colour in _PARTS
    )
    headline = never_told(report)
    rejected = ""
    if headline or report.rejected_without_ticket:
        per_team = "".join(
            f"<li><strong>{escape(printable(line.team))}</strong>: "
            f"{escape(people(line.rejected))}</li>"
            for line in report.teams
            if line.rejected
        )
        rejected = (
            "<h2>Never told</h2>"
            + (f"<p>{escape(headline)}.</p>" if headline else "")
            + (f'<ul class="reasons">{per_team}</ul>' if per_team else "")
            + (f"<p>{escape(unnamed_input(report))}.</p>" if report.rejected_without_ticket else "")
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>notifier report</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Are we telling people when their requests are done?</h1>
<p class="period">{escape(period(report))}</p>
<h2>Where each resolution stands, per team</h2>
<div class="legend">{legend}</div>
{_chart(report.teams)}
<h2>Numbers</h2>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
{f'<h2>Suppressed, by reason</h2><ul class="reasons">{reasons}</ul>' if reasons else ""}
{rejected}
<footer>
<p>seen = notified + suppressed + held + failed + cancelled + pending, by where each resolution
stands now. Rejected: people never told because their ticket's data could not be used (not part
of seen). Median and p95: from the ticket's resolved time to the accepted delivery
(all teams: median {escape(human_duration(report.total.median_seconds))}, p95
{escape(human_duration(report.total.p95_seconds))}). Findings: share of rendered notices with
plain-language findings (all teams: {escape(percent(report.total.findings_share))}).</p>
<p>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC by notifier.</p>
</footer>
</body>
</html>
"""


def _chart(teams: tuple[TeamLine, ...]) -> str:
    """Horizontal stacked bars, one per team, each part labelled with its count."""
    if not teams:
        return "<p>No resolutions in this period.</p>"
    label_width, bar_width, bar_height, gap = 160, 520, 22, 10
    widest = max(line.seen + line.rejected for line in teams) or 1
    height = len(teams) * (bar_height + gap) + gap
    parts: list[str] = []
    for index, line in enumerate(teams):
        y = gap + index * (bar_height + gap)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{escape(printable(line.team))}</text>'
        )
        x = float(label_width)
        for name, colour in _PARTS:
            count = line.suppressed_total if name == "suppressed" else getattr(line, name)
            if not count:
                continue
            width = bar_width * count / widest
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{bar_height}" '
                f'fill="{colour}"><title>{name}: {count}</title></rect>'
            )
            if width >= 18:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{y + bar_height * 0.7:.1f}" '
                    f'text-anchor="middle" fill="#fff">{count}</text>'
                )
            x += width
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + bar_height * 0.7:.1f}">{line.seen} seen</text>'
        )
    total_width = label_width + bar_width + 90
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{total_width}" '
        f'height="{height}" viewBox="0 0 {total_width} {height}" '
        'aria-label="resolutions per team by outcome">' + "".join(parts) + "</svg>"
    )
