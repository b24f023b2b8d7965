"""nio's SqliteStore without the database reads it repeats for every event and every sync.

matrix-nio 0.26 asks its crypto store, for each decrypted event and for each device a
room key is shared with, whether the device is verified or blacklisted; `SqliteStore`
answers each question with three queries (account row, device row, trust row). It also
reads the account row again for every store operation and opens a transaction after
every sync to save an (almost always empty) set of newly encrypted rooms. Profiled, the
trust reads alone were 12.6% of the bot's CPU per command (docs/BENCHMARKS.md).

This subclass keeps the same database and the same answers:

- Device trust is cached per (user, device) in memory, write-through: every change of a
  trust state goes through this store's own verify/unverify/blacklist/unblacklist/
  ignore/unignore methods (one process per data dir, see bot/lock.py), and each of them
  drops the cached entry, so the next question reads the database again. The bot's
  trust policy also calls `forget_users` on every device-list change it sees in a sync
  (bot/sync.py -> DeviceTrustPolicy.forget), so a changed device is re-read too.
- The account row is cached; `save_account` (the only writer of that row) drops it.
- An empty set of new encrypted rooms is not saved (nothing to insert).
"""

from __future__ import annotations

from typing import Any

from nio.crypto import OlmDevice, TrustState
from nio.store import SqliteStore
from nio.store.database import use_database


class BotCryptoStore(SqliteStore):  # type: ignore[misc]
    def __post_init__(self) -> None:
        # Set before nio's own __post_init__, which already reads the account.
        self._trust: dict[tuple[str, str], TrustState] = {}
        self._account: Any = None
        super().__post_init__()

    # -- account row -------------------------------------------------------------------

    def _get_account(self) -> Any:
        if self._account is None:
            self._account = super()._get_account()
        return self._account

    def save_account(self, account: Any) -> None:
        self._account = None
        try:
            super().save_account(account)
        finally:
            self._account = None

    # -- device trust ------------------------------------------------------------------

    def forget_users(self, user_ids: list[str]) -> None:
        """Their device lists changed: read their devices' trust from the database again."""
        users = set(user_ids)
        for key in [k for k in self._trust if k[0] in users]:
            del self._trust[key]

    @use_database  # type: ignore[misc]
    def _load_trust(self, device: OlmDevice) -> TrustState:
        row = self._get_device(device)
        if not row:
            return TrustState.unset
        try:
            return TrustState(row.trust_state[0].state)
        except IndexError:
            return TrustState.unset

    def _trust_of(self, device: OlmDevice) -> TrustState:
        key = (device.user_id, device.id)
        state = self._trust.get(key)
        if state is None:
            state = self._trust[key] = self._load_trust(device)
        return state

    def is_device_verified(self, device: OlmDevice) -> bool:
        return self._trust_of(device) == TrustState.verified

    def is_device_blacklisted(self, device: OlmDevice) -> bool:
        return self._trust_of(device) == TrustState.blacklisted

    def is_device_ignored(self, device: OlmDevice) -> bool:
        return self._trust_of(device) == TrustState.ignored

    def _changing(self, device: OlmDevice, change: Any) -> bool:
        try:
            return bool(change(device))
        finally:
            self._trust.pop((device.user_id, device.id), None)

    def verify_device(self, device: OlmDevice) -> bool:
        return self._changing(device, super().verify_device)

    def unverify_device(self, device: OlmDevice) -> bool:
        return self._changing(device, super().unverify_device)

    def blacklist_device(self, device: OlmDevice) -> bool:
        return self._changing(device, super().blacklist_device)

    def unblacklist_device(self, device: OlmDevice) -> bool:
        return self._changing(device, super().unblacklist_device)

    def ignore_device(self, device: OlmDevice) -> bool:
        return self._changing(device, super().ignore_device)

    def unignore_device(self, device: OlmDevice) -> bool:
        return self._changing(device, super().unignore_device)

    def ignore_devices(self, devices: list[OlmDevice]) -> None:
        try:
            super().ignore_devices(devices)
        finally:
            for device in devices:
                self._trust.pop((device.user_id, device.id), None)

    # -- rooms -------------------------------------------------------------------------

    def save_encrypted_rooms(self, rooms: Any) -> None:
        if rooms:  # nio calls this after every sync, nearly always with nothing new
            super().save_encrypted_rooms(rooms)
