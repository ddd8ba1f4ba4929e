"""Moderation's settings (environment variables with the ``KOLOT_`` prefix)."""

from __future__ import annotations

from pydantic import Field

from kolot.common.events import ModerationMode
from kolot.common.settings import ServiceSettings


class ModerationSettings(ServiceSettings):
    service_name: str = "moderation"
    http_port: int = Field(default=8002, ge=1, le=65535)

    unknown_campaign_mode: ModerationMode = "auto"
    """The policy for a comment whose campaign moderation has never heard of."""

    surge_check_seconds: float = Field(default=10.0, ge=0)
    """Seconds between two rounds of the surge loop, a background task beside the consumers: each
    round counts the windows of the campaigns with submissions or flags since the last round and
    of those with a raised alert (a few count pipelines each; the windows are minutes long)."""

    burst_per_address: int = Field(default=30, ge=1)
    """Comments from one client address within five minutes beyond which the next ones go to a
    person (a burst); raise it where many people share an address (kiosks at a meeting)."""
