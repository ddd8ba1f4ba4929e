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
    """Seconds between two looks at one campaign's surge windows (each look costs a few count
    queries; the windows are minutes long)."""
