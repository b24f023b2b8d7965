"""The unit suite's user errors, gathered from every pytest-xdist worker for test_examples.

tests/unit/test_examples.py checks every user error *the whole unit suite* provoked. Run
serially, it simply runs last. Spread over workers, each worker sees only the errors of
the tests it ran, so each worker also appends its errors to a file in the run's shared
directory and marks each unit test it finished. The tests that check those errors form
one xdist group (`after_the_suite`), collected last: the first of them waits until every
other unit test of the run has finished, on whichever worker, then adds the other
workers' errors to its own; they then run in order, each seeing what it would see in a
serial run. Load-group scheduling in collection order (tests/conftest.py) hands the group
out only when every other test has been handed out, so the wait is short.
"""

from __future__ import annotations

import os
import pickle
import time
from datetime import datetime
from pathlib import Path

import pytest

_UNIT = "tests/unit/"
GROUP = "examples"
# Generous: the other workers may be finishing an integration test on a loaded machine.
WAIT_SECONDS = 1800.0

# (language, the handler's now, the reply text, made for another directory than the docs')
Record = tuple[str, datetime, str, bool]


def after_the_suite(item: pytest.Item) -> bool:
    """Whether the test checks the errors of the whole unit suite (it then runs last)."""
    return any(mark.args[:1] == (GROUP,) for mark in item.iter_markers("xdist_group"))


def worker() -> str | None:
    """This process's xdist worker id (``gw0``...), or None when the suite runs serially."""
    return os.environ.get("PYTEST_XDIST_WORKER")


class Shared:
    """One directory per test run, seen by all its workers (the parent of their basetemps)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.root = tmp_path_factory.getbasetemp().parent / "unit-user-errors"
        self.root.mkdir(exist_ok=True)
        self.me = worker() or "serial"
        self.merged = False

    def record(self, language: str, now: datetime, text: str, elsewhere: bool) -> None:
        """Keep a user error that a unit test provoked, for the other workers."""
        if self.merged:
            return  # the checks' own errors are theirs, after the others were gathered
        with (self.root / f"{self.me}.errors").open("ab") as out:
            out.write(pickle.dumps((language, now, text, elsewhere)))

    def finished(self, nodeid: str) -> None:
        if nodeid.startswith(_UNIT):
            with (self.root / f"{self.me}.done").open("a", encoding="utf-8") as out:
                out.write(nodeid + "\n")

    def others(self, session: pytest.Session) -> list[Record]:
        """Wait until every unit test of this run has finished; the other workers' errors."""
        expected = {
            item.nodeid
            for item in session.items
            if item.nodeid.startswith(_UNIT) and not after_the_suite(item)
        }
        deadline = time.monotonic() + WAIT_SECONDS
        while (missing := expected - self._done()) and time.monotonic() < deadline:
            time.sleep(0.2)  # other processes write these files: polling is the event
        if missing:
            raise TimeoutError(
                f"{len(missing)} unit tests not finished on any worker after "
                f"{WAIT_SECONDS:.0f} s (a worker crashed?), e.g. {sorted(missing)[:3]}"
            )
        records: list[Record] = []
        for path in sorted(self.root.glob("*.errors")):
            if path.stem != self.me:
                records.extend(_load(path))
        return records

    def _done(self) -> set[str]:
        done: set[str] = set()
        for path in self.root.glob("*.done"):
            done.update(path.read_text(encoding="utf-8").splitlines())
        return done


def _load(path: Path) -> list[Record]:
    records = []
    with path.open("rb") as source:
        while True:
            try:
                records.append(pickle.load(source))  # noqa: S301 - written by this run
            except EOFError:
                return records
