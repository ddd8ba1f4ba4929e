"""HTTP request and response bodies of notify's webhook API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kolot.notify.matching import validate_event_type
from kolot.notify.models import Delivery, DeliveryStatus, Subscription


class SubscriptionCreate(BaseModel):
    # unknown fields are refused: a typo such as "campaign" must not silently widen the filter
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, examples=["https://ministry.example/kolot"])
    event_types: list[str] = Field(
        min_length=1, max_length=50, examples=[["kolot.comment.published", "kolot.campaign.*"]]
    )
    campaign_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Only events of this campaign; all campaigns when absent.",
    )
    description: str | None = Field(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _known_event_types(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(validate_event_type(pattern) for pattern in value))


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    event_types: list[str]
    campaign_id: str | None
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionPublic:
        return cls.model_validate(subscription.model_dump(exclude={"secret", "owner"}))


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(
        description="The Standard Webhooks signing secret (whsec_...). Shown once: keep it."
    )

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionCreated:
        return cls.model_validate(subscription.model_dump(exclude={"owner"}))


class SubscriptionList(BaseModel):
    items: list[SubscriptionPublic]


class DeliveryPublic(BaseModel):
    id: str
    event_id: str
    event_type: str
    campaign_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: float | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryPublic:
        return cls.model_validate(delivery.model_dump(exclude={"event"}))


class DeliveryLog(BaseModel):
    items: list[DeliveryPublic]
