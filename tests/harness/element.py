"""Run Element's crypto stack (tests/js/element_client.mjs) against the bot from Python tests.

Element's "exclude insecure devices" mode is what real users run, and no Python client
reproduces its decisions, so integration tests drive the real js-sdk + crypto-wasm.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "element_client.mjs"
_STAMP = JS_DIR / "node_modules" / ".attache-install-stamp"
_LOCK = JS_DIR / ".npm-install.lock"


class ElementClientError(RuntimeError):
    """The Node client could not be installed or did not print a result line."""


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = JS_DIR / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_node_modules() -> None:
    """Install tests/js dependencies once per lock-file content (``npm ci`` when locked).

    A stamp holding the lock digest avoids a 2 s reinstall on every test session while
    still catching a changed lock file. Parallel test workers (and other pytest runs on the
    same clone) share one node_modules: the install runs under a file lock, and a worker
    that waited finds the stamp written and does nothing (``npm ci`` would otherwise delete
    the tree under a client that is running from it).
    """
    wanted = _lock_digest()
    if _installed(wanted):
        return
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _installed(wanted):
                _npm_install()
                _STAMP.write_text(wanted)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _installed(wanted: str) -> bool:
    return _STAMP.exists() and _STAMP.read_text().strip() == wanted


def _npm_install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ElementClientError("npm is not installed; the Element client needs Node and npm")
    verb = "ci" if (JS_DIR / "package-lock.json").exists() else "install"
    proc = subprocess.run(
        [npm, verb, "--no-audit", "--no-fund", "--engine-strict=false"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise ElementClientError(f"npm {verb} failed:\n{proc.stderr[-4000:]}")


def run_element_client(
    homeserver: str,
    user_id: str,
    password: str,
    bot_user_id: str,
    message: str,
    timeout: float = 60,
    *,
    expect_reply: str | None = None,
    isolation: str = "signed",
) -> dict[str, Any]:
    """Log in a fresh Element-crypto device, DM the bot, send ``message``, await a reply.

    Returns the script's JSON result (``ok``, ``reply``, ``decrypt_error``,
    ``bot_device_signed_by_owner``, ``timings_ms`` …); the Node log is under
    ``"stderr_tail"`` for diagnosing failures.
    """
    ensure_node_modules()
    node = shutil.which("node")
    if node is None:
        raise ElementClientError("node is not installed")
    args = {
        "homeserver": homeserver,
        "user_id": user_id,
        "password": password,
        "bot_user_id": bot_user_id,
        "message": message,
        "timeout": timeout,
        "expect_reply": expect_reply,
        "isolation": isolation,
    }
    proc = subprocess.run(
        [node, str(SCRIPT)],
        cwd=JS_DIR,
        input=json.dumps(args),
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise ElementClientError(
            f"element client printed no result (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    result["exit_code"] = proc.returncode
    result["stderr_tail"] = proc.stderr[-4000:]
    return result
