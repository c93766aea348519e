"""This instance among the instances sharing a PostgreSQL state: its row in ``instances``
and the leases it holds (``leases``: one reader per polled source), renewed together in one
short transaction on a connection of their own, so that a busy store never delays a renewal.

Expiry is the server's clock (``now()``), never an instance's: their clocks may disagree. A
lease is taken when it is free or expired, and kept by renewing it before ``period`` ends.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, timedelta

from notifier.core.roles import InstanceView
from notifier.store.postgres.database import PostgresDatabase

# Instances that stopped renewing this long ago are forgotten (their claims were recovered).
_FORGET_AFTER = timedelta(days=1)


class Membership:
    """Renew this instance and its leases (``renew``), or leave (``leave``)."""

    def __init__(
        self,
        conninfo: str,
        where: str,
        *,
        instance: str,
        name: str,
        pid: int,
        password: str | None = None,
    ) -> None:
        self.instance, self.name, self.pid = instance, name, pid
        self._db = PostgresDatabase(conninfo, where, password=password)

    def renew(self, wanted: Collection[str], period: timedelta) -> set[str]:
        """Extend this instance and every lease in ``wanted`` it holds or can take, for
        ``period``; drop the leases it holds and no longer wants. The leases held now."""
        db = self._db
        held: set[str] = set()
        db.begin_unaudited()
        try:
            self._announce(period)
            for lease in sorted(wanted):  # one order in every instance: no deadlock
                row = db.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, now() + ?) "
                    "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
                    "expires_at = EXCLUDED.expires_at, acquired_at = CASE WHEN "
                    "leases.holder = EXCLUDED.holder THEN leases.acquired_at ELSE now() END "
                    "WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now() "
                    "RETURNING name",
                    (lease, self.instance, period),
                ).fetchone()
                if row is not None:
                    held.add(lease)
            for (lease,) in db.execute(
                "SELECT name FROM leases WHERE holder = ?", (self.instance,)
            ).fetchall():
                if lease not in wanted:
                    db.execute(
                        "DELETE FROM leases WHERE name = ? AND holder = ?", (lease, self.instance)
                    )
            db.execute("DELETE FROM instances WHERE expires_at < now() - ?", (_FORGET_AFTER,))
            db.commit()
        except BaseException:
            db.rollback()
            raise
        return held

    def take(self, lease: str, period: timedelta) -> str | None:
        """Take ``lease`` whoever holds it, for ``period`` (``notifier reread``: its holder's
        chunk being committed is waited for; what it reads after that is not kept, see
        ``Database.lease_held``). The instance that held it, if any still did."""
        db = self._db
        db.begin_unaudited()
        try:
            self._announce(period)
            row = db.execute(
                "SELECT instances.name, instances.id FROM leases JOIN instances "
                "ON instances.id = leases.holder WHERE leases.name = ? AND leases.holder <> ? "
                "AND leases.expires_at > now() FOR UPDATE OF leases",
                (lease, self.instance),
            ).fetchone()
            db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, now() + ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
                "expires_at = EXCLUDED.expires_at, acquired_at = now()",
                (lease, self.instance, period),
            )
            db.commit()
        except BaseException:
            db.rollback()
            raise
        return None if row is None else f"{row[0]} ({row[1]})"

    def give_back(self, lease: str) -> None:
        """End a ``take``: the lease is free for its readers' next renewal, and this passing
        member (a command, not an instance) leaves no row behind for ``notifier status``."""
        db = self._db
        db.begin_unaudited()
        try:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (lease, self.instance))
            db.execute("DELETE FROM instances WHERE id = ?", (self.instance,))
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def leave(self) -> None:
        """Give up every lease and end this instance now (a clean stop): the others need
        not wait for the leases to expire."""
        db = self._db
        db.begin_unaudited()
        try:
            db.execute("DELETE FROM leases WHERE holder = ?", (self.instance,))
            db.execute(
                "UPDATE instances SET expires_at = now(), renewed_at = now() WHERE id = ?",
                (self.instance,),
            )
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def close(self) -> None:
        self._db.close()

    def _announce(self, period: timedelta) -> None:
        """This instance's row, alive for ``period`` more (in the caller's transaction)."""
        self._db.execute(
            "INSERT INTO instances (id, name, pid, expires_at) VALUES (?, ?, ?, now() + ?) "
            "ON CONFLICT (id) DO UPDATE SET renewed_at = now(), expires_at = EXCLUDED.expires_at",
            (self.instance, self.name, self.pid, period),
        )


def instances(db: PostgresDatabase) -> list[InstanceView]:
    """Every instance known, the living first, with the leases each holds."""
    leases: dict[str, list[str]] = {}
    for name, holder in db.execute(
        "SELECT name, holder FROM leases WHERE expires_at > now() ORDER BY name"
    ).fetchall():
        leases.setdefault(str(holder), []).append(str(name))
    return [
        InstanceView(
            str(id_),
            str(name),
            int(pid),
            started.astimezone(UTC),
            renewed.astimezone(UTC),
            bool(alive),
            tuple(leases.get(str(id_), ())),
        )
        for id_, name, pid, started, renewed, alive in db.execute(
            "SELECT id, name, pid, started_at, renewed_at, expires_at > now() FROM instances "
            "ORDER BY expires_at > now() DESC, started_at"
        ).fetchall()
    ]
