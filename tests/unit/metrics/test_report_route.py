"""How the report route answers a browser without a token, and the page's own files (no servers)."""

from __future__ import annotations

import httpx
import pytest

from kolot.metrics.assets import assets
from tests.conftest import staff_headers

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


async def test_a_browser_without_a_token_gets_the_sign_in_page_and_no_figure(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/v1/campaigns/c1/report", headers={"Accept": BROWSER, "Accept-Language": "ar,en;q=0.5"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in response.text
    assert 'id="login"' in response.text
    assert 'id="totals"' not in response.text
    policy = response.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "no-store" in response.headers["cache-control"]


async def test_lang_chooses_the_sign_in_page_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/campaigns/c1/report?lang=en", headers={"Accept": BROWSER})

    assert '<html lang="en" dir="ltr">' in response.text


async def test_an_api_client_without_a_token_is_still_refused(client: httpx.AsyncClient) -> None:
    for accept in ("application/json", "*/*", "text/html;q=0.5, application/json"):
        response = await client.get("/v1/campaigns/c1/report", headers={"Accept": accept})
        assert response.status_code == 401, accept
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ("token=", 422, "Paste a token first."),
        ("token=not-a-jwt", 401, "This token is not valid or has expired."),
        (None, 403, "an analyst token is needed"),
    ],
)
async def test_a_token_posted_without_a_script_is_refused_on_the_sign_in_page(
    client: httpx.AsyncClient, form: str | None, status: int, message: str
) -> None:
    if form is None:
        form = "token=" + staff_headers("moderator")["Authorization"].removeprefix("Bearer ")
    response = await client.post(
        "/v1/campaigns/c1/report?lang=en",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == status
    assert 'id="login"' in response.text
    assert message in response.text
    assert "content-security-policy" in response.headers


async def test_the_page_files_are_kept_a_year_under_their_version(
    client: httpx.AsyncClient,
) -> None:
    files = assets()
    css = await client.get(files.url("report.css"))
    js = await client.get(files.url("report.js"))

    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.content == files.files["report.js"]
    # a page of another release gets the current file, not kept
    old = await client.get("/static/0123456789ab/report.css")
    assert old.status_code == 200
    assert old.headers["cache-control"] == "no-cache"
    missing = await client.get(f"/static/{files.version}/passwords.txt")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
