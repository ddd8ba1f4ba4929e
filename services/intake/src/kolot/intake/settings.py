from __future__ import annotations

from pydantic import Field

from kolot.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = Field(default=8001, ge=1, le=65535)

    max_comment_chars: int = Field(default=10_000, ge=1)
    """Longer comments are refused with 422 (and belong in an attachment, a later feature)."""
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    campaign_refresh_seconds: float = Field(default=5.0, gt=0)
