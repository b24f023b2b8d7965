"""Marking settings: YAML and env, and validators that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings_vocabulary import load_settings
from commands.markings import Marking, Policy
from config import ConfigError
from tests.unit.test_config import BASE


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The minimal valid environment of test_config, and nothing else of ATTACHE_*."""
    for key in list(__import__("os").environ):
        if key.startswith("ATTACHE_"):
            monkeypatch.delenv(key)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_yaml_levels_groups_ceiling_defaults(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "marking_levels: [UNCLASSIFIED, RESTRICTED, CONFIDENTIAL]\n"
        "max_marking: restricted\n"
        "marking_groups:\n  FVEY: [USA, GBR, CAN, AUS, NZL]\n  nato: [FRA, deu]\n"
        "default_marking: RESTRICTED\n"
        "default_rel: [FVEY]\n"
    )
    settings = load_settings(config)
    assert settings.marking_levels == ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"]
    assert settings.max_marking == "RESTRICTED"
    assert settings.marking_groups == {
        "FVEY": ["AUS", "CAN", "GBR", "NZL", "USA"],
        "NATO": ["DEU", "FRA"],
    }
    policy = Policy.from_settings(settings)
    assert policy.ceiling == "RESTRICTED"
    assert policy.default() == Marking("RESTRICTED", ("FVEY",))


def test_env_lists_and_json_groups(env: pytest.MonkeyPatch) -> None:
    env.setenv("ATTACHE_MARKING_LEVELS", "UNCLASSIFIED,RESTRICTED")
    env.setenv("ATTACHE_MARKING_GROUPS", '{"FVEY": ["USA", "GBR"]}')
    env.setenv("ATTACHE_DEFAULT_REL", "FRA,FVEY")
    settings = load_settings()
    assert settings.marking_levels == ["UNCLASSIFIED", "RESTRICTED"]
    assert settings.marking_groups == {"FVEY": ["GBR", "USA"]}
    assert settings.default_rel == ["FRA", "FVEY"]
    assert settings.max_marking is None
    assert Policy.from_settings(settings).ceiling == "RESTRICTED"


def test_defaults_carry_only_unclassified(env: pytest.MonkeyPatch) -> None:
    policy = Policy.from_settings(load_settings())
    assert policy.levels == ("UNCLASSIFIED",) and policy.ceiling == "UNCLASSIFIED"
    assert policy.default() is None


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("ATTACHE_MARKING_LEVELS", "UNCLASSIFIED,NATO RESTRICTED", "is not one word"),
        ("ATTACHE_MARKING_LEVELS", "A,B,A", "named twice"),
        ("ATTACHE_MAX_MARKING", "SECRET", "max_marking: 'SECRET' is not one of marking_levels"),
        ("ATTACHE_DEFAULT_MARKING", "SECRET", "default_marking: 'SECRET' is not one of"),
        ("ATTACHE_MARKING_GROUPS", '{"FVEY": ["USA", "UK"]}', "'UK' is not an ISO 3166-1 alpha-3"),
        ("ATTACHE_MARKING_GROUPS", '{"FRA": ["FRA"]}', "is also a country code"),
        ("ATTACHE_MARKING_GROUPS", '{"EMPTY": []}', "has no nations"),
        ("ATTACHE_DEFAULT_REL", "FRA,NOPE", "default_rel: 'NOPE' is neither"),
    ],
)
def test_bad_values_are_named(env: pytest.MonkeyPatch, key: str, value: str, says: str) -> None:
    env.setenv("ATTACHE_MARKING_LEVELS", "UNCLASSIFIED,RESTRICTED")
    env.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert says in str(err.value), err.value.problems


def test_default_above_ceiling_and_marked_default_without_rel(env: pytest.MonkeyPatch) -> None:
    env.setenv("ATTACHE_MARKING_LEVELS", "UNCLASSIFIED,RESTRICTED,CONFIDENTIAL")
    env.setenv("ATTACHE_MAX_MARKING", "RESTRICTED")
    env.setenv("ATTACHE_DEFAULT_MARKING", "CONFIDENTIAL")
    with pytest.raises(ConfigError, match="above max_marking"):
        load_settings()
    env.setenv("ATTACHE_DEFAULT_MARKING", "RESTRICTED")
    with pytest.raises(ConfigError, match="needs default nations or groups"):
        load_settings()
