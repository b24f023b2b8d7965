"""ATTACHE_DATABASE_URL picks the backend; its *_FILE twin keeps the password out of env."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import Store, open_store, sqlite_path
from bot.store.postgres import PgStore, redact
from config import ConfigError, load_settings
from tests.unit.test_config import env  # noqa: F401  (the fixture)


def test_default_is_the_sqlite_file_in_the_data_dir(env: pytest.MonkeyPatch) -> None:  # noqa: F811
    env.setenv("ATTACHE_DATA_DIR", "/srv/attache")
    settings = load_settings()
    assert settings.store_url == "sqlite:////srv/attache/attache.db"
    assert not settings.on_postgresql
    store = open_store(settings.store_url)
    assert isinstance(store, Store) and store.path == Path("/srv/attache/attache.db")
    assert sqlite_path("sqlite:///data/attache.db") == Path("data/attache.db")


def test_postgresql_url_from_a_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: F811
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://attache:s3cret@db.example.org/attache\n")
    env.setenv("ATTACHE_DATABASE_URL_FILE", str(secret))
    settings = load_settings()
    assert settings.on_postgresql
    assert isinstance(open_store(settings.store_url), PgStore)
    assert "s3cret" not in repr(settings)
    assert redact(settings.store_url) == "postgresql://attache:***@db.example.org/attache"


def test_unknown_scheme_is_a_clear_error(env: pytest.MonkeyPatch) -> None:  # noqa: F811
    env.setenv("ATTACHE_DATABASE_URL", "mysql://x@y/z")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "must start with sqlite:/// or postgresql://" in err.value.problems[0]
    assert "mysql://x@y/z" not in str(err.value.problems)
