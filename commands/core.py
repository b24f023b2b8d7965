"""Always-there commands: help, ping, time zone."""

from __future__ import annotations

from typing import Any

from commands.context import Context
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
        text = reg.help_for(args["command"])
        if text is None:
            ctx.reply(f"No command {args['command'][:40]!r}. Send {ctx.prefix}help for the list.")
        else:
            ctx.reply(text)
        return
    ctx.reply(
        table(
            "Commands",
            ["usage", "what it does"],
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
