"""The whole loop in a browser, in Hebrew: a citizen comments, a moderator approves, it counts.

A pre-moderated Hebrew consultation is created through intake's API; everything after that is done
from the pages, as people do it:

1. the citizen opens the participation page (intake ``GET /c/{id}?lang=he``), writes a comment in
   the page's form and sees the receipt and their comment waiting for moderation;
2. a moderator opens the console (moderation ``GET /console``), signs in with a moderator token and
   approves that comment;
3. the citizen reloads the page: the comment is published, and their own list says so;
4. an analyst opens the report (metrics ``GET /v1/campaigns/{id}/report``), signs in with an
   analyst token and finds the comment counted.

Every page is right to left, has no console error and no axe violation; a screenshot of each step
is saved under test-artefacts/browser/ (``flow_1_comment_sent.png`` ...).

The hooks used are the ones each page documents: the participation page's template head
(``form#comment-form``, ``section#my-contributions li[data-comment-id][data-status]``,
``section#comments li[data-comment-id]``), tests/browser/test_browser_console.py and
tests/browser/test_browser_report.py.
"""

from __future__ import annotations

import asyncio
import re

import httpx
from playwright.async_api import Page, expect

from kolot.common.auth import Role, issue_staff_token
from kolot.common.settings import DEV_JWT_SECRET
from kolot.devstack import ServiceGroup
from tests.browser.checks import assert_accessible, assert_direction, save_screenshot
from tests.browser.conftest import PageProblems
from tests.conftest import staff_headers

WAIT_MS = 20_000
TITLE = "קווי אוטובוס בגליל המערבי"
COMMENT = "הקו מכרמיאל לחיפה מלא כל בוקר. מבקשים להוסיף אוטובוס בשעה שבע וחצי."
CAMPAIGN = {
    "title": {
        "he": TITLE,
        "ar": "خطوط الحافلات في الجليل الغربي",
        "en": "Bus lines in the western Galilee",
    },
    "description": {"he": "אילו קווים חסרים לכם?", "en": "Which lines are you missing?"},
    "purpose": {"he": "לתכנן את הקווים לשנה הבאה", "en": "To plan next year's lines"},
    "use_of_input": {
        "he": "המשרד יפרסם מה שמע ומה החליט",
        "en": "The ministry will publish what it heard and decided",
    },
    "discourse_rules": {"he": "מדברים בכבוד", "en": "Speak with respect"},
    "default_language": "he",
    "moderation_mode": "pre",
}


async def open_consultation(web_stack: ServiceGroup) -> str:
    admin = staff_headers("admin")
    async with httpx.AsyncClient(base_url=web_stack["intake"].url, timeout=10) as intake:
        created = await intake.post("/v1/campaigns", json=CAMPAIGN, headers=admin)
        assert created.status_code == 201, created.text
        campaign_id: str = created.json()["id"]
        opened = await intake.post(f"/v1/campaigns/{campaign_id}/open", headers=admin)
        assert opened.status_code == 200, opened.text
    return campaign_id


async def checked(page: Page, step: str) -> None:
    """What every page of the flow must be: Hebrew, right to left, accessible; then a picture."""
    await assert_direction(page, lang="he")
    await assert_accessible(page)
    await save_screenshot(page, f"flow_{step}")


