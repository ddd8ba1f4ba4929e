"""Who may read stats: refusals are decided before the store is touched (no servers needed)."""

from __future__ import annotations

import httpx
import pytest

from kolot.common.auth import Role
from tests.conftest import staff_headers

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
