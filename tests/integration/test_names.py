"""Names as Element shows them, over real E2EE: the bot learns a person's Matrix display
name from the member events in its sync and shows it, with a pill link, in its replies."""

from __future__ import annotations

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


async def test_profile_display_name_is_used_with_a_pill(bot_factory, people) -> None:
    alice = await people("alice")
    await alice.client.set_displayname("Alice <Example>")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    _, shown = await command(alice, room, f"!whois {alice.user_id}")
    assert "name: Alice <Example> (their Matrix profile)" in shown.body
    _, made = await command(alice, room, f"!meeting tomorrow 10:00 with={alice.user_id} -- Sync")
    assert f"With: Alice <Example> ({alice.user_id})" in made.body
    html = made.source["content"]["formatted_body"]
    assert f'<a href="https://matrix.to/#/{alice.user_id}">Alice &lt;Example&gt;</a>' in html
    assert made.source["content"]["m.mentions"] == {}
    # A new name is picked up from the member event of the change.
    await alice.client.set_displayname("Alice Martin")
    for _ in range(40):
        _, shown = await command(alice, room, f"!whois {alice.user_id}")
        if "Alice Martin" in shown.body:
            break
    assert "name: Alice Martin (their Matrix profile)" in shown.body
