"""One rate limit for everything a person makes the bot do (bot/ratelimit.py; issue 22,
finding 10): commands, edits, replies, reactions, undecryptable messages and invitations
draw on one budget; over it, the person is told once, in their language; invitations are
also capped per inviter (`max_rooms_per_inviter`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nio import InviteMemberEvent, JoinError, MegolmEvent

from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from bot.sync import SyncLoop
from tests.harness.fakes import BotCore, FakeClock

ALICE, ANNE, BOT = "@alice:test", "@anne:test", "@bot:test"
ROOM = "!room:test"


async def speaks(core: BotCore, user: str, code: str) -> None:
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO people (user_id, language, updated_at) VALUES (?, ?, 'then') "
            "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
            (user, code),
        )


# -- the bucket -------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_the_sustained_rate_and_warns_once_per_spell() -> None:
    clock = FakeClock()
    limiter = RateLimiter(burst=3, per_minute=6, clock=clock)  # one token per 10 s
    assert [limiter.allow(ALICE) for _ in range(4)] == [True, True, True, False]
    assert limiter.first_refusal(ALICE) and not limiter.first_refusal(ALICE)
    assert limiter.allow(ANNE)  # each person has their own bucket
    clock.advance(seconds=10)
    assert limiter.allow(ALICE) and not limiter.allow(ALICE)
    assert not limiter.first_refusal(ALICE)  # still the same spell: not told again
    clock.advance(seconds=30)  # refilled past one token: the spell is over
    assert limiter.allow(ALICE)
    clock.advance(minutes=5)
    assert [limiter.allow(ALICE) for _ in range(4)] == [True, True, True, False]
    assert limiter.first_refusal(ALICE)  # a new spell over the limit is told again


def test_full_buckets_are_forgotten_when_there_are_very_many() -> None:
    clock = FakeClock()
    limiter = RateLimiter(burst=2, per_minute=60, clock=clock)
    for n in range(10_001):
        limiter.allow(f"@u{n}:test")
    clock.advance(seconds=5)
    limiter.allow(ALICE)
    assert len(limiter._buckets) == 1  # the others were full again: nothing to remember


# -- edits pay like commands (the regression: 90 edits got 90 answers) ---------------------


async def test_ninety_edits_of_an_applied_command_get_a_burst_of_answers_and_one_warning(
    tmp_path: Path,
) -> None:
    core = await BotCore(tmp_path, rate_limit_burst=10, rate_limit_per_minute=1).open()
    try:
        (done,) = await core.say(ALICE, "!tz Europe/Paris", event_id="$tz")
        assert "Europe/Paris" in done.body
        answers = []
        for n in range(90):
            answers += await core.say(
                ALICE, f"!tz Asia/Tokyo{n}", event_id=f"$e{n}", replaces="$tz"
            )
        warnings = [a for a in answers if "faster than I accept" in a.body]
        assert len(warnings) == 1 and warnings[0].reply_to == "$tz"
        assert len(answers) == 9 + 1  # the burst (less the command itself), then the warning
        outcomes = [o[0] for o in await core.query("SELECT outcome FROM handled_events")]
        assert outcomes.count("edit_not_applied") == 9 and outcomes.count("rate_limited") == 81
    finally:
        await core.close()


# -- what the sync loop does before anything is dispatched --------------------------------


class FakeClient:
    """What SyncLoop uses of nio for invitations and undecryptable messages."""

    def __init__(self) -> None:
        self.user_id = BOT
        self.rooms: dict[str, Any] = {ROOM: SimpleNamespace(encrypted=True, users={})}
        self.invited_rooms: dict[str, Any] = {}
        self.joined: list[str] = []
        self.left: list[str] = []
        self.key_requests = 0

    async def join(self, room_id: str) -> Any:
        self.joined.append(room_id)
        return SimpleNamespace(room_id=room_id)

    async def room_leave(self, room_id: str) -> Any:
        self.left.append(room_id)
        return SimpleNamespace()

    async def request_room_key(self, event: Any) -> None:
        self.key_requests += 1

    def decrypt_event(self, event: Any) -> Any:
        raise RuntimeError("no room key")


def loop_for(core: BotCore, client: FakeClient) -> SyncLoop:
    return SyncLoop(
        client=client,  # type: ignore[arg-type]
        settings=core.settings,
        store=core.store,
        dispatcher=core.dispatcher,
        metrics=Metrics(),
        clock=core.clock,
    )


def undecryptable(n: int, sender: str = ALICE) -> MegolmEvent:
    return MegolmEvent.from_dict(
        {
            "type": "m.room.encrypted",
            "event_id": f"$enc{n}",
            "sender": sender,
            "origin_server_ts": 1,
            "content": {
                "algorithm": "m.megolm.v1.aes-sha2",
                "sender_key": "K" * 43,
                "ciphertext": "AwgA",
                "session_id": f"random-session-{n}",
                "device_id": "DEV",
            },
        }
    )


async def test_undecryptable_messages_draw_on_the_same_budget(tmp_path: Path) -> None:
    core = await BotCore(
        tmp_path,
        allowed_users=[ALICE, ANNE],
        rate_limit_burst=5,
        rate_limit_per_minute=1,
        undecryptable_give_up=10,
    ).open()
    try:
        await speaks(core, ANNE, "fr")
        client = FakeClient()
        loop = loop_for(core, client)
        for n in range(50):  # random session IDs: nothing the bot can ever decrypt
            await loop.gate.route(ROOM, undecryptable(n))
        assert len(loop.undecrypted._pending) == 5
        (warning,) = await core.new_messages()
        assert "faster than I accept" in warning.body and warning.reply_to == "$enc5"
        core.clock.advance(seconds=6)
        await loop.undecrypted.retry(loop.gate.route)
        assert client.key_requests == 5  # not 50
        # A command after that is over the same budget.
        assert await core.say(ALICE, "!ping") == []
        # The warning is in the sender's language.
        for n in range(100, 106):
            await loop.gate.route(ROOM, undecryptable(n, ANNE))
        (french,) = await core.new_messages()
        assert french.body.startswith("Vous envoyez des messages plus vite")
    finally:
        await core.close()


def invite(room_id: str, inviter: str) -> list[Any]:
    event = InviteMemberEvent.from_dict(
        {
            "type": "m.room.member",
            "state_key": BOT,
            "sender": inviter,
            "content": {"membership": "invite"},
        }
    )
    return [event]


async def test_invitations_are_capped_per_inviter_and_told_once(tmp_path: Path) -> None:
    core = await BotCore(
        tmp_path, allowed_users=[ALICE, ANNE], max_rooms_per_inviter=3, rate_limit_burst=50
    ).open()
    try:
        await speaks(core, ANNE, "fr")
        client = FakeClient()
        loop = loop_for(core, client)
        for n in range(6):
            await loop.invites.handle(f"!a{n}:test", invite(f"!a{n}:test", ALICE))
        assert client.joined == ["!a0:test", "!a1:test", "!a2:test"]
        assert client.left == ["!a3:test", "!a4:test", "!a5:test"]  # declined
        (told,) = await core.new_messages()
        assert told.user_id == ALICE and "max_rooms_per_inviter" in told.body
        assert "I declined your invitation to !a3:test" in told.body
        # Another person has their own cap; told in their language.
        for n in range(4):
            await loop.invites.handle(f"!b{n}:test", invite(f"!b{n}:test", ANNE))
        assert client.joined[-3:] == ["!b0:test", "!b1:test", "!b2:test"]
        (french,) = await core.new_messages()
        assert french.user_id == ANNE and french.body.startswith("J'ai décliné")
        # Leaving one of Alice's rooms frees a place; the next refusal is told again.
        async with core.store.write() as db:
            from bot.ratelimit import forget_rooms

            await forget_rooms(db, ["!a1:test"])
        await loop.invites.handle("!a6:test", invite("!a6:test", ALICE))
        assert client.joined[-1] == "!a6:test"
        await loop.invites.handle("!a7:test", invite("!a7:test", ALICE))
        assert client.left[-1] == "!a7:test"
        assert len(await core.new_messages()) == 1
    finally:
        await core.close()


class SlowServerClient(FakeClient):
    """Every join refused for now (M_FORBIDDEN: the inviting server not ready yet)."""

    async def join(self, room_id: str) -> Any:
        self.joined.append(room_id)
        return JoinError("not yet", status_code="M_FORBIDDEN")


async def test_joins_still_being_retried_count_against_the_inviters_cap(tmp_path: Path) -> None:
    """Issue 26: a join retried in the background counted for nothing, so a person whose
    rooms' server answered slowly could queue any number of them past the cap."""
    core = await BotCore(
        tmp_path, allowed_users=[ALICE, ANNE], max_rooms_per_inviter=2, rate_limit_burst=50
    ).open()
    client = SlowServerClient()
    loop = loop_for(core, client)
    try:
        for n in range(4):
            await loop.invites.handle(f"!s{n}:test", invite(f"!s{n}:test", ALICE))
        assert client.joined == ["!s0:test", "!s1:test"]  # first attempts; retries pending
        assert client.left == ["!s2:test", "!s3:test"]  # over the cap: declined
        (told,) = await core.new_messages()
        assert told.user_id == ALICE and "max_rooms_per_inviter" in told.body
        # The same room invited again while its join is retried is not a second place.
        await loop.invites.handle("!s0:test", invite("!s0:test", ALICE))
        assert client.left == ["!s2:test", "!s3:test"]
        await loop.invites.handle("!t0:test", invite("!t0:test", ANNE))  # her own cap
        assert client.joined[-1] == "!t0:test"
    finally:
        loop.invites.stop()
        await core.close()


