"""Repeat words: "every Monday", "every 2 weeks", "weekdays" as a rule, and a rule said back.

The words become a rule, and that rule goes through the same parser as a typed RRULE
(commands/time/recurrence.py). A reader's own repeat words ("tous les lundis", "alle 2
Wochen") arrive here in English (commands/time/words.py); a rule is described in the
reader's language.
"""

from __future__ import annotations

import re

from commands.i18n import SOURCE, _, current, ngettext
from commands.time.recurrence import MAX_RULE_LENGTH, validate_rrule
from commands.time.words import FULL_DAYS, repeat_in_english

_DAYS = {
    "monday": "MO",
    "mon": "MO",
    "tuesday": "TU",
    "tue": "TU",
    "tues": "TU",
    "wednesday": "WE",
    "wed": "WE",
    "thursday": "TH",
    "thu": "TH",
    "thurs": "TH",
    "friday": "FR",
    "fri": "FR",
    "saturday": "SA",
    "sat": "SA",
    "sunday": "SU",
    "sun": "SU",
}
_FREQS = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}
_NAMED = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY"}


def recurrence_rule(spec: str) -> str:
    """A human spec ('Monday', 'Mon,Wed', '2 weeks', 'weekday', 'weekly') or a raw RRULE."""
    text = spec.strip()
    if "FREQ=" in text.upper():
        return validate_rrule(text)
    # The words become a rule, and that rule goes through the same parser as a typed one.
    return validate_rrule(_words_rule(repeat_in_english(text)))


def _words_rule(text: str) -> str:
    spec = text
    lowered = text.lower().removeprefix("every ").strip()
    if len(lowered) > MAX_RULE_LENGTH:
        raise ValueError(
            _(
                "the repeat is longer than {limit} characters",
                limit=MAX_RULE_LENGTH,
            )
        )
    if lowered in _NAMED:
        return f"FREQ={_NAMED[lowered]}"
    if lowered in ("weekday", "weekdays", "working day", "workday"):
        return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    interval = 1
    match = re.match(r"^(other|\d+)\s+(.*)$", lowered)
    if match:
        interval = 2 if match[1] == "other" else int(match[1])
        lowered = match[2]
    if interval < 1 or interval > 366:
        raise ValueError(_("the interval must be between 1 and 366"))
    every = f";INTERVAL={interval}" if interval > 1 else ""
    on_days = re.match(r"^weeks?\s+on\s+(.+)$", lowered)  # every 2 weeks on Monday
    if on_days:
        lowered = on_days[1]
    unit = lowered.rstrip("s") if lowered.rstrip("s") in _FREQS else None
    if unit:
        return f"FREQ={_FREQS[unit]}{every}"
    days = [d for d in re.split(r"\s*(?:,|\band\b)\s*", lowered) if d]
    codes = []
    for day in days:
        key = day.rstrip("s") if day.rstrip("s") in _DAYS else day
        if key not in _DAYS:
            raise ValueError(
                _(
                    "{text} is not a repeat I know. Write e.g. every Monday, every 2 weeks, "
                    "every weekday, daily, or a raw rule like FREQ=WEEKLY;BYDAY=MO.",
                    text=repr(spec[:30]),
                )
            )
        codes.append(_DAYS[key])
    return f"FREQ=WEEKLY{every};BYDAY={','.join(dict.fromkeys(codes))}"


def describe_rule(rule: str) -> str:
    """A short human reading of the rules this module writes; raw rules are shown as is."""
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1"))
    extra = set(parts) - {"FREQ", "INTERVAL", "BYDAY"}
    if extra or freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        return rule
    if "BYDAY" in parts and freq == "WEEKLY":
        names = _day_names()
        days = ", ".join(names.get(d, d) for d in parts["BYDAY"].split(","))
        if parts["BYDAY"] == "MO,TU,WE,TH,FR" and interval == 1:
            return _("every weekday")
        if interval == 1:
            return _("every {days}", days=days)
        return ngettext(
            "every {n} week on {days}", "every {n} weeks on {days}", interval, days=days
        )
    if "BYDAY" in parts:
        return rule
    # One, then a plural with {n} in every form (the catalogue check wants {n} in each).
    if freq == "DAILY":
        return (
            _("every day")
            if interval == 1
            else ngettext("every {n} day", "every {n} days", interval)
        )
    if freq == "WEEKLY":
        return (
            _("every week")
            if interval == 1
            else ngettext("every {n} week", "every {n} weeks", interval)
        )
    if freq == "MONTHLY":
        return (
            _("every month")
            if interval == 1
            else ngettext("every {n} month", "every {n} months", interval)
        )
    return (
        _("every year")
        if interval == 1
        else ngettext("every {n} year", "every {n} years", interval)
    )


def _day_names() -> dict[str, str]:
    """MO -> 'Monday' (the reader's language: 'lundi', 'Montag')."""
    codes = [_DAYS[k] for k in FULL_DAYS]
    if current() == SOURCE:
        return {code: name.capitalize() for code, name in zip(codes, FULL_DAYS, strict=True)}
    from babel.dates import get_day_names

    names = get_day_names("wide", locale=current())
    return {code: str(names[i]) for i, code in enumerate(codes)}
