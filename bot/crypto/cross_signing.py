"""Cross-sign the bot's own device so Element's "exclude insecure devices" mode talks to it.

matrix-nio has no cross-signing, and since April 2026 Element withholds room keys from,
and hides messages of, devices that their owner has not cross-signed.  This module gives
the bot a cross-signing identity (master, self-signing and user-signing ed25519 keys),
publishes it through the client-server API with aiohttp (nio's AsyncClient has no call
for these endpoints) and signs the bot's device with the self-signing key.
:func:`ensure_cross_signed` does it idempotently at every start.

Key custody: all three private keys are kept, encrypted at rest (scrypt → AES-256-GCM,
file mode 0600, written atomically).  A human keeps the master key offline or in secret
storage; a bot has no human to restore it from, and without it every future change
(a new self-signing key, a reset after a lost file) would look to peers who pinned the
bot like an identity reset, which is exactly the red flag we train users to heed.  The
extra risk is small: anyone who can read the bot's data dir already holds its Olm
account and access token, and the self-signing key alone already lets them vouch for
new devices.  The user-signing key is kept so the bot can later sign other users'
master keys (marking them verified) without a new identity.

What is never written to logs: private keys, the access token, the password, the
secret.  Public keys are not logged either, to keep logs free of identifiers that are
not needed for operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bot.crypto.canonical import (
    Ed25519PrivateKey,
    b64_decode,
    b64_encode,
    canonical_json,
    private_key_from_seed,
    public_key_b64,
    seed_of,
    sign_json,
    verify_signed_json,
)
from bot.crypto.trust import parse_cross_signing_key
from bot.federation_calls import FEDERATION_TIMEOUT_MS, KEYS_REQUEST_TIMEOUT

__all__ = [
    "CrossSigningError",
    "CrossSigningKeys",
    "CrossSigningStatus",
    "HomeserverKeysAPI",
    "device_signing_upload_body",
    "ensure_cross_signed",
    "load_keys",
    "save_keys",
    "sign_device_keys",
    "sign_master_with_device",
]

log = logging.getLogger(__name__)

_FILE_FORMAT = "attache-bot/cross-signing-keys/v1"
# scrypt cost: ~50 ms and 16 MiB once per start; the secret may be a passphrase.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class CrossSigningError(Exception):
    """A homeserver refused or failed a cross-signing request (message holds no secrets)."""


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class CrossSigningKeys:
    """The bot's three cross-signing private keys."""

    master: Ed25519PrivateKey
    self_signing: Ed25519PrivateKey
    user_signing: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
        )

    @property
    def master_pub(self) -> str:
        return public_key_b64(self.master)

    @property
    def self_signing_pub(self) -> str:
        return public_key_b64(self.self_signing)

    @property
    def user_signing_pub(self) -> str:
        return public_key_b64(self.user_signing)

    def __repr__(self) -> str:  # never let a private key reach a log via repr()
        return "CrossSigningKeys(<redacted>)"


def _key_object(user_id: str, usage: str, pub: str) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{pub}": pub}}


def device_signing_upload_body(keys: CrossSigningKeys, user_id: str) -> dict[str, Any]:
    """Body of ``/keys/device_signing/upload``: the sub-keys are signed by the master key."""
    master_id = f"ed25519:{keys.master_pub}"
    return {
        "master_key": _key_object(user_id, "master", keys.master_pub),
        "self_signing_key": sign_json(
            _key_object(user_id, "self_signing", keys.self_signing_pub),
            user_id,
            master_id,
            keys.master,
        ),
        "user_signing_key": sign_json(
            _key_object(user_id, "user_signing", keys.user_signing_pub),
            user_id,
            master_id,
            keys.master,
        ),
    }


def sign_device_keys(
    device_keys: Mapping[str, Any], user_id: str, self_signing: Ed25519PrivateKey
) -> dict[str, Any]:
    """The device keys object (as ``/keys/query`` returned it) with our SSK signature added.

    ``unsigned`` is dropped because the server compares the rest with what it stored.
    """
    body = {k: v for k, v in device_keys.items() if k != "unsigned"}
    return sign_json(body, user_id, f"ed25519:{public_key_b64(self_signing)}", self_signing)


def sign_master_with_device(
    master_key: Mapping[str, Any],
    user_id: str,
    device_id: str,
    sign_with_device: Callable[[str], str],
) -> dict[str, Any]:
    """The master key object signed by the bot's device (nio: ``olm.account.sign``).

    Optional for peers; it lets other clients of the same account see that this device
    trusts the identity.
    """
    body = {k: v for k, v in master_key.items() if k != "unsigned"}
    text = canonical_json({k: v for k, v in body.items() if k != "signatures"})
    signature = sign_with_device(text)
    signed = json.loads(json.dumps(body))
    signed.setdefault("signatures", {}).setdefault(user_id, {})[f"ed25519:{device_id}"] = signature
    return signed


