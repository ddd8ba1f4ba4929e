"""Notify's settings: the shared service settings plus webhook delivery tuning."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator
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
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
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
