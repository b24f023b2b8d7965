"""A command's words read into its declared arguments: positional parameters, `key=value`
options (also trailing after ` -- `), the free text after ` -- `, each converted by its
declaration; what does not fit is refused with the usage and an example."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.errors import UserError
from commands.i18n import _
from commands.registry import CommandSpec, Option, Param
from commands.render import colon


@dataclass
class Invocation:
    """A command as a message named it, with its arguments read and converted."""

    spec: CommandSpec
    args: dict[str, Any]


def bind(
    spec: CommandSpec, tokens: list[str], body: str | None, now: datetime, prefix: str
) -> dict[str, Any]:
    """The declared arguments read from the words after the command name and the text after
    ` -- `, each converted; a UserError with the usage and an example if they do not fit."""

    def fail(message: str) -> UserError:
        return UserError(message, usage=spec.usage(prefix), example=spec.example_at(now, prefix))

    options = {o.name: o for o in spec.options}
    args: dict[str, Any] = {o.name: o.default for o in spec.options}
    positional: list[str] = []
    for token in tokens:
        key, eq, value = token.partition("=")
        if eq and key.lower() in options:
            args[key.lower()] = _convert(options[key.lower()], value, fail)
        else:
            positional.append(token)
    if body is not None:
        body, trailing = _trailing_options(body, options)
        for key, value in trailing.items():
            args[key] = _convert(options[key], value, fail)
    for i, param in enumerate(spec.params):
        if param.rest:
            raw = " ".join(positional[i:])
            positional = positional[:i]
            if not raw and not param.optional:
                raise fail(_("Missing {name}.", name=param.name))
            args[param.name] = _convert(param, raw, fail) if raw else None
            break
        if i >= len(positional):
            if not param.optional:
                raise fail(_("Missing {name}.", name=param.name))
            args[param.name] = None
            continue
        args[param.name] = _convert(param, positional[i], fail)
    else:
        if len(positional) > len(spec.params):
            extra = shorten(positional[len(spec.params)])
            raise fail(_("Unexpected {text!r}.", text=extra))
    if spec.body is not None:
        text = (body or "").strip()
        if not text and not spec.body.optional:
            raise fail(_("Missing {name} after --.", name=spec.body.name))
        args[spec.body.name] = _convert(spec.body, text, fail) if text else None
    elif body is not None and body.strip():
        raise fail(_("This command takes no text after --."))
    return args


def _trailing_options(body: str, options: dict[str, Option]) -> tuple[str, dict[str, str]]:
    """`-- body text priority=high`: trailing declared key=value words are options too."""
    found: dict[str, str] = {}
    words = body.rstrip().split(" ")
    while words:
        key, eq, value = words[-1].partition("=")
        if not (eq and key.lower() in options and "\n" not in words[-1]):
            break
        found[key.lower()] = value
        words.pop()
    return " ".join(words), found


def _convert(param: Param | Option, raw: str, fail: Callable[[str], UserError]) -> Any:
    try:
        return param.convert(raw)
    except UserError:
        raise
    except (ValueError, KeyError, OverflowError) as exc:  # 9999999999d overflows a date
        detail = str(exc.args[0]) if exc.args else _("not understood")
        raise fail(f"{param.name}{colon()}{detail}") from None


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
