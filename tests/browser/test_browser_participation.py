"""The participation page (intake's ``GET /c/{campaign_id}?lang=he|ar|en``), as citizens use it
on a phone, with JavaScript and without.

Stable hooks, for these tests and for the end-to-end flow (participation page -> console -> report)
(also in docs/pages.md):

- the page: ``/c/<campaign id>?lang=he|ar|en`` (``&sort=supported`` for most supported first);
  ``<html lang dir>``; the language switch ``a[hreflang]``; ``#status`` (``role=status``) says what
  a post did; ``[role=alert]`` says why it was refused.
- commenting: ``form#comment-form`` with ``textarea[name=text]`` and ``button[type=submit]``.
- your contributions: ``section#my-contributions``; after a post ``#receipt`` (``.code`` holds the
  short code); each own comment is ``li[data-comment-id="<id>"][data-status="<status>"]``
  (pending, review, published, rejected, hidden, clustered), with its ``.statement`` once decided.
  With JavaScript the statuses refresh by themselves for ~90 s after a post.
- published comments: ``section#comments li[data-comment-id="<id>"]`` (replies nested inside their
  parent's ``li``), ``[data-support]`` the support score; in it ``form.vote button[value="1"]`` /
  ``[value="-1"]``; the links ``a[data-action=reply]`` / ``a[data-action=report]`` open that
  comment's ``form#reply-<id>`` (``textarea[name=text]``) / ``form#flag-<id>``
  (``select[name=reason]``, ``textarea[name=detail]``), each with ``button[type=submit]``.
- the survey: ``form#survey-form``, fields ``q.<question id>``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from kolot.devstack import ServiceGroup
from tests.browser.checks import assert_accessible, assert_direction, save_screenshot
from tests.browser.conftest import PageProblems
from tests.conftest import staff_headers

WAIT_MS = 20_000

CAMPAIGN: dict[str, Any] = {
    "title": {
        "he": "תחבורה ציבורית בגליל",
        "ar": "المواصلات العامة في الجليل",
        "en": "Public transport in the Galilee",
    },
    "description": {
        "he": "משרד התחבורה מתכנן מחדש את קווי האוטובוס בגליל.",
        "ar": "تعيد وزارة المواصلات تخطيط خطوط الحافلات في الجليل.",
        "en": "The ministry is redesigning the bus lines in the Galilee.",
    },
    "purpose": {
        "he": "לשמוע מהתושבים אילו קווים חסרים",
        "ar": "الاستماع إلى السكان حول الخطوط الناقصة",
        "en": "To hear from residents which lines are missing",
    },
    "use_of_input": {
        "he": "המשרד יפרסם מה שמע ומה שינה",
        "ar": "ستنشر الوزارة ما سمعته وما غيّرته",
        "en": "The ministry will publish what it heard and what it changed",
    },
    "discourse_rules": {
        "he": "מדברים בכבוד, בלי פרטים אישיים",
        "ar": "نتحدث باحترام ومن دون بيانات شخصية",
        "en": "Speak with respect, without personal details",
    },
    "questions": [
        {
            "id": "mode",
            "kind": "single",
            "required": True,
            "prompt": {"he": "איך אתם נוסעים?", "ar": "كيف تتنقل؟", "en": "How do you travel?"},
            "options": [
                {"id": "bus", "label": {"he": "אוטובוס", "ar": "حافلة", "en": "Bus"}},
                {"id": "train", "label": {"he": "רכבת", "ar": "قطار", "en": "Train"}},
            ],
        },
        {
            "id": "score",
            "kind": "scale",
            "prompt": {"he": "כמה אתם מרוצים?", "ar": "ما مدى رضاك؟", "en": "How satisfied?"},
        },
        {
            "id": "why",
            "kind": "text",
            "prompt": {"he": "למה?", "ar": "لماذا؟", "en": "Why?"},
        },
    ],
}


async def open_campaign(intake: httpx.AsyncClient, *, mode: str) -> str:
    created = await intake.post(
        "/v1/campaigns", json={**CAMPAIGN, "moderation_mode": mode}, headers=staff_headers("admin")
    )
    assert created.status_code == 201, created.text
    campaign_id = str(created.json()["id"])
    opened = await intake.post(f"/v1/campaigns/{campaign_id}/open", headers=staff_headers("admin"))
    assert opened.status_code == 200, opened.text
    return campaign_id


async def published_comment(intake: httpx.AsyncClient, campaign_id: str, text: str) -> str:
    """A comment by someone else, through the JSON API, once moderation has published it."""
    token = (await intake.post("/v1/participants", json={})).json()["token"]
    sent = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments",
        json={"text": text},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 202, sent.text
    comment_id = str(sent.json()["id"])
    for _ in range(100):
        page = await intake.get(f"/v1/campaigns/{campaign_id}/comments")
        if any(item["id"] == comment_id for item in page.json()["items"]):
            return comment_id
        await asyncio.sleep(0.2)
    raise AssertionError(f"moderation did not publish {comment_id}")


@pytest.fixture
async def intake(web_stack: ServiceGroup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web_stack["intake"].url, timeout=10) as client:
        yield client


@asynccontextmanager
async def page_without_javascript(browser: Browser, name: str) -> AsyncIterator[Page]:
    """A phone without JavaScript (or with it blocked), watched for errors like the ``page``
    fixture's pages."""
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="he-IL",
        java_script_enabled=False,
    )
    page = await context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    try:
        yield page
    finally:
        await save_screenshot(page, name)
        await context.close()
    assert not errors, errors


