"""The two servers the devstack starts: JetStream acks, restarts without loss, MongoDB-wire CRUD."""

import os
import stat
from pathlib import Path
from typing import Any

import nats
import pymongo
import pytest
from nats.js.api import StorageType
from pymongo import AsyncMongoClient

from kolot.devstack import DevstackError, MongoServer, NatsServer

pytestmark = pytest.mark.integration


def mongo_client(url: str) -> pymongo.MongoClient[dict[str, Any]]:
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)


async def test_jetstream_publish_is_acknowledged(nats_url: str, namespace: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=f"{namespace.upper()}_EVENTS", subjects=[f"{namespace}.events.>"])

        ack = await js.publish(f"{namespace}.events.comment.submitted", b"hello", timeout=5)

        assert ack.stream == f"{namespace.upper()}_EVENTS"
        assert ack.seq == 1
    finally:
        await nc.close()


async def test_a_stream_message_survives_a_nats_restart_on_the_same_port(
    nats_server: NatsServer, namespace: str
) -> None:
    stream = f"{namespace.upper()}_EVENTS"
    url_before = nats_server.url
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            name=stream, subjects=[f"{namespace}.events.>"], storage=StorageType.FILE
        )
        ack = await js.publish(f"{namespace}.events.a", "שלום".encode(), timeout=5)
    finally:
        await nc.close()
    pid_before = nats_server.pid

    nats_server.stop()
    assert not nats_server.running
    nats_server.start()

    assert nats_server.pid != pid_before
    assert nats_server.url == url_before
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        stored = await js.get_msg(stream, ack.seq)
        assert stored.data is not None
        assert stored.data.decode() == "שלום"
        assert (await js.publish(f"{namespace}.events.b", b"after", timeout=5)).seq == ack.seq + 1
    finally:
        await nc.close()


async def test_mongo_insert_and_find(mongo_url: str, namespace: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    try:
        comments = client[f"{namespace}_intake"]["comments"]
        await comments.insert_many([{"_id": "c1", "text": "مرحبا"}, {"_id": "c2", "text": "hi"}])

        found = await comments.find({"_id": "c1"}).to_list(None)

        assert found == [{"_id": "c1", "text": "مرحبا"}]
    finally:
        await client.close()


def test_mongo_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    with MongoServer(data_dir=tmp_path / "mongo") as server:
        with mongo_client(server.url) as client:
            client.kolot_intake.campaigns.insert_one({"_id": "c1", "status": "open"})
        server.stop()
        server.start()
        with mongo_client(server.url) as client:
            assert client.kolot_intake.campaigns.find_one({"_id": "c1"}) == {
                "_id": "c1",
                "status": "open",
            }
    assert (tmp_path / "mongo" / "db").is_dir()
    assert not (tmp_path / "mongo" / "nx-27017.pid").exists()


def test_mongo_in_memory_serves_every_connection_the_same_data() -> None:
    with MongoServer(in_memory=True) as server:
        data_dir = server.data_dir
        with mongo_client(server.url) as writer, mongo_client(server.url) as reader:
            writer.db.coll.insert_one({"_id": 1})
            assert reader.db.coll.find_one({"_id": 1}) == {"_id": 1}
        assert server.db_dir is None
    assert not data_dir.exists(), "a temporary data directory is removed on close"


def test_a_server_that_dies_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "nats-server"
    fake.write_text("#!/bin/sh\necho 'nats: cannot open the store: disk on fire' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    server = NatsServer(binary=fake, data_dir=tmp_path / "nats")
    with pytest.raises(DevstackError) as error:
        server.start()

    message = str(error.value)
    assert "exited with code 3" in message
    assert "disk on fire" in message
    assert not server.running


def test_a_server_that_never_gets_ready_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    fake = tmp_path / "nats-server"
    fake.write_text("#!/bin/sh\necho 'still thinking'\nexec sleep 30\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    server = NatsServer(binary=fake, data_dir=tmp_path / "nats", ready_timeout=0.5)
    with pytest.raises(
        DevstackError, match=r"did not become ready on port \d+ within 0.5 s"
    ) as error:
        server.start()

    assert "still thinking" in str(error.value)
    assert not server.running


def test_a_stale_pid_file_does_not_block_a_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "mongo"
    data_dir.mkdir()
    # A pid that is certainly not an nx-27017: our own test process.
    (data_dir / "nx-27017.pid").write_text(str(os.getpid()))

    with MongoServer(data_dir=data_dir) as server:
        assert server.running


def test_two_servers_on_one_data_directory_are_refused(tmp_path: Path) -> None:
    with MongoServer(data_dir=tmp_path / "mongo") as first:
        second = MongoServer(data_dir=tmp_path / "mongo")
        with pytest.raises(DevstackError, match=f"pid {first.pid}"):
            second.start()
        assert first.running
