"""A fault-injecting HTTP proxy on loopback, between the bot and its homeserver.

The bot's homeserver URL points here; every request is passed to the real Synapse and its
answer back unchanged, except for the faults a test arms: states a homeserver really shows
for a moment after a remote join (../shared/FIELD-NOTES.md), which a loaded machine hits
only by chance, and one slow to answer:

- `strip_cross_signing(user, answers=N)`: `/keys/query` answers that carry that user's
  cross-signing keys come back without their master and self-signing keys, as Synapse
  answers while it re-syncs a remote user's device list, until N of them went to the bot's
  trust checks (bot/crypto/keys_api.py: the requests with an Authorization header; nio
  sends its token in the query string and does not read cross-signing keys).
- `hide_members(user, syncs=N)`: the next N `/sync` answers that carry that user's
  `m.room.member` events in a joined room come back without them, as a lazy-loaded sync
  after a partial-state join lists only the bot's own membership.
- `hold_keys_query(user, after=N)`: after N more, the bot's trust checks' `/keys/query`
  requests that name that user are held back until `release()`, as a homeserver still
  waiting on another server answers. Only those (bot/crypto/keys_api.py, which sends its
  token in a header; nio sends it in the query string), so a test can hold the bot's
  second look at someone without also holding nio's own key tracking.
- `hold_every_keys_query(user)`: every `/keys/query` naming that user is held back until
  `release()`: the bot's trust checks and its client's device tracking alike.

What was changed is counted (`stripped`, `hidden`, `held`), so a test can show its fault was hit.
The proxy runs on its own thread and event loop: the harness starts bots synchronously
(tests/harness/bot.py waits for health), which would otherwise hold it up.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.harness.synapse import free_port

# Hop-by-hop headers and those aiohttp sets itself from the body it sends.
_DROPPED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
}


@dataclass
class FaultProxy:
    upstream: str  # the real homeserver's base URL
    port: int = field(default_factory=free_port)
    stripped: dict[str, int] = field(default_factory=dict)  # user -> answers stripped
    hidden: dict[str, int] = field(default_factory=dict)  # user -> sync answers changed
    _strip: dict[str, int] = field(default_factory=dict)  # user -> answers still to strip
    _hide: dict[str, int] = field(default_factory=dict)  # user -> syncs still to change
    held: dict[str, int] = field(default_factory=dict)  # user -> answers held back so far
    _hold: dict[str, int] = field(default_factory=dict)  # user -> answers to pass first
    _hold_any: dict[str, int] = field(default_factory=dict)  # the same, whoever asks
    _released: threading.Event = field(default_factory=threading.Event)
    _runner: web.AppRunner | None = None
    _http: aiohttp.ClientSession | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def strip_cross_signing(self, user_id: str, answers: int) -> None:
        self._strip[user_id] = answers

    def hide_members(self, user_id: str, syncs: int = 1) -> None:
        self._hide[user_id] = syncs

    def hold_keys_query(self, user_id: str, after: int = 0) -> None:
        self._released.clear()
        self._hold[user_id] = after

    def hold_every_keys_query(self, user_id: str) -> None:
        self._released.clear()
        self._hold_any[user_id] = 0

    async def held_back(self, user_id: str, timeout: float) -> None:
        """Wait until an answer naming this person is being held back."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.held.get(user_id):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no /keys/query for {user_id} held within {timeout} s")
            await asyncio.sleep(0.05)

    def release(self) -> None:
        """Let held answers go, and hold no more."""
        self._hold.clear()
        self._hold_any.clear()
        self._released.set()

    def start(self) -> FaultProxy:
        """Serve on 127.0.0.1:port from a thread of its own; returns once it listens."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=30)
        return self

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _serve(self) -> None:
        # No client-side timeout: /sync long-polls for as long as the bot asks.
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None), auto_decompress=True
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        body = await request.read()
        if request.method == "POST" and request.path.endswith("/keys/query"):
            await self._maybe_hold(body, self._hold_any)
            if "Authorization" in request.headers:
                await self._maybe_hold(body, self._hold)
        async with self._http.request(
            request.method,
            self.upstream + request.rel_url.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROPPED}
        if status == 200 and request.method == "POST" and request.path.endswith("/keys/query"):
            trust_check = "Authorization" in request.headers
            payload = self._change(payload, lambda b: self._strip_keys(b, trust_check))
        elif status == 200 and request.method == "GET" and request.path.endswith("/sync"):
            payload = self._change(payload, self._hide_members)
        return web.Response(status=status, body=payload, headers=out)

    async def _maybe_hold(self, body: bytes, holds: dict[str, int]) -> None:
        try:
            named = set((json.loads(body).get("device_keys") or {}).keys())
        except (ValueError, AttributeError):
            return
        for user_id in named & set(holds):
            if self._released.is_set():
                return
            if holds.get(user_id, 0) > 0:
                holds[user_id] -= 1
                continue
            self.held[user_id] = self.held.get(user_id, 0) + 1
            while not self._released.is_set():  # polled: the event is set from another thread
                await asyncio.sleep(0.05)
            return

    @staticmethod
    def _change(payload: bytes, change: Any) -> bytes:
        try:
            body = json.loads(payload)
        except ValueError:
            return payload
        return json.dumps(body).encode() if isinstance(body, dict) and change(body) else payload

    def _strip_keys(self, body: dict[str, Any], counted: bool) -> bool:
        changed = False
        for user_id, left in list(self._strip.items()):
            if left <= 0 or user_id not in (body.get("master_keys") or {}):
                continue
            for section in ("master_keys", "self_signing_keys"):
                (body.get(section) or {}).pop(user_id, None)
            if counted:
                self._strip[user_id] = left - 1
                self.stripped[user_id] = self.stripped.get(user_id, 0) + 1
            changed = True
        return changed

    def _hide_members(self, body: dict[str, Any]) -> bool:
        changed = False
        joined = ((body.get("rooms") or {}).get("join") or {}).values()
        for user_id, left in list(self._hide.items()):
            if left <= 0:
                continue
            hit = False
            for room in joined:
                for part in (room.get("state") or {}, room.get("timeline") or {}):
                    events = part.get("events") or []
                    kept = [e for e in events if not _member_event_of(e, user_id)]
                    if len(kept) != len(events):
                        part["events"] = kept
                        hit = True
            if hit:
                self._hide[user_id] = left - 1
                self.hidden[user_id] = self.hidden.get(user_id, 0) + 1
                changed = True
        return changed


def _member_event_of(event: Any, user_id: str) -> bool:
    return (
        isinstance(event, dict)
        and event.get("type") == "m.room.member"
        and event.get("state_key") == user_id
    )
