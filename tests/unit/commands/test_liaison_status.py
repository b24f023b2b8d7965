"""Every move from every status, by each side: legal ones land where they should, others explain."""

from __future__ import annotations

import itertools

import pytest

from commands.liaison.model import MOVES, STATUSES, IllegalMove, explain, next_status

LEGAL = {
    ("open", "ack"): "acknowledged",
    ("open", "answer"): "answered",
    ("acknowledged", "answer"): "answered",
    ("open", "decline"): "declined",
    ("acknowledged", "decline"): "declined",
    ("acknowledged", "close"): "closed",
    ("answered", "close"): "closed",
    ("open", "cancel"): "cancelled",
    ("acknowledged", "cancel"): "cancelled",
}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(STATUSES, MOVES)))
def test_every_move_from_every_status(status: str, action: str) -> None:
    side = MOVES[action].side
    if (status, action) in LEGAL:
        assert next_status(status, action, side) == LEGAL[(status, action)]
        assert next_status(status, action, None, admin=True) == LEGAL[(status, action)]
    else:
        with pytest.raises(IllegalMove) as err:
            next_status(status, action, side)
        text = explain(err.value, "LR-4")
        assert "LR-4" in text and status in text


@pytest.mark.parametrize("action", list(MOVES))
def test_the_wrong_side_may_not_move(action: str) -> None:
    wrong = "requester" if MOVES[action].side == "addressee" else "addressee"
    for s in (wrong, None):
        with pytest.raises(IllegalMove) as err:
            next_status("open" if action != "close" else "answered", action, s)  # type: ignore[arg-type]
        assert str(err.value).startswith("Only ")


def test_terminal_statuses_say_nothing_more_can_change() -> None:
    with pytest.raises(IllegalMove) as err:
        next_status("closed", "ack", "addressee")
    assert explain(err.value, "LR-1").startswith("LR-1 is already closed; nothing more can change.")


def test_hints_point_to_the_right_verb() -> None:
    with pytest.raises(IllegalMove) as err:
        next_status("open", "close", "requester")
    assert "!cancel LR-2" in explain(err.value, "LR-2")
    with pytest.raises(IllegalMove) as err:
        next_status("answered", "cancel", "requester")
    assert "!close LR-2" in explain(err.value, "LR-2")
