"""Visit events, emitted by intake when someone opens a consultation.

Version 2 groups the attribution (source, medium, campaign tag, invitation) in one object; version 1
had a flat ``source`` string. ``upcast_v1_v2`` lets readers see every stored visit in the
latest shape.
"""

from __future__ import annotations

from typing import Any, Literal

from kolot.common.events._base import Event, Payload


class Attribution(Payload):
    source: str | None = None
    medium: str | None = None
    tag: str | None = None
    invitation_id: str | None = None


class VisitRecordedData(Payload):
    visit_id: str
    participant_id: str | None = None
    attribution: Attribution = Attribution()
    channel: str = "web"


class VisitRecorded(Event):
    """Intake, when someone opens a consultation (with its source attribution)."""

    type: Literal["kolot.visit.recorded"] = "kolot.visit.recorded"
    source: str = "kolot/intake"
    dataschemaversion: Literal[2] = 2
    data: VisitRecordedData


def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 ``{"visit_id", "source", "medium"?}`` -> v2 ``{"visit_id", "attribution": {...}}``."""
    data = dict(data)
    attribution = {key: data.pop(key) for key in ("source", "medium") if key in data}
    data["attribution"] = attribution
    return data
