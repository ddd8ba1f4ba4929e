"""HTTP request and response bodies of notify's webhook API."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from kolot.notify.matching import validate_event_type
from kolot.notify.models import (
    Delivery,
    DeliveryStatus,
    Dissemination,
    Frequency,
    Language,
    Subscription,
    SubscriptionState,
)


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
    state: SubscriptionState = Field(
        description="`paused` by its integrator or `disabled` after a run of failures: "
        "deliveries wait until it is resumed."
    )
    state_reason: str | None = None
    state_changed_at: str | None = None
    consecutive_failures: int = 0
    previous_secret_until: str | None = Field(
        default=None, description="After a rotation: until when the old secret also signs."
    )

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionPublic:
        return cls.model_validate(
            subscription.model_dump(exclude={"owner", *Subscription.SECRET_FIELDS})
        )


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(
        description="The Standard Webhooks signing secret (whsec_...). Shown once: keep it."
    )

    @classmethod
    def of_new(cls, subscription: Subscription, *, secret: str) -> SubscriptionCreated:
        """``secret``: the new secret in clear (the subscription holds it sealed)."""
        public = SubscriptionPublic.of(subscription).model_dump()
        return cls.model_validate({**public, "secret": secret})


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
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page; null at the end."
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret (whsec_...). Shown once: keep it.")
    previous_secret_until: str | None = Field(
        description="Until then both secrets sign (space-separated `webhook-signature` values)."
    )


class TestResult(BaseModel):
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: float


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_sequence: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="A KOLOT_PUBLIC stream sequence."
    )
    since: AwareDatetime | None = Field(default=None, description="Or: from this time.")
    until: AwareDatetime | None = Field(default=None, description="Up to this time (inclusive).")
    limit: int = Field(default=1000, ge=1, le=10_000, description="Events read in this page.")

    @model_validator(mode="after")
    def _one_start(self) -> ReplayRequest:
        if (self.from_sequence is None) == (self.since is None):
            raise ValueError("give exactly one of from_sequence and since")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError("until is before since")
        return self


class ReplayResult(BaseModel):
    replay_id: str
    scanned: int = Field(description="Events read from the stream in this page.")
    deliveries: int = Field(description="Of them, those this subscription wants: queued.")
    last_sequence: int | None
    more: bool = Field(description="True: continue with from_sequence = last_sequence + 1.")


# --- disseminations ---------------------------------------------------------------------------


class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0, le=1e12, allow_inf_nan=False)
    currency: str = Field(default="ILS", pattern=r"^[A-Z]{3}$")


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    consent: bool = Field(description="The recipient agreed to be invited; required to be true.")
    language: Language | None = None
    circle_invitation: str | None = Field(
        default=None,
        max_length=2048,
        description="An invitation token intake issued for a closed circle: the tracked link "
        "hands it on, so the recipient joins the circle.",
    )


class DisseminationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    source: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="The attribution source visits and participants will carry.",
        examples=["facebook", "newsletter-2026-11"],
    )
    channel: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="`email` and `sms` send invitations; others (press, paid_social...) "
        "register their source and spend only.",
        examples=["email", "sms", "paid_social", "press"],
    )
    spend: SpendIn | None = None
    language: Language = "he"
    recipients: list[RecipientIn] | None = Field(default=None, max_length=10_000)


class DisseminationChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spend: SpendIn = Field(description="The spend so far (replaces the previous figure).")


class DisseminationPublic(BaseModel):
    id: str
    campaign_id: str
    source: str
    channel: str
    spend: SpendIn | None
    language: Language
    recipients: int
    refused: int
    created_at: str
    progress: dict[str, int] | None = None
    errors: list[dict[str, object]] | None = None

    @classmethod
    def of(
        cls,
        dissemination: Dissemination,
        *,
        progress: dict[str, int] | None = None,
        errors: list[dict[str, object]] | None = None,
    ) -> DisseminationPublic:
        spend = (
            None
            if dissemination.spend_amount is None
            else SpendIn(
                amount=dissemination.spend_amount, currency=dissemination.spend_currency or "ILS"
            )
        )
        return cls(
            id=dissemination.id,
            campaign_id=dissemination.campaign_id,
            source=dissemination.source,
            channel=dissemination.channel,
            spend=spend,
            language=dissemination.language,
            recipients=dissemination.recipients,
            refused=dissemination.refused,
            created_at=dissemination.created_at,
            progress=progress,
            errors=errors,
        )


class DisseminationList(BaseModel):
    items: list[DisseminationPublic]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frequency: Frequency | None = Field(
        default=None, description="`immediate`, or `daily` for one digest a day."
    )
    unsubscribed: bool | None = None


class PreferencesPublic(BaseModel):
    frequency: Frequency
    unsubscribed: bool
    language: Language
