"""ServiceGroup with a stand-in service: readiness, environment, output, restart and stop."""

import io
import time
from pathlib import Path

import httpx
import pytest

from kolot.common.settings import DEV_JWT_SECRET
from kolot.devstack import DevstackError, ServiceGroup, free_port
from kolot.devstack._process import ensure_port_free

pytestmark = pytest.mark.integration


def group(
    fake_service: list[str],
    tmp_path: Path,
    *names: str,
    mode: str = "ok",
    **options: object,
) -> ServiceGroup:
    return ServiceGroup(
        nats_url="nats://127.0.0.1:1",
        mongo_url="mongodb://127.0.0.1:1/",
        services=names,
        ports={name: free_port() for name in names},
        commands=dict.fromkeys(names, fake_service),
        extra_env={"FAKE_MODE": mode},
        log_dir=tmp_path / "logs",
        **options,  # type: ignore[arg-type]
    )


def env_of(url: str) -> dict[str, str]:
    response = httpx.get(f"{url}/env", trust_env=False)
    response.raise_for_status()
    env: dict[str, str] = response.json()
    return env


def test_services_get_the_stack_environment_and_stop_cleanly(
    fake_service: list[str], tmp_path: Path
) -> None:
    services = group(fake_service, tmp_path, "intake", "metrics", namespace="t0123456789").start()
    try:
        urls = services.urls
        assert set(urls) == {"intake", "metrics"}
        for name in ("intake", "metrics"):
            env = env_of(urls[name])
            assert env["NATS_URL"] == "nats://127.0.0.1:1"
            assert env["MONGODB_URL"] == "mongodb://127.0.0.1:1/"
            assert env["KOLOT_HTTP_HOST"] == "127.0.0.1"
            assert env["KOLOT_HTTP_PORT"] == str(services[name].port)
            assert env["KOLOT_NAMESPACE"] == "t0123456789"
            assert env["KOLOT_ENV"] == "development"
            assert env["KOLOT_JWT_SECRET"] == DEV_JWT_SECRET
            assert env["KOLOT_WEBHOOK_ALLOWED_HOSTS"] == "127.0.0.1,localhost"
            assert env["FAKE_MODE"] == "ok"
    finally:
        services.stop()

    assert services.exited() == {"intake": 0, "metrics": 0}
    for service in services:
        assert not service.running
        ensure_port_free(service.port, what=service.name)
    log = (tmp_path / "logs" / "metrics.log").read_text()
    assert f"fake service listening on {services['metrics'].port}" in log


def test_one_service_restarts_on_its_port_while_the_others_keep_running(
    fake_service: list[str], tmp_path: Path
) -> None:
    with group(fake_service, tmp_path, "intake", "metrics") as services:
        intake_pid, metrics_pid = services["intake"].pid, services["metrics"].pid

        restarted = services.restart("metrics")

        assert restarted is services["metrics"]
        assert restarted.pid not in (None, metrics_pid)
        assert services["intake"].pid == intake_pid
        response = httpx.get(f"{restarted.url}/readyz", trust_env=False)
        assert response.status_code == 200


def test_a_service_that_crashes_is_reported_with_its_last_lines(
    fake_service: list[str], tmp_path: Path
) -> None:
    services = group(fake_service, tmp_path, "notify", mode="crash")

    with pytest.raises(DevstackError) as error:
        services.start()

    message = str(error.value)
    assert "notify exited with code 3 before it was ready" in message
    assert "fatal: MONGODB_URL is not a MongoDB server" in message
    assert not services["notify"].running


def test_every_service_that_fails_is_reported_not_only_the_first(
    fake_service: list[str], tmp_path: Path
) -> None:
    services = group(fake_service, tmp_path, "intake", "notify", "metrics", mode="crash")

    with pytest.raises(DevstackError) as error:
        services.start()

    message = str(error.value)
    for name in ("intake", "notify", "metrics"):
        assert f"{name} exited with code 3" in message
        assert f"logs/{name}.log" in message


def test_a_service_that_never_gets_ready_times_out_and_is_stopped(
    fake_service: list[str], tmp_path: Path
) -> None:
    services = group(fake_service, tmp_path, "moderation", mode="never-ready", ready_timeout=1.0)

    with pytest.raises(DevstackError) as error:
        services.start()

    assert "moderation did not answer 200 on" in str(error.value)
    assert "/readyz within 1 s" in str(error.value)
    assert "fake service listening on" in str(error.value)
    assert not services["moderation"].running


def test_a_service_that_ignores_sigterm_is_killed_after_the_grace(
    fake_service: list[str], tmp_path: Path
) -> None:
    services = group(fake_service, tmp_path, "intake", mode="stubborn", stop_timeout=0.5).start()

    started = time.monotonic()
    services.stop()

    assert time.monotonic() - started < 5
    assert services.exited() == {"intake": -9}


def test_output_is_echoed_with_the_service_name_as_prefix(
    fake_service: list[str], tmp_path: Path
) -> None:
    echo = io.StringIO()
    with group(fake_service, tmp_path, "intake", "moderation", echo=echo):
        pass

    lines = echo.getvalue().splitlines()
    assert "intake     | fake service starting in mode ok" in lines
    assert "moderation | fake service starting in mode ok" in lines
    assert "\x1b[" not in echo.getvalue(), "no colours when the output is not a terminal"
    # With echo and log_dir both given, the log file gets the same lines, unprefixed.
    assert (tmp_path / "logs" / "intake.log").read_text().startswith("fake service starting")


def test_a_port_already_in_use_is_refused_before_anything_starts(
    fake_service: list[str], tmp_path: Path
) -> None:
    with group(fake_service, tmp_path, "intake") as first:
        second = ServiceGroup(
            nats_url="nats://127.0.0.1:1",
            mongo_url="mongodb://127.0.0.1:1/",
            services=["intake"],
            ports={"intake": first["intake"].port},
            commands={"intake": fake_service},
            log_dir=tmp_path / "second",
        )
        with pytest.raises(DevstackError, match=r"port .* is in use"):
            second.start()
        assert second["intake"].pid is None
        assert first["intake"].running
