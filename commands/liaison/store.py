"""Liaison requests in the store: rows, threads, history, and each side's people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from commands import history
from commands.context import Context, parse_utc, utc_iso
from commands.directory.service import find_post, post_members
from commands.errors import NotFound
from commands.i18n import _
from commands.ids import ObjectId
from commands.liaison.model import ACTIVE, Side
from commands.markings.access import resolve
from commands.markings.entries import written_under
from commands.markings.model.marking import Marking
from commands.readers import zones_of
from commands.render import person
from commands.verified import admins_in_force

# -- what a request is ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: int
    requester: str
    target: str  # a post code or a Matrix ID
    subject: str
    body: str | None
    precedence: str
    status: str
    due_at: datetime | None
    due_zone: str | None
    created_at: datetime
    addressees: tuple[str, ...]
    marking: Marking | None = None

    @property
    def label(self) -> str:
        return f"LR-{self.id}"

    @property
    def marked(self) -> dict[str, Any]:
        """What every message about this request carries, so the outbox banners and
        routes it by the request's marking as it is when sent (unmarked too: a re-mark
        applies to what is already queued)."""
        return {"marking": self.marking, "about": self.label}

    def side(self, user_id: str | None) -> Side | None:
        if user_id == self.requester:
            return "requester"
        if user_id in self.addressees:
            return "addressee"
        return None


@dataclass(frozen=True)
class Thread:
    key: str
    side: str
    user_id: str | None
    room_id: str | None
    event_id: str | None  # the root's event ID once the outbox has sent it


# -- reading the directory ------------------------------------------------------------------


async def post_addressees(db: aiosqlite.Connection, code: str) -> tuple[str, str | None, list[str]]:
    """A post's stored code, its room (if any) and members; NotFound if there is no such post."""
    post = await find_post(db, code)
    if post is None:
        raise NotFound(
            _(
                "No post {code} in the directory. Check the code, or address a person by "
                "Matrix ID.",
                code=code[:40],
            ),
            # TRANSLATORS: an example command: translate the subject and the text after --.
            example=_(
                "{command} {post} Visit of the CHOD -- dates and programme?",
                command="!request",
                post="DE-BERLIN",
            ),
        )
    return post[0], post[1], await post_members(db, post[0])


async def name_of(db: aiosqlite.Connection, user_id: str) -> str:
    """A person as Element shows them (name, pill); see commands.render.person."""
    return person(user_id)


def party_of(target: str) -> str:
    """A request's target: a person by name, a post by its code."""
    return person(target) if target.startswith("@") else target


async def zone_of(ctx: Context, user_id: str | None) -> ZoneInfo:
    if user_id is None:
        return ZoneInfo(ctx.settings.timezone)
    return ZoneInfo((await zones_of(ctx.db, [user_id], ctx.settings.timezone))[user_id])


async def liaison_admins(ctx: Context) -> list[str]:
    """The configured admins (the directory cannot make anyone an admin) whose role is in
    force: verified ones only under `verified_for_roles: [admin]`."""
    return await admins_in_force(ctx.db, ctx.settings)


# -- store ---------------------------------------------------------------------------------


async def load_request(db: aiosqlite.Connection, number: int) -> Request | None:
    return (await load_requests(db, [number])).get(number)


async def load_requests(db: aiosqlite.Connection, numbers: list[int]) -> dict[int, Request]:
    """These requests by number, in two queries whatever their count (a listing's page)."""
    if not numbers:
        return {}
    marks = ",".join("?" * len(numbers))
    async with db.execute(f"SELECT * FROM liaison_requests WHERE id IN ({marks})", numbers) as cur:
        rows = await cur.fetchall()
    addressees: dict[int, list[str]] = {int(row["id"]): [] for row in rows}
    async with db.execute(
        f"SELECT request_id, user_id FROM liaison_addressees WHERE request_id IN ({marks}) "
        "ORDER BY request_id, user_id",
        numbers,
    ) as cur:
        for request_id, user_id in await cur.fetchall():
            addressees[int(request_id)].append(user_id)
    return {
        int(row["id"]): Request(
            id=row["id"],
            requester=row["requester"],
            target=row["target"],
            subject=row["subject"],
            body=row["body"],
            precedence=row["precedence"],
            status=row["status"],
            due_at=parse_utc(row["due_at"]) if row["due_at"] else None,
            due_zone=row["due_zone"],
            created_at=parse_utc(row["created_at"]),
            addressees=tuple(addressees[int(row["id"])]),
            marking=Marking.from_column(row["marking"]),
        )
        for row in rows
    }


