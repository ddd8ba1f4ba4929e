"""The whole stack on servers of its own, for tests that kill, stop and restart its parts.

The fault tests share a NATS server and an nx-27017 server started here (never the session's
shared ones: these are stopped and restarted on the same ports and data directories), and the
four services as child processes against them, tuned so that a fault test runs in seconds: short
fetch waits, a short ack wait (a killed consumer's batch comes back after it), three deliveries
before a failing event is dead-lettered, and rate limits out of the way of the load.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerInfo
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kolot.devstack import LocalStack, MongoServer, NatsServer, ServiceGroup, free_port
from tests.conftest import staff_headers
from tests.e2e.stack import service_group
from tests.faults.load import Author, CommentLoad, register
from tests.local_server import serving

FAST_ENV = {
    "KOLOT_LOG_JSON": "false",
    "KOLOT_CONSUMER_BATCH_SIZE": "64",
    "KOLOT_CONSUMER_BATCH_TIMEOUT": "0.3",
    # a batch in the hands of a killed consumer is redelivered after this many seconds
    "KOLOT_CONSUMER_ACK_WAIT": "6",
    "KOLOT_CONSUMER_MAX_DELIVER": "3",
    "KOLOT_CONSUMER_BACKOFF": "[0.2, 0.5, 1.0]",
    "KOLOT_MONGODB_TIMEOUT": "2",
    "KOLOT_SNAPSHOT_INTERVAL": "0.5",
    "KOLOT_RATE_PARTICIPANT_PER_MINUTE": "100000",
    "KOLOT_RATE_PARTICIPANT_BURST": "10000",
    "KOLOT_RATE_ADDRESS_PER_MINUTE": "1000000",
    "KOLOT_RATE_ADDRESS_BURST": "100000",
    # a killed notify's claimed webhook deliveries are taken up again after the lease
    "KOLOT_WEBHOOK_TIMEOUT": "3",
    "KOLOT_WEBHOOK_LEASE": "5",
    # the load's clients stand behind a proxy on loopback, each at an address of their own
    "KOLOT_TRUSTED_PROXIES": '["127.0.0.1/32"]',
}
_CONSUMERS = ("moderation-comments", "metrics-all", "notify-participants", "intake-comments")
DECIDED = frozenset({"published", "rejected", "hidden", "clustered"})


@dataclass
class FaultStack:
    """The servers and services of one test module, and what the tests ask of them."""

    servers: LocalStack
    services: ServiceGroup
    http: httpx.AsyncClient

    @property
    def nats(self) -> NatsServer:
        assert self.servers.nats is not None
        return self.servers.nats

    @property
    def mongo(self) -> MongoServer:
        assert self.servers.mongo is not None
        return self.servers.mongo

    @property
    def namespace(self) -> str:
        return self.services.namespace

    def stream(self, kind: str) -> str:
        return f"{self.namespace.upper()}_{kind.upper()}"

    def url(self, service: str) -> str:
        return self.services[service].url

    # -- a consultation under load ---------------------------------------------------------

    async def open_campaign(self) -> str:
        admin = staff_headers("admin")
        created = await self.http.post(
            f"{self.url('intake')}/v1/campaigns",
            json={
                "title": {"he": "תחבורה ציבורית בנגב", "en": "Public transport in the Negev"},
                "purpose": {"en": "To hear residents before the lines change"},
                "use_of_input": {"en": "The ministry publishes what it changed"},
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        campaign_id: str = created.json()["id"]
        opened = await self.http.post(
            f"{self.url('intake')}/v1/campaigns/{campaign_id}/open", headers=admin
        )
        assert opened.status_code == 200, opened.text
        # intake learns that the campaign is open from the bus: wait until it takes comments
        probe = (await self.authors(1))[0]
        await eventually(
            lambda: self._accepts_comments(campaign_id, probe),
            what=f"campaign {campaign_id} taking comments",
        )
        return campaign_id

    async def _accepts_comments(self, campaign_id: str, author: Author) -> bool:
        # a malformed body: 422 once the campaign is known and open, 404/409 before
        response = await self.http.post(
            f"{self.url('intake')}/v1/campaigns/{campaign_id}/comments",
            json={"text": ""},
            headers=author.headers,
        )
        return response.status_code == 422

    async def authors(self, count: int) -> list[Author]:
        found = []
        for _ in range(count):
            author = await register(self.http, self.url("intake"))
            assert author is not None, "intake registers no participant"
            found.append(author)
        return found

    def load(self, campaign_id: str, authors: list[Author], **options: Any) -> CommentLoad:
        return CommentLoad(self.http, self.url("intake"), campaign_id, authors, **options).start()

    async def stats(self, campaign_id: str) -> dict[str, Any]:
        response = await self.http.get(
            f"{self.url('metrics')}/v1/campaigns/{campaign_id}/stats",
            headers=staff_headers("analyst"),
        )
        assert response.status_code == 200, response.text
        stats: dict[str, Any] = response.json()
        return stats

    # -- the bus, read directly ------------------------------------------------------------

    async def stored(self, subject: str, *, stream: str = "events") -> list[tuple[int, Any]]:
        """Every message stored on ``subject`` so far: (stream sequence, headers and payload)."""
        nc = NATS()
        await nc.connect(self.nats.url, allow_reconnect=False)
        found: list[tuple[int, Any]] = []
        try:
            sub = await nc.jetstream().pull_subscribe(subject, stream=self.stream(stream))
            try:
                while True:
                    for msg in await sub.fetch(500, timeout=0.5):
                        found.append((msg.metadata.sequence.stream, msg))
                        await msg.ack()
            except TimeoutError:
                pass
            await sub.unsubscribe()
        finally:
            await nc.close()
        return found

    async def submitted_texts(self, campaign_id: str) -> dict[str, str]:
        """The comments of a campaign on the bus (``comment.submitted``): id -> text."""
        subject = f"{self.namespace}.events.comment.submitted.{campaign_id}"
        stored = [json.loads(msg.data)["data"] for _, msg in await self.stored(subject)]
        return {data["comment_id"]: data["text"] for data in stored}

    async def decided_ids(self, campaign_id: str) -> set[str]:
        """The comments moderation has published a decision on (``comment.moderated``)."""
        subject = f"{self.namespace}.events.comment.moderated.{campaign_id}"
        return {json.loads(msg.data)["data"]["comment_id"] for _, msg in await self.stored(subject)}

    async def consumer(self, name: str, *, stream: str = "events") -> ConsumerInfo:
        nc = NATS()
        await nc.connect(self.nats.url, allow_reconnect=False)
        try:
            return await nc.jetstream().consumer_info(self.stream(stream), name)
        finally:
            await nc.close()

    async def wait_mid_batch(self, consumer: str, *, stream: str = "events") -> ConsumerInfo:
        """Wait until ``consumer`` holds delivered messages it has not acknowledged yet."""

        async def in_hand() -> ConsumerInfo | None:
            info = await self.consumer(consumer, stream=stream)
            return info if info.num_ack_pending > 0 else None

        found: ConsumerInfo = await eventually(
            in_hand, timeout=30, interval=0.02, what=f"{consumer} holding a batch"
        )
        return found

    # -- the invariants ------------------------------------------------------------------

    async def settle(
        self,
        campaign_id: str,
        accepted: Mapping[str, Author],
        *,
        also: Collection[str] = (),
        timeout: float = 90.0,
    ) -> dict[str, Any]:
        """Every accepted comment (and those in ``also``, put on the bus by the test) ends decided
        and counted exactly once; nothing that was not accepted is there. Returns the stats."""
        expected = set(accepted) | set(also)
        assert expected, "the load got nothing accepted: no fault was tested"

        seen: dict[str, Any] = {}

        async def counted() -> dict[str, Any] | None:
            stats = await self.stats(campaign_id)
            comments = seen["comments"] = stats["comments"]
            done = comments["submitted"] >= len(expected) and comments["pending"] == 0
            return stats if done else None

        try:
            await eventually(counted, timeout=timeout, what=f"{len(expected)} comments counted")
        except AssertionError as exc:
            lag = {name: await self._lag(name) for name in _CONSUMERS}
            raise AssertionError(f"{exc}; metrics: {seen}; consumers: {lag}") from None
        decided = await eventually(
            lambda: self._all_decided(campaign_id, expected),
            timeout=30,
            what="a comment.moderated for every accepted comment",
        )
        assert decided == expected, (
            f"lost (accepted, never decided): {sorted(expected - decided)[:5]}; "
            f"stored though never accepted: {sorted(decided - expected)[:5]}"
        )
        await self._authors_see_decisions(accepted)
        await asyncio.sleep(1.0)  # a second count of anything would land by now
        stats = await self.stats(campaign_id)
        comments = stats["comments"]
        assert comments["submitted"] == len(expected), comments
        assert sum(comments["by_status"].values()) == len(expected), comments
        assert comments["pending"] == 0, comments
        # shown with -s: the figures docs/benchmarks.md quotes
        print(
            f"\n{campaign_id}: {len(expected)} comments decided and counted once, "
            f"by status { ({k: v for k, v in comments['by_status'].items() if v}) }"
        )
        return stats

    async def _all_decided(self, campaign_id: str, expected: set[str]) -> set[str] | None:
        decided = await self.decided_ids(campaign_id)
        return decided if decided >= expected else None

    async def _authors_see_decisions(self, accepted: Mapping[str, Author]) -> None:
        """Each author's own view (``GET /v1/comments/{id}``) shows the decision."""
        waiting = dict(accepted)
        gate = asyncio.Semaphore(8)

        async def status_of(comment_id: str, author: Author) -> str:
            async with gate:
                response = await self.http.get(
                    f"{self.url('intake')}/v1/comments/{comment_id}", headers=author.headers
                )
            if response.status_code == 404:
                return "missing"
            assert response.status_code == 200, response.text
            status: str = response.json()["status"]
            return status

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while waiting:
            statuses = await asyncio.gather(*(status_of(c, a) for c, a in waiting.items()))
            undecided = {c: s for c, s in zip(waiting, statuses, strict=True) if s not in DECIDED}
            if not undecided:
                return
            assert loop.time() < deadline, (
                f"{len(undecided)} authors still see no decision, e.g. "
                f"{list(undecided.items())[:3]}"
            )
            waiting = {c: waiting[c] for c in undecided}
            await asyncio.sleep(0.5)

    async def _lag(self, name: str) -> str:
        try:
            info = await self.consumer(name)
        except Exception as exc:
            return repr(exc)
        return f"pending {info.num_pending}, unacked {info.num_ack_pending}"

    def assert_healthy(self) -> None:
        exited = self.services.exited()
        assert not exited, f"services died: {exited}"


