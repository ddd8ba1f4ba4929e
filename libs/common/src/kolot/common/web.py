"""The FastAPI shell every Kolot service shares: health, metrics, AsyncAPI, problems, auth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from kolot.common.auth import AuthError, Role, Staff
from kolot.common.edge import BodyLimit, BodyLimits
from kolot.common.problems import install_problem_handlers
from kolot.common.runtime import Runtime
from kolot.common.settings import S, load_settings
from kolot.common.telemetry import configure_logging


def get_runtime(request: Request) -> Runtime:
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
                await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(title=title, description=description, version="1", lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    # server spans for every request; the bus publish inside becomes their child, so a trace
    # follows a contribution from the HTTP request across the services
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=runtime.tracer_provider,
        excluded_urls="livez,readyz,metrics",
    )
    app.include_router(_health_router())
    for router in routers:
        app.include_router(router)

    latency = Histogram(
        "kolot_http_request_seconds",
        "HTTP request latency by route template and status class.",
        ["method", "route", "status"],
        registry=runtime.registry,
    )

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        latency.labels(request.method, template, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response

    # added last, so it is the outermost of the app's own middlewares: a body over the limit is
    # refused before tracing, metrics or routing spend anything on it
    app.add_middleware(
        BodyLimit, default=runtime.settings.max_body_bytes, overrides=list(body_limits)
    )
    return app


def serve(settings_class: type[S], create_service_app: Callable[[S], FastAPI]) -> None:
    """The body of every ``kolot-<name>`` command: settings, logging, the app, then serve it."""
    settings = load_settings(settings_class)
    configure_logging(settings)
    app = create_service_app(settings)
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
