"""Webhooks end to end inside one process: a real NATS, a real nx-27017 and a real HTTP receiver.

A public event on the bus reaches a subscriber's endpoint once, signed with the subscription's
secret; failures are retried with backoff; filters hold; unsafe targets and callers are refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from kolot.common.auth import Role, issue_staff_token
from kolot.common.bus import jetstream
from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    CommentHidden,
    CommentHiddenData,
    CommentPublished,
    CommentPublishedData,
    Event,
    derived_id,
    new_id,
)
from kolot.common.runtime import Runtime
from kolot.common.settings import DEV_JWT_SECRET
from kolot.notify.app import create_app
from kolot.notify.models import Delivery
from kolot.notify.repository import DELIVERIES, SUBSCRIPTIONS
from kolot.notify.settings import NotifySettings
from kolot.notify.webhooks import SecretSealer
from tests.conftest import running_app, staff_headers
from tests.local_server import serving

pytestmark = pytest.mark.integration

INTEGRATOR = staff_headers(Role.INTEGRATOR)


@dataclass
class Receiver:
    """A webhook endpoint: records every request and answers the given statuses, then 200;
    requests to a path in ``held`` wait for that event before they are answered."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    held: dict[str, asyncio.Event] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((scope["path"], headers, body))
        if scope["path"] in self.held:
            await self.held[scope["path"]].wait()
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def ids_on(self, path: str) -> list[str]:
        return [headers["webhook-id"] for p, headers, _ in self.requests if p == path]


