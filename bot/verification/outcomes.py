"""What follows a verification's turn (bot/verification/runtime.py): the emoji shown to the
verified admins (or to the operator's console), the person's identity signed and recorded
once an admin confirmed and their MAC checked out, and who is told how it ended.

Plain functions of the running verifications (`Host`, which `runtime.Verifications` is):
they read its state and change only what they say. Nothing about a verification (emoji,
numbers, keys, MACs) is logged; log lines name the `VF-n` and the person only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

import aiohttp
from nio import AsyncClient

from bot.clock import Clock
from bot.crypto.errors import CrossSigningError
from bot.store import Store
from bot.verification import telling
from bot.verification.machine import (
    TIMEOUT_SECONDS,
    USER,
    Action,
    Cancelled,
    ShowSas,
    Verification,
    Verified,
)
from bot.verification.signing import sign_master_key
from commands.context import utc_iso
from commands.verified import (
    BY_CONSOLE,
    HOW_CONSOLE,
    HOW_SAS,
    NotThePinnedKey,
    is_verified_admin,
    mark_verified,
)
from config import Settings

log = logging.getLogger(__name__)

# Who compares the emoji: the admins by default, the operator's console for `verify`.
ShowHook = Callable[[Verification, ShowSas], Awaitable[None]]


class Host(Protocol):
    """What these functions use of `runtime.Verifications`."""

    client: AsyncClient
    settings: Settings
    store: Store
    clock: Clock
    identities: Any  # bot.crypto.identities.Identities (evaluate, forget)
    kick: Callable[[], None]
    monotonic: Callable[[], float]
    on_show: ShowHook | None
    _asked: dict[int, set[str]]
    _by: dict[int, str]
    _confirmed_by: dict[int, str]
    _http: aiohttp.ClientSession | None

    async def _apply(self, v: Verification, actions: list[Action]) -> None: ...


async def show(vs: Host, v: Verification, show: ShowSas) -> None:
    if vs.on_show is not None:
        await vs.on_show(v, show)
        return
    admins = [a for a in vs.settings.admins if a != v.user_id]
    admins = [a for a in admins if await verified_admin(vs, a)]
    if not admins:
        log.warning(
            "%s: no verified admin to compare the emoji; cancelled", telling.label(v.number)
        )
        # Told once, with how to get out of it (not also "cancelled" by cancelled()).
        told = [vs._by.pop(v.number)] if v.number in vs._by else list(vs.settings.admins)
        await vs._apply(v, v.cancel(USER, "No verified admin can compare the emoji"))
        await tell(vs, told, lambda _a: telling.no_admin_text(v.number, v.user_id))
        return
    vs._asked[v.number] = set(admins)
    expires = vs.clock.now() + timedelta(
        seconds=max(0.0, TIMEOUT_SECONDS - (vs.monotonic() - v.created))
    )
    async with vs.store.write() as db:
        await telling.ask_admins(
            db,
            admins,
            vs.settings.language,
            vs.settings.command_prefix,
            v.number,
            v.user_id,
            show,
            expires,
            vs.clock.now(),
        )
    vs.kick()
    log.info("%s: the emoji went to %d verified admin(s)", telling.label(v.number), len(admins))


async def verified_admin(vs: Host, admin: str) -> bool:
    return await is_verified_admin(vs.store.reader, admin, vs.settings)


async def verified(vs: Host, v: Verification, done: Verified) -> None:
    by = vs._confirmed_by.get(v.number, BY_CONSOLE if vs.on_show else "")
    assert vs._http is not None and vs.client.access_token
    try:
        await sign_master_key(
            vs._http, vs.settings, vs.client.access_token, v.user_id, done.master_key
        )
        async with vs.store.write() as db:
            await mark_verified(
                db,
                v.user_id,
                done.master_key,
                by,
                how(vs),
                at=vs.clock.now(),
                settings=vs.settings,
            )
            await db.execute(
                "INSERT INTO audit (at, actor, action, object, detail) VALUES (?,?,?,?,?)",
                (
                    utc_iso(vs.clock.now()),
                    by,
                    "verify.done",
                    telling.label(v.number),
                    v.user_id,
                ),
            )
            person = await telling.who(db, v.user_id)
            await telling.tell(
                db,
                who_hears(vs, v),
                vs.settings.language,
                lambda _a: telling.verified_text(v.number, person, done.master_key, by),
                vs.clock.now(),
            )
    except (CrossSigningError, NotThePinnedKey, aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "%s: verified, but not signed or recorded (%s)",
            telling.label(v.number),
            type(exc).__name__,
        )
        await tell(vs, who_hears(vs, v), lambda _a: telling.failed_text(v.number, v.user_id))
        return
    finally:
        vs.identities.forget([v.user_id])
    vs.kick()
    log.info("%s: %s verified", telling.label(v.number), v.user_id)


def how(vs: Host) -> str:
    return HOW_CONSOLE if vs.on_show is not None else HOW_SAS


async def cancelled(vs: Host, v: Verification, cancel: Cancelled) -> None:
    log.info(
        "%s: cancelled (%s, %s)",
        telling.label(v.number),
        cancel.code,
        "by them" if cancel.by_them else "by the bot",
    )
    told = who_hears(vs, v)
    if not told:
        return
    await tell(
        vs,
        told,
        lambda _a: telling.cancelled_text(v.number, v.user_id, cancel.code, cancel.by_them),
    )


def who_hears(vs: Host, v: Verification) -> list[str]:
    """Who hears how it ended: the admins asked to compare, and whoever started it."""
    told = set(vs._asked.get(v.number, set()))
    if v.number in vs._by and vs._by[v.number] != BY_CONSOLE:
        told.add(vs._by[v.number])
    return sorted(told)


async def tell(vs: Host, users: Any, build: Callable[[str], str]) -> None:
    users = [u for u in users if u]
    if not users:
        return
    async with vs.store.write() as db:
        await telling.tell(db, users, vs.settings.language, build, vs.clock.now())
    vs.kick()
