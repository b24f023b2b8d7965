"""Problems in where the settings come from, found before pydantic reads them.

pydantic-settings ignores an `ATTACHE_*` variable it does not know (a misspelled
`ATTACHE_ALOWED_SERVERS` silently leaves the allow-list empty) and lets PyYAML's own
exception escape for a syntax error; both are reported here as one line each, in the
same `setting: what is wrong, how to fix it` form as every other settings problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

PREFIX = "ATTACHE_"
# Read by the project's own tooling (Makefile, test harness, benchmarks), never by the bot:
# exported into the environment the bot runs in, so they are not mistakes.
TOOLING_VARIABLES = frozenset(
    {
        "ATTACHE_CONFIG",  # the YAML file (read by load_settings itself)
        "ATTACHE_SYNAPSE_VENV",
        "ATTACHE_PG_BIN",
        "ATTACHE_SOAK",
        "ATTACHE_FIGURES",
        "ATTACHE_EXAMPLES",
        "ATTACHE_FUZZ_EXAMPLES",
        "ATTACHE_IMAGE",
    }
)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean X?)` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_variables(environ: Mapping[str, str], fields: Iterable[str]) -> list[str]:
    """One problem line per `ATTACHE_*` variable that names no setting."""
    known = {PREFIX + f.upper() for f in fields}
    problems = []
    for var in sorted(environ):
        if not var.upper().startswith(PREFIX) or var.upper() in known | TOOLING_VARIABLES:
            continue
        problems.append(
            f"{var}: not a setting{did_you_mean(var.upper(), known)}; "
            "fix the name or unset it (settings: docs/OPERATIONS.md)"
        )
    return problems


def yaml_problems(path: Path) -> list[str]:
    """A syntax error as `config: FILE:LINE:COLUMN: what`, or a file that is not a mapping."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"config: cannot read {path}: {exc.strerror}"]
    except UnicodeDecodeError:
        return [f"config: {path} is not UTF-8 text"]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        return [f"config: {where}: {what}; e.g. `allowed_servers: [example.org]`"]
    except yaml.YAMLError as exc:
        return [f"config: {path}: {' '.join(str(exc).split())}"]
    if document is not None and not isinstance(document, dict):
        return [f"config: {path} must hold `key: value` lines, e.g. `timezone: Europe/Paris`"]
    return []
