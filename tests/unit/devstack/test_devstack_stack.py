from pathlib import Path

import pytest

from kolot.devstack import DEFAULT_PORTS, LocalStack, ServiceGroup


def test_a_stack_given_both_urls_starts_nothing_and_hands_them_on() -> None:
    stack = LocalStack(nats_url="nats://nats.example:4222", mongo_url="mongodb://mongo.example/")

    with stack:
        assert stack.nats is None
        assert stack.mongo is None
        assert stack.nats_url == "nats://nats.example:4222"
        assert stack.mongo_url == "mongodb://mongo.example/"
        assert stack.nats_monitor_url is None


def test_a_stack_keeps_each_servers_data_under_the_given_directory(tmp_path: Path) -> None:
    stack = LocalStack(mongo_url="mongodb://mongo.example/", data_dir=tmp_path)

    assert stack.nats is not None
    assert stack.nats.data_dir == tmp_path / "nats"
    assert stack.nats_url == f"nats://127.0.0.1:{stack.nats.port}"
    assert stack.nats_monitor_url == f"http://127.0.0.1:{stack.nats.monitor_port}"
    assert stack.mongo is None


def test_a_service_group_runs_the_console_scripts_on_the_default_ports(tmp_path: Path) -> None:
    services = ServiceGroup(nats_url="nats://n", mongo_url="mongodb://m/", log_dir=tmp_path)

    assert services.urls == {
        "intake": "http://127.0.0.1:8001",
        "moderation": "http://127.0.0.1:8002",
        "notify": "http://127.0.0.1:8003",
        "metrics": "http://127.0.0.1:8004",
    }
    assert DEFAULT_PORTS["intake"] == 8001
    for service in services:
        assert Path(service.command[0]).name == f"kolot-{service.name}"
        assert service.env is not None
        assert service.env["KOLOT_NAMESPACE"] == "kolot"
        assert service.log_file == tmp_path / f"{service.name}.log"


def test_a_service_group_needs_somewhere_to_put_the_output() -> None:
    with pytest.raises(ValueError, match="log_file, an echo stream, or both"):
        ServiceGroup(nats_url="nats://n", mongo_url="mongodb://m/")
