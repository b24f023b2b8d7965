"""What a scheduling command typed, read: participants (with=) and repeat rules, checked once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiosqlite

from commands.context import Context
from commands.directory.service import canonical_target, post_exists
from commands.errors import UserError
from commands.i18n import _
from commands.time.recurrence import check_rule


def check_repeat(ctx: Context, rule: str, start: datetime, zone: str) -> str:
    """Every rule, typed or built from words, passes the same checks before it is stored."""
    tz = ZoneInfo(zone)
    return check_rule(
        rule,
        start.astimezone(tz).replace(tzinfo=None),
        ctx.now.astimezone(tz).replace(tzinfo=None),
        timedelta(seconds=ctx.settings.min_recurrence_interval),
    )


async def parse_with(db: aiosqlite.Connection, text: str) -> list[str]:
    """Participants: people and posts, read by the directory's one target parser."""
    # TRANSLATORS: an example command: keep "!meeting", "with=" and "--"; the time must be
    # one the bot reads in your language (demain 10:00, morgen 10:00).
    example = _("!meeting tomorrow 10:00 with=@alice:example.org,FR-PARIS -- Review")
    found: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            kind, key = canonical_target(part)
        except ValueError as exc:
            raise UserError(_("with: {error}.", error=exc), example=example) from None
        if kind == "post" and not await post_exists(db, key):
            raise UserError(
                _(
                    "with: {target} is neither a Matrix ID nor a known post. "
                    "Check it with !whois <code>, or write a full ID like @alice:example.org.",
                    target=repr(part[:40]),
                ),
                example=example,
            )
        found.append(key)
    return list(dict.fromkeys(found))
