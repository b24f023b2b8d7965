"""The image an operator deploys: its shape, check-config, and an encrypted !ping answered.

Run by `make container-test` after the image is built; skipped in `make test`.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
import uuid
from pathlib import Path

import pytest

from tests.container.conftest import IMAGE, IMAGE_UID, podman, podman_argv, private_file
from tests.harness.bot import BOT_PASSWORD, PICKLE_KEY, REPO, BotProcess
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration

EXAMPLE_CONFIG = REPO / "deploy" / "config.example.yaml"


class ContainerBot(BotProcess):
    """BotProcess, but `run` happens inside the image (host network, /data mounted)."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.name = f"attache-test-{uuid.uuid4().hex[:8]}"
        self.data_dir.mkdir(mode=0o700)
        os.chown(self.data_dir, IMAGE_UID, IMAGE_UID)
        self.config_path.chmod(0o644)
        secrets = self.workdir / "secrets"
        secrets.mkdir()
        private_file(secrets / "bot_password", BOT_PASSWORD)
        private_file(secrets / "pickle_key", PICKLE_KEY)
        self.secrets = secrets

    def spawn(self) -> subprocess.Popen[bytes]:
        argv, env = podman_argv(
            "run", "--rm", "--init", "--no-healthcheck", "--name", self.name,
            "--network", "host",
            "-v", f"{self.data_dir}:/data",
            "-v", f"{self.config_path}:/etc/attache/config.yaml:ro",
            "-v", f"{self.secrets}:/run/secrets:ro",
            "-e", f"ATTACHE_HOMESERVER={self.synapse.url}",
            "-e", f"ATTACHE_USER_ID={self.user_id}",
            "-e", "ATTACHE_PASSWORD_FILE=/run/secrets/bot_password",
            "-e", "ATTACHE_PICKLE_KEY_FILE=/run/secrets/pickle_key",
            "-e", "ATTACHE_CONFIG=/etc/attache/config.yaml",
            # The image listens on 0.0.0.0:9100; on the host network each test bot needs its own.
            "-e", f"ATTACHE_HTTP_ADDR=127.0.0.1:{self.http_port}",
            IMAGE,
        )  # fmt: skip
        log = self.log_path.open("ab")
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_image_shape_non_root_volume_healthcheck_no_secrets() -> None:
    result = podman("image", "inspect", IMAGE)
    assert result.returncode == 0, result.stderr
    image = json.loads(result.stdout)[0]
    config = image["Config"]
    assert config["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert config["Entrypoint"] == ["attache-bot"]
    assert config["Cmd"] == ["run"]
    assert "/data" in config["Volumes"]
    assert "ATTACHE_DATA_DIR=/data" in config["Env"]
    health = config.get("Healthcheck") or image.get("Healthcheck") or {}
    assert health.get("Test") == ["CMD", "attache-bot", "healthcheck"], image
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE).stdout
    for secret in ("PASSWORD=", "PICKLE_KEY=", "ACCESS_TOKEN=", BOT_PASSWORD, PICKLE_KEY):
        assert secret not in history
        assert not any(secret in e for e in config["Env"])


def test_check_config_with_example_and_docker_secrets(secrets_dir) -> None:
    secrets = secrets_dir(bot_password="a-password", pickle_key="k" * 32)
    base = [
        "run", "--rm", "--no-healthcheck",
        "-v", f"{EXAMPLE_CONFIG}:/etc/attache/config.yaml:ro",
        "-v", f"{secrets}:/run/secrets:ro",
        "-e", "ATTACHE_CONFIG=/etc/attache/config.yaml",
        "-e", "ATTACHE_PASSWORD_FILE=/run/secrets/bot_password",
    ]  # fmt: skip
    ok = podman(
        *base, "-e", "ATTACHE_PICKLE_KEY_FILE=/run/secrets/pickle_key", IMAGE, "check-config"
    )
    assert ok.returncode == 0, ok.stderr
    assert "ok: @attache:example.org on https://matrix.example.org, data in /data" in ok.stdout
    missing = podman(*base, IMAGE, "check-config")
    assert missing.returncode == 2
    assert "pickle_key: required" in missing.stderr
    assert "a-password" not in missing.stdout + missing.stderr


async def test_containerised_bot_answers_encrypted_ping(synapse, people, tmp_path: Path) -> None:
    alice = await people("alice")
    bot = ContainerBot(synapse, tmp_path / "bot", allowed_users=[alice.user_id])
    try:
        await bot.astart(timeout=120)
        room = await open_dm(alice, bot, timeout=60)
        _, reply = await command(alice, room, "!ping", timeout=30)
        assert reply.body == "pong"
        assert reply.sender == bot.user_id
        assert reply.decrypted, "the reply must have been end-to-end encrypted"
        # The image's HEALTHCHECK command, run where the orchestrator runs it.
        probe = podman("exec", bot.name, "attache-bot", "healthcheck")
        assert probe.returncode == 0, probe.stdout + probe.stderr
        assert json.loads(probe.stdout)["status"] == "ok"
    finally:
        code = await bot.astop(timeout=90)
    assert code == 0, bot.log_tail()
    # The data volume holds private files owned by the image's user, not root.
    for name in ("credentials.json", "attache.db"):
        info = (bot.data_dir / name).stat()
        assert info.st_uid == IMAGE_UID, name
        assert stat.S_IMODE(info.st_mode) == 0o600, name


def test_oci_labels_and_version_name_this_build() -> None:
    result = podman("image", "inspect", IMAGE)
    assert result.returncode == 0, result.stderr
    labels = json.loads(result.stdout)[0]["Config"]["Labels"]
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.revision"].removesuffix("-dirty") == head
    for key in ("source", "licenses", "created", "title"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    said = podman("run", "--rm", "--no-healthcheck", IMAGE, "--version")
    assert said.returncode == 0, said.stderr
    commit = labels["org.opencontainers.image.revision"][:12]
    assert said.stdout.strip() == f"attache-bot {version} (commit {commit})"


def test_no_installers_in_the_final_image() -> None:
    """pip and setuptools stay in the build stage: neither Python can import them."""
    for python in ("python", "/opt/venv/bin/python"):
        probe = podman(
            "run", "--rm", "--no-healthcheck", "--entrypoint", python, IMAGE, "-c",
            "import importlib.util as u; "
            "print([m for m in ('pip', 'setuptools', 'pkg_resources') if u.find_spec(m)])",
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "[]", python