# ----------------------------------------------------------------- persistence


def _derive(secret: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return kdf.derive(secret.encode("utf-8"))


def save_keys(path: Path, keys: CrossSigningKeys, secret: str, user_id: str) -> None:
    """Encrypt and write the keys atomically with mode 0600.

    The user ID is bound in as associated data so a file cannot be moved to another
    account unnoticed.
    """
    if not secret:
        raise ValueError("a non-empty secret is required to store cross-signing keys")
    salt, nonce = os.urandom(16), os.urandom(12)
    plaintext = json.dumps(
        {
            "master": b64_encode(seed_of(keys.master)),
            "self_signing": b64_encode(seed_of(keys.self_signing)),
            "user_signing": b64_encode(seed_of(keys.user_signing)),
        }
    ).encode()
    aad = f"{_FILE_FORMAT}\n{user_id}".encode()
    ciphertext = AESGCM(_derive(secret, salt)).encrypt(nonce, plaintext, aad)
    document = {
        "format": _FILE_FORMAT,
        "user_id": user_id,
        "kdf": {"name": "scrypt", "n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P},
        "salt": b64_encode(salt),
        "nonce": b64_encode(nonce),
        "ciphertext": b64_encode(ciphertext),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".xsign-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_keys(path: Path, secret: str, user_id: str) -> CrossSigningKeys | None:
    """Return the saved keys, None if there is no file; raise if it cannot be opened.

    A wrong secret raises rather than returning None, so the caller never mistakes it
    for "no identity yet" and overwrites a good identity.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    try:
        if document.get("format") != _FILE_FORMAT:
            raise CrossSigningError("unknown cross-signing key file format")
        kdf = document["kdf"]
        salt = b64_decode(document["salt"])
        key = Scrypt(
            salt=salt, length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])
        ).derive(secret.encode("utf-8"))
        aad = f"{_FILE_FORMAT}\n{user_id}".encode()
        plaintext = AESGCM(key).decrypt(
            b64_decode(document["nonce"]), b64_decode(document["ciphertext"]), aad
        )
        seeds = json.loads(plaintext)
        return CrossSigningKeys(
            private_key_from_seed(b64_decode(seeds["master"])),
            private_key_from_seed(b64_decode(seeds["self_signing"])),
            private_key_from_seed(b64_decode(seeds["user_signing"])),
        )
    except InvalidTag as exc:
        raise CrossSigningError(
            "cannot decrypt cross-signing keys: wrong secret or another account's file"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CrossSigningError("cross-signing key file is corrupt") from exc


# ------------------------------------------------------------------------ HTTP


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


# ------------------------------------------------------------------ orchestrator


@dataclass(frozen=True)
class CrossSigningStatus:
    """What :func:`ensure_cross_signed` found or did; ``problem`` set means not trusted."""

    master_key: str | None
    device_signed: bool
    created: bool
    uploaded_device_signature: bool = False
    problem: str | None = None
    elapsed_ms: float = 0.0


async def ensure_cross_signed(
    homeserver: str,
    access_token: str,
    user_id: str,
    device_id: str,
    device_ed25519: str,
    sign_with_device: Callable[[str], str] | None,
    password: str | None,
    keys_path: Path,
    secret: str,
    *,
    session: aiohttp.ClientSession | None = None,
) -> CrossSigningStatus:
    """Make sure the bot has a published identity and its device is signed by it.

    Call after nio has uploaded the device keys (``client.keys_upload()``).  Idempotent:
    with saved keys and a signed device it costs one ``/keys/query``.  It creates an
    identity only when the server has none, or when it has one we do not hold and a
    password was given (an explicit reset).  A server master key that differs from the
    saved one is reported, never overwritten: that is someone else's identity.
    ``device_ed25519`` is the key nio holds locally; we refuse to sign a different one
    the server might show.
    """
    started = time.perf_counter()
    own_session = session is None
    http = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        result = await _ensure(
            HomeserverKeysAPI(http, homeserver, access_token),
            user_id,
            device_id,
            device_ed25519,
            sign_with_device,
            password,
            keys_path,
            secret,
        )
    finally:
        if own_session:
            await http.close()
    elapsed = (time.perf_counter() - started) * 1000
    result = dataclasses.replace(result, elapsed_ms=round(elapsed, 1))
    if result.problem:
        log.warning("cross-signing not in order: %s", result.problem)
    else:
        log.info(
            "cross-signing ok (created=%s, signed_now=%s, %.0f ms)",
            result.created,
            result.uploaded_device_signature,
            elapsed,
        )
    return result


def _not_ours(query: Mapping[str, Any], user_id: str, keys: CrossSigningKeys) -> str | None:
    """Why the identity the server shows is not the one just uploaded, or None if it is."""
    master, _ = parse_cross_signing_key(
        (query.get("master_keys") or {}).get(user_id), user_id, "master"
    )
    ssk, _ = parse_cross_signing_key(
        (query.get("self_signing_keys") or {}).get(user_id), user_id, "self_signing"
    )
    if master != keys.master_pub or ssk != keys.self_signing_pub:
        return (
            "the server shows a cross-signing identity that is not the one it just made "
            "and uploaded; refusing to sign it (is someone else changing this account's "
            "keys? check the homeserver, then run bootstrap-cross-signing)"
        )
    return None


async def _ensure(
    api: HomeserverKeysAPI,
    user_id: str,
    device_id: str,
    device_ed25519: str,
    sign_with_device: Callable[[str], str] | None,
    password: str | None,
    keys_path: Path,
    secret: str,
) -> CrossSigningStatus:
    try:
        keys = await asyncio.to_thread(load_keys, keys_path, secret, user_id)
    except CrossSigningError as exc:
        return CrossSigningStatus(None, False, False, problem=str(exc))

    query = await api.keys_query([user_id])
    server_master_obj = (query.get("master_keys") or {}).get(user_id)
    server_master, _ = parse_cross_signing_key(server_master_obj, user_id, "master")
    created = False

    if server_master is not None and keys is not None and keys.master_pub != server_master:
        return CrossSigningStatus(
            server_master,
            False,
            False,
            problem="the server's master key is not the one saved: identity was replaced "
            "elsewhere; not overwriting (delete the key file and give the password to reset)",
        )
    if server_master is not None and keys is None and not password:
        return CrossSigningStatus(
            server_master,
            False,
            False,
            problem="the account has a cross-signing identity whose keys we do not hold; "
            "a password is needed to replace it",
        )
    if server_master is None or keys is None:
        generated = keys is None
        if keys is None:
            keys = CrossSigningKeys.generate()
            # saved before the upload so a crash right after it cannot lose the identity
            await asyncio.to_thread(save_keys, keys_path, keys, secret, user_id)
        try:
            await api.upload_device_signing(
                device_signing_upload_body(keys, user_id), user_id, password
            )
        except (CrossSigningError, aiohttp.ClientError) as exc:
            if generated:  # never published: do not let it pose as our identity later
                await asyncio.to_thread(keys_path.unlink, missing_ok=True)
            return CrossSigningStatus(None, False, False, problem=str(exc))
        created = True
        query = await api.keys_query([user_id])
        problem = _not_ours(query, user_id, keys)
        if problem is not None:
            # Signing what the server shows would put our device's name under someone
            # else's identity; the saved keys stay, so a later start reports the mismatch.
            return CrossSigningStatus(None, False, created, problem=problem)
    else:
        server_ssk, _ = parse_cross_signing_key(
            (query.get("self_signing_keys") or {}).get(user_id), user_id, "self_signing"
        )
        if server_ssk != keys.self_signing_pub:
            return CrossSigningStatus(
                keys.master_pub,
                False,
                False,
                problem="the server's self-signing key is not the one saved",
            )

    device = ((query.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    if not isinstance(device, dict):
        return CrossSigningStatus(
            keys.master_pub, False, created, problem="device keys are not on the server yet"
        )
    if (device.get("keys") or {}).get(f"ed25519:{device_id}") != device_ed25519:
        return CrossSigningStatus(
            keys.master_pub,
            False,
            created,
            problem="the server shows a different ed25519 key for this device; not signing it",
        )
    if not verify_signed_json(device, user_id, f"ed25519:{device_id}", device_ed25519):
        return CrossSigningStatus(
            keys.master_pub, False, created, problem="device keys are not self-signed"
        )

    ssk_id = f"ed25519:{keys.self_signing_pub}"
    body: dict[str, Any] = {}
    if not verify_signed_json(device, user_id, ssk_id, keys.self_signing_pub):
        body[device_id] = sign_device_keys(device, user_id, keys.self_signing)
    master_obj = (query.get("master_keys") or {}).get(user_id) or {}
    if sign_with_device is not None and not verify_signed_json(
        master_obj, user_id, f"ed25519:{device_id}", device_ed25519
    ):
        body[keys.master_pub] = sign_master_with_device(
            master_obj, user_id, device_id, sign_with_device
        )
    if body:
        try:
            await api.upload_signatures({user_id: body})
        except CrossSigningError as exc:
            return CrossSigningStatus(keys.master_pub, False, created, problem=str(exc))
    return CrossSigningStatus(
        keys.master_pub,
        True,
        created,
        uploaded_device_signature=device_id in body,
    )
