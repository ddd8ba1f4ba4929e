"""Replicas of a service: each its own process and port, all on one durable consumer."""

import asyncio
import hashlib
import json
import secrets
import signal
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS
from prometheus_client.parser import text_string_to_metric_families

from kolot.common.bus import Streams
from kolot.common.events import (
    CampaignCreated,
    CampaignSnapshot,
    CommentSubmitted,
    CommentSubmittedData,
    LocalizedText,
    new_id,
)
from kolot.devstack import SERVICE_NAMES, ServiceGroup, free_port
from tests.integration.devstack.test_devstack_kolot_dev import (
    free_ports,
    is_listening,
    kolot_dev_up,
    read_until,
)
from tests.integration.devstack.test_devstack_services import env_of

pytestmark = pytest.mark.integration


def test_replicas_are_processes_of_their_own_and_stop_with_the_group(
    fake_service: list[str], tmp_path: Path
) -> None:
    services = ServiceGroup(
        nats_url="nats://127.0.0.1:1",
        mongo_url="mongodb://127.0.0.1:1/",
        services=["intake", "moderation"],
        ports={"intake": free_port(), "moderation": free_port()},
        replicas={"moderation": 3},
        commands=dict.fromkeys(["intake", "moderation"], fake_service),
        log_dir=tmp_path / "logs",
    ).start()
    try:
        replicas = services.replicas("moderation")
        assert [r.name for r in replicas] == ["moderation", "moderation-2", "moderation-3"]
        assert len({r.pid for r in replicas}) == 3
        for replica in replicas:
            assert env_of(replica.url)["KOLOT_HTTP_PORT"] == str(replica.port)
        services.restart("moderation-2")
        assert replicas[1].running
    finally:
        services.stop()

    assert services.exited() == {
        "intake": 0,
        "moderation": 0,
        "moderation-2": 0,
        "moderation-3": 0,
    }
    assert (tmp_path / "logs" / "moderation-3.log").exists()


def consumed(url: str) -> float:
    """Comments this moderation process took from the bus, whatever their outcome."""
    text = httpx.get(f"{url}/metrics", trust_env=False).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "kolot_consumer_events"
        for sample in family.samples
        if sample.name == "kolot_consumer_events_total"
        and sample.labels.get("consumer") == "moderation-comments"
    )


async def test_two_moderation_replicas_split_the_comments_and_decide_each_once(
    nats_url: str, mongo_url: str, tmp_path: Path
) -> None:
    namespace = f"r{secrets.token_hex(5)}"
    services = ServiceGroup(
        nats_url=nats_url,
        mongo_url=mongo_url,
        namespace=namespace,
        services=["moderation"],
        ports={"moderation": free_port()},
        replicas={"moderation": 2},
        # small batches, so that both replicas get some of a few hundred comments
        extra_env={"KOLOT_CONSUMER_BATCH_SIZE": "10", "KOLOT_CONSUMER_BATCH_TIMEOUT": "0.2"},
        log_dir=tmp_path / "logs",
    )
    campaign = "c-replicas"
    comments = [
        CommentSubmitted(
            subject=campaign,
            data=CommentSubmittedData(
                comment_id=new_id(),
                participant_id=new_id(),
                text=(text := f"Please add an evening bus to the north quarter, stop {n}"),
                text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            ),
        )
        for n in range(300)
    ]
    streams = Streams(namespace=namespace)
    await asyncio.to_thread(services.start)
    try:
        nc = NATS()
        await nc.connect(nats_url)
        try:
            js = nc.jetstream()
            opened = CampaignCreated(
                subject=campaign,
                data=CampaignSnapshot(
                    campaign_id=campaign, status="open", title=LocalizedText(en="Buses")
                ),
            )
            for event in (opened, *comments):
                await js.publish(
                    event.subject_for(namespace, "events"),
                    event.to_json(),
                    headers={"Nats-Msg-Id": event.id},
                )
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                info = await js.consumer_info(streams.name("events"), "moderation-comments")
                if info.num_pending == 0 and info.num_ack_pending == 0:
                    break
                assert asyncio.get_running_loop().time() < deadline, info
                await asyncio.sleep(0.2)
            decided: list[str] = []
            reader = await js.pull_subscribe(
                streams.events_subject("comment", "moderated"), stream=streams.name("events")
            )
            while True:
                try:
                    batch = await reader.fetch(500, timeout=1.0)
                except TimeoutError:
                    break
                for msg in batch:
                    decided.append(json.loads(msg.data)["data"]["comment_id"])
                    await msg.ack()
        finally:
            await nc.close()

        taken = [await asyncio.to_thread(consumed, r.url) for r in services.replicas("moderation")]
    finally:
        await asyncio.to_thread(services.stop)

    assert sorted(decided) == sorted(c.data.comment_id for c in comments)
    assert sum(taken) == len(comments), taken
    assert all(count > 0 for count in taken), f"one replica did all the work: {taken}"


def test_kolot_dev_up_runs_the_replicas_it_is_asked_for_on_fixed_ports(
    tmp_path: Path, fake_service: list[str]
) -> None:
    base = free_ports(len(SERVICE_NAMES) + 2)
    with kolot_dev_up(
        tmp_path, fake_service, "--data-dir", "data", "--base-port", str(base),
        "--replicas", "moderation=3",
    ) as up:  # fmt: skip
        banner = read_until(up, "Ctrl-C stops everything.")
        assert f"moderation  http://127.0.0.1:{base + 1}" in banner
        assert f"moderation-2http://127.0.0.1:{base + 4}" in banner
        assert f"moderation-3http://127.0.0.1:{base + 5}" in banner
        assert env_of(f"http://127.0.0.1:{base + 5}")["KOLOT_HTTP_PORT"] == str(base + 5)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0

    for port in range(base, base + len(SERVICE_NAMES) + 2):
        assert not is_listening(port)
    assert (tmp_path / "data" / "logs" / "moderation-3.log").read_text().startswith("fake service")
