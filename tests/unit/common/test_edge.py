"""The body size limit at the edge: a 413 problem, up front or as soon as the body passes it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.types import Message

from kolot.common.edge import BodyLimit
from kolot.common.problems import PROBLEM_BASE, install_problem_handlers
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings, development_environment
from kolot.common.web import create_app

PROBLEM_JSON = "application/problem+json"
LIMIT = 1024
BULK = r"/v1/campaigns/[^/]+/bulk"


def echo_app() -> tuple[FastAPI, list[int]]:
    """An app that counts its calls and answers with the size of the body it read."""
    app = FastAPI()
    install_problem_handlers(app)
    calls: list[int] = []

    @app.post("/{path:path}")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        calls.append(len(body))
        return {"size": len(body)}

    return app, calls


@pytest.fixture
def app_and_calls() -> tuple[FastAPI, list[int]]:
    return echo_app()


@pytest.fixture
async def client(app_and_calls: tuple[FastAPI, list[int]]) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = app_and_calls
    edge = BodyLimit(app, default=LIMIT, overrides=[(BULK, 4 * LIMIT)])
    transport = httpx.ASGITransport(app=edge)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def too_large(response: httpx.Response, limit: int) -> dict[str, Any]:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["connection"] == "close"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + "too-large"
    assert body["status"] == 413
    assert body["title"] == "Request too large"
    assert body["max_bytes"] == limit
    assert body["instance"] == response.request.url.path
    return body


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    """A body without Content-Length (httpx sends it chunked)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b"x" * part


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, list[int]]
) -> None:
    response = await client.post("/v1/comments", content=b"x" * (LIMIT + 1))

    body = too_large(response, LIMIT)
    assert "1 KiB" in body["detail"]
    assert "split" in body["detail"]
    assert app_and_calls[1] == []


@pytest.mark.parametrize("size", [0, 1, LIMIT])
async def test_a_body_within_the_limit_reaches_the_app_whole(
    client: httpx.AsyncClient, size: int
) -> None:
    response = await client.post("/v1/comments", content=b"x" * size)

    assert response.status_code == 200, response.text
    assert response.json() == {"size": size}


async def test_a_streamed_body_over_the_limit_is_cut_off_with_a_413(
    client: httpx.AsyncClient,
    app_and_calls: tuple[FastAPI, list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        response = await client.post("/v1/comments", content=chunks(LIMIT + 1))

    assert "content-length" not in response.request.headers
    too_large(response, LIMIT)
    # the app never got a whole body, and its answer to the cut-off one was not sent
    assert app_and_calls[1] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_streamed_body_within_the_limit_reaches_the_app_whole(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/comments", content=chunks(LIMIT))

    assert response.status_code == 200, response.text
    assert response.json() == {"size": LIMIT}


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
async def test_a_path_override_allows_a_larger_body_there_only(
    client: httpx.AsyncClient, streamed: bool
) -> None:
    def body(size: int) -> Any:
        return chunks(size) if streamed else b"x" * size

    allowed = await client.post("/v1/campaigns/c1/bulk", content=body(4 * LIMIT))
    over = await client.post("/v1/campaigns/c1/bulk", content=body(4 * LIMIT + 1))
    elsewhere = await client.post("/v1/campaigns/c1/bulk/more", content=body(LIMIT + 1))

    assert allowed.status_code == 200, allowed.text
    assert allowed.json() == {"size": 4 * LIMIT}
    assert "4 KiB" in too_large(over, 4 * LIMIT)["detail"]
    too_large(elsewhere, LIMIT)  # the regex matches the whole path, not a prefix


async def test_the_first_matching_override_wins() -> None:
    app, _ = echo_app()
    edge = BodyLimit(app, default=10, overrides=[(r"/a/.*", 100), (r"/a/b", 1000)])

    assert edge.limit_for("/a/b") == 100
    assert edge.limit_for("/b") == 10


async def test_a_content_length_that_is_not_a_number_is_a_400_problem() -> None:
    app, calls = echo_app()
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/comments",
        "headers": [(b"content-length", b"-5")],
    }
    await BodyLimit(app, default=LIMIT)(scope, receive, send)

    assert sent[0]["status"] == 400
    assert (b"content-type", PROBLEM_JSON.encode()) in sent[0]["headers"]
    assert calls == []


async def test_nothing_past_the_limit_is_read_from_the_client() -> None:
    """The edge stops pulling chunks from the server once the limit is passed."""
    app, _ = echo_app()
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}  # endless

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/comments",
        "raw_path": b"/v1/comments",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await BodyLimit(app, default=LIMIT)(scope, receive, send)

    assert pulled == LIMIT // 100 + 1
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413


def test_a_negative_limit_is_refused() -> None:
    app, _ = echo_app()
    with pytest.raises(ValueError, match="at least 0"):
        BodyLimit(app, default=-1)
    with pytest.raises(ValueError, match="at least 0"):
        BodyLimit(app, default=1, overrides=[("/x", -1)])


def service_settings(**overrides: Any) -> ServiceSettings:
    env = {k.removeprefix("KOLOT_").lower(): v for k, v in development_environment().items()}
    env["environment"] = env.pop("env")
    return ServiceSettings(
        service_name="edge-test",
        nats_url="nats://127.0.0.1:1",
        mongodb_url="mongodb://127.0.0.1:1",
        **{**env, **overrides},
    )


def test_every_service_has_a_quarter_mebibyte_limit_by_default() -> None:
    assert service_settings().max_body_bytes == 256 * 1024


async def test_create_app_limits_bodies_by_settings_and_per_route() -> None:
    router = APIRouter()

    @router.post("/v1/things")
    async def things(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @router.post("/v1/campaigns/{campaign_id}/bulk")
    async def bulk(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    runtime = Runtime(service_settings(max_body_bytes=2048))
    # no lifespan: these routes need neither the bus nor the store
    app = create_app(
        runtime, title="t", description="d", routers=[router], body_limits=[(BULK, 8192)]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small = await client.post("/v1/things", content=b"x" * 2048)
        large = await client.post("/v1/things", content=b"x" * 2049)
        streamed = await client.post("/v1/things", content=chunks(2049))
        bulk_ok = await client.post("/v1/campaigns/c1/bulk", content=chunks(8192))
        bulk_over = await client.post("/v1/campaigns/c1/bulk", content=b"x" * 8193)

    assert small.json() == {"size": 2048}
    assert "2 KiB" in too_large(large, 2048)["detail"]
    too_large(streamed, 2048)
    assert bulk_ok.json() == {"size": 8192}
    assert "8 KiB" in too_large(bulk_over, 8192)["detail"]
