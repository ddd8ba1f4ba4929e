"""Fixtures shared by every test layer.

Servers come from the devstack's pytest plugin (``nats_url``, ``mongo_url``, ``namespace``):
started once per session on free ports, or named by ``--nats-url`` / ``--mongo-url``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from kolot.common.auth import Role, issue_staff_token
from kolot.common.settings import DEV_JWT_SECRET, ServiceSettings, development_environment

S = TypeVar("S", bound=ServiceSettings)


@pytest.fixture
def service_env(nats_url: str, mongo_url: str, namespace: str) -> dict[str, Any]:
    """Settings values that point a service at the test servers, in this test's own namespace."""
    env: dict[str, Any] = {
        key.removeprefix("KOLOT_").lower(): value
        for key, value in development_environment().items()
        if key != "KOLOT_ENV"
    }
    env.update(
        environment="test",
        nats_url=nats_url,
        mongodb_url=mongo_url,
        namespace=namespace,
        log_json=False,
        consumer_batch_timeout=0.5,
        consumer_backoff=(0.1, 0.2),
    )
    return env


@pytest.fixture
def make_settings(service_env: dict[str, Any]) -> Callable[..., Any]:
    def make(cls: type[S], **overrides: Any) -> S:
        return cls(**{**service_env, **overrides})

    return make


def staff_headers(*roles: Role | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_staff_token(DEV_JWT_SECRET, roles=roles)}"}


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (broker, store, consumers) and talk to it in process over ASGI."""
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
