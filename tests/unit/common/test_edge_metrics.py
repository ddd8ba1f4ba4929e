"""The request latency every service exposes: by route template and status class, errors too."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from kolot.common.problems import Problem
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings, development_environment
from kolot.common.web import create_app


def settings() -> ServiceSettings:
    env: dict[str, Any] = {
        k.removeprefix("KOLOT_").lower(): v for k, v in development_environment().items()
    }
    env["environment"] = env.pop("env")
    return ServiceSettings(
        service_name="metrics-test",
        nats_url="nats://127.0.0.1:1",
        mongodb_url="mongodb://127.0.0.1:1",
        **env,
    )


def count(registry: CollectorRegistry, method: str, route: str, status: str) -> float:
    value = registry.get_sample_value(
        "kolot_http_request_seconds_count", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


async def test_requests_are_counted_by_route_template_and_status_class() -> None:
    router = APIRouter(prefix="/v1")

    @router.get("/campaigns/{campaign_id}")
    async def campaign(campaign_id: str) -> dict[str, str]:
        if campaign_id == "missing":
            raise Problem(404, "campaign-not-found", "No such consultation")
        return {"id": campaign_id}

    @router.post("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    runtime = Runtime(settings())
    # no lifespan: these routes need neither the bus nor the store
    app = create_app(runtime, title="t", description="d", routers=[router])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/v1/campaigns/c1")).status_code == 200
        assert (await client.get("/v1/campaigns/c2")).status_code == 200
        assert (await client.get("/v1/campaigns/missing")).status_code == 404
        assert (await client.post("/v1/boom")).status_code == 500
        assert (await client.get("/nowhere")).status_code == 404

    registry = runtime.registry
    assert count(registry, "GET", "/v1/campaigns/{campaign_id}", "2xx") == 2
    assert count(registry, "GET", "/v1/campaigns/{campaign_id}", "4xx") == 1
    # an unhandled error still counts, as the 500 the client got
    assert count(registry, "POST", "/v1/boom", "5xx") == 1
    assert count(registry, "GET", "unmatched", "4xx") == 1


async def test_a_server_span_per_request_named_by_route_and_continuing_the_callers_trace() -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    router = APIRouter(prefix="/v1")

    @router.get("/campaigns/{campaign_id}")
    async def campaign(campaign_id: str) -> dict[str, str]:
        return {"id": campaign_id}

    @router.post("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    runtime = Runtime(settings())
    exporter = InMemorySpanExporter()
    runtime.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(runtime, title="t", description="d", routers=[router])
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    caller = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/v1/campaigns/c1", headers=caller)
        await client.post("/v1/boom")
        await client.get("/livez")

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"GET /v1/campaigns/{campaign_id}", "POST /v1/boom"}  # no /livez
    found = spans["GET /v1/campaigns/{campaign_id}"]
    assert found.kind is SpanKind.SERVER
    assert found.context is not None
    assert f"{found.context.trace_id:032x}" == trace_id
    assert found.attributes is not None
    assert found.attributes["http.route"] == "/v1/campaigns/{campaign_id}"
    assert found.attributes["http.response.status_code"] == 200
    assert found.attributes["url.path"] == "/v1/campaigns/c1"
    failed = spans["POST /v1/boom"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["http.response.status_code"] == 500
