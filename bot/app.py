"""Explicit wiring: settings -> lock -> store -> client -> dispatcher -> scheduler -> sync.

Shutdown runs the same list backwards: stop syncing, finish in-flight commands, send what
is queued (bounded), stop the scheduler, close the store. Never logout: that deletes the
device and its keys.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import datafiles, ledger, recovery
from bot.client import CREDENTIALS_FILE, StartupError, login, make_client
from bot.clock import Clock, SystemClock
from bot.crypto import replay
from bot.crypto.policy import KEYS_FILE, DeviceTrustPolicy, build_policy
from bot.dispatch import Dispatcher
from bot.health import Health
from bot.lock import DataDirLock
from bot.looplag import LoopLag
from bot.metrics import Metrics
from bot.outbox.sending import Outbox
from bot.roomgc import RoomGC
from bot.scheduler import Scheduler
from bot.store import open_store, sqlite_path
from bot.sync import SyncLoop
from bot.transport import MatrixTransport
from bot.verification.channels import silence_nio_sas
from bot.verification.runtime import Verifications
from commands import build_registry
from commands.brief import plan as brief_plan
from commands.context import Context
from commands.directory.store import load_seed
from commands.markings import Policy
from config import Settings

if TYPE_CHECKING:  # PostgreSQL's driver (psycopg, ~10 MiB) is imported only to use it
    from bot.lease import Lease

log = logging.getLogger(__name__)

STORE_FILE = "attache.db"
# On PostgreSQL these data-dir files are kept in the database too (bot/datafiles.py).
SHARED_FILES = (CREDENTIALS_FILE, KEYS_FILE)


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    serve_http: bool = True

    def __post_init__(self) -> None:
        self._started = time.perf_counter()  # start-up is logged at the first sync
        self.metrics = Metrics()
        self.lock = DataDirLock(self.settings.data_dir)
        # SQLite by default (attache.db in data_dir), or PostgreSQL (ATTACHE_DATABASE_URL).
        self.store = open_store(self.settings.store_url)
        self.registry = build_registry(self.settings.command_prefix)
        self.trust: DeviceTrustPolicy | None = None
        # Several instances on one PostgreSQL: only the lease holder acts (bot/lease.py).
        self.lease: Lease | None = None
        if sqlite_path(self.settings.store_url) is None:
            from bot.lease import Lease
            from bot.store.postgres import PgStore

            assert isinstance(self.store, PgStore)
            self.lease = Lease(
                self.settings.store_url, self.settings.failover_seconds, on_lost=self._lease_lost
            )
            self.store.fence = self.lease.fence
        self.lease_lost = False
        self.health: Health | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._indexing: set[asyncio.Task[None]] = set()
        self.failed = False  # set when stopping because a part died (exit code 1)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.lock.acquire()
        client = None
        try:
            await self.store.open()
            if self.lease is not None:
                # A standby answers /healthz (role standby) and waits; it loads no crypto
                # state, so what it loads on takeover is what the active one last saved.
                self.health = Health(
                    self.store, self.metrics, self.clock, settings.health_max_sync_age
                )
                self.health.set_role("standby")
                if self.serve_http:
                    await self.health.start(settings.http_addr)
                if not await self.lease.acquire(self._stop):
                    return
                self.lease.start_renewing()
                self.health.set_role("active")
                await datafiles.restore(
                    self.store,
                    settings.data_dir,
                    SHARED_FILES,
                    settings.secret_for_keys,
                    settings.user_id,
                )
            if settings.directory_seed is not None:
                try:
                    async with self.store.write() as db:
                        seeded = await load_seed(
                            db,
                            settings.directory_seed,
                            self.clock.now(),
                            levels=list(settings.marking_levels),
                        )
                except (OSError, ValueError) as exc:
                    raise StartupError(f"directory_seed: {exc}") from None
                log.info("directory seed loaded: %s", seeded)
            async with self.store.write() as db:
                # Monday briefs: one pending per person whose brief is on, in their zone now
                # (the default, the seed or ATTACHE_TIMEZONE may have changed while down).
                briefs = Context(db, settings, self.registry, self.clock.now())
                if planned := await brief_plan.reconcile(briefs):
                    log.info("weekly briefs planned again: %d", planned)
            # After `attache-bot restore`: a fresh device, and the homeserver's ledger of
            # what was already done (bot/recovery.py).
            restored = await recovery.pending(self.store)
            fresh = restored is not None and recovery.needs_fresh_device(settings, restored)
            client = make_client(settings, self.lease.valid if self.lease is not None else None)
            await login(client, settings, fresh=fresh)
            replay.install(client)  # before the first sync decrypts anything
            log.info("device %s ready", client.device_id)

            trust = await build_policy(client, settings, self.store, self.metrics, self.clock)
            self.trust = trust
            if self.lease is not None:  # the same device and identity for the next active one
                await datafiles.publish(
                    self.store,
                    settings.data_dir,
                    SHARED_FILES,
                    settings.secret_for_keys,
                    settings.user_id,
                )
            if restored is not None:
                await recovery.recover(client, self.store, settings, restored, self.clock)
            transport = MatrixTransport(
                client,
                prepare_room=trust.prepare_room,
                may_send=self.lease.valid if self.lease is not None else None,
                ledger_key=ledger.key_for(settings),
            )
            self.outbox = Outbox(
                self.store,
                transport,
                self.clock,
                self.metrics,
                settings.send_max_retries,
                is_allowed=settings.is_allowed,
                admins=tuple(settings.admins),
                policy=Policy.from_settings(settings),
                default_language=settings.language,
                default_timezone=settings.timezone,
            )
            self.dispatcher = Dispatcher(
                settings, self.store, self.registry, self.clock, self.metrics, self._committed
            )
            self.scheduler = Scheduler(
                self.store, self.dispatcher, self.clock, self.metrics, on_fired=self.outbox.kick
            )
            if self.health is None:
                self.health = Health(
                    self.store, self.metrics, self.clock, settings.health_max_sync_age
                )
                if self.serve_http:
                    await self.health.start(settings.http_addr)
            self.health.cross_signed = trust.device_signed
            silence_nio_sas(client)
            self.verifications = Verifications(
                client,
                settings,
                self.store,
                self.clock,
                own_master_key=lambda: (
                    trust.own.master_key
                    if trust.own is not None and trust.own.device_signed
                    else None
                ),
                identities=trust.identities,
                send_in_room=transport.send,
                dm_room=lambda user_id: self.outbox.dms.dm_room(0, user_id),
                kick=self.outbox.kick,
            )
            self.dispatcher.verifier = self.verifications
            self.sync = SyncLoop(
                client,
                settings,
                self.store,
                self.dispatcher,
                self.metrics,
                self.clock,
                trust=trust,
                on_synced=self._first_sync_then_health,
                kick=self.outbox.kick,
                on_recovered=self.outbox.resume,
                on_left=RoomGC(client, transport.forget_room).room_left,
                answered=await recovery.answered_before_restore(self.store),
                on_members=self.outbox.recipients.forget,
                verifier=self.verifications,
                # A fresh device from a backup: its rooms are read anew, not from the store.
                full_state_first=restored is not None,
            )
            self.verifications.open()
            self._scheduler_started = False
            self._outbox_started = False
            # The outbox starts after the first sync (see _first_sync_then_health).
            sync_task = asyncio.create_task(self.sync.run(), name="sync")
            sync_task.add_done_callback(self._sync_ended)
            lag = LoopLag(self.metrics.loop_lag)
            self._tasks = [sync_task, asyncio.create_task(lag.run(), name="loop-lag")]
            await self._stop.wait()
            await self._shutdown()
        finally:
            if self.trust is not None:
                await self.trust.close()
            if client is not None:
                await client.close()
            if self.lease is not None:
                await self.lease.release()
            if self.health is not None and not hasattr(self, "sync"):
                await self.health.stop()  # a standby stopped before taking over
            await self.store.close()
            self.lock.release()

    def _lease_lost(self) -> None:
        """Another instance is active now: stop at once, sending and writing nothing more.

        Exit code 1, so a supervisor restarts this process, as a standby.
        """
        if self.lease_lost:
            return
        self.lease_lost = True
        self.failed = True
        self.request_stop()

    def _first_sync_then_health(self) -> None:
        assert self.health is not None  # built before the sync loop starts
        self.health.synced()
        if not self._outbox_started:
            log.info(
                "first sync done %.0f ms after start-up began (%d rooms)",
                (time.perf_counter() - self._started) * 1000,
                len(self.sync.client.rooms),
            )
            # Sending needs the room list that sync builds: started earlier, a reply queued
            # before a crash would be refused as "not in room" and marked failed, unsent.
            self._outbox_started = True
            self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        if not self._scheduler_started:
            # Jobs fire only once the client is synced, so late reminders can be delivered.
            self._scheduler_started = True
            self._tasks.append(asyncio.create_task(self.scheduler.start(), name="scheduler"))

    def _sync_ended(self, task: asyncio.Task[Any]) -> None:
        """The sync loop only ends on stop; if it died, stop so the supervisor restarts us."""
        if not task.cancelled() and task.exception() is not None and not self._stop.is_set():
            log.error("the sync loop died (%s); stopping", type(task.exception()).__name__)
            self.failed = True
            self.request_stop()

    def _committed(self, ctx: Context) -> None:
        if ctx.outbox:
            self.outbox.kick()
        if ctx.unscheduled:
            self.scheduler.drop(ctx.unscheduled)
        if ctx.scheduled:
            task = asyncio.create_task(self.scheduler.index(list(ctx.scheduled)))
            self._indexing.add(task)  # keep a reference until done, then let it go
            task.add_done_callback(self._indexing.discard)

    async def _shutdown(self) -> None:
        log.info("stopping: finishing in-flight commands")
        self.sync.stop()
        sync_task = next((t for t in self._tasks if t.get_name() == "sync"), None)
        if sync_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(sync_task), timeout=2)
            except TimeoutError:
                sync_task.cancel()
            except Exception:
                log.exception("the sync loop had failed")
        await self.dispatcher.drain(timeout=0 if self.lease_lost else 30)
        if not self.lease_lost:  # running verifications end here (their state is in memory)
            await self.verifications.close()
        self.scheduler.shutdown()
        if self.lease_lost:
            log.warning("stopping without sending: the instance now active sends the queue")
        elif self._outbox_started and not await self.outbox.drain(timeout=15):
            log.warning("stopping with messages still queued; they are sent at next start")
        await self.outbox.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.health is not None:
            await self.health.stop()
        log.info("stopped")


async def run_bot(settings: Settings) -> bool:
    """Run until SIGTERM/SIGINT; False if it stopped because a part of it died."""
    app = App(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, app.request_stop)
    await app.run()
    return not app.failed
