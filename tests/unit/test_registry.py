"""The command registry and parser: declarations, options, bodies, quoting, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands import build_registry
from commands.errors import UserError
from commands.lookup import Registry
from commands.registry import Option, Param, command

NOW = datetime(2026, 3, 2, 9, 17, tzinfo=UTC)


@command(
    "demo add",
    summary="a test command",
    example="!demo add 3 x=1 -- body",
    params=[Param("n", "a number", convert=int), Param("rest", rest=True, optional=True)],
    options=[Option("x", "an option", convert=int, default=0)],
    body=Param("note", optional=True),
)
async def demo_add(ctx: Any, args: dict[str, Any]) -> None:
    """A declared command for the parser tests."""


class _Module:
    demo_add = demo_add


@pytest.fixture
def reg() -> Registry:
    return Registry.from_modules([_Module], prefix="!")  # type: ignore[list-item]


def test_positional_rest_options_and_body(reg: Registry) -> None:
    inv = reg.parse("!demo add 3 two words x=7 -- a note\nwith lines", NOW)
    assert inv.spec.name == "demo add"
    assert inv.args == {"n": 3, "rest": "two words", "x": 7, "note": "a note\nwith lines"}


def test_trailing_options_after_the_body(reg: Registry) -> None:
    inv = reg.parse("!demo add 1 -- the note x=5", NOW)
    assert inv.args["note"] == "the note" and inv.args["x"] == 5


def test_smart_quotes_and_invisible_marks(reg: Registry) -> None:
    inv = reg.parse("!demo\u200b add 2 “quoted words”", NOW)
    assert inv.args["rest"] == "quoted words"


def test_conversion_error_names_the_param_with_usage_and_example(reg: Registry) -> None:
    with pytest.raises(UserError) as err:
        reg.parse("!demo add three", NOW)
    text = err.value.text()
    assert text.startswith("n: invalid literal")
    assert "Usage: !demo add <n> [<rest…>] [x=…] [-- note]" in text
    assert "Example: !demo add 3 x=1 -- body" in text


def test_missing_subcommand_lists_the_choices(reg: Registry) -> None:
    with pytest.raises(UserError) as err:
        reg.parse("!demo", NOW)
    assert "demo needs a subcommand. Choose one of: add." in err.value.text()


def test_a_group_shows_the_example_that_asks_least_of_the_reader() -> None:
    """`!dir` alone showed the hand-over's example (first by name), which moves a desk when
    copied; the group's example is the subcommand with the fewest required arguments."""
    from commands import build_registry

    registry = build_registry("!")
    shown = {}
    for group in ("dir", "actions", "summit", "trust"):
        with pytest.raises(UserError) as err:
            registry.parse(f"!{group} bogus", NOW)
        shown[group] = err.value.text().rsplit("Example: ", 1)[1]
    assert shown["dir"] == "!dir list", shown
    assert not shown["actions"].startswith(("!actions import", "!actions add")), shown
    assert shown["summit"].startswith("!summit list"), shown
    assert all(registry.parse(example, NOW) for example in shown.values())


def test_unknown_command_and_unclosed_quote(reg: Registry) -> None:
    with pytest.raises(UserError, match="Unknown command !nope"):
        reg.parse("!nope", NOW)
    with pytest.raises(UserError, match="quote is not closed"):
        reg.parse('!demo add 1 "open', NOW)


def test_help_comes_from_declarations(reg: Registry) -> None:
    text = reg.help_for("demo add", NOW)
    assert text is not None
    assert "n: a number" in text and "x=…: an option" in text and "Example:" in text


def test_every_real_command_has_an_example_that_parses() -> None:
    """An example in !help that the parser rejects would teach users a wrong form."""
    reg = build_registry()
    for name, spec in reg.commands.items():
        example = spec.example_at(NOW)
        assert example.startswith("!"), name
        try:
            inv = reg.parse(example, NOW)
        except UserError as exc:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"example of {name!r} does not parse: {exc.text()}")
        assert inv.spec.name == name


def test_duplicate_declaration_is_refused() -> None:
    class Twice:
        a = demo_add
        b = demo_add

    with pytest.raises(ValueError, match="declared twice"):
        Registry.from_modules([Twice])  # type: ignore[list-item]


def test_a_dated_example_is_made_from_the_callers_clock_not_at_import() -> None:
    """Declaring a command reads no clock; the example follows the `now` it is asked with."""
    seen: list[datetime] = []

    def dated(now: datetime) -> str:
        seen.append(now)
        return f"!dated {now:%Y-%m-%d}"

    @command("dated", summary="a dated example", example=dated)
    async def dated_cmd(ctx: Any) -> None:
        """A command whose example carries a date."""

    assert seen == []  # nothing evaluated at declaration

    class _Dated:
        cmd = dated_cmd

    reg = Registry.from_modules([_Dated], prefix="?")  # type: ignore[list-item]
    assert seen == []  # nor at registration
    later = datetime(2031, 7, 1, tzinfo=UTC)
    assert reg.commands["dated"].example_at(later, "?") == "?dated 2031-07-01"
    assert "Example: ?dated 2031-07-01" in (reg.help_for("dated", later) or "")
    assert seen == [later, later]
