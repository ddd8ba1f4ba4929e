"""kill -9 of each consumer while it holds a batch, under a steady load of comments: the batch it
never acknowledged comes back to it after its restart, and nothing is lost or counted twice."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from tests.conftest import staff_headers
from tests.faults.conftest import FaultStack, Receiver, eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

# the durable consumer of each service that sees every comment
CONSUMERS = {
    "moderation": "moderation-comments",
    "metrics": "metrics-all",
    "notify": "notify-participants",
}


@pytest.mark.parametrize("service", list(CONSUMERS))
async def test_a_consumer_killed_mid_batch_loses_nothing_and_counts_nothing_twice(
    faults: FaultStack, receiver: Receiver, service: str
) -> None:
    campaign_id = await faults.open_campaign()
    subscribed = await faults.http.post(
        f"{faults.url('notify')}/v1/subscriptions",
        json={
            "url": receiver.url,
            "event_types": ["kolot.comment.published"],
            "campaign_id": campaign_id,
        },
        headers=staff_headers("integrator"),
    )
    assert subscribed.status_code == 201, subscribed.text
    authors = await faults.authors(40)
    process = faults.services[service]
    load = faults.load(campaign_id, authors, rate=20)
    try:
        await asyncio.sleep(1.5)
        held = await faults.wait_mid_batch(CONSUMERS[service])
        assert await asyncio.to_thread(process.kill) == -signal.SIGKILL
        await asyncio.sleep(2.0)  # comments keep coming while it is gone
        await asyncio.to_thread(lambda: process.start().wait_ready())
        await asyncio.sleep(2.0)
    finally:
        await load.stop()
    print(f"\nload: {load}")

    assert held.num_ack_pending > 0
    # intake never depended on the consumer: every comment was accepted at once
    assert load.statuses.keys() == {202}, load.statuses
    await faults.settle(campaign_id, load.accepted)
    # notify delivered every comment.published of the campaign to the ministry's webhook, killed
    # or not (a retry keeps its webhook-id, the event's id)
    subject = f"{faults.namespace}.public.comment.published.{campaign_id}"
    stored = await faults.stored(subject, stream="public")
    published = {json.loads(msg.data)["id"] for _, msg in stored}
    assert published

    async def delivered() -> set[str] | None:
        return set(receiver.deliveries) if set(receiver.deliveries) >= published else None

    await eventually(delivered, timeout=45, what=f"{len(published)} webhook deliveries")
    assert set(receiver.deliveries) == published
    comments = {event["data"]["comment_id"] for event in receiver.deliveries.values()}
    assert comments <= set(load.accepted)
    faults.assert_healthy()
