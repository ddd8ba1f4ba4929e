"""Surge alerts: raised against the campaign's own baseline, escalated, and cleared with
hysteresis, once per change."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from datetime import datetime, timedelta

import pytest

from kolot.common.events import (
    CommentSubmitted,
    CommentSubmittedData,
    ModerationAlert,
)
from kolot.moderation.service import ModerationService
from kolot.moderation.surge import Counts, assess
from tests.unit.moderation.test_moderation_service import T0, MemoryStore, Recorder


@pytest.mark.parametrize(
    ("counts", "raised", "severity"),
    [
        (Counts(window=3, before=0), None, None),  # a quiet campaign's first comments
        (Counts(window=8, before=0), None, "warning"),  # abuse from nowhere
        (Counts(window=20, before=0), None, "critical"),
        (Counts(window=20, before=36 * 10), None, None),  # busy campaign, twice as busy
        (Counts(window=35, before=36 * 10), None, "warning"),
        (Counts(window=60, before=36 * 10), None, "critical"),
        (Counts(window=5, before=0), "warning", "warning"),  # not subsided enough yet
        (Counts(window=3, before=0), "warning", None),  # subsided: cleared
    ],
)
def test_abuse_surges_are_judged_against_the_baseline(
    counts: Counts, raised: str | None, severity: str | None
) -> None:
    assert assess("abuse_surge", counts, raised=raised).severity == severity  # type: ignore[arg-type]


def threat(n: int, at: datetime) -> CommentSubmitted:
    text = f"I will kill you {n}"
    return CommentSubmitted(
        subject="c1",
        time=at,
        data=CommentSubmittedData(
            comment_id=f"t{n}",
            participant_id=f"p{n}",
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        ),
    )


async def test_an_abuse_surge_is_raised_once_and_cleared_when_it_subsides() -> None:
    store, bus = MemoryStore(), Recorder()
    now, ticks = [T0], [0.0]
    service = ModerationService(store, bus, clock=lambda: now[0], monotonic=lambda: ticks[0])

    await service.moderate([threat(i, T0) for i in range(10)])
    assert bus.of_type(ModerationAlert) == []  # the consumer's path does not look at surges
    await service.watch_active()  # the surge loop's next round
    alerts = bus.of_type(ModerationAlert)
    assert len(alerts) == 1
    (alert,) = alerts
    assert isinstance(alert, ModerationAlert)
    assert (alert.data.kind, alert.data.severity, alert.data.state) == (
        "abuse_surge",
        "warning",
        "raised",
    )
    assert (alert.data.observed, alert.data.campaign_id) == (10.0, "c1")

    await service.moderate([threat(10, T0)])  # still surging: nothing new
    await service.watch_active()
    assert len(bus.of_type(ModerationAlert)) == 1

    now[0] = T0 + timedelta(minutes=30)
    ticks[0] += 60  # a minute later by the process's clock: time to look again
    # the loop's next round looks at the quiet campaign because its alert is raised
    await service.watch_active()
    cleared = [a for a in bus.of_type(ModerationAlert) if a.data.state == "cleared"]
    assert len(cleared) == 1
    assert cleared[0].data.alert_id == alert.data.alert_id
    await service.watch(["c1"])
    assert len(bus.of_type(ModerationAlert)) == 2


async def test_the_surge_loop_raises_the_alert_in_the_background() -> None:
    store, bus = MemoryStore(), Recorder()
    service = ModerationService(store, bus, clock=lambda: T0, watch_every=0.0)
    loop = asyncio.create_task(service.keep_watch())
    try:
        await service.moderate([threat(i, T0) for i in range(10)])
        async with asyncio.timeout(5):
            while not bus.of_type(ModerationAlert):
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # more rounds: still one alert
        (alert,) = bus.of_type(ModerationAlert)
        assert isinstance(alert, ModerationAlert)
        assert (alert.data.kind, alert.data.state) == ("abuse_surge", "raised")
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
