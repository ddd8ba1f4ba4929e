"""docker-compose.yml: valid against the Compose Specification, and whole (every dependency,
every mounted file and every service of the repository present)."""

from __future__ import annotations

import re
from typing import Any

from tests.unit.deploy.conftest import ROOT, Service, run, shutdown_budget, tool

KOLOT_DEPENDENCIES = {"nats": "service_healthy", "mongo-init": "service_completed_successfully"}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    value = service.get("depends_on", {})
    if isinstance(value, list):  # the short form means "started"
        return dict.fromkeys(value, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in value.items()}


def test_compose_file_follows_the_compose_specification() -> None:
    result = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dependency_is_a_defined_service(compose: dict[str, Any]) -> None:
    defined = set(compose["services"])
    for name, service in compose["services"].items():
        missing = set(depends_on(service)) - defined
        assert not missing, f"{name} depends on undefined services {missing}"


def test_every_mounted_file_is_in_the_repository(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_every_service_is_built_from_its_dockerfile_and_waits_for_its_dependencies(
    compose: dict[str, Any], services: list[Service]
) -> None:
    for service in services:
        entry = compose["services"].get(service.name)
        assert entry is not None, f"docker-compose.yml has no {service.name} service"
        assert entry["build"] == {
            "context": ".",
            "dockerfile": f"services/{service.name}/Dockerfile",
        }
        for dependency, condition in KOLOT_DEPENDENCIES.items():
            assert depends_on(entry).get(dependency) == condition, (
                f"{service.name} must wait for {dependency} ({condition})"
            )
        check = " ".join(entry["healthcheck"]["test"])
        assert f"127.0.0.1:{service.port}/readyz" in check
        assert entry["environment"]["KOLOT_HTTP_PORT"] == str(service.port)
        # compose has no preStop: nothing but the service itself needs draining
        grace = int(re.fullmatch(r"(\d+)s", entry["stop_grace_period"]).group(1))  # type: ignore[union-attr]
        assert grace >= shutdown_budget(len(service.consumers), pre_stop=0)
        assert entry["read_only"] is True
        assert entry["cap_drop"] == ["ALL"]


def test_mongodb_is_a_replica_set_and_the_services_say_so(compose: dict[str, Any]) -> None:
    mongo = compose["services"]["mongo"]
    replica_set = mongo["command"][mongo["command"].index("--replSet") + 1]
    init = (ROOT / "ops/mongo/init-replica-set.js").read_text()
    assert f'_id: "{replica_set}"' in init
    for name in ("intake", "moderation", "notify", "metrics"):
        url = compose["services"][name]["environment"]["MONGODB_URL"]
        assert f"replicaSet={replica_set}" in url


def test_nats_runs_jetstream_on_a_volume_with_its_monitoring_port(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    config = (ROOT / "ops/nats/nats.conf").read_text()
    assert re.search(r"^jetstream\s*\{", config, re.M)
    store = re.search(r"store_dir:\s*(\S+)", config)
    assert store is not None
    volumes = {v.split(":")[1]: v.split(":")[0] for v in nats["volumes"]}
    assert any(
        store.group(1).startswith(target)
        for target, src in volumes.items()
        if not src.startswith("./")
    ), "the JetStream store is on a named volume"
    assert re.search(r"^http_port:\s*8222", config, re.M)
    assert "8222" in nats["healthcheck"]["test"][-1]


def test_traces_go_to_the_collector_on_the_port_it_listens_on(compose: dict[str, Any]) -> None:
    endpoint = compose["services"]["intake"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    host, port = re.fullmatch(r"http://([\w-]+):(\d+)", endpoint).groups()  # type: ignore[union-attr]
    assert host in compose["services"]
    collector = (ROOT / "ops/otel/collector.yaml").read_text()
    # the services export OTLP over HTTP (opentelemetry-exporter-otlp-proto-http)
    assert re.search(rf"http:\s*\n\s*endpoint:\s*0\.0\.0\.0:{port}", collector)
