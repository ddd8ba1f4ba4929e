"""Notify's settings: the shared service settings plus webhook delivery tuning."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from kolot.common.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    http_port: int = Field(default=8003, ge=1, le=65535)

    # Hosts a webhook may target even though they resolve to a private, loopback or link-local
    # address: development and tests only (``KOLOT_WEBHOOK_ALLOWED_HOSTS=127.0.0.1,localhost``).
    # NoDecode: the variable is a comma-separated list, not JSON.
    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()

    webhook_timeout: float = Field(default=10.0, gt=0)
    """Seconds one delivery attempt may take, connection to response headers."""
    webhook_max_attempts: int = Field(default=12, ge=1, le=50)
    """With the default backoff, retries spread over up to five hours (2.5 on average)."""
    webhook_backoff_base: float = Field(default=30.0, gt=0)
    """Seconds: the retry after attempt ``n`` waits a random time in [0, base * 2^(n-1)]."""
    webhook_backoff_cap: float = Field(default=3600.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1, le=1000)
    """Deliveries in flight at once in one process, so one slow endpoint never blocks the rest."""
    webhook_poll_interval: float = Field(default=1.0, gt=0)
    """Seconds between looks for due deliveries when nothing wakes the worker sooner."""
    webhook_lease: float = Field(default=60.0, gt=0)
    """Seconds a claimed delivery belongs to one process; a crashed process's claims then expire."""
    subscriptions_refresh_interval: float = Field(default=5.0, gt=0)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=100)
    """Attempts in flight at once to one subscription: a slow endpoint cannot take every slot."""
    webhook_disable_after: int = Field(default=20, ge=1)
    """Consecutive failed attempts after which a subscription is disabled (with a notice)."""
    webhook_rotation_overlap: float = Field(default=24 * 3600.0, ge=0)
    """Seconds the previous secret keeps signing (beside the new one) after a rotation."""

    contact_keys: SecretStr
    """Fernet keys, newest first (``KOLOT_CONTACT_KEYS``): they open the contact details intake
    sealed, and they also seal the webhook subscriptions' signing secrets at rest (new ones with
    the first key). Remove a key only once nothing it sealed is still needed: a secret that no
    key opens fails its deliveries until the key is back or the secret is rotated."""

    # Participant notifications and invitations.
    public_url: str = Field(default="http://localhost:8080", pattern=r"^https?://[^\s]+$")
    """Where people take part (the consultation pages); tracked links redirect there."""
    notify_url: str = Field(default="http://127.0.0.1:8003", pattern=r"^https?://[^\s]+$")
    """How notify itself is reached from outside: tracked links and unsubscribe links."""
    smtp_host: str | None = None
    """Without it, e-mails are written to the log (development) instead of being sent."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout: float = Field(default=30.0, gt=0)
    mail_from: str = "Kolot <no-reply@kolot.localhost>"
    sms_provider: str = Field(default="log", pattern=r"^log$")
    """Only the logging provider so far; a real one plugs into ``channels.SmsProvider``."""
    email_rate: float = Field(default=20.0, gt=0)
    """Messages per second handed to the SMTP relay (the provider's limit), per replica."""
    sms_rate: float = Field(default=5.0, gt=0)
    messages_max_attempts: int = Field(default=5, ge=1, le=50)
    messages_poll_interval: float = Field(default=1.0, gt=0)
    digest_hour: int = Field(default=17, ge=0, le=23)
    """Hour (UTC) at which daily digests go out."""

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            # the same normal form as ``urlsplit(url).hostname``: lower case, no IPv6 brackets
            return tuple(
                host.strip().lower().removeprefix("[").removesuffix("]")
                for host in value
                if isinstance(host, str) and host.strip()
            )
        return value

    @model_validator(mode="after")
    def _lease_outlives_attempt(self) -> Self:
        if self.webhook_lease <= self.webhook_timeout:
            raise ValueError(
                "KOLOT_WEBHOOK_LEASE must be longer than KOLOT_WEBHOOK_TIMEOUT, or a slow attempt "
                "could be claimed and sent again by another replica while it is still running"
            )
        return self
