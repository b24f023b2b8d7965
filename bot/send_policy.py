"""How long a queued message is worth sending, and how to wait for a busy homeserver.

Nothing queued is dropped because the homeserver is busy: a send refused with 429 (or
failing on the network, or a 5xx) is tried again for as long as the message is still worth
sending, its kind's deadline counted from when it was queued:

- `reply`, an answer to a command: 60 s. A `pong` a minute late answers nothing; its
  sender is told instead.
- `message`, a request, a relay, a post to a room: 24 h. It carries someone's words.
- `scheduled`, a reminder, a nudge, a digest: 24 h. Worth sending late, and it says so
  (late_note_after).
- a runtime notice (kind None: delivery, security, the reports of bot/send_failures.py):
  24 h. Someone must hear it.

Waits: the server's Retry-After when it names one (for every room at once: the limit is
the bot's account's, not a room's, see `RateGate`), else an exponential backoff capped at
`BACKOFF_CAP`. A permanent error (the server refuses the event itself) is not retried.
What fails is reported (bot/send_failures.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from commands.context import parse_utc

BACKOFF_CAP = 30.0

REPLY = "reply"
MESSAGE = "message"
SCHEDULED = "scheduled"
NOTICE = "notice"
KINDS = (REPLY, MESSAGE, SCHEDULED, NOTICE)

DEADLINES: dict[str, float] = {
    REPLY: 60.0,
    MESSAGE: 24 * 3600.0,
    SCHEDULED: 24 * 3600.0,
    NOTICE: 24 * 3600.0,
}

# Why a row failed, as the metric's `reason` label and the row's error.
EXPIRED = "expired"  # its deadline passed while the homeserver was busy or unreachable
REFUSED = "refused"  # the homeserver refused it for good (a permanent error)
REASONS = (EXPIRED, REFUSED)


def kind_of(kind: str | None) -> str:
    """A row's kind (commands/outbox_row.Queued.kind); rows without one are notices."""
    return kind if kind in DEADLINES else NOTICE


@dataclass(frozen=True)
class SendPolicy:
    """Deadlines per kind (seconds after queueing) and the backoff between attempts."""

    deadlines: tuple[tuple[str, float], ...] = tuple(DEADLINES.items())
    backoff_cap: float = BACKOFF_CAP

    def deadline(self, kind: str) -> float:
        return dict(self.deadlines).get(kind, DEADLINES[NOTICE])

    def age(self, queued_at: str, now: datetime) -> float:
        return (now - parse_utc(queued_at)).total_seconds()

    def expired(self, kind: str, queued_at: str, now: datetime, after: float = 0.0) -> bool:
        """Past its deadline now, or `after` seconds from now (no point waiting for that)."""
        return self.age(queued_at, now) + after > self.deadline(kind)

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds before the next attempt: what the server asked for, else backoff."""
        if retry_after is not None and retry_after > 0:
            return retry_after
        return min(self.backoff_cap, 0.5 * 2 ** max(1, attempts))


class RateGate:
    """The homeserver's rate limit is per account: once it answers 429 with Retry-After,
    no room's worker sends before that time (each early try would cost another 429).

    On the event loop's clock, which is what `asyncio.sleep` waits on."""

    RECENT = 300.0  # a 429 this recent makes "rate limited" the cause of an expiry

    def __init__(self) -> None:
        self._until = 0.0
        self._last_hit: float | None = None

    def hold(self, seconds: float) -> None:
        now = _loop_time()
        self._last_hit = now
        self._until = max(self._until, now + seconds)

    def remaining(self) -> float:
        return max(0.0, self._until - _loop_time())

    def limited_recently(self) -> bool:
        return self._last_hit is not None and _loop_time() - self._last_hit < self.RECENT

    async def wait(self) -> None:
        left = self.remaining()
        while left > 0:  # a 429 met meanwhile moves the time on
            await asyncio.sleep(left)
            left = self.remaining()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
