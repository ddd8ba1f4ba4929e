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


def test_replicas_of_a_service_share_its_command_and_settings_but_not_its_port(
    tmp_path: Path,
) -> None:
    services = ServiceGroup(
        nats_url="nats://n",
        mongo_url="mongodb://m/",
        namespace="bench",
        ports={"moderation-3": 9103},
        replicas={"moderation": 3, "metrics": 2},
        log_dir=tmp_path,
    )

    names = [service.name for service in services]
    assert names == [
        "intake",
        "moderation",
        "moderation-2",
        "moderation-3",
        "notify",
        "metrics",
        "metrics-2",
    ]
    moderation = services.replicas("moderation")
    assert [m.name for m in moderation] == ["moderation", "moderation-2", "moderation-3"]
    assert moderation[0].port == DEFAULT_PORTS["moderation"]
    assert moderation[2].port == 9103
    ports = [service.port for service in services]
    assert len(set(ports)) == len(ports), "every process listens on a port of its own"
    for replica in moderation:
        assert replica.command == moderation[0].command
        assert Path(replica.command[0]).name == "kolot-moderation"
        assert replica.env is not None
        assert replica.env["KOLOT_HTTP_PORT"] == str(replica.port)
        # the same namespace, so the same streams and the same durable consumers
        assert replica.env["KOLOT_NAMESPACE"] == "bench"
        assert replica.log_file == tmp_path / f"{replica.name}.log"
    assert services.urls["moderation-3"] == "http://127.0.0.1:9103"
    assert [s.name for s in services.replicas("intake")] == ["intake"]


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        ({"moderation": 0}, "at least one replica"),
        ({"search": 2}, "not in the group: search"),
    ],
)
def test_a_service_group_refuses_impossible_replica_counts(
    tmp_path: Path, replicas: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceGroup(
            nats_url="nats://n", mongo_url="mongodb://m/", replicas=replicas, log_dir=tmp_path
        )
