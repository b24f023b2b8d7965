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


async def test_refusal_is_explained_again_after_a_quiet_period_not_before(tmp_path) -> None:
    """An unverified session that keeps sending is told again after refusal_repeat_after."""
    from bot.metrics import Metrics
    from bot.store import Store
    from bot.sync import SyncLoop
    from tests.harness.fakes import FakeClock, make_settings

    clock = FakeClock()
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        loop = SyncLoop(
            client=None,  # type: ignore[arg-type]
            settings=make_settings(tmp_path, refusal_repeat_after=3600),
            store=store,
            dispatcher=None,  # type: ignore[arg-type]
            metrics=Metrics(),
            clock=clock,
        )

        async def tell(event_id: str) -> None:
            await loop.refusals.tell("!r:test", ALICE, event_id, "verify your session", "DEV")

        await tell("$1")
        clock.advance(minutes=30)
        await tell("$2")
        clock.advance(minutes=29)
        await tell("$3")
        assert await _outbox_count(store) == 1  # never more than once per period
        clock.advance(minutes=2)  # an hour since the explanation
        await tell("$4")
        await tell("$5")
        assert await _outbox_count(store) == 2
    finally:
        await store.close()


async def _outbox_count(store) -> int:
    async with store.reader.execute("SELECT COUNT(*) FROM outbox") as cur:
        row = await cur.fetchone()
    return int(row[0])
