"""Settings: env, YAML, *_FILE secrets, and check-config's messages (never a secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from config import ConfigError, load_settings

BASE = {
    "ATTACHE_HOMESERVER": "https://matrix.example.org",
    "ATTACHE_USER_ID": "@attache:example.org",
    "ATTACHE_PASSWORD": "correct horse battery staple",
    "ATTACHE_PICKLE_KEY": "a-long-enough-pickle-key-123456",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(__import__("os").environ):
        if key.startswith("ATTACHE_"):
            monkeypatch.delenv(key)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_env_lists_are_comma_separated(env: pytest.MonkeyPatch) -> None:
    env.setenv("ATTACHE_ALLOWED_USERS", "@a:example.org, @b:example.org")
    env.setenv("ATTACHE_ALLOWED_SERVERS", "nato.int")
    settings = load_settings()
    assert settings.allowed_users == ["@a:example.org", "@b:example.org"]
    assert settings.is_allowed("@b:example.org") and settings.is_allowed("@x:nato.int")
    assert not settings.is_allowed("@mallory:evil.org")


def test_deny_by_default(env: pytest.MonkeyPatch) -> None:
    assert not load_settings().is_allowed("@anyone:example.org")


def test_secret_from_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "pickle"
    secret.write_text("from-a-docker-secret-file-0123\n")
    env.delenv("ATTACHE_PICKLE_KEY")
    env.setenv("ATTACHE_PICKLE_KEY_FILE", str(secret))
    settings = load_settings()
    assert settings.pickle_key is not None
    assert settings.pickle_key.get_secret_value() == "from-a-docker-secret-file-0123"


def test_secret_and_its_file_together_is_an_error(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x")
    env.setenv("ATTACHE_PASSWORD_FILE", str(secret))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == ["password: set either password or password_file, not both"]


def test_missing_secret_file_names_the_setting(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("ATTACHE_PASSWORD")
    env.setenv("ATTACHE_PASSWORD_FILE", str(tmp_path / "nope"))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems[0].startswith("password_file: cannot read")


@pytest.mark.parametrize("weak", ["DEFAULT_KEY", "short"])
def test_weak_pickle_key_is_refused(env: pytest.MonkeyPatch, weak: str) -> None:
    env.setenv("ATTACHE_PICKLE_KEY", weak)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems[0].startswith("pickle_key: too weak")


def test_yaml_file_with_env_winning(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("timezone: Europe/Paris\ncommand_prefix: '?'\nadmins: ['@ops:example.org']\n")
    env.setenv("ATTACHE_COMMAND_PREFIX", "!")
    settings = load_settings(config)
    assert settings.timezone == "Europe/Paris"
    assert settings.admins == ["@ops:example.org"]
    assert settings.command_prefix == "!"


def test_check_config_lists_every_problem_without_secrets(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("timezone: Mars/Base\nhttp_addr: nowhere\ntypo_setting: 1\n")
    env.setenv("ATTACHE_USER_ID", "attache")
    code = main(["--config", str(config), "check-config"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert any(line.startswith("user_id: must be a Matrix ID") for line in lines)
    assert any(line.startswith("timezone: must be an IANA zone") for line in lines)
    assert any(line.startswith("http_addr: must be host:port") for line in lines)
    assert any(line.startswith("typo_setting: unknown setting") for line in lines)
    for secret in (BASE["ATTACHE_PASSWORD"], BASE["ATTACHE_PICKLE_KEY"]):
        assert secret not in err


def test_check_config_ok_exit_0(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config"]) == 0
    out = capsys.readouterr()
    assert "ok: @attache:example.org" in out.out
    assert "nobody gets in" in out.out  # the empty allow-list is called out
    assert BASE["ATTACHE_PASSWORD"] not in out.out + out.err


def test_access_token_needs_device_id(env: pytest.MonkeyPatch) -> None:
    env.delenv("ATTACHE_PASSWORD")
    env.setenv("ATTACHE_ACCESS_TOKEN", "syt_abc")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == ["device_id: ATTACHE_ACCESS_TOKEN needs ATTACHE_DEVICE_ID"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ATTACHE_MARKING_GROUPS", "FVEY:USA,GBR"),
        ("ATTACHE_TRUSTED_IDENTITIES", "@ops:example.org=abc"),
        ("ATTACHE_LIAISON_ESCALATION_SECONDS", "immediate=60"),
    ],
)
def test_a_mapping_in_the_environment_that_is_not_json_is_one_line_not_a_traceback(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    env.setenv(variable, value)
    env.setenv("ATTACHE_TIMEZONE", "Mars/Base")  # and the other problems are still found
    assert main(["check-config"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    setting = variable.removeprefix("ATTACHE_").lower()
    assert [line for line in lines if not line.startswith("timezone:")] == [
        f"{setting}: {variable} is not JSON; in the environment write it as JSON, e.g. "
        + {
            "marking_groups": '{"FVEY": ["USA", "GBR"]}',
            "trusted_identities": '{"@alice:example.org": "<43 characters of base64>"}',
            "liaison_escalation_seconds": '{"immediate": 1800}',
        }[setting]
    ]
    assert any(line.startswith("timezone: must be an IANA zone") for line in lines)


def test_a_mapping_in_the_environment_as_json_still_loads(env: pytest.MonkeyPatch) -> None:
    env.setenv("ATTACHE_MARKING_LEVELS", "UNCLASSIFIED,RESTRICTED")
    env.setenv("ATTACHE_MARKING_GROUPS", '{"FVEY": ["USA", "GBR"]}')
    env.setenv("ATTACHE_LIAISON_ESCALATION_SECONDS", '{"immediate": 60}')
    settings = load_settings()
    assert settings.marking_groups == {"FVEY": ["USA", "GBR"]}
    assert settings.liaison_escalation_seconds["immediate"] == 60


def test_a_secret_file_that_is_not_text_names_the_setting(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "pw.bin"
    secret.write_bytes(b"\xff\xfe\x00binary")
    env.delenv("ATTACHE_PASSWORD")
    env.setenv("ATTACHE_PASSWORD_FILE", str(secret))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == [f"password_file: {secret} is not UTF-8 text"]
