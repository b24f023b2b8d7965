"""Durations as people type them ("2h", "1h30m", "90 minutes", "2 Std.") and as they are shown."""

from __future__ import annotations

import re
from datetime import timedelta

from commands.i18n import _
from commands.time.limits import MAX_REACH, too_far
from commands.time.words import UNITS

_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")
_DURATION = re.compile(r"^(?:\d+\s*[a-z]+\s*)+$")


def parse_duration(text: str) -> timedelta:
    """'2h', '1h30m', '90 minutes', '1d' -> timedelta; ValueError otherwise."""
    cleaned = re.sub(r"(?<=[a-z])\.", "", text.strip().lower())  # "2 Std." as "2 std"
    if not _DURATION.match(cleaned):
        raise ValueError(
            _("{text} is not a duration like 15m, 1h, 1h30m or 1d", text=repr(text[:30]))
        )
    total = 0
    for amount, unit in _DURATION_PART.findall(cleaned):
        if unit not in UNITS:
            raise ValueError(
                _("{unit} is not a unit; use s, m, h, d or w (e.g. 1h30m)", unit=repr(unit))
            )
        if len(amount) > 12:  # int() of thousands of digits is itself slow and refused
            raise too_far(text)
        total += int(amount) * UNITS[unit]
    if total > MAX_REACH.total_seconds():
        raise too_far(text)
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """The short form people type: 1d, 1h, 15m, 1h30m; '0m' for 'at the time'."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0m"
