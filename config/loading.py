"""Loading the settings and saying what is wrong with them, one line per problem.

Every problem is found in one run: misnamed variables, the YAML file's syntax, each
setting, and the checks across settings (run again with each failed setting at its
default, since pydantic skips them once one setting failed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsConfigDict

from config.fields import yaml_file
from config.settings import Settings
from config.sources import did_you_mean, unknown_variables, yaml_problems


def load_settings(
    config_file: Path | None = None, *, model: type[Settings] = Settings, **overrides: Any
) -> Settings:
    """Build `model` from overrides, env, then the YAML file (ATTACHE_CONFIG or --config).

    `model` is Settings or a refinement of it that checks more (bot.settings_vocabulary).

    Raises ConfigError with every problem found: misnamed variables, the file's syntax,
    then each setting (all of a setting's problems, and every cross-setting check).
    """
    path = config_file or (Path(p) if (p := os.environ.get("ATTACHE_CONFIG")) else None)
    if path is not None and not path.is_file():
        raise ConfigError([f"config: file {path} not found; pass --config PATH or unset it"])
    problems = unknown_variables(os.environ, Settings.model_fields)
    if path is not None and (syntax := yaml_problems(path)):
        raise ConfigError(problems + syntax)
    token = yaml_file.set(path)
    try:
        settings = model(**overrides)
    except ValidationError as exc:
        problems += describe_errors(exc)
        problems += _cross_problems(model, exc, overrides)
    finally:
        yaml_file.reset(token)
    if problems:
        raise ConfigError(problems)
    return settings


def _cross_problems(
    model: type[Settings], exc: ValidationError, overrides: dict[str, Any]
) -> list[str]:
    """The cross-setting checks, which pydantic skips once a single setting failed: run
    again with each failed setting at its default (unknown keys ignored), so one run of
    check-config also shows, say, an unreadable pickle_key_file beside a bad timezone."""
    failed = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
    fields = model.model_fields
    if not failed or any(f in fields and fields[f].is_required() for f in failed):
        return []  # nothing was skipped, or a required setting is unusable: that is enough

    lenient = type("Lenient", (model,), {"model_config": SettingsConfigDict(extra="ignore")})
    defaults = {f: fields[f].get_default(call_default_factory=True) for f in failed & set(fields)}
    try:
        lenient(**{**overrides, **defaults})
    except ValidationError as again:
        return describe_details([e for e in again.errors() if not e["loc"]])
    return []


class ConfigError(Exception):
    """Invalid settings; each problem reads `setting: what is wrong, how to fix it`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def describe_errors(exc: ValidationError) -> list[str]:
    return describe_details(exc.errors())


def describe_details(errors: list[ErrorDetails]) -> list[str]:
    """One line per problem; a validator that found several gives one line each."""
    problems = []
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            env = f"ATTACHE_{loc.upper()}"
            problems.append(f"{loc}: missing; set {env} or `{loc}:` in the config file")
        elif err["type"] == "extra_forbidden":
            hint = did_you_mean(loc, Settings.model_fields)
            problems.append(f"{loc}: unknown setting{hint}; check the spelling (see README)")
        elif not loc:
            for line in msg.splitlines():
                problems.append(line if ":" in line.split(" ", 1)[0] else f"settings: {line}")
        else:
            problems += [f"{loc}: {line}" for line in msg.splitlines()]
    return problems
