"""What a handler sees and produces: the incoming event, the store, and outgoing messages.

Handlers never send: they append OutMessages, which the runtime writes to the outbox in
the same transaction as their effect, and sends afterwards (exactly once, even after a crash).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiosqlite

from commands.answers import tag_answer
from commands.event_size import fit
from commands.markings.model.marking import Marking
from commands.outbox_row import Queued
from commands.readers import languages_of, reader_language
from commands.render import Rendered, plain
from commands.verifier import Verifier

if TYPE_CHECKING:
    from commands.lookup import Registry
    from config import Settings


def utc_iso(moment: datetime) -> str:
    """Stored form of every instant: UTC, ISO 8601, seconds precision or finer."""
    return moment.astimezone(UTC).isoformat()


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    data: bytes


@dataclass
class OutMessage:
    """One message to send. Target: room_id, or user_id (the bot's DM with that person)."""

    body: str
    html: str | None = None
    room_id: str | None = None
    user_id: str | None = None
    msgtype: str = "m.notice"
    reply_to: str | None = None
    thread_root: str | None = None  # event ID of a thread root
    thread_key: str | None = None  # or the outbox key of a message that became the root
    key: str | None = None  # a unique name, to find this message's event ID later
    mentions: tuple[str, ...] = ()
    attachment: Attachment | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # (user_id, device_id) of an untrusted device that may read this one message (a refusal
    # explaining how to verify); it gets a one-off session, never the room's usual one.
    reveal_to: tuple[str, str] | None = None
    # Time-critical (a reminder): if it leaves the outbox more than this many seconds after
    # it was queued (the homeserver was unreachable), it says so and when it was due.
    late_note_after: float | None = None
    # Who to tell if this message cannot reach its person (a DM that was rejected, an
    # account that is gone, someone not on the allow-list), and about which object:
    # {"user_id": who, "room_id"/"thread_key"/"thread_root"/"reply_to": where, "object": "LR-3"}.
    # Filled by Context.send for DMs sent on someone's behalf; domains may name a thread.
    origin: dict[str, Any] | None = None
    # The handling marking of the object this message is about, and that object's ID
    # ("LR-4"): the outbox adds the banner and sends it only to people it covers.
    marking: Marking | None = None
    about: str | None = None
    # How long it is worth sending (commands/outbox_row.Queued.kind); Context sets it.
    kind: str | None = None
    # The objects a listing or file holds (IDs): routed by their combined marking at send time.
    holds: tuple[str, ...] = ()

    def content(self) -> dict[str, Any]:
        """The event content, minus what needs the sent event IDs (resolved at send time)."""
        content: dict[str, Any] = {"msgtype": self.msgtype, "body": self.body}
        if self.html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = self.html
        content["m.mentions"] = {"user_ids": sorted(set(self.mentions))} if self.mentions else {}
        content.update(self.extra)
        return content

    def to_row(self) -> dict[str, Any]:
        queued = Queued(
            content=self.content(),
            reply_to=self.reply_to,
            thread_root=self.thread_root,
            thread_key=self.thread_key,
            reveal_to=self.reveal_to,
            late_note_after=self.late_note_after,
            origin=self.origin,
            marking=self.marking.to_json() if self.marking is not None else None,
            about=self.about,
            kind=self.kind,
            holds=list(self.holds) if self.holds else None,
            attachment=(
                {"filename": self.attachment.filename, "mimetype": self.attachment.mimetype}
                if self.attachment is not None
                else None
            ),
        )
        return {
            "room_id": self.room_id,
            "user_id": self.user_id,
            "content": queued.dumps(),
            "attachment": self.attachment.data if self.attachment else None,
            "key": self.key,
        }


def _routed(kw: dict[str, Any]) -> bool:
    """A message routed by a marking: its own, or its objects' (which may change before
    it is sent)."""
    return bool(kw.get("marking") or kw.get("about") or kw.get("holds"))


@dataclass(frozen=True)
class Person:
    user_id: str
    display_name: str | None
    roles: frozenset[str]
    timezone: str
    language: str = "en"  # the catalogue their replies are rendered in (commands/i18n.py)
    # Roles they hold but that count only once their identity is verified (the setting
    # verified_for_roles): not in `roles`, kept to say why a command is refused.
    withheld_roles: frozenset[str] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)


