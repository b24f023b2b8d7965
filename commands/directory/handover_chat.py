"""!dir handover: at rotation, everything open a person holds moves to their successor in
one step (dry-run first if you like), and !dir handover undo H-n within a day.

The rules are in `handover` (pure), the rows in `handover_store` and `handover_record`, the
messages in `handover_messages`, the listing and `!show H-n` in `handover_views`. Everything
happens in the handler's one transaction: the moves, each object's history, the H-n row,
the audit and every message, or none of them.
"""

from __future__ import annotations

from commands.context import Context
from commands.directory.handover import (
    UNDO_WINDOW,
    Holding,
    Plan,
    make_plan,
    parse_handover_id,
)
from commands.directory.handover_messages import (
    Said,
    answer,
    tell_counterparts,
    tell_giver,
    tell_receiver,
)
from commands.directory.handover_record import (
    UNDONE,
    Record,
    Step,
    insert_record,
    load_record,
    mark_undone,
    moved_on,
    record_history,
)
from commands.directory.handover_store import holdings, move, move_back
from commands.directory.handover_views import may_see, sender_zone
from commands.directory.service import parse_post_code, parse_user_id, posts_of
from commands.errors import NotFound, UserError
from commands.i18n import N_, _
from commands.markings.model.policy import Policy
from commands.markings.store import reader_here, subjects
from commands.registry import Option, Param, command
from commands.render import person
from commands.time import show_instant

# A dry run: an example copied as it is shows the plan and moves nobody's desk.
_EXAMPLE = "!dir handover @bob:example.org @anna:example.org post=DE-BERLIN dry-run"


def _example(ctx: Context) -> str:
    """An example this sender may send: any hand-over for an admin, their own for others."""
    if ctx.is_admin:
        return ctx.prefix + _EXAMPLE[1:]
    return f"{ctx.prefix}dir handover {ctx.sender} @anna:example.org dry-run"


@command(
    "dir handover",
    summary=N_("Hand over what a person holds to their successor (admins; or your own)"),
    example=_EXAMPLE,
    params=[
        Param("old", N_("the person leaving (a Matrix ID), or undo")),
        Param("new", N_("their successor (a Matrix ID), or the hand-over to undo, e.g. H-2")),
        Param("mode", N_("dry-run: show what would move and change nothing"), optional=True),
    ],
    options=[Option("post", N_("hand over this post only (default: all their posts)"))],
    body=Param("note", N_("a note for the successor"), optional=True),
    aliases=["handover"],
    details=N_(
        "Their open requests (made or to answer), open action items, meetings and visits to "
        "come and their posts move to the successor at once. What the successor may not read "
        "stays, and you are told which and why. The successor gets one message with what "
        "they now hold, each person they deal with is told once who their new contact is. "
        "Undo within a day: !dir handover undo H-n."
    ),
)
async def dir_handover(
    ctx: Context,
    *,
    old: str,
    new: str,
    mode: str | None,
    post: str | None,
    note: str | None,
) -> None:
    if old.strip().lower() == "undo":
        if mode is not None or post is not None or note is not None:
            raise UserError(
                _(
                    "{command} takes the hand-over's ID only.",
                    command=ctx.prefix + "dir handover undo",
                ),
                example=ctx.prefix + "dir handover undo H-2",
            )
        await _undo(ctx, new)
        return
    leaving, successor = _person(ctx, old, "old"), _person(ctx, new, "new")
    dry_run = _dry_run(ctx, mode)
    only = _post(ctx, post)
    await _check(ctx, leaving, successor, only)
    policy = Policy.from_settings(ctx.settings)
    plan = make_plan(
        leaving,
        successor,
        await holdings(ctx.db, leaving, successor, ctx.now),
        await posts_of(ctx.db, leaving),
        policy=policy,
        successor=(await subjects(ctx.db, [successor]))[0],
        only_post=only,
    )
    said = Said(plan, "", ctx.sender, note)
    if dry_run or plan.empty:
        told = await tell_counterparts(ctx, said, policy, send=False)
        await answer(ctx, said, policy, dry_run=True, told=told)
        return
    steps = [
        Step(
            str(h.oid), h.role, await move(ctx.db, str(h.oid), h.role, leaving, successor, ctx.now)
        )
        for h in plan.moves
    ]
    for code in plan.posts:
        steps.append(
            Step(code, "member", await move(ctx.db, code, "member", leaving, successor, ctx.now))
        )
    event_id = ctx.incoming.event_id if ctx.incoming else None
    number = await insert_record(
        ctx.db,
        old=leaving,
        new=successor,
        actor=ctx.sender,
        post=only,
        note=note,
        steps=steps,
        now=ctx.now,
        event_id=event_id,
    )
    label = f"H-{number}"
    await record_history(
        ctx.db,
        label,
        steps,
        frm=leaving,
        to=successor,
        actor=ctx.sender,
        now=ctx.now,
        event_id=event_id,
        policy=Policy.from_settings(ctx.settings),
    )
    moved = ",".join(str(o) for o in plan.moved_ids())
    await ctx.audit(
        "dir.handover", label, f"{leaving} -> {successor}: {moved} posts={','.join(plan.posts)}"
    )
    said = Said(plan, label, ctx.sender, note)
    await tell_receiver(ctx, said, policy)
    if not await _answer_is_theirs(ctx, leaving):
        await tell_giver(ctx, said, policy)
    told = await tell_counterparts(ctx, said, policy)
    await answer(ctx, said, policy, dry_run=False, told=told)


# -- checks: bad input changes nothing ------------------------------------------------------


def _person(ctx: Context, text: str, which: str) -> str:
    try:
        return parse_user_id(text)
    except ValueError as exc:
        raise UserError(f"{which}: {exc}", example=_example(ctx)) from None


