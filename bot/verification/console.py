"""`attache-bot verify @admin:example.org`: the operator verifies the first admins at the
console. The bot's service must be stopped (one process per device and E2EE store, held
by the data directory's lock): this command runs the bot's own device for the few minutes
a verification takes, asks every signed device of the admin by to-device message (Element
shows the request), prints the emoji in the terminal for the operator to compare with the
admin's screen in person, and reads y/n. On `y` and a matching MAC it signs the admin's
master key and records it `verified` by `console`; then the service can start again.

On PostgreSQL the device is shared by every host's instance (crypto store and data files
in the database), so the data directory's lock is not enough: the console takes the
instances' lease, and refuses while any host's instance holds it; its writes are fenced by
that lease like an instance's (bot/lease.py).

Why not talk to the running bot: it has no control channel, and adding one (a socket with
its own authentication) is more attack surface than a short stop of a service that is
being set up anyway. Room keys that arrive for the bot meanwhile are stored by nio as usual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nio import SyncResponse

from bot import datafiles
from bot.app import SHARED_FILES
from bot.client import StartupError, login, make_client
from bot.clock import SystemClock
from bot.crypto.policy import build_policy
from bot.crypto.trust import evaluate_user
from bot.lock import AlreadyRunning, DataDirLock
from bot.metrics import Metrics
from bot.store import open_store
from bot.verification.channels import silence_nio_sas
from bot.verification.emoji import EMOJI
from bot.verification.machine import TIMEOUT_SECONDS, ShowSas, State, Verification
from bot.verification.runtime import Verifications
from commands.verified import verification_of
from config import Settings

if TYPE_CHECKING:
    from bot.lease import Lease

log = logging.getLogger(__name__)

# Only to-device events: the console does not read or answer any room.
CONSOLE_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"rooms": []},
}


async def _no_room(*_args: Any, **_kw: Any) -> str:
    raise RuntimeError("the console verifies by to-device messages only")


async def verify_at_console(
    settings: Settings,
    user_id: str,
    *,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> int:
    """Exit 0 once `user_id` is verified; 1 when refused, rejected, cancelled or timed out."""
    if user_id not in settings.admins:
        say(f"attache-bot: {user_id} is not an admin (ATTACHE_ADMINS); verify admins here.")
        return 1
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        say(f"attache-bot: {exc}. Stop the bot's service first: the console uses its device.")
        return 1
    store = open_store(settings.store_url)
    client: Any = None
    lease: Lease | None = None
    trust = None
    verifications = None
    try:
        await store.open()
        if settings.on_postgresql:
            lease = await _take_the_lease(settings, store)
            if lease is None:
                say(
                    "attache-bot: an instance of the bot is active on this database (it holds "
                    "the lease). Stop the bot's service on every host first: the console uses "
                    "its device."
                )
                return 1
        client = make_client(settings, lease.valid if lease is not None else None)
        await login(client, settings)
        if lease is not None:  # a first login here is the device every instance then uses
            await datafiles.publish(
                store, settings.data_dir, SHARED_FILES, settings.secret_for_keys, settings.user_id
            )
        silence_nio_sas(client)
        trust = await build_policy(client, settings, store, Metrics(), SystemClock())
        if trust.own is None or not trust.own.device_signed:
            say(
                "attache-bot: the bot's cross-signing is not in order; run "
                "`attache-bot bootstrap-cross-signing` first."
            )
            return 1
        master = trust.own.master_key
        verifications = Verifications(
            client,
            settings,
            store,
            SystemClock(),
            own_master_key=lambda: master,
            identities=trust.identities,
            send_in_room=_no_room,
            dm_room=_no_room,
        )

        async def show(v: Verification, sas: ShowSas) -> None:
            say(_screen(user_id, sas))
            reply = await asyncio.to_thread(
                ask, f"Does {user_id}'s screen show exactly these? [y/N] "
            )
            yes = reply.strip().lower() in ("y", "yes")
            await verifications.answer_shown(v, confirm=yes)

        verifications.on_show = show
        verifications.open()
        cached = await trust.identities.evaluate(user_id, max_age=0)
        verdict = evaluate_user(user_id, cached.query, None)
        devices = sorted(verdict.trusted_devices)
        if not devices:
            say(
                f"attache-bot: {user_id} has no device signed by their identity; they should "
                "log in to Element and set up cross-signing (Settings > Security) first."
            )
            return 1
        number = await verifications.request_to_device(user_id, devices, "console")
        say(
            f"VF-{number}: asked {user_id}'s Element ({len(devices)} device(s)) for a "
            "verification. Accept it there; the emoji follow here."
        )
        outcome = await _sync_until_over(client, verifications, number)
        async with store.write() as db:
            verified = await verification_of(db, user_id, settings)
        if outcome is State.VERIFIED and verified is not None:
            say(
                f"{user_id} is verified; their master key is signed by the bot. "
                "Start the bot's service again."
            )
            return 0
        say(
            f"{user_id} is not verified ({outcome.value if outcome else 'timed out'}); "
            "nothing was signed."
        )
        return 1
    except (StartupError, OSError) as exc:
        say(f"attache-bot: {exc}")
        return 1
    finally:
        if verifications is not None:
            await verifications.close()
        if trust is not None:
            await trust.close()
        if client is not None:
            await client.close()  # never logout(): that would delete the bot's device
        if lease is not None:
            await lease.release()
        await store.close()
        lock.release()


async def _take_the_lease(settings: Settings, store: Any) -> Lease | None:
    """The instances' lease if no instance holds it (None otherwise), renewed while the
    console runs, with the shared data files restored from the database."""
    from bot.lease import Lease  # PostgreSQL's driver, only on PostgreSQL

    lease = Lease(settings.store_url, settings.failover_seconds)
    try:
        taken = await lease.try_acquire()
    except Exception as exc:  # the driver's errors; none of them is the operator's to read
        await lease.release()
        reason = type(exc).__name__
        raise StartupError(f"cannot take the lease on the database ({reason})") from None
    if not taken:
        await lease.release()
        return None
    store.fence = lease.fence
    lease.start_renewing()
    await datafiles.restore(
        store, settings.data_dir, SHARED_FILES, settings.secret_for_keys, settings.user_id
    )
    return lease


async def _sync_until_over(client: Any, verifications: Verifications, number: int) -> State | None:
    """Sync (to-device events only) until verification `number` is over; its last state."""
    token: str | None = None
    last: Verification | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_SECONDS + 30
    while loop.time() < deadline:
        running = next((v for v in verifications.running.values() if v.number == number), None)
        if running is not None:
            last = running
        elif last is not None:
            return last.state
        await client.send_to_device_messages()
        resp = await client.sync(timeout=2000, sync_filter=CONSOLE_FILTER, since=token)
        if not isinstance(resp, SyncResponse):
            await asyncio.sleep(1)
            continue
        token = resp.next_batch
        for event in resp.to_device_events:
            source = getattr(event, "source", None)
            if isinstance(source, dict):
                await verifications.on_to_device(source)
    return None


def _screen(user_id: str, sas: ShowSas) -> str:
    """The emoji (with the English names Element shows) and numbers, for the terminal."""
    rows = [f"  {EMOJI[i][0]}  {EMOJI[i][1]}" for i in sas.emoji]
    numbers = " ".join(str(d) for d in sas.decimals)
    return (
        f"Compare with {user_id}'s screen, in person:\n"
        + "\n".join(rows)
        + f"\nor the numbers: {numbers}"
    )