async def eventually(
    check: Any, *, timeout: float = 30.0, interval: float = 0.25, what: str = "condition"
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s (last: {last!r})")
        await asyncio.sleep(interval)


def assert_problem_503(answer: Any) -> None:
    """A 503 that tells the client what happened and when to come back (RFC 9457)."""
    assert answer.retry_after is not None, answer
    assert int(answer.retry_after) > 0, answer
    assert answer.content_type.startswith("application/problem+json"), answer
    assert answer.problem is not None, answer
    assert answer.problem.get("status") == 503, answer
    assert answer.problem.get("title"), answer
    assert answer.problem.get("type"), answer


@pytest.fixture(scope="package")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """NATS and nx-27017 of this module's own, in a data directory kept across restarts."""
    stack = LocalStack(data_dir=tmp_path_factory.mktemp("faults-servers"))
    with stack:
        yield stack


@pytest.fixture(scope="package")
def services(
    servers: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceGroup]:
    log_dir: Path = tmp_path_factory.mktemp("faults-logs")
    group = service_group(
        servers.nats_url, servers.mongo_url, prefix="f", log_dir=log_dir, env=FAST_ENV
    )
    with group:
        yield group


@pytest.fixture(scope="package")
async def faults(servers: LocalStack, services: ServiceGroup) -> AsyncIterator[FaultStack]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(15.0), trust_env=False) as http:
        stack = FaultStack(servers, services, http)
        yield stack


@dataclass
class Receiver:
    """A ministry's webhook endpoint on localhost: what notify delivered to it, by webhook-id."""

    url: str
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: int = 0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(url=f"http://127.0.0.1:{port}/hooks/kolot")

    async def hook(request: Request) -> Response:
        found.attempts += 1
        # a receiver keeps one delivery per webhook-id (Standard Webhooks): retries are allowed
        found.deliveries[request.headers["webhook-id"]] = json.loads(await request.body())
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hooks/kolot", hook, methods=["POST"])])
    async with serving(app, port=port):
        yield found
