"""Dates for examples: an example the bot shows must still work when copied, so any date
in it is made from the current time (the handler's `ctx.now`), never written in."""

from __future__ import annotations

from datetime import datetime, timedelta


def day(now: datetime, days: int) -> str:
    """The ISO date `days` after now: 2026-12-10."""
    return (now + timedelta(days=days)).strftime("%Y-%m-%d")
