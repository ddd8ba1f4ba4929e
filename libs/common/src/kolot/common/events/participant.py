"""Participant events, emitted by intake. Only the pseudonymous participant id travels: contact
details stay encrypted in intake's store and never reach the bus."""

from __future__ import annotations

from typing import Literal

from kolot.common.events._base import Event, Payload

ParticipantKind = Literal["person", "ngo", "ministry", "expert_body", "business", "other"]


class ParticipantRegisteredData(Payload):
    participant_id: str
    kind: ParticipantKind = "person"
    source: str | None = None
    """First-touch attribution (e.g. ``facebook``, ``sms``, an invitation's source)."""
    channel: str = "web"
    invitation_id: str | None = None
    has_contact: bool = False
    consent_notifications: bool = False


class ParticipantRegistered(Event):
    """Intake, when a participant token is issued."""

    type: Literal["kolot.participant.registered"] = "kolot.participant.registered"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: ParticipantRegisteredData


class ParticipantVerifiedData(Payload):
    participant_id: str
    circle: str
    method: str


class ParticipantVerified(Event):
    """Intake, when a circle verifies a participant (e.g. an invitation was redeemed)."""

    type: Literal["kolot.participant.verified"] = "kolot.participant.verified"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: ParticipantVerifiedData


class ParticipantErasedData(Payload):
    participant_id: str


class ParticipantErased(Event):
    """Intake, when a participant asks to be erased: every service removes or anonymises them."""

    type: Literal["kolot.participant.erased"] = "kolot.participant.erased"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: ParticipantErasedData
