"""Parking a poison event: the reason says what and where, never the values it carried."""

from __future__ import annotations

from pathlib import Path

from bot.parking import Parking, describe
from tests.harness.fakes import BotCore


class DataError(Exception):
    sqlstate = "22P02"


def test_the_reason_is_class_state_and_our_line_never_the_message() -> None:
    try:
        raise DataError("invalid input for query argument $2: 'the secret body'")
    except DataError as exc:
        reason = describe(exc)
    assert reason.startswith("DataError [22P02] at tests/unit/test_parking.py:")
    assert "secret" not in reason and "$2" not in reason


async def test_an_event_met_twice_is_parked_and_counted_once(tmp_path: Path) -> None:
    core = await BotCore(tmp_path).open()
    try:
        parking = Parking(core.store, core.metrics, core.clock)
        for _ in range(2):
            async with parking.guard("membership", event_id="$e", room_id="!r:test"):
                raise RuntimeError("the store failed")
        async with parking.guard("names"):  # no event: counted, nothing to record
            raise RuntimeError("the store failed")
        rows = await core.query("SELECT event_id, stage, room_id FROM parked_events")
        assert [tuple(r) for r in rows] == [("$e", "membership", "!r:test")]
        assert core.metrics.parked_events.labels("membership")._value.get() == 1
        assert core.metrics.parked_events.labels("names")._value.get() == 1
    finally:
        await core.close()


def test_a_library_frame_is_not_taken_for_ours() -> None:
    """asyncpg's compiled frames have relative paths; the line named is the bot's own."""

    def library() -> None:
        raise DataError("x")

    library.__code__ = library.__code__.replace(co_filename="asyncpg/protocol/prepared_stmt.pyx")
    try:
        library()
    except DataError as exc:
        reason = describe(exc)
    assert "test_parking.py" in reason and "prepared_stmt" not in reason, reason
