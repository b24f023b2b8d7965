"""The words of times in each language, and the reader's way of writing a time made plain.

Times are read in the current reader's language (commands.i18n.current(), the sender's) as
well as English. What differs per language is in its catalogue, not here: how a numeric
date like 03/04/2026 is read (or refused), the word that starts a relative time ("dans",
"in"), the filler words the date reader does not need ("prochain", "am", "um") and the
repeat words ("tous les", "alle"). This module turns those into what the readers of this
package understand: dateparser (which knows the words of some 200 languages), the duration
reader and the repeat reader (English). English text is passed through as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from commands.i18n import SOURCE, current, pgettext

UNITS = {
    "w": 7 * 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
# The units as French and German readers see them shown (glossary: j / h / min / s, Tg. /
# Std. / Min. / Sek.) and write them: lead=1j, end=2 Std., "in 3 Tagen".
UNITS |= {
    **dict.fromkeys(("j", "jour", "jours", "tg", "tag", "tage", "tagen"), 86400),
    **dict.fromkeys(("sem", "semaine", "semaines", "wo", "woche", "wochen"), 7 * 86400),
    **dict.fromkeys(("heure", "heures", "std", "stunde", "stunden"), 3600),
    **dict.fromkeys(("minuten",), 60),
    **dict.fromkeys(("seconde", "secondes", "sek", "sekunde", "sekunden"), 1),
}
# The English day names, Monday first (the repeat reader's words; Babel gives the reader's).
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Clock times as French and German write them (10h, 14h30, 9 Uhr, 8.30 Uhr, 15 Uhr 30, 9am),
# rewritten to 10:00 before dateparser sees them: it reads "10h" as "ten hours".
CLOCK = re.compile(
    r"(?<![\d./:])(\d{1,2})(?:\s*(?:h|uhr)(?:\s*(\d{2}))?|[.:](\d{2})\s*uhr|\s*(am|pm))(?!\w)",
    re.IGNORECASE,
)


def relative_words() -> set[str]:
    """The words that start a relative time: "in" in every language, and the reader's."""
    # TRANSLATORS: the word that starts a relative time, as in "in 2 hours" (French "dans",
    # German "in"): one word, lower case. "in 2h" is understood in every language.
    return {"in", pgettext("relative time", "in").strip().lower()}


def date_order() -> str | None:
    """How the reader's language reads 03/04/2026: 'DMY', 'MDY', 'YMD', or None (refuse)."""
    # TRANSLATORS: not words: how people writing your language read a numeric date such as
    # 03/04/2026. Write DMY (3 April), MDY (4 March) or YMD; keep "ambiguous" when both
    # readings are common (such dates are then refused with a question, as in English).
    order = pgettext("numeric date order", "ambiguous").strip().upper()
    return order if order in ("DMY", "MDY", "YMD") else None


def normalise(body: str) -> str:
    """The reader's way of writing a time, in a form dateparser reads the same way: clock
    times as 14:30, filler words ("prochain", "am", "um") dropped. English is left as it is."""
    if current() == SOURCE:
        return body

    def clock(match: re.Match[str]) -> str:
        hour, minute = int(match[1]), int(match[2] or match[3] or 0)
        if match[4]:
            hour = hour % 12 + (12 if match[4].lower() == "pm" else 0)
        return f"{hour:02d}:{minute:02d}" if hour <= 23 and minute <= 59 else match[0]

    text = CLOCK.sub(clock, body)
    # TRANSLATORS: the word for noon, one word, lower case (French "midi", German "mittag").
    noon = pgettext("time of day", "noon").lower()
    # TRANSLATORS: the word for midnight, one word, lower case ("minuit", "mitternacht").
    midnight = pgettext("time of day", "midnight").lower()
    clocks = {noon: "12:00", midnight: "00:00"}
    text = " ".join(clocks.get(w.lower(), w) for w in text.split())
    # TRANSLATORS: not a sentence: the words people writing your language put in a date that
    # add nothing to it and that the date reader may not know, separated by spaces (French:
    # "prochain prochaine", as in "mardi prochain"; German: "nächsten am um"). Keep "-" if none.
    filler = set(pgettext("date filler words", "-").lower().split()) - {"-"}
    return " ".join(w for w in text.split() if w.lower() not in filler)


