"""What one person's week holds, as lines in the current reader's language: requests waiting
for them and those they wait on (oldest first), action items due this week (and overdue
ones), the week's visits and meetings from now on. Releasability is applied here, line by
line, as every listing applies it (commands/markings/store.Reader): a line not released to
the person is not there (not in a count either); in a room a marked line is its ID and
marking only; a marked line shown in full carries its banner and its ID (`held`), so the
message is routed by their combined marking when it is sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from commands.actions.model import ACTIVE as ITEMS_ACTIVE
from commands.actions.store import get_item, get_summit
from commands.brief.model import SCREEN_LINES
from commands.brief.store import (
    items_due_by,
    requests_made_by,
    requests_waiting_for,
    scheduled_for,
)
from commands.directory.service import posts_of
from commands.i18n import N_, _, pgettext
from commands.liaison.store import Request, load_request, party_of
from commands.markings.model.marking import Marking
from commands.markings.store import Reader, withheld_cell
from commands.schedule.rsvp_store import ACCEPTED, DECLINED, TENTATIVE, Answer, answers_for
from commands.schedule.store import Item as Scheduled
from commands.schedule.store import load_item
from commands.time import fmt, show_instant

# A request is waiting for its addressees until they answer (or decline); its requester
# waits on them as long.
WAITING = ("open", "acknowledged")
MEETING_KINDS = ("M", "V")
SUBJECT_CHARS = 60  # a line's free text, clipped: one screen, not one request's essay


@dataclass(frozen=True)
class Line:
    ref: str
    text: str
    held: bool = False  # a marked object shown in full: the message holds it


@dataclass
class Section:
    """One part of the brief: its heading, its lines in order, and the command that lists
    all of them (shown with the count of those that did not fit)."""

    key: str
    title: str
    command: str
    lines: list[Line] = field(default_factory=list)
    more: int = 0  # released to the reader but not even loaded: past one screen


TITLES = {
    "waiting": N_("Waiting for you"),
    "waiting_on": N_("You are waiting on"),
    "items": N_("Action items due this week"),
    "meetings": N_("Visits and meetings this week"),
}


def clip(text: str, chars: int = SUBJECT_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def rsvp_label(item: Scheduled, user_id: str, answers: Mapping[str, Answer]) -> str:
    """The answers to an invitation on its line (commands/schedule/rsvp_store): to its
    organiser, the tally of those given; to a participant, their own answer, or that they
    have not answered yet."""
    if user_id == item.creator:
        if not answers:
            return ""
        counts = Counter(a.state for a in answers.values())
        return " · " + _(
            "{accepted} accepted, {declined} declined, {tentative} tentative",
            accepted=counts[ACCEPTED],
            declined=counts[DECLINED],
            tentative=counts[TENTATIVE],
        )
    mine = answers.get(user_id)
    if mine is None:
        return " · " + _("not answered yet")
    return " · " + _("you: {answer}", answer=answer_name(mine.state))


def answer_name(state: str) -> str:
    names = {
        ACCEPTED: pgettext("rsvp answer", "accepted"),
        DECLINED: pgettext("rsvp answer", "declined"),
        TENTATIVE: pgettext("rsvp answer", "tentative"),
    }
    return names.get(state, state)


def _marked(ref: str, marking: Marking | None, shows: str, text: str) -> Line:
    """A line as the reader may see it: whole, with the banner when marked, or (in a room)
    the ID and marking only."""
    if marking is None:
        return Line(ref, text)
    if shows == "id":
        return Line(ref, f"{ref} · {marking.shown()}: {withheld_cell(marking)}")
    return Line(ref, f"{ref} · {marking.shown()} · {text.removeprefix(ref + ' ').lstrip()}", True)


def _overdue(text: str, late: bool) -> str:
    return f"{text} · {_('OVERDUE')}" if late else text


def _request_line(req: Request, zone: str, now: datetime, incoming: bool) -> str:
    subject = clip(req.subject)
    if incoming:
        text = _(
            "{ref} from {party}: {subject}",
            ref=req.label,
            party=party_of(req.requester),
            subject=subject,
        )
    else:
        text = _(
            "{ref} to {party}: {subject}",
            ref=req.label,
            party=party_of(req.target),
            subject=subject,
        )
    if req.due_at is not None:
        text += " · " + _("due {due}", due=show_instant(req.due_at, zone))
    return _overdue(text, req.due_at is not None and req.due_at < now)


async def gather(
    db: aiosqlite.Connection,
    user_id: str,
    zone: str,
    span: tuple[datetime, datetime],
    now: datetime,
    reader: Reader,
    prefix: str,
) -> list[Section]:
    """The person's week, [span) in UTC; meetings and visits from now on."""
    start, end = span
    waiting = Section("waiting", _(TITLES["waiting"]), f"{prefix}requests incoming")
    waiting_on = Section("waiting_on", _(TITLES["waiting_on"]), f"{prefix}requests outgoing")
    items = Section("items", _(TITLES["items"]), f"{prefix}actions list owner=me")
    meetings = Section("meetings", _(TITLES["meetings"]), f"{prefix}agenda 7")

    for section, candidates, incoming in (
        (waiting, await requests_waiting_for(db, user_id, WAITING), True),
        (waiting_on, await requests_made_by(db, user_id, WAITING), False),
    ):
        released = [(n, m) for n, m in candidates if reader.shows(m) != "none"]
        section.more = max(0, len(released) - SCREEN_LINES)
        for number, _marking in released[:SCREEN_LINES]:
            req = await load_request(db, number)
            if req is None or (shows := reader.shows(req.marking)) == "none":
                continue
            text = _request_line(req, zone, now, incoming)
            section.lines.append(_marked(req.label, req.marking, shows, text))

    owners = [user_id, *await posts_of(db, user_id)]
    due = await items_due_by(db, owners, ITEMS_ACTIVE, end)
    # The item, or its summit, not released to them: not there, not in a count.
    released_items = [n for n, *marks in due if all(reader.shows(m) != "none" for m in marks)]
    items.more = max(0, len(released_items) - SCREEN_LINES)
    for number in released_items[:SCREEN_LINES]:
        item = await get_item(db, number)
        summit = await get_summit(db, item.summit_id) if item is not None else None
        if item is None or summit is None:
            continue
        shown = [reader.shows(m) for m in (item.marking, summit.marking)]
        if "none" in shown:
            continue
        text = _(
            "{ref} due {due}: {text} ({summit})",
            ref=item.ref,
            due=item.due_for(zone),
            text=clip(item.text),
            summit=summit.ref,
        )
        text = _overdue(text, item.overdue(now))
        marking = reader.policy.combine([item.marking, summit.marking])
        items.lines.append(_marked(item.ref, marking, "id" if "id" in shown else "full", text))

    frm = max(start, now)
    occurrences: list[tuple[datetime, Scheduled]] = []
    for kind, number in await scheduled_for(db, user_id, MEETING_KINDS, frm, end):
        found = await load_item(db, kind, number)
        if found is None or reader.shows(found.marking) == "none":
            continue
        occurrences += [(occ, found) for occ in found.occurrences(frm, end, 50)]
    occurrences.sort(key=lambda pair: (pair[0], pair[1].code))
    answers = await answers_for(db, {found.id for _occ, found in occurrences})
    for occ, found in occurrences:
        when = fmt(occ, zone).rsplit(" ", 1)[0]  # the zone is in the title
        text = _("{ref} {when}: {title}", ref=found.code, when=when, title=clip(found.title))
        if found.place:
            text += f" · {clip(found.place, 40)}"
        text += rsvp_label(found, user_id, answers.get(found.id, {}))
        meetings.lines.append(_marked(found.code, found.marking, reader.shows(found.marking), text))
    return [waiting, waiting_on, items, meetings]
