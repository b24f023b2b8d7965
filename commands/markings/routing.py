"""The send-time decision for one marked message, pure: who gets it, who does not, and what
a room that may not see it gets instead. bot/outbox/releasability.py applies it to every row.

What people read here is in the current reader's language (commands/i18n.py); the
functions called at send time take the recipient's language code (`lang=`) so the outbox
need not set it around them.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from commands.context import OutMessage
from commands.i18n import _, current, language
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, Subject, remarked_notice
from commands.markings.model.reasons import reason_shown


@contextmanager
def _reading(lang: str | None) -> Iterator[None]:
    """In `lang` if given, else in whatever language is current."""
    with language(lang if lang is not None else current()):
        yield


@dataclass(frozen=True)
class RoomDecision:
    """send_content: every member is covered. Otherwise the room gets `notice` and each of
    `covered` gets the message by DM; `excluded` are named to the sender."""

    send_content: bool
    covered: tuple[Subject, ...]
    excluded: tuple[tuple[Subject, str], ...]


def decide_room(policy: Policy, marking: Marking | None, members: list[Subject]) -> RoomDecision:
    """A room gets a marked message only if EVERY member (joined or invited) is covered."""
    covered: list[Subject] = []
    excluded: list[tuple[Subject, str]] = []
    for member in sorted(members, key=lambda m: m.user_id):
        reason = policy.exclusion(marking, member)
        if reason is None:
            covered.append(member)
        else:
            excluded.append((member, reason))
    return RoomDecision(not excluded, tuple(covered), tuple(excluded))


def room_notice(about: str | None, marking: Marking, lang: str | None = None) -> str:
    """The one line a room gets instead of a marked message: object and marking, no content
    (in `lang`, the room's language; else the current one)."""
    with _reading(lang):
        if about is None:
            return _(
                "A marked message ({banner}) is not shown in this room: it is not releasable "
                "to everyone here. The people it is releasable to get it by direct message.",
                banner=marking.shown(),
            )
        return _(
            "{id} ({banner}) is not shown in this room: it is not releasable to everyone "
            "here. The people it is releasable to get it by direct message.",
            id=about,
            banner=marking.shown(),
        )


def withheld_notice(
    about: str | None,
    marking: Marking,
    excluded: list[tuple[str, str]],
    lang: str | None = None,
) -> str:
    """What the sender is told, by name: (label, reason) of each person left out (in `lang`,
    the sender's language; else the current one)."""
    with _reading(lang):
        who = "; ".join(
            _("{person}: {reason}", person=label, reason=reason_shown(reason))
            for label, reason in excluded
        )
        if about is None:
            return _(
                "{banner}: I did not send a marked message to {people}.",
                banner=marking.shown(),
                people=who,
            )
        return _(
            "{banner}: I did not send {id} to {people}.",
            banner=marking.shown(),
            id=about,
            people=who,
        )


def with_banner(
    content: dict[str, Any], marking: Marking | None, lang: str | None = None
) -> dict[str, Any]:
    """The marking line first, in the plain body and in the HTML: one place for every
    message about a marked object. A file's body is its caption (it has `filename`), so a
    marked file carries the line there too. `lang`: the recipient's language (the person's
    for a DM, the room's for a room; commands.readers.reader_language); else the
    current one."""
    if marking is None:
        return content
    out = dict(content)
    with _reading(lang):
        line = marking.shown()
    out["body"] = f"{line}\n{content.get('body', '')}"
    if "formatted_body" in content:
        banner = f"<p><strong>{html.escape(line)}</strong></p>"
        out["formatted_body"] = f"{banner}{content['formatted_body']}"
    return out


def remark_messages(
    policy: Policy,
    about: str,
    old: Marking | None,
    new: Marking | None,
    holders: list[Subject],
    addressees: list[Subject],
    default_language: str | None = None,
) -> tuple[list[OutMessage], tuple[Subject, ...]]:
    """A re-marked object: the DMs telling each holder no longer covered that it was
    re-marked (the fact, nothing of the content, not marked itself), and the people to
    whom the domain now sends the object (widened). The domain queues both; anything it
    sends later with the new marking is checked again at send time anyway.

    Each DM is in its person's language (Subject.language, from `subjects()`), else in
    `default_language` (pass settings.language), else the current one."""
    change = policy.remark(old, new, holders, addressees)
    told = []
    for person, _reason in change.withdrawn:
        with _reading(person.language or default_language):
            told.append(OutMessage(body=remarked_notice(about, new), user_id=person.user_id))
    return told, change.newly