@pytest.mark.parametrize("lang", ["he", "ar", "en"])
async def test_the_page_reads_in_each_language_accessibly(
    web_stack: ServiceGroup,
    intake: httpx.AsyncClient,
    page: tuple[Page, PageProblems],
    lang: str,
) -> None:
    campaign_id = await open_campaign(intake, mode="auto")
    await published_comment(intake, campaign_id, "צריך קו לילה מצפת לכרמיאל")
    browser_page, _ = page
    response = await browser_page.goto(f"{web_stack['intake'].url}/c/{campaign_id}?lang={lang}")
    assert response is not None
    assert response.status == 200
    await assert_direction(browser_page, lang=lang)
    await expect(browser_page.locator("h1")).to_have_text(CAMPAIGN["title"][lang])
    await expect(browser_page.locator("section#comments li[data-comment-id]")).to_have_count(1)
    # the language switch keeps the visitor on this consultation
    other = "en" if lang != "en" else "ar"
    await browser_page.locator(f"a[hreflang={other}]").click()
    await browser_page.wait_for_url(re.compile(rf"/c/{campaign_id}\?lang={other}$"))
    await assert_direction(browser_page, lang=other)
    await browser_page.goto(f"{web_stack['intake'].url}/c/{campaign_id}?lang={lang}")
    await assert_accessible(browser_page)


async def test_a_hebrew_comment_posted_without_javascript_shows_its_receipt_and_pending_status(
    web_stack: ServiceGroup, intake: httpx.AsyncClient, browser: Browser
) -> None:
    campaign_id = await open_campaign(intake, mode="pre")  # a moderator reads everything first
    url = f"{web_stack['intake'].url}/c/{campaign_id}?lang=he"
    async with page_without_javascript(browser, "participation_no_javascript") as browser_page:
        await browser_page.goto(url)
        await browser_page.locator("form#comment-form textarea[name=text]").fill(
            "האוטובוס האחרון מצפת יוצא מוקדם מדי"
        )
        await browser_page.locator("form#comment-form button[type=submit]").click()
        await browser_page.wait_for_url(re.compile(r"done=comment"))
        assert urlsplit(browser_page.url).fragment == "my-contributions"
        await expect(browser_page.locator("#status")).to_contain_text("התגובה שלך התקבלה")
        await expect(browser_page.locator("#receipt .code")).to_have_text(
            re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}$")
        )
        mine = browser_page.locator("section#my-contributions li[data-comment-id]")
        await expect(mine).to_have_count(1)
        await expect(mine).to_have_attribute("data-status", re.compile("pending|review"))
        await expect(mine).to_contain_text("האוטובוס האחרון מצפת")
        # (axe needs a script in the page: the same markup is checked in the tests with one)
        await assert_direction(browser_page, lang="he")

        # the survey, too, is answered without a script
        await browser_page.locator("input[name='q.mode'][value=train]").check()
        await browser_page.locator("input[name='q.score'][value='4']").check()
        await browser_page.locator("form#survey-form button[type=submit]").click()
        await browser_page.wait_for_url(re.compile(r"done=response"))
        await expect(browser_page.locator("#status")).to_contain_text("התשובות שלך נרשמו")


