"""Rate limits at intake's edge: a burst from one participant or one address gets 429 problems
with Retry-After, and neither spoofed forwarding headers nor forged tokens get around them.

The client's address is set per request through the ASGI scope, as a server would see the peer.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from kolot.common.auth import issue_participant_token
from kolot.common.settings import DEV_JWT_SECRET, DEV_PARTICIPANT_SECRET
from tests.integration.contract.services import build_app
from tests.integration.contract.test_authorisation import assert_problem
from tests.integration.intake.flows import open_campaign
from tests.security.forgery import with_claims

pytestmark = pytest.mark.integration

PARTICIPANT_BURST = 3
ADDRESS_BURST = 6
LIMITS = {
    # slow refills (one a minute), so that the test's own pace never earns a request back
    "rate_participant_per_minute": 1,
    "rate_participant_burst": PARTICIPANT_BURST,
    "rate_address_per_minute": 1,
    "rate_address_burst": ADDRESS_BURST,
    "trusted_proxies": ("10.0.0.0/8",),
}
_serial = itertools.count()


@pytest.fixture
async def app(make_settings: Callable[..., Any]) -> AsyncIterator[ASGIApp]:
    async with LifespanManager(build_app("intake", make_settings, **LIMITS)) as manager:
        yield manager.app


@pytest.fixture
async def campaign_id(app: ASGIApp) -> str:
    async with peer(app, "10.9.9.9") as admin_client:
        return await open_campaign(admin_client)


@asynccontextmanager
async def peer(app: ASGIApp, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``address`` as the server sees it."""
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def someone() -> dict[str, str]:
    token = issue_participant_token(DEV_PARTICIPANT_SECRET, f"p-rate-{next(_serial)}")
    return {"Authorization": f"Bearer {token}"}


async def comment(
    client: httpx.AsyncClient, campaign_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/v1/campaigns/{campaign_id}/comments",
        json={"text": f"Comment number {next(_serial)}"},
        headers=headers,
    )


def assert_limited(response: httpx.Response, who: str) -> None:
    assert_problem(response, 429)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) >= 1
    body = response.json()
    assert body["type"].endswith("/rate-limited")
    assert body["retry_after"] == int(retry_after)
    assert who in body["detail"]


async def assert_address_limited_after_burst(
    client: httpx.AsyncClient, campaign_id: str, headers: Callable[[int], dict[str, str]]
) -> None:
    """Comments with ``headers(n)``, all from ``client``'s address: the first ADDRESS_BURST are
    accepted, the four after them limited by address."""
    for n in range(ADDRESS_BURST + 4):
        response = await comment(client, campaign_id, headers(n))
        if n < ADDRESS_BURST:
            assert response.status_code == 202, response.text
        else:
            assert_limited(response, "address")


async def test_a_participants_burst_is_limited_whatever_their_address(
    app: ASGIApp, campaign_id: str
) -> None:
    author = someone()
    for n in range(PARTICIPANT_BURST):
        async with peer(app, f"198.51.100.{n + 1}") as client:
            accepted = await comment(client, campaign_id, author)
            assert accepted.status_code == 202, accepted.text
    async with peer(app, "198.51.100.200") as client:
        assert_limited(await comment(client, campaign_id, author), "participant")
        # someone else from the same address is not held back by that participant
        assert (await comment(client, campaign_id, someone())).status_code == 202


async def test_an_addresss_burst_is_limited_whoever_sends_it(
    app: ASGIApp, campaign_id: str
) -> None:
    async with peer(app, "203.0.113.7") as client:
        for _ in range(ADDRESS_BURST):
            assert (await comment(client, campaign_id, someone())).status_code == 202
        assert_limited(await comment(client, campaign_id, someone()), "address")
        # registering new participants is limited by address too
        registered = await client.post("/v1/participants", json={})
        assert_limited(registered, "address")
    async with peer(app, "203.0.113.8") as neighbour:
        assert (await comment(neighbour, campaign_id, someone())).status_code == 202


async def test_forwarding_headers_from_an_untrusted_peer_change_nothing(
    app: ASGIApp, campaign_id: str
) -> None:
    def spoofed(n: int) -> dict[str, str]:
        return {
            **someone(),
            "X-Forwarded-For": f"192.0.2.{n}",
            "X-Real-IP": f"192.0.2.{n}",
            "Forwarded": f"for=192.0.2.{n}",
            "True-Client-IP": f"192.0.2.{n}",
        }

    async with peer(app, "203.0.113.9") as client:
        await assert_address_limited_after_burst(client, campaign_id, spoofed)


async def test_behind_a_trusted_proxy_the_client_cannot_choose_its_address(
    app: ASGIApp, campaign_id: str
) -> None:
    def spoofed(n: int) -> dict[str, str]:
        # the client made up the left part; the proxy appended the address it saw
        return {**someone(), "X-Forwarded-For": f"192.0.2.{n}, 10.1.1.1, 198.51.100.77"}

    async with peer(app, "10.0.0.5") as proxy:
        await assert_address_limited_after_burst(proxy, campaign_id, spoofed)
        # another client behind the same proxy has its own allowance
        other = {**someone(), "X-Forwarded-For": "198.51.100.78"}
        assert (await comment(proxy, campaign_id, other)).status_code == 202


async def test_forged_tokens_do_not_spend_a_participants_allowance(
    app: ASGIApp, campaign_id: str
) -> None:
    victim = someone()
    token = victim["Authorization"].removeprefix("Bearer ")
    forged_tokens = [
        {"Authorization": f"Bearer {with_claims(token, iat=n)}"} for n in range(10)
    ] + [{"Authorization": "Bearer " + issue_participant_token(DEV_JWT_SECRET, "x")}]
    for n, forged in enumerate(forged_tokens):
        async with peer(app, f"198.51.100.{n + 1}") as attacker:
            assert_problem(await comment(attacker, campaign_id, forged), 401)
    async with peer(app, "198.51.100.250") as client:
        for _ in range(PARTICIPANT_BURST):
            assert (await comment(client, campaign_id, victim)).status_code == 202