async def test_invitations_also_pay_the_rate_limit(tmp_path: Path) -> None:
    core = await BotCore(
        tmp_path, allowed_users=[ALICE], rate_limit_burst=2, rate_limit_per_minute=1
    ).open()
    try:
        client = FakeClient()
        loop = loop_for(core, client)
        for n in range(5):
            await loop.invites.handle(f"!r{n}:test", invite(f"!r{n}:test", ALICE))
        assert client.joined == ["!r0:test", "!r1:test"]
        (told,) = await core.new_messages()
        assert "faster than I accept" in told.body and told.user_id == ALICE
        assert await core.say(ALICE, "!ping") == []  # the same budget as commands
    finally:
        await core.close()


async def test_one_budget_for_every_kind_of_event(tmp_path: Path) -> None:
    """An invitation, an undecryptable message, a command, an edit, a reply, a thread reply
    and a reaction each take a token from the same bucket; the next of any kind is over."""
    core = await BotCore(
        tmp_path, allowed_users=[ALICE], rate_limit_burst=7, rate_limit_per_minute=1
    ).open()
    try:
        client = FakeClient()
        loop = loop_for(core, client)
        await loop.invites.handle("!dm:test", invite("!dm:test", ALICE))
        await loop.gate.route(ROOM, undecryptable(1))
        await core.say(ALICE, "!tz Europe/Paris", event_id="$tz")
        await core.say(ALICE, "!tz Asia/Tokyo", event_id="$edit", replaces="$tz")
        await core.say(ALICE, "hello", reply_to="$somewhere")
        await core.say(ALICE, "hello", thread_root="$root")
        await core.react(ALICE, "$target")
        assert client.joined == ["!dm:test"] and len(loop.undecrypted._pending) == 1
        outcomes = [o[0] for o in await core.query("SELECT outcome FROM handled_events")]
        assert "rate_limited" not in outcomes
        await core.new_messages()
        (warning,) = await core.react(ALICE, "$target")  # the eighth
        assert "faster than I accept" in warning.body
        await loop.gate.route(ROOM, undecryptable(2))
        await loop.invites.handle("!b:test", invite("!b:test", ALICE))
        await core.say(ALICE, "!tz Asia/Tokyo", event_id="$edit2", replaces="$tz")
        assert len(loop.undecrypted._pending) == 1 and client.joined == ["!dm:test"]
        assert client.left == ["!b:test"]
        assert await core.new_messages() == []  # told once
    finally:
        await core.close()
