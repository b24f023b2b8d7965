"""Child process of bench.common.EchoPeers: E2EE clients that answer every message at once.

    python -m bench.echo_peer PEERS.json WORKDIR

Every m.text from someone else gets an m.notice "echo" replying to it, sent in order per
client (one sender task per client, as the bot's outbox sends in order per room).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from nio import MatrixRoom, RoomMessageText

from tests.harness.clients import TestClient
from tests.harness.synapse import SynapseServer


async def peer(server: SynapseServer, user: dict[str, str], store: Path, since_ms: int) -> Any:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    client = await TestClient.create(server, user, store, auto_join=True, sync_timeout_ms=30000)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != client.user_id and event.server_timestamp >= since_ms:
            queue.put_nowait((room.room_id, event.event_id))

    client.client.add_event_callback(on_text, RoomMessageText)

    async def sender() -> None:
        while True:
            room_id, event_id = await queue.get()
            try:
                await client.send(
                    room_id,
                    {
                        "msgtype": "m.notice",
                        "body": "echo",
                        "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
                    },
                )
            except Exception as exc:  # keep answering; the bench notices a missing reply
                print(f"echo send failed: {exc!r}", file=sys.stderr, flush=True)

    task = asyncio.create_task(sender())
    return client, task


async def main(spec_path: str, workdir: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    server = SynapseServer()
    server.port = spec["port"]
    since_ms = int(time.time() * 1000)
    peers = await asyncio.gather(
        *(peer(server, u, Path(workdir) / u["user_id"], since_ms) for u in spec["users"])
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    await stop.wait()
    for client, task in peers:
        task.cancel()
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
