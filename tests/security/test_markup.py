"""Markup injection into intake's server-rendered participation page: what an admin types into a
consultation (or an attacker who stole an admin's token) is shown as text, never run as script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import pytest

from tests.conftest import running_app
from tests.integration.contract.services import build_app
from tests.integration.intake.flows import open_campaign

pytestmark = pytest.mark.integration

PAYLOADS: Final = [
    "<script>alert('title')</script>",
    '"><img src=x onerror=alert(1)>',
    "</title><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ 7*7 }}{% raw %}",  # template syntax must stay text as well
]


async def test_campaign_texts_are_escaped_on_the_participation_page(
    make_settings: Callable[..., Any],
) -> None:
    async with running_app(build_app("intake", make_settings)) as client:
        campaign_id = await open_campaign(
            client,
            title={"en": PAYLOADS[0], "he": PAYLOADS[2]},
            description={"en": " ".join(PAYLOADS)},
            purpose={"en": PAYLOADS[1]},
            organiser=PAYLOADS[3],
        )
        for language in ("en", "he"):
            page = await client.get(f"/c/{campaign_id}", params={"lang": language})
            assert page.status_code == 200, page.text[:300]
            assert page.headers["content-type"].startswith("text/html")
            html = page.text
            assert "<script>alert" not in html
            assert "<img src=x" not in html
            assert "<svg onload" not in html
            assert "&lt;script&gt;alert" in html or "&lt;svg onload" in html
            assert "{{ 7*7 }}" in html  # shown as typed, not evaluated
