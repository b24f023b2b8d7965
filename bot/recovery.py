"""The first start after `attache-bot restore` (bot/restore.py): nothing twice, nobody stranded.

Why a fresh device (and not the restored one): the restored Olm account lacks the private
halves of one-time keys it published after the backup (peers who claimed them can never
reach it), its Olm sessions are behind their peers' ratchets (wedged), it lacks the
Megolm sessions people shared with it after the backup (a person first seen since then
would never be read again, which is what stranded people before), and its outbound
Megolm sessions would reuse message indexes. A fresh device has none of these problems:
peers see a new device of the bot, signed by the same cross-signing identity (the saved
keys are in the backup), share their room keys with it on their next message, and the
bot's own room keys are new. The superseded devices are logged out (their access tokens
are in the restore marker, sealed), so nobody keeps encrypting for them.

What already happened is read from the homeserver, which outlives the restore
(bot/ledger.py): every command one of the bot's events replies to is recorded as handled
(outcome `answered_before_restore`), so it is not run again, and so is every edit or
reaction whose answer carries its ledger tag (commands/answers.py: those answers reply to
another event); every job whose ledger tag is on one of the bot's events fires again for
its effect only (the next occurrence of a repeating reminder is scheduled) with no message.
A command after the backup that was never answered is still run if the fresh device can
read it, and otherwise its sender is told it could not be read (the sync loop's
undecryptable path), never left in silence.
Each room where the bot had answered since the backup is told, once, that what was asked
there since then is undone (its effects are gone with the restore, and the numbers given
out may be reused).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nio import Api, AsyncClient, JoinedRoomsResponse

from bot import datafiles, ledger
from bot.client import CREDENTIALS_FILE, CRYPTO_DIR, StartupError
from bot.clock import Clock
from bot.outbox.queue import enqueue
from bot.store import Store
from commands.context import OutMessage, utc_iso
from commands.i18n import language, ngettext
from commands.outbox_row import Queued
from commands.readers import reader_language
from commands.time import fmt
from config import Settings

log = logging.getLogger(__name__)

ANSWERED = "restore:answered"  # kv: event IDs answered before the last restore (JSON)
SKEW = timedelta(minutes=5)  # read the ledger back this far before the backup's time
MAX_PAGES = 50  # per room, of 100 of the bot's own events


# Left in the store by `attache-bot restore` (bot/restore.py), which is imported only then:
# its archive reading (tarfile) is 0.5 MiB a start would carry for nothing.
MARKER = "restore:pending"
RETIRED = "restore-retired-devices"  # the name the retired credentials are sealed under


@dataclass
class Recovered:
    device_id: str
    retired: list[str] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    fired_jobs: list[int] = field(default_factory=list)
    already_sent: list[int] = field(default_factory=list)  # outbox rows
    seconds: float = 0.0


async def pending(store: Store) -> dict[str, Any] | None:
    """The marker a restore left, or None (an ordinary start)."""
    async with store.reader.execute("SELECT value FROM kv WHERE key = ?", (MARKER,)) as cur:
        row = await cur.fetchone()
    return json.loads(row[0]) if row else None


def needs_fresh_device(settings: Settings, marker: dict[str, Any]) -> bool:
    """True unless an earlier start already logged in afresh (a crash mid-recovery)."""
    creds = settings.data_dir / CREDENTIALS_FILE
    if creds.exists():
        device = json.loads(creds.read_text(encoding="utf-8")).get("device_id")
        if device not in set(marker.get("retired_devices", [])):
            return False
        creds.unlink()  # a superseded device's: never used again
    return True


def retired_from_marker(marker: dict[str, Any], settings: Settings) -> list[dict[str, str]]:
    sealed = bytes.fromhex(marker.get("retired_sealed", ""))
    if not sealed:
        return []
    plain = datafiles.unseal(sealed, settings.secret_for_keys, settings.user_id, RETIRED)
    return list(json.loads(plain))


async def answered_before_restore(store: Store) -> set[str]:
    async with store.reader.execute("SELECT value FROM kv WHERE key = ?", (ANSWERED,)) as cur:
        row = await cur.fetchone()
    return set(json.loads(row[0])) if row else set()


async def recover(
    client: AsyncClient, store: Store, settings: Settings, marker: dict[str, Any], clock: Clock
) -> Recovered:
    """Retire the superseded devices and read the homeserver's ledger into the store."""
    started = time.perf_counter()
    done = Recovered(device_id=str(client.device_id))
    for old in retired_from_marker(marker, settings):
        if old["device_id"] == client.device_id:
            continue
        await _log_out(client, old["access_token"])
        done.retired.append(old["device_id"])
        stale = settings.data_dir / CRYPTO_DIR / f"{settings.user_id}_{old['device_id']}.db"
        stale.unlink(missing_ok=True)
    since = datetime.fromisoformat(marker["backup_created_at"]) - SKEW
    try:
        replied, tags, others = await read_ledger(client, int(since.timestamp() * 1000))
    except Exception as exc:  # the marker stays: the next start tries again
        raise StartupError(
            f"after the restore: cannot read the bot's rooms back from the homeserver "
            f"({type(exc).__name__}: {exc}); start again once it answers"
        ) from None
    key = ledger.key_for(settings)
    for event_id, room_id in others.items():  # edits and reactions answered elsewhere
        if ledger.tag(key, ledger.event_origin(event_id)) in tags:
            replied.setdefault(event_id, room_id)
    now = utc_iso(clock.now())
    async with store.write() as db:
        undone: dict[str, str] = {}  # answered after the backup: the restore undid them
        for event_id, room_id in replied.items():
            cur = await db.execute(
                "INSERT INTO handled_events (event_id, room_id, sender, command, outcome, "
                "correlation_id, handled_at) VALUES (?, ?, '', NULL, "
                "'answered_before_restore', 'restore', ?) ON CONFLICT (event_id) DO NOTHING "
                "RETURNING event_id",
                (event_id, room_id, now),
            )
            if await cur.fetchone() is not None:
                undone[event_id] = room_id
            await cur.close()
        async with db.execute(
            "SELECT id, kind, ref, due_at FROM jobs WHERE state = 'pending' AND due_at <= ?",
            (now,),
        ) as cur:
            due = await cur.fetchall()
        for row in due:
            origin = ledger.job_origin(int(row[0]), str(row[1]), str(row[2]), str(row[3]))
            if ledger.tag(key, origin) in tags:
                done.fired_jobs.append(int(row[0]))
                await db.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    (f"restore:fired:{row[0]}", now),
                )
        # Rows queued before the backup and sent after it: the homeserver has them.
        async with db.execute(
            "SELECT id, room_id, content FROM outbox WHERE state = 'pending'"
        ) as cur:
            queued = await cur.fetchall()
        for row in queued:
            meta = Queued.loads(row[2])
            tagged = meta.content.get(ledger.FIELD)
            if (meta.reply_to is not None and replied.get(meta.reply_to) == row[1]) or (
                isinstance(tagged, str) and ledger.tag(key, tagged) in tags
            ):
                done.already_sent.append(int(row[0]))
                await db.execute(
                    "UPDATE outbox SET state = 'sent', error = 'sent before the restore', "
                    "content = ?, attachment = NULL WHERE id = ?",
                    (meta.kept_after_send(), row[0]),
                )
        await _tell_rooms(db, settings, undone, marker["backup_created_at"], now)
        done.answered = set(replied) | await _answered_in(db)
        await db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (ANSWERED, json.dumps(sorted(done.answered))),
        )
        await db.execute("DELETE FROM kv WHERE key = ?", (MARKER,))
    done.seconds = time.perf_counter() - started
    log.info(
        "restore: recovered in %.1f s as fresh device %s (superseded devices logged out: %s); "
        "%d command(s) answered before the restore will not run again, %d job(s) that fired "
        "before it will not repeat their messages, %d queued message(s) were already sent",
        done.seconds,
        done.device_id,
        ", ".join(done.retired) or "none",
        len(undone),
        len(done.fired_jobs),
        len(done.already_sent),
    )
    return done


