"""The audit trail's questions: records, verification, one notice's story, the report."""

from __future__ import annotations

from datetime import datetime

from notifier.core.audit import (
    AuditQuery,
    AuditRecord,
    NoticeView,
    Retention,
    Verification,
    pruned_record,
)
from notifier.core.errors import StateError
from notifier.core.report import Report
from notifier.store.sql import audit, report
from notifier.store.sql.database import column_names
from notifier.store.sql.ledger import Ledger


class TrailQueries(Ledger):
    """What people ask of the trail (``notifier audit``, ``explain``, ``report``)."""

    def audit_records(self, wanted: AuditQuery) -> list[AuditRecord]:
        return audit.query(self._db, wanted)

    def apply_retention(self, cutoff: datetime, now: datetime) -> Retention:
        """Drop requester addresses and message words recorded before ``cutoff``.

        The audit chain keeps verifying (see docs/audit.md); the run is itself an audit row.
        """
        with self.transaction():
            result = audit.prune(self._db, cutoff)
            if result.audit_rows or result.notices:
                self._audit(pruned_record(result, now))
        return result

    def explain_record(self, key: str) -> dict[str, object]:
        """Everything stored about one resolution, for ``notifier explain``."""
        rows = self._db.execute("SELECT * FROM notices WHERE resolution_key = ?", (key,))
        row = rows.fetchone()
        if row is None:
            raise StateError(f"{key}: no resolution with this key (see notifier audit)")
        return dict(zip(column_names(rows), row, strict=True))

    def verify(self) -> Verification:
        """Check the whole chain (``notifier audit verify``)."""
        return audit.verify(self._db)

    def find_notices(self, key: str) -> list[str]:
        """Resolution keys of the notices ``key`` names: a resolution key or a ticket id."""
        return audit.find_notices(self._db, key)

    def notice_view(self, key: str) -> NoticeView | None:
        """One notice with its audit rows, for ``notifier audit show``."""
        return audit.notice_view(self._db, key)

    def report(
        self, *, since: datetime | None, until: datetime | None, team: str | None, now: datetime
    ) -> Report:
        """What was told, held, failed and never told per team (``notifier report``)."""
        return report.build(self._db, since=since, until=until, team=team, now=now)
