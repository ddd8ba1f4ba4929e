from __future__ import annotations

from pydantic import Field, SecretStr

from kolot.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = Field(default=8001, ge=1, le=65535)

    max_comment_chars: int = Field(default=10_000, ge=1)
    """Longer comments are refused with 422 (and belong in an attachment, a later feature)."""
    meeting_upload_grace_days: int = Field(default=14, ge=0, le=365)
    """How long after the closing meeting records (each with its recorded_at) may be uploaded."""
    campaign_refresh_seconds: float = Field(default=5.0, gt=0)
    """How often each replica looks for consultations due to open or close on schedule."""

    retention_default_days: int | None = Field(default=None, ge=1, le=36_500)
    """Days a closed consultation is kept when it sets no ``retention_days`` of its own; None:
    such consultations are kept until an operator sets one (docs/privacy.md)."""
    retention_check_seconds: float = Field(default=60.0, gt=0)
    """How often each replica looks for consultations whose retention has run out."""
    retention_purge_log: bool = True
    """Also purge a purged consultation's personal events from the stream (docs/privacy.md): on
    by default, since a retention that leaves the raw texts and ids in the log is not one."""

    contact_keys: SecretStr
    """Fernet keys (comma-separated, newest first) sealing contact details; notify has them too."""
    channel_secret: SecretStr
    """The HMAC secret SMS/WhatsApp providers sign inbound webhooks with."""

    # Rate limits, per replica (docs/decisions.md): with N replicas a client gets up to N times.
    rate_participant_per_minute: float = Field(default=30, gt=0)
    rate_participant_burst: int = Field(default=10, ge=1)
    rate_address_per_minute: float = Field(default=1200, gt=0)
    """Generous: a mobile carrier's NAT puts thousands of citizens behind one address."""
    rate_address_burst: int = Field(default=300, ge=1)
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of the load balancers whose X-Forwarded-For names the client (e.g. 10.0.0.0/8)."""
