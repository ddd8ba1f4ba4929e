"""Who may read stats: refusals are decided before the store is touched (no servers needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kolot.common.auth import Role
from kolot.common.settings import development_environment
from kolot.metrics.app import create_app
from kolot.metrics.settings import MetricsSettings
from tests.conftest import staff_headers


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
    # no lifespan: nothing connects, so any call that reached the store would fail with a 500
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


ROUTES = [
    "/v1/campaigns/c1/stats",
    "/v1/campaigns/c1/funnel",
    "/v1/campaigns/c1/timeseries?step=1d",
    "/v1/campaigns/c1/report",
    "/v1/campaigns/c1/report?format=html",
]


@pytest.mark.parametrize("path", ROUTES)
async def test_figures_need_a_staff_token(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ROUTES)
async def test_figures_refuse_a_token_that_is_not_valid(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", [Role.MODERATOR, Role.INTEGRATOR])
async def test_figures_are_for_analysts(client: httpx.AsyncClient, role: Role, path: str) -> None:
    response = await client.get(path, headers=staff_headers(role))

    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")
