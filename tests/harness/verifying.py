"""Element's side of an interactive verification (tests/js/verify_client.mjs), run as a
subprocess whose JSON lines (ready, sas, result) the test awaits one by one."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from tests.harness.element import JS_DIR, ElementClientError, ensure_node_modules

SCRIPT = JS_DIR / "verify_client.mjs"


class ElementVerifier:
    """`await ElementVerifier.start(...)`, then `await v.next("sas")`, `await v.next("result")`."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(
        cls,
        homeserver: str,
        user: dict[str, str],
        bot_user_id: str,
        log_path: Path,
        *,
        mode: str,
        answer: str = "confirm",
        timeout: float = 150,
    ) -> ElementVerifier:
        await asyncio.to_thread(ensure_node_modules)
        node = shutil.which("node")
        if node is None:
            raise ElementClientError("node is not installed")
        proc = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_path.open("wb"),  # the SDK's chatter: a file, never a full pipe
        )
        args = {
            "homeserver": homeserver,
            "user_id": user["user_id"],
            "password": user["password"],
            "bot_user_id": bot_user_id,
            "mode": mode,
            "answer": answer,
            "timeout": timeout,
        }
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(args).encode())
        await proc.stdin.drain()
        proc.stdin.close()
        return cls(proc, log_path)

    async def next(self, event: str, timeout: float = 90) -> dict[str, Any]:
        """The first line with this event (already read or still to come)."""
        for line in self.lines:
            if line.get("event") == event:
                return line
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise ElementClientError(f"verify client ended before {event!r}: {self.tail()}")
                if not raw.startswith(b"{"):
                    continue
                line = json.loads(raw)
                self.lines.append(line)
                if line.get("event") == event:
                    return line

    def tail(self) -> str:
        """The Node log's end, for failures."""
        return self.log_path.read_text(errors="replace")[-4000:]

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
