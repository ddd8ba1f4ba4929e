"""Who owns what (the authorisation matrix checks roles; this checks objects): an integrator can
neither see nor touch another integrator's webhook subscription, and a participant can neither
read nor appeal another participant's comment. Each refusal is a 404, so it does not even tell
whether the object exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kolot.common.auth import Role, issue_staff_token
from kolot.common.settings import DEV_JWT_SECRET
from tests.conftest import running_app, staff_headers
from tests.integration.contract.services import build_app
from tests.integration.contract.test_authorisation import assert_problem
from tests.integration.intake.flows import eventually, open_campaign, participant

pytestmark = pytest.mark.integration


def integrator(subject: str) -> dict[str, str]:
    token = issue_staff_token(DEV_JWT_SECRET, roles=[Role.INTEGRATOR], subject=subject)
    return {"Authorization": f"Bearer {token}"}


async def test_an_integrator_cannot_reach_another_integrators_subscription(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    owner, other = integrator("ministry-of-transport"), integrator("ministry-of-health")
    settings = {"webhook_allowed_hosts": ("127.0.0.1",)}
    async with running_app(build_app("notify", make_settings, **settings)) as client:
        created = await client.post(
            "/v1/subscriptions",
            json={"url": "http://127.0.0.1:9/hooks", "event_types": ["kolot.comment.published"]},
            headers=owner,
        )
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        calls = [
            ("GET", f"/v1/subscriptions/{sid}", None),
            ("GET", f"/v1/subscriptions/{sid}/deliveries", None),
            ("POST", f"/v1/subscriptions/{sid}/rotate-secret", None),
            ("POST", f"/v1/subscriptions/{sid}/pause", None),
            ("POST", f"/v1/subscriptions/{sid}/resume", None),
            ("POST", f"/v1/subscriptions/{sid}/test", None),
            ("POST", f"/v1/subscriptions/{sid}/replay", {"from_sequence": 1}),
            ("DELETE", f"/v1/subscriptions/{sid}", None),
        ]
        for method, path, body in calls:
            with subtests.test(msg=f"{method} {path.replace(sid, '{id}')}"):
                response = await client.request(method, path, json=body, headers=other)
                assert_problem(response, 404)
        with subtests.test(msg="the list shows only one's own"):
            listed = await client.get("/v1/subscriptions", headers=other)
            assert listed.json()["items"] == []
        with subtests.test(msg="the owner and an admin still see it, unchanged"):
            mine = await client.get(f"/v1/subscriptions/{sid}", headers=owner)
            assert mine.status_code == 200, mine.text
            assert mine.json()["state"] == "active"
            seen = await client.get(f"/v1/subscriptions/{sid}", headers=staff_headers(Role.ADMIN))
            assert seen.status_code == 200


async def test_a_participant_cannot_read_or_appeal_another_participants_comment(
    make_settings: Callable[..., Any],
) -> None:
    async with running_app(build_app("intake", make_settings)) as client:
        campaign_id = await open_campaign(client)
        author, other = await participant(client), await participant(client)
        accepted = await client.post(
            f"/v1/campaigns/{campaign_id}/comments",
            json={"text": "My own words, for me to follow"},
            headers=author,
        )
        assert accepted.status_code == 202, accepted.text
        comment_id = accepted.json()["id"]

        async def own_view() -> httpx.Response:
            return await client.get(f"/v1/comments/{comment_id}", headers=author)

        assert (await eventually(own_view)).status_code == 200
        assert_problem(await client.get(f"/v1/comments/{comment_id}", headers=other), 404)
        appeal = await client.post(
            f"/v1/comments/{comment_id}/appeals", json={"text": "Not mine"}, headers=other
        )
        assert_problem(appeal, 404)
