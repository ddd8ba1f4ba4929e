"""Settings every Kolot service shares, read from the environment (pydantic-settings).

Required settings have no default: a service started without ``NATS_URL`` or ``MONGODB_URL``
stops at once with a message naming the missing variable. Development placeholders for secrets
are refused outside ``KOLOT_ENV=development``.
"""

from __future__ import annotations

from typing import Literal, Self, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "kolot-development-jwt-secret-never-use-in-production"  # noqa: S105
DEV_PARTICIPANT_SECRET = "kolot-development-participant-secret-never-in-production"  # noqa: S105
DEV_RECEIPT_SECRET = "kolot-development-receipt-secret-never-in-production"  # noqa: S105
DEV_CHANNEL_SECRET = "kolot-development-channel-secret-never-in-production"  # noqa: S105
# a Fernet key (32 bytes, url-safe base64) that says what it is
DEV_CONTACT_KEYS = "a29sb3QtZGV2LWNvbnRhY3Qta2V5LW5vdC1wcm9kISE="
_PLACEHOLDERS = {
    DEV_JWT_SECRET,
    DEV_PARTICIPANT_SECRET,
    DEV_RECEIPT_SECRET,
    DEV_CHANNEL_SECRET,
    DEV_CONTACT_KEYS,
}

Environment = Literal["development", "test", "production"]
S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """The settings of one service process; each service subclasses it with its name and port."""

    model_config = SettingsConfigDict(env_prefix="KOLOT_", extra="ignore", frozen=True)

    service_name: str
    environment: Environment = Field(
        default="production", validation_alias=AliasChoices("KOLOT_ENV", "environment")
    )

    # Where the bus and the store are: no defaults, a service must be told.
    nats_url: str = Field(validation_alias=AliasChoices("NATS_URL", "nats_url"))
    mongodb_url: str = Field(validation_alias=AliasChoices("MONGODB_URL", "mongodb_url"))

    # Namespacing lets several Kolot installations (or tests) share one NATS server and one
    # MongoDB server: subjects are ``<namespace>.events...``, streams ``<NAMESPACE>_EVENTS``,
    # databases ``<namespace>_<service>``.
    mongodb_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for the store to answer before an operation fails (and is retried)."""

    namespace: str = Field(default="kolot", pattern=r"^[a-z][a-z0-9_]{0,31}$")

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    """Checked by a validator, not by Field bounds, which a redeclared default would drop."""
    log_level: str = "INFO"
    log_json: bool = True

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Request bodies over this many bytes are refused with 413 at the edge (``kolot.common.edge``);
    a service allows more on the routes that need it (``create_app(body_limits=...)``)."""

    # Staff authentication: HS256 with a shared secret in development, OIDC/JWKS in production.
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)

    participant_secret: SecretStr
    receipt_secret: SecretStr

    stream_replicas: int = Field(default=1, ge=1, le=5)
    """JetStream replicas of every stream: 3 in production (a cluster of three servers)."""

    # Bus tuning.
    publish_timeout: float = Field(default=2.0, gt=0)
    consumer_batch_size: int = Field(default=256, ge=1, le=10_000)
    consumer_batch_timeout: float = Field(default=1.0, gt=0)
    """How long one fetch waits for a batch to fill once messages flow (latency at low traffic)."""
    consumer_max_deliver: int = Field(default=5, ge=1)
    consumer_ack_wait: float = Field(default=30.0, gt=0)
    consumer_backoff: tuple[float, ...] = (0.5, 2.0, 8.0, 30.0)

    # OpenTelemetry: OTLP/HTTP export when the standard variable is set, otherwise spans stay local.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
    )

    @field_validator("http_port")
    @classmethod
    def _a_port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("a TCP port is between 1 and 65535")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.environment == "production":
            # every secret, the subclasses' too (intake's channel secret and contact keys)
            for name in type(self).model_fields:
                value = getattr(self, name)
                if not isinstance(value, SecretStr):
                    continue
                if any(part in _PLACEHOLDERS for part in value.get_secret_value().split(",")):
                    raise ValueError(
                        f"KOLOT_{name.upper()} is the development placeholder; set a real secret "
                        "or KOLOT_ENV=development"
                    )
                if len(value.get_secret_value().encode()) < 32:
                    # HS256 keys shorter than the hash are guessable (RFC 7518, section 3.2)
                    raise ValueError(f"KOLOT_{name.upper()} must be at least 32 bytes")
            if self.jwt_secret is None and self.jwt_jwks_url is None:
                raise ValueError(
                    "set KOLOT_JWT_JWKS_URL (OIDC) or KOLOT_JWT_SECRET for staff tokens"
                )
        elif self.jwt_secret is None and self.jwt_jwks_url is None:
            raise ValueError("set KOLOT_JWT_SECRET (or KOLOT_JWT_JWKS_URL) for staff tokens")
        return self

    def database_name(self, service: str | None = None) -> str:
        return f"{self.namespace}_{service or self.service_name}"


def development_environment() -> dict[str, str]:
    """The environment variables that run a service with development secrets (devstack, tests)."""
    return {
        "KOLOT_ENV": "development",
        "KOLOT_JWT_SECRET": DEV_JWT_SECRET,
        "KOLOT_PARTICIPANT_SECRET": DEV_PARTICIPANT_SECRET,
        "KOLOT_RECEIPT_SECRET": DEV_RECEIPT_SECRET,
        "KOLOT_CHANNEL_SECRET": DEV_CHANNEL_SECRET,
        "KOLOT_CONTACT_KEYS": DEV_CONTACT_KEYS,
    }


_ENV_NAMES = {
    "nats_url": "NATS_URL",
    "mongodb_url": "MONGODB_URL",
    "environment": "KOLOT_ENV",
    "otel_exporter_otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
}


def load_settings(cls: type[S]) -> S:
    """The service's settings from the environment, or exit with what to set and why."""
    try:
        return cls()  # required values come from the environment
    except ValidationError as exc:
        lines = [f"cannot start {cls.__name__}: fix these environment variables"]
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            # a field read through an alias reports the alias (NATS_URL), not the field's name
            aliases = {v.lower(): v for v in _ENV_NAMES.values()}
            field = aliases.get(field.lower(), field)
            name = (
                field
                if field in _ENV_NAMES.values()
                else _ENV_NAMES.get(field, f"KOLOT_{field.upper()}")
                if field
                else "settings"
            )
            message = "is required" if error["type"] == "missing" else error["msg"]
            lines.append(f"  {name}: {message}")
        raise SystemExit("\n".join(lines)) from None
