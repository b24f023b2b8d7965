"""Nothing in commands/ reads the wall clock: time comes from the injected clock (ctx.now)."""

from __future__ import annotations

import ast
from pathlib import Path

COMMANDS = Path(__file__).resolve().parents[2] / "commands"
# now()/utcnow()/today() on datetime or date, and the time module's clocks.
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "time_ns"}
CLOCK_OWNERS = {"datetime", "date", "time"}


def _wall_clock_calls(path: Path, root: Path = COMMANDS.parent) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in CLOCK_OWNERS
        ):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_commands_never_read_the_wall_clock() -> None:
    calls = [c for path in sorted(COMMANDS.rglob("*.py")) for c in _wall_clock_calls(path)]
    assert calls == []


def test_the_check_sees_a_wall_clock_call(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import time\nfrom datetime import UTC, datetime\nX = datetime.now(UTC)\n")
    probe.write_text(probe.read_text() + "Y = time.monotonic()\n")
    assert _wall_clock_calls(probe, tmp_path) == ["probe.py:3", "probe.py:4"]
