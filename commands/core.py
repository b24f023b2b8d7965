"""Always-there commands: help, ping, time zone."""

from __future__ import annotations

import re
from typing import Any

from commands.context import Context
from commands.errors import UserError
from commands.examples import day
from commands.people import parse_zone, set_timezone
from commands.registry import Param, command
from commands.render import table


@command(
    "help",
    summary="List commands, or show how to use one",
    example="!help remind",
    params=[Param("command", "a command name", optional=True, rest=True)],
)
async def help_(ctx: Context, args: dict[str, Any]) -> None:
    reg = ctx.registry
    if args["command"]:
        text = reg.help_for(args["command"], ctx.now)
        if text is None:
            hint = reg.did_you_mean(args["command"].removeprefix(ctx.prefix).split())
            ctx.reply(
                f"No command {args['command'][:40]!r}.{hint} Send {ctx.prefix}help for the list."
            )
        else:
            ctx.reply(text)
        return
    ctx.reply(
        table(
            "Commands",
            ["command", "what it does"],
            reg.help_lines(),
            footer=f"Send {ctx.prefix}help <command> for details and an example.",
        )
    )


@command("ping", summary="Check that the bot is alive and reading you", example="!ping")
async def ping(ctx: Context, args: dict[str, Any]) -> None:
    ctx.reply("pong")


@command(
    "tz",
    summary="Show or set your time zone (IANA name)",
    example="!tz Europe/Paris",
    params=[
        Param("zone", "e.g. Europe/Paris, America/New_York, UTC", convert=parse_zone, optional=True)
    ],
)
async def tz(ctx: Context, args: dict[str, Any]) -> None:
    assert ctx.person is not None
    if args["zone"] is None:
        ctx.reply(f"Your time zone is {ctx.person.timezone}.")
        return
    await set_timezone(ctx.db, ctx.sender, args["zone"], ctx.now)
    await ctx.audit("tz.set", ctx.sender, args["zone"])
    ctx.reply(f"Time zone set to {args['zone']}. Times you type are read in it.")


# -- generic verbs on typed IDs (LR-3, A-7, M-2 ...): the ID's kind picks the domain --------

_ID = re.compile(r"^([A-Za-z]{1,3})-(\d{1,9})$")


def parse_object_id(text: str) -> tuple[str, int]:
    match = _ID.match(text.strip())
    if not match:
        raise ValueError(f"{text[:30]!r} is not an ID like A-7 or LR-12")
    return match[1].upper(), int(match[2])


async def _typed(ctx: Context, verb: str, args: dict[str, Any]) -> None:
    kind, number = args["id"]
    handler = ctx.registry.typed.get((verb, kind))
    if handler is None:
        kinds = ", ".join(f"{k}-n" for k in ctx.registry.kinds_for(verb)) or "none yet"
        raise UserError(
            f"{ctx.prefix}{verb} does not work on {kind}-{number}. It works on: {kinds}.",
            example=f"{ctx.prefix}{verb} A-7",
        )
    await handler(ctx, number, args)


_ID_PARAM = Param("id", "a typed ID, e.g. A-7, LR-12, M-3", convert=parse_object_id)


@command("show", summary="Show one item with its history", example="!show A-7", params=[_ID_PARAM])
async def show(ctx: Context, args: dict[str, Any]) -> None:
    await _typed(ctx, "show", args)


@command(
    "cancel",
    summary="Cancel an item you may cancel (a reason helps the others)",
    example="!cancel M-3 -- moved to next week",
    params=[_ID_PARAM],
    body=Param("reason", "why, shown to the people concerned", optional=True),
)
async def cancel(ctx: Context, args: dict[str, Any]) -> None:
    await _typed(ctx, "cancel", args)


@command(
    "edit",
    summary="Change an item: key=value pairs (see !help for the item's command)",
    example=lambda now: f"!edit A-7 due={day(now, 14)}",
    params=[_ID_PARAM, Param("changes", "key=value pairs, e.g. due=… owner=…", rest=True)],
)
async def edit(ctx: Context, args: dict[str, Any]) -> None:
    await _typed(ctx, "edit", args)
