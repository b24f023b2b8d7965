"""Real Synapse homeserver for integration tests: install, configure, start/stop, admin API.

Loopback only. Synapse runs from its own venv (``ATTACHE_SYNAPSE_VENV``, default
``<repo>/.cache/synapse-venv``), which is created with pip on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".cache" / "synapse-venv"
SYNAPSE_REQUIREMENT = "matrix-synapse>=1.120"
SERVER_NAME = "localhost"
START_TIMEOUT = 60.0

# Every rate limiter we want out of the way in tests (dotted keys are nested).
_GENEROUS = {"per_second": 10000, "burst_count": 100000}
_RATELIMIT_KEYS = (
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_login.address",
    "rc_login.account",
    "rc_login.failed_attempts",
    "rc_admin_redaction",
    "rc_joins.local",
    "rc_joins.remote",
    "rc_joins_per_room",
    "rc_key_requests",
    "rc_3pid_validation",
    "rc_invites.per_room",
    "rc_invites.per_user",
    "rc_invites.per_issuer",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_presence.per_user",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
)


class SynapseError(RuntimeError):
    """An admin/client API call failed; carries HTTP status and the decoded body."""

    def __init__(self, status: int, body: Any, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {body}")
        self.status = status
        self.body = body


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now and stays free for about a minute.

    A port merely found free can be handed to another process (a parallel test worker,
    another developer's suite) before our server binds it. This one is left in TIME_WAIT
    by a completed connection, so the kernel gives it to no other ``bind(0)`` for the
    next 60 s, while our servers, which all bind with SO_REUSEADDR (Twisted, aiohttp,
    PostgreSQL), can take it at once: the technique of Yelp's ephemeral-port-reserve.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        address = listener.getsockname()
        with socket.create_connection(address) as client:
            accepted, _ = listener.accept()
            # The side that closes first holds TIME_WAIT: the accepted one, on our port.
            accepted.close()
            client.recv(1)
        return int(address[1])


def _log(msg: str) -> None:
    print(f"[synapse-harness] {msg}", file=sys.stderr, flush=True)


def ensure_synapse_venv(venv: Path | None = None) -> Path:
    """Return the python of a venv with Synapse, installing it (under a file lock) if missing."""
    venv = Path(venv or os.environ.get("ATTACHE_SYNAPSE_VENV") or DEFAULT_VENV).absolute()
    python = venv / "bin" / "python"

    def importable() -> bool:
        if not python.exists():
            return False
        probe = subprocess.run(
            [str(python), "-c", "import synapse"], capture_output=True, check=False
        )
        return probe.returncode == 0

    if importable():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv.parent / f".{venv.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest may be installing right now
        try:
            if importable():
                return python
            t0 = time.monotonic()
            _log(f"installing {SYNAPSE_REQUIREMENT} into {venv} (one-off, ~30 s)")
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
                check=True,
                stdout=sys.stderr,
            )
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", SYNAPSE_REQUIREMENT],
                check=True,
                stdout=sys.stderr,
            )
            if not importable():
                raise RuntimeError(f"synapse still not importable from {python}")
            _log(f"installed in {time.monotonic() - t0:.1f} s")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return python


def _set_nested(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        cfg = cfg.setdefault(part, {})
    cfg[leaf] = value


class SynapseServer:
    """One Synapse process on 127.0.0.1 with SQLite, for tests.

    Typical use: ``s = SynapseServer(); s.start(tmpdir); s.register("alice", "pw"); s.stop()``.
    """

    def __init__(
        self,
        venv: Path | str | None = None,
        *,
        federation_port: int = 0,
        federation_peers: tuple[str, ...] = (),
    ) -> None:
        """``federation_port`` (with ``federation_peers``, the server names it may talk to)
        makes a federating server named ``localhost:<federation_port>``: see federation.py."""
        self._venv = Path(venv) if venv else None
        self.federation_port = federation_port
        self.federation_peers = tuple(federation_peers)
        self.server_name = f"localhost:{federation_port}" if federation_port else SERVER_NAME
        self.python: Path | None = None
        self.workdir: Path | None = None
        self.port: int = 0
        self.registration_secret = secrets.token_hex(16)
        self.default_ratelimits = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float = 0.0
        self._admin: dict[str, str] | None = None
        self._console: Any = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "homeserver.log"

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, workdir: Path | str, *, default_ratelimits: bool = False) -> None:
        """Install if needed, write a config into ``workdir`` and start Synapse."""
        self.python = ensure_synapse_venv(self._venv)
        self.workdir = Path(workdir).absolute()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.default_ratelimits = default_ratelimits
        for attempt in range(3):
            self.port = free_port()
            self._write_config()
            try:
                self._spawn()
                return
            except RuntimeError as err:  # lost a race for the port: pick another one
                if attempt == 2 or "Failed to listen" not in str(err):
                    raise

    def _write_config(self) -> None:
        assert self.python is not None and self.workdir is not None
        wd = self.workdir
        if not self.config_path.exists():
            subprocess.run(
                [
                    str(self.python), "-m", "synapse.app.homeserver",
                    "--server-name", self.server_name,
                    "--config-path", str(self.config_path),
                    "--data-directory", str(wd),
                    "--generate-config", "--report-stats=no",
                ],
                check=True, capture_output=True, cwd=wd,
            )  # fmt: skip
        cfg: dict[str, Any] = yaml.safe_load(self.config_path.read_text()) or {}
        log_config = wd / "log.config.yaml"
        log_config.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {
                        "precise": {
                            "format": "%(asctime)s - %(name)s - %(lineno)d - "
                            "%(levelname)s - %(request)s - %(message)s"
                        }
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "precise",
                            "filename": str(self.log_path),
                            "encoding": "utf8",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        cfg.update(
            {
                "server_name": self.server_name,
                "public_baseurl": f"{self.url}/",
                "listeners": [
                    {
                        "port": self.port,
                        "bind_addresses": ["127.0.0.1"],
                        "type": "http",
                        "tls": False,
                        "x_forwarded": False,
                        "resources": [{"names": ["client"], "compress": False}],
                    }
                ],
                "database": {
                    "name": "sqlite3",
                    "args": {"database": str(wd / "homeserver.db")},
                },
                "presence": {"enabled": False},
                "trusted_key_servers": [],
                "suppress_key_server_warning": True,
                "registration_shared_secret": self.registration_secret,
                "enable_registration": False,
                "media_store_path": str(wd / "media_store"),
                "max_upload_size": "50M",
                "log_config": str(log_config),
                "report_stats": False,
                "url_preview_enabled": False,
            }
        )
        for key in list(cfg):
            if key.startswith("rc_"):
                del cfg[key]
        if not self.default_ratelimits:
            for dotted in _RATELIMIT_KEYS:
                _set_nested(cfg, dotted, dict(_GENEROUS))
        if self.federation_port:
            from tests.harness.federation import apply_federation

            apply_federation(cfg, self)
        self.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def _spawn(self) -> None:
        assert self.python is not None and self.workdir is not None
        t0 = time.monotonic()
        if self._console is not None:
            self._console.close()
        self._console = open(self.workdir / "console.log", "ab")
        self.proc = subprocess.Popen(
            [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.workdir,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = t0 + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Synapse exited with {self.proc.returncode} during start-up\n"
                    + self.log_tail()
                )
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=2):  # noqa: S310
                    break
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"Synapse did not answer within {START_TIMEOUT:.0f} s\n" + self.log_tail()
                )
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - t0

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of Synapse's log and console output, for error messages."""
        out = []
        assert self.workdir is not None
        for p in (self.log_path, self.workdir / "console.log"):
            if p.exists():
                tail = p.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {p.name} ---\n" + "\n".join(tail))
        return "\n".join(out)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP: the server hangs (sockets open, nothing answered), as a wedged host."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after freeze()."""
        self._signal(signal.SIGCONT)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL after ``timeout`` seconds."""
        if not self.is_running():
            return
        assert self.proc is not None
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process group at once (simulates a crash)."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self, downtime: float = 0.0, *, hard: bool = False) -> None:
        """Stop (or kill if ``hard``), stay down ``downtime`` s, start again: same port and data."""
        self.kill() if hard else self.stop()
        if downtime:
            time.sleep(downtime)
        self._spawn()

    async def arestart(self, downtime: float = 0.0, *, hard: bool = False) -> None:
        """Like restart(), without blocking the event loop (clients keep running meanwhile)."""
        await asyncio.to_thread(self.kill if hard else self.stop)
        await asyncio.sleep(downtime)
        await asyncio.to_thread(self._spawn)

    def close(self) -> None:
        """Stop the server and release file handles."""
        self.stop()
        if self._console is not None:
            self._console.close()
            self._console = None

    # ------------------------------------------------------------------ HTTP
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, Any]:
        """JSON request to the server; returns (status, decoded body), never raises on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            return status, raw.decode(errors="replace")

    def _ok(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        status, data = self.request(method, path, body, token=token)
        if status != 200:
            raise SynapseError(status, data, f"{method} {path}")
        return data

    # ------------------------------------------------------------------ users
    def register(self, localpart: str, password: str, admin: bool = False) -> dict[str, str]:
        """Create a user via the shared-secret API (or log in if it exists).

        Returns ``{"user_id", "access_token", "device_id", "password", "localpart"}``.
        """
        path = "/_synapse/admin/v1/register"
        nonce = self._ok("GET", path)["nonce"]
        parts = (nonce, localpart, password, "admin" if admin else "notadmin")
        digest = hmac.new(
            self.registration_secret.encode(),
            b"\x00".join(p.encode() for p in parts),
            hashlib.sha1,
        ).hexdigest()
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": digest,
        }
        status, data = self.request("POST", path, body)
        if status == 400 and isinstance(data, dict) and data.get("errcode") == "M_USER_IN_USE":
            return self.login(localpart, password)
        if status != 200:
            raise SynapseError(status, data, f"register {localpart}")
        return {
            "user_id": data["user_id"],
            "access_token": data["access_token"],
            "device_id": data["device_id"],
            "password": password,
            "localpart": localpart,
        }

    def login(self, localpart: str, password: str, device_id: str | None = None) -> dict[str, str]:
        """Password login via the client API: a new device (or ``device_id``) and its token."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        if device_id:
            body["device_id"] = device_id
        data = self._ok("POST", "/_matrix/client/v3/login", body)
        return {
            "user_id": data["user_id"],
            "access_token": data["access_token"],
            "device_id": data["device_id"],
            "password": password,
            "localpart": localpart,
        }

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    @property
    def admin(self) -> dict[str, str]:
        """A server-admin user, registered on first use."""
        if self._admin is None:
            self._admin = self.register("harness-admin", self.registration_secret, admin=True)
        return self._admin

    @property
    def admin_token(self) -> str:
        return self.admin["access_token"]

    def _admin_path(self, fmt: str, *ids: str) -> str:
        return fmt.format(*(urllib.parse.quote(i, safe="") for i in ids))

    def override_ratelimit(
        self, user_id: str, messages_per_second: int = 0, burst_count: int = 0
    ) -> None:
        """Set a per-user rate limit override (0/0 = unlimited). Persists in the database."""
        self._ok(
            "POST",
            self._admin_path("/_synapse/admin/v1/users/{}/override_ratelimit", user_id),
            {"messages_per_second": messages_per_second, "burst_count": burst_count},
            token=self.admin_token,
        )

    def delete_ratelimit_override(self, user_id: str) -> None:
        self._ok(
            "DELETE",
            self._admin_path("/_synapse/admin/v1/users/{}/override_ratelimit", user_id),
            token=self.admin_token,
        )

    def room_messages_as_admin(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Stored events of a room, newest first, read by a non-member server admin."""
        path = self._admin_path("/_synapse/admin/v1/rooms/{}/messages", room_id)
        data = self._ok("GET", f"{path}?dir=b&limit={limit}", token=self.admin_token)
        return list(data.get("chunk", []))

    def room_state_as_admin(self, room_id: str) -> list[dict[str, Any]]:
        path = self._admin_path("/_synapse/admin/v1/rooms/{}/state", room_id)
        return list(self._ok("GET", path, token=self.admin_token).get("state", []))

    def user_devices(self, user_id: str) -> list[dict[str, Any]]:
        path = self._admin_path("/_synapse/admin/v2/users/{}/devices", user_id)
        return list(self._ok("GET", path, token=self.admin_token).get("devices", []))

    def deactivate(self, user_id: str, erase: bool = False) -> None:
        path = self._admin_path("/_synapse/admin/v1/deactivate/{}", user_id)
        self._ok("POST", path, {"erase": erase}, token=self.admin_token)

    # ------------------------------------------------------------------ async wrappers
    async def aregister(self, localpart: str, password: str, admin: bool = False) -> dict[str, str]:
        return await asyncio.to_thread(self.register, localpart, password, admin)

    async def aroom_messages_as_admin(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.room_messages_as_admin, room_id, limit)
