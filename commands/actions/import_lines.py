"""The lines of an import, each read by `!actions add`'s own declaration and checks, and,
when one is refused, what is wrong with it and the line corrected (a date not in the past,
the owner the directory most likely means, a marking level that exists).

A line is `@owner|POST due=… [marking=…] [rel=…] -- text`: the words of `!actions add`
after the summit, bound by its declaration (commands.arguments.bind) and checked by
commands.actions.new_items.check_item, so a line is refused exactly when the command is.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands.actions.access import sender_zone
from commands.actions.new_items import ItemRefused, NewItem, check_item
from commands.actions.store import Summit
from commands.ambiguity import find, question
from commands.arguments import bind
from commands.context import Context
from commands.directory.service import closest_in_directory, in_directory
from commands.errors import UserError
from commands.i18n import _
from commands.markings.model.policy import Policy
from commands.time import parse_due
from commands.words import normalise, split_body, tokenize

MAX_LINES = 100
_BULLET = re.compile(r"^(?:[-*•]|\d{1,3}[.)])\s+")  # minutes pasted as a list
_TRIES = 4  # corrections chained on one line (owner, then date, then marking…)


@dataclass(frozen=True)
class Line:
    """One line's outcome: the item it makes, or its problems and the line corrected."""

    number: int  # counted from the first line below the command
    text: str
    item: NewItem | None
    problems: tuple[str, ...] = ()
    fix: str | None = None  # a line every check accepts, when one could be made
    shown: tuple[str, str, str, str] = ("", "", "", "")  # owner, due, marking, text as read


def item_lines(text: str) -> list[tuple[int, str]]:
    """(number, line) for each line that holds an item: blank lines and `#` lines are
    skipped, a list's bullet (`- `, `1. `) dropped; numbered as the sender sees them,
    from the first line below the command."""
    out = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = _BULLET.sub("", raw.strip(), count=1).strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value.strip() else value.strip()


def line_of(owner: str, due: str, marking: str | None, rel: str | None, text: str) -> str:
    """A line in its plain form (what a correction shows)."""
    words = [owner, "due=" + _quoted(due)]
    words += [f"marking={marking}"] if marking else []
    words += [f"rel={rel}"] if rel else []
    return " ".join(words) + " -- " + text.strip()


def _read(ctx: Context, summit: Summit, line: str, now: datetime) -> dict[str, Any]:
    """The line's words as `!actions add <summit> …` would read them."""
    spec = ctx.registry.find("actions add")
    assert spec is not None
    head, sep, tail = split_body(normalise(line))
    return bind(spec, [summit.ref, *tokenize(head)], tail if sep else None, now, ctx.prefix)


def _without_separator(ctx: Context, line: str) -> str | None:
    """`@alice due=friday circulate the draft`: the `--` put before the text."""
    if split_body(line)[1]:
        return None
    spec = ctx.registry.find("actions add")
    assert spec is not None
    keys = {o.name for o in spec.options}
    try:
        words = tokenize(line)
    except UserError:
        return None
    options = [w for w in words if w.partition("=")[0].lower() in keys and "=" in w]
    rest = [w for w in words if w not in options]
    if len(rest) < 2:
        return None
    return " ".join([rest[0], *(_option(w) for w in options)]) + " -- " + " ".join(rest[1:])


def _option(word: str) -> str:
    key, _eq, value = word.partition("=")
    return f"{key.lower()}={_quoted(value)}"


