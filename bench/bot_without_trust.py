"""The bot with its device-trust policy switched off: a yardstick for bench/roundtrip.py only.

    python -m bench.bot_without_trust   (same environment as `python -m bot.cli run`)

The policy still bootstraps the bot's own cross-signing, but senders are not checked and
sends skip `prepare_room` (nio then shares keys with unverified devices, as before the
policy existed). Never a way to run the bot for real.
"""

from __future__ import annotations

import sys
from typing import Any

import bot.app
from bot.cli import main
from bot.crypto.policy import DeviceTrustPolicy
from bot.transport import MatrixTransport


async def _trust_everyone(self: DeviceTrustPolicy, event: Any, room_id: str) -> None:
    return None


def _transport(client: Any, prepare_room: Any = None, **kw: Any) -> MatrixTransport:
    return MatrixTransport(client, **kw)


DeviceTrustPolicy.check_sender = _trust_everyone  # type: ignore[assignment,method-assign]
bot.app.MatrixTransport = _transport  # type: ignore[assignment,misc]

if __name__ == "__main__":
    sys.exit(main(["run"]))
