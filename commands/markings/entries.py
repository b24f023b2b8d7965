"""Which of an object's history entries a reader may see (issue 22, finding 11b).

An entry is written under the marking its object has at that moment (`written_under`; a
step that re-marks the object is written under the stricter of the two markings,
`remarked`), and shown only where that marking covers whoever reads the answer: in a direct
chat, the person who asked; in a room, everyone the object's marking now releases it to
(the outbox sends the answer to each of them), so the entry's marking must exclude none of
them. Widening an object's releasability therefore shows its new readers only what was
written after they were covered. An entry whose marking is not known (written before
migration 022 and before the object's last re-marking) is shown to no one.
"""

from __future__ import annotations

from collections.abc import Callable

from commands.context import Context
from commands.history import UNMARKED
from commands.markings.access import unmarked
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy
from commands.markings.store import reader_here


def written_under(marking: Marking | None) -> str:
    """How the history records the marking in force when an entry is written."""
    return Marking.column(marking) or UNMARKED


def remarked(ctx: Context, old: Marking | None, new: Marking | None) -> Marking | None:
    """What a re-marking step is written under: the stricter of the two markings (its old
    and new values were written while the old one held, and are read under the new one)."""
    return Policy.from_settings(ctx.settings).combine([old, new])


async def entry_filter(ctx: Context, current: Marking | None) -> Callable[[str | None], bool]:
    """Whether an entry written under this marking (the history's column) may be shown in
    the answer to this command, about an object marked `current` now."""
    reader = await reader_here(ctx)
    policy = reader.policy
    now = None if unmarked(policy, current) else current

    def shown(column: str | None) -> bool:
        if column is None:
            return False  # not known: fail closed
        entry = Marking.from_column(column)
        if unmarked(policy, entry):
            return True
        if reader.room:  # each reader the object is released to now must be covered
            return not policy.stricter(now, entry)
        return reader.person is not None and policy.covers(entry, reader.person)

    return shown
