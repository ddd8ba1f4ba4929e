"""Stored document shapes: webhook subscriptions and their deliveries (an outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kolot.common.store import Document

DeliveryStatus = Literal["pending", "sending", "delivered", "failed", "cancelled"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = (
    "pending",
    "sending",
    "delivered",
    "failed",
    "cancelled",
)
SubscriptionState = Literal["active", "paused", "disabled"]
CLAIMABLE: tuple[DeliveryStatus, ...] = ("pending", "sending")
"""``sending`` is claimable again once its lease has expired (its process died mid-attempt)."""


class _Stored(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")

    @classmethod
    def from_document(cls, document: Document) -> Any:
        return cls.model_validate(document)

    def to_document(self) -> Document:
        return self.model_dump(by_alias=True)


class Subscription(_Stored):
    """A ministry's webhook: where to send which public events, and the secret that signs them."""

    url: str
    event_types: list[str]
    """Exact public event types, or prefix wildcards such as ``kolot.comment.*``."""
    campaign_id: str | None = None
    """Only events of this campaign (``event.subject``); None: every campaign."""
    description: str | None = None
    secret_sealed: str | None = None
    """The signing secret, sealed with ``KOLOT_CONTACT_KEYS`` (``webhooks.SecretSealer``): shown
    to the ministry once, in clear, and opened only in memory to sign. None only in a legacy
    document, which has ``legacy_secret`` instead."""
    owner: str
    """The staff subject that created it; integrators see and manage only their own."""
    created_at: datetime
    state: SubscriptionState = "active"
    """``paused`` by its integrator or ``disabled`` after a run of failures: its deliveries wait
    (still recorded) until it is resumed."""
    state_reason: str | None = None
    state_changed_at: str | None = None
    consecutive_failures: int = 0
    """Failed attempts since the last success; ``webhook_disable_after`` of them disable it."""
    previous_secret_sealed: str | None = None
    """After a rotation, the old secret (sealed) also signs until ``previous_secret_until``, so
    the receiver can switch to the new one without losing a delivery."""
    previous_secret_until: str | None = None

    # Documents written before secrets were sealed hold them in clear under these names: read as
    # they are, and sealed (these fields unset) the next time the subscription is written.
    legacy_secret: str | None = Field(default=None, alias="secret", repr=False)
    legacy_previous_secret: str | None = Field(default=None, alias="previous_secret", repr=False)

    LEGACY_FIELDS: ClassVar[tuple[str, ...]] = ("secret", "previous_secret")
    """The stored names of the clear fields, for ``$unset``."""
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"secret_sealed", "previous_secret_sealed", "legacy_secret", "legacy_previous_secret"}
    )

    @model_validator(mode="after")
    def _has_a_secret(self) -> Self:
        if self.secret_sealed is None and self.legacy_secret is None:
            raise ValueError("a subscription needs a signing secret")
        return self

    def to_document(self) -> Document:
        document = super().to_document()
        for name in self.LEGACY_FIELDS:
            if document.get(name) is None:
                # a new or sealed document has no clear field at all, not even a null one
                document.pop(name, None)
        return document


class Delivery(_Stored):
    """One event to deliver to one subscription: ``_id = f"{subscription_id}:{event_id}"``."""

    subscription_id: str
    event_id: str
    event_type: str
    campaign_id: str
    event: str
    """The CloudEvent JSON exactly as it is sent (and signed)."""
    status: DeliveryStatus = "pending"
    attempts: int = 0
    """Attempts started; counted when claimed, so a process that dies mid-attempt uses one up."""
    created_at: datetime
    next_attempt_at: datetime | None = None
    """When the delivery is next due; for ``sending``, when its lease expires. None when final."""
    lease_owner: str | None = None
    """The process that holds the delivery while ``sending`` (for operators)."""
    lease_expires_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    last_duration_ms: float | None = None
    completed_at: datetime | None = None
    pending_event: bool | None = None
    """True while the final outcome's WebhookDelivered/WebhookFailed event is not on the bus yet."""
    traceparent: str | None = None
    """The W3C trace context the event was consumed in, sent on with every attempt."""
    replay_id: str | None = None
    """Set on a delivery made by a replay (its ``_id`` then ends with ``:replay:<id>``)."""
    revision: int = 0
    """Bumped by every write: a write made from a read succeeds only if nothing changed since."""

    @staticmethod
    def key(subscription_id: str, event_id: str) -> str:
        return f"{subscription_id}:{event_id}"


# --- participant notifications and disseminations --------------------------------------------
# Times in these documents are updated, so they are stamp() text (docs/embedded-store.md).

Language = Literal["he", "ar", "en"]
LANGUAGES: tuple[Language, ...] = ("he", "ar", "en")
Frequency = Literal["immediate", "daily"]
MessageStatus = Literal["pending", "sending", "sent", "bounced", "failed", "skipped"]
MESSAGE_STATUSES: tuple[MessageStatus, ...] = (
    "pending",
    "sending",
    "sent",
    "bounced",
    "failed",
    "skipped",
)
Template = Literal["reply", "decision", "appeal", "outcome"]


class Contact(_Stored):
    """How to reach one participant (``_id``: the participant id), sealed as intake sealed it:
    opened only to send, never stored or logged in clear."""

    contact_sealed: str
    consent: bool
    language: Language = "he"
    """The language of their latest comment, as moderation detected it."""
    frequency: Frequency = "immediate"
    unsubscribed: bool = False
    token: str
    """Bearer of the unsubscribe and preferences links (random, one per participant)."""
    updated_at: str


class Notification(_Stored):
    """One thing to tell one participant; ``_id`` derived from the cause and the participant, so
    a redelivered or replayed event plans it once."""

    participant_id: str
    template: Template
    campaign_id: str
    params: dict[str, str]
    status: MessageStatus = "pending"
    due_at: str
    """When it is due (a digest: the next digest hour); while ``sending``, the lease's end."""
    digest: bool = False
    """Planned for a daily digest: sent together with the participant's other digest items."""
    attempts: int = 0
    channel: str | None = None
    error: str | None = None
    created_at: str
    sent_at: str | None = None
    pending_event: bool | None = None
    revision: int = 0


class Dissemination(_Stored):
    campaign_id: str
    source: str
    channel: str
    spend_amount: float | None = None
    spend_currency: str | None = None
    language: Language = "he"
    created_by: str
    created_at: str
    recipients: int = 0
    """Invitations queued so far (consenting, reachable, not unsubscribed)."""
    refused: int = 0
    """Rows of the uploaded lists that were refused (no consent, invalid, unsubscribed)."""
    revision: int = 0
    """Bumped by every change that is announced: the announcement's id derives from it."""
    announced: int = -1
    """The revision whose ``dissemination.registered`` reached the bus."""


class Invitation(_Stored):
    """One invitation of a dissemination to one recipient: ``_id`` derived from both, so
    uploading the same list twice invites nobody twice."""

    dissemination_id: str
    campaign_id: str
    source: str
    channel: str
    token: str
    """The personal tracked link's token (``GET /r/{token}``)."""
    contact_sealed: str
    recipient_ref: str
    circle_invitation_sealed: str | None = None
    """An intake circle invitation for this recipient (a bearer token: sealed like a contact),
    handed on by the tracked link so the recipient joins the closed circle."""
    language: Language = "he"
    status: MessageStatus = "pending"
    due_at: str
    attempts: int = 0
    error: str | None = None
    created_at: str
    sent_at: str | None = None
    pending_event: bool | None = None
    revision: int = 0
