"""Verified identities (issue 28): a person's pinned master key confirmed beyond first sight.

Two trust levels: `tofu`, a key pinned on first sight (or approved by an admin, or set by
the operator) that nobody has checked with its owner; and `verified`, a key whose owner
proved holding it in an interactive verification an admin confirmed out of band (or the
operator, at the console). A verification belongs to the key it names: it counts only
while that key is the pinned one and no changed key is waiting, so a changed identity
loses it, an approved new key does not inherit it, and it holds again if the server
shows the verified key again. The pin is the one bot/crypto/identities.py judges by: the
configuration's (trusted_identities) first, else the store's; in strict mode only the
configuration's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from commands.context import parse_utc, utc_iso
from commands.i18n import N_, _
from commands.time.showing import show_instant
from commands.trust_levels import Pins
from config import Settings

# How a verification was made, as stored in identities.verified_how, with what people read.
HOW_SAS = "sas"  # interactive verification (emoji), confirmed by an admin out of band
HOW_CONSOLE = "console"  # the operator compared the emoji at the bot's console
BY_CONSOLE = "console"  # `by` when the operator confirmed at the console (no Matrix ID)
HOWS: Mapping[str, str] = {
    HOW_SAS: N_("interactive verification confirmed by an admin"),
    HOW_CONSOLE: N_("verification at the operator's console"),
}


@dataclass(frozen=True)
class Verified:
    """Who confirmed which master key, when and how."""

    master_key: str
    by: str
    at: datetime
    how: str


class NotThePinnedKey(ValueError):
    """The key verified is neither the pinned one nor the changed one waiting: nothing was
    recorded (refresh the identity first, so a changed key is waiting, and verify again)."""


_COLUMNS = "user_id, master_key, pending_key, verified_key, verified_by, verified_at, verified_how"


def _verified(settings: Settings, user_id: str, row: sqlite3.Row | None) -> Verified | None:
    if row is None or not Pins.from_settings(settings).holds(
        user_id, stored=row["master_key"], pending=row["pending_key"], verified=row["verified_key"]
    ):
        return None
    return Verified(
        row["verified_key"], row["verified_by"], parse_utc(row["verified_at"]), row["verified_how"]
    )


async def verification_of(
    db: aiosqlite.Connection, user_id: str, settings: Settings
) -> Verified | None:
    """This person's verification, or None: their level is `tofu` (or nothing pinned)."""
    rows = await db.execute_fetchall(
        f"SELECT {_COLUMNS} FROM identities WHERE user_id = ?", (user_id,)
    )
    return _verified(settings, user_id, next(iter(rows), None))


async def verifications_of(
    db: aiosqlite.Connection, user_ids: Iterable[str], settings: Settings
) -> dict[str, Verified]:
    """The verified among these people (a room's or a listing's), in one query per 500."""
    wanted = list(dict.fromkeys(user_ids))
    found: dict[str, Verified] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = await db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM identities WHERE user_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for row in rows:
            verified = _verified(settings, row["user_id"], row)
            if verified is not None:
                found[row["user_id"]] = verified
    return found


async def is_verified_admin(db: aiosqlite.Connection, user_id: str, settings: Settings) -> bool:
    """An admin (the configuration's) whose own identity is verified: the only people who
    may confirm someone else's verification."""
    return user_id in settings.admins and await verification_of(db, user_id, settings) is not None


async def admins_in_force(db: aiosqlite.Connection, settings: Settings) -> list[str]:
    """The configured admins whose admin role counts: all of them, or under
    `verified_for_roles: [admin]` the verified ones only (what goes to admins as admins,
    e.g. an escalation's subject, goes to these)."""
    admins = sorted(set(settings.admins))
    if "admin" not in settings.verified_for_roles:
        return admins
    verified = await verifications_of(db, admins, settings)
    return [a for a in admins if a in verified]


