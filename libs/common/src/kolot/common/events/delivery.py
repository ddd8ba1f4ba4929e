"""Outbound delivery results, emitted by notify: participant notifications and ministry webhooks."""

from __future__ import annotations

from typing import Literal

from kolot.common.events._base import Event, Payload


class NotificationData(Payload):
    notification_id: str
    channel: Literal["email", "sms", "whatsapp"]
    template: str
    participant_id: str | None = None
    error: str | None = None


class NotificationSent(Event):
    """Notify, when a participant notification was accepted by its provider."""

    type: Literal["kolot.notification.sent"] = "kolot.notification.sent"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: NotificationData


class NotificationFailed(Event):
    """Notify, when a participant notification could not be delivered after its retries."""

    type: Literal["kolot.notification.failed"] = "kolot.notification.failed"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: NotificationData


class WebhookDeliveryData(Payload):
    subscription_id: str
    event_id: str
    event_type: str
    attempt: int
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    subscription_disabled: bool | None = None
    """True on the notice that this failure disabled the subscription (a run of failures)."""


class WebhookDelivered(Event):
    """Notify, when a ministry's webhook endpoint accepted an event (2xx)."""

    type: Literal["kolot.webhook.delivered"] = "kolot.webhook.delivered"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: WebhookDeliveryData


class WebhookFailed(Event):
    """Notify, when a webhook delivery was given up after its retries."""

    type: Literal["kolot.webhook.failed"] = "kolot.webhook.failed"
    source: str = "kolot/notify"
    dataschemaversion: Literal[1] = 1
    data: WebhookDeliveryData
