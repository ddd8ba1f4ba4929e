"""Who may call what, over all four services: every refusal is proven, every mutating route listed.

``RULES`` is the authorisation contract (DESIGN.md, "Security and privacy"): for each route the
staff roles allowed (admin may always do what staff can do: ``Staff.require``), or
``PARTICIPANT`` (a participant token from ``POST /v1/participants``), or ``ANYONE``. Each app's
OpenAPI must not have a mutating route, or a route that takes a bearer token, missing from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import httpx
import pytest

from kolot.common.auth import Role, issue_participant_token, issue_staff_token
from kolot.common.problems import PROBLEM_BASE
from kolot.common.settings import DEV_PARTICIPANT_SECRET
from tests.conftest import running_app, staff_headers
from tests.integration.contract.services import (
    MUTATING,
    SERVICE_NAMES,
    build_app,
    operations,
)

pytestmark = pytest.mark.integration

ANYONE: Final = "anyone"
PARTICIPANT: Final = "participant"
Rule = frozenset[Role] | str

ADMIN = frozenset({Role.ADMIN})

RULES: Final[dict[str, dict[tuple[str, str], Rule]]] = {
    "intake": {
        ("POST", "/v1/campaigns"): ADMIN,
        ("PATCH", "/v1/campaigns/{campaign_id}"): ADMIN,
        ("POST", "/v1/campaigns/{campaign_id}/open"): ADMIN,
        ("POST", "/v1/campaigns/{campaign_id}/close"): ADMIN,
        ("POST", "/v1/campaigns/{campaign_id}/archive"): ADMIN,
        ("POST", "/v1/campaigns/{campaign_id}/invitations"): ADMIN,
        ("POST", "/v1/campaigns/{campaign_id}/participants/{participant_id}/verifications"): ADMIN,
        ("POST", "/v1/campaigns/{campaign_id}/outcomes"): ADMIN,
        # public reads that take an optional token: an admin's also shows drafts
        ("GET", "/v1/campaigns"): ANYONE,
        ("GET", "/v1/campaigns/{campaign_id}"): ANYONE,
        ("POST", "/v1/participants"): ANYONE,
        ("POST", "/v1/participants/me/invitations"): PARTICIPANT,
        ("POST", "/v1/participants/me/token"): PARTICIPANT,
        ("DELETE", "/v1/participants/me"): PARTICIPANT,
        # a participant token is optional here: it links the visit to the participant
        ("POST", "/v1/campaigns/{campaign_id}/visits"): ANYONE,
        ("POST", "/v1/campaigns/{campaign_id}/comments"): PARTICIPANT,
        ("GET", "/v1/campaigns/{campaign_id}/comments"): ANYONE,
        ("POST", "/v1/campaigns/{campaign_id}/responses"): PARTICIPANT,
        ("POST", "/v1/comments/{comment_id}/votes"): PARTICIPANT,
        ("POST", "/v1/comments/{comment_id}/flags"): PARTICIPANT,
        ("POST", "/v1/comments/{comment_id}/appeals"): PARTICIPANT,
        ("GET", "/v1/comments/{comment_id}"): PARTICIPANT,
        ("POST", "/v1/receipts/verify"): ANYONE,
        ("POST", "/v1/campaigns/{campaign_id}/uploads"): ADMIN,
        ("GET", "/v1/uploads/{upload_id}"): ADMIN,
        # no token: the provider's HMAC signature authenticates it (refusals proven in
        # tests/integration/intake/test_channels_integration.py)
        ("POST", "/v1/channels/{channel}/inbound"): ANYONE,
        # The participation page's routes (GET /c/{id}, its form posts under /c/{id}/...) are
        # left out of the OpenAPI: their participant is a cookie plus a form token, not a bearer
        # token; each refusal (no or another browser's form token, drafts, closed consultations,
        # rate limits) is proven in tests/integration/intake/test_pages.py.
    },
    "moderation": {
        ("GET", "/v1/queue"): frozenset({Role.MODERATOR}),
        ("POST", "/v1/comments/{comment_id}/decision"): frozenset({Role.MODERATOR}),
        ("POST", "/v1/decisions"): frozenset({Role.MODERATOR}),
        ("GET", "/v1/appeals"): frozenset({Role.MODERATOR}),
        ("POST", "/v1/appeals/{appeal_id}/decision"): frozenset({Role.MODERATOR}),
        ("GET", "/v1/audit"): frozenset({Role.MODERATOR}),
        ("GET", "/v1/campaigns/{campaign_id}/transparency"): frozenset(
            {Role.MODERATOR, Role.ANALYST}
        ),
        ("GET", "/v1/alerts"): frozenset({Role.MODERATOR}),
        # who a token belongs to: any staff role (the console says which role is missing)
        ("GET", "/v1/me"): frozenset(Role),
    },
    "notify": {
        ("POST", "/v1/subscriptions"): frozenset({Role.INTEGRATOR}),
        ("GET", "/v1/subscriptions"): frozenset({Role.INTEGRATOR}),
        ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): frozenset({Role.INTEGRATOR}),
        ("DELETE", "/v1/subscriptions/{subscription_id}"): frozenset({Role.INTEGRATOR}),
        ("GET", "/v1/subscriptions/{subscription_id}"): frozenset({Role.INTEGRATOR}),
        ("POST", "/v1/subscriptions/{subscription_id}/rotate-secret"): frozenset({Role.INTEGRATOR}),
        ("POST", "/v1/subscriptions/{subscription_id}/pause"): frozenset({Role.INTEGRATOR}),
        ("POST", "/v1/subscriptions/{subscription_id}/resume"): frozenset({Role.INTEGRATOR}),
        ("POST", "/v1/subscriptions/{subscription_id}/test"): frozenset({Role.INTEGRATOR}),
        ("POST", "/v1/subscriptions/{subscription_id}/replay"): frozenset({Role.INTEGRATOR}),
        ("POST", "/v1/disseminations"): ADMIN,
        ("GET", "/v1/disseminations"): ADMIN,
        ("GET", "/v1/disseminations/{dissemination_id}"): ADMIN,
        ("PATCH", "/v1/disseminations/{dissemination_id}"): ADMIN,
        ("POST", "/v1/disseminations/{dissemination_id}/recipients"): ADMIN,
        # the token in the path (from the message itself) is the authorisation
        ("POST", "/v1/unsubscribe/{token}"): ANYONE,
        ("PUT", "/v1/preferences/{token}"): ANYONE,
    },
    "metrics": {
        ("GET", "/v1/campaigns/{campaign_id}/stats"): frozenset({Role.ANALYST}),
        ("GET", "/v1/campaigns/{campaign_id}/funnel"): frozenset({Role.ANALYST}),
        ("GET", "/v1/campaigns/{campaign_id}/timeseries"): frozenset({Role.ANALYST}),
        ("GET", "/v1/campaigns/{campaign_id}/report"): frozenset({Role.ANALYST}),
    },
}

NO_TOKEN: dict[str, str] = {}


def participant_token(method: str, path: str) -> dict[str, str]:
    """A participant of one's own per route: erasing oneself or a rate limit spent on one route
    must not change what another route answers."""
    participant_id = "p-authz-" + re.sub(r"\W+", "-", f"{method}{path}").strip("-")
    token = issue_participant_token(DEV_PARTICIPANT_SECRET, participant_id)
    return {"Authorization": f"Bearer {token}"}


# a well-formed admin token signed with a secret the services do not hold
FORGED_ADMIN = {
    "Authorization": "Bearer "
    + issue_staff_token("not-the-secret-of-this-installation-at-all", roles=[Role.ADMIN])
}
GARBAGE = {"Authorization": "Bearer not.a.token"}


def takes_a_bearer_token(operation: dict[str, Any]) -> bool:
    return any("HTTPBearer" in requirement for requirement in operation.get("security", []))


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_mutating_or_token_taking_route_has_a_rule(
    name: str, make_settings: Callable[..., Any]
) -> None:
    documented = operations(build_app(name, make_settings))
    rules = RULES[name]

    missing = sorted(
        f"{method} {path}"
        for (method, path), operation in documented.items()
        if (method in MUTATING or takes_a_bearer_token(operation)) and (method, path) not in rules
    )
    stale = sorted(f"{method} {path}" for method, path in rules if (method, path) not in documented)

    assert not missing, (
        f"{name}: add these routes to RULES in {__file__} with the roles that may call them "
        f"(or PARTICIPANT / ANYONE), so that every refusal is tested: {missing}"
    )
    assert not stale, f"{name}: these routes in RULES no longer exist; remove them: {stale}"


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "authz-0001", path)


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body: Any = {} if method in {"POST", "PUT", "PATCH"} else None
    return await client.request(method, concrete(path), json=body, headers=headers)


def assert_problem(response: httpx.Response, *statuses: int) -> None:
    request = f"{response.request.method} {response.request.url.path}"
    assert response.status_code in statuses, (
        f"{request}: expected {statuses}, got {response.status_code} {response.text[:300]}"
    )
    assert response.headers["content-type"] == "application/problem+json", request
    body = response.json()
    assert body["status"] == response.status_code, request
    assert str(body["type"]).startswith(PROBLEM_BASE), request
    if response.status_code == 401:
        assert response.headers.get("www-authenticate") == "Bearer", request


def assert_admitted(response: httpx.Response) -> None:
    request = f"{response.request.method} {response.request.url.path}"
    # past authorisation, the empty body or the made-up id may well be refused (422, 404, 409)
    assert response.status_code not in {401, 403}, f"{request}: refused: {response.text[:300]}"
    assert response.status_code < 500, f"{request}: {response.status_code} {response.text[:300]}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_each_route_admits_exactly_whom_its_rule_names(
    name: str, make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    async with running_app(build_app(name, make_settings)) as client:
        for (method, path), rule in RULES[name].items():
            if rule == ANYONE:
                with subtests.test(msg=f"{method} {path}: anyone"):
                    assert_admitted(await call(client, method, path, NO_TOKEN))
                continue
            with subtests.test(msg=f"{method} {path}: no token"):
                assert_problem(await call(client, method, path, NO_TOKEN), 401)
            with subtests.test(msg=f"{method} {path}: garbage token"):
                assert_problem(await call(client, method, path, GARBAGE), 401)
            if rule == PARTICIPANT:
                with subtests.test(msg=f"{method} {path}: a staff token is no participant"):
                    assert_problem(await call(client, method, path, staff_headers(Role.ADMIN)), 401)
                with subtests.test(msg=f"{method} {path}: participant"):
                    assert_admitted(
                        await call(client, method, path, participant_token(method, path))
                    )
                continue
            assert isinstance(rule, frozenset)
            with subtests.test(msg=f"{method} {path}: forged admin token"):
                assert_problem(await call(client, method, path, FORGED_ADMIN), 401)
            with subtests.test(msg=f"{method} {path}: participant token"):
                assert_problem(
                    await call(client, method, path, participant_token(method, path)), 401, 403
                )
            for role in Role:
                with subtests.test(msg=f"{method} {path}: {role}"):
                    response = await call(client, method, path, staff_headers(role))
                    if role in rule or role is Role.ADMIN:
                        assert_admitted(response)
                    else:
                        assert_problem(response, 403)
