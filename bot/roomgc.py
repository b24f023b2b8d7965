"""Forget a room in memory once the bot is no longer in it (left, kicked, room purged).

Without this every room the bot was ever in stays in memory for the life of the process:
nio keeps its MatrixRoom (members, state), the room's outbound Megolm session and every
inbound session received in it, and never drops them on leave (only on room_forget); the
bot's transport keeps a send lock per room. DMs come and go, so that grew without bound
(measured in docs/BENCHMARKS.md). The dispatcher's and outbox's per-room workers clean up
after themselves when idle; this module drops the rest when a sync reports the leave.

What stays: the room in nio's `encrypted_rooms` (so a room once encrypted is never sent to
in the clear if the bot comes back), and everything on disk (crypto store, ledger).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nio import AsyncClient

log = logging.getLogger(__name__)


def forget_nio_room(client: AsyncClient, room_id: str) -> None:
    """Drop nio's in-memory state of a room the bot has left (its database keeps it)."""
    client.rooms.pop(room_id, None)
    client.invited_rooms.pop(room_id, None)
    olm = client.olm
    if olm is not None:
        olm.outbound_group_sessions.pop(room_id, None)
        entries = getattr(olm.inbound_group_store, "_entries", None)
        if isinstance(entries, dict):
            entries.pop(room_id, None)


class RoomGC:
    """Called by the sync loop for each room it reports as left; runs every cleaner."""

    def __init__(self, client: AsyncClient, *cleaners: Callable[[str], Any]) -> None:
        self.client = client
        self.cleaners = cleaners

    def room_left(self, room_id: str) -> None:
        forget_nio_room(self.client, room_id)
        for clean in self.cleaners:
            try:
                clean(room_id)
            except Exception:  # one cleaner's bug must not stop the sync loop
                log.exception("could not forget room %s", room_id)
        log.debug("forgot room %s", room_id)
