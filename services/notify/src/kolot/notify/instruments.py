"""Notify's own Prometheus series: what operators watch besides the bus consumers.

Labels are bounded: outcomes, channels and kinds are fixed sets; never a subscription, campaign
or address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class NotifyMetrics:
    registry: CollectorRegistry | None = None
    webhook_attempts: Counter = field(init=False)
    webhook_seconds: Histogram = field(init=False)
    webhooks_disabled: Counter = field(init=False)
    messages: Counter = field(init=False)
    link_clicks: Counter = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry if self.registry is not None else CollectorRegistry()
        self.webhook_attempts = Counter(
            "kolot_webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, retry, failed).",
            ["outcome"],
            registry=r,
        )
        self.webhook_seconds = Histogram(
            "kolot_webhook_attempt_seconds",
            "Time of one webhook attempt, connection to response headers.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.webhooks_disabled = Counter(
            "kolot_webhook_subscriptions_disabled",
            "Subscriptions disabled after a run of failures.",
            registry=r,
        )
        self.messages = Counter(
            "kolot_messages",
            "Participant notifications and invitations by kind, channel and outcome "
            "(sent, bounced, retry, failed, skipped).",
            ["kind", "channel", "outcome"],
            registry=r,
        )
        self.link_clicks = Counter(
            "kolot_link_clicks", "Tracked invitation links followed.", registry=r
        )