# The English words of a repeat, each with the catalogue entry listing the reader's words
# for it (the reader's day names come from Babel).
_REPEAT_WORDS: dict[str, Callable[[], str]] = {
    # TRANSLATORS: not a sentence: the words that start a repeat in your language, separated
    # by spaces, lower case (French "chaque tous toutes les", German "jeden jede jedes alle").
    "every": lambda: pgettext("repeat words: every", "every"),
    # TRANSLATORS: not a sentence: the word(s) before a weekday in "every 2 weeks on Monday"
    # (French "le", German "am"), separated by spaces, lower case.
    "on": lambda: pgettext("repeat words: on", "on"),
    # TRANSLATORS: not a sentence: "and" between weekdays (French "et", German "und").
    "and": lambda: pgettext("repeat words: and", "and"),
    # TRANSLATORS: not a sentence: every form of the word "day" in a repeat, separated by
    # spaces (French "jour jours", German "tag tage tagen").
    "day": lambda: pgettext("repeat words: day", "day days"),
    # TRANSLATORS: not a sentence: every form of "week" (French "semaine semaines").
    "week": lambda: pgettext("repeat words: week", "week weeks"),
    # TRANSLATORS: not a sentence: every form of "month" (French "mois").
    "month": lambda: pgettext("repeat words: month", "month months"),
    # TRANSLATORS: not a sentence: every form of "year" (French "an ans année années").
    "year": lambda: pgettext("repeat words: year", "year years"),
    # TRANSLATORS: not a sentence: words for "working day", alone or after the word for day
    # (French "ouvré ouvrés ouvrable ouvrables", German "arbeitstag werktag werktags").
    "weekday": lambda: pgettext("repeat words: weekday", "weekday weekdays"),
    # TRANSLATORS: not a sentence: every form of "daily" (French "quotidien quotidienne").
    "daily": lambda: pgettext("repeat words: daily", "daily"),
    # TRANSLATORS: not a sentence: every form of "weekly" (French "hebdomadaire").
    "weekly": lambda: pgettext("repeat words: weekly", "weekly"),
    # TRANSLATORS: not a sentence: every form of "monthly" (French "mensuel mensuelle").
    "monthly": lambda: pgettext("repeat words: monthly", "monthly"),
    # TRANSLATORS: not a sentence: every form of "yearly" (French "annuel annuelle").
    "yearly": lambda: pgettext("repeat words: yearly", "yearly"),
}


@cache
def _repeat_vocabulary(lang: str) -> dict[str, str]:
    """The reader's repeat words -> the English ones the repeat reader reads (built once per
    language: every time typed by a French or German reader passes here)."""
    from babel.dates import get_day_names  # only for a reader who is not English

    words: dict[str, str] = {}
    for english, entry in _REPEAT_WORDS.items():
        for word in entry().lower().split():
            words.setdefault(word, english)
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            names = get_day_names(width, context, locale=lang)
            for index, english in enumerate(FULL_DAYS):
                name = str(names[index]).lower().rstrip(".")
                words.setdefault(name, english)
                words.setdefault(name + "s", english)  # French "tous les lundis"
    return words


def repeat_in_english(text: str) -> str:
    """A repeat in the reader's words ("tous les lundis 10h", "alle 2 Wochen", "täglich")
    as the English the repeat reader knows ("every monday 10h"); words that are not repeat
    words (a time of day) are kept. English readers' text is returned as it is."""
    if current() == SOURCE:
        return text
    vocabulary = _repeat_vocabulary(current())
    out: list[str] = []
    for token in text.split():
        word, comma = token.rstrip(","), token[len(token.rstrip(",")) :]
        english = vocabulary.get(word.lower().rstrip("."), word)
        if english == "every" and out and out[-1] == "every":
            continue  # "tous les", "toutes les"
        if english == "weekday" and out and out[-1] == "day":
            out.pop()  # "jour ouvré"
        if english == "on" and out:
            out[-1] = out[-1].rstrip(",")  # "toutes les 2 semaines, le lundi"
        out.append(english + comma)
    named = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}
    if out and out[0] in named:
        out[0:1] = ["every", named[out[0]]]  # "täglich 9 Uhr" starts like "every day 09:00"
    elif out and out[0] == "weekday":
        out.insert(0, "every")  # "werktags 8 Uhr"
    return " ".join(out)
