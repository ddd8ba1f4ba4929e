"""Logs, traces and technical metrics, set up the same way in every service.

- Logs are JSON lines on stdout (one object per record, with the service name and trace ids).
- Traces use the OpenTelemetry SDK; spans are exported over OTLP/HTTP when
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and are otherwise only created (cheap, and still
  propagated across the bus in ``traceparent`` headers).
- Technical metrics live in a per-service ``CollectorRegistry`` exposed on ``/metrics``.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

from kolot.common.settings import ServiceSettings


class _TraceContextFilter(logging.Filter):
    """Adds the current trace and span ids to every record, so logs join traces."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = f"{ctx.trace_id:032x}"
            record.span_id = f"{ctx.span_id:016x}"
        return True


def configure_logging(settings: ServiceSettings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if settings.log_json:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_TraceContextFilter(settings.service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # uvicorn's access log duplicates what the request metrics say, at great volume
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def create_tracer_provider(settings: ServiceSettings) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"kolot-{settings.service_name}", "service.namespace": "kolot"}
        )
    )
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@dataclass
class ConsumerMetrics:
    """What operators watch on every bus consumer."""

    registry: CollectorRegistry
    batch_size: Histogram = field(init=False)
    handle_seconds: Histogram = field(init=False)
    events: Counter = field(init=False)
    failures: Counter = field(init=False)
    dead_lettered: Counter = field(init=False)
    pending: Gauge = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.batch_size = Histogram(
            "kolot_consumer_batch_size",
            "Messages per fetched batch.",
            ["consumer"],
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
            registry=r,
        )
        self.handle_seconds = Histogram(
            "kolot_consumer_handle_seconds",
            "Time to apply one batch, effects made durable.",
            ["consumer"],
            registry=r,
        )
        self.events = Counter(
            "kolot_consumer_events",
            "Events taken from the bus, by outcome (applied, ignored).",
            ["consumer", "outcome"],
            registry=r,
        )
        self.failures = Counter(
            "kolot_consumer_failures",
            "Handler failures (each is retried with backoff until max_deliver).",
            ["consumer"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "kolot_consumer_dead_lettered",
            "Messages given up and sent to the dead-letter stream.",
            ["consumer", "reason"],
            registry=r,
        )
        self.pending = Gauge(
            "kolot_consumer_pending",
            "Messages waiting in the stream for this consumer (lag), as of the last fetch.",
            ["consumer"],
            registry=r,
        )
