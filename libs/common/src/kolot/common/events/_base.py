"""The CloudEvents 1.0 envelope that every Kolot event travels in, on the bus and in webhooks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from uuid6 import uuid7

_DERIVED_IDS = uuid.UUID("6b6f6c6f-7400-5000-8000-000000000001")

NO_CAMPAIGN = "_"
"""The campaign token of events that belong to no campaign (in subjects and ``subject``)."""


def new_id() -> str:
    """A UUIDv7: time-ordered, so ids sort by creation and index well."""
    return str(uuid7())


def derived_id(*parts: str) -> str:
    """A deterministic id (UUIDv5) for an event that is a consequence of other facts.

    A consumer that emits events must give them ids derived from what caused them (e.g. the
    comment id and the decision), so a redelivered input re-emits the same ids, which the stream's
    duplicate window and every consumer's applied-ids set then drop.
    """
    # JSON keeps the parts apart: ("a/b",) and ("a", "b") must not share an id
    return str(uuid.uuid5(_DERIVED_IDS, json.dumps(parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every event's ``data``: frozen, and tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(BaseModel):
    """A CloudEvents 1.0 structured-mode document.

    Subclasses fix ``type`` and ``dataschemaversion`` with literals and give ``data`` a payload
    class; the discriminated union ``AnyEvent`` picks the class from ``type``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    # entity/event of the class, e.g. ("comment", "submitted"); set by each subclass
    entity: ClassVar[str]
    action: ClassVar[str]
    public: ClassVar[bool] = False
    """True where the event may also go to KOLOT_PUBLIC (no PII, no unmoderated text)."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    source: str = Field(pattern=r"^kolot/[a-z]+$")
    type: str
    subject: str = Field(default=NO_CAMPAIGN, min_length=1, max_length=64)
    time: AwareDatetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschemaversion: int = 1
    data: Any

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # a concrete event class declares ``type: Literal["kolot.<entity>.<action>"] = ...``;
        # its entity and action are read from there so the two can never disagree
        declared = cls.model_fields["type"].default
        if isinstance(declared, str) and declared.count(".") == 2:
            _, cls.entity, cls.action = declared.split(".")

    @property
    def campaign_id(self) -> str:
        return self.subject

    @classmethod
    def event_type(cls) -> str:
        return f"kolot.{cls.entity}.{cls.action}"

    def subject_for(self, namespace: str, stream: Literal["events", "public"]) -> str:
        """``<ns>.events.<entity>.<event>.<campaign_id>`` (or ``.public.``)."""
        return f"{namespace}.{stream}.{self.entity}.{self.action}.{self.subject}"

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
