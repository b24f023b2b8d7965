"""What admins read about a verification, in each admin's language, through the outbox
(their DMs with the bot; never the person's room). Only these messages carry the emoji
and numbers; nothing of them is logged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import aiosqlite

from bot.outbox.notices import tell_each
from bot.outbox.queue import enqueue
from bot.verification.emoji import emoji_line
from bot.verification.machine import ShowSas
from commands.context import OutMessage, utc_iso
from commands.fingerprints import fingerprint
from commands.i18n import _, language
from commands.people import display_names
from commands.readers import languages_of
from commands.verification import message_key
from commands.verifier import KIND


def label(number: int) -> str:
    return f"{KIND}-{number}"


async def who(db: aiosqlite.Connection, user_id: str) -> str:
    """`Bernd Krüger (@bernd:bund.de)`, or the bare ID when no name is known."""
    name = (await display_names(db, {user_id})).get(user_id)
    return f"{name} ({user_id})" if name else user_id


def decimals_line(decimals: tuple[int, int, int]) -> str:
    return " ".join(str(d) for d in decimals)


async def ask_admins(
    db: aiosqlite.Connection,
    admins: Iterable[str],
    default_language: str,
    prefix: str,
    number: int,
    user_id: str,
    show: ShowSas,
    expires: datetime,
    now: datetime,
) -> None:
    """The emoji and numbers to each admin, one message each (its ✅ is a confirm)."""
    people = list(dict.fromkeys(admins))
    langs = await languages_of(db, people, default_language)
    person = await who(db, user_id)
    oid = label(number)
    out = []
    confirm, reject = f"{prefix}verify confirm {oid}", f"{prefix}verify reject {oid}"
    for admin in people:
        with language(langs[admin]):
            body = _(
                "{id}: compare with {person} by phone or in person.\n"
                "Their Element shows these emoji:\n{emoji}\n"
                "or these numbers: {numbers}\n"
                "If they see exactly these, answer `{confirm}` (or ✅ on this message); if "
                "not, `{reject}`. Unanswered, it is cancelled at {time} UTC.",
                id=oid,
                person=person,
                emoji=emoji_line(show.emoji),
                numbers=decimals_line(show.decimals),
                confirm=confirm,
                reject=reject,
                time=expires.strftime("%H:%M"),
            )
        out.append(OutMessage(body=body, user_id=admin, key=message_key(number, admin)))
    await enqueue(db, out, utc_iso(now))


async def tell(
    db: aiosqlite.Connection,
    users: Iterable[str],
    default_language: str,
    build: Callable[[str], str],
    now: datetime,
) -> None:
    await tell_each(db, users, default_language, build, utc_iso(now))


def verified_text(number: int, person: str, key: str, admin: str) -> str:
    return _(
        "{id}: {person} is verified (master key {key}), confirmed by {admin}. I signed "
        "their identity; their Element now shows me as verified too.",
        id=label(number),
        person=person,
        key=fingerprint(key),
        admin=admin,
    )


def cancelled_text(number: int, person: str, code: str, by_them: bool) -> str:
    if by_them:
        return _(
            "{id}: {person} (or their Element) cancelled the verification ({code}). Nothing "
            "was signed.",
            id=label(number),
            person=person,
            code=code,
        )
    if code == "m.timeout":
        return _(
            "{id}: the verification with {person} timed out. Nothing was signed.",
            id=label(number),
            person=person,
        )
    if code == "m.mismatched_sas":
        return _(
            "{id}: the verification with {person} was rejected. Nothing was signed; both "
            "sides see it cancelled.",
            id=label(number),
            person=person,
        )
    return _(
        "{id}: the verification with {person} was cancelled ({code}). Nothing was signed.",
        id=label(number),
        person=person,
        code=code,
    )


def failed_text(number: int, person: str) -> str:
    return _(
        "{id}: the emoji matched, but I could not record or sign {person}'s identity "
        "(see the bot's log). Nothing was recorded as verified; try again later.",
        id=label(number),
        person=person,
    )


def no_admin_text(number: int, person: str) -> str:
    return _(
        "{id}: {person} asked to verify, but no admin whose own identity is verified can "
        "compare the emoji. I cancelled it. An operator verifies the first admins at the "
        "bot's console: `attache-bot verify @admin:example.org`.",
        id=label(number),
        person=person,
    )


def second_request_text(number: int, person: str) -> str:
    return _(
        "{id}: {person} started another verification while this one was still running; I "
        "refused the new one. Answer or reject {id} first.",
        id=label(number),
        person=person,
    )
