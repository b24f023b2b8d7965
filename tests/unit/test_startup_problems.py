"""check-config and start-up speak in one line per problem, exit 2 for settings that do not
fit, 1 for what cannot start now, and never print a traceback (issue 23, findings 3 and 8).

The CLI runs as a subprocess, as an operator runs it, with an environment holding only
the settings each test gives.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from nio.crypto import OlmAccount
from nio.store import SqliteStore

from bot.crypto.canonical import private_key_from_seed
from bot.crypto.key_file import save_keys
from bot.crypto.own_keys import CrossSigningKeys
from bot.crypto.pgstore import PostgresCryptoStore
from bot.preflight import stored_state_problems
from bot.store.database import Store
from config import ConfigError, load_settings
from tests.harness.bot import REPO
from tests.harness.postgres import PostgresServer

USER = "@attache:example.org"
DEVICE = "PREFLIGHTDEV"
RIGHT_KEY = "the-key-the-store-was-made-with-0123"
WRONG_KEY = "another-key-entirely-0123456789abcd"


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ATTACHE_")}
    env.update(
        PYTHONPATH=str(REPO),
        ATTACHE_HOMESERVER=f"http://127.0.0.1:{closed_port()}",
        ATTACHE_USER_ID=USER,
        ATTACHE_PASSWORD="correct horse battery staple",
        ATTACHE_PICKLE_KEY=RIGHT_KEY,
        ATTACHE_DATA_DIR=str(data_dir),
        ATTACHE_HTTP_ADDR=f"127.0.0.1:{closed_port()}",
        ATTACHE_ALLOWED_SERVERS="example.org",
    )
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO) ")


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one problem line (INFO log lines, e.g. migrations of a fresh store, aside)."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if not LOG_LINE.match(ln)]
    assert len(lines) == 1, result.stderr
    return lines[0]


def existing_deployment(data_dir: Path, key: str = RIGHT_KEY) -> OlmAccount:
    """A data dir as the bot leaves it: credentials and a crypto store sealed with `key`."""
    crypto = data_dir / "crypto"
    crypto.mkdir(parents=True)
    store = SqliteStore(USER, DEVICE, str(crypto), key)
    account = OlmAccount()
    store.save_account(account)
    store.database.close()
    creds = {"user_id": USER, "device_id": DEVICE, "access_token": "syt_x"}
    (data_dir / "credentials.json").write_text(json.dumps(creds))
    return account


# -- the settings themselves ----------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.upper().startswith("ATTACHE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ATTACHE_HOMESERVER", "https://matrix.example.org")
    monkeypatch.setenv("ATTACHE_USER_ID", USER)
    monkeypatch.setenv("ATTACHE_PASSWORD", "pw")
    monkeypatch.setenv("ATTACHE_PICKLE_KEY", RIGHT_KEY)
    return monkeypatch


def test_yaml_syntax_error_is_one_line_with_file_and_line(env, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("timezone: Europe/Paris\nallowed_servers: [example.org\nadmins: []\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    [problem] = err.value.problems
    assert problem.startswith(f"config: {config}:3:"), problem
    result = cli("--config", str(config), "check-config", env=dict(os.environ))
    assert result.returncode == 2
    assert one_line(result).startswith(f"config: {config}:3:")


def test_misspelled_environment_variable_is_refused_with_did_you_mean(env) -> None:
    env.setenv("ATTACHE_ALOWED_SERVERS", "example.org")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == [
        "ATTACHE_ALOWED_SERVERS: not a setting (did you mean ATTACHE_ALLOWED_SERVERS?); "
        "fix the name or unset it (settings: docs/OPERATIONS.md)"
    ]


def test_the_projects_own_tooling_variables_are_not_mistakes(env) -> None:
    env.setenv("ATTACHE_SYNAPSE_VENV", "/somewhere")  # exported by the Makefile
    env.setenv("ATTACHE_CONFIG_FILE", "x")  # but a near miss of ATTACHE_CONFIG is
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert [p.split(":")[0] for p in err.value.problems] == ["ATTACHE_CONFIG_FILE"]


def test_unknown_yaml_key_suggests_the_setting(env, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("timezon: Europe/Paris\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert err.value.problems == [
        "timezon: unknown setting (did you mean timezone?); check the spelling (see README)"
    ]


def test_every_problem_of_every_field_one_line_each(env, tmp_path: Path) -> None:
    env.setenv("ATTACHE_ALLOWED_USERS", "bob,@ok:example.org,carol")
    env.setenv("ATTACHE_ALLOWED_SERVERS", "bad server,worse server")
    env.setenv("ATTACHE_TIMEZONE", "Mars/Olympus")
    env.delenv("ATTACHE_PICKLE_KEY")
    env.setenv("ATTACHE_PICKLE_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == [
        "allowed_users: 'bob' is not a Matrix ID like @alice:example.org",
        "allowed_users: 'carol' is not a Matrix ID like @alice:example.org",
        "allowed_servers: 'bad server' is not a server name like example.org",
        "allowed_servers: 'worse server' is not a server name like example.org",
        "timezone: must be an IANA zone such as Europe/Paris or UTC",
        # a cross-setting check, which pydantic alone skips once a field failed
        f"pickle_key_file: cannot read {tmp_path / 'missing'}: No such file or directory",
    ]


# -- the settings against the data they open -------------------------------------------------


def test_wrong_pickle_key_check_config_and_run_say_one_line_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    existing_deployment(data)
    good = cli("check-config", env=settings_env(data))
    assert good.returncode == 0, good.stderr
    wrong = settings_env(data, ATTACHE_PICKLE_KEY=WRONG_KEY)
    checked = cli("check-config", env=wrong)
    assert checked.returncode == 2
    assert one_line(checked).startswith("pickle_key: does not open the crypto store ")
    started = cli("run", env=wrong)  # before: a 54-line traceback
    assert started.returncode == 2
    assert one_line(started).startswith("attache-bot: pickle_key: does not open the crypto store")


def test_cross_signing_secret_that_does_not_open_the_saved_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    existing_deployment(data)
    seeds = [bytes([n]) * 32 for n in (1, 2, 3)]
    keys = CrossSigningKeys(*(private_key_from_seed(s) for s in seeds))
    save_keys(data / "cross_signing.keys", keys, "the-old-cross-signing-secret", USER)
    result = cli("check-config", env=settings_env(data))
    assert result.returncode == 2
    assert one_line(result).startswith("pickle_key: cannot decrypt cross-signing keys")
    fixed = settings_env(data, ATTACHE_CROSS_SIGNING_SECRET="the-old-cross-signing-secret")
    assert cli("check-config", env=fixed).returncode == 0


async def test_wrong_pickle_key_on_postgresql(
    env, tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.new_database("preflight")
    store = PostgresCryptoStore.for_url(url)(USER, DEVICE, str(tmp_path), RIGHT_KEY)
    store.save_account(OlmAccount())
    store.database.close()
    settings = load_settings(
        homeserver="https://matrix.example.org",
        user_id=USER,
        access_token="syt_x",
        device_id=DEVICE,
        pickle_key=WRONG_KEY,
        database_url=url,
        data_dir=tmp_path / "data",
    )
    [problem] = stored_state_problems(settings)
    where = f"in the database (device {DEVICE})"
    assert problem.startswith(f"pickle_key: does not open the crypto store {where}")


def test_unreachable_homeserver_at_start_is_one_line_exit_1(tmp_path: Path) -> None:
    result = cli("run", env=settings_env(tmp_path / "data"))
    assert result.returncode == 1
    assert one_line(result).startswith("attache-bot: homeserver: cannot reach http://127.0.0.1:")


async def test_migrate_store_to_an_unreachable_database_exits_with_one_line(
    tmp_path: Path,
) -> None:
    """It used to print a traceback and never exit (the SQLite store was left open)."""
    data = tmp_path / "data"
    env = settings_env(data)
    store = Store(data / "attache.db")
    await store.open()
    await store.close()
    target = f"postgresql://attache:pw@127.0.0.1:{closed_port()}/attache"
    result = cli("migrate-store", "--to", target, env=env, timeout=60)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("migrate-store: --to: cannot connect (")
    assert "pw@" not in line


async def test_migrate_closes_the_sqlite_store_when_the_target_is_unreachable(
    env, tmp_path: Path
) -> None:
    """The store's thread was left running (bot/migrate_store.py opened it outside the
    try/finally), which kept the process from exiting."""
    import threading

    from bot.migrate_store import migrate

    data = tmp_path / "data"
    store = Store(data / "attache.db")
    await store.open()
    await store.close()
    settings = load_settings(
        homeserver="https://matrix.example.org",
        user_id=USER,
        password="pw",
        pickle_key=RIGHT_KEY,
        data_dir=data,
    )

    def sqlite_threads() -> int:
        """aiosqlite connections still running (each has a thread; a closed one ends)."""
        threads = [
            t
            for t in threading.enumerate()
            if getattr(getattr(t, "_target", None), "__name__", "") == "_connection_worker_thread"
        ]
        for thread in threads:
            thread.join(timeout=2)
        return sum(t.is_alive() for t in threads)

    import psycopg

    before = sqlite_threads()
    with pytest.raises(psycopg.OperationalError):  # connection refused
        await migrate(settings, f"postgresql://a:pw@127.0.0.1:{closed_port()}/attache")
    assert sqlite_threads() == before


def test_unreachable_database_check_config_exit_2_and_run_exit_1(tmp_path: Path) -> None:
    url = f"postgresql://attache:s3cret-pw@127.0.0.1:{closed_port()}/attache"
    env = settings_env(tmp_path / "data", ATTACHE_DATABASE_URL=url)
    checked = cli("check-config", env=env)
    assert checked.returncode == 2
    assert one_line(checked).startswith("database_url: cannot connect (")
    started = cli("run", env=env)
    assert started.returncode == 1
    assert one_line(started).startswith("attache-bot: database_url: cannot connect (")
    assert "s3cret-pw" not in checked.stderr + started.stderr