async def eventually(check: Callable[[], Awaitable[bool] | bool], *, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        await asyncio.sleep(0.05)


@pytest.fixture
def settings(make_settings: Callable[..., NotifySettings]) -> NotifySettings:
    return make_settings(
        NotifySettings,
        webhook_allowed_hosts="127.0.0.1",
        webhook_max_attempts=3,
        webhook_backoff_base=0.05,
        webhook_backoff_cap=0.1,
        webhook_poll_interval=0.05,
        webhook_timeout=5,
        webhook_lease=10,
        subscriptions_refresh_interval=0.5,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    endpoint = Receiver()
    async with serving(endpoint) as url:
        yield endpoint, url


@pytest.fixture
async def notify(settings: NotifySettings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app.state.runtime


def comment_published(campaign: str = "c1") -> CommentPublished:
    return CommentPublished(
        subject=campaign,
        data=CommentPublishedData(comment_id=new_id(), text="שלום, הערה ציבורית"),
    )


async def subscribe(client: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": ["kolot.comment.published"], **body},
        headers=INTEGRATOR,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def delivery_log(client: httpx.AsyncClient, subscription_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/subscriptions/{subscription_id}/deliveries", headers=INTEGRATOR
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def statuses_are(
    client: httpx.AsyncClient, subscription_id: str, expected: list[str]
) -> bool:
    return [d["status"] for d in await delivery_log(client, subscription_id)] == expected


async def last_outcome(runtime: Runtime, event_type: str, campaign: str) -> dict[str, Any]:
    _, entity, action = event_type.split(".")
    subject = runtime.streams.events_subject(entity, action, campaign)
    raw = await jetstream(runtime.broker).get_last_msg(runtime.streams.name("events"), subject)
    assert raw.data is not None
    document: dict[str, Any] = json.loads(raw.data)
    return document


def assert_signed(secret: str, headers: dict[str, str], body: bytes, event: Event) -> None:
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["webhook-id"] == event.id
    assert Webhook(secret).verify(body, headers) == event.to_dict()


async def test_a_published_comment_reaches_its_subscriber_once_signed(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook", description="ministry of tests")
    assert subscription["secret"].startswith("whsec_")
    assert subscription["event_types"] == ["kolot.comment.published"]

    event = comment_published("c1")
    hidden = CommentHidden(subject="c1", data=CommentHiddenData(comment_id="k", reason="flags"))
    await runtime.publisher.publish_public(event, hidden)
    # the same event again under another message id, so the stream keeps both copies and the
    # consumer sees the event twice: it must still be delivered once
    await runtime.broker.publish(
        event.to_json(),
        subject=event.subject_for(runtime.streams.namespace, "public"),
        headers={"Nats-Msg-Id": new_id()},
        stream=runtime.streams.name("public"),
    )

    await eventually(lambda: len(endpoint.requests) >= 1)
    log: list[dict[str, Any]] = []

    async def delivered() -> bool:
        log[:] = await delivery_log(client, subscription["id"])
        return [d["status"] for d in log] == ["delivered"]

    await eventually(delivered)
    await asyncio.sleep(0.5)  # room for a wrong second delivery to arrive
    assert len(endpoint.requests) == 1
    path, headers, body = endpoint.requests[0]
    assert path == "/hook"
    assert_signed(subscription["secret"], headers, body, event)

    [entry] = log
    assert entry["id"] == f"{subscription['id']}:{event.id}"
    assert (entry["event_type"], entry["campaign_id"]) == ("kolot.comment.published", "c1")
    assert (entry["attempts"], entry["last_status_code"], entry["next_attempt_at"]) == (
        1,
        200,
        None,
    )

    outcome = await last_outcome(runtime, "kolot.webhook.delivered", "c1")
    assert outcome["id"] == derived_id(entry["id"], "delivered")
    exposed = (await client.get("/metrics")).text
    assert 'kolot_webhook_attempts_total{outcome="delivered"} 1.0' in exposed
    assert outcome["data"]["event_id"] == event.id
    assert outcome["data"]["status_code"] == 200


async def test_a_failing_endpoint_gets_the_event_on_a_later_attempt(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    endpoint.statuses = [500, 500]
    subscription = await subscribe(client, f"{url}/flaky")
    event = comment_published("c2")
    await runtime.publisher.publish_public(event)

    await eventually(lambda: len(endpoint.requests) >= 3)
    await eventually(lambda: statuses_are(client, subscription["id"], ["delivered"]))
    [entry] = await delivery_log(client, subscription["id"])
    assert (entry["attempts"], entry["last_status_code"]) == (3, 200)
    assert len(endpoint.requests) == 3
    # every attempt carries the same webhook-id and a valid signature
    for _, headers, body in endpoint.requests:
        assert_signed(subscription["secret"], headers, body, event)


async def test_an_endpoint_that_never_accepts_fails_after_max_attempts(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    endpoint.statuses = [503] * 10
    subscription = await subscribe(client, f"{url}/down")
    event = comment_published("c3")
    await runtime.publisher.publish_public(event)

    await eventually(lambda: statuses_are(client, subscription["id"], ["failed"]))
    [entry] = await delivery_log(client, subscription["id"])
    assert (entry["attempts"], entry["last_status_code"]) == (3, 503)
    assert entry["last_error"] == "HTTP 503"
    assert len(endpoint.requests) == 3  # max attempts, then no more
    outcome = await last_outcome(runtime, "kolot.webhook.failed", "c3")
    assert outcome["id"] == derived_id(entry["id"], "failed")
    assert outcome["data"]["attempt"] == 3


async def test_filters_keep_other_campaigns_and_types_away(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    other_campaign = await subscribe(client, f"{url}/other", campaign_id="c-other")
    other_type = await subscribe(client, f"{url}/hidden", event_types=["kolot.campaign.*"])
    this_campaign = await subscribe(client, f"{url}/this", campaign_id="c4")

    await runtime.publisher.publish_public(comment_published("c4"))
    # the three subscriptions' deliveries are planned together: once the matching one is
    # delivered, any wrong one would be stored too
    await eventually(lambda: statuses_are(client, this_campaign["id"], ["delivered"]))
    assert await delivery_log(client, other_campaign["id"]) == []
    assert await delivery_log(client, other_type["id"]) == []
    assert [p for p, _, _ in endpoint.requests] == ["/this"]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.10:8080/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "ftp://ministry.example/hook",
        "https://user:secret@127.0.0.1/hook",
    ],
)
async def test_unsafe_targets_are_refused(
    notify: tuple[httpx.AsyncClient, Runtime], url: str
) -> None:
    client, _ = notify
    response = await client.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": ["kolot.comment.published"]},
        headers=INTEGRATOR,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/webhook-target-refused")
    listed = await client.get("/v1/subscriptions", headers=INTEGRATOR)
    assert listed.json()["items"] == []


async def test_invalid_subscriptions_are_refused(notify: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, _ = notify
    for body in (
        {"url": "http://127.0.0.1:1/", "event_types": []},
        {"url": "http://127.0.0.1:1/", "event_types": ["kolot.comment.submitted"]},  # not public
        {"url": "http://127.0.0.1:1/", "event_types": ["kolot.comment.published"], "x": 1},
        {"event_types": ["kolot.comment.published"]},
    ):
        response = await client.post("/v1/subscriptions", json=body, headers=INTEGRATOR)
        assert response.status_code == 422, body
        assert response.json()["type"].endswith("/validation")


async def test_callers_without_the_integrator_role_are_refused(
    notify: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, _ = notify
    url = "http://127.0.0.1:1/hook"
    body = {"url": url, "event_types": ["kolot.comment.published"]}
    created = await subscribe(client, url)
    calls = [
        ("POST", "/v1/subscriptions", body),
        ("GET", "/v1/subscriptions", None),
        ("GET", f"/v1/subscriptions/{created['id']}/deliveries", None),
        ("DELETE", f"/v1/subscriptions/{created['id']}", None),
    ]
    for method, path, json_body in calls:
        anonymous = await client.request(method, path, json=json_body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["content-type"] == "application/problem+json"
        for role in (Role.MODERATOR, Role.ANALYST):
            wrong = await client.request(method, path, json=json_body, headers=staff_headers(role))
            assert wrong.status_code == 403, (method, path, role)
        forged = {
            "Authorization": "Bearer "
            + issue_staff_token("a-different-secret-that-is-long-enough-for-hs256", roles=["admin"])
        }
        assert (
            await client.request(method, path, json=json_body, headers=forged)
        ).status_code == 401
    # nothing changed
    listed = await client.get("/v1/subscriptions", headers=INTEGRATOR)
    assert [s["id"] for s in listed.json()["items"]] == [created["id"]]
    # admin passes too
    admin = await client.post("/v1/subscriptions", json=body, headers=staff_headers(Role.ADMIN))
    assert admin.status_code == 201


async def test_integrators_list_and_delete_their_own_subscriptions(
    notify: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, _ = notify
    mine = await subscribe(client, "http://127.0.0.1:1/mine")
    other = {
        "Authorization": "Bearer "
        + issue_staff_token(DEV_JWT_SECRET, roles=[Role.INTEGRATOR], subject="other-ministry")
    }
    response = await client.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:1/theirs", "event_types": ["kolot.*"]},
        headers=other,
    )
    theirs = response.json()

    listed = (await client.get("/v1/subscriptions", headers=INTEGRATOR)).json()["items"]
    assert [s["id"] for s in listed] == [mine["id"]]
    assert "secret" not in listed[0]
    everything = await client.get("/v1/subscriptions", headers=staff_headers(Role.ADMIN))
    assert {s["id"] for s in everything.json()["items"]} == {mine["id"], theirs["id"]}

    # another integrator's subscription is not there for me
    path = f"/v1/subscriptions/{theirs['id']}"
    assert (await client.delete(path, headers=INTEGRATOR)).status_code == 404
    assert (await client.get(f"{path}/deliveries", headers=INTEGRATOR)).status_code == 404

    assert (
        await client.delete(f"/v1/subscriptions/{mine['id']}", headers=INTEGRATOR)
    ).status_code == 204
    assert (await client.get("/v1/subscriptions", headers=INTEGRATOR)).json()["items"] == []
    gone = await client.delete(f"/v1/subscriptions/{mine['id']}", headers=INTEGRATOR)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


async def test_a_slow_endpoint_holds_up_neither_the_bus_nor_other_endpoints(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    endpoint.held["/slow"] = release = asyncio.Event()
    try:
        await subscribe(client, f"{url}/slow")
        await subscribe(client, f"{url}/fast")
        first, second = comment_published("c5"), comment_published("c5")
        await runtime.publisher.publish_public(first)
        await eventually(lambda: endpoint.ids_on("/fast") == [first.id])
        assert endpoint.ids_on("/slow") == [first.id]  # arrived, and still unanswered
        await runtime.publisher.publish_public(second)
        await eventually(lambda: endpoint.ids_on("/fast") == [first.id, second.id])
    finally:
        release.set()
    await eventually(lambda: endpoint.ids_on("/slow") == [first.id, second.id])


def stored_delivery(subscription_id: str, event: Event, **state: Any) -> Delivery:
    """A delivery document as the service stores it, in the given state."""
    return Delivery(
        id=Delivery.key(subscription_id, event.id),
        subscription_id=subscription_id,
        event_id=event.id,
        event_type=event.type,
        campaign_id=event.subject,
        event=event.to_json().decode(),
        **state,
    )


async def test_a_delivery_abandoned_by_a_crashed_replica_is_sent_once_its_lease_expires(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    event = comment_published("c6")
    now = datetime.now(UTC)
    # as a replica leaves it when it dies mid-attempt: claimed, with a lease that has run out
    abandoned = stored_delivery(
        subscription["id"],
        event,
        status="sending",
        attempts=1,
        lease_owner="crashed-replica",
        lease_expires_at=now - timedelta(seconds=1),
        next_attempt_at=now - timedelta(seconds=1),
        created_at=now - timedelta(seconds=60),
    )
    await runtime.db[DELIVERIES].insert_one(abandoned.to_document())
    await eventually(lambda: statuses_are(client, subscription["id"], ["delivered"]))
    assert endpoint.ids_on("/hook") == [event.id]
    [entry] = await delivery_log(client, subscription["id"])
    assert entry["attempts"] == 2


async def test_two_replicas_send_each_delivery_once(
    settings: NotifySettings, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    first_app, second_app = create_app(settings), create_app(settings)
    async with running_app(first_app) as client:
        # created before the second replica starts, so both know it from the start
        subscription = await subscribe(client, f"{url}/hook", event_types=["kolot.comment.*"])
        async with running_app(second_app):
            runtime: Runtime = first_app.state.runtime
            events = [comment_published("c7") for _ in range(20)]
            await runtime.publisher.publish_public(*events)
            await eventually(
                lambda: statuses_are(client, subscription["id"], ["delivered"] * len(events))
            )
    assert sorted(endpoint.ids_on("/hook")) == sorted(event.id for event in events)


async def test_deleting_a_subscription_cancels_its_pending_deliveries(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    event = comment_published("c8")
    now = datetime.now(UTC)
    waiting = stored_delivery(
        subscription["id"],
        event,
        attempts=2,
        next_attempt_at=now + timedelta(seconds=1),  # a retry waiting for its backoff
        created_at=now,
    )
    await runtime.db[DELIVERIES].insert_one(waiting.to_document())
    response = await client.delete(f"/v1/subscriptions/{subscription['id']}", headers=INTEGRATOR)
    assert response.status_code == 204
    stored = await runtime.db[DELIVERIES].find_one({"_id": waiting.id})
    assert stored is not None
    assert (stored["status"], stored["next_attempt_at"]) == ("cancelled", None)
    await asyncio.sleep(1.3)  # past the retry time: nothing is sent
    assert endpoint.requests == []


async def test_a_rotated_secret_and_the_old_one_both_sign_during_the_overlap(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    rotated = await client.post(
        f"/v1/subscriptions/{subscription['id']}/rotate-secret", headers=INTEGRATOR
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != subscription["secret"]
    assert rotated.json()["previous_secret_until"] > datetime.now(UTC).isoformat()

    event = comment_published("c9")
    await runtime.publisher.publish_public(event)
    await eventually(lambda: len(endpoint.requests) == 1)
    _, headers, body = endpoint.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    # a receiver on either secret accepts it
    assert_signed(subscription["secret"], headers, body, event)
    assert_signed(new_secret, headers, body, event)
    # the trace context travels with it
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", headers["traceparent"])


async def test_a_paused_subscription_keeps_its_deliveries_until_resumed(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    paused = await client.post(f"/v1/subscriptions/{subscription['id']}/pause", headers=INTEGRATOR)
    assert paused.json()["state"] == "paused"
    event = comment_published("c10")
    await runtime.publisher.publish_public(event)
    await eventually(lambda: statuses_are(client, subscription["id"], ["pending"]))
    await asyncio.sleep(0.5)
    assert endpoint.requests == []

    resumed = await client.post(
        f"/v1/subscriptions/{subscription['id']}/resume", headers=INTEGRATOR
    )
    assert resumed.json()["state"] == "active"
    await eventually(lambda: statuses_are(client, subscription["id"], ["delivered"]))
    assert endpoint.ids_on("/hook") == [event.id]


async def test_a_run_of_failures_disables_the_endpoint_with_a_notice_and_resume_recovers(
    make_settings: Callable[..., NotifySettings], receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    endpoint.statuses = [500] * 4
    settings = make_settings(
        NotifySettings,
        webhook_allowed_hosts="127.0.0.1",
        webhook_max_attempts=10,
        webhook_backoff_base=0.05,
        webhook_backoff_cap=0.1,
        webhook_poll_interval=0.05,
        webhook_disable_after=3,
    )
    app = create_app(settings)
    async with running_app(app) as client:
        runtime: Runtime = app.state.runtime
        subscription = await subscribe(client, f"{url}/down")
        path = f"/v1/subscriptions/{subscription['id']}"
        event = comment_published("c11")
        await runtime.publisher.publish_public(event)

        async def disabled() -> bool:
            return (await client.get(path, headers=INTEGRATOR)).json()["state"] == "disabled"

        await eventually(disabled)
        state = (await client.get(path, headers=INTEGRATOR)).json()
        assert state["consecutive_failures"] == 3
        assert "3 failed attempts in a row" in state["state_reason"]
        notice = await last_outcome(runtime, "kolot.webhook.failed", "c11")
        assert notice["data"]["subscription_disabled"] is True
        await asyncio.sleep(0.4)
        assert len(endpoint.requests) == 3  # nothing more while disabled
        [entry] = await delivery_log(client, subscription["id"])
        assert entry["status"] == "pending"

        # the endpoint recovers (one more 500, then 200s); its integrator resumes it
        resumed = await client.post(f"{path}/resume", headers=INTEGRATOR)
        assert resumed.json()["consecutive_failures"] == 0
        await eventually(lambda: statuses_are(client, subscription["id"], ["delivered"]))
        assert endpoint.ids_on("/down") == [event.id] * 5
        assert (await client.get(path, headers=INTEGRATOR)).json()["consecutive_failures"] == 0


async def test_the_test_endpoint_sends_a_signed_ping_and_reports_the_answer(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, _ = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    path = f"/v1/subscriptions/{subscription['id']}/test"

    async def tested() -> httpx.Response:
        response = await client.post(path, headers=INTEGRATOR)
        assert response.status_code == 200, response.text
        return response

    result = (await tested()).json()
    assert (result["delivered"], result["status_code"], result["error"]) == (True, 200, None)
    _, headers, body = endpoint.requests[0]
    payload = Webhook(subscription["secret"]).verify(body, headers)
    assert payload["type"] == "kolot.webhook.test"
    assert payload["data"] == {"subscription_id": subscription["id"]}

    endpoint.statuses = [503]
    failed = (await tested()).json()
    assert (failed["delivered"], failed["status_code"], failed["error"]) == (False, 503, "HTTP 503")
    # a test is not an event: the delivery log stays empty
    assert await delivery_log(client, subscription["id"]) == []


async def test_the_delivery_log_pages_with_a_cursor(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    _, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    events = [comment_published("c12") for _ in range(5)]
    await runtime.publisher.publish_public(*events)
    await eventually(lambda: statuses_are(client, subscription["id"], ["delivered"] * 5))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(
            f"/v1/subscriptions/{subscription['id']}/deliveries{query}", headers=INTEGRATOR
        )
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["event_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(event.id for event in events)
    bad = await client.get(
        f"/v1/subscriptions/{subscription['id']}/deliveries?cursor=nonsense", headers=INTEGRATOR
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_a_replay_delivers_again_from_a_sequence_or_a_time(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    before = datetime.now(UTC)
    events = [comment_published("c13") for _ in range(3)]
    other = comment_published("c-other")
    await runtime.publisher.publish_public(*events, other)
    # subscribed after the events: only a replay brings them
    subscription = await subscribe(client, f"{url}/hook", campaign_id="c13")
    path = f"/v1/subscriptions/{subscription['id']}/replay"

    response = await client.post(path, json={"from_sequence": 1, "limit": 2}, headers=INTEGRATOR)
    assert response.status_code == 202, response.text
    first = response.json()
    assert (first["scanned"], first["more"]) == (2, True)
    rest = await client.post(
        path, json={"from_sequence": first["last_sequence"] + 1}, headers=INTEGRATOR
    )
    assert rest.json()["more"] is False
    assert first["deliveries"] + rest.json()["deliveries"] == 3  # the other campaign's is not
    await eventually(lambda: len(endpoint.ids_on("/hook")) == 3)
    assert sorted(endpoint.ids_on("/hook")) == sorted(e.id for e in events)

    by_time = await client.post(path, json={"since": before.isoformat()}, headers=INTEGRATOR)
    assert by_time.json()["deliveries"] == 3
    await eventually(lambda: len(endpoint.ids_on("/hook")) == 6)
    for body in ({}, {"from_sequence": 1, "since": before.isoformat()}, {"from_sequence": 0}):
        refused = await client.post(path, json=body, headers=INTEGRATOR)
        assert refused.status_code == 422, body


async def test_a_delivery_that_fails_for_good_goes_to_the_dead_letter_queue(
    notify: tuple[httpx.AsyncClient, Runtime], receiver: tuple[Receiver, str]
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    endpoint.statuses = [500] * 3
    subscription = await subscribe(client, f"{url}/hook")
    event = comment_published("c14")
    await runtime.publisher.publish_public(event)
    await eventually(lambda: statuses_are(client, subscription["id"], ["failed"]))

    async def dead_lettered() -> dict[str, Any] | None:
        try:
            raw = await jetstream(runtime.broker).get_last_msg(
                runtime.streams.name("dlq"),
                runtime.streams.dlq_subject("notify", "comment", "published"),
            )
        except Exception:
            return None
        return {"data": json.loads(raw.data or b"{}"), "headers": raw.headers or {}}

    async def arrived() -> bool:
        return await dead_lettered() is not None

    await eventually(arrived)
    found = await dead_lettered()
    assert found is not None
    assert found["data"]["id"] == event.id
    assert found["headers"]["Kolot-Error"] == "HTTP 500"
    assert found["headers"]["Kolot-Subscription"] == subscription["id"]


async def test_an_endpoint_gets_at_most_its_concurrency_limit_at_once(
    make_settings: Callable[..., NotifySettings], receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    endpoint.held["/slow"] = release = asyncio.Event()
    settings = make_settings(
        NotifySettings,
        webhook_allowed_hosts="127.0.0.1",
        webhook_poll_interval=0.05,
        webhook_endpoint_concurrency=2,
    )
    app = create_app(settings)
    try:
        async with running_app(app) as client:
            runtime: Runtime = app.state.runtime
            await subscribe(client, f"{url}/slow")
            events = [comment_published("c15") for _ in range(5)]
            await runtime.publisher.publish_public(*events)
            await eventually(lambda: len(endpoint.ids_on("/slow")) == 2)
            await asyncio.sleep(0.5)
            assert len(endpoint.ids_on("/slow")) == 2  # the others wait for a free slot
            release.set()
            await eventually(lambda: len(endpoint.ids_on("/slow")) == 5)
    finally:
        release.set()


def stored_strings(value: Any) -> list[str]:
    """Every text in a stored document, its field names included, however deeply nested."""
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in [str(k), *stored_strings(v)]]
    if isinstance(value, list | tuple):
        return [text for item in value for text in stored_strings(item)]
    return [value] if isinstance(value, str) else []


def assert_nowhere(secrets: list[str], documents: list[dict[str, Any]]) -> None:
    texts = [text for document in documents for text in stored_strings(document)]
    for secret in secrets:
        # the whole secret, or its key without the whsec_ prefix, in any field
        key = secret.removeprefix("whsec_")
        assert not [text for text in texts if key in text], "a secret is stored in clear"


async def test_secrets_are_sealed_at_rest_shown_once_and_still_sign(
    notify: tuple[httpx.AsyncClient, Runtime],
    receiver: tuple[Receiver, str],
    service_db: Callable[..., Any],
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    subscription = await subscribe(client, f"{url}/hook")
    first = subscription["secret"]
    rotated = await client.post(
        f"/v1/subscriptions/{subscription['id']}/rotate-secret", headers=INTEGRATOR
    )
    assert rotated.status_code == 200, rotated.text
    assert set(rotated.json()) == {"secret", "previous_secret_until"}
    second = rotated.json()["secret"]
    assert second.startswith("whsec_")

    # read back as they are stored, with PyMongo, past the service's own models
    raw = service_db("notify")
    documents = [doc async for doc in raw[SUBSCRIPTIONS].find({})]
    assert [doc["_id"] for doc in documents] == [subscription["id"]]
    assert_nowhere([first, second], documents)
    [document] = documents
    assert "secret" not in document
    assert "previous_secret" not in document
    assert document["secret_sealed"].startswith("gAAAAA")  # a Fernet token
    assert document["previous_secret_sealed"].startswith("gAAAAA")

    # never shown again: neither by GET nor by the list
    path = f"/v1/subscriptions/{subscription['id']}"
    for shown in [await client.get(path, headers=INTEGRATOR),
                  await client.get("/v1/subscriptions", headers=INTEGRATOR)]:  # fmt: skip
        assert shown.status_code == 200, shown.text
        assert first.removeprefix("whsec_") not in shown.text
        assert second.removeprefix("whsec_") not in shown.text
        assert "secret_sealed" not in shown.text

    # opened in memory to sign: the receiver verifies with what it was shown
    event = comment_published("c16")
    await runtime.publisher.publish_public(event)
    await eventually(lambda: len(endpoint.requests) == 1)
    _, headers, body = endpoint.requests[0]
    assert_signed(second, headers, body, event)
    assert_signed(first, headers, body, event)  # the rotation's overlap
    assert_nowhere([first, second], [doc async for doc in raw[DELIVERIES].find({})])


async def test_a_legacy_clear_secret_keeps_signing_and_is_sealed_when_rotated(
    notify: tuple[httpx.AsyncClient, Runtime],
    receiver: tuple[Receiver, str],
    service_db: Callable[..., Any],
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    legacy = "whsec_" + "bGVnYWN5LXNlY3JldC1zdG9yZWQtaW4tY2xlYXIhISE="
    raw = service_db("notify", tz_aware=True)
    # as the notify before sealing wrote it
    await raw[SUBSCRIPTIONS].insert_one(
        {
            "_id": "legacy-1",
            "url": f"{url}/legacy",
            "event_types": ["kolot.comment.published"],
            "campaign_id": None,
            "description": None,
            "secret": legacy,
            "owner": "dev",
            "created_at": datetime.now(UTC),
            "state": "active",
            "state_reason": None,
            "state_changed_at": None,
            "consecutive_failures": 0,
            "previous_secret": None,
            "previous_secret_until": None,
        }
    )
    shown = await client.get("/v1/subscriptions/legacy-1", headers=INTEGRATOR)
    assert shown.status_code == 200, shown.text
    assert legacy.removeprefix("whsec_") not in shown.text

    first = comment_published("c17")
    await asyncio.sleep(0.6)  # the consumer's subscription list is refreshed every 0.5 s
    await runtime.publisher.publish_public(first)
    await eventually(lambda: len(endpoint.ids_on("/legacy")) == 1)
    _, headers, body = endpoint.requests[0]
    assert_signed(legacy, headers, body, first)

    rotated = await client.post("/v1/subscriptions/legacy-1/rotate-secret", headers=INTEGRATOR)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    stored = await raw[SUBSCRIPTIONS].find_one({"_id": "legacy-1"})
    assert_nowhere([legacy, new], [stored])
    assert "secret" not in stored
    assert "previous_secret" not in stored

    second = comment_published("c17")
    await asyncio.sleep(1.1)  # the delivery worker rereads subscriptions once a second
    await runtime.publisher.publish_public(second)
    await eventually(lambda: len(endpoint.ids_on("/legacy")) == 2)
    _, headers, body = endpoint.requests[1]
    assert_signed(new, headers, body, second)
    assert_signed(legacy, headers, body, second)  # the old one, now sealed, for the overlap


async def test_a_secret_no_key_opens_fails_its_deliveries_clearly_and_sends_nothing(
    notify: tuple[httpx.AsyncClient, Runtime],
    receiver: tuple[Receiver, str],
    service_db: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, runtime = notify
    endpoint, url = receiver
    lost = await subscribe(client, f"{url}/lost")
    kept = await subscribe(client, f"{url}/kept")
    # sealed with a key KOLOT_CONTACT_KEYS no longer holds
    removed_key = ContactSealer(Fernet.generate_key().decode())
    raw = service_db("notify")
    await raw[SUBSCRIPTIONS].update_one(
        {"_id": lost["id"]},
        {"$set": {"secret_sealed": SecretSealer(removed_key).seal(lost["secret"])}},
    )
    event = comment_published("c18")
    await runtime.publisher.publish_public(event)

    await eventually(lambda: statuses_are(client, lost["id"], ["failed"]))
    [entry] = await delivery_log(client, lost["id"])
    assert entry["attempts"] == 3
    assert entry["last_status_code"] is None
    assert "KOLOT_CONTACT_KEYS" in entry["last_error"]
    assert endpoint.ids_on("/lost") == []  # never sent, unsigned or otherwise
    assert [r for r in caplog.records if r.levelname == "ERROR" and "KOLOT_CONTACT_KEYS" in
            r.getMessage()]  # fmt: skip
    # the worker goes on with the others
    await eventually(lambda: statuses_are(client, kept["id"], ["delivered"]))
    _, headers, body = endpoint.requests[-1]
    assert_signed(kept["secret"], headers, body, event)

    # rotating gives it a secret that opens again (the lost one cannot sign beside it)
    rotated = await client.post(f"/v1/subscriptions/{lost['id']}/rotate-secret", headers=INTEGRATOR)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_until"] is None
    tested = await client.post(f"/v1/subscriptions/{lost['id']}/test", headers=INTEGRATOR)
    assert tested.json()["delivered"] is True
    _, headers, body = endpoint.requests[-1]
    Webhook(rotated.json()["secret"]).verify(body, headers)
