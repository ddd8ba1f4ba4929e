"""Participant events, emitted by intake. Only the pseudonymous participant id travels: contact
details stay encrypted in intake's store and never reach the bus."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kolot.common.events._base import Event, Payload

ParticipantKind = Literal["person", "ngo", "ministry", "expert_body", "business", "other"]
AgeBand = Literal["under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"]


class Profile(Payload):
    """What a participant chose to declare about themselves, for representativeness only.

    Coarse groups, all optional; never combined with contact details on the bus.
    """

    region: str | None = None
    age_band: AgeBand | None = None
    sector: str | None = None


class ParticipantRegisteredData(Payload):
    participant_id: str
    kind: ParticipantKind = "person"
    source: str | None = None
    """First-touch attribution (e.g. ``facebook``, ``sms``, an invitation's source)."""
    channel: str = "web"
    invitation_id: str | None = None
    has_contact: bool = False
    consent_notifications: bool = False
    campaign_id: str | None = None
    """The consultation the participant arrived at, for per-campaign attribution."""
    medium: str | None = None
    tag: str | None = None
    contact_sealed: str | None = None
    """Contact details encrypted with the contact key (Fernet); never in clear on the bus."""
    consent_research: bool = False
    circles: list[str] = Field(default_factory=list)
    """Circles joined at registration (by redeeming an invitation)."""
    profile: Profile | None = None


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
    campaign_id: str | None = None
    invitation_id: str | None = None


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