async def test_with_javascript_a_comment_is_posted_in_place_and_its_publication_appears(
    web_stack: ServiceGroup, intake: httpx.AsyncClient, page: tuple[Page, PageProblems]
) -> None:
    campaign_id = await open_campaign(intake, mode="auto")
    browser_page, _ = page
    url = f"{web_stack['intake'].url}/c/{campaign_id}?lang=he"
    await browser_page.goto(url)
    await browser_page.locator("form#comment-form textarea[name=text]").fill(
        "תודה על ההתייעצות, חשוב להוסיף קו לילה"
    )
    await browser_page.locator("form#comment-form button[type=submit]").click()
    await expect(browser_page.locator("#receipt")).to_be_visible(timeout=WAIT_MS)
    assert browser_page.url == url  # posted in place: no navigation
    await expect(browser_page.locator("#status")).to_contain_text("התגובה שלך התקבלה")
    await expect(browser_page.locator("form#comment-form textarea[name=text]")).to_have_value("")
    mine = browser_page.locator("section#my-contributions li[data-comment-id]")
    await expect(mine).to_have_count(1)
    # moderation decides ("auto"); the page's script picks the decision up without a reload
    await expect(mine).to_have_attribute("data-status", "published", timeout=WAIT_MS)
    comment_id = await mine.get_attribute("data-comment-id")
    # the public list is kept for up to 2 s per replica (every visitor sees the same page), so
    # a reload right after the decision may still show the list without it
    shown = browser_page.locator(f"section#comments li[data-comment-id='{comment_id}']")
    for _ in range(WAIT_MS // 500):
        await browser_page.reload()
        if await shown.count():
            break
        await asyncio.sleep(0.5)
    await expect(shown).to_contain_text("קו לילה")
    await assert_accessible(browser_page)


async def test_votes_and_reports_are_sent_from_the_page(
    web_stack: ServiceGroup, intake: httpx.AsyncClient, page: tuple[Page, PageProblems]
) -> None:
    campaign_id = await open_campaign(intake, mode="auto")
    comment_id = await published_comment(intake, campaign_id, "הקו לחיפה צריך לעצור בכל הכפרים")
    browser_page, _ = page
    await browser_page.goto(f"{web_stack['intake'].url}/c/{campaign_id}?lang=he")
    item = browser_page.locator(f"section#comments li[data-comment-id='{comment_id}']")
    await item.locator("form.vote button[value='1']").click()
    await expect(browser_page.locator("#status")).to_contain_text("ההצבעה שלך נרשמה")
    await expect(item.locator("form.vote button[value='1']")).to_have_attribute(
        "aria-pressed", "true"
    )
    await item.locator("a[data-action=report]").click()
    await expect(item.locator("select[name=reason]")).to_be_in_viewport()
    await item.locator("select[name=reason]").select_option("spam")
    await item.locator("form[action$='/flags'] button[type=submit]").click()
    await expect(browser_page.locator("#status")).to_contain_text("הדיווח נשלח")
    # the vote reached intake's read model: the support score shows after a reload
    for _ in range(50):
        await browser_page.reload()
        if await item.locator("[data-support]").inner_text() == "1":
            break
        await browser_page.wait_for_timeout(200)
    await expect(item.locator("[data-support]")).to_have_text("1")


async def test_the_keyboard_reaches_the_comment_form_with_a_visible_focus(
    web_stack: ServiceGroup, intake: httpx.AsyncClient, page: tuple[Page, PageProblems]
) -> None:
    campaign_id = await open_campaign(intake, mode="auto")
    browser_page, _ = page
    await browser_page.goto(f"{web_stack['intake'].url}/c/{campaign_id}?lang=ar")
    textarea = browser_page.locator("form#comment-form textarea[name=text]")
    for _ in range(40):
        await browser_page.keyboard.press("Tab")
        if await textarea.evaluate("el => el === document.activeElement"):
            break
    await expect(textarea).to_be_focused()
    outline = await textarea.evaluate(
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none"
    assert outline[1] != "0px"
    # the skip link, first in the tab order, goes straight to the form
    await browser_page.goto(f"{web_stack['intake'].url}/c/{campaign_id}?lang=ar")
    await browser_page.keyboard.press("Tab")
    skip = browser_page.locator("a.skip")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await browser_page.keyboard.press("Enter")
    await browser_page.keyboard.press("Tab")
    await expect(textarea).to_be_focused()


async def test_a_closed_consultation_reads_without_forms(
    web_stack: ServiceGroup, intake: httpx.AsyncClient, page: tuple[Page, PageProblems]
) -> None:
    campaign_id = await open_campaign(intake, mode="auto")
    await published_comment(intake, campaign_id, "Night buses to Safed, please")
    closed = await intake.post(f"/v1/campaigns/{campaign_id}/close", headers=staff_headers("admin"))
    assert closed.status_code == 200, closed.text
    browser_page, _ = page
    await browser_page.goto(f"{web_stack['intake'].url}/c/{campaign_id}?lang=en")
    await expect(browser_page.locator(".notice")).to_contain_text("This consultation is closed")
    await expect(browser_page.locator("form")).to_have_count(0)
    await expect(browser_page.locator("section#comments li[data-comment-id]")).to_have_count(1)
    await assert_direction(browser_page, lang="en")
    await assert_accessible(browser_page)
