"""Service settings: missing values stop startup by name; placeholders never reach production."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError

from kolot.common.bus import Streams, stream_configs
from kolot.common.settings import (
    DEV_JWT_SECRET,
    DEV_PARTICIPANT_SECRET,
    DEV_RECEIPT_SECRET,
    ServiceSettings,
    development_environment,
    load_settings,
)

REAL_SECRETS: dict[str, Any] = {
    "jwt_secret": "a-real-production-secret-from-the-vault-0001",
    "participant_secret": "a-real-production-secret-from-the-vault-0002",
    "receipt_secret": "a-real-production-secret-from-the-vault-0003",
}
URLS: dict[str, Any] = {"nats_url": "nats://nats:4222", "mongodb_url": "mongodb://mongo:27017"}


class ProbeSettings(ServiceSettings):
    service_name: str = "probe"
    http_port: int = 8009


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets itself: the developer's shell may hold KOLOT_* or NATS_URL."""
    for name in list(os.environ):
        if name.startswith("KOLOT_") or name in {
            "NATS_URL",
            "MONGODB_URL",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        }:
            monkeypatch.delenv(name)


def settings(**values: Any) -> ProbeSettings:
    return ProbeSettings(**{**URLS, **REAL_SECRETS, **values})


def test_the_environment_configures_a_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://bus:4222")
    monkeypatch.setenv("MONGODB_URL", "mongodb://store:27017")
    monkeypatch.setenv("KOLOT_ENV", "test")
    monkeypatch.setenv("KOLOT_NAMESPACE", "staging")
    monkeypatch.setenv("KOLOT_CONSUMER_BACKOFF", "[0.1, 1.5]")
    for name, value in development_environment().items():
        if name != "KOLOT_ENV":
            monkeypatch.setenv(name, value)

    loaded = ProbeSettings()

    assert loaded.nats_url == "nats://bus:4222"
    assert loaded.mongodb_url == "mongodb://store:27017"
    assert loaded.environment == "test"
    assert loaded.namespace == "staging"
    assert loaded.consumer_backoff == (0.1, 1.5)
    assert loaded.jwt_secret is not None
    assert loaded.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_missing_bus_and_store_urls_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in development_environment().items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as caught:
        ProbeSettings()

    message = str(caught.value)
    assert "NATS_URL" in message
    assert "MONGODB_URL" in message
    assert caught.value.error_count() == 2


def test_one_missing_url_is_named_alone() -> None:
    with pytest.raises(ValidationError) as caught:
        ProbeSettings(nats_url="nats://nats:4222", **REAL_SECRETS)

    assert "MONGODB_URL" in str(caught.value)
    assert "NATS_URL" not in str(caught.value)


@pytest.mark.parametrize("name", ["participant_secret", "receipt_secret"])
def test_a_missing_secret_is_named(name: str) -> None:
    values = {**URLS, **REAL_SECRETS}
    del values[name]

    with pytest.raises(ValidationError, match=name):
        ProbeSettings(**values)


def test_a_service_runs_as_production_unless_told_otherwise() -> None:
    assert settings().environment == "production"


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [
        ("jwt_secret", DEV_JWT_SECRET),
        ("participant_secret", DEV_PARTICIPANT_SECRET),
        ("receipt_secret", DEV_RECEIPT_SECRET),
    ],
)
def test_production_refuses_development_placeholders(name: str, placeholder: str) -> None:
    with pytest.raises(ValidationError, match=f"KOLOT_{name.upper()} is the development"):
        settings(environment="production", **{name: placeholder})


def test_development_placeholders_are_fine_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in development_environment().items():
        monkeypatch.setenv(name, value)

    loaded = ProbeSettings(**URLS)

    assert loaded.environment == "development"
    assert loaded.participant_secret.get_secret_value() == DEV_PARTICIPANT_SECRET


def test_secrets_do_not_show_in_reprs() -> None:
    loaded = settings()

    assert REAL_SECRETS["jwt_secret"] not in repr(loaded)
    assert REAL_SECRETS["participant_secret"] not in str(loaded.model_dump())


@pytest.mark.parametrize("environment", ["production", "test", "development"])
def test_staff_tokens_need_a_key(environment: str) -> None:
    with pytest.raises(ValidationError, match="KOLOT_JWT"):
        settings(environment=environment, jwt_secret=None)


def test_production_may_verify_staff_with_oidc() -> None:
    loaded = settings(jwt_secret=None, jwt_jwks_url="https://idp.example/jwks.json")

    assert loaded.jwt_secret is None


def test_database_names_are_namespaced() -> None:
    loaded = settings(namespace="t0a1b2c3d4e")

    assert loaded.database_name() == "t0a1b2c3d4e_probe"
    assert loaded.database_name("intake") == "t0a1b2c3d4e_intake"
    assert settings().database_name() == "kolot_probe"


@pytest.mark.parametrize("namespace", ["kolot", "t0a1b2c3d4e", "a", "k_2", "a" * 32])
def test_valid_namespaces(namespace: str) -> None:
    assert settings(namespace=namespace).namespace == namespace


@pytest.mark.parametrize(
    "namespace",
    ["", "Kolot", "1kolot", "_kolot", "ko-lot", "ko.lot", "ko lot", "ko>", "ko*", "a" * 33],
)
def test_namespaces_that_would_break_subjects_or_names_are_refused(namespace: str) -> None:
    with pytest.raises(ValidationError, match="namespace"):
        settings(namespace=namespace)


def test_settings_are_frozen() -> None:
    loaded = settings()

    with pytest.raises(ValidationError):
        loaded.namespace = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("http_port", 0),
        ("http_port", 70000),
        ("publish_timeout", 0),
        ("mongodb_timeout", 0),
        ("consumer_batch_size", 0),
        ("consumer_max_deliver", 0),
        ("environment", "staging"),
    ],
)
def test_nonsense_tuning_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        ServiceSettings(service_name="probe", **{**URLS, **REAL_SECRETS, field: value})


@pytest.mark.parametrize("port", [0, 70000])
def test_a_service_port_out_of_range_is_refused(port: int) -> None:
    with pytest.raises(ValidationError, match="http_port"):
        settings(http_port=port)


def test_a_missing_setting_stops_startup_naming_the_variable_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("KOLOT_") or name in {"NATS_URL", "MONGODB_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("KOLOT_RECEIPT_SECRET", REAL_SECRETS["receipt_secret"])
    with pytest.raises(SystemExit) as stopped:
        load_settings(ProbeSettings)
    message = str(stopped.value)
    assert "  NATS_URL: is required" in message
    assert "  MONGODB_URL: is required" in message
    assert "  KOLOT_PARTICIPANT_SECRET: is required" in message
    assert "KOLOT_NATS_URL" not in message
    assert "RECEIPT" not in message


def test_streams_are_replicated_as_configured() -> None:
    settings = ProbeSettings(**URLS, **REAL_SECRETS, stream_replicas=3)
    assert settings.stream_replicas == 3
    assert {c.num_replicas for c in stream_configs(Streams("kolot"), replicas=3)} == {3}
