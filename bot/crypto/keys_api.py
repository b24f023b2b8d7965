"""The homeserver's key endpoints that nio's AsyncClient lacks (`/keys/query` with a
federation timeout, `/keys/device_signing/upload` with its password challenge,
`/keys/signatures/upload`), over the bot's own access token with aiohttp."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.crypto.errors import CrossSigningError
from bot.federation_calls import FEDERATION_TIMEOUT_MS, KEYS_REQUEST_TIMEOUT


class HomeserverKeysAPI:
    """The three key endpoints nio lacks, over the bot's own access token."""

    def __init__(self, session: aiohttp.ClientSession, homeserver: str, access_token: str):
        self._session = session
        self._base = homeserver.rstrip("/") + "/_matrix/client/v3"
        self._headers = {"Authorization": f"Bearer {access_token}"}

    async def _post(
        self, path: str, body: Mapping[str, Any], timeout: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        bound = self._session.timeout if timeout is None else aiohttp.ClientTimeout(total=timeout)
        async with self._session.post(
            self._base + path, json=body, headers=self._headers, timeout=bound
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except (aiohttp.ContentTypeError, ValueError):
                data = {}
            return resp.status, data if isinstance(data, dict) else {}

    async def keys_query(self, user_ids: list[str]) -> dict[str, Any]:
        # A timeout for the server: a hung remote server must not hold the answer 10 s.
        body = {"device_keys": {u: [] for u in user_ids}, "timeout": FEDERATION_TIMEOUT_MS}
        status, data = await self._post("/keys/query", body, KEYS_REQUEST_TIMEOUT)
        if status != 200:
            raise CrossSigningError(f"/keys/query failed: HTTP {status} {data.get('errcode')}")
        return data

    async def upload_device_signing(
        self, body: Mapping[str, Any], user_id: str, password: str | None
    ) -> None:
        """Upload the identity; answer the password challenge if the server sets one."""
        status, data = await self._post("/keys/device_signing/upload", body)
        if status == 200:
            return
        if status != 401 or "session" not in data:
            raise CrossSigningError(
                f"device_signing/upload failed: HTTP {status} {data.get('errcode')}"
            )
        flows = [f.get("stages", []) for f in data.get("flows", []) if isinstance(f, dict)]
        if flows and not any(stages == ["m.login.password"] for stages in flows):
            raise CrossSigningError("server wants an auth flow other than a password")
        if not password:
            raise CrossSigningError("server demands the bot's password to replace its keys")
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user_id},
            "password": password,
            "session": data["session"],
        }
        status, data = await self._post("/keys/device_signing/upload", {**body, "auth": auth})
        if status != 200:
            raise CrossSigningError(
                f"device_signing/upload with password failed: HTTP {status} {data.get('errcode')}"
            )

    async def upload_signatures(self, body: Mapping[str, Any]) -> None:
        """Upload signatures; the server answers 200 even when it rejects one."""
        status, data = await self._post("/keys/signatures/upload", body)
        if status != 200:
            raise CrossSigningError(
                f"signatures/upload failed: HTTP {status} {data.get('errcode')}"
            )
        failures = data.get("failures") or {}
        if failures:
            summary = {
                user: {key: (err or {}).get("errcode") for key, err in per_key.items()}
                for user, per_key in failures.items()
                if isinstance(per_key, dict)
            }
            raise CrossSigningError(f"signatures/upload rejected: {summary}")
