"""Small things an Element user expects: did-you-mean for typos."""

from __future__ import annotations

from tests.harness.fakes import BotCore

ALICE = "@alice:test"


async def test_mistyped_command_gets_did_you_mean(core: BotCore) -> None:
    sent = await core.say(ALICE, "!reqest DE-BERLIN x")
    assert "Unknown command !reqest" in sent[0].body
    assert "Did you mean !request?" in sent[0].body
    sent = await core.say(ALICE, "!pnig")
    assert "Did you mean !ping?" in sent[0].body


async def test_mistyped_subcommand_and_help_topic_get_did_you_mean(core: BotCore) -> None:
    sent = await core.say(ALICE, "!acions list")
    assert "Did you mean !actions list?" in sent[0].body
    sent = await core.say(ALICE, "!help remnd")
    assert "Did you mean !remind?" in sent[0].body


async def test_nonsense_gets_no_guess(core: BotCore) -> None:
    sent = await core.say(ALICE, "!xqzzy")
    assert "Did you mean" not in sent[0].body and "!help" in sent[0].body
