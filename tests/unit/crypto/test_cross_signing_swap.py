"""At identity creation the bot signs only the master key it made, not what the server shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.crypto.canonical import Ed25519PrivateKey, b64_encode, public_key_b64, sign_json
from bot.crypto.cross_signing import _ensure
from bot.crypto.own_keys import CrossSigningKeys, device_signing_upload_body

USER = "@bot:example.org"
DEVICE = "BOTDEVICE"


class SwappingServer:
    """Has no identity, takes the upload, then shows someone else's master key."""

    def __init__(self, device: dict[str, Any]) -> None:
        self.device = device
        self.uploaded: list[Any] = []
        self.signatures: list[Any] = []
        self.other = device_signing_upload_body(CrossSigningKeys.generate(), USER)

    async def keys_query(self, users: list[str]) -> dict[str, Any]:
        if not self.uploaded:
            return {"device_keys": {USER: {DEVICE: self.device}}}
        return {
            "master_keys": {USER: self.other["master_key"]},
            "self_signing_keys": {USER: self.other["self_signing_key"]},
            "device_keys": {USER: {DEVICE: self.device}},
        }

    async def upload_device_signing(self, body: Any, user_id: str, password: str | None) -> None:
        self.uploaded.append(body)

    async def upload_signatures(self, body: Any) -> None:
        self.signatures.append(body)


async def test_a_swapped_master_key_after_creation_is_refused_not_signed(tmp_path: Path) -> None:
    device_key = Ed25519PrivateKey.generate()
    device_pub = public_key_b64(device_key)
    device = sign_json(
        {
            "user_id": USER,
            "device_id": DEVICE,
            "algorithms": ["m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{DEVICE}": device_pub, f"curve25519:{DEVICE}": "c" * 43},
        },
        USER,
        f"ed25519:{DEVICE}",
        device_key,
    )
    server = SwappingServer(device)
    status = await _ensure(
        server,  # type: ignore[arg-type]
        USER,
        DEVICE,
        device_pub,
        lambda text: b64_encode(device_key.sign(text.encode())),
        "password",
        tmp_path / "keys",
        "a-secret-for-the-key-file",
    )
    assert server.uploaded  # the bot did publish its new identity ...
    assert server.signatures == []  # ... but signs nothing the server swapped in
    assert not status.device_signed
    assert status.problem is not None and "not the one it just made" in status.problem
