"""Notify's settings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kolot.common.settings import development_environment
from kolot.notify.settings import NotifySettings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in development_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:1")
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1:1")
    return monkeypatch


def test_defaults(env: pytest.MonkeyPatch) -> None:
    settings = NotifySettings()
    assert (settings.service_name, settings.http_port) == ("notify", 8003)
    assert settings.webhook_allowed_hosts == ()
    assert settings.webhook_max_attempts == 12


def test_allowed_hosts_are_a_comma_separated_list(env: pytest.MonkeyPatch) -> None:
    env.setenv("KOLOT_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1, LocalHost,,[::1]")
    assert NotifySettings().webhook_allowed_hosts == ("127.0.0.1", "localhost", "::1")


def test_a_lease_shorter_than_an_attempt_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("KOLOT_WEBHOOK_TIMEOUT", "30")
    env.setenv("KOLOT_WEBHOOK_LEASE", "10")
    with pytest.raises(ValidationError, match="LEASE"):
        NotifySettings()
