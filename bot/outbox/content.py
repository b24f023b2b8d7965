"""A row's event content as it is sent: in its thread (started again in a new DM when the
old root is in a DM the person left), as a reply, with its file uploaded."""

from __future__ import annotations

from typing import Any, Protocol

from bot.store import Store
from commands.outbox_row import Queued


class Uploads(Protocol):
    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]: ...


class Content:
    def __init__(self, store: Store, transport: Uploads) -> None:
        self.store = store
        self.transport = transport

    async def build(
        self, meta: Queued, attachment: bytes | None, room_id: str | None = None
    ) -> dict[str, Any]:
        content = dict(meta.content)
        reply_to, root = meta.reply_to, meta.thread_root
        if meta.thread_key and not root:
            root = await self._event_for_key(meta.thread_key, room_id)
            if root is None and await self._event_for_key(meta.thread_key):
                # The thread's root is in a DM the person left: this message starts the
                # thread again in the new DM (the key moves to it once it is sent).
                meta.restart_thread = meta.thread_key
        if root:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": reply_to is None,
                "m.in_reply_to": {"event_id": reply_to or root},
            }
        elif reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if attachment is not None and meta.attachment is not None:
            info = meta.attachment
            file_obj = await self.transport.upload(attachment, info["mimetype"], info["filename"])
            content.update(
                msgtype="m.file",
                body=info["filename"],
                filename=info["filename"],
                file=file_obj,
                info={"mimetype": info["mimetype"], "size": len(attachment)},
            )
            content.pop("format", None)
            content.pop("formatted_body", None)
        return content

    async def _event_for_key(self, key: str, room_id: str | None = None) -> str | None:
        async with self.store.reader.execute(
            "SELECT event_id, room_id FROM outbox WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        if row is None or not row[0]:
            return None
        # A root in another room (a DM the person left) cannot carry this room's thread.
        if room_id is not None and row[1] and row[1] != room_id:
            return None
        return str(row[0])
