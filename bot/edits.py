"""Element's edits (m.replace) against the event ledger: what an edit of a command means.

An edit is a new event that names the one it replaces. Its new text is a command the
person still wants done only if nothing of the chain (the original and its earlier edits)
took effect; otherwise running it would apply the command twice, so the person is told
how to change what the first one did. Every edit row in the ledger names the chain's
original (`replaces`), so a chain is one indexed lookup, however a client chains edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import aiosqlite

from commands.i18n import _
from commands.lookup import Registry

# Outcomes in the ledger that changed something; any other outcome left nothing behind.
APPLIED = "ok"
_TYPED_ID = re.compile(r"^([A-Z]{1,3})-\d{1,9}$")
# An option that most often needs correcting, per kind of object, for the hint.
_EDIT_SAMPLE = {"V": "start", "M": "start", "R": "start", "A": "due", "S": "name"}


@dataclass
class Chain:
    """An original event and its edits as the ledger knows them."""

    root: str
    sender: str
    thread_root: str | None
    applied: list[tuple[str, str | None]] = field(default_factory=list)  # (event, command)


async def load_chain(db: aiosqlite.Connection, event_id: str) -> Chain | None:
    """The chain `event_id` belongs to (it may itself be an edit), or None if never handled."""
    async with db.execute(
        "SELECT event_id, sender, replaces, thread_root FROM handled_events WHERE event_id = ?",
        (event_id,),
    ) as cur:
        row = await cur.fetchone()
    # An original the bot never handled (plain chat, later edited into a command) has no
    # row of its own, but its handled edits name it.
    root = (row["replaces"] or row["event_id"]) if row is not None else event_id
    async with db.execute(
        "SELECT event_id, sender, command, outcome, replaces, thread_root FROM handled_events "
        "WHERE event_id = ? OR replaces = ? ORDER BY rowid",
        (root, root),
    ) as cur:
        rows = list(await cur.fetchall())
    if not rows:
        return None
    first = next((r for r in rows if r["event_id"] == root), rows[0])
    chain = Chain(root=root, sender=first["sender"], thread_root=first["thread_root"])
    for r in rows:
        # Only the original sender's events belong to the chain; others were ignored.
        if r["sender"] == chain.sender and r["outcome"] == APPLIED:
            chain.applied.append((r["event_id"], r["command"]))
    return chain


async def superseded(db: aiosqlite.Connection, event_id: str) -> bool:
    """An edit of this event was handled already (seen first after a gap): skip the original."""
    async with db.execute(
        "SELECT 1 FROM handled_events WHERE replaces = ? LIMIT 1", (event_id,)
    ) as cur:
        return await cur.fetchone() is not None


async def changed_anything(db: aiosqlite.Connection, event_ids: list[str]) -> bool:
    """Whether these events changed anything: every change a command makes is audited with
    its event (tests/unit/test_examples.py checks that), so a read-only one has no row."""
    if not event_ids:
        return False
    marks = ",".join("?" * len(event_ids))
    async with db.execute(
        f"SELECT 1 FROM audit WHERE event_id IN ({marks}) LIMIT 1", event_ids
    ) as cur:
        return await cur.fetchone() is not None


async def objects_made_by(db: aiosqlite.Connection, event_ids: list[str]) -> list[str]:
    """Typed IDs (M-3, A-7, LR-2) the audit log ties to these events, oldest first."""
    if not event_ids:
        return []
    marks = ",".join("?" * len(event_ids))
    async with db.execute(
        f"SELECT object FROM audit WHERE event_id IN ({marks}) AND object IS NOT NULL ORDER BY id",
        event_ids,
    ) as cur:
        found = [str(r[0]) for r in await cur.fetchall()]
    return list(dict.fromkeys(o for o in found if _TYPED_ID.match(o)))


def not_applied_text(registry: Registry, chain: Chain, objects: list[str], new_text: str) -> str:
    """Why the edit did nothing, and the command that does what the person wants."""
    prefix = registry.prefix
    command = next((c for _event, c in reversed(chain.applied) if c), None)
    if command is not None and command.startswith("<"):
        return _(
            "I did not relay your edit: the first version was already passed on. "
            "Send the correction as a new reply in the thread."
        )
    if command:
        shown = prefix + command
        lines = [_("Your edit was not applied: {command} had already taken effect.", command=shown)]
    else:
        lines = [_("Your edit was not applied: That command had already taken effect.")]
    if objects:
        code = objects[-1]
        kind = code.split("-", 1)[0]
        if ("edit", kind) in registry.typed:
            key = _EDIT_SAMPLE.get(kind, "key")
            edit = " ".join((prefix + "edit", code, key + "=…"))
            help_for = " ".join((prefix + "help", command or "edit"))
            lines.append(
                _(
                    "To change {code}, send {edit} (see {help} for what can change).",
                    code=code,
                    edit=edit,
                    help=help_for,
                )
            )
        elif ("cancel", kind) in registry.typed:
            cancel = " ".join((prefix + "cancel", code))
            lines.append(
                _(
                    "To change {code}: {cancel}, then send the corrected command as a new message.",
                    code=code,
                    cancel=cancel,
                )
            )
        else:
            show = " ".join((prefix + "show", code))
            lines.append(_("See it with {show}.", show=show))
    elif registry.is_command(new_text):
        lines.append(
            _(
                "To do it again as edited, send it as a new message: {text}",
                text=new_text[:300],
            )
        )
    return "\n".join(lines)