def suggested_due(typed: str, zone: str, now: datetime) -> str:
    """A day to put instead of a past or unreadable due date: the same day a year on when
    the year was the slip (within half a year), else two weeks from now."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    fallback = (today + timedelta(days=14)).isoformat()
    try:
        meant = parse_due(typed, zone, now, future=False).at.astimezone(tz).date()
    except ValueError:
        return fallback
    try:
        later = meant.replace(year=meant.year + 1)
    except ValueError:  # 29 February
        return fallback
    return later.isoformat() if today < later <= today + timedelta(days=183) else fallback


def ended(text: str) -> str:
    """A problem as a sentence, so the next one can follow it."""
    return text if not text or text[-1] in ".?!…" else text + "."


def _closest_level(ctx: Context, typed: str) -> str | None:
    levels = list(Policy.from_settings(ctx.settings).levels)
    close = difflib.get_close_matches(
        typed.strip().upper(), levels, n=1, cutoff=0.8
    )  # a typo, never another level
    return close[0] if close else None


async def _corrected(
    ctx: Context, refused: ItemRefused, args: dict[str, Any], current: str, now: datetime
) -> tuple[str, str | None]:
    """(the problem as told, the line corrected or None) for a refused line."""
    owner, due, text = args["owner"], args["due"] or "", args["text"] or ""
    marking, rel = args["marking"], args["rel"]
    if refused.field == "due":
        if find(refused) is not None:  # 03/04: the two readings, each a line to copy
            return question(refused, current), None
        fixed = suggested_due(due, sender_zone(ctx), now)
        return refused.message, line_of(owner, fixed, marking, rel, text)
    if refused.field == "owner":
        meant = await closest_in_directory(ctx.db, owner)
        if meant is None or meant == owner:
            return refused.message, None
        told = ended(refused.message) + " " + _("Did you mean {owner}?", owner=meant)
        return told, line_of(meant, due, marking, rel, text)
    if refused.field == "marking":
        if refused.example and refused.example != current:  # rel= widened, your own nation
            return refused.message, refused.example
        level = _closest_level(ctx, marking or "")
        if marking and level and level != marking.strip().upper():
            return refused.message, line_of(owner, due, level, rel, text)
    return refused.message, None


async def _known_owner(ctx: Context, new: NewItem) -> None:
    """Minutes name the people of the directory: an owner it does not know is a typo far
    more often than a newcomer, and would leave an item nobody sees."""
    if new.owner_kind == "person" and not await in_directory(ctx.db, new.owner):
        raise ItemRefused(
            "owner",
            UserError(
                _(
                    "owner: {owner} is not in the directory (an admin adds people with {command}).",
                    owner=new.owner,
                    command="!dir person",
                )
            ),
        )


async def check_line(ctx: Context, summit: Summit, number: int, line: str, now: datetime) -> Line:
    """The line read and checked as `!actions add` would, dates read as of `now`; refused,
    each problem it has and, where one can be made, the line every check accepts."""
    problems: list[str] = []
    current = line
    shown = ("", "", "", line)
    for _attempt in range(_TRIES):
        args: dict[str, Any] | None = None
        try:
            args = _read(ctx, summit, current, now)
            if args["owner"] is None:  # only one word before --: it is read as the summit
                raise ItemRefused(
                    "words",
                    UserError(_("No owner: start the line with a Matrix ID or a post code.")),
                )
            if current == line:
                shown = (args["owner"], args["due"] or "", args["marking"] or "", args["text"])
            new = await check_item(
                ctx,
                summit,
                owner=args["owner"],
                due=args["due"],
                marking=args["marking"],
                rel=args["rel"],
                text=args["text"],
                example=current,
                marked_example=current,
                fix=current,
                now=now,
            )
            await _known_owner(ctx, new)
            if not problems:
                return Line(number, line, new, shown=shown)
            return Line(number, line, None, tuple(problems), current, shown)
        except ItemRefused as refused:
            if args is None or refused.field == "words":
                problems.append(refused.message)
                return Line(number, line, None, tuple(problems), None, shown)
            told, fixed = await _corrected(ctx, refused, args, current, now)
        except UserError as refused:  # the words themselves: no --, an unclosed quote
            told, fixed = refused.message, _without_separator(ctx, current)
        problems.append(told)
        if fixed is None or fixed == current:
            break
        current = fixed
    return Line(number, line, None, tuple(problems), None, shown)
