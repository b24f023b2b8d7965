"""Admin commands for pinned identities: see who is pinned, approve a changed identity."""

from __future__ import annotations

from typing import Any

from commands.context import Context, utc_iso
from commands.directory import parse_user_id
from commands.errors import UserError
from commands.registry import Param, command
from commands.render import table


@command(
    "trust approve",
    summary="Accept a person's new cross-signing identity after checking it with them",
    example="!trust approve @alice:example.org",
    params=[Param("user", "the person whose identity changed", convert=parse_user_id)],
    roles=["admin"],
)
async def trust_approve(ctx: Context, args: dict[str, Any]) -> None:
    user = args["user"]
    if user in ctx.settings.trusted_identities:
        raise UserError(
            f"{user}'s identity is pinned by the operator (trusted_identities in the bot's "
            "configuration); it can only be changed there, followed by a restart."
        )
    cur = await ctx.db.execute(
        "UPDATE identities SET master_key = pending_key, pending_key = NULL, "
        "pending_since = NULL, pinned_at = ?, pinned_by = ? "
        "WHERE user_id = ? AND pending_key IS NOT NULL RETURNING master_key",
        (utc_iso(ctx.now), ctx.sender, user),
    )
    row = await cur.fetchone()
    await cur.close()
    if row is None:
        raise UserError(
            f"{user} has no changed identity waiting for approval.",
            example="!trust list",
        )
    await ctx.audit("trust.approve", user, f"master key {row[0][:8]}…")
    ctx.reply(f"Approved the new identity of {user} (master key {row[0][:8]}…).")


@command(
    "trust list",
    summary="Pinned identities, with changed ones waiting for approval first",
    example="!trust list",
    roles=["admin"],
)
async def trust_list(ctx: Context, args: dict[str, Any]) -> None:
    async with ctx.db.execute(
        "SELECT user_id, master_key, pinned_by, pending_key FROM identities "
        "ORDER BY pending_key IS NULL, user_id"
    ) as cur:
        rows = await cur.fetchall()
    if not rows:
        ctx.reply("No identity is pinned yet.")
        return
    ctx.reply(
        table(
            "Pinned identities",
            ["person", "master key", "pinned by", "state"],
            [
                (
                    r["user_id"],
                    r["master_key"][:8] + "…",
                    r["pinned_by"],
                    f"CHANGED to {r['pending_key'][:8]}…: approve?" if r["pending_key"] else "ok",
                )
                for r in rows
            ],
        )
    )
