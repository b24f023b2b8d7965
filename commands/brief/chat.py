"""!brief (your week, now) and !brief weekly on|off (each Monday at 08:00, your time)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from commands.brief.contents import gather
from commands.brief.model import monday_of, week_span
from commands.brief.plan import plan, weekly_on
from commands.brief.render import compose, title
from commands.brief.store import set_weekly
from commands.context import Context
from commands.i18n import N_, _
from commands.markings.store import reader_here
from commands.registry import Param, command
from commands.time import fmt


def parse_on_off(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise ValueError(_("{text!r} is not on or off", text=text[:20]))
    return value == "on"


@command(
    "brief",
    summary=N_("Your week in one message: requests, action items, visits and meetings"),
    example="!brief",
    details=N_("!brief weekly on sends it to you each Monday at 08:00 in your time zone."),
)
async def brief(ctx: Context) -> None:
    assert ctx.person is not None
    zone = ctx.person.timezone
    monday = monday_of(ctx.now.astimezone(ZoneInfo(zone)).date())
    reader = await reader_here(ctx)
    sections = await gather(
        ctx.db, ctx.sender, zone, week_span(monday, zone), ctx.now, reader, ctx.prefix
    )
    rendered, holds = compose(title(monday, zone), sections)
    ctx.reply(rendered, holds=holds)


@command(
    "brief weekly",
    summary=N_("Your brief each Monday at 08:00 in your time zone: on or off"),
    example="!brief weekly on",
    params=[Param("setting", N_("on or off (none: show what you have)"), parse_on_off, True)],
)
async def brief_weekly(ctx: Context, *, setting: bool | None) -> None:
    assert ctx.person is not None
    values = {
        "zone": ctx.person.timezone,
        "on": f"{ctx.prefix}brief weekly on",
        "off": f"{ctx.prefix}brief weekly off",
        "brief": f"{ctx.prefix}brief",
        "tz": f"{ctx.prefix}tz",
    }
    if setting is None:
        on = await weekly_on(ctx, ctx.sender)
        if on:
            ctx.reply(
                _("Your brief comes each Monday at 08:00 ({zone}). {off} stops it.", **values)
            )
        else:
            ctx.reply(
                _(
                    "Your weekly brief is off. {on} starts it; {brief} shows your week now.",
                    **values,
                )
            )
        return
    await set_weekly(ctx.db, ctx.sender, setting, ctx.now)
    await ctx.audit("brief.weekly", ctx.sender, "on" if setting else "off")
    at = await plan(ctx, ctx.sender)
    if at is None:
        ctx.reply(_("Weekly brief off. {brief} still shows your week whenever you ask.", **values))
        return
    ctx.reply(
        _(
            "Weekly brief on: each Monday at 08:00 in your time zone ({zone}; {tz} changes it), "
            "the first on {when}. {off} stops it.",
            when=fmt(at, ctx.person.timezone),
            **values,
        )
    )
