"""Every role × every operation on summits and items: allowed works, refused changes nothing."""

from __future__ import annotations

import pytest
from actions_fixtures import ADMIN, DM, MEMBER, OUTSIDER, OWNER, PARIS, ROOM, SEC, seed

from tests.harness.fakes import BotCore

# actor -> (user, room it speaks in, the item it acts on)
ACTORS = {
    "admin": (ADMIN, DM, "A-1"),
    "secretariat": (SEC, DM, "A-1"),
    "owner": (OWNER, DM, "A-1"),
    "post_member": (PARIS, DM, "A-2"),
    "room_member": (MEMBER, ROOM, "A-1"),
    "outsider": (OUTSIDER, DM, "A-1"),
}
W = {"admin", "secretariat"}  # who may write summits and items
OWN = W | {"owner", "post_member"}  # who may move an item's status and comment
READ = OWN | {"room_member"}

# operation -> (command, who is allowed, text in the reply when it worked)
OPERATIONS = {
    "summit_open": ("!summit open Second summit room=!other:test", W, "S-2 opened"),
    "summit_edit": ('!summit edit S-1 name="Renamed"', W, "S-1 changed"),
    "summit_close": ("!summit close S-1", W, "S-1 closed"),
    "add": (f"!actions add S-1 {OWNER} due=2026-04-01 -- new task", W, "A-3 added"),
    "edit": ("!edit {item} due=2026-04-02", W, "changed (due)"),
    "reassign": (f"!actions reassign {{item}} {MEMBER}", W, "changed (owner)"),
    "cancel": ("!cancel {item} -- not needed", W, "is now cancelled"),
    "status": ("!actions status {item} in-progress", OWN, "is now in progress"),
    "done": ("!actions done {item} -- finished", OWN, "is now done"),
    "comment": ("!actions comment {item} -- on it", OWN, "Comment added"),
    "show": ("!show {item}", READ, "history:"),
    "list": ("!actions list S-1", READ, "Action items"),
    "export": ("!actions export S-1 csv", READ, "file follows"),
}
# Refused by the dispatcher from the command's declared roles, before any lookup.
ROLE_GATED = {"summit_open", "summit_edit", "summit_close", "add", "reassign"}


async def snapshot(core: BotCore) -> list:
    rows = []
    for table in ("summits", "action_items", "history", "jobs"):
        rows.append([tuple(r) for r in await core.query(f"SELECT * FROM {table} ORDER BY id")])
    return rows


@pytest.mark.parametrize("actor", sorted(ACTORS))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_permission_matrix(core: BotCore, actor: str, operation: str) -> None:
    await seed(core)
    user, room, item = ACTORS[actor]
    template, allowed, success = OPERATIONS[operation]
    before = await snapshot(core)
    sent = await core.say(user, template.format(item=item), room_id=room)
    body = "\n".join(m.body for m in sent)
    outcome = (await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1"))[
        0
    ][0]
    if actor in allowed:
        assert outcome == "ok" and success in body, body
        if operation not in ("show", "list", "export"):
            assert await snapshot(core) != before
    else:
        assert outcome == "user_error", body
        assert success not in body
        assert await snapshot(core) == before
        if operation in ROLE_GATED:
            assert "is for secretariat only" in body, body
        elif operation in ("show", "list", "export") or actor == "outsider":
            # Those who may not read are not told that the object exists.
            assert "No " in body and "that you can see" in body, body
        else:
            assert "Only " in body, body


async def test_refused_reader_cannot_tell_a_real_summit_from_a_missing_one(core: BotCore) -> None:
    await seed(core)
    real = await core.say(OUTSIDER, "!actions list S-1", room_id=DM)
    missing = await core.say(OUTSIDER, "!actions list S-99", room_id=DM)
    assert real[0].body == missing[0].body
    real = await core.say(OUTSIDER, "!show A-1", room_id=DM)
    missing = await core.say(OUTSIDER, "!show A-99", room_id=DM)
    assert real[0].body.replace("A-1", "A-n") == missing[0].body.replace("A-99", "A-n")


async def test_owner_outside_the_room_lists_only_their_own_items(core: BotCore) -> None:
    await seed(core)
    body = (await core.say(OWNER, "!actions list S-1", room_id=DM))[0].body
    assert "A-1" in body and "A-2" not in body
    body = (await core.say(PARIS, "!actions list", room_id=DM))[0].body
    assert "A-2" in body and "A-1" not in body


async def test_directory_commands_are_admin_only(core: BotCore) -> None:
    await seed(core)
    for user in (SEC, OWNER, OUTSIDER):
        sent = await core.say(user, f"!dir person {user} role=secretariat,attache", room_id=DM)
        assert "is for admin only" in sent[0].body
    rows = await core.query("SELECT roles FROM people WHERE user_id = ?", SEC)
    assert rows[0][0] == "secretariat"
    # Anyone may look people up.
    assert "Paris DATT" in (await core.say(OUTSIDER, "!whois FR-PARIS", room_id=DM))[0].body
