"""The built image: only under `make container-test` (docker, or podman as root).

`make container-test` builds the image with scripts/container-build.sh, then runs these
tests with ATTACHE_IMAGE and CONTAINER_WORK naming what it built and where; the script
leaves the engine's command line (docker, or podman with its storage) in WORK/engine.
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


def engine() -> list[str]:
    """The engine that holds the image, as scripts/container-build.sh wrote it."""
    saved = WORK / "engine"
    if saved.exists():
        return saved.read_text(encoding="utf-8").split("\n")[:-1]
    return ["podman", "--root", str(WORK / "storage"), "--runroot", str(WORK / "run")]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IMAGE and shutil.which(engine()[0]):
        return
    skip = pytest.mark.skip(reason="container tests run under `make container-test` only")
    for item in items:
        if Path(str(item.path)).parent == Path(__file__).parent:
            item.add_marker(skip)


def podman_argv(*args: str) -> tuple[list[str], dict[str, str]]:
    """The engine (docker, or podman with the storage and configuration the build used)."""
    env = dict(os.environ)
    conf = WORK / "containers.conf"  # made by the stand-in script: runc, sandbox limits
    if engine()[0] == "podman" and conf.exists():
        env["CONTAINERS_CONF"] = str(conf)
    return [*engine(), *args], env


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
