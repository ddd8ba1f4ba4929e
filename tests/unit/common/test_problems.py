"""RFC 9457 problem details: every error an API answers is ``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from kolot.common.auth import AuthError
from kolot.common.bus import BusUnavailable
from kolot.common.problems import PROBLEM_BASE, Problem, install_problem_handlers

PROBLEM_JSON = "application/problem+json"


class CommentCreate(BaseModel):
    text: str = Field(min_length=1, max_length=10)
    circle: str | None = None


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/comments", status_code=201)
    async def create(comment: CommentCreate) -> dict[str, str]:
        return {"text": comment.text}

    @app.get("/campaigns/{campaign_id}/count")
    async def count(campaign_id: str, limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/duplicate")
    async def duplicate() -> None:
        raise Problem(
            409,
            "duplicate-comment",
            "Already submitted",
            "This comment was already submitted.",
            headers={"Location": "/comments/cm1"},
            comment_id="cm1",
        )

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "No such campaign")

    @app.get("/bus")
    async def bus() -> None:
        raise BusUnavailable("events stream did not acknowledge: nats: timeout at 10.0.0.7:4222")

    @app.get("/auth")
    async def auth() -> None:
        raise AuthError("invalid staff token: Signature has expired")

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise AuthError("this call needs one of the roles: admin", status=403)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in mongodb://admin@10.0.0.5")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # Starlette re-raises an unhandled error after sending its 500 (so servers log it):
    # raise_app_exceptions=False shows the client what a real server would send
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["type"] == PROBLEM_BASE + kind
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["instance"] == response.request.url.path
    return body


async def test_an_invalid_body_is_a_422_with_the_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/comments", json={"text": "", "circle": 5})

    body = problem(response, 422, "validation")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {tuple(e["location"]) for e in errors} == {("body", "text"), ("body", "circle")}
    assert all(e["message"] and e["type"] for e in errors)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[]", "\u05e9\u05dc\u05d5\u05dd".encode()],
    ids=["broken", "empty", "array", "text"],
)
async def test_malformed_json_is_a_422_not_a_500(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/comments", content=content, headers={"content-type": "application/json"}
    )

    problem(response, 422, "validation")


async def test_a_bad_query_parameter_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/campaigns/c1/count", params={"limit": "many"})

    body = problem(response, 422, "validation")
    assert body["errors"] == [
        {
            "location": ["query", "limit"],
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        }
    ]


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    problem(await client.get("/nowhere"), 404, "not-found")


async def test_a_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/comments")

    problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"


async def test_an_http_exception_keeps_its_detail(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/missing"), 404, "not-found")

    assert body["detail"] == "No such campaign"


async def test_a_problem_answers_with_its_status_type_and_extensions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/duplicate")

    body = problem(response, 409, "duplicate-comment")
    assert body["title"] == "Already submitted"
    assert body["detail"] == "This comment was already submitted."
    assert body["comment_id"] == "cm1"
    assert response.headers["location"] == "/comments/cm1"


async def test_bus_unavailable_is_a_503_to_retry(client: httpx.AsyncClient) -> None:
    response = await client.get("/bus")

    body = problem(response, 503, "bus-unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert "same Idempotency-Key" in str(body["detail"])  # what makes the retry safe
    assert "10.0.0.7" not in response.text


async def test_auth_errors_are_401_with_a_challenge_or_403(client: httpx.AsyncClient) -> None:
    unauthenticated = await client.get("/auth")
    forbidden = await client.get("/forbidden")

    assert problem(unauthenticated, 401, "unauthenticated")["detail"] == (
        "invalid staff token: Signature has expired"
    )
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    assert problem(forbidden, 403, "forbidden")["detail"] == (
        "this call needs one of the roles: admin"
    )
    assert "www-authenticate" not in forbidden.headers


async def test_an_unexpected_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kolot.common.problems"):
        response = await client.get("/boom")

    problem(response, 500, "internal")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # the operators still get the whole story
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)