async def active_requests_of(db: aiosqlite.Connection, user_id: str) -> list[Request]:
    """Every request still under way that this person made or must answer, oldest first
    (a hand-over moves them to a successor)."""
    states = sorted(ACTIVE)
    marks = ",".join("?" * len(states))
    async with db.execute(
        f"SELECT id FROM liaison_requests WHERE requester = ? AND status IN ({marks}) "
        f"UNION SELECT r.id FROM liaison_requests r JOIN liaison_addressees a "
        f"ON a.request_id = r.id WHERE a.user_id = ? AND r.status IN ({marks}) ORDER BY 1",
        (user_id, *states, user_id, *states),
    ) as cur:
        numbers = [int(r[0]) for r in await cur.fetchall()]
    found = await load_requests(db, numbers)
    return [found[n] for n in numbers if n in found]


async def visible_request(ctx: Context, number: int) -> Request:
    """The request if the reader is a party or an admin and it is released to them;
    otherwise it does not exist for them."""
    return await resolve(
        ctx,
        await load_request(ctx.db, number),
        may_see=lambda req: req.side(ctx.sender) is not None or ctx.is_admin,
        missing=lambda: no_such_request(number),
    )


def no_such_request(number: int) -> NotFound:
    """The answer for a request that does not exist for the reader (commands.markings.access)."""
    return NotFound(
        _(
            "No such request: {id}. Send {command} for yours.",
            id="LR-" + str(number),
            command="!requests",
        )
    )


async def threads_of(db: aiosqlite.Connection, request_id: int) -> list[Thread]:
    async with db.execute(
        "SELECT t.key, t.side, t.user_id, t.room_id, o.event_id FROM liaison_threads t "
        "LEFT JOIN outbox o ON o.key = t.key WHERE t.request_id = ? ORDER BY t.rowid",
        (request_id,),
    ) as cur:
        return [Thread(*r) for r in await cur.fetchall()]


async def thread_of_event(
    db: aiosqlite.Connection, event_id: str, room_id: str
) -> tuple[int, Thread] | None:
    """The request thread whose root was sent as this event in this room. A relation may
    name any room's event (the homeserver cannot check one inside the ciphertext): one
    that points at another room's event is no reply, reaction or thread reply to it."""
    async with db.execute(
        "SELECT t.request_id, t.key, t.side, t.user_id, t.room_id, o.event_id "
        "FROM outbox o JOIN liaison_threads t ON t.key = o.key "
        "WHERE o.event_id = ? AND o.room_id = ?",
        (event_id, room_id),
    ) as cur:
        row = await cur.fetchone()
    return (int(row[0]), Thread(*row[1:])) if row else None


async def record_step(
    ctx: Context, req: Request, action: str, status: str, detail: str = "", audit: str = ""
) -> None:
    """History of the request (its own, shown by !request LR-n) and the audit log.

    The audit log gets `audit`, never the people's text (replies, reasons), which stays with
    the request it belongs to.
    """
    actor = ctx.person.user_id if ctx.person else "bot"
    await history.record(
        ctx.db,
        ObjectId("LR", req.id),
        ctx.now,
        actor,
        action,
        new=status,
        detail=detail,
        marking=written_under(req.marking),
    )
    await ctx.audit(f"lr.{action}", req.label, audit or status)


async def set_status(ctx: Context, req: Request, status: str) -> None:
    await ctx.db.execute(
        "UPDATE liaison_requests SET status = ?, updated_at = ? WHERE id = ?",
        (status, utc_iso(ctx.now), req.id),
    )
    if status != "open":
        await ctx.unschedule("lr.escalate", req.label)
    if status not in ("open", "acknowledged"):
        await ctx.unschedule("lr.due", req.label)