@dataclass(frozen=True)
class Incoming:
    """A message or reaction as the runtime saw it, after decryption and trust checks."""

    event_id: str
    room_id: str
    sender: str
    body: str = ""
    timestamp_ms: int = 0
    thread_root: str | None = None
    reply_to: str | None = None
    reaction_key: str | None = None
    reaction_target: str | None = None
    # (sender key, Megolm session ID, message index) of the ciphertext it was decrypted
    # from; the dispatcher refuses a second event with the same one (a replay).
    megolm: tuple[str, str, int] | None = None
    # An edit (m.replace): the event ID it replaces; body is the edit's new text.
    replaces: str | None = None
    # A redaction (m.room.redaction, never encrypted): the event ID it removes.
    redacts: str | None = None


@dataclass(frozen=True)
class Job:
    """A scheduled job as its handler sees it; late_seconds > 0 when it fired after due_at."""

    id: int
    kind: str
    ref: str
    due_at: datetime
    payload: dict[str, Any]
    late_seconds: float


@dataclass
class Context:
    """Everything one handler run needs; `db` is inside the run's write transaction."""

    db: aiosqlite.Connection
    settings: Settings
    registry: Registry
    now: datetime
    person: Person | None = None
    incoming: Incoming | None = None
    correlation_id: str = ""
    outbox: list[OutMessage] = field(default_factory=list)
    scheduled: list[int] = field(default_factory=list)
    unscheduled: list[int] = field(default_factory=list)
    # The runtime's interactive verification (bot/verification/); None where there is none.
    verifier: Verifier | None = None

    # -- who and where -----------------------------------------------------------------

    @property
    def sender(self) -> str:
        assert self.person is not None
        return self.person.user_id

    @property
    def room_id(self) -> str | None:
        return self.incoming.room_id if self.incoming else None

    @property
    def prefix(self) -> str:
        return self.settings.command_prefix

    @property
    def is_admin(self) -> bool:
        return self.person is not None and "admin" in self.person.roles

    # -- output ------------------------------------------------------------------------

    def reply(self, text: str | Rendered, **kw: Any) -> OutMessage:
        """Answer in the command's room, as a reply to the command (traceable)."""
        rendered = plain(text) if isinstance(text, str) else text
        kw.setdefault("room_id", self.room_id)
        if self.incoming is not None:
            kw.setdefault("reply_to", self.incoming.event_id)
            if self.incoming.thread_root:
                kw.setdefault("thread_root", self.incoming.thread_root)
        if _routed(kw) and "origin" not in kw and self.person is not None:
            kw["origin"] = self.origin(kw.get("about"))  # told who a marking kept it from
        kw.setdefault("kind", "reply" if self.incoming is not None else "scheduled")
        return self._queue(rendered, kw)

    def send(self, text: str | Rendered, **kw: Any) -> OutMessage:
        """Send to a room (room_id=) or a person's DM (user_id=).

        A DM to someone else on a person's behalf remembers that person (origin), so they
        are told, where they asked, if it cannot be delivered.
        """
        rendered = plain(text) if isinstance(text, str) else text
        if kw.get("user_id") and "origin" not in kw and self.person is not None:
            if kw["user_id"] != self.person.user_id:
                kw["origin"] = self.origin()
        if _routed(kw) and "origin" not in kw and self.person is not None:
            kw["origin"] = self.origin(kw.get("about"))  # told who a marking kept it from
        kw.setdefault("kind", "message" if self.incoming is not None else "scheduled")
        return self._queue(rendered, kw)

    # -- languages: render for someone else in their language (commands/i18n.py) -------

    async def language_for(self, *, user_id: str | None = None, room_id: str | None = None) -> str:
        """The language of a message to a person's DM (user_id) or to a room (room_id): a
        DM room reads in its person's, a post's or summit's room in its own (lang=)."""
        if user_id is None and room_id is None:
            return self.person.language if self.person is not None else self.settings.language
        return await reader_language(
            self.db, self.settings.language, user_id=user_id, room_id=room_id
        )

    async def send_each(
        self, users: Iterable[str], build: Callable[[str], str | Rendered], **kw: Any
    ) -> list[OutMessage]:
        """One DM to each person, `build(user_id)` called in that person's language
        (within `language()`: what it renders with `_()` reads in theirs)."""
        from commands.i18n import language

        people = list(dict.fromkeys(users))
        langs = await languages_of(self.db, people, self.settings.language)
        sent = []
        for user in people:
            with language(langs[user]):
                sent.append(self.send(build(user), **{**kw, "user_id": user}))
        return sent

    def _queue(self, rendered: Rendered, kw: dict[str, Any]) -> OutMessage:
        """Append one message, or several if it is too large for one Matrix event."""
        tag_answer(self.incoming, kw)  # an edit's or a reaction's answer names it
        parts = fit(rendered.body, rendered.html)
        first = OutMessage(body=parts[0][0], html=parts[0][1], **kw)
        self.outbox.append(first)
        for number, (body, _) in enumerate(parts[1:], start=2):
            # The rest follows in the first part's thread, without notifying anyone again.
            rest = {**kw, "mentions": (), "reply_to": None, "key": None, "attachment": None}
            if first.thread_root is None and first.thread_key is None and first.key:
                rest["thread_key"] = first.key
            extra = {**first.extra, "org.attache.part": [number, len(parts)]}
            self.outbox.append(OutMessage(body=body, **{**rest, "extra": extra}))
        return first

    def origin(self, obj: str | None = None, thread_key: str | None = None) -> dict[str, Any]:
        """Where to tell the acting person about an undeliverable message: their own thread
        (thread_key), else as a reply to their command."""
        assert self.person is not None
        where: dict[str, Any] = {"user_id": self.person.user_id, "object": obj}
        if thread_key is not None:
            where["thread_key"] = thread_key
        elif self.incoming is not None:
            where.update(
                room_id=self.incoming.room_id,
                reply_to=self.incoming.event_id,
                thread_root=self.incoming.thread_root,
            )
        return where

    # -- scheduling (the scheduler indexes these rows after commit) --------------------

    async def schedule(
        self, kind: str, ref: str, due_at: datetime, payload: dict[str, Any] | None = None
    ) -> int | None:
        """Add a job; the same (kind, ref, due_at) twice is one job. Returns its id.

        The one rule for jobs of changed or cancelled things: a job cancelled earlier (an
        edit moved the time away, then back) is pending again with the new payload; a job
        that already fired stays fired (None), so nothing is sent twice.
        """
        cur = await self.db.execute(
            "INSERT INTO jobs (kind, ref, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, ref, due_at) DO UPDATE SET state = 'pending', "
            "payload = excluded.payload WHERE jobs.state = 'cancelled' RETURNING id",
            (kind, ref, utc_iso(due_at), json.dumps(payload or {}), utc_iso(self.now)),
        )
        row = await cur.fetchone()
        await cur.close()
        if row is None:
            return None
        self.scheduled.append(int(row[0]))
        return int(row[0])

    async def unschedule(self, kind: str, ref: str) -> int:
        """Cancel every pending job of this kind for this object."""
        cur = await self.db.execute(
            "UPDATE jobs SET state = 'cancelled' WHERE kind = ? AND ref = ? AND state = 'pending' "
            "RETURNING id",
            (kind, ref),
        )
        ids = [int(r[0]) for r in await cur.fetchall()]
        await cur.close()
        self.unscheduled.extend(ids)
        return len(ids)

    # -- audit -------------------------------------------------------------------------

    async def audit(self, action: str, obj: str | None = None, detail: str = "") -> None:
        actor = self.person.user_id if self.person else "bot"
        await self.db.execute(
            "INSERT INTO audit (at, actor, action, object, detail, event_id) VALUES (?,?,?,?,?,?)",
            (
                utc_iso(self.now),
                actor,
                action,
                obj,
                detail,
                self.incoming.event_id if self.incoming else None,
            ),
        )