def _dry_run(ctx: Context, mode: str | None) -> bool:
    if mode is None:
        return False
    if mode.strip().lower() in ("dry-run", "dryrun", "dry_run"):
        return True
    raise UserError(
        _("{text!r} is not understood here: write dry-run, or nothing.", text=mode[:30]),
        example=_example(ctx),
    )


def _post(ctx: Context, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_post_code(text)
    except ValueError as exc:
        raise UserError(f"post: {exc}", example=_example(ctx)) from None


async def _check(ctx: Context, old: str, new: str, only: str | None) -> None:
    if old == new:
        raise UserError(
            _(
                "{person} is named twice: name the person leaving, then their successor.",
                person=person(old),
            ),
            example=_example(ctx),
        )
    if not ctx.is_admin and ctx.sender != old:
        raise UserError(
            _(
                "Only an admin may hand over what someone else holds; you may hand over "
                "what is yours."
            ),
            example=_example(ctx),
        )
    if not await _in_directory(ctx, new):
        raise UserError(
            _(
                "{person} is not in the directory: an admin adds them first ({command}).",
                person=person(new),
                command=ctx.prefix + "dir person " + new,
            ),
            example=_example(ctx),
        )
    if not ctx.settings.is_allowed(new):
        raise UserError(
            _(
                "{person} is not allowed to use this bot, so they could not act on what "
                "they would receive. Ask an admin.",
                person=person(new),
            ),
            example=_example(ctx),
        )
    posts = await posts_of(ctx.db, old)
    if not await _in_directory(ctx, old) and not posts:
        raise UserError(
            _(
                "I know nothing of {person}: they are not in the directory. Check the "
                "Matrix ID with {command}.",
                person=person(old),
                command=ctx.prefix + "whois " + old,
            ),
            example=_example(ctx),
        )
    if only is not None and only not in posts:
        raise UserError(
            _(
                "{person} is not a member of {post} (their posts: {posts}).",
                person=person(old),
                post=only,
                posts=", ".join(posts) or "-",
            ),
            example=_example(ctx),
        )


async def _answer_is_theirs(ctx: Context, user_id: str) -> bool:
    """The reply is this person's summary: they sent the command in their direct chat with
    the bot (in a room, where marked lines are IDs only, they get it in full by DM too)."""
    return user_id == ctx.sender and not (await reader_here(ctx)).room


async def _in_directory(ctx: Context, user_id: str) -> bool:
    async with ctx.db.execute("SELECT 1 FROM people WHERE user_id = ?", (user_id,)) as cur:
        return await cur.fetchone() is not None


# -- undo -----------------------------------------------------------------------------------


async def _undo(ctx: Context, text: str) -> None:
    # Made for the reader (commands/directory/examples.py): their newest hand-over that is
    # not undone, or where theirs are listed.
    example = ctx.prefix + "dir handover undo H-2"
    try:
        number = parse_handover_id(text)
    except ValueError as exc:
        raise UserError(str(exc), example=example) from None
    record = await load_record(ctx.db, number)
    if record is None or not may_see(ctx, record):
        raise NotFound(_("No hand-over H-{n} that you can see.", n=number), example=example)
    if not (ctx.is_admin or ctx.sender == record.actor):
        raise UserError(
            _(
                "Only an admin or {person}, who made it, may undo {label}.",
                person=person(record.actor),
                label=record.label,
            ),
            example=example,
        )
    if record.undone_at is not None:
        raise UserError(_("{label} was undone already.", label=record.label), example=example)
    again = f"{ctx.prefix}dir handover {record.new} {record.old} dry-run"
    if ctx.now - record.created_at > UNDO_WINDOW:
        raise UserError(
            _(
                "{label} was made on {when}, more than a day ago: it can no longer be undone. "
                "Hand over again the other way instead.",
                label=record.label,
                when=show_instant(record.created_at, sender_zone(ctx)),
            ),
            example=again,
        )
    changed = await moved_on(ctx.db, record)
    if changed:
        raise UserError(
            _(
                "{label} cannot be undone: {objects} changed since, and undoing would lose "
                "that. Hand over again the other way instead.",
                label=record.label,
                objects=", ".join(changed),
            ),
            example=again,
        )
    for step in reversed(record.steps):
        await move_back(ctx.db, step.oid, step.role, record.old, record.new, step.flags, ctx.now)
    await mark_undone(ctx.db, number, ctx.now)
    event_id = ctx.incoming.event_id if ctx.incoming else None
    await record_history(
        ctx.db,
        record.label,
        record.steps,
        frm=record.new,
        to=record.old,
        actor=ctx.sender,
        now=ctx.now,
        event_id=event_id,
        policy=Policy.from_settings(ctx.settings),
        action=UNDONE,
    )
    await ctx.audit("dir.handover.undo", record.label, f"{record.new} -> {record.old}")
    policy = Policy.from_settings(ctx.settings)
    said = Said(await _undo_plan(ctx, record), record.label, ctx.sender, undo=True)
    await tell_receiver(ctx, said, policy)
    if not await _answer_is_theirs(ctx, record.new):
        await tell_giver(ctx, said, policy)
    told = await tell_counterparts(ctx, said, policy)
    await answer(ctx, said, policy, dry_run=False, told=told)


async def _undo_plan(ctx: Context, record: Record) -> Plan:
    """What the undo gives back, as a plan from the successor to the person who left."""
    wanted = {(s.oid, s.role) for s in record.steps}
    held: list[Holding] = [
        h
        for h in await holdings(ctx.db, record.old, record.new, ctx.now)
        if (str(h.oid), h.role) in wanted
    ]
    posts = tuple(s.oid for s in record.steps if s.role == "member")
    return Plan(record.new, record.old, tuple(held), (), posts)
