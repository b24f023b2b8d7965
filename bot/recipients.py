"""Who in this room may read this row now: the send-time decision the outbox applies to
every row, marked or not, below every command.

It is decided when the row leaves, never from what was true when it was queued:
- the room's members as the homeserver has them now, joined and invited (`/members`, so
  people invited before the bot joined count too; cached, and forgotten on every membership
  event the sync loop sees, and after a few seconds anyway);
- a DM is a room of exactly the bot and one person at that moment; a row rendered for one
  person (Queued.reader: a reply in their DM, with their clearance or marked lines in full)
  goes into a room only while that person is its only other member;
- the marking of the objects the row is about (`about`, `holds`) as they are marked now, each
  combined with its container's (an item's summit: commands/markings/current.py): a re-mark
  (the item's or its summit's) or a level the operator removed applies to rows already
  queued. An object that cannot be found, a level that is not configured, a nation that is
  not known or a person the directory does not place is withheld (fail closed; audited and
  counted by the outbox).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.clock import Clock
from bot.store import Store
from commands.markings import Marking, Policy, Subject
from commands.markings import store as marked_store
from commands.markings.current import markings_now, object_id
from commands.markings.routing import decide_room
from commands.outbox_row import Queued

# How long a room's members are trusted without a membership event in between (seconds).
MEMBERS_MAX_AGE = 5.0


class Members(Protocol):
    async def room_members(self, room_id: str) -> list[str]: ...


@dataclass(frozen=True)
class Verdict:
    """What to do with a row in a room.

    send: send it (with `marking`'s banner, if any). split: a marked row some member of a
    room is not covered by: the room gets the notice, `covered` get it by DM, `excluded`
    are named to the sender. withhold: the room is a DM now and its one person is not
    covered: nothing goes into it (not even a notice). redirect: rendered for `reader`, who
    is no longer alone with the bot here: it goes to their DM instead, nothing into the room.
    """

    action: Literal["send", "split", "redirect", "withhold"]
    marking: Marking | None = None
    covered: tuple[Subject, ...] = ()
    excluded: tuple[tuple[Subject, str], ...] = ()
    reader: str | None = None


class ObjectMissing(Exception):
    """A row is about an object the store no longer has: it goes to nobody."""


class Recipients:
    def __init__(self, store: Store, transport: Members, clock: Clock, policy: Policy) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.policy = policy
        self._members: dict[str, tuple[float, list[str]]] = {}

    def forget(self, room_id: str | None = None) -> None:
        """A membership changed (the sync loop saw an event): ask the server again."""
        if room_id is None:
            self._members.clear()
        else:
            self._members.pop(room_id, None)

    async def members(self, room_id: str) -> list[str]:
        """Everyone but the bot joined or invited in the room, as the server has it."""
        cached = self._members.get(room_id)
        now = self.clock.monotonic()
        if cached is not None and now - cached[0] <= MEMBERS_MAX_AGE:
            return cached[1]
        found = sorted(set(await self.transport.room_members(room_id)))
        self._members[room_id] = (now, found)
        return found

    async def is_dm(self, room_id: str, user_id: str) -> bool:
        """A DM with this person: exactly the bot and them, joined or invited, now."""
        return await self.members(room_id) == [user_id]

    async def marking(self, meta: Queued) -> Marking | None:
        """The marking a row carries now: its objects' combined current marking (the one
        queued with it when it names none). Raises ObjectMissing for an object not found."""
        named = meta.holds or ([meta.about] if meta.about else [])
        ids = [oid for text in named if (oid := object_id(text))]
        if not ids:
            return Marking.from_json(meta.marking)
        found, missing = await markings_now(self.store.reader, ids, self.policy)
        if missing:
            raise ObjectMissing(", ".join(missing))
        return self.policy.combine(found.values())

    async def exclusion(self, marking: Marking | None, user_id: str) -> str | None:
        """Why this person may not read a row with this marking (None: they may)."""
        if marking is None:
            return None
        person = (await marked_store.subjects(self.store.reader, [user_id]))[0]
        return self.policy.exclusion(marking, person)

    async def in_room(self, room_id: str, marking: Marking | None, reader: str | None) -> Verdict:
        """Who in this room may read a row with this marking, rendered for `reader` (or
        for the room when None), now."""
        if reader is None and marking is None:
            return Verdict("send")  # rendered for any room, releasable to all: nothing to ask
        members = await self.members(room_id)
        if reader is not None and members != [reader]:
            return Verdict("redirect", marking, reader=reader)
        if marking is None:
            return Verdict("send")
        people = await marked_store.subjects(self.store.reader, members)
        decision = decide_room(self.policy, marking, people)
        if decision.send_content:
            return Verdict("send", marking)
        if len(members) == 1:  # a DM now: its person learns nothing of it, not even a notice
            return Verdict("withhold", marking, excluded=decision.excluded)
        return Verdict("split", marking, decision.covered, decision.excluded)


def with_note(content: dict[str, Any], note: str) -> dict[str, Any]:
    """The content with one line before it (plain and HTML)."""
    out = dict(content)
    out["body"] = f"{note}\n{content.get('body', '')}"
    if "formatted_body" in content:
        out["formatted_body"] = f"<p><em>{html.escape(note)}</em></p>{content['formatted_body']}"
    return out
