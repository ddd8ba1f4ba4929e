"""The moderators' console page and its files, and the highlights its queue shows (no servers)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kolot.common.problems import install_problem_handlers
from kolot.moderation import console
from kolot.moderation.pipeline.highlight import highlight
from kolot.moderation.pipeline.redact import redact
from kolot.moderation.pipeline.statements import REJECTION_REASONS


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(console.router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


def csp_directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


async def test_the_page_is_served_with_a_strict_policy_and_security_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = csp_directives(response.headers["content-security-policy"])
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    # no inline script: the only scripts are the page's file and its JSON data block
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert len(scripts) == 2
    assert any('type="application/json"' in s for s in scripts)
    assert any(re.search(r'src="/console/assets/[0-9a-f]{12}/console\.js"', s) for s in scripts)
    assert " style=" not in response.text
    assert "<style" not in response.text


@pytest.mark.parametrize(
    ("query", "lang", "direction", "title"),
    [
        ("", "he", "rtl", "מסוף מנחים"),
        ("?lang=he", "he", "rtl", "מסוף מנחים"),
        ("?lang=ar", "ar", "rtl", "لوحة المشرفين"),
        ("?lang=en", "en", "ltr", "Moderator console"),
        ("?lang=fr", "he", "rtl", "מסוף מנחים"),
    ],
)
async def test_the_page_speaks_the_language_asked_for(
    client: httpx.AsyncClient, query: str, lang: str, direction: str, title: str
) -> None:
    response = await client.get(f"/console{query}")
    assert f'<html lang="{lang}" dir="{direction}">' in response.text
    assert f"<h1>{title}</h1>" in response.text
    data = json.loads(re.search(r'id="console-data">(.*?)</script>', response.text, re.S)[1])  # type: ignore[index]
    assert data["lang"] == lang
    # the keys 1-9 reject with the taxonomy's reasons, each with a statement in every language
    assert [r["key"] for r in data["reasons"]] == list(REJECTION_REASONS)
    assert all(set(r["statements"]) == {"he", "ar", "en"} for r in data["reasons"])
    assert set(data["approved"]) == {"he", "ar", "en"}


def test_every_string_is_in_every_language() -> None:
    for key, texts in console.STRINGS.items():
        assert set(texts) == {"he", "ar", "en"}, key
        assert all(text.strip() for text in texts.values()), key
        fields = {frozenset(re.findall(r"\{(\w+)\}", text)) for text in texts.values()}
        assert len(fields) == 1, f"{key}: the languages use different fields {fields}"


async def test_static_files_are_kept_for_a_year_under_their_version(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/console")
    for name, media in (("console.js", "text/javascript"), ("console.css", "text/css")):
        url = re.search(rf'"(/console/assets/[0-9a-f]+/{re.escape(name)})"', page.text)
        assert url is not None
        response = await client.get(url[1])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content == console.assets().files[name]
    # an older page's version gets the current file, but not to be kept
    old = await client.get("/console/assets/000000000000/console.js")
    assert old.status_code == 200
    assert old.headers["cache-control"] == "no-cache"
    missing = await client.get(f"/console/assets/{console.assets().version}/secrets.txt")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_stylesheet_uses_logical_properties_only() -> None:
    css = re.sub(r"/\*.*?\*/", "", console.assets().files["console.css"].decode(), flags=re.S)
    physical = re.findall(
        r"(?<![\w-])(?:margin|padding|border)-(?:left|right)\b|\b(?:left|right):", css
    )
    assert not physical
    assert "text-align: left" not in css
    assert "text-align: right" not in css


@pytest.mark.parametrize(
    ("text", "highlighted", "kinds"),
    [
        ("You are an idiot, write to dana@example.com", ["idiot"], ["email"]),
        ("אתה מטומטם ואידיוט", ["מטומטם", "ואידיוט"], []),
        # niqqud and look-alike letters: the span covers the text as written
        ("אַתָּה מְטֻמְטָם", ["מְטֻמְטָם"], []),
        ("Ｉｄｉｏｔ minister, call 050-1234567", ["Ｉｄｉｏｔ"], ["phone"]),
        ("sh1t policy 🙂 idiot", ["sh1t", "idiot"], []),
        ("Kill the project, it wastes money", [], []),
    ],
)
def test_highlights_are_spans_of_the_text_shown(
    text: str, highlighted: list[str], kinds: list[str]
) -> None:
    shown = redact(text).text
    found = highlight(shown)
    assert [shown[m.start : m.end] for m in found.matches] == highlighted
    assert [r.kind for r in found.redacted] == kinds
    assert all(shown[r.start : r.end].startswith("[") for r in found.redacted)
    spans = sorted(
        [(m.start, m.end) for m in found.matches] + [(r.start, r.end) for r in found.redacted]
    )
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "spans overlap"
    # the raw personal data never reaches the moderator
    assert "dana@example.com" not in shown
    assert "1234567" not in shown
