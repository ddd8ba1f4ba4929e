"""Settings of the metrics service (environment variables with the ``KOLOT_`` prefix)."""

from __future__ import annotations

from pydantic import Field

from kolot.common.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    service_name: str = "metrics"
    http_port: int = Field(default=8004, ge=1, le=65535)

    consumer_batch_size: int = Field(default=2048, ge=1, le=10_000)
    """Events folded per transaction. Larger than the other services' batches: a batch's fixed
    cost (a few counter updates per campaign, the hour buckets, the reads of the states it
    touches, the transaction) is most of the store's work at 256 (bench/metrics.py: the store's
    CPU per event fell by almost half from 256 to 2048)."""

    snapshot_interval: float = Field(default=5.0, gt=0)
    """Seconds between two reads of the figures into the snapshot that ``/metrics`` exposes."""

    max_sources_per_campaign: int = Field(default=50, ge=1, le=1000)
    """Attribution sources (and circles, languages) exposed as Prometheus labels per campaign;
    the rest become ``other``."""

    max_campaign_labels: int = Field(default=50, ge=1, le=1000)
    """Campaigns exposed with their own ``campaign_id`` label (open first, then recently closed);
    the rest are summed under ``campaign_id="other"``."""

    recent_campaign_days: float = Field(default=14.0, ge=0)
    """How long a closed campaign keeps its ``campaign_id`` label after closing."""
