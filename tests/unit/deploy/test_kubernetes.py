"""The Kubernetes manifests: every overlay builds, every object validates (built-in kinds with
kubernetes-validate, custom resources against the schemas in deploy/k8s/schemas), and the
properties operators rely on hold for every service the repository has."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.deploy.conftest import (
    K8S,
    OVERLAYS,
    ROOT,
    Service,
    by_kind,
    run,
    shutdown_budget,
    tool,
)

Docs = list[dict[str, Any]]
EXPECTED_EGRESS_PORTS = {53, 4222, 27017, 4318, 443, 80, 587}


def to_json_schema(node: Any) -> Any:
    """A CRD's OpenAPI v3 schema as JSON Schema, with the API server's strict field validation:
    unknown fields are errors unless the schema preserves them."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if not key.startswith("x-")}
    out.pop("format", None)
    if node.get("x-kubernetes-int-or-string"):
        return {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    if (
        node.get("type") == "object"
        and "properties" in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in node
    ):
        out["additionalProperties"] = False
    return out


def load_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted((K8S / "schemas").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        schemas[(document["apiVersion"], document["kind"])] = to_json_schema(document["schema"])
    return schemas


SCHEMAS = load_schemas()


def kolot_deployments(docs: Docs) -> dict[str, dict[str, Any]]:
    return {
        name: doc for name, doc in by_kind(docs, "Deployment").items() if name.startswith("kolot-")
    }


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "Exists" and value is None:
            return False
    return True


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


# --- building and validating -------------------------------------------------------------------


def test_every_overlay_builds_with_one_deployment_per_service(
    built: dict[str, Docs], services: list[Service]
) -> None:
    for overlay in OVERLAYS:
        assert set(kolot_deployments(built[overlay])) == {f"kolot-{s.name}" for s in services}


def test_every_built_in_object_validates_strictly_against_kubernetes_1_33(
    built_files: dict[str, Path],
) -> None:
    # one invocation for every overlay: kubernetes-validate is slow to start
    result = run(tool("kubernetes-validate"), "-k", "1.33", "--strict", *built_files.values())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    unknown_kinds = set(
        re.findall(r"Couldn't find schema for kind (\w+) with api version (\S+)", output)
    )
    assert {(version, kind) for kind, version in unknown_kinds} <= set(SCHEMAS), (
        "a custom resource without a schema in deploy/k8s/schemas"
    )
    assert "ERROR" not in output
    assert "FAILED" not in output.upper().replace("PASSED", "")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_resource_validates_against_its_crd_schema(
    overlay: str, built: dict[str, Docs]
) -> None:
    checked = set()
    for doc in built[overlay]:
        key = (doc["apiVersion"], doc["kind"])
        if "." not in doc["apiVersion"].split("/")[0] or doc["apiVersion"].endswith(".k8s.io/v1"):
            continue  # a built-in API group
        assert key in SCHEMAS, f"no schema for {key} in deploy/k8s/schemas"
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}
        assert doc["metadata"]["name"]
        assert doc["metadata"]["namespace"]
        jsonschema.validate(doc["spec"], SCHEMAS[key])
        checked.add(key)
    assert checked == set(SCHEMAS), "every schema kept in the repository is used"


def test_crd_schemas_reject_a_misspelt_field(built: dict[str, Docs]) -> None:
    scaled = copy.deepcopy(by_kind(built["prod"], "ScaledObject")["kolot-moderation"])
    scaled["spec"]["minReplicas"] = scaled["spec"].pop("minReplicaCount")
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        jsonschema.validate(scaled["spec"], SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")])
    monitor = copy.deepcopy(by_kind(built["prod"], "ServiceMonitor")["kolot-intake"])
    monitor["spec"]["endpoints"][0]["interval"] = "15 seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            monitor["spec"], SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")]
        )


def test_no_secret_is_committed(built: dict[str, Docs]) -> None:
    for overlay, docs in built.items():
        assert not by_kind(docs, "Secret"), f"{overlay} builds a Secret: create it out of band"
    for path in (ROOT / "deploy").rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".env", ".json"):
            text = path.read_text()
            assert (
                not re.search(r"^\s*(data|stringData):\s*$", text, re.M)
                or path.parent.name == "schemas"
            )


