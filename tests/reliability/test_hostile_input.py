"""Hostile input against the parser and every registered command, in process.

Every command in `build_registry().commands` is driven (so commands added later are covered
without editing this file) with random unicode, huge inputs, bidi and zero-width marks,
HTML/script and SQL-like payloads, bad dates, zones and IDs. For every input:
- no internal error (the dispatcher's 'error' outcome) and no exception escapes;
- every formatted_body holds only the renderer's own tags, so user text never became markup;
- a refused command (user_error, too_long) changes nothing in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands import build_registry
from commands.errors import UserError
from commands.registry import CommandSpec
from tests.harness.fakes import BotCore, Sent
from tests.reliability.common import PROPERTY

ADMIN = "@admin:test"  # an admin (settings) so role-restricted commands run past the check
SENDERS = [ADMIN, "@alice:test", "@bob:test"]
BOOKKEEPING = {"handled_events", "outbox", "sqlite_sequence"}

# Tags the renderer may emit; anything else in formatted_body came from user text.
ALLOWED_TAGS = {
    "p", "b", "i", "em", "strong", "br", "table", "thead", "tbody", "tr", "th", "td", "ul",
    "ol", "li", "code", "pre", "blockquote", "h1", "h2", "h3", "h4", "hr", "del", "sup",
    "sub", "a",
}  # fmt: skip

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<b>bold</b>",
    "<mx-reply><blockquote>fake</blockquote></mx-reply>",
    "<iframe src=//evil>",
    '"><svg/onload=alert(1)>',
    "</td></tr></table><div>",
    "&lt;b&gt;",
    "'; DROP TABLE people; --",
    "1 OR 1=1",
    "Robert'); DELETE FROM audit;--",
    '" OR ""="',
    "%s%s%s%n",
    "{0}{1}{__class__}",
    "\u202eevil\u202c",
    "\u200b\u200c\u200d\ufeff",
    "\u2066isolate\u2069",
    "\u0000",
    "\r\n\t",
    "Z̴̡̛a̵l̶g̷o̸",
    "🏳️‍🌈👨‍👩‍👧",
    "ﷺ",
    "--",
    " -- ",
    '"',
    "'",
    "“smart”",
    "=",
    "key=",
    "=value",
]
DATES = [
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "9999-12-31T25:61",
    "yesterday",
    "tomorrow 25:00",
    "next blursday",
    "in -5 minutes",
    "in 99999999999 years",
    "1e308",
    "NaN",
    "-1",
    "2026-03-29 02:30",  # does not exist in Europe (DST gap)
    "31/31/31",
    "12:00 PM PM",
]
ZONES = [
    "Europe/Paris",
    "UTC",
    "Mars/Olympus",
    "../../etc/passwd",
    "Etc/GMT+99",
    "europe/paris",
    "America/Argentina/ComodRivadavia",
    "/",
    "Europe/",
]
IDS = ["A-1", "A-7", "LR-1", "M-2", "X-0", "A-999999999", "A--1", "A-1e9", "Z-00000001"]


def _words() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(PAYLOADS),
        st.sampled_from(DATES),
        st.sampled_from(ZONES),
        st.sampled_from(IDS),
        st.text(min_size=1, max_size=30),
        st.text(alphabet=st.characters(categories=["Cf", "Mn", "Zs", "Cc"]), max_size=8),
        st.from_regex(r"[a-z0-9@:.\-+/]{1,20}", fullmatch=True),
    )


REGISTRY = build_registry("!")
NOW = datetime(2026, 3, 2, 9, 17, tzinfo=UTC)
SPECS: list[CommandSpec] = [REGISTRY.commands[name] for name in sorted(REGISTRY.commands)]


@st.composite
def command_text(draw: st.DrawFn, spec: CommandSpec) -> str:
    """A command line for this spec: a mix of plausible and hostile words, options, body."""
    parts = [f"!{draw(st.sampled_from([spec.name, spec.name.upper(), spec.name.title()]))}"]
    for _ in range(draw(st.integers(0, 5))):
        if spec.options and draw(st.integers(0, 3)) == 0:
            option = draw(st.sampled_from(spec.options))
            parts.append(f"{option.name}={draw(_words())}")
        else:
            parts.append(draw(_words()))
    if draw(st.integers(0, 3)) == 0:
        parts.append("--")
        parts.append(" ".join(draw(st.lists(_words(), max_size=4))))
    if draw(st.integers(0, 20)) == 0:  # huge: around the length limit and far beyond it
        size = draw(
            st.sampled_from(
                [st.integers(0, 300), st.integers(3950, 4050), st.integers(5000, 50_000)]
            )
        )
        parts.append(draw(st.sampled_from(["x", "<b>", "é", "\u202e", "A-1 "])) * draw(size))
    sep = draw(st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000"]))
    return sep.join(parts)


ANY_COMMAND = st.sampled_from(SPECS).flatmap(command_text)
RAW_COMMAND = st.text(max_size=300).map(lambda t: "!" + t)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.bad.append(f"</{tag}>")

    def handle_comment(self, data: str) -> None:
        self.bad.append("<!--")

    def handle_decl(self, decl: str) -> None:
        self.bad.append("<!")

    def unknown_decl(self, data: str) -> None:
        self.bad.append("<![")

    def handle_pi(self, data: str) -> None:
        self.bad.append("<?")

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            # Only a matrix.to link may carry an attribute; nothing a user typed.
            if not (
                tag == "a" and name == "href" and (value or "").startswith("https://matrix.to/")
            ):
                self.bad.append(f"<{tag} {name}=…>")


def markup_problems(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.bad


@contextlib.contextmanager
def event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


class Harness:
    """One BotCore for all examples of a property (opening a store per example is slow)."""

    def __init__(self, tmp: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # The per-person limit is tested elsewhere; here every example must reach the parser.
        self.core = BotCore(tmp, rate_limit_burst=1_000_000, rate_limit_per_minute=1_000_000)
        self.ids = itertools.count(1)
        self.outcomes: dict[str, int] = {}
        loop.run_until_complete(self._open())

    async def _open(self) -> None:
        await self.core.open()
        # Seed objects with every command's own example, so show/edit/cancel find things.
        for spec in SPECS:
            for sender in (ADMIN, "@alice:test"):
                await self.core.say(sender, spec.example_at(self.core.clock.now()))

    def close(self) -> None:
        self.loop.run_until_complete(self.core.close())

    def run(self, sender: str, body: str) -> tuple[str, list[Sent], bool]:
        return self.loop.run_until_complete(self._run(sender, body))

    async def _run(self, sender: str, body: str) -> tuple[str, list[Sent], bool]:
        from commands.context import Incoming

        before = await self._snapshot()
        incoming = Incoming(
            event_id=f"$hostile{next(self.ids)}", room_id="!room:test", sender=sender, body=body
        )
        outcome = await self.core.dispatcher.process(incoming)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        sent = await self.core.new_messages()
        unchanged = before == await self._snapshot()
        return outcome, sent, unchanged

    async def _snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        tables = [
            r[0]
            for r in await self.core.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
            if r[0] not in BOOKKEEPING
        ]
        return {t: [tuple(r) for r in await self.core.query(f"SELECT * FROM {t}")] for t in tables}


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with event_loop() as loop:
        h = Harness(tmp_path_factory.mktemp("hostile"), loop)
        try:
            yield h
        finally:
            h.close()
            print(f"\nhostile input outcomes: {h.outcomes}")


def check(harness: Harness, sender: str, body: str) -> None:
    outcome, sent, unchanged = harness.run(sender, body)
    assert outcome != "error", f"internal error for {body[:200]!r}"
    if REGISTRY.is_command(body):  # the sync loop never submits anything else
        assert sent, f"no reply at all to {body[:200]!r}"
    for message in sent:
        if message.html is not None:
            problems = markup_problems(message.html)
            assert not problems, f"user text became markup {problems} for {body[:200]!r}"
    if outcome in ("user_error", "too_long", "rate_limited"):
        assert unchanged, f"refused command {body[:200]!r} changed the store"


@PROPERTY
@given(sender=st.sampled_from(SENDERS), body=ANY_COMMAND)
def test_every_command_survives_hostile_arguments(harness: Harness, sender: str, body: str) -> None:
    check(harness, sender, body)


@PROPERTY
@given(sender=st.sampled_from(SENDERS), body=RAW_COMMAND)
def test_arbitrary_text_after_the_prefix(harness: Harness, sender: str, body: str) -> None:
    check(harness, sender, body)


@PROPERTY
@given(text=st.text(max_size=500))
def test_parser_raises_only_user_errors(text: str) -> None:
    try:
        REGISTRY.parse("!" + text, NOW)
    except UserError as exc:
        assert exc.text()  # a message a person can read
    # any other exception type fails the test


def test_the_property_covers_every_registered_command() -> None:
    """Guard against a registry change that would silently shrink the property's reach."""
    assert {s.name for s in SPECS} == set(build_registry().commands)
    assert len(SPECS) >= 6


def test_markup_check_catches_injected_tags() -> None:
    """The HTML check itself can fail: raw payloads are flagged, escaped ones are not."""
    from commands.render import plain

    assert markup_problems("<p>x</p><script>alert(1)</script>")
    assert markup_problems("<img src=x onerror=alert(1)>")
    assert markup_problems('<a href="javascript:alert(1)">x</a>')
    assert not markup_problems(plain("<script>alert(1)</script> <img src=x>").html)
