"""Hostile request bodies on every service's write routes: oversized (413, nothing stored), deeply
nested, huge numbers, broken or tricky UTF-8, lone surrogates, wrong content types. Each is a
4xx problem, never a 500, and the service still answers a good request afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest

from kolot.common.auth import Role
from kolot.common.problems import PROBLEM_BASE
from tests.conftest import running_app, staff_headers
from tests.integration.contract.services import build_app
from tests.integration.contract.test_authorisation import assert_problem
from tests.integration.intake.flows import open_campaign, participant

pytestmark = pytest.mark.integration

LIMIT: Final = 256 * 1024  # every service's default body limit (max_body_bytes)


@dataclass(frozen=True)
class Write:
    """A write route, a valid body with ``@S@`` where a string goes, and where to count what
    is stored (to prove a refused body stored nothing)."""

    service: str
    path: str
    template: str
    listing: str | None


def hostile_bodies(template: str) -> Iterator[tuple[str, bytes, str]]:
    """(name, body, content type): each must be refused with a 4xx problem."""
    json_type = "application/json"

    def slot(raw: str) -> bytes:
        return template.replace("@S@", raw).encode()

    depth = 100_000
    yield "100,000 nested arrays", b"[" * depth + b"]" * depth, json_type
    nested = b'{"a":' * 40_000 + b"1" + b"}" * 40_000
    yield "40,000 nested objects", nested, json_type
    yield "nested arrays in a string's place", slot("[" * 50_000 + "]" * 50_000), json_type
    yield "a 5,000-digit integer", b'{"n": ' + b"9" * 5000 + b"}", json_type
    yield "a 5,000-digit integer in a string's place", slot("9" * 5000), json_type
    yield "1e400 in a string's place", slot("1e400"), json_type
    yield "-1e400 in a string's place", slot("-1e400"), json_type
    yield "NaN in a string's place", slot("NaN"), json_type
    yield "Infinity in a string's place", slot("Infinity"), json_type
    yield "invalid UTF-8", slot('"caf\xe9"').replace(b"\xc3\xa9", b"\xe9"), json_type
    yield "overlong UTF-8 for '/'", slot('"a"').replace(b'"a"', b'"a\xc0\xafb"'), json_type
    yield "a lone surrogate", slot('"bad \\ud800 text"'), json_type
    yield "a reversed surrogate pair", slot('"bad \\udc00\\ud800 text"'), json_type
    yield "truncated JSON", slot('"x"')[:-3], json_type
    yield "JSON null", b"null", json_type
    yield "a bare string", b'"text"', json_type
    yield "a bare number", b"42", json_type
    yield "an empty body", b"", json_type
    yield "as text/plain", slot('"x"'), "text/plain"
    yield "as a form", b"text=hello&title=world", "application/x-www-form-urlencoded"
    yield "as multipart", b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"
    yield "as XML", b"<comment><text>x</text></comment>", "application/xml"
    yield "no content type", slot('"x"'), ""


def assert_client_error(response: httpx.Response, name: str) -> None:
    assert 400 <= response.status_code < 500, (
        f"{name}: {response.status_code} {response.text[:300]}"
    )
    assert response.headers["content-type"] == "application/problem+json", name
    assert str(response.json()["type"]).startswith(PROBLEM_BASE), name


async def count(client: httpx.AsyncClient, listing: str | None, headers: dict[str, str]) -> int:
    if listing is None:
        return 0
    response = await client.get(listing, headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def chunks(body: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def hammer(
    client: httpx.AsyncClient,
    write: Write,
    headers: dict[str, str],
    subtests: pytest.Subtests,
) -> None:
    """Every hostile body against ``write``; then a good one still gets through."""
    before = await count(client, write.listing, headers)
    oversized = write.template.replace("@S@", '"' + "x" * LIMIT + '"').encode()
    with subtests.test(msg=f"{write.service} {write.path}: oversized, with Content-Length"):
        response = await client.post(
            write.path,
            content=oversized,
            headers={**headers, "content-type": "application/json"},
        )
        assert_problem(response, 413)
        assert response.json()["max_bytes"] == LIMIT
    with subtests.test(msg=f"{write.service} {write.path}: oversized, chunked"):
        response = await client.post(
            write.path,
            content=chunks(oversized),
            headers={**headers, "content-type": "application/json"},
        )
        assert_problem(response, 413)
    for name, body, content_type in hostile_bodies(write.template):
        with subtests.test(msg=f"{write.service} {write.path}: {name}"):
            sent = {**headers, **({"content-type": content_type} if content_type else {})}
            response = await client.post(write.path, content=body, headers=sent)
            assert_client_error(response, name)
    with subtests.test(msg=f"{write.service} {write.path}: UTF-16 is read or refused, no 5xx"):
        # RFC 8259 asks for UTF-8, but JSON parsers may read UTF-16: either answer is fine
        utf16 = write.template.replace("@S@", '"A fair point"').encode("utf-16")
        response = await client.post(
            write.path, content=utf16, headers={**headers, "content-type": "application/json"}
        )
        assert response.status_code < 500, response.text[:300]
        if response.status_code >= 400:
            assert_client_error(response, "UTF-16")
        before = await count(client, write.listing, headers)
    with subtests.test(msg=f"{write.service} {write.path}: nothing stored"):
        assert await count(client, write.listing, headers) == before
    with subtests.test(msg=f"{write.service} {write.path}: a good body still passes"):
        good = write.template.replace("@S@", '"A fair point"').encode()
        response = await client.post(
            write.path, content=good, headers={**headers, "content-type": "application/json"}
        )
        assert response.status_code in {200, 201, 202}, response.text[:300]


async def test_intake_refuses_hostile_bodies(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    admin = staff_headers(Role.ADMIN)
    # a participant's allowance is spent on bodies here; the limits have tests of their own
    unlimited = {"rate_participant_per_minute": 1e6, "rate_participant_burst": 100_000}
    async with running_app(build_app("intake", make_settings, **unlimited)) as client:
        campaigns = Write(
            "intake", "/v1/campaigns", '{"title": {"en": @S@}, "flag_threshold": 3}', None
        )
        await hammer(client, campaigns, admin, subtests)
        # drafts are listed for admins only: the count proves no refused body made one
        listed = await client.get("/v1/campaigns", headers=admin)
        assert listed.status_code == 200
        titles = [c["title"]["en"] for c in listed.json()["items"]]
        assert set(titles) == {"A fair point"}, titles

        campaign_id = await open_campaign(client)
        author = await participant(client)
        comments = Write("intake", f"/v1/campaigns/{campaign_id}/comments", '{"text": @S@}', None)
        await hammer(client, comments, author, subtests)

        # meeting uploads take 20 MiB: deep nesting and long numbers are read, then refused
        uploads = {
            "100,000 nested arrays": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
            "a 5,000-digit number": (b'[{"kind": ' + b"9" * 5000 + b"}]", "application/json"),
            "invalid UTF-8": (b"kind,text\ncomment,caf\xe9\n", "text/csv"),
            "XML": (b"<rows/>", "application/xml"),
        }
        for name, (body, content_type) in uploads.items():
            with subtests.test(msg=f"upload: {name}"):
                response = await client.post(
                    f"/v1/campaigns/{campaign_id}/uploads",
                    content=body,
                    headers={**admin, "content-type": content_type},
                )
                assert_client_error(response, name)


async def test_moderation_refuses_hostile_bodies(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    async with running_app(build_app("moderation", make_settings)) as client:
        decisions = Write(
            "moderation",
            "/v1/decisions",
            '{"comment_ids": ["c-1"], "decision": "reject", "reason": @S@}',
            "/v1/audit",
        )
        await hammer(client, decisions, staff_headers(Role.MODERATOR), subtests)


async def test_notify_refuses_hostile_bodies(
    make_settings: Callable[..., Any], subtests: pytest.Subtests
) -> None:
    settings = {"webhook_allowed_hosts": ("127.0.0.1",)}
    async with running_app(build_app("notify", make_settings, **settings)) as client:
        subscriptions = Write(
            "notify",
            "/v1/subscriptions",
            '{"url": "http://127.0.0.1:9/hooks", "event_types": ["kolot.comment.published"],'
            ' "description": @S@}',
            "/v1/subscriptions",
        )
        await hammer(client, subscriptions, staff_headers(Role.INTEGRATOR), subtests)


async def test_metrics_refuses_oversized_bodies(make_settings: Callable[..., Any]) -> None:
    # metrics has no write route; a body sent anyway is still cut off at the edge
    async with running_app(build_app("metrics", make_settings)) as client:
        response = await client.request(
            "GET",
            "/v1/campaigns/c-1/stats",
            content=b"x" * (LIMIT + 1),
            headers=staff_headers(Role.ANALYST),
        )
        assert_problem(response, 413)
