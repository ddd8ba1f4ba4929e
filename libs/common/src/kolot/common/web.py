"""The FastAPI shell every Kolot service shares: health, metrics, AsyncAPI, problems, auth."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kolot.common.auth import AuthError, Role, Staff
from kolot.common.edge import BodyLimit, BodyLimits
from kolot.common.memtrace import trace_memory_if_asked
from kolot.common.problems import install_problem_handlers
from kolot.common.runtime import Runtime
from kolot.common.settings import S, load_settings
from kolot.common.telemetry import configure_logging

log = logging.getLogger(__name__)


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require_staff(*roles: Role) -> Callable[..., Awaitable[Staff]]:
    """A dependency that admits a staff token holding one of ``roles`` (admin always passes)."""

    async def dependency(runtime: RuntimeDep, credentials: BearerDep) -> Staff:
        if credentials is None:
            raise AuthError("this call needs a staff bearer token")
        staff = await runtime.staff.verify_async(credentials.credentials)
        staff.require(*roles)
        return staff

    return dependency


def _health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/livez", summary="The process is alive")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="NATS and MongoDB are reachable and the service accepts work")
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus text exposition", include_in_schema=False)
    async def metrics(runtime: RuntimeDep) -> Response:
        return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of this service's bus contract")
    async def asyncapi(runtime: RuntimeDep) -> Response:
        return Response(runtime.asyncapi(), media_type="application/json")

    return router


def create_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    on_start: Callable[[Runtime], Awaitable[None]] | None = None,
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = (),
    body_limits: BodyLimits = (),
) -> FastAPI:
    """A FastAPI app whose lifespan starts ``runtime`` (broker, store, consumers).

    ``on_start`` runs once everything is connected; each ``background`` coroutine then runs as a
    task for the life of the app and is cancelled first on shutdown, before the consumers stop.
    Request bodies are limited to ``settings.max_body_bytes``, except on the paths matching one
    of ``body_limits`` (``(regex, bytes)`` pairs, the regex matching the whole path).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.started():
            if on_start is not None:
                await on_start(runtime)
            tasks: list[asyncio.Task[None]] = [
                asyncio.create_task(job(runtime), name=getattr(job, "__name__", "background"))
                for job in background
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                if tasks:
                    # a job that does not stop in time must not hold the shutdown hostage
                    _, stuck = await asyncio.wait(tasks, timeout=5.0)
                    for task in stuck:
                        log.error(
                            "background job %s did not stop within 5 s; shutting down anyway: %s",
                            task.get_name(),
                            "".join(traceback.format_stack(task.get_stack()[-1]))
                            if task.get_stack()
                            else "",
                        )

    app = FastAPI(
        title=title,
        description=description,
        version="1",
        lifespan=lifespan,
        # Kolot traces and measures requests itself (_ServerSpans, _RequestLatency); FastAPI's
        # own telemetry would double the spans and check the providers on every request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    # routes are added as they are rather than included: FastAPI re-walks every included router
    # to match each request (a tenth of a millisecond on intake's hot path)
    for router in (_health_router(), *routers):
        app.router.routes.extend(router.routes)

    app.add_middleware(_RequestLatency, registry=runtime.registry)
    app.add_middleware(_ServerSpans, tracer=runtime.tracer_provider.get_tracer("kolot.common.web"))
    # added last, so it is the outermost of the app's own middlewares: a body over the limit is
    # refused before tracing, metrics or routing spend anything on it
    app.add_middleware(
        BodyLimit, default=runtime.settings.max_body_bytes, overrides=list(body_limits)
    )
    return app


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_UNTRACED = frozenset({"/livez", "/readyz", "/metrics"})


class _ServerSpans:
    """A SERVER span per request, named by its route template once routing has found it; the
    bus publish inside becomes its child, so a trace follows a contribution across services.

    Kolot's own rather than opentelemetry-instrumentation-fastapi, which matched the path
    against every route again to name its span (plus a span per ASGI message): ~0.7 ms of CPU
    per request with intake's 30 routes, more than the rest of the request (bench/intake.py).
    """

    def __init__(self, app: ASGIApp, *, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNTRACED:
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] | None = None  # most requests carry no trace context
        for name, value in scope["headers"]:
            if name in _TRACE_HEADERS:
                carrier = carrier or {}
                carrier[name.decode()] = value.decode("latin-1")
        method = scope["method"]
        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(carrier) if carrier else None,
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as span:
            answer = _Status(send)
            try:
                await self.app(scope, receive, answer.send)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", answer.status)
                if answer.status >= 500:
                    span.set_status(trace.StatusCode.ERROR)


class _Status:
    """Passes an ASGI app's messages on and remembers the status it answered with."""

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500  # what the client gets if the app raises before answering

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class _RequestLatency:
    """``kolot_http_request_seconds`` by route template and status class, as plain ASGI: an
    ``@app.middleware("http")`` costs a task group and a receive wrapper per request."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.latency = Histogram(
            "kolot_http_request_seconds",
            "HTTP request latency by route template and status class.",
            ["method", "route", "status"],
            registry=registry,
        )
        # few distinct label sets, looked up on every request: keep their children at hand
        self.children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = _Status(send)
        try:
            await self.app(scope, receive, answer.send)
        finally:
            status = answer.status
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            child = self.children.get(key)
            if child is None:
                child = self.children[key] = self.latency.labels(
                    key[0], key[1], f"{status // 100}xx"
                )
            child.observe(time.perf_counter() - started)


GC_THRESHOLDS = (50_000, 20, 100)
"""The cyclic collector's thresholds in a service process (Python's default: 700, 10, 10)."""


def tune_gc() -> None:
    """Run the cyclic garbage collector less often, and never over what exists at startup.

    A consumer allocates hundreds of thousands of short-lived objects per batch (messages, events,
    documents), which at the default thresholds start many collections per batch, some over the
    whole heap: a fifth of metrics' CPU and of moderation's (bench/metrics.py,
    bench/moderation.py). Little of that garbage is cyclic, so it is freed as before.
    """
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def serve(settings_class: type[S], create_service_app: Callable[[S], FastAPI]) -> None:
    """The body of every ``kolot-<name>`` command: settings, logging, the app, then serve it."""
    settings = load_settings(settings_class)
    configure_logging(settings)
    app = create_service_app(settings)
    trace_memory_if_asked(settings.service_name)
    tune_gc()
    run(app, app.state.runtime)


def run(app: FastAPI, runtime: Runtime) -> None:
    """Serve on uvloop + httptools; SIGTERM drains in-flight requests, then the lifespan stops."""
    import uvicorn

    uvicorn.run(
        app,
        host=runtime.settings.http_host,
        port=runtime.settings.http_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
