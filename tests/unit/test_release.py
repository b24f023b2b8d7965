"""Versions come from one place (pyproject.toml) and CHANGELOG.md keeps up with it."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version as dist_version

from packaging.version import Version

from tests.harness.bot import REPO

HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d\d-\d\d))?$", re.M)


def project_version() -> Version:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return Version(tomllib.load(fh)["project"]["version"])


def test_installed_version_is_pyprojects() -> None:
    """The venv's metadata (what --version and attache_build_info say) is not stale."""
    assert Version(dist_version("attache-bot")) == project_version()


def test_changelog_follows_keep_a_changelog_and_matches_the_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = [(m["name"], m["date"]) for m in HEADING.finditer(text)]
    assert headings[0] == ("Unreleased", None)
    releases = [(Version(name), date) for name, date in headings[1:]]
    assert releases, "at least one release"
    assert all(date for _, date in releases), "every release is dated"
    versions = [v for v, _ in releases]
    assert versions == sorted(versions, reverse=True), "newest first"
    dates = [d for _, d in releases]
    assert dates == sorted(dates, reverse=True)
    current = project_version()
    if current.is_devrelease:  # between releases: the next version, above the newest
        assert current > versions[0]
    else:  # a release commit: its section is written
        assert current == versions[0]
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        kinds = re.findall(r"^### (.+)$", section, flags=re.M)
        allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
        assert set(kinds) <= allowed | {"Upgrade notes"}, kinds


def test_no_absolute_path_of_a_machine_in_the_repository() -> None:
    """The clone is self-contained: tools beside it are found relative to it."""
    import subprocess

    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    # Where this clone sits on this machine, and the folder beside it where a CI's shared
    # tools live: neither may be named by any tracked file.
    here = (str(REPO.resolve()) + "/", str(REPO.resolve().parent / "shared") + "/")
    for name in files:
        path = REPO / name
        if not path.is_file() or path.suffix in (".po", ".mo", ".png"):
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        assert not [p for p in here if p in text], name