async def test_a_hebrew_comment_goes_from_the_page_through_the_console_into_the_report(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems]
) -> None:
    browser_page, _ = page
    campaign_id = await open_consultation(web_stack)
    participation = f"{web_stack['intake'].url}/c/{campaign_id}?lang=he"

    # 1. the citizen comments from the page's form
    await browser_page.goto(participation)
    await expect(browser_page.locator("h1")).to_contain_text(TITLE)
    await checked(browser_page, "0_participation_page")
    form = browser_page.locator("form#comment-form")
    await form.locator("textarea[name=text]").fill(COMMENT)
    await form.locator("button[type=submit]").click()
    mine = browser_page.locator("section#my-contributions li[data-comment-id]").filter(
        has_text=COMMENT[:20]
    )
    await expect(mine).to_have_count(1, timeout=WAIT_MS)
    comment_id = await mine.get_attribute("data-comment-id")
    assert comment_id
    # the receipt of what was sent, and the comment waiting for moderation (pre-moderated)
    await expect(browser_page.locator("#receipt")).to_be_visible()
    await expect(browser_page.locator("#receipt")).to_contain_text(comment_id)
    await expect(mine).to_have_attribute("data-status", re.compile(r"^(pending|review)$"))
    published = browser_page.locator(f'section#comments li[data-comment-id="{comment_id}"]')
    await expect(published).to_have_count(0)
    await checked(browser_page, "1_comment_sent")

    # 2. a moderator approves it from the console
    moderator = issue_staff_token(DEV_JWT_SECRET, roles=[Role.MODERATOR], subject="flow-moderator")
    await browser_page.goto(f"{web_stack['moderation'].url}/console?lang=he")
    await browser_page.locator("form#login textarea[name=token]").fill(moderator)
    await browser_page.locator("form#login button[type=submit]").click()
    await expect(browser_page.locator("#app-view")).to_be_visible()
    # other tests share the stack's queue: show this consultation's only
    await browser_page.locator("details.filters summary").click()
    await browser_page.locator("#f-campaign").fill(campaign_id)
    await browser_page.locator("form#filters button[type=submit]").click()
    queued = browser_page.locator(f'#queue li[data-comment-id="{comment_id}"]')
    await expect(queued).to_be_visible(timeout=WAIT_MS)
    await expect(queued).to_contain_text("מכרמיאל לחיפה")
    await checked(browser_page, "2_console_queue")
    await queued.locator("button[data-action=approve]").click()
    await expect(queued).to_have_count(0, timeout=WAIT_MS)
    await expect(browser_page.locator("#status")).not_to_be_empty()
    await checked(browser_page, "3_console_approved")

    # 3. the citizen comes back: the comment is published, and their own list says so
    for _ in range(80):
        await browser_page.goto(participation)
        if await published.count():
            break
        await asyncio.sleep(0.25)
    await expect(published).to_contain_text("מכרמיאל לחיפה")
    await expect(mine).to_have_attribute("data-status", "published")
    await checked(browser_page, "4_comment_published")

    # 4. an analyst opens the report and finds it counted
    analyst = staff_headers("analyst")["Authorization"].removeprefix("Bearer ")
    report = f"{web_stack['metrics'].url}/v1/campaigns/{campaign_id}/report?lang=he"
    await browser_page.goto(report)
    await browser_page.locator("form#login textarea[name=token]").fill(analyst)
    await browser_page.locator("form#login button[type=submit]").click()
    published_figure = browser_page.locator("section#totals li[data-figure=published] b")
    counted = False
    for _ in range(40):
        await expect(published_figure).to_be_visible(timeout=WAIT_MS)
        if await published_figure.text_content() == "1":
            counted = True
            break
        # metrics folds the decision from the bus a moment later; the tab keeps the token
        await asyncio.sleep(0.25)
        await browser_page.reload()
    assert counted, "the report never counted the published comment"
    await expect(browser_page.locator("section#totals li[data-figure=comments] b")).to_have_text(
        "1"
    )
    await expect(
        browser_page.locator("section#totals li[data-figure=participants] b")
    ).to_have_text("1")
    decided_by_a_moderator = (
        browser_page.locator("section#moderation tr")
        .filter(has=browser_page.locator("th[scope=row]", has_text=re.compile("^מנחה$")))
        .first
    )
    await expect(decided_by_a_moderator.locator("td")).to_have_text(["1", "0", "0"])
    await expect(browser_page).to_have_title(re.compile(TITLE))
    await checked(browser_page, "5_report")
