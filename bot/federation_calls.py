"""Timeouts the bot sets on every call that may wait on another homeserver.

`/keys/query`, `/keys/claim` and joins can make the bot's homeserver wait on the servers
of the people concerned. Without a timeout in the request, Synapse waits 10 s for a hung
server (and nio sends none); a join to a room on a hung server waits longer still. Here
the bot asks its server to give up on other servers after FEDERATION_TIMEOUT_MS (it then
answers with what it has, and lists the missing servers under `failures`), and bounds the
whole request on its side too, so a slow or dead server costs one room a few seconds at
most and never stalls the others.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse
from nio import AsyncClient

FEDERATION_TIMEOUT_MS = 3000  # what the bot's server may wait for another server
KEYS_REQUEST_TIMEOUT = FEDERATION_TIMEOUT_MS / 1000 + 5.0  # plus its own time to answer
JOIN_REQUEST_TIMEOUT = 30.0

_KEYS = ("/keys/query", "/keys/claim")


def _route(path: str) -> str:
    return path.partition("?")[0]


def is_keys_call(path: str) -> bool:
    return _route(path).endswith(_KEYS)


def is_join(path: str) -> bool:
    route = _route(path)
    return "/join/" in route or route.endswith("/join")


def with_server_timeout(data: Any) -> Any:
    """The JSON body with a `timeout` for the server, unless it names one already."""
    if not isinstance(data, str):
        return data
    try:
        body = json.loads(data)
    except ValueError:
        return data
    if not isinstance(body, dict) or "timeout" in body:
        return data
    body["timeout"] = FEDERATION_TIMEOUT_MS
    return json.dumps(body, separators=(",", ":"))


class FederationBoundClient(AsyncClient):  # type: ignore[misc]
    """nio's client, with the bot's own timeouts on federation-dependent calls."""

    async def send(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        trace_context: Any | None = None,
        timeout: float | None = None,
    ) -> ClientResponse:
        limit: float | None = None
        if is_keys_call(path):
            data, limit = with_server_timeout(data), KEYS_REQUEST_TIMEOUT
        elif is_join(path):
            limit = JOIN_REQUEST_TIMEOUT
        if limit is not None:
            timeout = limit if timeout is None or timeout <= 0 else min(timeout, limit)
        return await super().send(method, path, data, headers, trace_context, timeout)