async def _tell_rooms(
    db: Any, settings: Settings, replied: dict[str, str], backup_at: str, now: str
) -> None:
    """One notice per room where the bot had answered since the backup: what they asked is
    undone (and the numbers of what it made may be given to new items), never in silence."""
    per_room: dict[str, int] = {}
    for room_id in replied.values():
        per_room[room_id] = per_room.get(room_id, 0) + 1
    backup = datetime.fromisoformat(backup_at)
    notices = []
    for room_id, count in sorted(per_room.items()):
        with language(await reader_language(db, settings.language, room_id=room_id)):
            notices.append(
                OutMessage(
                    room_id=room_id,
                    body=ngettext(
                        "I was restored from a backup made {when}. What was asked of me here "
                        "after that ({n} message, answered at the time) is undone: anything "
                        "it created or changed is gone, and its numbers may be given to new "
                        "items. Check what matters to you and send it again.",
                        "I was restored from a backup made {when}. What was asked of me here "
                        "after that ({n} messages, answered at the time) is undone: anything "
                        "they created or changed is gone, and their numbers may be given to "
                        "new items. Check what matters to you and send it again.",
                        count,
                        when=fmt(backup, settings.timezone),
                    ),
                )
            )
    await enqueue(db, notices, now)


async def _answered_in(db: Any) -> set[str]:
    async with db.execute("SELECT value FROM kv WHERE key = ?", (ANSWERED,)) as cur:
        row = await cur.fetchone()
    return set(json.loads(row[0])) if row else set()


