"""The bot's one Settings class: env ATTACHE_*, a YAML file, and *_FILE secrets."""

from __future__ import annotations

import ipaddress
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from config.sources import did_you_mean, unknown_variables, yaml_problems

MATRIX_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")
SERVER_NAME = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$")
SECRETS = ("password", "access_token", "pickle_key", "cross_signing_secret", "database_url")
NIO_DEFAULT_PICKLE_KEY = "DEFAULT_KEY"

LIAISON_PRECEDENCES = ("immediate", "priority", "routine")
LIAISON_ESCALATION_DEFAULTS = {"immediate": 30 * 60, "priority": 8 * 3600, "routine": 72 * 3600}

_yaml_file: ContextVar[Path | None] = ContextVar("attache_yaml_file", default=None)

CommaList = Annotated[list[str], NoDecode]


def _each(values: list[str], template: str) -> str:
    """One problem line per bad value (describe_errors prefixes each with the setting)."""
    return "\n".join(template.format(v) for v in values)


def _split_list(value: Any) -> Any:
    """Accept a comma list from env as well as a YAML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every option the operator can set, with its default and its check."""

    model_config = SettingsConfigDict(
        env_prefix="ATTACHE_",
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,
    )

    homeserver: str = Field(description="Homeserver URL, e.g. https://matrix.example.org")
    allow_insecure_http: bool = Field(
        False,
        description="Accept a plain http:// homeserver on another host (e.g. a sidecar on a "
        "private network); without it only loopback may be plain http",
    )
    user_id: str = Field(description="The bot's Matrix ID, e.g. @attache:example.org")
    password: SecretStr | None = Field(None, description="Password for first login")
    password_file: Path | None = Field(None, description="File holding the password")
    access_token: SecretStr | None = Field(None, description="Access token (with device_id)")
    access_token_file: Path | None = Field(None, description="File holding the access token")
    device_id: str | None = Field(None, description="Device ID that goes with access_token")
    device_name: str = Field("attache-bot", description="Display name of the bot's device")
    pickle_key: SecretStr | None = Field(None, description="Secret encrypting the crypto store")
    pickle_key_file: Path | None = Field(None, description="File holding the pickle key")
    cross_signing_secret: SecretStr | None = Field(
        None, description="Secret encrypting the cross-signing keys (default: the pickle key)"
    )
    cross_signing_secret_file: Path | None = Field(
        None, description="File holding the cross-signing secret"
    )
    data_dir: Path = Field(Path("data"), description="Store, crypto store, credentials, lock")
    database_url: SecretStr | None = Field(
        None,
        description="Where the bot keeps everything: sqlite:///<path> (default: attache.db in "
        "data_dir) or postgresql://user:password@host/db (shared by an active and a standby)",
    )
    database_url_file: Path | None = Field(
        None, description="File holding database_url (it carries the database password)"
    )
    failover_seconds: int = Field(
        15,
        ge=3,
        le=300,
        description="On PostgreSQL: a standby takes over at most this long after the active "
        "instance stops renewing its lease",
    )
    allowed_users: CommaList = Field(default_factory=list, description="Matrix IDs let in")
    allowed_servers: CommaList = Field(default_factory=list, description="Homeservers let in")
    admins: CommaList = Field(default_factory=list, description="Matrix IDs with the admin role")
    command_prefix: str = Field("!", description="What starts a command")
    timezone: str = Field("UTC", description="IANA zone for people who set none")
    language: str = Field(
        "en", description="Language for people and rooms that set none (en, fr, de: !lang)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log verbosity (bodies, tokens and keys are never logged)"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text for people, json for one JSON object a line"
    )
    http_addr: str = Field("127.0.0.1:9100", description="host:port for /healthz and /metrics")
    sync_timeout_ms: int = Field(30_000, ge=1_000, le=300_000, description="Long-poll timeout")
    health_max_sync_age: int = Field(
        120, ge=5, description="Seconds without a completed sync before /healthz fails"
    )
    max_command_length: int = Field(
        4_000, ge=100, description="Longest command head accepted (the part before --)"
    )
    max_body_length: int = Field(
        32_000,
        ge=1_000,
        le=60_000,
        description="Longest free text accepted: after -- in a command, or a thread reply",
    )
    min_recurrence_interval: int = Field(
        3_600,
        ge=60,
        le=7 * 86_400,
        description="Seconds: the shortest gap between two firings of a repeating item",
    )
    rate_limit_burst: int = Field(
        60,
        ge=1,
        description="What one person may make the bot do at once: commands, edits, replies, "
        "reactions, undecryptable messages and invitations, counted together",
    )
    rate_limit_per_minute: int = Field(
        60, ge=1, description="The same, sustained: how many a minute after the burst"
    )
    max_rooms_per_inviter: int = Field(
        25,
        ge=1,
        le=10_000,
        description="Rooms the bot stays in on one person's invitations (DMs included); "
        "further invitations from them are declined and they are told why",
    )
    undecryptable_give_up: int = Field(
        120,
        ge=5,
        le=86_400,
        description="Seconds to wait for a message's room key before telling its sender",
    )
    refusal_repeat_after: int = Field(
        3600,
        ge=60,
        le=7 * 86_400,
        description="Seconds after which a refused (e.g. unverified) session that keeps "
        "sending is told why again; never more often",
    )
    send_max_retries: int = Field(
        8,
        ge=0,
        le=50,
        description="No longer used (old configurations still load): a send is retried "
        "until its kind's deadline",
    )
    trust_mode: Literal["tofu", "strict"] = Field(
        "tofu", description="tofu: pin identities on first sight; strict: only trusted_identities"
    )
    trusted_identities: dict[str, str] = Field(
        default_factory=dict, description="Matrix ID -> master key, pinned by the operator"
    )
    directory_seed: Path | None = Field(None, description="YAML seed of people and posts")
    schedule_late_after: int = Field(
        60,
        ge=1,
        le=3600,
        description="Seconds past due after which a reminder is said to be late (bot was down)",
    )
    actions_digest_time: str = Field(
        "09:00", description="Local time (HH:MM, the summit's zone) of the daily action digest"
    )
    actions_working_days: CommaList = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="Days the action digest is sent (mon..sun)",
    )
    actions_nudge_days: int = Field(
        2, ge=0, le=60, description="Days before an action item is due that its owner is nudged"
    )
    actions_page_size: int = Field(20, ge=5, le=200, description="Action items per listed page")
    liaison_escalation_seconds: dict[str, int] = Field(
        default_factory=lambda: dict(LIAISON_ESCALATION_DEFAULTS),
        description="Seconds an unacknowledged liaison request waits before it is re-sent, "
        "by precedence (immediate, priority, routine); missing ones keep their default",
    )

    marking_levels: CommaList = Field(
        default_factory=lambda: ["UNCLASSIFIED"],
        description="Handling markings this deployment knows, lowest first, one word each "
        "(e.g. UNCLASSIFIED,RESTRICTED,CONFIDENTIAL); the first is 'unmarked'",
    )
    max_marking: str | None = Field(
        None,
        description="The highest marking this system is accredited to carry; anything "
        "above is refused (default: the highest of marking_levels)",
    )
    marking_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Named groups of nations usable wherever a nation is, e.g. "
        "{FVEY: [USA, GBR, CAN, AUS, NZL]} (env: JSON)",
    )
    default_marking: str | None = Field(
        None, description="Marking of an item that names none (default: the lowest level)"
    )
    default_rel: CommaList = Field(
        default_factory=list,
        description="Nations or groups an item is releasable to when it names none "
        "(ISO 3166-1 alpha-3 codes or group names)",
    )
    marking_banner: str = Field(
        "{level} // REL TO {rel}",
        description="The form of a marking's banner line, with {level} and {rel} (the "
        "nations and groups, comma separated); never translated: every reader, message, "
        "listing and file shows the same label. Without REL TO, the level alone",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_file.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @field_validator("allowed_users", "allowed_servers", "admins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

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
            raise ValueError(_each(bad, "{!r} is not a Matrix ID like @alice:example.org"))
        return value

    @field_validator("allowed_servers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not SERVER_NAME.match(v)]
        if bad:
            raise ValueError(_each(bad, "{!r} is not a server name like example.org"))
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
        return _split_list(value)

    @field_validator("marking_levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        from commands.markings.model.levels import LEVEL_NAME

        levels = [v.strip().upper() for v in value]
        if not levels:
            raise ValueError("name at least one level, lowest first, e.g. UNCLASSIFIED,RESTRICTED")
        bad = [v for v in levels if not LEVEL_NAME.fullmatch(v)]
        if bad:
            raise ValueError(
                f"{bad[0]!r} is not one word of letters, digits, _ or - (e.g. NATO_RESTRICTED)"
            )
        if len(set(levels)) != len(levels):
            raise ValueError("a level is named twice; list each once, lowest first")
        return levels

    @field_validator("marking_banner")
    @classmethod
    def _banner_form(cls, value: str) -> str:
        import string

        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if fields != {"level", "rel"} or "\n" in value:
            raise ValueError(
                "write one line with {level} and {rel} and no other {field}, "
                "e.g. '{level} // REL TO {rel}'"
            )
        return value

    @field_validator("max_marking", "default_marking")
    @classmethod
    def _level_upper(cls, value: str | None) -> str | None:
        return value.strip().upper() if value is not None else None

    @field_validator("marking_groups")
    @classmethod
    def _groups(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from commands.markings.model.nations import NATIONS
        from commands.markings.model.policy import GROUP_NAME

        out: dict[str, list[str]] = {}
        for name, members in value.items():
            group = name.strip().upper()
            if not GROUP_NAME.fullmatch(group):
                raise ValueError(f"group {name!r}: name it with 2-20 letters or digits, e.g. FVEY")
            if group in NATIONS:
                raise ValueError(f"group {name!r} is also a country code; choose another name")
            nations = [m.strip().upper() for m in _split_list(members)]
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

    def _markings(self) -> Settings:
        """The ceiling and the defaults must be levels, the default at or below the
        ceiling, and default_rel nations or configured groups."""
        from commands.markings.model.nations import NATIONS

        levels = self.marking_levels
        for name in ("max_marking", "default_marking"):
            level = getattr(self, name)
            if level is not None and level not in levels:
                raise ValueError(
                    f"{name}: {level!r} is not one of marking_levels ({', '.join(levels)})"
                )
        ceiling = levels.index(self.max_marking) if self.max_marking else len(levels) - 1
        default = levels.index(self.default_marking) if self.default_marking else 0
        if default > ceiling:
            raise ValueError(
                f"default_marking: {self.default_marking} is above max_marking "
                f"({levels[ceiling]}); nothing could be sent with it"
            )
        rel = [r.strip().upper() for r in self.default_rel]
        bad = [r for r in rel if r not in NATIONS and r not in self.marking_groups]
        if bad:
            raise ValueError(
                f"default_rel: {bad[0]!r} is neither an ISO 3166-1 alpha-3 code (e.g. FRA) "
                "nor a group in marking_groups"
            )
        self.default_rel = rel
        if default > 0 and not rel:
            raise ValueError(
                f"default_rel: a default marking of {self.default_marking} needs default "
                "nations or groups to release it to, e.g. default_rel: [FVEY]"
            )
        return self

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

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        from commands.i18n import available, normalise

        code = normalise(value)
        if code is None:
            raise ValueError(f"must be one of {', '.join(available())}")
        return code

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
        return _split_list(value)

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

    def _secret_files(self) -> Settings:
        problems = []
        for name in SECRETS:
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                problems.append(f"{name}: set either {name} or {name}_file, not both")
                continue
            try:
                text = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(f"{name}_file: cannot read {path}: {exc.strerror}")
                continue
            if not text:
                problems.append(f"{name}_file: {path} is empty")
                continue
            setattr(self, name, SecretStr(text))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _database_url(self) -> Settings:
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
                raise ValueError(
                    "database_url: must start with sqlite:/// or postgresql://, e.g. "
                    "postgresql://attache:PASSWORD@db.example.org/attache"
                )
        return self

    def _plain_http(self) -> Settings:
        """The access token and every request cross the network in the clear over http://;
        that is only harmless on this machine, so anything else is an explicit choice."""
        url = urlsplit(self.homeserver)
        if url.scheme != "http" or self.allow_insecure_http:
            return self
        host = (url.hostname or "").lower()
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError(
                f"homeserver: plain http to {host} would send the access token unencrypted; "
                "use https://, or set allow_insecure_http: true if the network path is "
                "private (e.g. a sidecar in the same pod)"
            )
        return self

    def _credentials(self) -> Settings:
        given = (self.password, self.access_token, self.password_file, self.access_token_file)
        if all(v is None for v in given):  # an unreadable *_file is reported by itself
            raise ValueError(
                "password: set ATTACHE_PASSWORD(_FILE) or ATTACHE_ACCESS_TOKEN(_FILE) "
                "with ATTACHE_DEVICE_ID"
            )
        if self.access_token is not None and not self.device_id:
            raise ValueError("device_id: ATTACHE_ACCESS_TOKEN needs ATTACHE_DEVICE_ID")
        return self

    def _pickle_key(self) -> Settings:
        key = self.pickle_key.get_secret_value() if self.pickle_key else ""
        if not key and self.pickle_key_file is not None:
            return self  # its file could not be read: reported by _secret_files
        if not key:
            raise ValueError(
                "pickle_key: required; set ATTACHE_PICKLE_KEY(_FILE) to a long random secret, "
                "e.g. the output of `openssl rand -base64 32`"
            )
        if key == NIO_DEFAULT_PICKLE_KEY or len(key) < 16:
            raise ValueError(
                "pickle_key: too weak (nio's default or under 16 characters); "
                "use e.g. `openssl rand -base64 32`"
            )
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        """Every check that reads several settings, each run even when another failed,
        so one run of check-config shows every problem (one a line)."""
        problems = []
        for check in (
            self._markings,
            self._secret_files,
            self._database_url,
            self._plain_http,
            self._credentials,
            self._pickle_key,
        ):
            try:
                check()
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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from overrides, env, then the YAML file (ATTACHE_CONFIG or --config).

    Raises ConfigError with every problem found: misnamed variables, the file's syntax,
    then each setting (all of a setting's problems, and every cross-setting check).
    """
    path = config_file or (Path(p) if (p := os.environ.get("ATTACHE_CONFIG")) else None)
    if path is not None and not path.is_file():
        raise ConfigError([f"config: file {path} not found; pass --config PATH or unset it"])
    problems = unknown_variables(os.environ, Settings.model_fields)
    if path is not None and (syntax := yaml_problems(path)):
        raise ConfigError(problems + syntax)
    token = _yaml_file.set(path)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems += describe_errors(exc)
        problems += _cross_problems(exc, overrides)
    finally:
        _yaml_file.reset(token)
    if problems:
        raise ConfigError(problems)
    return settings


def _cross_problems(exc: ValidationError, overrides: dict[str, Any]) -> list[str]:
    """The cross-setting checks, which pydantic skips once a single setting failed: run
    again with each failed setting at its default (unknown keys ignored), so one run of
    check-config also shows, say, an unreadable pickle_key_file beside a bad timezone."""
    failed = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
    fields = Settings.model_fields
    if not failed or any(f in fields and fields[f].is_required() for f in failed):
        return []  # nothing was skipped, or a required setting is unusable: that is enough

    class Lenient(Settings):
        model_config = SettingsConfigDict(extra="ignore")

    defaults = {f: fields[f].get_default(call_default_factory=True) for f in failed & set(fields)}
    try:
        Lenient(**{**overrides, **defaults})
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
