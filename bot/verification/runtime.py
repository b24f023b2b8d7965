"""The bot's side of Element's interactive verification, over both channels Element uses:
to-device (`transaction_id`) and a DM (a request message, then events related to it by
`m.reference`). Each verification is a `machine.Verification`; this module feeds it the
person's events, sends what it answers, checks the person's device (known, signed by its
owner), shows the emoji to the verified admins (bot/verification/telling.py) and, once
one of them confirmed and the person's MAC checked out, signs and records the identity.

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
from datetime import timedelta
from typing import Any

import aiohttp
from nio import AsyncClient, ToDeviceMessage

from bot.clock import Clock
from bot.crypto.errors import CrossSigningError
from bot.crypto.trust import evaluate_user
from bot.store import Store
from bot.verification import telling
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
from bot.verification.signing import sign_master_key
from commands.context import utc_iso
from commands.i18n import _
from commands.verification import next_number
from commands.verified import (
    BY_CONSOLE,
    HOW_CONSOLE,
    HOW_SAS,
    NotThePinnedKey,
    is_verified_admin,
    mark_verified,
)
from commands.verifier import Decision
from config import Settings

log = logging.getLogger(__name__)

REQUEST_MSGTYPE = PREFIX + "request"
UNKNOWN_TRANSACTION = "m.unknown_transaction"
SWEEP_SECONDS = 2.0
# Who compares the emoji: the admins by default, the operator's console for `verify`.
ShowHook = Callable[[Verification, ShowSas], Awaitable[None]]


def silence_nio_sas(client: AsyncClient) -> None:
    """nio 0.26 answers verification events itself with its own SAS, which Element does not
    understand (nio issue 570: it cancels Element's start); this module answers them."""
    assert client.olm is not None
    client.olm.handle_key_verification = lambda event: None  # type: ignore[method-assign]


def is_verification_event(source: Mapping[str, Any]) -> bool:
    """A verification event in a room: one of ours, or a request as a message."""
    kind = str(source.get("type") or "")
    content = source.get("content") or {}
    return kind.startswith(PREFIX) or (
        kind == "m.room.message"
        and isinstance(content, dict)
        and content.get("msgtype") == REQUEST_MSGTYPE
    )


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
        self._spawn(self._request_in_room(number, user_id))

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
                await self._to_device(PREFIX + "request", user_id, device, content)
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
                        await self._to_device(
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
            await self._tell(
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

    async def _request_in_room(self, number: int, user_id: str) -> None:
        assert self.client.device_id
        content = {
            "msgtype": REQUEST_MSGTYPE,
            "body": _(
                "The bot asks to verify your identity. Your client does not support "
                "in-chat verification; use Element."
            ),
            "from_device": self.client.device_id,
            "methods": ["m.sas.v1"],
            "to": user_id,
        }
        try:
            room_id = await self.dm_room(user_id)
            event_id = await self.send_in_room(
                room_id, content, f"vf{number}-request-{uuid.uuid4().hex}"
            )
        except Exception as exc:  # a send error: the admin who asked is told
            log.warning(
                "%s: the request could not be sent (%s)", telling.label(number), type(exc).__name__
            )
            await self._tell(
                [self._by.get(number, "")],
                lambda _a: telling.cancelled_text(number, user_id, "m.user", False),
            )
            return
        async with self._lock:
            v = self._new(number, user_id, event_id, in_room=True, we_requested=True)
            self._rooms[event_id] = room_id
            self.running[event_id] = v
        log.info("%s: asked %s for a verification", telling.label(number), user_id)

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
                    await self._quietly(
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
                await self._send(v, action)
            elif isinstance(action, ShowSas):
                await self._show(v, action)
            elif isinstance(action, Verified):
                await self._verified(v, action)
            elif isinstance(action, Cancelled):
                await self._cancelled(v, action)
        if v.state.over:
            self.running.pop(v.transaction_id, None)
            self._rooms.pop(v.transaction_id, None)
            self._asked_devices.pop(v.transaction_id, None)
            for done in (self._asked, self._by, self._confirmed_by):
                done.pop(v.number, None)
            self.finished.set()

    async def _send(self, v: Verification, send: Send) -> None:
        event_type = PREFIX + send.kind
        try:
            if v.in_room:
                room_id = self._rooms.get(v.transaction_id)
                if room_id is None:
                    return
                await self.send_in_room(
                    room_id,
                    send.content,
                    f"vf{v.number}-{send.kind}-{uuid.uuid4().hex}",
                    event_type=event_type,
                )
            elif v.their_device is not None:
                await self._to_device(event_type, v.user_id, v.their_device, send.content)
        except Exception as exc:  # the other side times out; the admins learn it then
            log.warning(
                "%s: sending %s failed (%s)", telling.label(v.number), send.kind, type(exc).__name__
            )

    async def _quietly(
        self, event_type: str, user_id: str, device_id: str, content: dict[str, Any]
    ) -> None:
        try:
            await self._to_device(event_type, user_id, device_id, content)
        except Exception as exc:  # a courtesy: their device times the request out anyway
            log.info("a to-device %s was not sent (%s)", event_type, type(exc).__name__)

    async def _to_device(
        self, event_type: str, user_id: str, device_id: str, content: dict[str, Any]
    ) -> None:
        resp = await self.client.to_device(
            ToDeviceMessage(event_type, user_id, device_id, content), uuid.uuid4().hex
        )
        if not type(resp).__name__.endswith("Response"):
            raise RuntimeError("to-device send failed")

    async def _show(self, v: Verification, show: ShowSas) -> None:
        if self.on_show is not None:
            await self.on_show(v, show)
            return
        admins = [a for a in self.settings.admins if a != v.user_id]
        admins = [a for a in admins if await self._verified_admin(a)]
        if not admins:
            log.warning(
                "%s: no verified admin to compare the emoji; cancelled", telling.label(v.number)
            )
            # Told once, with how to get out of it (not also "cancelled" by _cancelled).
            told = [self._by.pop(v.number)] if v.number in self._by else list(self.settings.admins)
            await self._apply(v, v.cancel(USER, "No verified admin can compare the emoji"))
            await self._tell(told, lambda _a: telling.no_admin_text(v.number, v.user_id))
            return
        self._asked[v.number] = set(admins)
        expires = self.clock.now() + timedelta(
            seconds=max(0.0, TIMEOUT_SECONDS - (self.monotonic() - v.created))
        )
        async with self.store.write() as db:
            await telling.ask_admins(
                db,
                admins,
                self.settings.language,
                self.settings.command_prefix,
                v.number,
                v.user_id,
                show,
                expires,
                self.clock.now(),
            )
        self.kick()
        log.info("%s: the emoji went to %d verified admin(s)", telling.label(v.number), len(admins))

    async def _verified_admin(self, admin: str) -> bool:
        return await is_verified_admin(self.store.reader, admin, self.settings)

    async def _verified(self, v: Verification, done: Verified) -> None:
        by = self._confirmed_by.get(v.number, BY_CONSOLE if self.on_show else "")
        assert self._http is not None and self.client.access_token
        try:
            await sign_master_key(
                self._http, self.settings, self.client.access_token, v.user_id, done.master_key
            )
            async with self.store.write() as db:
                await mark_verified(
                    db,
                    v.user_id,
                    done.master_key,
                    by,
                    self._how(),
                    at=self.clock.now(),
                    settings=self.settings,
                )
                await db.execute(
                    "INSERT INTO audit (at, actor, action, object, detail) VALUES (?,?,?,?,?)",
                    (
                        utc_iso(self.clock.now()),
                        by,
                        "verify.done",
                        telling.label(v.number),
                        v.user_id,
                    ),
                )
                person = await telling.who(db, v.user_id)
                await telling.tell(
                    db,
                    self._told(v),
                    self.settings.language,
                    lambda _a: telling.verified_text(v.number, person, done.master_key, by),
                    self.clock.now(),
                )
        except (CrossSigningError, NotThePinnedKey, aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "%s: verified, but not signed or recorded (%s)",
                telling.label(v.number),
                type(exc).__name__,
            )
            await self._tell(self._told(v), lambda _a: telling.failed_text(v.number, v.user_id))
            return
        finally:
            self.identities.forget([v.user_id])
        self.kick()
        log.info("%s: %s verified", telling.label(v.number), v.user_id)

    def _how(self) -> str:
        return HOW_CONSOLE if self.on_show is not None else HOW_SAS

    async def _cancelled(self, v: Verification, cancel: Cancelled) -> None:
        log.info(
            "%s: cancelled (%s, %s)",
            telling.label(v.number),
            cancel.code,
            "by them" if cancel.by_them else "by the bot",
        )
        told = self._told(v)
        if not told:
            return
        await self._tell(
            told,
            lambda _a: telling.cancelled_text(v.number, v.user_id, cancel.code, cancel.by_them),
        )

    def _told(self, v: Verification) -> list[str]:
        """Who hears how it ended: the admins asked to compare, and whoever started it."""
        told = set(self._asked.get(v.number, set()))
        if v.number in self._by and self._by[v.number] != BY_CONSOLE:
            told.add(self._by[v.number])
        return sorted(told)

    async def _tell(self, users: Any, build: Callable[[str], str]) -> None:
        users = [u for u in users if u]
        if not users:
            return
        async with self.store.write() as db:
            await telling.tell(db, users, self.settings.language, build, self.clock.now())
        self.kick()


def _fresh(timestamp: Any, now_ms: float) -> bool:
    """The spec ignores requests older than 10 minutes or more than 5 in the future."""
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return False
    return now_ms - TIMEOUT_SECONDS * 1000 <= timestamp <= now_ms + 300_000
