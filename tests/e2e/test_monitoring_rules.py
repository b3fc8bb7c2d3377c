"""deploy/monitoring/ on its own (docs/observability.md): the alert rules pass `promtool check rules`, and their
unit tests beside them (`*_test.yaml`) pass `promtool test rules`: each alert fires on the series that should
fire it and stays quiet under its threshold. No binaries, no network. tests/e2e/test_prometheus.py loads the
same rules into a Prometheus that scrapes a real gateway.

promtool comes with Debian's `prometheus` package (scripts/deps.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
import unittest
from pathlib import Path

import mgtest

MONITORING = mgtest.SOURCE_DIR / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).exists():
        raise AssertionError("promtool is missing: run scripts/deps.sh (Debian package prometheus)")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rule_files() -> list[Path]:
    return sorted(p for p in MONITORING.glob("*.yaml") if not p.name.endswith("_test.yaml"))


class MonitoringRules(unittest.TestCase):
    def test_rules_pass_promtool_check_rules(self):
        files = rule_files()
        self.assertTrue(files, f"no rule files in {MONITORING}")
        out = promtool("check", "rules", *map(str, files))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("WARNING", out.stdout + out.stderr)

    def test_every_rule_file_has_unit_tests_and_they_pass(self):
        for rules in rule_files():
            tests = rules.with_name(rules.stem + "_test.yaml")
            self.assertTrue(tests.exists(), f"{rules.name} has no unit tests beside it ({tests.name})")
            out = promtool("test", "rules", tests.name)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("SUCCESS", out.stdout)

    def test_every_alert_has_a_unit_test(self):
        import yaml
        for rules in rule_files():
            alerts = {r["alert"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]
                      if "alert" in r}
            tests = yaml.safe_load(rules.with_name(rules.stem + "_test.yaml").read_text())
            tested = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])
                      if t.get("exp_alerts")}
            self.assertEqual(alerts - tested, set(), f"{rules.name}: alerts never seen firing in a unit test")

    def test_the_dashboard_is_json_with_queries(self):
        dashboard = json.loads((MONITORING / "mirrorgate-dashboard.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreaterEqual(len(exprs), 8, exprs)


if __name__ == "__main__":
    unittest.main()
