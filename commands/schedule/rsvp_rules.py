"""Answers to invitations, the pure rules: which reactions and words mean what, and how an
answer and a tally read. No SQL, no Context.

Reactions are those Element users pick: ✅ ✔️ ☑️ 👍 accept, ❌ ✖️ ❎ 👎 decline, ❔ ❓ 🤔
tentative (with or without the emoji variation selector Element adds). Words are English
and those of every shipped language (catalogue entries), whatever the sender's language:
a French attaché typing "oui" in an English room is understood.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from commands.i18n import _, available, language, ngettext, pgettext
from commands.schedule.rsvp_store import ACCEPTED, DECLINED, TENTATIVE, Answer

VARIATION_SELECTOR = "\ufe0f"
REACTIONS: dict[str, str] = {
    **dict.fromkeys(("✅", "✔", "☑", "👍"), ACCEPTED),
    **dict.fromkeys(("❌", "✖", "❎", "👎"), DECLINED),
    **dict.fromkeys(("❔", "❓", "🤔"), TENTATIVE),
}
ICON = {ACCEPTED: "✅", DECLINED: "❌", TENTATIVE: "❔"}
PARTSTAT = {ACCEPTED: "ACCEPTED", DECLINED: "DECLINED", TENTATIVE: "TENTATIVE"}  # RFC 5545
NOTE_MAX = 300  # characters of a note kept with an answer
ANSWER_KINDS = ("V", "M")  # a reminder (R) is the person's own: nothing to answer


def reaction_state(key: str | None) -> str | None:
    """The answer a reaction gives, or None (not an answer)."""
    if not key:
        return None
    return REACTIONS.get(key.replace(VARIATION_SELECTOR, "").strip())


def _words(state: str) -> str:
    """The words of one answer in the current language (a catalogue entry, comma-separated)."""
    if state == ACCEPTED:
        # TRANSLATORS: words that answer "yes" to an invitation in !rsvp M-3 yes: lower case,
        # comma-separated, no spaces inside a word (French: oui, o, accepte, present).
        return pgettext("rsvp words", "yes, y, accept, accepted, attend")
    if state == DECLINED:
        # TRANSLATORS: words that answer "no" to an invitation (French: non, n, decline, absent).
        return pgettext("rsvp words", "no, n, decline, declined, regrets")
    # TRANSLATORS: words that answer "maybe" to an invitation (French: peut-etre, pe, provisoire).
    return pgettext("rsvp words", "maybe, perhaps, tentative, tbc")


@cache
def answer_words() -> dict[str, str]:
    """Every word that answers, in English and every shipped language, lower case."""
    words: dict[str, str] = {}
    for code in available():
        with language(code):
            for state in (ACCEPTED, DECLINED, TENTATIVE):
                for word in _words(state).split(","):
                    if word.strip():
                        words.setdefault(word.strip().lower(), state)
    return words


def parse_answer(text: str) -> str:
    """`yes`, `oui`, `ja`, `no`, `maybe`, or a reaction emoji -> the answer's state."""
    cleaned = text.strip().lower()
    state = answer_words().get(cleaned) or reaction_state(cleaned)
    if state is None:
        raise ValueError(
            _(
                "{text!r} is not an answer: write {yes}, {no} or {maybe}",
                text=text[:30],
                yes=_first(ACCEPTED),
                no=_first(DECLINED),
                maybe=_first(TENTATIVE),
            )
        )
    return state


def _first(state: str) -> str:
    return _words(state).split(",")[0].strip()


def state_name(state: str) -> str:
    """An answer as the reader says it."""
    names = {
        ACCEPTED: pgettext("rsvp answer", "accepted"),
        DECLINED: pgettext("rsvp answer", "declined"),
        TENTATIVE: pgettext("rsvp answer", "tentative"),
    }
    return names.get(state, state)


def how_to_answer(code: str, prefix: str) -> str:
    """The line an invitation ends with."""
    command = f"{prefix}rsvp {code}"
    return _(
        "Answer with a reaction on this message: ✅ yes, ❌ no, ❔ maybe; or {command} {yes}, "
        "{no} or {maybe} (a note after --).",
        command=command,
        yes=_first(ACCEPTED),
        no=_first(DECLINED),
        maybe=_first(TENTATIVE),
    )


def tally(answers: Mapping[str, Answer], invited: Iterable[str]) -> str:
    """'2 accepted, 1 declined, 1 tentative, 3 not answered yet' (empty parts left out)."""
    people = set(invited) | set(answers)
    counts = {state: 0 for state in ICON}
    for answer in answers.values():
        counts[answer.state] = counts.get(answer.state, 0) + 1
    waiting = len(people - set(answers))
    parts = []
    if counts[ACCEPTED]:
        parts.append(ngettext("{n} accepted", "{n} accepted", counts[ACCEPTED]))
    if counts[DECLINED]:
        parts.append(ngettext("{n} declined", "{n} declined", counts[DECLINED]))
    if counts[TENTATIVE]:
        parts.append(ngettext("{n} tentative", "{n} tentative", counts[TENTATIVE]))
    if waiting:
        parts.append(ngettext("{n} not answered yet", "{n} not answered yet", waiting))
    return ", ".join(parts)


def compact_tally(answers: Mapping[str, Answer], invited: Iterable[str]) -> str:
    """The tally in an agenda cell: '2✅ 1❌ 1❔ 3…'."""
    people = set(invited) | set(answers)
    counts = {state: 0 for state in ICON}
    for answer in answers.values():
        counts[answer.state] = counts.get(answer.state, 0) + 1
    cells = [f"{counts[s]}{ICON[s]}" for s in ICON if counts[s]]
    waiting = len(people - set(answers))
    if waiting:
        cells.append(f"{waiting}…")
    return " ".join(cells)
