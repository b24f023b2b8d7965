"""The note on a message sent later than it was due (a reminder held up by an outage):
said in its reader's language and zone, before the message."""

from __future__ import annotations

import html
from typing import Any

from bot.clock import Clock
from bot.outbox.readers import Readers
from commands.context import parse_utc
from commands.i18n import _
from commands.outbox_row import Queued
from commands.time import fmt


class LateNotes:
    def __init__(self, clock: Clock, readers: Readers) -> None:
        self.clock = clock
        self.readers = readers

    async def note_if_late(
        self,
        content: dict[str, Any],
        meta: Queued,
        queued: str,
        user_id: str | None,
        room_id: str | None,
    ) -> None:
        """Say so on a message sent later than it was due (in the reader's language and
        zone: the caller set the language)."""
        limit = meta.late_note_after
        if limit is None:
            return
        queued_at = parse_utc(queued)
        if (self.clock.now() - queued_at).total_seconds() <= limit:
            return
        note = _(
            "(Delivered late: the homeserver was unreachable. This was due {due}.)",
            due=fmt(queued_at, await self.readers.zone_of(user_id, room_id)),
        )
        content["body"] = f"{note}\n{content['body']}"
        if "formatted_body" in content:
            content["formatted_body"] = (
                f"<em>{html.escape(note)}</em><br>{content['formatted_body']}"
            )
