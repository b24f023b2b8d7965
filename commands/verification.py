"""Admins' side of interactive verification: `!verify @person` asks the person's Element
for a verification; `!verify confirm VF-n` / `!verify reject VF-n` (or ✅ on the message
with the emoji) is the admin's verdict after comparing the emoji with the person by phone
or in person. The cryptography and the conversation with Element live in the runtime
(bot/verification/), reached through `ctx.verifier`."""

from __future__ import annotations

from commands.context import Context, Incoming
from commands.directory.service import parse_user_id
from commands.errors import UserError
from commands.i18n import N_, _
from commands.ids import number_of
from commands.registry import Param, command, listener
from commands.verified import is_verified_admin
from commands.verifier import KIND, Decision, Verifier

CONFIRM_KEYS = frozenset({"✅", "✔️", "☑️", "👍"})
parse_verification = number_of(KIND)
SEQUENCE_KEY = "verification_seq"


async def next_number(db: object) -> int:
    """The next `VF-n` (kept in the kv table, so numbers are not reused after a restart)."""
    cur = await db.execute(  # type: ignore[attr-defined]
        "INSERT INTO kv (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET "
        "value = CAST(CAST(kv.value AS INTEGER) + 1 AS TEXT) RETURNING value",
        (SEQUENCE_KEY,),
    )
    row = await cur.fetchone()
    await cur.close()
    return int(row[0])


def label(number: int) -> str:
    return f"{KIND}-{number}"


def _verifier(ctx: Context) -> Verifier:
    if ctx.verifier is None:
        raise UserError(_("Interactive verification is not available in this bot."))
    return ctx.verifier


async def _in_own_dm(ctx: Context) -> bool:
    async with ctx.db.execute(
        "SELECT room_id FROM dm_rooms WHERE user_id = ?", (ctx.sender,)
    ) as cur:
        row = await cur.fetchone()
    return row is not None and row[0] == ctx.room_id


@command(
    "verify",
    summary=N_("Ask a person's Element to verify the bot; an admin then compares the emoji"),
    example="!verify @alice:example.org",
    params=[Param("user", N_("the person to verify"), convert=parse_user_id)],
    roles=["admin"],
)
async def verify(ctx: Context, *, user: str) -> None:
    verifier = _verifier(ctx)
    if user == ctx.sender:
        again, console = ctx.prefix + "verify " + user, "attache-bot verify " + user
        raise UserError(
            _(
                "You cannot verify yourself: ask another verified admin to send {command} "
                "(or the operator to run {console} at the bot's console).",
                command=again,
                console=console,
            )
        )
    if not ctx.settings.is_allowed(user):
        raise UserError(
            _(
                "{user} may not use this bot, so there is nothing to verify. Ask the "
                "operator to add them to the allow-list (allowed_users) first.",
                user=user,
            )
        )
    running = verifier.pending_with(user)
    if running is not None:
        raise UserError(
            _(
                "A verification with {user} is already running ({id}); wait for it or "
                "reject it first: {command}",
                user=user,
                id=label(running),
                command=ctx.prefix + "verify reject " + label(running),
            )
        )
    number = await next_number(ctx.db)
    oid = f"{KIND}-{number}"
    verifier.request(number, user, ctx.sender)
    await ctx.audit("verify.request", oid, user)
    ctx.reply(
        _(
            "{id}: I asked {user}'s Element for a verification. Once they accept it, the "
            "emoji to compare come to the verified admins.",
            id=oid,
            user=user,
        )
    )


async def _decide(ctx: Context, number: int, *, confirm: bool) -> None:
    verifier = _verifier(ctx)
    oid = f"{KIND}-{number}"
    if not await _in_own_dm(ctx):
        raise UserError(
            _(
                "Answer {id} in your direct chat with me, not in a shared room: send {command} "
                "there.",
                id=oid,
                command=ctx.prefix + ("verify confirm " if confirm else "verify reject ") + oid,
            )
        )
    if not await is_verified_admin(ctx.db, ctx.sender, ctx.settings):
        raise UserError(
            _(
                "Only an admin whose own identity is verified can answer {id}. Ask the "
                "operator to verify you at the bot's console first.",
                id=oid,
            )
        )
    decision = await verifier.decide(number, ctx.sender, confirm=confirm)
    if decision is Decision.UNKNOWN:
        raise UserError(
            _(
                "{id} is not a verification waiting for an answer: it ended, or never began. "
                "To start a new one, send {command} and the person's Matrix ID.",
                id=oid,
                command=ctx.prefix + "verify",
            )
        )
    if decision is Decision.NOT_YET:
        raise UserError(_("{id} has no emoji to compare yet.", id=oid))
    if decision is Decision.NOT_ASKED:
        raise UserError(
            _(
                "Only a verified admin who was sent {id}, and who is not the person being "
                "verified, can answer it.",
                id=oid,
            )
        )
    await ctx.audit("verify.confirm" if confirm else "verify.reject", oid)
    if confirm:
        ctx.reply(_("{id} confirmed: finishing the verification.", id=oid))
    else:
        ctx.reply(_("{id} rejected: the verification is cancelled, nothing was signed.", id=oid))


@command(
    "verify confirm",
    summary=N_("Confirm that the person sees the same emoji as you were sent"),
    example="!verify confirm VF-3",
    params=[Param("id", N_("the verification, as in my message"), convert=parse_verification)],
    roles=["admin"],
)
async def verify_confirm(ctx: Context, *, id: int) -> None:
    await _decide(ctx, id, confirm=True)


@command(
    "verify reject",
    summary=N_("Reject a verification whose emoji differ (or that nobody expected)"),
    example="!verify reject VF-3",
    params=[Param("id", N_("the verification, as in my message"), convert=parse_verification)],
    roles=["admin"],
)
async def verify_reject(ctx: Context, *, id: int) -> None:
    await _decide(ctx, id, confirm=False)


async def number_of_message(ctx: Context, event_id: str) -> int | None:
    """The verification whose emoji message (to this admin) is this event, if any."""
    async with ctx.db.execute(
        "SELECT key FROM outbox WHERE event_id = ? AND user_id = ? AND key LIKE 'verification:%'",
        (event_id, ctx.sender),
    ) as cur:
        row = await cur.fetchone()
    return int(str(row[0]).split(":")[1]) if row else None


def message_key(number: int, admin: str) -> str:
    """The outbox key of the emoji message to one admin (for the ✅ on it)."""
    return f"verification:{number}:{admin}"


@listener("reaction")
async def on_reaction(ctx: Context, incoming: Incoming) -> bool:
    """✅ on the emoji message, in the admin's DM, is `!verify confirm`."""
    if incoming.reaction_key not in CONFIRM_KEYS or incoming.reaction_target is None:
        return False
    if ctx.verifier is None or ctx.person is None or not ctx.is_admin:
        return False
    number = await number_of_message(ctx, incoming.reaction_target)
    if number is None or not await _in_own_dm(ctx):
        return False
    if not await is_verified_admin(ctx.db, ctx.sender, ctx.settings):
        return False
    oid = f"{KIND}-{number}"
    decision = await ctx.verifier.decide(number, ctx.sender, confirm=True)
    if decision is not Decision.DONE:
        return False
    await ctx.audit("verify.confirm", oid, "by reaction")
    ctx.send(
        _("{id} confirmed by your ✅: finishing the verification.", id=oid), room_id=ctx.room_id
    )
    return True
