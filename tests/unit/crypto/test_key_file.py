"""The encrypted key file of the bot's cross-signing identity."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.crypto.canonical import b64_encode
from bot.crypto.errors import CrossSigningError
from bot.crypto.key_file import load_keys, save_keys
from bot.crypto.own_keys import CrossSigningKeys

USER = "@bot:example.org"


def test_key_file_round_trip_and_mode(tmp_path: Path) -> None:
    keys = CrossSigningKeys.generate()
    path = tmp_path / "sub" / "xsign.json"
    save_keys(path, keys, "s3cret", USER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for secret_part in (keys.master, keys.self_signing, keys.user_signing):
        from bot.crypto.canonical import seed_of

        assert b64_encode(seed_of(secret_part)) not in text
    loaded = load_keys(path, "s3cret", USER)
    assert loaded is not None
    assert loaded.master_pub == keys.master_pub
    assert loaded.self_signing_pub == keys.self_signing_pub
    assert loaded.user_signing_pub == keys.user_signing_pub
    assert list(tmp_path.joinpath("sub").iterdir()) == [path], "no temp files left"
    assert "redacted" in repr(loaded)


def test_key_file_wrong_secret_or_user_raises(tmp_path: Path) -> None:
    path = tmp_path / "xsign.json"
    assert load_keys(path, "s", USER) is None
    save_keys(path, CrossSigningKeys.generate(), "right", USER)
    with pytest.raises(CrossSigningError, match="wrong secret"):
        load_keys(path, "wrong", USER)
    with pytest.raises(CrossSigningError):
        load_keys(path, "right", "@other:example.org")
    path.write_text("{}")
    with pytest.raises(CrossSigningError):
        load_keys(path, "right", USER)


def test_empty_secret_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_keys(tmp_path / "k", CrossSigningKeys.generate(), "", USER)
