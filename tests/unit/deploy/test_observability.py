"""Alerts, scrape configuration, dashboards and the NATS accounts: consistent with each other
and with the metrics the code actually exports."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.conftest import ROOT, Service, run

RULES = ROOT / "ops/prometheus/rules/kolot.yml"
PROMETHEUS_RULE = ROOT / "deploy/k8s/base/monitoring/prometheusrule.yaml"
DASHBOARDS = sorted((ROOT / "ops/grafana/dashboards").glob("*.json"))
METRIC = re.compile(r"\b(kolot_[a-z0-9_]+)")
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def rules() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def exported_metrics() -> set[str]:
    """Every metric family the code registers (prometheus_client names, without suffixes)."""
    names = set()
    for path in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        names |= set(re.findall(r'"(kolot_[a-z0-9_]+)"', path.read_text()))
    return names


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_compose_and_kubernetes_load_the_same_alerts() -> None:
    deployed = yaml.safe_load(PROMETHEUS_RULE.read_text())["spec"]["groups"]
    assert deployed == rules(), f"regenerate {PROMETHEUS_RULE.name} from {RULES.name}"


def test_alerts_query_metrics_the_services_export() -> None:
    exported = exported_metrics()
    assert "kolot_consumer_pending" in exported  # the scan itself works
    queried = {
        match
        for group in rules()
        for rule in group["rules"]
        for match in METRIC.findall(rule["expr"])
    }
    assert queried, "the rules query Kolot's metrics"
    assert {family(name) for name in queried} <= exported, "an alert on a metric nobody exports"


def test_every_alert_has_a_severity_a_summary_and_a_runbook_entry() -> None:
    runbook = (ROOT / "docs/operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+\s+(.+)$", runbook, re.M)
    }
    for group in rules():
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("info", "warning", "critical")
            assert rule["annotations"]["summary"]
            anchor = rule["annotations"]["runbook"].split("#", 1)[1]
            assert anchor == rule["alert"].lower()
            assert anchor in anchors, f"docs/operations.md has no section for {rule['alert']}"


def test_consumer_lag_alerts_cover_every_consumer() -> None:
    # the lag gauge is labelled per consumer: the rules aggregate by it and name none, so a
    # consumer added tomorrow is covered
    for alert in ("KolotConsumerLagHigh", "KolotConsumerStalled"):
        rule = next(r for g in rules() for r in g["rules"] if r["alert"] == alert)
        assert "by (consumer)" in rule["expr"]
        assert "consumer=" not in rule["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_promtool_accepts_rules_rule_tests_and_scrape_configuration(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    result = run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    # the alerts fire (and stay quiet) on the series the rule tests feed them
    result = run(promtool, "test", "rules", ROOT / "ops/prometheus/tests/kolot_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = tmp_path / "prometheus.yml"
    # the compose file mounts the rules at /etc/prometheus/rules: point at the repository's
    config.write_text(
        (ROOT / "ops/prometheus/prometheus.yml")
        .read_text()
        .replace("/etc/prometheus/rules/*.yml", str(RULES))
    )
    result = run(promtool, "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_service_as_the_service_monitors_name_it(
    compose: dict[str, Any], services: list[Service]
) -> None:
    config = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    for service in services:
        assert jobs[f"kolot-{service.name}"] == [f"{service.name}:{service.port}"]
    assert set(compose["services"]) >= {"prometheus", "grafana", "otel-collector"}


def test_dashboards_query_exported_metrics_through_a_chosen_prometheus() -> None:
    # the data source is a variable: compose provisions its own Prometheus, kube-prometheus-stack
    # has another uid, and the same dashboards serve both
    provisioned = yaml.safe_load(
        (ROOT / "ops/grafana/provisioning/datasources/datasources.yml").read_text()
    )["datasources"]
    assert any(source["type"] == "prometheus" for source in provisioned)
    exported = exported_metrics()
    assert DASHBOARDS
    seen = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in seen
        seen.add(dashboard["uid"])
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}", f"{path.name}: {panel['title']}"
            for target in panel["targets"]:
                for name in METRIC.findall(target["expr"]):
                    assert family(name) in exported, f"{path.name}: {name} is not exported"


def test_kubernetes_ships_the_same_dashboards(built: dict[str, list[dict[str, Any]]]) -> None:
    for docs in built.values():
        maps = [
            doc
            for doc in docs
            if doc["kind"] == "ConfigMap"
            and doc["metadata"]["name"].startswith("kolot-grafana-dashboards")
        ]
        assert len(maps) == 1
        assert maps[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert maps[0]["data"] == {path.name: path.read_text() for path in DASHBOARDS}


def test_ministries_may_only_consume_kolot_public() -> None:
    values = yaml.safe_load((ROOT / "deploy/nats/values.yaml").read_text())
    config = values["config"]
    assert config["cluster"]["enabled"]
    assert config["cluster"]["replicas"] == 3
    assert config["jetstream"]["enabled"]
    assert config["jetstream"]["fileStore"]["enabled"]
    accounts = config["merge"]["accounts"]
    kolot = accounts.pop("KOLOT")
    accounts.pop(config["merge"]["system_account"])
    assert kolot["jetstream"] == "enabled"
    assert {u["user"] for u in kolot["users"]} == {
        f"kolot-{p.parent.name}" for p in (ROOT / "services").glob("*/pyproject.toml")
    }
    for export in kolot.get("exports", []):
        subject = export.get("service") or export.get("stream")
        assert re.match(r"^\$JS\.(API\.CONSUMER\.(INFO|MSG\.NEXT)|ACK)\.KOLOT_PUBLIC\.", subject), (
            subject
        )
        assert set(export["accounts"]) <= set(accounts)
    assert accounts, "at least the example ministry account"
    for name, account in accounts.items():
        assert "jetstream" not in account, f"{name} has no JetStream of its own"
        assert account["imports"], name
        for entry in account["imports"]:
            imported = entry.get("service") or entry.get("stream")
            assert imported["account"] == "KOLOT"
            assert ".KOLOT_PUBLIC." in imported["subject"], f"{name} imports {imported['subject']}"
    # no password in the values: each is read from a Secret through the chart's interpolation
    env = values["container"]["env"]
    for account in [kolot, *accounts.values()]:
        for user in account["users"]:
            variable = re.fullmatch(r"<< \$(\w+) >>", user["password"])
            assert variable is not None, f"{user['user']} has a literal password"
            assert "secretKeyRef" in env[variable.group(1)]["valueFrom"]
