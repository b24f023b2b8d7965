"""The compose examples run as the README says (issue 23, finding 6).

The README's container steps are run as written (all but the docker commands) in a copy of
the repository's deploy/ and Dockerfile; then each compose file the README starts is
checked against what those steps made: `docker compose config` where Compose is installed,
and in any case every build context, mounted file and secret exists, each secret is
readable by the user of the container that reads it, and every ATTACHE_* name is a setting.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import Settings
from config.sources import unknown_variables
from tests.harness.bot import REPO

# Who reads a service's secrets: the bot image's USER, and the postgres image's postgres.
READER_UID = {"attache-bot:latest": 10001, "postgres:15": 999}


def readme_steps() -> list[str]:
    """The shell commands of the README's "Running it in a container" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running it in a container", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()  # trailing comments
            if line:
                commands.append(line)
    return commands


def compose_files(steps: list[str]) -> list[str]:
    return [m for step in steps for m in re.findall(r"docker compose -f (\S+)", step)]


@pytest.fixture(scope="module")
def operator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory as the README leaves it: the repository's files plus what the steps made."""
    root = tmp_path_factory.mktemp("operator")
    shutil.copytree(REPO / "deploy", root / "deploy")
    shutil.copy(REPO / "Dockerfile", root / "Dockerfile")
    prelude = "" if os.geteuid() == 0 else "chown() { :; }\n"  # ownership is checked as root
    script = prelude + "\n".join(s for s in readme_steps() if not s.startswith("docker "))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return root


def test_the_readme_has_the_steps_and_starts_both_examples() -> None:
    steps = readme_steps()
    assert any(s.startswith("mkdir -p secrets") for s in steps)
    assert compose_files(steps) == ["deploy/compose.example.yaml", "deploy/compose.ha.example.yaml"]


def service_secrets(service: dict[str, Any]) -> list[str]:
    return [s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])]


def compose_command() -> list[str] | None:
    for argv in (["docker", "compose"], ["docker-compose"], ["podman-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        probe = subprocess.run([*argv, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return argv
    return None


@pytest.mark.parametrize("name", ["compose.example.yaml", "compose.ha.example.yaml"])
def test_compose_example_mounts_what_the_readme_made(operator_dir: Path, name: str) -> None:
    path = operator_dir / "deploy" / name
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    base = path.parent  # compose resolves relative paths from the file's directory
    declared_secrets = doc.get("secrets", {})
    declared_volumes = set(doc.get("volumes") or {})
    for service_name, service in doc["services"].items():
        where = f"{name}: {service_name}"
        if "build" in service:
            assert (base / service["build"] / "Dockerfile").is_file(), where
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (base / source).exists(), f"{where}: {source} is not there"
            else:
                assert source in declared_volumes, f"{where}: volume {source} not declared"
        env = service.get("environment", {})
        settings = [k for k in env if k.startswith("ATTACHE_")]
        assert unknown_variables(dict.fromkeys(settings, ""), Settings.model_fields) == [], where
        if "ATTACHE_CONFIG" in env:
            mounted = [v.split(":")[1] for v in service.get("volumes", [])]
            assert env["ATTACHE_CONFIG"] in mounted, f"{where}: the config file is not mounted"
        uses = service_secrets(service)
        for key, value in env.items():
            if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in uses, f"{where}: {key}"
        reader = READER_UID[service["image"]]
        for secret in uses:
            assert secret in declared_secrets, f"{where}: secret {secret} not declared"
            file = base / declared_secrets[secret]["file"]
            assert file.is_file() and file.stat().st_size > 0, f"{where}: {file} not made"
            if os.geteuid() == 0:
                info = file.stat()
                readable = (info.st_uid == reader and info.st_mode & stat.S_IRUSR) or (
                    info.st_mode & stat.S_IROTH
                )
                assert readable, f"{where}: uid {reader} cannot read {secret}"
                assert not info.st_mode & stat.S_IRWXO, f"{where}: {secret} is world-readable"
    argv = compose_command()
    if argv is not None:  # Compose's own validation too, where it is installed
        done = subprocess.run(
            [*argv, "-f", f"deploy/{name}", "config", "-q"],
            cwd=operator_dir,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