async def mark_verified(
    db: aiosqlite.Connection,
    user_id: str,
    master_key: str,
    by: str,
    how: str,
    *,
    at: datetime,
    settings: Settings,
) -> None:
    """Record that `by` (an admin's Matrix ID, or BY_CONSOLE) verified `master_key` as
    `user_id`'s, `how` (HOW_SAS, HOW_CONSOLE), and audit it (`trust.verify`). Run inside a
    write transaction.

    The key must be the pinned one, or the changed one waiting (then verifying it approves
    it, as `!trust approve` would), or, with nothing pinned yet in tofu mode, any key (it is
    pinned, verified). A configured pin (trusted_identities) is only ever verified, never
    replaced. Otherwise NotThePinnedKey, and nothing changes.
    """
    rows = await db.execute_fetchall(
        f"SELECT {_COLUMNS} FROM identities WHERE user_id = ?", (user_id,)
    )
    row = next(iter(rows), None)
    pin = Pins.from_settings(settings).pin(user_id, row["master_key"] if row else None)
    configured = user_id in settings.trusted_identities
    pending = row["pending_key"] if row is not None else None
    when = utc_iso(at)
    pinned_by = "operator" if configured else by
    if master_key == pin or (pin is None and not configured and settings.trust_mode == "tofu"):
        # The pinned key (or a first pin): only the verification columns change, except
        # that a configured pin is written to the store's row so the two agree.
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, verified_key, "
            "verified_by, verified_at, verified_how) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET master_key = excluded.master_key, "
            "pending_key = CASE WHEN identities.master_key = excluded.master_key "
            "THEN identities.pending_key END, "
            "pending_since = CASE WHEN identities.master_key = excluded.master_key "
            "THEN identities.pending_since END, "
            "verified_key = excluded.verified_key, verified_by = excluded.verified_by, "
            "verified_at = excluded.verified_at, verified_how = excluded.verified_how",
            (user_id, master_key, when, pinned_by, master_key, by, when, how),
        )
    elif pending is not None and master_key == pending and not configured and pin is not None:
        await db.execute(
            "UPDATE identities SET master_key = pending_key, pending_key = NULL, "
            "pending_since = NULL, pinned_at = ?, pinned_by = ?, verified_key = ?, "
            "verified_by = ?, verified_at = ?, verified_how = ? WHERE user_id = ?",
            (when, by, master_key, by, when, how, user_id),
        )
    else:
        raise NotThePinnedKey(f"{master_key} is not the key pinned or waiting for {user_id}")
    await db.execute(
        "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)",
        (when, by, "trust.verify", user_id, f"master key {master_key} ({how})"),
    )


# -- what people read: !whois, !trust list ------------------------------------------------


def verifier_shown(by: str) -> str:
    """Who confirmed a verification: an admin's Matrix ID, or the operator at the console."""
    return _("the operator, at the console") if by == BY_CONSOLE else by


def level_shown(verified: Verified | None, zone: str, *, configured: bool = False) -> str:
    """A pinned identity's trust level, in the reader's language and zone (`configured`: the
    pin is the operator's, trusted_identities, not first sight)."""
    if verified is None and configured:
        return _("pinned by the operator (trusted_identities), not verified")
    if verified is None:
        return _("tofu: pinned on first sight or approved, not verified")
    return _(
        "verified by {by}, {when} ({how})",
        by=verifier_shown(verified.by),
        when=show_instant(verified.at, zone),
        how=_(HOWS[verified.how]) if verified.how in HOWS else verified.how,
    )


async def identity_shown(
    db: aiosqlite.Connection,
    user_id: str,
    settings: Settings,
    zone: str,
    *,
    mine: bool,
    prefix: str,
) -> str:
    """The identity line of !whois: nothing pinned, a change waiting, tofu or verified; to
    the person themself (`mine`), how to get verified when they are not."""
    rows = await db.execute_fetchall(
        f"SELECT {_COLUMNS} FROM identities WHERE user_id = ?", (user_id,)
    )
    row = next(iter(rows), None)
    pin = Pins.from_settings(settings).pin(user_id, row["master_key"] if row else None)
    if pin is None:
        return _("no cross-signing identity pinned yet")
    if row is not None and row["pending_key"] is not None and row["master_key"] == pin:
        return _("changed, waiting for an admin's approval; not verified")
    verified = _verified(settings, user_id, row)
    text = level_shown(verified, zone, configured=user_id in settings.trusted_identities)
    if verified is None and mine:
        text = _(
            "{level}. To get verified, ask an admin to send {command} and compare the emoji "
            "with you in person or by phone, or open my profile in Element and choose Verify.",
            level=text,
            command=prefix + "verify " + user_id,
        )
    return text
