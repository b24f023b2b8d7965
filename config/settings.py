"""The bot's one Settings class: each setting's check, and the values derived from them.

What can be set is declared in config.fields, the checks across settings are in
config.cross_checks, and loading (env, YAML, *_FILE) with its problem lines in
config.loading. config imports nothing of ours: what needs the domain's vocabulary (nation
codes, the form of a marking level, languages) is checked by bot.settings_vocabulary.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationInfo, field_validator, model_validator

from config.cross_checks import CROSS_CHECKS, CrossCheck
from config.fields import LIAISON_ESCALATION_DEFAULTS, LIAISON_PRECEDENCES, Fields

MATRIX_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")
SERVER_NAME = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$")
VERIFIABLE_ROLES = ("admin", "secretariat")  # attaché is everyone's: nothing to withhold


def each(values: list[str], template: str) -> str:
    """One problem line per bad value (describe_errors prefixes each with the setting)."""
    return "\n".join(template.format(v) for v in values)


def split_list(value: Any) -> Any:
    """Accept a comma list from env as well as a YAML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


JSON_EXAMPLES = {
    "marking_groups": '{"FVEY": ["USA", "GBR"]}',
    "trusted_identities": '{"@alice:example.org": "<43 characters of base64>"}',
    "liaison_escalation_seconds": '{"immediate": 1800}',
}


def json_map(value: Any, setting: str) -> Any:
    """A mapping from the environment is JSON text; a YAML mapping passes as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(
            f"ATTACHE_{setting.upper()} is not JSON; in the environment write it as JSON, "
            f"e.g. {JSON_EXAMPLES[setting]}"
        ) from None


class Settings(Fields):
    """Every option the operator can set (config.fields), with its check."""

    @field_validator("allowed_users", "allowed_servers", "admins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator(*JSON_EXAMPLES, mode="before")
    @classmethod
    def _json_maps(cls, value: Any, info: ValidationInfo) -> Any:
        return json_map(value, str(info.field_name))

    @field_validator("homeserver")
    @classmethod
    def _homeserver(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL, e.g. https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not MATRIX_ID.match(value):
            raise ValueError("must be a Matrix ID like @attache:example.org")
        return value

    @field_validator("allowed_users", "admins")
    @classmethod
    def _matrix_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not MATRIX_ID.match(v)]
        if bad:
            raise ValueError(each(bad, "{!r} is not a Matrix ID like @alice:example.org"))
        return value

    @field_validator("allowed_servers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not SERVER_NAME.match(v)]
        if bad:
            raise ValueError(each(bad, "{!r} is not a server name like example.org"))
        return value

    @field_validator("trusted_identities")
    @classmethod
    def _identities(cls, value: dict[str, str]) -> dict[str, str]:
        for user, key in value.items():
            if not MATRIX_ID.match(user):
                raise ValueError(f"{user!r} is not a Matrix ID like @alice:example.org")
            if not re.fullmatch(r"[A-Za-z0-9+/]{43}", key):
                raise ValueError(f"the key for {user} must be 43 characters of unpadded base64")
        return value

    @field_validator("liaison_escalation_seconds")
    @classmethod
    def _escalation(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(LIAISON_PRECEDENCES))
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not a precedence; use {', '.join(LIAISON_PRECEDENCES)}"
            )
        if any(v < 1 for v in value.values()):
            raise ValueError("each delay must be at least 1 second, e.g. {immediate: 1800}")
        return {**LIAISON_ESCALATION_DEFAULTS, **value}

    @field_validator("marking_levels", "default_rel", mode="before")
    @classmethod
    def _marking_lists(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("marking_levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        levels = [v.strip().upper() for v in value]
        if not levels:
            raise ValueError("name at least one level, lowest first, e.g. UNCLASSIFIED,RESTRICTED")
        if len(set(levels)) != len(levels):
            raise ValueError("a level is named twice; list each once, lowest first")
        return levels

    @field_validator("marking_banner")
    @classmethod
    def _banner_form(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if fields != {"level", "rel"} or "\n" in value:
            raise ValueError(
                "write one line with {level} and {rel} and no other {field}, "
                "e.g. '{level} // REL TO {rel}'"
            )
        return value

    @field_validator("verified_for_roles", mode="before")
    @classmethod
    def _verified_roles_list(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("verified_for_roles")
    @classmethod
    def _verified_roles(cls, value: list[str]) -> list[str]:
        roles = [v.strip().lower() for v in value]
        bad = [r for r in roles if r not in VERIFIABLE_ROLES]
        if bad:
            raise ValueError(
                each(
                    bad,
                    "{!r} is not a role that can require verification; use admin, "
                    "secretariat (everyone is an attaché)",
                )
            )
        return sorted(set(roles))

    @field_validator("max_marking", "default_marking", "verified_for_marking")
    @classmethod
    def _level_upper(cls, value: str | None) -> str | None:
        return value.strip().upper() if value is not None else None

    @field_validator("default_rel")
    @classmethod
    def _rel_upper(cls, value: list[str]) -> list[str]:
        return [r.strip().upper() for r in value]

    @field_validator("command_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not 1 <= len(value) <= 3 or any(c.isspace() or c.isalnum() for c in value):
            raise ValueError("must be 1-3 punctuation characters, e.g. !")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError("must be an IANA zone such as Europe/Paris or UTC") from exc
        return value

    @field_validator("actions_digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError("must be a local time HH:MM, e.g. 09:00")
        return f"{int(match[1]):02d}:{match[2]}"

    @field_validator("actions_working_days", mode="before")
    @classmethod
    def _days_list(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("actions_working_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        days = [v.strip().lower()[:3] for v in value]
        bad = [v for v in days if v not in names]
        if bad or not days:
            raise ValueError("must be day names from mon,tue,wed,thu,fri,sat,sun, e.g. mon,tue")
        return sorted(set(days), key=names.index)

    @field_validator("http_addr")
    @classmethod
    def _addr(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9100")
        return value

    def _checks(self) -> list[CrossCheck]:
        """The checks across settings; a refinement that knows more adds its own."""
        return list(CROSS_CHECKS)

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        """Every check that reads several settings, each run even when another failed,
        so one run of check-config shows every problem (one a line)."""
        problems = []
        for check in self._checks():
            try:
                check(self)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # Derived, so nothing else reads the environment or joins paths by hand.
    @property
    def server_name(self) -> str:
        return self.user_id.split(":", 1)[1]

    @property
    def store_url(self) -> str:
        """The database URL in effect: the setting, or attache.db in data_dir."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'attache.db'}"

    @property
    def on_postgresql(self) -> bool:
        return not self.store_url.startswith("sqlite:")

    @property
    def secret_for_keys(self) -> str:
        secret = self.cross_signing_secret or self.pickle_key
        assert secret is not None
        return secret.get_secret_value()

    def is_allowed(self, user_id: str) -> bool:
        """Deny by default: listed people, people of listed servers, and admins."""
        if user_id in self.allowed_users or user_id in self.admins:
            return True
        return user_id.partition(":")[2] in self.allowed_servers
