"""One object ID (kind + number) and handler signatures checked against their declaration."""

from __future__ import annotations

from typing import Any

import pytest

from commands.ids import KINDS, ObjectId, looks_like_id
from commands.registry import Option, Param, command, handles
from commands.words import parse_pairs


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_parses_and_prints_the_same_way(kind: str) -> None:
    oid = ObjectId.parse(f"{kind.lower()}-42")
    assert (oid.kind, oid.number, str(oid)) == (kind, 42, f"{kind}-42")
    assert ObjectId.parse(str(oid), kind) == oid
    assert ObjectId.find(f"{oid}@2026-03-02T09:00:00+00:00") == oid  # a job reference
    assert looks_like_id(str(oid))


def test_an_id_of_another_kind_or_no_id_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="is not an action item ID like A-7"):
        ObjectId.parse("S-1", "A")
    with pytest.raises(ValueError, match="is not a request ID like LR-3"):
        ObjectId.parse("LR-x", "LR")
    with pytest.raises(ValueError, match="is not an ID like A-7"):
        ObjectId.parse("FR-PARIS")
    assert ObjectId.find("FR-PARIS") is None and not looks_like_id("FR-PARIS")


def test_a_handler_whose_keywords_differ_from_its_declaration_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="are not the declared arguments"):

        @command("x", summary="x", example="!x 1", params=[Param("n", convert=int)])
        async def wrong(ctx: Any, *, m: int) -> None: ...

    @command("y", summary="y", example="!y 1", params=[Param("n")], options=[Option("from")])
    async def right(ctx: Any, *, n: str, from_: str | None) -> None: ...


def test_edit_needs_its_keys_and_the_pairs_are_read_once() -> None:
    with pytest.raises(ValueError, match="needs the keys"):
        handles("edit", "A")
    with pytest.raises(ValueError, match="kinds"):
        handles("show", "Q")
    assert parse_pairs("due=friday text=new words here", ("due", "text")) == {
        "due": "friday",
        "text": "new words here",
    }
    with pytest.raises(ValueError, match="Not understood: 'colour=blue' is not key=value"):
        parse_pairs("colour=blue", ("due", "text"))
    with pytest.raises(ValueError, match="nothing to change"):
        parse_pairs("  ", ("due",))


async def test_roles_on_a_generic_verb_are_checked_like_a_commands(core: Any) -> None:
    """`!edit S-1` is for the secretariat, as `!summit edit S-1` is: refused before the domain."""
    from tests.unit.commands.actions_fixtures import MEMBER, ROOM, seed

    await seed(core)
    before = await core.query("SELECT name FROM summits")
    sent = await core.say(MEMBER, "!edit S-1 name=Mine", room_id=ROOM)
    assert "!edit S-n is for secretariat only" in sent[0].body
    assert await core.query("SELECT name FROM summits") == before
