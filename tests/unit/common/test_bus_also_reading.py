"""``also_reading``: a consumer that also reads erasures and purges, in its own order."""

from __future__ import annotations

import pytest

from kolot.common.bus import ConsumerSpec, also_reading, subject_covers
from kolot.common.events import (
    Event,
    ParticipantErased,
    ParticipantErasedData,
)


@pytest.mark.parametrize(
    ("subject_filter", "subject", "covered"),
    [
        ("k.events.participant.*.*", "k.events.participant.erased.*", True),
        ("k.events.participant.erased.*", "k.events.participant.erased.*", True),
        ("k.events.>", "k.events.campaign.purged.*", True),
        ("k.events.comment.*.*", "k.events.campaign.purged.*", False),
        ("k.events.participant.erased.*", "k.events.participant.*.*", False),
        ("k.events.a.b", "k.events.a.b.c", False),
        ("k.events.>", "k.events", False),
    ],
)
def test_subject_covers(subject_filter: str, subject: str, covered: bool) -> None:
    assert subject_covers(subject_filter, subject) is covered


async def test_the_extra_step_runs_after_the_handler_on_the_whole_batch() -> None:
    calls: list[tuple[str, int]] = []

    async def handler(events: list[Event]) -> None:
        calls.append(("handler", len(events)))

    async def then(events: list[Event]) -> None:
        calls.append(("then", len(events)))

    spec = ConsumerSpec(
        name="svc-participants",
        stream="events",
        subject=("k.events.participant.*.*", "k.events.response.*.*"),
        handler=handler,
        types={"kolot.participant.registered"},
    )
    extended = also_reading(
        spec,
        ["k.events.participant.erased.*", "k.events.campaign.purged.*"],
        {"kolot.participant.erased", "kolot.campaign.purged"},
        then,
    )
    # a filter the consumer already has is not added twice (NATS refuses overlapping filters)
    assert extended.subject == (
        "k.events.participant.*.*",
        "k.events.response.*.*",
        "k.events.campaign.purged.*",
    )
    assert extended.types == {
        "kolot.participant.registered",
        "kolot.participant.erased",
        "kolot.campaign.purged",
    }
    await extended.handler([ParticipantErased(data=ParticipantErasedData(participant_id="p"))])
    assert calls == [("handler", 1), ("then", 1)]


def test_a_consumer_of_every_type_stays_one() -> None:
    async def handler(events: list[Event]) -> None:
        return None

    spec = ConsumerSpec(name="all", stream="events", subject="k.events.>", handler=handler)
    extended = also_reading(spec, [], {"kolot.campaign.purged"}, handler)
    assert extended.subject == "k.events.>"
    assert extended.types is None
