"""Runs one event's handler inside the dispatcher's transaction.

Limits first (length, then the person's rate budget), roles before any usage error, the
registry's parse, and a savepoint: a refused command changes nothing and is answered with
an example that works now; an internal error is answered with a reference. An edit runs
its new text only if nothing of its chain took effect yet.
"""

from __future__ import annotations

import logging

from bot import edits
from bot.limits import length_refusal
from bot.ratelimit import RateLimiter, over_limit_text
from commands.ambiguity import question
from commands.context import Context, Incoming
from commands.directory.examples import examples_for
from commands.errors import UserError
from commands.i18n import _
from commands.lookup import Registry
from commands.registry import roles_refusal
from config import Settings

log = logging.getLogger(__name__)


class Invoker:
    def __init__(self, settings: Settings, registry: Registry, limiter: RateLimiter) -> None:
        self.settings = settings
        self.registry = registry
        self.limiter = limiter

    def within_rate(self, ctx: Context, incoming: Incoming) -> bool:
        """One token of the person's budget (bot/ratelimit.py); over it, they are told once.

        Every event that reaches the dispatcher pays: commands, edits, replies, thread
        replies, reactions."""
        if self.limiter.allow(incoming.sender):
            return True
        if self.limiter.first_refusal(incoming.sender):
            # A reaction is not a message to answer: answer the message it was put on; an
            # edit's answer goes to the message the person sees (the one edited).
            target = incoming.reaction_target if incoming.reaction_key else incoming.replaces
            ctx.reply(over_limit_text(self.settings), **({"reply_to": target} if target else {}))
        return False

    async def run_edit(
        self, ctx: Context, incoming: Incoming
    ) -> tuple[str | None, str, str, str | None]:
        """An edit: run its new text only if nothing of its chain took effect yet.

        Returns (command, outcome, the chain's original, its thread). Answers go to the
        original (what the person sees in Element), in its thread.
        """
        assert incoming.replaces is not None
        chain = await edits.load_chain(ctx.db, incoming.replaces)
        root = chain.root if chain else incoming.replaces
        thread = chain.thread_root if chain else None
        if chain is not None and chain.sender != incoming.sender:
            return None, "edit_ignored", root, thread  # Element ignores such edits too
        applied = [e for e, _cmd in chain.applied] if chain else []
        if applied and not await edits.changed_anything(ctx.db, applied):
            applied = []  # a read-only command (!agenda 7 → 14): answer the new text
        if chain is not None and applied:
            made = await edits.objects_made_by(ctx.db, applied)
            ctx.reply(edits.not_applied_text(self.registry, chain, made, incoming.body))
            name, outcome = chain.applied[-1][1], "edit_not_applied"
        elif self.registry.is_command(incoming.body):
            name, outcome = await self.run(ctx, incoming)
        else:
            return None, "ignored", root, thread
        for msg in ctx.outbox:
            if msg.reply_to == incoming.event_id:
                msg.reply_to = root
                if msg.room_id == incoming.room_id and msg.thread_root is None:
                    msg.thread_root = thread
        return name, outcome, root, thread

    async def run(self, ctx: Context, incoming: Incoming) -> tuple[str | None, str]:
        is_command = (
            incoming.reaction_key is None
            and incoming.redacts is None
            and self.registry.is_command(incoming.body)
        )
        name: str | None = None
        # One check for every event that can change state (commands, thread replies,
        # replies, reactions): the same length and rate limits, before any parsing.
        refusal = length_refusal(incoming, self.settings, self.registry, ctx.now)
        if refusal is not None:
            ctx.reply(await examples_for(ctx, refusal))
            return None, "too_long"
        await ctx.db.execute("SAVEPOINT handler")
        try:
            if is_command:
                named = self.registry.named(incoming.body)
                if named is not None and named.roles is not None:
                    if not (ctx.person and ctx.person.has_role(*named.roles)):
                        name = named.name  # refused for the role before any usage error
                        raise UserError(
                            roles_refusal(
                                f"{ctx.prefix}{name}", named.roles, ctx.person, ctx.prefix
                            )
                        )
                invocation = self.registry.parse(incoming.body, ctx.now)
                name = invocation.spec.name
                roles = invocation.spec.roles
                if roles is not None and not (ctx.person and ctx.person.has_role(*roles)):
                    raise UserError(
                        roles_refusal(f"{ctx.prefix}{name}", roles, ctx.person, ctx.prefix)
                    )
                await invocation.spec.call(ctx, invocation.args)
            else:
                kind = (
                    "reaction"
                    if incoming.reaction_key is not None
                    else "redaction"
                    if incoming.redacts is not None
                    else "thread_reply"
                    if incoming.thread_root
                    else "reply"
                )
                name = f"<{kind}>"
                handled = False
                for listener in self.registry.listeners.get(kind, []):
                    if await listener(ctx, incoming):
                        handled = True
                        break
                if not handled:
                    await ctx.db.execute("RELEASE handler")
                    return name, "ignored"
            await ctx.db.execute("RELEASE handler")
            return name, "ok"
        except UserError as exc:
            await rollback(ctx)
            asked = question(exc, incoming.body if is_command else None)
            ctx.reply(await examples_for(ctx, asked))
            return name, "user_error"
        except Exception:
            await rollback(ctx)
            log.exception("internal error in %s (ref %s)", name, ctx.correlation_id)
            ctx.reply(
                _(
                    "Something went wrong on my side (ref {ref}). Nothing was changed. Try "
                    "again, or give the ref to an operator.",
                    ref=ctx.correlation_id,
                )
            )
            return name, "error"


async def rollback(ctx: Context, savepoint: str = "handler") -> None:
    """Undo the handler's writes and forget what it queued: a refused command changes nothing."""
    await ctx.db.execute(f"ROLLBACK TO {savepoint}")
    await ctx.db.execute(f"RELEASE {savepoint}")
    ctx.outbox.clear()
    ctx.scheduled.clear()
    ctx.unscheduled.clear()
