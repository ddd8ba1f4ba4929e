"""Reading events: the class for each type, upcasting old versions, decoding bus payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeAlias

from pydantic import Field, TypeAdapter, ValidationError

from kolot.common.events import visit
from kolot.common.events._base import Event
from kolot.common.events.alert import ModerationAlert
from kolot.common.events.appeal import AppealDecided, AppealFiled
from kolot.common.events.campaign import (
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignPurged,
    CampaignUpdated,
)
from kolot.common.events.comment import (
    CommentFlagged,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
)
from kolot.common.events.contribution import ResponseSubmitted, VoteCast
from kolot.common.events.delivery import (
    NotificationFailed,
    NotificationSent,
    WebhookDelivered,
    WebhookFailed,
)
from kolot.common.events.dissemination import (
    DisseminationRegistered,
    InvitationSent,
    LinkClicked,
)
from kolot.common.events.outcome import OutcomePublished
from kolot.common.events.participant import (
    ParticipantErased,
    ParticipantRegistered,
    ParticipantVerified,
)

AnyEvent: TypeAlias = Annotated[
    CampaignCreated
    | CampaignUpdated
    | CampaignOpened
    | CampaignClosed
    | CampaignArchived
    | CampaignPurged
    | ParticipantRegistered
    | ParticipantVerified
    | ParticipantErased
    | DisseminationRegistered
    | InvitationSent
    | LinkClicked
    | visit.VisitRecorded
    | CommentSubmitted
    | CommentModerated
    | CommentPublished
    | CommentHidden
    | CommentFlagged
    | AppealFiled
    | AppealDecided
    | ResponseSubmitted
    | VoteCast
    | ModerationAlert
    | OutcomePublished
    | NotificationSent
    | NotificationFailed
    | WebhookDelivered
    | WebhookFailed,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)

EVENT_CLASSES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        CampaignCreated, CampaignUpdated, CampaignOpened, CampaignClosed, CampaignArchived,
        CampaignPurged,
        ParticipantRegistered, ParticipantVerified, ParticipantErased,
        DisseminationRegistered, InvitationSent, LinkClicked, visit.VisitRecorded,
        CommentSubmitted, CommentModerated, CommentPublished, CommentHidden, CommentFlagged,
        AppealFiled, AppealDecided, ResponseSubmitted, VoteCast,
        ModerationAlert, OutcomePublished,
        NotificationSent, NotificationFailed, WebhookDelivered, WebhookFailed,
    )
}  # fmt: skip

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {
    # (type, version it reads) -> a function returning the data of the next version
    ("kolot.visit.recorded", 1): visit.upcast_v1_v2,
}


class UndecodableEvent(ValueError):
    """The payload is not a Kolot event this code can read (bad JSON or schema, future version)."""


class UnknownEventType(UndecodableEvent):
    """A well-formed CloudEvent of a type this code does not know (e.g. from a newer producer)."""


def current_version(event_type: str) -> int:
    version = EVENT_CLASSES[event_type].model_fields["dataschemaversion"].default
    assert isinstance(version, int)
    return version


def upcast(document: dict[str, Any]) -> dict[str, Any]:
    """Bring an event document of an older ``dataschemaversion`` to the current shape."""
    event_type = document.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_CLASSES:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    version = document.get("dataschemaversion", 1)
    latest = current_version(event_type)
    if not isinstance(version, int) or version > latest:
        raise UndecodableEvent(
            f"{event_type} version {version!r} is newer than this code reads ({latest}); upgrade"
        )
    if version == latest:
        return document
    data = document.get("data")
    if not isinstance(data, dict):
        raise UndecodableEvent(f"{event_type}: data must be an object")
    while version < latest:
        data = UPCASTERS[(event_type, version)](data)
        version += 1
    return {**document, "data": data, "dataschemaversion": version}


def parse_event(raw: bytes | str | dict[str, Any]) -> Event:
    """Decode a CloudEvents JSON document into its event class, upcast to the latest version."""
    try:
        document = json.loads(raw) if isinstance(raw, bytes | str) else raw
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UndecodableEvent("an event must be a JSON object")
    document = upcast(document)
    try:
        return _ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise UndecodableEvent(f"invalid {document.get('type')}: {exc}") from exc
