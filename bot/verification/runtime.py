"""The bot's side of Element's interactive verification, over both channels Element uses:
to-device (`transaction_id`) and a DM (a request message, then events related to it by
`m.reference`). Each verification is a `machine.Verification`; this module feeds it the
person's events, sends what it answers (bot/verification/channels.py), checks the person's
device (known, signed by its owner), and hands on what follows (outcomes.py): the emoji
shown to the verified admins (telling.py) and, once one of them confirmed and the
person's MAC checked out, the identity signed and recorded.

State is in memory only. A restart ends every verification: at shutdown each running one
is cancelled (`m.timeout`), after a crash the person's Element times out by itself, and an
event for a transaction the bot no longer knows is answered `m.unknown_transaction`
(to-device) or ignored (DM); a request is answered once, also when a sync replays it
after a restart (its ID is claimed in the kv table). Nothing about a verification
(emoji, numbers, keys, MACs) is logged; log lines name the `VF-n` and the person only.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from nio import AsyncClient

from bot.clock import Clock
from bot.crypto.errors import CrossSigningError
from bot.crypto.trust import evaluate_user
from bot.store import Store
from bot.verification import channels, outcomes, telling
from bot.verification.machine import (
    ACCEPTED,
    PREFIX,
    TIMEOUT,
    TIMEOUT_SECONDS,
    UNEXPECTED,
    USER,
    Action,
    Cancelled,
    Send,
    ShowSas,
    Us,
    Verification,
    Verified,
)
from bot.verification.outcomes import ShowHook
from commands.verification import next_number
from commands.verifier import Decision
from config import Settings

log = logging.getLogger(__name__)

UNKNOWN_TRANSACTION = "m.unknown_transaction"
SWEEP_SECONDS = 2.0


class Verifications:
    """Every running verification; the runtime's `commands.verifier.Verifier`."""

    def __init__(
        self,
        client: AsyncClient,
        settings: Settings,
        store: Store,
        clock: Clock,
        own_master_key: Callable[[], str | None],
        identities: Any,  # bot.crypto.identities.Identities (evaluate)
        send_in_room: Callable[..., Awaitable[str]],  # transport.send
        dm_room: Callable[[str], Awaitable[str]],  # a usable DM with this person (outbox)
        kick: Callable[[], None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.clock = clock
        self.own_master_key = own_master_key
        self.identities = identities
        self.send_in_room = send_in_room
        self.dm_room = dm_room
        self.kick = kick
        self.monotonic = monotonic
        self.on_show: ShowHook | None = None  # None: the verified admins compare
        self.running: dict[str, Verification] = {}  # by transaction ID (or request event ID)
        self._rooms: dict[str, str] = {}  # transaction -> DM room (in-room verifications)
        self._asked: dict[int, set[str]] = {}  # number -> admins sent the emoji
        self._by: dict[int, str] = {}  # number -> the admin who started it (`!verify`)
        self._confirmed_by: dict[int, str] = {}
        self._asked_devices: dict[str, list[str]] = {}  # to-device request -> devices asked
        self._lock = asyncio.Lock()  # one event at a time: the machines are not reentrant
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.finished = asyncio.Event()  # set whenever a verification ends (tests, console)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._spawn(self._sweep_forever())

    async def close(self) -> None:
        """Cancel every running verification (`m.timeout`): its state does not survive."""
        async with self._lock:
            for v in list(self.running.values()):
                await self._apply(v, v.cancel(TIMEOUT, "The bot is restarting"))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception as exc:  # a store hiccup: the next sweep tries again
                log.warning("verification sweep failed (%s)", type(exc).__name__)

    async def sweep(self) -> None:
        """Cancel what ran longer than the spec's 10 minutes (`m.timeout`)."""
        now = self.monotonic()
        async with self._lock:
            for v in list(self.running.values()):
                if v.expired(now):
                    await self._apply(v, v.cancel(TIMEOUT, "Timed out"))

    # -- the commands' port (commands/verifier.py) ------------------------------------------

    def pending_with(self, user_id: str) -> int | None:
        for v in self.running.values():
            if v.user_id == user_id:
                return v.number
        return None

    def request(self, number: int, user_id: str, by: str) -> None:
        self._by[number] = by
        self._spawn(channels.request_in_room(self, number, user_id))

    async def decide(self, number: int, admin: str, *, confirm: bool) -> Decision:
        """Called inside the command's transaction: no store access here (the caller checked
        that the admin is verified, in that transaction)."""
        v = next((v for v in self.running.values() if v.number == number), None)
        if v is None:
            return Decision.UNKNOWN
        if admin not in self._asked.get(number, set()) or admin == v.user_id:
            return Decision.NOT_ASKED
        if number in self._confirmed_by:
            return Decision.UNKNOWN  # another admin answered first
        if not v.awaiting_admin:
            return Decision.NOT_YET
        self._confirmed_by[number] = admin
        log.info("%s %s by an admin", telling.label(number), "confirmed" if confirm else "rejected")
        self._spawn(self._decided(v, confirm))
        return Decision.DONE

    async def _decided(self, v: Verification, confirm: bool) -> None:
        async with self._lock:
            await self._apply(v, v.confirm() if confirm else v.reject())

    # -- the operator's console (bot/verification/console.py) --------------------------------

    async def answer_shown(self, v: Verification, *, confirm: bool) -> None:
        """The `on_show` hook's verdict (it runs inside the event's turn: no lock here)."""
        await self._apply(v, v.confirm() if confirm else v.reject())

    async def request_to_device(self, user_id: str, device_ids: list[str], by: str) -> int:
        """Ask each of these devices by to-device message (the console's route: no DM)."""
        number = await self._number()
        self._by[number] = by
        txn = uuid.uuid4().hex
        v = self._new(number, user_id, txn, in_room=False, we_requested=True)
        content = v.request_content(int(self.clock.now().timestamp() * 1000))
        async with self._lock:
            self.running[txn] = v
            self._asked_devices[txn] = list(device_ids)
            for device in device_ids:
                await channels.to_device(self.client, PREFIX + "request", user_id, device, content)
        log.info("%s: asked %s for a verification (to-device)", telling.label(number), user_id)
        return number

    # -- events from sync ------------------------------------------------------------------

    async def on_to_device(self, source: Mapping[str, Any]) -> None:
        kind = str(source.get("type") or "")
        sender = source.get("sender")
        content = source.get("content")
        if not kind.startswith(PREFIX) or not isinstance(sender, str):
            return
        if not isinstance(content, dict) or not self._may_verify(sender):
            return
        txn = content.get("transaction_id")
        if not isinstance(txn, str) or not txn or len(txn) > 255:
            return
        short = kind.removeprefix(PREFIX)
        async with self._lock:
            if short == "request":
                if _fresh(content.get("timestamp"), self.clock.now().timestamp() * 1000):
                    await self._theirs(sender, content.get("from_device"), txn, None)
                return
            v = self.running.get(txn)
            if v is None or v.in_room or v.user_id != sender:
                if v is None and short not in ("cancel", "done"):
                    device = content.get("from_device")
                    if isinstance(device, str):  # only start/ready name their device
                        await channels.to_device(
                            self.client,
                            PREFIX + "cancel",
                            sender,
                            device,
                            {
                                "transaction_id": txn,
                                "code": UNKNOWN_TRANSACTION,
                                "reason": "Unknown transaction",
                            },
                        )
                return
            await self._receive(v, short, content)

    async def on_room_event(
        self, room_id: str, event_id: str, sender: str, source: Mapping[str, Any], ts_ms: int
    ) -> None:
        """A verification event from an encrypted room (the gate checked sender and room).

        Element sends these in the clear even in encrypted rooms (matrix-js-sdk's rust
        crypto puts them on the wire as they are), as the spec's to-device ones are: SAS
        needs no secrecy, a forged or altered event only makes the emoji differ, which
        the admin's comparison with the person catches.
        """
        if not self._may_verify(sender):
            return
        content = source.get("content")
        if not isinstance(content, dict):
            return
        kind = str(source.get("type") or "")
        async with self._lock:
            if kind == "m.room.message":
                if content.get("to") != self.client.user_id:
                    return
                if _fresh(ts_ms, self.clock.now().timestamp() * 1000):
                    await self._theirs(sender, content.get("from_device"), event_id, room_id)
                return
            relates = content.get("m.relates_to") or {}
            txn = relates.get("event_id") if isinstance(relates, dict) else None
            v = self.running.get(txn) if isinstance(txn, str) else None
            if v is None or not v.in_room or v.user_id != sender:
                return
            if self._rooms.get(v.transaction_id) != room_id:
                return
            await self._receive(v, kind.removeprefix(PREFIX), content)

    # -- the steps ---------------------------------------------------------------------------

    def _may_verify(self, user_id: str) -> bool:
        return user_id != self.client.user_id and self.settings.is_allowed(user_id)

    async def _number(self) -> int:
        async with self.store.write() as db:
            return await next_number(db)

    async def _claim(self, user_id: str, txn: str) -> int | None:
        """A number for their request, or None if this request was seen before."""
        async with self.store.write() as db:
            cur = await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, '') ON CONFLICT DO NOTHING RETURNING key",
                (f"verification_request:{user_id}:{txn}",),
            )
            first = await cur.fetchone() is not None
            await cur.close()
            return await next_number(db) if first else None

    def _new(
        self, number: int, user_id: str, txn: str, *, in_room: bool, we_requested: bool
    ) -> Verification:
        assert self.client.olm is not None and self.client.device_id
        us = Us(
            self.client.user_id,
            self.client.device_id,
            self.client.olm.account.identity_keys["ed25519"],
            self.own_master_key() or "",
        )
        return Verification(
            number, us, user_id, txn, in_room, we_requested, created=self.monotonic()
        )

    async def _theirs(self, user_id: str, device: Any, txn: str, room_id: str | None) -> None:
        """A request from the person's Element: answer ready, or refuse with a cancel."""
        if not isinstance(device, str) or not device or txn in self.running:
            return
        number = await self._claim(user_id, txn)
        if number is None:
            return  # answered before (a sync replayed after a restart): never twice
        v = self._new(number, user_id, txn, in_room=room_id is not None, we_requested=False)
        if room_id is not None:
            self._rooms[txn] = room_id
        log.info("%s: %s asked to verify", telling.label(number), user_id)
        running = next((o for o in self.running.values() if o.user_id == user_id), None)
        if running is not None:
            # One at a time per person: the running one stands (an admin may be comparing
            # its emoji right now); the new one is refused, the admins asked are told.
            v.their_device = device
            await self._apply(
                v, v.cancel(UNEXPECTED, "Another verification with this user is in progress")
            )
            await outcomes.tell(
                self,
                self._asked.get(running.number, set()),
                lambda _a: telling.second_request_text(running.number, user_id),
            )
            return
        problem = await self._bind(v, device)
        if problem is not None:
            v.their_device = device
            await self._apply(v, v.cancel(USER, problem))
            return
        if not self.own_master_key():
            await self._apply(v, v.cancel(USER, "The bot's own cross-signing is not in order"))
            return
        self.running[txn] = v
        await self._apply(v, v.ready())

    async def _bind(self, v: Verification, device: str) -> str | None:
        """Their device must be known and signed by their identity; None when it is."""
        try:
            cached = await self.identities.evaluate(v.user_id, max_age=0)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError):
            return "The bot could not fetch this user's keys"
        # Judged against the identity the server shows now (a changed one, waiting for an
        # admin, may be verified too: that approves it, as `!trust approve` would).
        verdict = evaluate_user(v.user_id, cached.query, None)
        if verdict.master_key is None:
            return "This user has no cross-signing identity"
        found = verdict.devices.get(device)
        if found is None:
            log.info("%s: refused, unknown device", telling.label(v.number))
            return "Unknown device"
        if not found.owner_signed:
            log.info("%s: refused, device not signed by its owner", telling.label(v.number))
            return "This device is not cross-signed by its owner; verify it from a signed device"
        keys = cached.query["device_keys"][v.user_id][device]["keys"]
        v.bind(device, keys[f"ed25519:{device}"], verdict.master_key)
        return None

    async def _receive(self, v: Verification, kind: str, content: Mapping[str, Any]) -> None:
        if kind == "ready" and v.we_requested and v.their_device is None:
            device = str(content.get("from_device") or "")
            problem = await self._bind(v, device)
            if problem is not None:
                await self._apply(v, v.cancel(USER, problem))
                return
            # Their other devices showed the request too: it was answered elsewhere.
            for other in self._asked_devices.pop(v.transaction_id, []):
                if other != device:
                    await channels.quietly(
                        self.client,
                        PREFIX + "cancel",
                        v.user_id,
                        other,
                        {
                            "transaction_id": v.transaction_id,
                            "code": ACCEPTED,
                            "reason": "Accepted on another device",
                        },
                    )
        await self._apply(v, v.receive(kind, content))

    async def _apply(self, v: Verification, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                await channels.send(self, v, action)
            elif isinstance(action, ShowSas):
                await outcomes.show(self, v, action)
            elif isinstance(action, Verified):
                await outcomes.verified(self, v, action)
            elif isinstance(action, Cancelled):
                await outcomes.cancelled(self, v, action)
        if v.state.over:
            self.running.pop(v.transaction_id, None)
            self._rooms.pop(v.transaction_id, None)
            self._asked_devices.pop(v.transaction_id, None)
            for done in (self._asked, self._by, self._confirmed_by):
                done.pop(v.number, None)
            self.finished.set()


def _fresh(timestamp: Any, now_ms: float) -> bool:
    """The spec ignores requests older than 10 minutes or more than 5 in the future."""
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return False
    return now_ms - TIMEOUT_SECONDS * 1000 <= timestamp <= now_ms + 300_000
