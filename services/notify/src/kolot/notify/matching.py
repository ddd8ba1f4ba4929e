"""Which subscriptions want which public events: event-type patterns and campaign filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from kolot.common.events import EVENT_CLASSES, Event
from kolot.notify.models import Delivery, Subscription

PUBLIC_EVENT_TYPES: frozenset[str] = frozenset(
    event_type for event_type, cls in EVENT_CLASSES.items() if cls.public
)
"""What a webhook may subscribe to: only events that may go to KOLOT_PUBLIC."""


def validate_event_type(pattern: str) -> str:
    """A known public event type (``kolot.comment.published``) or a prefix wildcard
    (``kolot.comment.*``, ``kolot.*``) that matches at least one; raises ValueError otherwise."""
    if pattern in PUBLIC_EVENT_TYPES:
        return pattern
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        if "*" not in prefix and any(t.startswith(prefix) for t in PUBLIC_EVENT_TYPES):
            return pattern
    known = ", ".join(sorted(PUBLIC_EVENT_TYPES))
    raise ValueError(
        f"{pattern!r} is neither a public event type nor a wildcard such as 'kolot.comment.*' "
        f"matching one; public event types: {known}"
    )


def type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def wants(subscription: Subscription, event: Event) -> bool:
    if subscription.campaign_id is not None and subscription.campaign_id != event.subject:
        return False
    return any(type_matches(pattern, event.type) for pattern in subscription.event_types)


def plan_deliveries(
    subscriptions: Sequence[Subscription],
    events: Iterable[Event],
    *,
    now: datetime,
    traceparent: str | None = None,
    replay_id: str | None = None,
) -> list[Delivery]:
    """One pending delivery per (subscription, event) that matches, due at once; a replay's
    deliveries have ids of their own, so an event already delivered is sent again."""
    suffix = "" if replay_id is None else f":replay:{replay_id}"
    return [
        Delivery(
            id=Delivery.key(subscription.id, event.id) + suffix,
            subscription_id=subscription.id,
            event_id=event.id,
            event_type=event.type,
            campaign_id=event.subject,
            event=event.to_json().decode(),
            created_at=now,
            next_attempt_at=now,
            traceparent=traceparent,
            replay_id=replay_id,
        )
        for event in events
        for subscription in subscriptions
        if wants(subscription, event)
    ]
