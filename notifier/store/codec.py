"""Resolutions stored as JSON text, the same in every store (the notice keeps what it was built from)."""

from __future__ import annotations

import json
from dataclasses import fields

from notifier.core.clock import from_stamp, to_stamp
from notifier.core.model import (
    Resolution,
)

_RESOLUTION_FIELDS = tuple(f.name for f in fields(Resolution))


def resolution_to_json(resolution: Resolution) -> str:
    # The fields are flat but one mapping: asdict's deep copy would cost more than the JSON.
    values = {name: getattr(resolution, name) for name in _RESOLUTION_FIELDS}
    values["resolved_at"] = to_stamp(resolution.resolved_at) if resolution.resolved_at else None
    values["fields"] = dict(resolution.fields)
    return json.dumps(values, ensure_ascii=False)


def resolution_from_json(text: str) -> Resolution:
    values = json.loads(text)
    if values.get("resolved_at"):
        values["resolved_at"] = from_stamp(values["resolved_at"])
    return Resolution(**values)
