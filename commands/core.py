"""Always-there commands: help, ping, time zone."""

from __future__ import annotations

from commands import i18n
from commands.brief.plan import replan_if_planned
from commands.context import Context
from commands.directory.examples import examples_for
from commands.errors import UserError
from commands.examples import day
from commands.history_page import PAGE_OPTION
from commands.i18n import N_, _
from commands.ids import ObjectId
from commands.people import set_language, set_timezone
from commands.registry import Handler, Param, command, edit_keys, roles_of, roles_refusal
from commands.render import table
from commands.time import parse_zone
from commands.words import parse_pairs


@command(
    "help",
    summary=N_("List commands, or show how to use one"),
    example="!help remind",
    params=[Param("command", N_("a command name"), optional=True, rest=True)],
    reads_only=True,
)
async def help_(ctx: Context, *, command: str | None) -> None:
    reg = ctx.registry
    if command:
        text = reg.help_for(command, ctx.now)
        if text is None:
            hint = reg.did_you_mean(command.removeprefix(ctx.prefix).split())
            ctx.reply(
                _("No command {name!r}.", name=command[:40])
                + hint
                + " "
                + _("Send {help} for the list.", help=ctx.prefix + "help")
            )
        else:
            ctx.reply(await examples_for(ctx, text))
        return
    ctx.reply(
        table(
            _("Commands"),
            [_("command"), _("what it does")],
            reg.help_lines(),
            footer=_("Send {help} for details and an example.", help=ctx.prefix + "help <command>"),
        )
    )


@command(
    "ping",
    summary=N_("Check that the bot is alive and reading you"),
    example="!ping",
    reads_only=True,
)
async def ping(ctx: Context) -> None:
    ctx.reply(_("pong"))


@command(
    "tz",
    summary=N_("Show or set your time zone (IANA name)"),
    example="!tz Europe/Paris",
    params=[
        Param(
            "zone",
            N_("e.g. Europe/Paris, America/New_York, UTC"),
            convert=parse_zone,
            optional=True,
        )
    ],
)
async def tz(ctx: Context, *, zone: str | None) -> None:
    assert ctx.person is not None
    if zone is None:
        ctx.reply(_("Your time zone is {zone}.", zone=ctx.person.timezone))
        return
    await set_timezone(ctx.db, ctx.sender, zone, ctx.now)
    await ctx.audit("tz.set", ctx.sender, zone)
    await replan_if_planned(ctx, ctx.sender)  # the Monday brief: 08:00 on the new wall clock
    ctx.reply(_("Time zone set to {zone}. Times you type are read in it.", zone=zone))


@command(
    "lang",
    summary=N_("Show or set the language the bot writes to you in"),
    example="!lang fr",
    params=[Param("language", N_("a language code: en, fr, de"), optional=True)],
)
async def lang(ctx: Context, *, language: str | None) -> None:
    assert ctx.person is not None
    shipped = ", ".join(f"{code} ({i18n.name(code)})" for code in i18n.available())
    if language is None:
        ctx.reply(
            _(
                "I write to you in {name} ({code}). Available: {shipped}. "
                "Change it with {prefix}lang <code>.",
                name=i18n.name(ctx.person.language),
                code=ctx.person.language,
                shipped=shipped,
                prefix=ctx.prefix,
            )
        )
        return
    code = i18n.normalise(language)
    if code is None:
        raise UserError(
            _(
                "I do not speak {language!r}. Available: {shipped}.",
                language=language[:20],
                shipped=shipped,
            ),
            example=f"{ctx.prefix}lang fr",
        )
    await set_language(ctx.db, ctx.sender, code, ctx.now)
    await ctx.audit("lang.set", ctx.sender, code)
    with i18n.language(code):
        ctx.reply(
            _(
                "From now on I write to you in {name}. Dates you type are read in it too "
                "(and in English).",
                name=i18n.name(code),
            )
        )


# -- generic verbs on typed IDs (LR-3, A-7, M-2 ...): the ID's kind picks the domain --------


def _handler(ctx: Context, verb: str, oid: ObjectId) -> Handler:
    """The domain's handler of a generic verb for this ID's kind, or a refusal naming them."""
    handler = ctx.registry.typed.get((verb, oid.kind))
    if handler is None:
        kinds = ", ".join(f"{k}-n" for k in ctx.registry.kinds_for(verb)) or _("none yet")
        raise UserError(
            _(
                "{command} does not work on {id}. It works on: {kinds}.",
                command=ctx.prefix + verb,
                id=str(oid),
                kinds=kinds,
            ),
            # The verb's own example (`!edit A-7` alone would be refused: no changes).
            example=ctx.registry.commands[verb].example_at(ctx.now, ctx.prefix),
        )
    roles = roles_of(handler)
    if roles is not None and not (ctx.person and ctx.person.has_role(*roles)):
        raise UserError(
            roles_refusal(f"{ctx.prefix}{verb} {oid.kind}-n", roles, ctx.person, ctx.prefix)
        )
    return handler


_ID_PARAM = Param("id", N_("a typed ID, e.g. A-7, LR-12, M-3"), convert=ObjectId.parse)


@command(
    "show",
    summary=N_("Show one item with its history"),
    example="!show A-7",
    params=[_ID_PARAM],
    options=[PAGE_OPTION],
    reads_only=True,
)
async def show(ctx: Context, *, id: ObjectId, page: int) -> None:
    await _handler(ctx, "show", id)(ctx, id, page=page)


@command(
    "cancel",
    summary=N_("Cancel an item you may cancel (a reason helps the others)"),
    # TRANSLATORS: an example command: translate only the reason after "--".
    example=N_("!cancel M-3 -- moved to next week"),
    params=[_ID_PARAM],
    body=Param("reason", N_("why, shown to the people concerned"), optional=True),
)
async def cancel(ctx: Context, *, id: ObjectId, reason: str | None) -> None:
    await _handler(ctx, "cancel", id)(ctx, id, reason=reason)


@command(
    "edit",
    summary=N_("Change an item: key=value pairs (see !help for the item's command)"),
    example=lambda now: f"!edit A-7 due={day(now, 14)}",
    params=[_ID_PARAM, Param("changes", N_("key=value pairs, e.g. due=… owner=…"), rest=True)],
)
async def edit(ctx: Context, *, id: ObjectId, changes: str) -> None:
    """The registry reads the pairs with the keys the domain declared on @handles("edit")."""
    handler = _handler(ctx, "edit", id)
    keys, example = edit_keys(handler)
    try:
        pairs = parse_pairs(changes or "", keys)
    except ValueError as exc:
        raise UserError(
            f"{exc}.".replace("..", "."),
            example=example(ctx.now, id).replace("!", ctx.prefix, 1) if example else None,
        ) from None
    await handler(ctx, id, changes=pairs)
