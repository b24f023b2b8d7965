"""Pinned identities on a real store: strict ignores stored pins; a reverted key is dropped."""

from __future__ import annotations

from pathlib import Path

from bot.crypto.identities import Identities
from bot.crypto.trust import UserTrust
from bot.metrics import Metrics
from commands.fingerprints import fingerprint
from tests.harness.fakes import BotCore

ALICE = "@alice:test"
REAL = "A" * 43
FORGED = "F" * 43


def policy(core: BotCore) -> Identities:
    return Identities(None, core.settings, core.store, Metrics())  # type: ignore[arg-type]


def shown(key: str, pin: str | None) -> UserTrust:
    return UserTrust(ALICE, key, "S" * 43, pin, None if pin is None else key == pin)


async def notices(core: BotCore) -> list[str]:
    return [m.body for m in await core.new_messages() if m.user_id == "@admin:test"]


async def test_forged_key_shown_once_is_dropped_when_the_real_one_returns(core: BotCore) -> None:
    p = policy(core)
    await p._record(ALICE, None, shown(REAL, None))  # first sight
    assert await p._pin(ALICE) == (REAL, None)
    await p._record(ALICE, REAL, shown(FORGED, REAL))  # the server shows another key once
    assert await p._pin(ALICE) == (REAL, FORGED)
    changed = await notices(core)
    assert f"Old master key: {fingerprint(REAL)}" in changed[0]
    assert f"New master key: {fingerprint(FORGED)}" in changed[0]
    await p._record(ALICE, REAL, shown(REAL, REAL))  # ... and the real one again
    assert await p._pin(ALICE) == (REAL, None)
    assert "is back to the pinned one" in (await notices(core))[0]
    sent = await core.say("@admin:test", f"!trust approve {ALICE} {FORGED}")
    assert "no changed identity waiting" in sent[0].body


async def test_strict_mode_ignores_every_stored_pin(tmp_path: Path) -> None:
    tofu = await BotCore(tmp_path).open()
    try:
        await policy(tofu)._record(ALICE, None, shown(REAL, None))  # pinned in a tofu run
        assert (await policy(tofu)._pin(ALICE))[0] == REAL
    finally:
        await tofu.close()
    strict = await BotCore(tmp_path, trust_mode="strict").open()
    try:
        p = policy(strict)
        assert await p._pin(ALICE) == (None, None)
        await p._record(ALICE, None, shown(REAL, None))  # strict never pins on first sight
        assert await strict.count("identities") == 1
    finally:
        await strict.close()
    configured = await BotCore(
        tmp_path, trust_mode="strict", trusted_identities={ALICE: "C" * 43}
    ).open()
    try:
        assert await policy(configured)._pin(ALICE) == ("C" * 43, None)
    finally:
        await configured.close()
