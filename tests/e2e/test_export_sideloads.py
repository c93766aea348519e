"""Zendesk's incremental ticket export with ``include=users,metric_sets`` end to end.

The ticket names its requester by ``requester_id``; the address is in the top-level
``users[]`` sideload and the solved time in ``metric_sets[]`` (issue 15, item 11). The sample
follows the documented shape (see tests/data/exports/README.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.cli import notifier, write_config
from tests.smtp_server import SmtpServerFactory

DATA = Path(__file__).resolve().parents[1] / "data" / "exports"


def test_a_zendesk_incremental_export_joins_users_and_metric_sets(
    tmp_path: Path, smtp_server: SmtpServerFactory
) -> None:
    """Solved and closed tickets reach the requester found in users[], keyed by the solved
    time found in metric_sets[]; a requester missing from users[] is rejected, saying so."""
    server = smtp_server()
    (tmp_path / "exports").mkdir()
    zendesk = tmp_path / "zendesk"
    zendesk.mkdir()
    shutil.copy(DATA / "zendesk-incremental-tickets.json", zendesk / "page-1.json")
    extra = (
        f'\n[[exports]]\nname = "zd"\npath = "{zendesk}"\npreset = "zendesk"\nsettle_seconds = 0\n'
    )
    config = write_config(tmp_path, server, tmp_path / "exports", extra=extra)
    result = notifier("once", "--config", str(config))
    assert result.returncode == 1, result.stderr  # one rejected row needs attention
    assert sorted(m.rcpt_tos[0] for m in server.messages) == [
        "hannah@example.org",
        "kofi@example.org",
    ]
    listed = notifier("audit", "--config", str(config), "--format", "json")
    records = json.loads(listed.stdout)
    keys = {r["resolution_key"] for r in records if r["outcome"] == "sent"}
    assert keys == {"zd:35436:2024-03-05T14:22:03Z", "zd:35438:2024-03-07T09:15:00Z"}
    (rejected,) = [r for r in records if r["outcome"] == "rejected"]
    assert "missing requester email" in rejected["reason"]
    assert "requester_id 99999999" in rejected["reason"] and "users[]" in rejected["reason"]
