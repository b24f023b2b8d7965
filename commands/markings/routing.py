"""The send-time decision for one marked message, pure: who gets it, who does not, and what
a room that may not see it gets instead. bot/outbox.py applies it to every row."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from commands.context import OutMessage
from commands.markings.model import Marking, Policy, Subject, remarked_notice


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


def room_notice(about: str | None, marking: Marking) -> str:
    """The one line a room gets instead of a marked message: object and marking, no content."""
    what = about or "A marked message"
    return (
        f"{what} ({marking.banner}) is not shown in this room: it is not releasable to "
        "everyone here. The people it is releasable to get it by direct message."
    )


def withheld_notice(about: str | None, marking: Marking, excluded: list[tuple[str, str]]) -> str:
    """What the sender is told, by name: (label, reason) of each person left out."""
    what = about or "a marked message"
    who = "; ".join(f"{label}: {reason}" for label, reason in excluded)
    return f"{marking.banner}: I did not send {what} to {who}."


def with_banner(content: dict[str, Any], marking: Marking | None) -> dict[str, Any]:
    """The marking line first, in the plain body and in the HTML: one place for every
    message about a marked object. A file's body is its caption (it has `filename`), so a
    marked file carries the line there too."""
    if marking is None:
        return content
    out = dict(content)
    line = marking.banner
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
) -> tuple[list[OutMessage], tuple[Subject, ...]]:
    """A re-marked object: the DMs telling each holder no longer covered that it was
    re-marked (the fact, nothing of the content, not marked itself), and the people to
    whom the domain now sends the object (widened). The domain queues both; anything it
    sends later with the new marking is checked again at send time anyway."""
    change = policy.remark(old, new, holders, addressees)
    told = [
        OutMessage(body=remarked_notice(about, new), user_id=person.user_id)
        for person, _ in change.withdrawn
    ]
    return told, change.newly
