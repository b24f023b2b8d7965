"""A plain-http homeserver is refused unless it is this machine or explicitly allowed."""

from __future__ import annotations

import os

import pytest

from bot.cli import main
from config import ConfigError, load_settings

BASE = {
    "ATTACHE_USER_ID": "@attache:example.org",
    "ATTACHE_PASSWORD": "correct horse battery staple",
    "ATTACHE_PICKLE_KEY": "a-long-enough-pickle-key-123456",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("ATTACHE_"):
            monkeypatch.delenv(key)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


@pytest.mark.parametrize(
    "url", ["http://matrix.example.org", "http://10.0.0.5:8008", "http://127.0.0.1.evil.org"]
)
def test_plain_http_to_another_host_is_refused(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    env.setenv("ATTACHE_HOMESERVER", url)
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "homeserver: plain http" in err and "allow_insecure_http" in err
    assert main(["run"]) == 2  # run refuses it the same way, before any connection


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8008", "http://localhost:8008", "http://[::1]:8008"]
)
def test_plain_http_to_this_machine_is_accepted(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("ATTACHE_HOMESERVER", url)
    assert load_settings().homeserver == url


def test_plain_http_elsewhere_only_when_explicitly_allowed(env: pytest.MonkeyPatch) -> None:
    env.setenv("ATTACHE_HOMESERVER", "http://synapse:8008")
    with pytest.raises(ConfigError):
        load_settings()
    env.setenv("ATTACHE_ALLOW_INSECURE_HTTP", "true")
    assert load_settings().homeserver == "http://synapse:8008"
