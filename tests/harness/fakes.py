"""Fast in-process bot core for unit tests: real store and dispatcher, fake clock, no Matrix."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.dispatch import Dispatcher
from bot.metrics import Metrics
from bot.settings_vocabulary import BotSettings
from bot.store import Store, open_store
from commands import build_registry
from commands.context import Context, Incoming
from commands.outbox_row import Queued
from commands.verifier import Decision
from config import Settings
from tests.harness.migrated import new_migrated_sqlite

_ids = itertools.count(1)


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.current += step
        self.mono += step.total_seconds()

    def set(self, moment: datetime) -> None:
        self.mono += max(0.0, (moment - self.current).total_seconds())
        self.current = moment


class _UnitSettings(BotSettings):
    """The bot's settings from the test's own values only, checked as the bot checks them.

    A developer's `ATTACHE_*` variables must not change what a unit test sees, and reading
    the environment for each of ~50 fields was half of every core's start (~7 of 17 ms).
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "homeserver": "http://127.0.0.1:1",
        "user_id": "@bot:test",
        "password": "unused-password",
        "pickle_key": "unit-test-pickle-key-0123456789",
        "data_dir": data_dir,
        "allowed_servers": ["test"],
        "admins": ["@admin:test"],
    }
    values.update(overrides)
    return _UnitSettings(**values)


@dataclass
class Sent:
    """One outbox row as a test sees it."""

    id: int
    room_id: str | None
    user_id: str | None
    body: str
    html: str | None
    content: dict[str, Any]
    reply_to: str | None
    thread_root: str | None
    thread_key: str | None
    key: str | None
    attachment: bytes | None
    filename: str | None


class FakeVerifier:
    """The runtime's verifier as the commands see it (commands/verifier.py), no network:
    it records what was asked; `waiting` holds the verifications whose emoji went to these
    admins (number -> admins)."""

    def __init__(self) -> None:
        self.requested: list[tuple[int, str, str]] = []
        self.decided: list[tuple[int, str, bool]] = []
        self.waiting: dict[int, set[str]] = {}
        self.running: dict[str, int] = {}

    def pending_with(self, user_id: str) -> int | None:
        return self.running.get(user_id)

    def request(self, number: int, user_id: str, by: str) -> None:
        self.requested.append((number, user_id, by))
        self.running[user_id] = number

    async def decide(self, number: int, admin: str, *, confirm: bool) -> Decision:
        if number not in self.waiting:
            return Decision.UNKNOWN
        if admin not in self.waiting[number]:
            return Decision.NOT_ASKED
        self.decided.append((number, admin, confirm))
        del self.waiting[number]
        return Decision.DONE


