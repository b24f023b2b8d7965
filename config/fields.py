"""What the operator can set: every setting's name, type, default and description.

The checks of each value are in config.settings, those across settings in
config.cross_checks; where the values come from (env, YAML, *_FILE) is decided here.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

SECRETS = ("password", "access_token", "pickle_key", "cross_signing_secret", "database_url")

LIAISON_PRECEDENCES = ("immediate", "priority", "routine")
LIAISON_ESCALATION_DEFAULTS = {"immediate": 30 * 60, "priority": 8 * 3600, "routine": 72 * 3600}

# The YAML file of this load (config.loading sets it around the one construction).
yaml_file: ContextVar[Path | None] = ContextVar("attache_yaml_file", default=None)

CommaList = Annotated[list[str], NoDecode]
# A mapping: YAML gives it as a mapping, the environment as JSON, which config.settings
# reads itself (pydantic-settings' own decoding raises a traceback on anything else).
JsonMap = Annotated[dict[str, str], NoDecode]
JsonIntMap = Annotated[dict[str, int], NoDecode]
JsonListMap = Annotated[dict[str, list[str]], NoDecode]


class Fields(BaseSettings):
    """Every option the operator can set, with its default; checked by config.settings."""

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
    trusted_identities: JsonMap = Field(
        default_factory=dict, description="Matrix ID -> master key, pinned by the operator"
    )
    verified_for_roles: CommaList = Field(
        default_factory=list,
        description="Roles (admin, secretariat) that count only for a person whose identity "
        "is verified (an interactive verification confirmed by an admin, or `attache-bot "
        "verify` at the console); a person pinned on first sight only is refused them",
    )
    verified_for_marking: str | None = Field(
        None,
        description="Items marked at or above this level (one of marking_levels, above the "
        "lowest) reach only people whose identity is verified; others get them withheld",
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
    brief_default: Literal["on", "off"] = Field(
        "off",
        description="The Monday brief (08:00 in each person's zone) for people who chose "
        "neither !brief weekly on nor off",
    )
    liaison_escalation_seconds: JsonIntMap = Field(
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
    marking_groups: JsonListMap = Field(
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
        path = yaml_file.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)
