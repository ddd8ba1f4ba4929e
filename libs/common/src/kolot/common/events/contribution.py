"""Survey responses and votes, emitted by intake."""

from __future__ import annotations

from typing import Any, Literal

from kolot.common.events._base import Event, Payload
from kolot.common.events.comment import Channel, Provenance


class ResponseSubmittedData(Payload):
    response_id: str
    participant_id: str
    answers: dict[str, Any]
    channel: Channel = "web"
    provenance: Provenance | None = None
    circle: str | None = None
    """``response_id`` is one per participant and campaign: a later response replaces it."""


class ResponseSubmitted(Event):
    """Intake, when a participant answers a consultation's survey."""

    type: Literal["kolot.response.submitted"] = "kolot.response.submitted"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: ResponseSubmittedData


class VoteCastData(Payload):
    vote_id: str
    """Deterministic per participant and target, so a second vote replaces the first."""
    participant_id: str
    target_id: str
    target_kind: Literal["comment", "idea"] = "comment"
    value: Literal[-1, 1]
    channel: Channel = "web"
    provenance: Provenance | None = None


class VoteCast(Event):
    """Intake, when a participant supports or opposes a comment or idea."""

    type: Literal["kolot.vote.cast"] = "kolot.vote.cast"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: VoteCastData