class BotCore:
    """Store + registry + dispatcher, driven by `say()` and `fire_due()`; no network."""

    def __init__(
        self,
        tmp: Path,
        clock: FakeClock | None = None,
        *,
        database_url: str | None = None,
        **overrides: Any,
    ) -> None:
        self.clock = clock or FakeClock()
        self.settings = make_settings(tmp, **overrides)
        self.store = open_store(database_url) if database_url else Store(tmp / "unit.db")
        # A new SQLite store starts as a copy of a migrated one (tests/harness/migrated.py).
        self._new_file: Path | None = None if database_url else tmp / "unit.db"
        self.registry = build_registry(self.settings.command_prefix)
        self.metrics = Metrics()
        self.committed: list[Context] = []
        self.dispatcher = Dispatcher(
            self.settings,
            self.store,
            self.registry,
            self.clock,
            self.metrics,
            self.committed.append,
        )
        self.verifier = FakeVerifier()
        self.dispatcher.verifier = self.verifier
        self._seen_outbox = 0

    async def open(self) -> BotCore:
        if self._new_file is not None and not self._new_file.exists():
            self._new_file.parent.mkdir(parents=True, exist_ok=True)
            new_migrated_sqlite(self._new_file)
        await self.store.open()
        return self

    async def close(self) -> None:
        await self.store.close()

    async def say(
        self, sender: str, body: str, room_id: str = "!room:test", **kw: Any
    ) -> list[Sent]:
        """Process one message as if it arrived decrypted; returns the new outbox rows."""
        event_id = kw.pop("event_id", None) or f"$ev{next(_ids)}"
        incoming = Incoming(event_id=event_id, room_id=room_id, sender=sender, body=body, **kw)
        await self.dispatcher.process(incoming)
        return await self.new_messages()

    async def react(self, sender: str, target: str, key: str = "✅", room_id: str = "!room:test"):
        incoming = Incoming(
            event_id=f"$ev{next(_ids)}",
            room_id=room_id,
            sender=sender,
            reaction_key=key,
            reaction_target=target,
        )
        await self.dispatcher.process(incoming)
        return await self.new_messages()

    async def fire_due(self) -> list[Sent]:
        """Run every pending job due at the fake clock's now, oldest first."""
        async with self.store.reader.execute(
            "SELECT id FROM jobs WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id",
            (self.clock.now().isoformat(),),
        ) as cur:
            ids = [int(r[0]) for r in await cur.fetchall()]
        for job_id in ids:
            await self.dispatcher.run_job(job_id)
        return await self.new_messages()

    async def new_messages(self) -> list[Sent]:
        async with self.store.reader.execute(
            "SELECT * FROM outbox WHERE id > ? ORDER BY id", (self._seen_outbox,)
        ) as cur:
            rows = await cur.fetchall()
        out = []
        for row in rows:
            meta = Queued.loads(row["content"])
            content = meta.content
            out.append(
                Sent(
                    id=row["id"],
                    room_id=row["room_id"],
                    user_id=row["user_id"],
                    body=content.get("body", ""),
                    html=content.get("formatted_body"),
                    content=content,
                    reply_to=meta.reply_to,
                    thread_root=meta.thread_root,
                    thread_key=meta.thread_key,
                    key=row["key"],
                    attachment=row["attachment"],
                    filename=(meta.attachment or {}).get("filename"),
                )
            )
            self._seen_outbox = max(self._seen_outbox, row["id"])
        return out

    async def mark_sent(self, key: str, event_id: str, room_id: str | None = None) -> None:
        """Pretend the outbox delivered the message with this key (for thread roots): as the
        real sender, it records the room it went to (a person's: their DM with the bot)."""
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'sent', event_id = ?, room_id = COALESCE(?, room_id, "
                "(SELECT d.room_id FROM dm_rooms d WHERE d.user_id = outbox.user_id)) "
                "WHERE key = ?",
                (event_id, room_id, key),
            )

    async def bot_in_room(self, room_id: str, encrypted: bool = True) -> None:
        """What the sync loop records of a room the bot is in (bot_rooms)."""
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO bot_rooms (room_id, encrypted, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (room_id) DO UPDATE SET encrypted = excluded.encrypted",
                (room_id, int(encrypted), "2026-01-01T00:00:00+00:00"),
            )

    async def dm_with(self, user_id: str, room_id: str) -> None:
        """What the transport records of a DM the bot has with this person (dm_rooms)."""
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
                (user_id, room_id),
            )

    async def profile_name(self, user_id: str, name: str) -> None:
        """What the sync loop records of a member's Matrix display name (profile_names)."""
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO profile_names (user_id, display_name, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name",
                (user_id, name, "2026-01-01T00:00:00+00:00"),
            )

    async def query(self, sql: str, *params: Any) -> list[Any]:
        async with self.store.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def count(self, table: str) -> int:
        rows = await self.query(f"SELECT COUNT(*) FROM {table}")
        return int(rows[0][0])

    async def drain_outbox(self, transport: Any, *, policy: Any = None) -> Any:
        """Send every pending outbox row through the real outbox to a fake homeserver."""
        import asyncio

        from bot.outbox.sending import Outbox

        outbox = Outbox(
            self.store,
            transport,
            self.clock,
            self.metrics,
            is_allowed=self.settings.is_allowed,
            admins=tuple(self.settings.admins),
            policy=policy,
            default_language=self.settings.language,
            default_timezone=self.settings.timezone,
        )
        task = asyncio.create_task(outbox.run())
        try:
            for _ in range(300):
                if not await self.query("SELECT 1 FROM outbox WHERE state = 'pending'"):
                    break
                outbox.kick()
                await asyncio.sleep(0.02)
        finally:
            await outbox.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return outbox


class FakeTransport:
    """A homeserver for in-process outbox tests: rooms with members, DMs made on demand,
    every send recorded as (room_id, content). Refuses nothing unless told to."""

    def __init__(self, members: dict[str, list[str]] | None = None) -> None:
        self.members: dict[str, list[str]] = dict(members or {})
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.dms: dict[str, str] = {}
        self.txns: dict[str, str] = {}

    async def send(
        self, room_id: str, content: dict[str, Any], txn_id: str, reveal_to: Any = None
    ) -> str:
        # Like a homeserver: the same transaction ID again is the same event, not a new one.
        if txn_id in self.txns:
            return self.txns[txn_id]
        self.sent.append((room_id, content))
        self.txns[txn_id] = f"$sent{len(self.sent)}"
        return self.txns[txn_id]

    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        return {"url": f"mxc://test/{len(data)}"}

    async def dm_room(self, user_id: str) -> str:
        room = self.dms[user_id] = f"!dm-{user_id}"
        self.members[room] = [user_id]
        return room

    async def has_devices(self, user_id: str) -> bool:
        return True

    async def dm_problem(self, room_id: str, user_id: str) -> str | None:
        return None if self.dms.get(user_id) == room_id else "not the bot's DM"

    async def room_members(self, room_id: str) -> list[str]:
        return list(self.members.get(room_id, []))

    def received_by(self, user_id: str) -> list[dict[str, Any]]:
        """What reached this person: their DM, and every room they are a member of."""
        return [c for room, c in self.sent if user_id in self.members.get(room, [])]