def test_every_secret_the_manifests_read_is_documented_in_the_runbook(
    built: dict[str, Docs],
) -> None:
    runbook = (ROOT / "docs/operations.md").read_text()
    for docs in built.values():
        names = set()
        for deployment in kolot_deployments(docs).values():
            for variable in container(deployment).get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
        for user in by_kind(docs, "MongoDBCommunity")["kolot-mongodb"]["spec"]["users"]:
            names.add(user["passwordSecretRef"]["name"])
        for name in names:
            assert f"`{name}`" in runbook or re.search(
                re.sub(r"-(intake|moderation|notify|metrics|ops)\b", "-<service>", name), runbook
            ), f"docs/operations.md does not say how to create the Secret {name}"


# --- every service: what its Deployment promises --------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_are_hardened_probed_sized_and_spread(
    overlay: str, built: dict[str, Docs], services: list[Service]
) -> None:
    deployments = kolot_deployments(built[overlay])
    for service in services:
        deployment = deployments[f"kolot-{service.name}"]
        pod = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        assert main["command"] == [f"kolot-{service.name}"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 1000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert main["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        # a read-only root: /tmp is the only writable place
        assert {m["mountPath"] for m in main["volumeMounts"]} == {"/tmp"}  # noqa: S108
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        assert ports == {"http": service.port}
        assert main["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert main["startupProbe"]["httpGet"]["path"] == "/livez"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(main["resources"][kind]), f"{kind} for cpu and memory"
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pre_stop = main["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pre_stop >= 5, "endpoints need a moment to drop the pod before it stops"
        budget = shutdown_budget(len(service.consumers), pre_stop)
        assert pod["terminationGracePeriodSeconds"] >= budget, (
            f"kolot-{service.name} may need {budget} s to stop gracefully"
        )
        assert main["image"].startswith("ghcr.io/")
        assert not main["image"].endswith(":latest")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_its_service_account_service_budget_and_monitor(
    overlay: str, built: dict[str, Docs], services: list[Service]
) -> None:
    docs = built[overlay]
    accounts = by_kind(docs, "ServiceAccount")
    svcs = by_kind(docs, "Service")
    budgets = by_kind(docs, "PodDisruptionBudget")
    monitors = by_kind(docs, "ServiceMonitor")
    for service in services:
        name = f"kolot-{service.name}"
        deployment = kolot_deployments(docs)[name]
        labels = pod_labels(deployment)
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert accounts[account]["automountServiceAccountToken"] is False
        assert selects({"matchLabels": svcs[name]["spec"]["selector"]}, labels)
        assert svcs[name]["spec"]["ports"] == [
            {"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}
        ]
        assert selects(budgets[name]["spec"]["selector"], labels)
        monitor = monitors[name]["spec"]
        assert selects(monitor["selector"], svcs[name]["metadata"]["labels"])
        assert monitor["endpoints"][0]["port"] == "http"
        assert monitor["endpoints"][0]["path"] == "/metrics"
        # Prometheus selects monitors and rules by the same label
        rule = by_kind(docs, "PrometheusRule")["kolot"]
        assert (
            monitors[name]["metadata"]["labels"]["release"] == rule["metadata"]["labels"]["release"]
        )
        # job="kolot-<name>" in Kubernetes as in compose, so rules and dashboards are shared
        assert svcs[name]["metadata"]["labels"][monitor["jobLabel"]] == name


# --- scaling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_intake_scales_on_cpu_and_the_consumers_on_their_pending_messages(
    overlay: str, built: dict[str, Docs], services: list[Service]
) -> None:
    docs = built[overlay]
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    scaled = by_kind(docs, "ScaledObject")
    assert set(hpas) == {"kolot-intake"}
    hpa = hpas["kolot-intake"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "kolot-intake",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    for service in services:
        if service.name == "intake":
            continue
        name = f"kolot-{service.name}"
        assert name in scaled, f"{name} has no ScaledObject"
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicaCount"] >= (2 if overlay == "prod" else 1)
        triggers = {}
        for trigger in spec["triggers"]:
            assert trigger["type"] == "nats-jetstream"
            metadata = trigger["metadata"]
            assert {
                "natsServerMonitoringEndpoint",
                "account",
                "stream",
                "consumer",
                "lagThreshold",
            } <= set(metadata)
            assert metadata["natsServerMonitoringEndpoint"].endswith(":8222")
            triggers[metadata["consumer"]] = metadata["stream"]
        # exactly the durable consumers the service declares, on the streams they read
        assert triggers == {c.name: c.stream for c in service.consumers}
    if overlay == "prod":
        assert hpa["minReplicas"] >= 2


def test_keda_reads_the_nats_account_and_monitoring_port_the_helm_values_define(
    built: dict[str, Docs],
) -> None:
    values = yaml.safe_load((ROOT / "deploy/nats/values.yaml").read_text())
    assert values["config"]["monitor"]["enabled"] is True
    port = values["config"]["monitor"]["port"]
    for scaled in by_kind(built["prod"], "ScaledObject").values():
        for trigger in scaled["spec"]["triggers"]:
            metadata = trigger["metadata"]
            assert metadata["account"] in values["config"]["merge"]["accounts"]
            assert metadata["natsServerMonitoringEndpoint"] == (
                f"kolot-nats-headless.nats.svc.cluster.local:{port}"
            )


# --- network ----------------------------------------------------------------------------------


def policies_for(docs: Docs, labels: dict[str, str], kind: str) -> list[dict[str, Any]]:
    return [
        p["spec"]
        for p in by_kind(docs, "NetworkPolicy").values()
        if kind in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
    ]


def test_network_is_denied_by_default_and_opened_only_where_needed(
    built: dict[str, Docs], services: list[Service]
) -> None:
    docs = built["prod"]
    assert any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in by_kind(docs, "NetworkPolicy").values()
    ), "a default-deny policy for the whole namespace"
    for service in services:
        labels = pod_labels(kolot_deployments(docs)[f"kolot-{service.name}"])
        egress_ports = {
            port["port"]
            for policy in policies_for(docs, labels, "Egress")
            for rule in policy.get("egress", [])
            for port in rule.get("ports", [])
        }
        assert {53, 4222, 27017, 4318} <= egress_ports
        assert egress_ports <= EXPECTED_EGRESS_PORTS
        if service.name != "notify":
            assert not {80, 587} & egress_ports, "only notify sends webhooks and e-mail"
        sources = []
        for policy in policies_for(docs, labels, "Ingress"):
            for rule in policy.get("ingress", []):
                assert [p["port"] for p in rule["ports"]] == [service.port]
                sources += [
                    peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    for peer in rule["from"]
                ]
        expected = {"monitoring", "ingress-nginx"} if service.name == "intake" else {"monitoring"}
        assert set(sources) == expected


def test_only_intakes_public_api_is_exposed(built: dict[str, Docs]) -> None:
    for overlay, docs in built.items():
        ingresses = by_kind(docs, "Ingress")
        assert set(ingresses) == {"kolot-intake"}, overlay
        spec = ingresses["kolot-intake"]["spec"]
        assert spec["tls"]
        assert spec["tls"][0]["hosts"] == [spec["rules"][0]["host"]]
        paths = spec["rules"][0]["http"]["paths"]
        assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [
            ("/v1", "kolot-intake")
        ]


# --- MongoDB ------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_reads_its_own_database_user_from_the_replica_set(
    overlay: str, built: dict[str, Docs], services: list[Service]
) -> None:
    docs = built[overlay]
    mongo = by_kind(docs, "MongoDBCommunity")["kolot-mongodb"]["spec"]
    assert mongo["type"] == "ReplicaSet"
    assert mongo["members"] == (3 if overlay == "prod" else 1)
    assert mongo["security"]["authentication"]["modes"] == ["SCRAM"]
    users = {
        u["connectionStringSecretName"]: u
        for u in mongo["users"]
        if "connectionStringSecretName" in u
    }
    namespace = by_kind(docs, "ConfigMap")
    kolot_namespace = next(
        cm["data"]["KOLOT_NAMESPACE"]
        for name, cm in namespace.items()
        if name.startswith("kolot-common")
    )
    for service in services:
        env = {
            v["name"]: v for v in container(kolot_deployments(docs)[f"kolot-{service.name}"])["env"]
        }
        ref = env["MONGODB_URL"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "connectionString.standard"
        user = users[ref["name"]]
        # least privilege: readWrite on the service's own database only
        assert user["roles"] == [{"name": "readWrite", "db": f"{kolot_namespace}_{service.name}"}]
    labels = mongo["statefulSet"]["spec"]["template"]["metadata"]["labels"]
    assert policies_for(docs, labels, "Ingress"), "mongod is reachable only as a policy says"
