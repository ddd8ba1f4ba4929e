"""What every browser test checks of a page: accessibility, direction, and a screenshot."""

from __future__ import annotations

import os
import re
from pathlib import Path

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("KOLOT_TEST_ARTEFACTS", ROOT / "test-artefacts")) / "browser"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
_axe = Axe()


async def save_screenshot(page: Page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    if not page.is_closed():
        await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_accessible(page: Page, *, exclude: tuple[str, ...] = ()) -> None:
    """No axe-core violation of WCAG 2.0-2.2 level A and AA on the page as it is now."""
    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}
    results = await _axe.run(page, context=context, options=options)
    assert results.violations_count == 0, results.generate_report()


async def assert_direction(page: Page, *, lang: str) -> None:
    """The document says its language, and is right to left for Hebrew and Arabic."""
    html = page.locator("html")
    assert await html.get_attribute("lang") == lang
    assert await html.get_attribute("dir") == ("rtl" if lang in ("he", "ar") else "ltr")
