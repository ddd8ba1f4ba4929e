"""Dissemination events, emitted by notify: disseminations registered (source, channel, spend),
invitations sent and tracked links followed."""

from __future__ import annotations

from typing import Literal

from kolot.common.events._base import Event, Payload


class Spend(Payload):
    amount: float
    """In the currency's major unit (e.g. shekels, not agorot)."""
    currency: str = "ILS"


class DisseminationRegisteredData(Payload):
    dissemination_id: str
    source: str
    """The attribution source that visits and participants carry (e.g. ``facebook``)."""
    channel: str
    """How it reaches people: ``email``, ``sms``, ``paid_social``, ``press``, ``meeting``..."""
    spend: Spend | None = None
    recipients: int = 0


class DisseminationRegistered(Event):
    """Notify, when an admin registers a dissemination of a consultation (or changes its spend)."""

    type: Literal["kolot.dissemination.registered"] = "kolot.dissemination.registered"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: DisseminationRegisteredData


class InvitationSentData(Payload):
    invitation_id: str
    dissemination_id: str
    source: str
    channel: str
    recipient_ref: str
    """A keyed hash of the recipient, never the address itself."""


class InvitationSent(Event):
    """Notify, when one invitation of a dissemination has been handed to its provider."""

    type: Literal["kolot.invitation.sent"] = "kolot.invitation.sent"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: InvitationSentData


class LinkClickedData(Payload):
    link_id: str
    invitation_id: str | None = None
    dissemination_id: str | None = None
    source: str | None = None


class LinkClicked(Event):
    """Notify, when someone follows a tracked link of an invitation."""

    type: Literal["kolot.link.clicked"] = "kolot.link.clicked"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: LinkClickedData
