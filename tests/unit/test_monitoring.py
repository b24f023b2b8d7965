"""Monitoring as code (issue 23, finding 5): the alert rules pass promtool's check and
their unit tests, and the rules and the Grafana dashboard query only series the bot
exports (its own registry, as /metrics renders it) or Prometheus' own `up`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.metrics import Metrics
from tests.harness.bot import REPO

RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "attache-bot.json"
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan",
}  # fmt: skip
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum", ""),
    "info": ("_info",),
    "gauge": ("",),
    "unknown": ("",),
}


def promtool() -> str:
    """Debian's prometheus package provides it (`make prometheus` installs it)."""
    found = shutil.which("promtool") or next(
        (p for p in ("/usr/bin/promtool", "/usr/local/bin/promtool") if Path(p).exists()), None
    )
    assert found, "promtool not found: `make prometheus` installs Debian's prometheus package"
    return found


def exported_series() -> set[str]:
    """Every series name the bot's registry can export, even those with no sample yet."""
    names = set()
    for family in Metrics().registry.collect():
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
        names |= {s.name for s in family.samples}
    return names


def metric_names(expr: str) -> set[str]:
    """The series a PromQL expression selects (functions, keywords and labels aside)."""
    expr = re.sub(r"label_values\(([^,()]+),\s*\w+\)", r"\1", expr)  # Grafana's variables
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        rest = expr[match.end() :].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function or an operator
        names.add(word)
    return names


def dashboard_exprs(node: Any) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                found.append(value)
            else:
                found += dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            found += dashboard_exprs(item)
    return found


def test_the_name_extraction_itself() -> None:
    expr = (
        'sum by (le) (rate(attache_command_seconds_bucket{instance=~"$instance"}[5m]))'
        ' - ignoring (le) up{job="x"} > 0 and on (instance) attache_active == 1'
    )
    assert metric_names(expr) == {"attache_command_seconds_bucket", "up", "attache_active"}


def test_rules_pass_promtool_check_and_their_unit_tests() -> None:
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run(
        [tool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_unit_tested_both_ways() -> None:
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    assert firing == alerts, f"never seen firing: {alerts - firing}"
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts - quiet == set(), f"never seen quiet: {alerts - quiet}"


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_queries_use_only_series_the_bot_exports(source: str) -> None:
    if source == "alerts":
        doc = yaml.safe_load(RULES.read_text())
        exprs = [r["expr"] for g in doc["groups"] for r in g["rules"]]
    else:
        exprs = dashboard_exprs(json.loads(DASHBOARD.read_text()))
    assert exprs
    known = exported_series() | PROMETHEUS_OWN
    used = set().union(*(metric_names(e) for e in exprs))
    assert used, exprs
    assert used - known == set(), f"{source} query series the bot does not export"


def test_dashboard_is_importable_grafana_json() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "attache-bot" and doc["title"]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in doc["templating"]["list"]}
    assert {"datasource", "instance"} <= variables
    for p in doc["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and all('instance=~"$instance"' in t["expr"] for t in p["targets"])
