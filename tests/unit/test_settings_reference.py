"""docs/OPERATIONS.md's settings table is generated from Settings and must not drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from config import Settings

REPO = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_reference", REPO / "scripts" / "settings_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_operations_doc_is_up_to_date() -> None:
    script = load_script()
    assert script.main(["--check"]) == 0, (
        "docs/OPERATIONS.md is stale: run `make docs` (python scripts/settings_reference.py)"
    )


def test_every_setting_has_a_row_with_env_and_description() -> None:
    table = load_script().render()
    for name, field in Settings.model_fields.items():
        rows = [line for line in table.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, name
        assert f"`ATTACHE_{name.upper()}`" in rows[0]
        assert field.description, f"{name}: give it a description= (it is the doc)"
    assert "| `homeserver` | `ATTACHE_HOMESERVER` | str | **required** |" in table
    bounded = "| `sync_timeout_ms` | `ATTACHE_SYNC_TIMEOUT_MS` | int (≥ 1000, ≤ 300000) | `30000` |"
    assert bounded in table


def test_check_detects_a_stale_table_and_update_fixes_it(tmp_path: Path, capsys) -> None:
    script = load_script()
    doc = tmp_path / "OPERATIONS.md"
    current = (REPO / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    doc.write_text(current.replace("| `timezone` |", "| `time_zone` |"), encoding="utf-8")
    assert script.main(["--check", str(doc)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert script.main([str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == current
