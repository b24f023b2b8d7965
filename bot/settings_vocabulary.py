"""The settings as the bot runs with them: config's Settings, checked against the domain's
vocabulary (nation codes, the form of a marking level or group, the languages shipped).

config imports nothing of ours, so these checks live here, where both are known: `run`,
`check-config` and every other command of bot/cli.py load their settings through
load_settings below, with the same one-line problems as config's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator

from commands.i18n import available, normalise
from commands.markings.model.levels import LEVEL_NAME
from commands.markings.model.nations import NATIONS
from commands.markings.model.policy import GROUP_NAME
from config import Settings
from config.cross_checks import CrossCheck
from config.fields import Fields
from config.loading import load_settings as load_config
from config.settings import split_list


class BotSettings(Settings):
    """Settings whose marking levels, groups, default_rel and language are the domain's."""

    @field_validator("marking_levels")
    @classmethod
    def _level_words(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not LEVEL_NAME.fullmatch(v)]
        if bad:
            raise ValueError(
                f"{bad[0]!r} is not one word of letters, digits, _ or - (e.g. NATO_RESTRICTED)"
            )
        return value

    @field_validator("marking_groups")
    @classmethod
    def _groups(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, members in value.items():
            group = name.strip().upper()
            if not GROUP_NAME.fullmatch(group):
                raise ValueError(f"group {name!r}: name it with 2-20 letters or digits, e.g. FVEY")
            if group in NATIONS:
                raise ValueError(f"group {name!r} is also a country code; choose another name")
            nations = [m.strip().upper() for m in split_list(members)]
            bad = [m for m in nations if m not in NATIONS]
            if bad:
                raise ValueError(
                    f"group {group}: {bad[0]!r} is not an ISO 3166-1 alpha-3 country code "
                    "(e.g. USA, GBR, FRA)"
                )
            if not nations:
                raise ValueError(f"group {group} has no nations; e.g. FVEY: [USA, GBR]")
            out[group] = sorted(set(nations))
        return out

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        code = normalise(value)
        if code is None:
            raise ValueError(f"must be one of {', '.join(available())}")
        return code

    def _checks(self) -> list[CrossCheck]:
        return [*super()._checks(), _default_rel]


def _default_rel(s: Fields) -> None:
    """Each of default_rel is a nation or a configured group."""
    bad = [r for r in s.default_rel if r not in NATIONS and r not in s.marking_groups]
    if bad:
        raise ValueError(
            f"default_rel: {bad[0]!r} is neither an ISO 3166-1 alpha-3 code (e.g. FRA) "
            "nor a group in marking_groups"
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """config.loading.load_settings, with the domain's checks (raises config.ConfigError)."""
    return load_config(config_file, model=BotSettings, **overrides)
