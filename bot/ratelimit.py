"""One rate limit per person for everything they make the bot do.

Commands, edits, replies and thread replies (relayed), reactions, undecryptable messages
(each costs key requests to their devices) and invitations all draw on the same token
bucket: `rate_limit_burst` at once, then `rate_limit_per_minute` sustained. Whoever goes
over it is told once (in their language) until their bucket has refilled; what went over
is ignored. Invitations are also capped by how many rooms the bot is in on one person's
invitation (`max_rooms_per_inviter`), a count kept in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiosqlite

from bot.clock import Clock
from bot.outbox.queue import enqueue
from commands.context import OutMessage, utc_iso
from commands.i18n import _, language
from commands.readers import reader_language
from config import Settings

# Buckets of people who have not been heard from for a while are full again: forget them
# once there are this many, so a server's worth of senders cannot grow memory for ever.
_PRUNE_ABOVE = 10_000


class RateLimiter:
    """Token bucket per person: `burst` at once, then `per_minute` sustained."""

    def __init__(self, burst: int, per_minute: int, clock: Clock) -> None:
        self.burst, self.rate, self.clock = burst, per_minute / 60.0, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self.warned: set[str] = set()

    def allow(self, sender: str) -> bool:
        """Take one token; False (and nothing taken) when the person is over the limit."""
        now = self.clock.monotonic()
        if len(self._buckets) > _PRUNE_ABOVE:
            self._prune(now)
        tokens, last = self._buckets.get(sender, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[sender] = (tokens - 1, now)
            if tokens >= 2:
                self.warned.discard(sender)
            return True
        self._buckets[sender] = (tokens, now)
        return False

    def first_refusal(self, sender: str) -> bool:
        """True the first time a person is refused in a spell over the limit: tell them now."""
        if sender in self.warned:
            return False
        self.warned.add(sender)
        return True

    def _prune(self, now: float) -> None:
        full = [
            s
            for s, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for sender in full:
            del self._buckets[sender]
            self.warned.discard(sender)


def over_limit_text(settings: Settings) -> str:
    """The one warning, rendered in the current language (the person's)."""
    return _(
        "You are sending messages faster than I accept ({per_minute} a minute "
        "after a burst of {burst}). Messages over the limit were ignored; wait "
        "a minute, then send them again.",
        per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
    )


def rooms_cap_text(settings: Settings, room_id: str) -> str:
    """Why an invitation was declined: the person's rooms are at the cap."""
    return _(
        "I declined your invitation to {room}: I am already in {limit} rooms you invited "
        "me to, the most one person may. Remove me from a room you no longer need (kick "
        "me there), then invite me again, or ask an operator to raise "
        "max_rooms_per_inviter.",
        room=room_id,
        limit=settings.max_rooms_per_inviter,
    )


async def tell(
    db: aiosqlite.Connection,
    settings: Settings,
    person: str,
    text: Callable[[], str],
    now: datetime,
    **where: Any,
) -> None:
    """Queue a refusal for `person`, rendered in their language (outside the dispatcher,
    which replies through the handler's context instead)."""
    with language(await reader_language(db, settings.language, user_id=person)):
        body = text()
    await enqueue(db, [OutMessage(body=body, **where)], utc_iso(now))


async def refuse_invite(
    limiter: RateLimiter,
    db: aiosqlite.Connection,
    settings: Settings,
    inviter: str,
    room_id: str,
    now: datetime,
    *,
    pending: int = 0,
) -> str | None:
    """Why this person's invitation is declined ("rate", "rooms"), or None to accept it.

    An invitation costs a token like any command, and is declined while the bot is in
    `max_rooms_per_inviter` rooms on their invitations, counting the `pending` joins still
    being retried. They are told once per spell, in their DM."""
    cap_key = "rooms:" + inviter
    if not limiter.allow(inviter):
        if limiter.first_refusal(inviter):
            await tell(
                db, settings, inviter, lambda: over_limit_text(settings), now, user_id=inviter
            )
        return "rate"
    if await rooms_joined_for(db, inviter) + pending >= settings.max_rooms_per_inviter:
        if limiter.first_refusal(cap_key):
            text = lambda: rooms_cap_text(settings, room_id)  # noqa: E731
            await tell(db, settings, inviter, text, now, user_id=inviter)
        return "rooms"
    limiter.warned.discard(cap_key)  # under the cap again: the next refusal is told
    return None


# -- rooms joined on a person's invitation (kv: "joined_for:<room>" -> inviter) -------------

_JOINED_FOR = "joined_for:"


async def rooms_joined_for(db: aiosqlite.Connection, inviter: str) -> int:
    """How many rooms the bot is in because this person invited it."""
    async with db.execute(
        "SELECT COUNT(*) FROM kv WHERE key LIKE ? AND value = ?", (_JOINED_FOR + "%", inviter)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def note_joined_for(db: aiosqlite.Connection, room_id: str, inviter: str) -> None:
    await db.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_JOINED_FOR + room_id, inviter),
    )


async def forget_rooms(db: aiosqlite.Connection, room_ids: list[str]) -> None:
    """The bot left these rooms: they no longer count against whoever invited it."""
    await db.executemany("DELETE FROM kv WHERE key = ?", [(_JOINED_FOR + r,) for r in room_ids])
