"""The metrics API over ASGI with no servers behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kolot.common.settings import development_environment
from kolot.metrics.app import create_app
from kolot.metrics.settings import MetricsSettings


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    env: dict[str, Any] = {
        k.removeprefix("KOLOT_").lower(): v for k, v in development_environment().items()
    }
    settings = MetricsSettings(
        **{**env, "environment": "test"},
        nats_url="nats://127.0.0.1:9",  # never contacted: the lifespan does not run here
        mongodb_url="mongodb://127.0.0.1:9",
    )
    # no lifespan: nothing connects, so any answer that needed the store would be a 500
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
