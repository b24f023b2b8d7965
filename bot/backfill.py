"""Gap filling: a `limited` timeline is paged back to the last event seen, so no command
sent while the bot was away or behind is skipped.

Where each room's gap stops is its mark (the newest event the loop saw there), saved with
the sync token (bot/sync.py).
"""

from __future__ import annotations

import json
import logging

from nio import AsyncClient, RoomMessagesError, RoomMessagesResponse
from nio.events import Event

from bot import kv
from bot.store import Store

log = logging.getLogger(__name__)

BACKFILL_PAGES = 20


def mark(newest: Event) -> str:
    """The room mark for this event: where the room's next gap stops."""
    return json.dumps({"event_id": newest.event_id, "ts": newest.server_timestamp})


async def backfill(
    client: AsyncClient, store: Store, room_id: str, prev_batch: str | None
) -> list[Event]:
    """Page back over a `limited` gap to the last event seen, so no command is skipped."""
    saved = await kv.get(store, f"room_mark:{room_id}")
    last = json.loads(saved) if saved else None
    if last is None or prev_batch is None:
        return []
    older: list[Event] = []
    token: str | None = prev_batch
    for _page in range(BACKFILL_PAGES):
        resp = await client.room_messages(room_id, start=token, limit=100)
        if isinstance(resp, RoomMessagesError) or not isinstance(resp, RoomMessagesResponse):
            log.warning("backfill of %s failed: %s", room_id, failure(resp))
            break
        for event in resp.chunk:  # newest first
            if event.event_id == last["event_id"] or (event.server_timestamp < last["ts"]):
                log.info("backfilled %d events in %s", len(older), room_id)
                return list(reversed(older))
            older.append(event)
        if not resp.chunk or resp.end is None:
            break
        token = resp.end
    log.warning("backfill of %s stopped after %d events", room_id, len(older))
    return list(reversed(older))


def failure(resp: object) -> str:
    """A failed nio call, named for a log line (its status code or its type)."""
    if isinstance(resp, Exception):
        return type(resp).__name__
    return str(getattr(resp, "status_code", None) or type(resp).__name__)
