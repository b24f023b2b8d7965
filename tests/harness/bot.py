"""The real bot as a subprocess (`python -m bot.cli run`) against the harness Synapse.

Tests talk to it only through Matrix (and /healthz), so they exercise exactly what an
operator deploys: settings from env and a YAML file, the data dir, signals, restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.harness.synapse import SynapseServer, free_port

REPO = Path(__file__).resolve().parents[2]
BOT_PASSWORD = "bot-password-for-tests"
PICKLE_KEY = "pickle-key-for-tests-0123456789abcdef"


class BotProcess:
    """One bot (one Matrix account, one data dir); start/stop/kill it like an operator."""

    def __init__(
        self,
        synapse: SynapseServer,
        workdir: Path,
        *,
        allowed_users: list[str] = (),  # type: ignore[assignment]
        allowed_servers: list[str] = (),  # type: ignore[assignment]
        admins: list[str] = (),  # type: ignore[assignment]
        settings: dict[str, Any] | None = None,
        localpart: str | None = None,
        log_level: str = "DEBUG",
        homeserver_url: str | None = None,  # another way in (tests/harness/fault_proxy.py)
    ) -> None:
        self.synapse = synapse
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "bot.log"
        self.config_path = workdir / "config.yaml"
        self.localpart = localpart or f"bot-{uuid.uuid4().hex[:8]}"
        self.account = synapse.register(self.localpart, BOT_PASSWORD)
        self.user_id = self.account["user_id"]
        # Registration made a device the bot never uses; remove it so peers see one device.
        synapse.request(
            "DELETE",
            f"/_synapse/admin/v2/users/{self.user_id}/devices/{self.account['device_id']}",
            token=synapse.admin_token,
        )
        self.http_port = free_port()
        config: dict[str, Any] = {
            "allowed_users": list(allowed_users),
            "allowed_servers": list(allowed_servers),
            "admins": list(admins),
            "http_addr": f"127.0.0.1:{self.http_port}",
            "sync_timeout_ms": 5000,
            "health_max_sync_age": 30,
        }
        config.update(settings or {})
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ATTACHE_HOMESERVER": homeserver_url or synapse.url,
            "ATTACHE_USER_ID": self.user_id,
            "ATTACHE_PASSWORD": BOT_PASSWORD,
            "ATTACHE_PICKLE_KEY": PICKLE_KEY,
            "ATTACHE_DATA_DIR": str(self.data_dir),
            "ATTACHE_CONFIG": str(self.config_path),
            "ATTACHE_LOG_LEVEL": log_level,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- lifecycle -------------------------------------------------------------------------

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start a bot process on this data dir without waiting (a second one may be refused)."""
        log = self.log_path.open("ab")
        log.write(f"\n=== start {self.starts} ===\n".encode())
        log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.proc = self.spawn()
        self.wait_healthy(timeout)

    async def astart(self, timeout: float = 60.0) -> None:
        await asyncio.to_thread(self.start, timeout)

    def wait_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the bot has completed a sync (its /healthz sync check passes)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"bot exited with {self.proc.returncode}:\n{self.log_tail()}")
            last = self.health() or {}
            if last.get("checks", {}).get("sync", {}).get("ok"):
                return last
            time.sleep(0.1)
        raise TimeoutError(f"bot not healthy in {timeout}s ({last}):\n{self.log_tail()}")

    def health(self) -> dict[str, Any] | None:
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}")  # type: ignore[no-any-return]
        except OSError:
            return None

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as an orchestrator does; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    async def astop(self, timeout: float = 60.0) -> int:
        return await asyncio.to_thread(self.stop, timeout)

    def kill(self) -> None:
        """kill -9: no cleanup at all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        try:
            self.stop(timeout=20)
        except Exception:
            self.kill()

    # -- inspection ------------------------------------------------------------------------

    def log_text(self) -> str:
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.log_path.exists()
            else ""
        )

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    @property
    def device_id(self) -> str | None:
        creds = self.data_dir / "credentials.json"
        if not creds.exists():
            return None
        return json.loads(creds.read_text(encoding="utf-8"))["device_id"]  # type: ignore[no-any-return]

    # -- a second instance of the same bot (PostgreSQL: active/standby) -----------------------

    def store_url(self) -> str:
        """The database of the bot's store: its `database_url`, else attache.db (SQLite)."""
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
        return str(config.get("database_url") or f"sqlite:///{self.data_dir / 'attache.db'}")

    def query(self, sql: str, *params: str | int) -> list[tuple[Any, ...]]:
        """Read this bot's store, on either backend (`?` placeholders); PostgreSQL's
        values come back as text, or int when they read as one."""
        url = self.store_url()
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                return list(db.execute(sql, params).fetchall())
        literals = iter(
            str(p) if isinstance(p, int) else "'" + p.replace("'", "''") + "'" for p in params
        )
        text = re.sub(r"\?", lambda _m: next(literals), sql)
        out = subprocess.run(
            ["psql", "-X", "-qAt", "-F", "\x1f", url, "-c", text],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [
            tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("\x1f"))
            for line in out.splitlines()
        ]

    def replica(self, workdir: Path) -> BotProcess:
        """Another process of this bot (same account, same database), own data dir and port."""
        twin = object.__new__(BotProcess)
        twin.__dict__.update(self.__dict__)
        workdir.mkdir(parents=True, exist_ok=True)
        twin.workdir = workdir
        twin.data_dir = workdir / "data"
        twin.log_path = workdir / "bot.log"
        twin.config_path = workdir / "config.yaml"
        twin.http_port = free_port()
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        config["http_addr"] = f"127.0.0.1:{twin.http_port}"
        twin.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        twin.env = {
            **self.env,
            "ATTACHE_DATA_DIR": str(twin.data_dir),
            "ATTACHE_CONFIG": str(twin.config_path),
        }
        twin.proc = None
        twin.starts = 0
        return twin

    def role(self) -> str | None:
        """ "active" or "standby" from /healthz (None if it does not answer)."""
        body = self.health()
        return None if body is None else body.get("role")

    def launch(self) -> None:
        """Start without waiting for a sync (a standby never syncs)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.proc = self.spawn()
