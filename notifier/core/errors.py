"""One exception tree for the whole project.

Adapters translate library exceptions at their boundary (``raise SourceError(...) from exc``) so
that the core and the command line only ever see these::

    NotifierError
    ├── ConfigError          bad or missing configuration (exit status 78, EX_CONFIG)
    ├── StateError           the state database cannot be opened, migrated or written
    ├── SourceError          a whole source could not be read this pass (retried next pass)
    ├── InputError           one item of input is bad (a row, a file, a mail); recorded, skipped
    ├── TemplateError        a template cannot be loaded or rendered; the notice is held
    └── DeliveryError        SMTP trouble that is not about one message
        ├── TransientDeliveryError   try again later (4xx, timeouts, dropped connections)
        ├── PermanentDeliveryError   do not retry (5xx except 552)
        └── SendInterrupted          a stop came before the message was handed over
"""

from __future__ import annotations

from collections.abc import Mapping


class NotifierError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(NotifierError):
    """The configuration is invalid; the message names the key."""


class StateError(NotifierError):
    """The state database cannot be opened, migrated or written."""


class SourceError(NotifierError):
    """A source could not be read at all this pass."""


class InputError(NotifierError):
    """One item of input is bad. ``origin`` says where it came from (``file.csv:12``).

    ``ticket_id``, ``team_hint`` and ``fields``: what could still be read of the ticket (its id,
    and what team routing reads), when the source knows it: the rejection is recorded for that
    ticket and counted for its team (``notifier audit --ticket``, ``explain``, ``report``).
    """

    def __init__(
        self,
        origin: str,
        reason: str,
        *,
        ticket_id: str = "",
        team_hint: str = "",
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason
        self.ticket_id = ticket_id
        self.team_hint = team_hint
        self.fields: Mapping[str, str] = fields or {}

    def naming(self, ticket_id: str, fields: Mapping[str, str]) -> InputError:
        """This error, about ``ticket_id`` (unless it already names a ticket): for a reader
        that knows the ticket while the helper that raised did not."""
        if not self.ticket_id:
            self.ticket_id = ticket_id
            self.fields = {**fields, **self.fields}
        return self


class TemplateError(NotifierError):
    """A template could not be loaded or rendered."""


class DeliveryError(NotifierError):
    """SMTP trouble. ``code`` and ``reply`` carry the server's words when there were any."""

    def __init__(self, message: str, code: int | None = None, reply: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


class TransientDeliveryError(DeliveryError):
    """Worth trying again later."""


class PermanentDeliveryError(DeliveryError):
    """Not worth trying again."""


class SendInterrupted(DeliveryError):
    """A stop request arrived before the message reached the server: nothing was sent, and
    the notice goes back to the queue as it was (no attempt is counted)."""


class FaultStreak:
    """Unexpected faults on one item after another: one is that item's, a run is notifier's.

    A ticket or mail that notifier itself fails on (a bug meeting odd data, not bad input it
    knows how to report) is recorded and skipped, so that it cannot stop the input at itself
    pass after pass. ``LIMIT`` such faults in a row look like a fault that would meet every
    item: then the pass stops with a SourceError (rolled back, retried next pass) instead of
    recording the whole input as failed.
    """

    LIMIT = 3

    def __init__(self, what: str) -> None:
        self.what = what  # "composing notices", "reading mail in INBOX"
        self.count = 0

    def reset(self) -> None:
        """An item went through: the next fault starts a new run."""
        self.count = 0

    def record(self, exc: Exception) -> None:
        """Count a fault; raise SourceError when it is the LIMIT-th in a row."""
        self.count += 1
        if self.count >= self.LIMIT:
            self.count = 0
            raise SourceError(
                f"{self.what}: {self.LIMIT} items in a row failed unexpectedly, the last with "
                f"{type(exc).__name__}: {exc}; this pass of the source stopped (retried next pass)"
            ) from exc
