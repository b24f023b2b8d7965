"""What the domains do when a message cannot reach its person: tell the sender, keep history.

The runtime (bot/outbox/dm_repair.py) decides that a message is undeliverable; this module
turns that into the notice for the person it was sent on behalf of (its
OutMessage.origin) and into the history of the object it was about. One rule for every command.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from commands.context import OutMessage
from commands.errors import UserError
from commands.i18n import N_, _
from commands.ids import ObjectId

# Reasons, as the sender reads them ("I could not deliver LR-3 to Bob: <reason>."). Stored
# and logged in English (unreachable_people, the outbox's error, the audit); translated
# where the notice is rendered, in its reader's language (`reason_text`).
NOT_ALLOWED = N_("they are not on this bot's allow-list")
REJECTED = N_("they declined my direct chat invitation")
NO_ACCOUNT = N_("I could not invite them to a direct chat (is the account gone?)")
LEFT = N_("they left our direct chat before it arrived")
NO_DEVICES = N_("they have no session that could read it (is the account gone?)")
UNENCRYPTED_ROOM = N_("that room is not end-to-end encrypted")


def reason_text(reason: str) -> str:
    """A stored reason in the current reader's language (as is, if it is not one of ours)."""
    return _(reason) if reason else reason


async def name_of(db: aiosqlite.Connection, user_id: str) -> str:
    """The directory's display name with the Matrix ID, or the Matrix ID alone."""
    async with db.execute("SELECT display_name FROM people WHERE user_id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    return f"{row[0]} ({user_id})" if row and row[0] else user_id


async def record_undelivered(
    db: aiosqlite.Connection, obj: str | None, recipient: str, reason: str, now_iso: str
) -> bool:
    """Audit it and write it into the object's history, once: True the first time."""
    return await note_once(
        db,
        "delivery.failed",
        obj,
        f"to {recipient}: {reason}",
        now_iso,
        history=("undeliverable", f"not delivered to {recipient}: {reason}"),
    )


async def undeliverable(
    db: aiosqlite.Connection,
    origin: dict[str, Any] | None,
    recipient: str,
    reason: str,
    now_iso: str,
) -> list[OutMessage]:
    """Record it (audit, and the object's own history) and return the sender's notice."""
    obj = (origin or {}).get("object")
    if not await record_undelivered(db, obj, recipient, reason, now_iso):
        return []
    if not origin or not origin.get("user_id") or origin["user_id"] == recipient:
        return []
    name = await name_of(db, recipient)
    # Rendered in the current language: the caller sets the sender's (the notice is theirs).
    if obj:
        body = _(
            "I could not deliver {object} to {name}: {reason}. Reach them another way; once "
            "they start a direct chat with me, I can write to them again.",
            object=obj,
            name=name,
            reason=reason_text(reason),
        )
    else:
        body = _(
            "I could not deliver a message to {name}: {reason}. Reach them another way; once "
            "they start a direct chat with me, I can write to them again.",
            name=name,
            reason=reason_text(reason),
        )
    where = await notice_target(db, origin)
    return [OutMessage(body=body, mentions=(origin["user_id"],), **where)]


async def note_once(
    db: aiosqlite.Connection,
    action: str,
    obj: str | None,
    detail: str,
    now_iso: str,
    *,
    history: tuple[str, str],
) -> bool:
    """Audit this outcome; True the first time for this object, action and detail (then it
    also goes into a liaison request's history), so the sender hears of it once, not once
    per message (a nudge, a relay) that met the same fate."""
    told_before = False
    if obj is not None:
        async with db.execute(
            "SELECT 1 FROM audit WHERE action = ? AND object = ? AND detail = ?",
            (action, obj, detail),
        ) as cur:
            told_before = await cur.fetchone() is not None
    await db.execute(
        "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, 'bot', ?, ?, ?)",
        (now_iso, action, obj, detail),
    )
    if told_before:
        return False
    about = ObjectId.find(obj) if obj else None
    if about is not None and about.kind == "LR" and str(about) == obj:
        step, text = history
        await db.execute(
            "INSERT INTO history (object, at, actor, action, new, detail, marking) "
            "SELECT ?, ?, 'bot', ?, status, ?, COALESCE(marking, '') FROM liaison_requests "
            "WHERE id = ?",
            (obj, now_iso, step, text, about.number),
        )
    return True


async def notice_target(db: aiosqlite.Connection, origin: dict[str, Any]) -> dict[str, Any]:
    """Where to tell the person a message was sent for who did not get it and why: them
    alone, in their DM (in the object's thread there, or as a reply to their command if
    they gave it there), never a room others read (the person left out may be in it)."""
    user = origin["user_id"]
    key = origin.get("thread_key")
    if key:
        async with db.execute("SELECT room_id, user_id FROM outbox WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        if row is not None and row[1] == user:
            return {"user_id": user, "thread_key": key}
        if row is not None and await _is_dm_of(db, row[0], user):
            # Queued for that room (their DM), so it follows the thread's root in order; the
            # outbox sends it there only while it is a room of just them (Queued.reader).
            return {"room_id": row[0], "thread_key": key}
    if origin.get("room_id") and await _is_dm_of(db, origin["room_id"], user):
        return {
            "room_id": origin["room_id"],
            "reply_to": origin.get("reply_to"),
            "thread_root": origin.get("thread_root"),
        }
    return {"user_id": user}


async def _is_dm_of(db: aiosqlite.Connection, room_id: str | None, user_id: str) -> bool:
    async with db.execute(
        "SELECT 1 FROM dm_rooms WHERE user_id = ? AND room_id = ?", (user_id, room_id)
    ) as cur:
        return await cur.fetchone() is not None


async def dm_abandoned(db: aiosqlite.Connection, user_id: str, room_id: str) -> None:
    """The person left their DM with the bot: what was addressed to that room follows the
    person instead (their reminders, what is still queued), into whichever DM is usable."""
    await db.execute(
        "UPDATE schedule_items SET room_id = NULL WHERE room_id = ? AND creator = ?",
        (room_id, user_id),
    )
    await db.execute(
        "UPDATE outbox SET user_id = ?, room_id = NULL "
        "WHERE room_id = ? AND user_id IS NULL AND state = 'pending'",
        (user_id, room_id),
    )


async def require_encrypted_room(db: aiosqlite.Connection, room_id: str, example: str) -> None:
    """A post or summit room must be one the bot is in and that is end-to-end encrypted:
    the bot never writes anywhere else (and would refuse to at send time too)."""
    async with db.execute("SELECT encrypted FROM bot_rooms WHERE room_id = ?", (room_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise UserError(
            _(
                "I am not in room {room}. Invite me there first (an encrypted room), then set "
                "it again.",
                room=room_id,
            ),
            example=example,
        )
    if not row[0]:
        raise UserError(
            _(
                "Room {room} is not end-to-end encrypted, and I never write unencrypted. "
                "Enable encryption there (Element: Room settings → Security & Privacy → "
                "Encrypted) or name an encrypted room.",
                room=room_id,
            ),
            example=example,
        )
