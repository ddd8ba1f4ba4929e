"""Every variable a service's settings class requires is set wherever the service is deployed,
and nothing set there is a misspelt setting. The required names come from the settings classes
themselves, so a setting added tomorrow fails here until compose and the manifests provide it.

Where to add a new variable:
- docker-compose.yml: the service's ``environment`` (secrets as ``${NAME:?...}`` from
  deploy/compose/kolot.env, with a line in deploy/compose/kolot.env.example);
- Kubernetes: a non-secret in the service's configMapGenerator (deploy/k8s/base/<name>/
  kustomization.yaml), a secret as a ``secretKeyRef`` on the ``kolot-<name>`` Secret in
  deploy/k8s/base/<name>/deployment.yaml (and a line in docs/operations.md, "Secrets").
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from kolot.common.settings import ServiceSettings
from tests.unit.deploy.conftest import OVERLAYS, Service, by_kind, secret_value

# read by libraries rather than by the settings classes
LIBRARY_ENV = re.compile(r"^OTEL_")
INTERPOLATION = re.compile(r"^\$\{(\w+):\?[^}]*\}$")


def settings_from(
    cls: type[ServiceSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """The settings the service would load from exactly ``env``."""
    for name in list(os.environ):
        if name.startswith(("KOLOT_", "OTEL_")) or name in ("NATS_URL", "MONGODB_URL"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cls()


def container_env(deployment: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, str]:
    """What the container's environment will hold: ConfigMap values as built, secrets faked."""
    configmaps = by_kind(docs, "ConfigMap")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "secrets are referenced key by key, never wholesale"
        name = source["configMapRef"]["name"]
        assert name in configmaps, f"{name} is not in the build"
        env.update(configmaps[name]["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "secretKeyRef" in variable.get("valueFrom", {}):
            env[variable["name"]] = secret_value()
        else:
            ref = variable["valueFrom"]["configMapKeyRef"]
            env[variable["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
    return env


def compose_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    env = {}
    for key, value in compose["services"][name]["environment"].items():
        match = INTERPOLATION.match(str(value))
        # a required interpolation is a secret compose refuses to start without
        env[key] = secret_value() if match else str(value)
    return env


def missing(service: Service, env: dict[str, str]) -> set[str]:
    return service.required_env - set(env)


def unknown(service: Service, env: dict[str, str]) -> set[str]:
    return {name for name in env if not LIBRARY_ENV.match(name)} - service.known_env


def test_settings_classes_require_what_the_platform_provides(services: list[Service]) -> None:
    # the bus and the store are never defaulted: this is what makes the checks below matter
    for service in services:
        assert {"NATS_URL", "MONGODB_URL"} <= service.required_env


def test_compose_sets_every_required_variable_and_no_unknown_one(
    compose: dict[str, Any], services: list[Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in services:
        env = compose_env(compose, service.name)
        assert not missing(service, env), (
            f"docker-compose.yml: {service.name} lacks {sorted(missing(service, env))}"
        )
        assert not unknown(service, env), (
            f"docker-compose.yml: {service.name} sets unknown {sorted(unknown(service, env))}"
        )
        settings = settings_from(service.settings_class, env, monkeypatch)
        assert settings.environment == "production"
        assert settings.http_port == service.port


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_set_every_required_variable_and_no_unknown_one(
    overlay: str,
    built: dict[str, list[dict[str, Any]]],
    services: list[Service],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = built[overlay]
    deployments = by_kind(docs, "Deployment")
    for service in services:
        deployment = deployments.get(f"kolot-{service.name}")
        assert deployment is not None, f"{overlay} has no Deployment kolot-{service.name}"
        env = container_env(deployment, docs)
        assert not missing(service, env), (
            f"{overlay}: kolot-{service.name} lacks {sorted(missing(service, env))}"
        )
        assert not unknown(service, env), (
            f"{overlay}: kolot-{service.name} sets unknown {sorted(unknown(service, env))}"
        )
        # the service would start: validators (production secrets, OIDC or a staff secret) pass
        settings = settings_from(service.settings_class, env, monkeypatch)
        assert settings.http_port == service.port
        assert settings.environment == ("production" if overlay == "prod" else "development")
        if overlay == "prod":
            assert settings.jwt_jwks_url, "production verifies staff tokens with OIDC"
            assert settings.jwt_secret is None, "no shared staff secret in production"


def test_the_settings_check_catches_a_missing_secret(
    built: dict[str, list[dict[str, Any]]], services: list[Service]
) -> None:
    docs = built["prod"]
    intake = next(s for s in services if s.name == "intake")
    env = container_env(by_kind(docs, "Deployment")["kolot-intake"], docs)
    del env["KOLOT_RECEIPT_SECRET"]
    assert missing(intake, env) == {"KOLOT_RECEIPT_SECRET"}
    env["KOLOT_RECIEPT_SECRET"] = "typo"
    assert unknown(intake, env) == {"KOLOT_RECIEPT_SECRET"}
