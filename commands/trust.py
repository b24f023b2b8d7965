"""Admin commands for pinned identities: see who is pinned, approve a changed identity."""

from __future__ import annotations

from commands.context import Context, utc_iso
from commands.directory.service import parse_user_id
from commands.errors import UserError
from commands.fingerprints import EXAMPLE_KEY, fingerprint, parse_master_key
from commands.i18n import N_, _, pgettext
from commands.registry import Param, command
from commands.render import table
from commands.verified import level_shown, verifications_of


@command(
    "trust approve",
    summary=N_("Accept a person's new cross-signing identity after checking its key with them"),
    example=f"!trust approve @alice:example.org {EXAMPLE_KEY}",
    params=[
        Param("user", N_("the person whose identity changed"), convert=parse_user_id),
        Param(
            "key",
            N_("their new master key, all of it (groups of four as in the notice)"),
            convert=parse_master_key,
            rest=True,
        ),
    ],
    roles=["admin"],
)
async def trust_approve(ctx: Context, *, user: str, key: str) -> None:
    """Approve one named key, never 'whatever is pending': a forged key shown for a moment,
    or an old approval replayed, cannot slip in under the admin's decision."""
    example = f"{ctx.prefix}trust approve {user} {EXAMPLE_KEY}"
    if user in ctx.settings.trusted_identities:
        raise UserError(
            _(
                "{user}'s identity is pinned by the operator (trusted_identities in the bot's "
                "configuration); it can only be changed there, followed by a restart.",
                user=user,
            )
        )
    if ctx.settings.trust_mode == "strict":
        raise UserError(
            _(
                "This bot runs in strict trust mode: only identities in trusted_identities (the "
                "bot's configuration) count, so an approval here would change nothing. Ask an "
                "operator to set the new key there and restart."
            )
        )
    async with ctx.db.execute(
        "SELECT pending_key FROM identities WHERE user_id = ?", (user,)
    ) as cur:
        row = await cur.fetchone()
    pending = row["pending_key"] if row else None
    if pending is None:
        raise UserError(
            _(
                "{user} has no changed identity waiting for approval (if it changed back, "
                "the waiting key was dropped).",
                user=user,
            ),
            example=f"{ctx.prefix}trust list",
        )
    if key != pending:
        raise UserError(
            _(
                "The key you gave is not the one waiting for {user}. Nothing was approved. "
                "Compare the key in the security notice (or {command}) with them "
                "again over a channel you trust, then give it in full.",
                user=user,
                command=ctx.prefix + "trust list",
            ),
            example=example,
        )
    was_verified = bool(
        await ctx.db.execute_fetchall(
            "SELECT 1 FROM identities WHERE user_id = ? AND verified_key = master_key", (user,)
        )
    )
    # The verification was of the old key: an approval is not one (nobody compared the
    # emoji with the new key's holder), so it is dropped, not carried over.
    await ctx.db.execute(
        "UPDATE identities SET master_key = pending_key, pending_key = NULL, "
        "pending_since = NULL, pinned_at = ?, pinned_by = ?, verified_key = NULL, "
        "verified_by = NULL, verified_at = NULL, verified_how = NULL WHERE user_id = ?",
        (utc_iso(ctx.now), ctx.sender, user),
    )
    await ctx.audit("trust.approve", user, f"master key {key}")
    approved = _(
        "Approved the new identity of {user} (master key {key}).",
        user=user,
        key=fingerprint(key),
    )
    if was_verified:
        approved += " " + _(
            "They were verified with their old key; the new one is not verified until they "
            "are verified again ({command}).",
            command=ctx.prefix + "verify " + user,
        )
    ctx.reply(approved)


@command(
    "trust list",
    summary=N_("Pinned identities, with changed ones waiting for approval first"),
    example="!trust list",
    roles=["admin"],
)
async def trust_list(ctx: Context) -> None:
    async with ctx.db.execute(
        "SELECT user_id, master_key, pinned_by, pending_key FROM identities "
        "ORDER BY pending_key IS NULL, user_id"
    ) as cur:
        rows = await cur.fetchall()
    if not rows:
        ctx.reply(_("No identity is pinned yet."))
        return
    strict = ctx.settings.trust_mode == "strict"
    verified = await verifications_of(ctx.db, [r["user_id"] for r in rows], ctx.settings)
    zone = ctx.person.timezone if ctx.person else ctx.settings.timezone
    ctx.reply(
        table(
            _(
                "Pinned identities (strict mode: only trusted_identities in the configuration "
                "count; other rows here are ignored)"
            )
            if strict
            else _("Pinned identities"),
            [
                pgettext("field", "person"),
                pgettext("field", "master key"),
                pgettext("field", "pinned by"),
                pgettext("field", "state"),
                pgettext("field", "level"),
            ],
            [
                (
                    r["user_id"],
                    fingerprint(r["master_key"]),
                    r["pinned_by"],
                    _("CHANGED to {key}: approve?", key=fingerprint(r["pending_key"]))
                    if r["pending_key"]
                    else pgettext("identity state", "ok"),
                    level_shown(
                        verified.get(r["user_id"]),
                        zone,
                        configured=r["user_id"] in ctx.settings.trusted_identities,
                    ),
                )
                for r in rows
            ],
        )
    )
