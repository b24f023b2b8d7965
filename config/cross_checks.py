"""The checks that read several settings at once, each run even when another failed, so one
run of check-config shows every problem (one a line, `setting: what, how to fix`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from config.fields import SECRETS, Fields

NIO_DEFAULT_PICKLE_KEY = "DEFAULT_KEY"


def markings(s: Fields) -> None:
    """The ceiling and the default must be levels, the default at or below the ceiling,
    and a marked default needs someone to release it to (whether each of default_rel is a
    nation or a group is the domain's word: bot.settings_vocabulary)."""
    levels = s.marking_levels
    for name in ("max_marking", "default_marking"):
        level = getattr(s, name)
        if level is not None and level not in levels:
            raise ValueError(
                f"{name}: {level!r} is not one of marking_levels ({', '.join(levels)})"
            )
    ceiling = levels.index(s.max_marking) if s.max_marking else len(levels) - 1
    default = levels.index(s.default_marking) if s.default_marking else 0
    if default > ceiling:
        raise ValueError(
            f"default_marking: {s.default_marking} is above max_marking "
            f"({levels[ceiling]}); nothing could be sent with it"
        )
    if default > 0 and not s.default_rel:
        raise ValueError(
            f"default_rel: a default marking of {s.default_marking} needs default "
            "nations or groups to release it to, e.g. default_rel: [FVEY]"
        )


def verified_marking(s: Fields) -> None:
    """A verification threshold must be a level above the lowest (the lowest is unmarked:
    it would withhold everything from everyone unverified) and within the ceiling."""
    level = s.verified_for_marking
    if level is None:
        return
    levels = s.marking_levels
    if len(levels) < 2:
        raise ValueError(
            f"verified_for_marking: {level} needs markings configured: set marking_levels, "
            "lowest first, e.g. [UNCLASSIFIED, RESTRICTED, CONFIDENTIAL]"
        )
    if level not in levels[1:]:
        raise ValueError(
            f"verified_for_marking: {level!r} is not one of the marked levels "
            f"({', '.join(levels[1:])}); the lowest, {levels[0]}, means unmarked"
        )
    ceiling = levels.index(s.max_marking) if s.max_marking else len(levels) - 1
    if levels.index(level) > ceiling:
        raise ValueError(
            f"verified_for_marking: {level} is above max_marking ({levels[ceiling]}), so it "
            "would never apply; choose a level at or below it"
        )


def secret_files(s: Fields) -> None:
    problems = []
    for name in SECRETS:
        path: Path | None = getattr(s, f"{name}_file")
        if path is None:
            continue
        if getattr(s, name) is not None:
            problems.append(f"{name}: set either {name} or {name}_file, not both")
            continue
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{name}_file: cannot read {path}: {exc.strerror}")
            continue
        except UnicodeDecodeError:
            problems.append(f"{name}_file: {path} is not UTF-8 text")
            continue
        if not text:
            problems.append(f"{name}_file: {path} is empty")
            continue
        setattr(s, name, SecretStr(text))
    if problems:
        raise ValueError("\n".join(problems))


def database_url(s: Fields) -> None:
    if s.database_url is not None:
        url = s.database_url.get_secret_value()
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(
                "database_url: must start with sqlite:/// or postgresql://, e.g. "
                "postgresql://attache:PASSWORD@db.example.org/attache"
            )


def plain_http(s: Fields) -> None:
    """The access token and every request cross the network in the clear over http://;
    that is only harmless on this machine, so anything else is an explicit choice."""
    url = urlsplit(s.homeserver)
    if url.scheme != "http" or s.allow_insecure_http:
        return
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


def credentials(s: Fields) -> None:
    given = (s.password, s.access_token, s.password_file, s.access_token_file)
    if all(v is None for v in given):  # an unreadable *_file is reported by itself
        raise ValueError(
            "password: set ATTACHE_PASSWORD(_FILE) or ATTACHE_ACCESS_TOKEN(_FILE) "
            "with ATTACHE_DEVICE_ID"
        )
    if s.access_token is not None and not s.device_id:
        raise ValueError("device_id: ATTACHE_ACCESS_TOKEN needs ATTACHE_DEVICE_ID")


def pickle_key(s: Fields) -> None:
    key = s.pickle_key.get_secret_value() if s.pickle_key else ""
    if not key and s.pickle_key_file is not None:
        return  # its file could not be read: reported by secret_files
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


CrossCheck = Callable[[Fields], None]
CROSS_CHECKS: tuple[CrossCheck, ...] = (
    markings,
    verified_marking,
    secret_files,
    database_url,
    plain_http,
    credentials,
    pickle_key,
)
