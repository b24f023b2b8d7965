"""The built image, run with podman: only under `make container-test` (needs root and podman).

`make container-test` builds the image with the shared container-smoke script, then runs
these tests with ATTACHE_IMAGE and CONTAINER_WORK naming what the script built and where.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import people  # noqa: F401 - E2EE test clients, shared

IMAGE = os.environ.get("ATTACHE_IMAGE", "")
WORK = Path(os.environ.get("CONTAINER_WORK", "/tmp/container-smoke"))
IMAGE_UID = 10001  # the Dockerfile's USER


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IMAGE and shutil.which("podman"):
        return
    skip = pytest.mark.skip(reason="container tests run under `make container-test` only")
    for item in items:
        if Path(str(item.path)).parent == Path(__file__).parent:
            item.add_marker(skip)


def podman_argv(*args: str) -> tuple[list[str], dict[str, str]]:
    """podman with the storage and configuration the smoke script built the image into."""
    env = {**os.environ, "CONTAINERS_CONF": str(WORK / "containers.conf")}
    argv = ["podman", "--root", str(WORK / "storage"), "--runroot", str(WORK / "run"), *args]
    return argv, env


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv, env = podman_argv(*args)
    return subprocess.run(argv, env=env, text=True, capture_output=True, timeout=timeout)


def private_file(path: Path, text: str, mode: int = 0o400) -> Path:
    """A file the image's user (and nobody else) can read, as a Docker secret would be."""
    path.write_text(text, encoding="utf-8")
    os.chown(path, IMAGE_UID, IMAGE_UID)
    path.chmod(mode)
    return path


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Any:
    def make(**values: str) -> Path:
        path = tmp_path / "secrets"
        path.mkdir(exist_ok=True)
        path.chmod(0o755)
        for name, value in values.items():
            private_file(path / name, value)
        return path

    return make
