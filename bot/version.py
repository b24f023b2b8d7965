"""What is running: the version (pyproject.toml, the one place it is written) and the
commit it was built from, for `attache-bot --version`, the `attache_build_info` metric
and the start-up log line.

The image build writes the commit into `bot/BUILD_COMMIT` (its build argument REVISION);
a source checkout asks git; anything else says `unknown`.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

DISTRIBUTION = "attache-bot"
COMMIT_FILE = Path(__file__).with_name("BUILD_COMMIT")


@cache
def version() -> str:
    try:
        return dist_version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a tree that was never installed
        return "0+unknown"


@cache
def commit() -> str:
    """The full commit hash, or `unknown`."""
    try:
        text = COMMIT_FILE.read_text(encoding="ascii").strip()
    except OSError:
        text = ""
    if text:
        return text
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return "unknown"
    try:
        out = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "-C", str(repo), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def describe() -> str:
    """`attache-bot 0.4.0.dev0 (commit 1a2b3c4d5e6f)`."""
    return f"{DISTRIBUTION} {version()} (commit {commit()[:12]})"