async def _log_out(client: AsyncClient, token: str) -> None:
    """POST /logout with a superseded device's token: the server deletes that device."""
    try:
        resp = await client.send(
            "POST",
            Api._build_path(["logout"]),
            "{}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        status = resp.status
        resp.release()
    except Exception as exc:
        log.warning("restore: could not log out a superseded device (%s)", type(exc).__name__)
        return
    if status not in (200, 401):  # 401: the token (and device) is already gone
        log.warning("restore: logging out a superseded device answered %d", status)


async def read_ledger(
    client: AsyncClient, since_ms: int
) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """The events since `since_ms` in every room the bot is in: those the bot's own events
    reply to (event ID -> room), the ledger tags the bot's events carry, and everyone
    else's events (event ID -> room), to match against those tags."""
    replied: dict[str, str] = {}
    tags: set[str] = set()
    others: dict[str, str] = {}
    rooms = await client.joined_rooms()
    if not isinstance(rooms, JoinedRoomsResponse):
        raise RuntimeError(f"cannot list the bot's rooms ({getattr(rooms, 'status_code', rooms)})")
    messages = json.dumps(
        {
            "types": ["m.room.encrypted", "m.room.message", "m.reaction", "m.room.redaction"],
            "lazy_load_members": True,
        }
    )
    for room_id in rooms.rooms:
        token: str | None = None
        for _page in range(MAX_PAGES):
            query: dict[str, Any] = {"dir": "b", "limit": 100, "filter": messages}
            if token is not None:
                query["from"] = token
            path = Api._build_path(["rooms", room_id, "messages"], query)
            resp = await client.send(
                "GET", path, headers={"Authorization": f"Bearer {client.access_token}"}
            )
            body = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"cannot read {room_id} back ({resp.status})")
            chunk = body.get("chunk") or []
            older = False
            for event in chunk:
                if int(event.get("origin_server_ts") or 0) < since_ms:
                    older = True
                    break
                if event.get("sender") != client.user_id:
                    if isinstance(event.get("event_id"), str):
                        others[event["event_id"]] = room_id
                    continue
                content = event.get("content") or {}
                relates = content.get("m.relates_to") or {}
                answered = (relates.get("m.in_reply_to") or {}).get("event_id")
                if isinstance(answered, str) and not relates.get("is_falling_back"):
                    replied[answered] = room_id
                if isinstance(content.get(ledger.FIELD), str):
                    tags.add(content[ledger.FIELD])
            token = body.get("end")
            if older or not chunk or token is None:
                break
    return replied, tags, others
