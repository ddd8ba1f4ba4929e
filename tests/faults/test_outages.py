"""The bus restarted and the store stopped for 30 s, each under a steady load of comments.

While NATS is away intake cannot commit a comment, so it answers 503 with Retry-After and a
problem body (never a 500, never a 202 for what was not stored); clients that retry with their
Idempotency-Key get in once it is back. While the store is away intake keeps accepting (its hot
path never reads the store) and the consumers wait the outage out instead of dead-lettering.
Afterwards every accepted comment is decided and counted exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import FaultStack, assert_problem_503

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_a_nats_restart_under_load_answers_503_and_loses_nothing(
    faults: FaultStack,
) -> None:
    campaign_id = await faults.open_campaign()
    authors = await faults.authors(80)
    load = faults.load(campaign_id, authors, rate=30)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(2.0)
        down = loop.time()
        await asyncio.to_thread(faults.nats.stop)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(faults.nats.start)  # same port, same store directory
        up = loop.time()
        await asyncio.sleep(4.0)
    finally:
        await load.stop()
    print(f"\nload: {load}")

    statuses = load.statuses
    assert set(statuses) <= {202, 503}, statuses
    assert statuses[503] > 0, f"the bus was away for {up - down:.1f} s, yet no 503: {statuses}"
    for answer in load.answers:
        if answer.status == 503:
            assert_problem_503(answer)
    # 503s only while the bus was away (and for the publishes it had not acknowledged by then)
    late = [a for a in load.answers if a.status == 503 and a.started > up + 5.0]
    assert not late, late[:3]
    assert load.abandoned == 0
    # A comment stored though its client was answered 503 can only be one that was on its way
    # when the server went down (stored, the ack lost with the connection); one sent while the
    # bus was away must never be stored once it is back.
    texts = await faults.submitted_texts(campaign_id)
    unconfirmed = {c: t for c, t in texts.items() if c not in load.accepted}
    for text in unconfirmed.values():
        answers = [a for a in load.answers if a.text == text]
        assert answers, text
        assert all(a.status == 503 and a.started < down for a in answers), answers
    await faults.settle(campaign_id, load.accepted, also=unconfirmed)
    faults.assert_healthy()


async def test_the_store_stopped_for_30_s_under_load_loses_nothing(faults: FaultStack) -> None:
    campaign_id = await faults.open_campaign()
    authors = await faults.authors(200)
    load = faults.load(campaign_id, authors, rate=20)
    try:
        await asyncio.sleep(2.0)
        await asyncio.to_thread(faults.mongo.stop)
        await asyncio.sleep(30.0)
        await asyncio.to_thread(faults.mongo.start)  # same port, same data directory
        await asyncio.sleep(2.0)
    finally:
        await load.stop()
    print(f"\nload: {load}")

    # intake's hot path needs the bus only: the store's outage is invisible to citizens
    assert load.statuses.keys() == {202}, load.statuses
    await faults.settle(campaign_id, load.accepted, timeout=150)
    # the consumers waited the outage out: nothing of this campaign was given up
    dead = await faults.stored(f"{faults.namespace}.dlq.>", stream="dlq")
    assert [msg for _, msg in dead if campaign_id.encode() in msg.data] == []
    faults.assert_healthy()
