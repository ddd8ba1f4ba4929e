"""Poison and duplicates on the events subjects, under a steady load of comments.

A poison message (bytes that are no event, and a well-formed event that makes the handlers fail
every time) goes to KOLOT_DLQ, the undecodable one at once and the failing one after
``max_deliver`` tries, while every other comment flows. A duplicate (the same event published
twice, the same comment posted twice with one Idempotency-Key) is decided and counted once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from kolot.common.events import CommentSubmitted, CommentSubmittedData, new_id
from tests.faults.conftest import FaultStack, eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

MAX_DELIVER = 3  # KOLOT_CONSUMER_MAX_DELIVER in FAST_ENV


@pytest.fixture
async def js(faults: FaultStack) -> AsyncIterator[JetStreamContext]:
    nc = NATS()
    await nc.connect(faults.nats.url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def comment(campaign_id: str, participant_id: str, text: str, **fields: object) -> CommentSubmitted:
    comment_id = new_id()
    return CommentSubmitted(
        id=comment_id,
        subject=campaign_id,
        data=CommentSubmittedData(
            comment_id=comment_id,
            participant_id=participant_id,
            text=text,
            text_sha256="0" * 64,
        ),
        **fields,
    )


async def test_poison_messages_reach_the_dlq_while_everything_else_flows(
    faults: FaultStack, js: JetStreamContext
) -> None:
    campaign_id = await faults.open_campaign()
    authors = await faults.authors(60)
    # on a campaign of their own, so that the load's figures stay exact whatever the poison does
    poisoned = new_id()
    subject = f"{faults.namespace}.events.comment.submitted.{poisoned}"
    stream = faults.stream("events")
    load = faults.load(campaign_id, authors, rate=30)
    try:
        await asyncio.sleep(2.0)
        junk = await js.publish(
            subject, b'{"specversion": "1.0", "type": "kolot.comment.sub', stream=stream
        )
        # a well-formed event that no handler can apply: its time is out of every store's range
        # once it is brought to UTC
        never = comment(
            poisoned,
            authors[0].participant_id,
            "a comment from the end of time",
            time=datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
        )
        failing = await js.publish(
            subject, never.to_json(), stream=stream, headers={"Nats-Msg-Id": never.id}
        )
        await asyncio.sleep(6.0)
    finally:
        await load.stop()
    print(f"\nload: {load}")

    assert load.statuses.keys() == {202}, load.statuses
    await faults.settle(campaign_id, load.accepted)

    async def dead_lettered() -> dict[int, dict[str, int]] | None:
        found: dict[int, dict[str, int]] = {junk.seq: {}, failing.seq: {}}
        for _, msg in await faults.stored(f"{faults.namespace}.dlq.>", stream="dlq"):
            headers = msg.headers or {}
            seq = int(headers.get("Kolot-Original-Sequence", 0))
            if seq in found:
                found[seq][headers["Kolot-Consumer"]] = int(headers["Kolot-Deliveries"])
        wanted = {"moderation-comments", "metrics-all"}
        return found if all(wanted <= set(by.keys()) for by in found.values()) else None

    found = await eventually(dead_lettered, timeout=30, what="both poison messages dead-lettered")
    # bytes that are no event are given up at once; an event that fails, after max_deliver tries
    assert set(found[junk.seq].values()) == {1}, found
    assert min(found[failing.seq].values()) >= MAX_DELIVER, found
    # and nothing of the poison was decided or counted
    assert await faults.decided_ids(poisoned) == set()
    assert (await faults.stats(poisoned))["comments"]["submitted"] == 0
    faults.assert_healthy()


async def test_duplicates_are_decided_and_counted_once(
    faults: FaultStack, js: JetStreamContext
) -> None:
    campaign_id = await faults.open_campaign()
    authors = await faults.authors(60)
    intake = faults.url("intake")
    stream = faults.stream("events")
    load = faults.load(campaign_id, authors, rate=30)
    try:
        await asyncio.sleep(1.0)
        # the same comment posted twice with one Idempotency-Key: one after the other, then a
        # second comment's two posts racing each other
        author = authors[1]
        keyed = {**author.headers, "Idempotency-Key": "retry-after-a-timeout"}
        url = f"{intake}/v1/campaigns/{campaign_id}/comments"
        body = {"text": "I support the plan for the night buses, with stops near the clinics."}
        sequential = [await faults.http.post(url, json=body, headers=keyed) for _ in range(2)]
        raced_headers = {**authors[2].headers, "Idempotency-Key": "double-click"}
        click = {"text": "Two clicks, one comment."}
        raced = await asyncio.gather(
            *(faults.http.post(url, json=click, headers=raced_headers) for _ in range(2))
        )
        # the same event published twice with its id as Nats-Msg-Id (a producer's retry): the
        # stream keeps one
        event = comment(campaign_id, authors[3].participant_id, "Published twice by a retry.")
        first = await js.publish(
            event.subject_for(faults.namespace, "events"),
            event.to_json(),
            stream=stream,
            headers={"Nats-Msg-Id": event.id},
        )
        second = await js.publish(
            event.subject_for(faults.namespace, "events"),
            event.to_json(),
            stream=stream,
            headers={"Nats-Msg-Id": event.id},
        )
        # ... and once more under another message id (a retry after the duplicate window), which
        # the stream stores: the consumers must still apply it once
        again = await js.publish(
            event.subject_for(faults.namespace, "events"),
            event.to_json(),
            stream=stream,
            headers={"Nats-Msg-Id": f"{event.id}-late"},
        )
        await asyncio.sleep(3.0)
    finally:
        await load.stop()
    print(f"\nload: {load}")

    for pair in (sequential, raced):
        assert [r.status_code for r in pair] == [202, 202], [r.text for r in pair]
        ids = {r.json()["id"] for r in pair}
        assert len(ids) == 1, ids
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    assert not again.duplicate
    assert again.seq != first.seq

    assert load.statuses.keys() == {202}, load.statuses
    accepted = dict(load.accepted)
    accepted[sequential[0].json()["id"]] = author
    accepted[raced[0].json()["id"]] = authors[2]
    await faults.settle(campaign_id, accepted, also={event.id})
    # one decision per comment on the bus, the twice-delivered one included
    subject = f"{faults.namespace}.events.comment.moderated.{campaign_id}"
    stored = await faults.stored(subject)
    decisions = [json.loads(msg.data)["data"]["comment_id"] for _, msg in stored]
    assert len(decisions) == len(set(decisions)), "a comment was decided twice"
    assert event.id in decisions
    faults.assert_healthy()


def test_the_poison_event_is_well_formed() -> None:
    """It must fail in the handlers, not at decoding (that is the other poison)."""
    event = comment(
        "c", "p", "x", time=datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
    )
    parsed = CommentSubmitted.model_validate_json(event.to_json())
    assert parsed.time.year == 9999
    with pytest.raises(OverflowError):
        parsed.time.astimezone(UTC)
