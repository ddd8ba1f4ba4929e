"""The moderators' console (moderation's ``GET /console``), as a moderator uses it in a browser.

Stable hooks, for these tests and for the end-to-end flow (participation page -> console -> report):

- sign in: ``form#login textarea[name=token]`` then ``form#login button[type=submit]``; signed in
  when ``#app-view`` is visible; messages about the token in ``#login-status``; ``#logout``.
- the queue: ``#queue li[data-comment-id="<id>"]`` (``data-cluster-id`` on copies of a form
  letter); the item the keyboard acts on has the class ``current`` and the focus (focusing or
  clicking an item selects it). Narrow it to one campaign: ``#f-campaign`` then
  ``form#filters button[type=submit]`` (inside ``details.filters``: open its ``summary`` first).
- keys: ``j``/``k`` or arrows move, ``a`` approves the current item, ``1``-``9`` reject it for the
  reason of that number (``#reason-key-list``), ``?`` opens ``dialog#help``.
- buttons: ``button[data-action=approve]``, ``select[name=reason]`` + ``button[data-action=reject]``
  in an item; ``button[data-action=approve-cluster|reject-cluster]`` then ``#confirm-yes`` in
  ``dialog#confirm`` for a form letter; ``#status`` says what happened.
- appeals: ``#tab-appeals``, ``#appeals li[data-appeal-id]`` with ``textarea[name=statement]`` and
  ``button[data-action=uphold|overturn]``; a refusal is written in the item's ``.status``.
- surge alerts: ``#alerts`` (visible when any is active), ``#alert-list li[data-alert-id]``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route, expect

from kolot.common.auth import Role, issue_staff_token
from kolot.common.settings import DEV_JWT_SECRET
from kolot.devstack import ServiceGroup
from kolot.moderation.pipeline.statements import REJECTION_REASONS, rejection_statement
from tests.browser.checks import assert_accessible, assert_direction, save_screenshot
from tests.browser.conftest import PageProblems
from tests.conftest import staff_headers

WAIT_MS = 20_000


def token(*roles: Role | str, subject: str = "moderator-1", ttl: int = 3600) -> str:
    return issue_staff_token(DEV_JWT_SECRET, roles=roles, subject=subject, ttl=ttl)


class Intake:
    """Consultations and participants, through intake's JSON API as the pages use it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def campaign(self, *, mode: str) -> str:
        body = {
            "title": {
                "he": "גני ילדים בשכונה",
                "ar": "رياض الأطفال في الحي",
                "en": "Kindergartens",
            },
            "description": {"he": "התייעצות על גני ילדים", "en": "A consultation on kindergartens"},
            "purpose": {"he": "לשמוע את ההורים", "en": "To hear the parents"},
            "use_of_input": {"he": "המשרד יפרסם מה שמע", "en": "The ministry will publish it"},
            "moderation_mode": mode,
        }
        created = await self.client.post("/v1/campaigns", json=body, headers=staff_headers("admin"))
        assert created.status_code == 201, created.text
        campaign_id: str = created.json()["id"]
        opened = await self.client.post(
            f"/v1/campaigns/{campaign_id}/open", headers=staff_headers("admin")
        )
        assert opened.status_code == 200, opened.text
        return campaign_id

    async def participant(self) -> dict[str, str]:
        created = await self.client.post("/v1/participants", json={})
        assert created.status_code == 201, created.text
        return {"Authorization": f"Bearer {created.json()['token']}"}

    async def comment(
        self, campaign_id: str, text: str, author: dict[str, str] | None = None
    ) -> str:
        author = author or await self.participant()
        posted = await self.client.post(
            f"/v1/campaigns/{campaign_id}/comments", json={"text": text}, headers=author
        )
        assert posted.status_code == 202, posted.text
        comment_id: str = posted.json()["id"]
        return comment_id

    async def published(self, campaign_id: str) -> set[str]:
        listed = await self.client.get(f"/v1/campaigns/{campaign_id}/comments")
        assert listed.status_code == 200, listed.text
        return {item["id"] for item in listed.json()["items"]}

    async def wait_published(self, campaign_id: str, comment_id: str) -> None:
        for _ in range(80):
            if comment_id in await self.published(campaign_id):
                return
            await asyncio.sleep(0.25)
        pytest.fail(f"comment {comment_id} was never published")

    async def own(self, comment_id: str, author: dict[str, str]) -> dict[str, Any]:
        found = await self.client.get(f"/v1/comments/{comment_id}", headers=author)
        assert found.status_code == 200, found.text
        view: dict[str, Any] = found.json()
        return view


@pytest.fixture
async def intake(web_stack: ServiceGroup) -> AsyncIterator[Intake]:
    async with httpx.AsyncClient(base_url=web_stack["intake"].url, timeout=10) as client:
        yield Intake(client)


async def sign_in(page: Page, web_stack: ServiceGroup, staff_token: str, *, lang: str) -> None:
    await page.goto(f"{web_stack['moderation'].url}/console?lang={lang}")
    await page.locator("form#login textarea[name=token]").fill(staff_token)
    await page.locator("form#login button[type=submit]").click()
    await expect(page.locator("#app-view")).to_be_visible()


async def only_campaign(page: Page, campaign_id: str) -> None:
    """Narrow the queue to one campaign (other tests share the stack and its queue)."""
    await page.locator("details.filters summary").click()
    await page.locator("#f-campaign").fill(campaign_id)
    await page.locator("form#filters button[type=submit]").click()


def item(page: Page, comment_id: str) -> Any:
    return page.locator(f'#queue li[data-comment-id="{comment_id}"]')


async def test_a_held_comment_is_approved_and_another_rejected_with_one_key(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems], intake: Intake
) -> None:
    browser_page, _ = page
    campaign_id = await intake.campaign(mode="pre")
    civil = await intake.comment(campaign_id, "הגן בשכונה שלנו צפוף מדי, צריך עוד גננת בכל כיתה.")
    rude_author = await intake.participant()
    rude = await intake.comment(
        campaign_id, "ראש העירייה מטומטם, תתקשרו אליי 050-1234567", rude_author
    )

    await sign_in(browser_page, web_stack, token(Role.MODERATOR), lang="he")
    await assert_direction(browser_page, lang="he")
    await only_campaign(browser_page, campaign_id)
    await expect(item(browser_page, civil)).to_be_visible(timeout=WAIT_MS)
    await expect(item(browser_page, rude)).to_be_visible(timeout=WAIT_MS)

    # what the moderator reads: the match marked, the phone number redacted and never shown
    rude_item = item(browser_page, rude)
    await expect(rude_item.locator("mark")).to_have_text("מטומטם")
    await expect(rude_item.locator(".pii")).to_contain_text("[phone]")
    assert "1234567" not in await browser_page.content()
    await expect(rude_item).to_contain_text("ערוץ: אתר")  # the channel: the web
    await assert_accessible(browser_page)
    await save_screenshot(browser_page, "console_queue_he")

    # approve the civil comment with the keyboard: focus it, press a
    await item(browser_page, civil).focus()
    await expect(item(browser_page, civil)).to_have_class(re.compile(r"\bcurrent\b"))
    await browser_page.keyboard.press("a")
    await expect(item(browser_page, civil)).to_have_count(0)
    await intake.wait_published(campaign_id, civil)
    # the keyboard moved on to the item that took its place
    await expect(rude_item).to_be_focused()
    await expect(rude_item).to_have_class(re.compile(r"\bcurrent\b"))

    # reject the rude one with the digit of "abuse": its author reads that statement
    abuse_key = str(REJECTION_REASONS.index("abuse") + 1)
    await expect(browser_page.locator("#reason-key-list")).to_contain_text(abuse_key)
    await browser_page.keyboard.press(abuse_key)
    await expect(rude_item).to_have_count(0)
    await expect(browser_page.locator("#status")).not_to_be_empty()
    expected = rejection_statement(["abuse"], language="he")
    for _ in range(80):
        view = await intake.own(rude, rude_author)
        if view["status"] == "rejected":
            break
        await asyncio.sleep(0.25)
    assert view["status"] == "rejected"
    assert view["statement"] == expected
    assert rude not in await intake.published(campaign_id)


async def test_every_copy_of_a_form_letter_is_approved_with_one_action(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems], intake: Intake
) -> None:
    browser_page, _ = page
    campaign_id = await intake.campaign(mode="pre")
    letter = (
        "We the parents of the northern district ask the ministry to open two more "
        "kindergarten classes before the next school year begins"
    )
    copies = await asyncio.gather(*(intake.comment(campaign_id, letter) for _ in range(3)))

    await sign_in(browser_page, web_stack, token(Role.MODERATOR), lang="en")
    await only_campaign(browser_page, campaign_id)
    approve_all = browser_page.locator("#queue button[data-action=approve-cluster]").first
    await expect(approve_all).to_have_text(re.compile(r"\b3\b"), timeout=WAIT_MS)
    for comment_id in copies:
        await expect(item(browser_page, comment_id)).to_have_attribute(
            "data-cluster-id", re.compile(".+")
        )
    await approve_all.click()
    dialog = browser_page.locator("dialog#confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#confirm-text")).to_contain_text("3")
    await assert_accessible(browser_page)
    await save_screenshot(browser_page, "console_form_letter_en")
    await browser_page.locator("#confirm-yes").click()
    for comment_id in copies:
        await expect(item(browser_page, comment_id)).to_have_count(0)
    await expect(browser_page.locator("#status")).to_contain_text("3")
    async with httpx.AsyncClient(base_url=web_stack["moderation"].url) as client:
        queue = await client.get(
            "/v1/queue", params={"campaign_id": campaign_id}, headers=staff_headers("moderator")
        )
    assert queue.json()["items"] == []


async def test_an_appeal_is_decided_by_another_moderator(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems], intake: Intake
) -> None:
    browser_page, problems = page
    campaign_id = await intake.campaign(mode="pre")
    author = await intake.participant()
    comment_id = await intake.comment(
        campaign_id, "המשרד מזניח את הגנים בפריפריה כבר עשר שנים", author
    )
    first = {"Authorization": f"Bearer {token(Role.MODERATOR, subject='first-moderator')}"}
    moderation = web_stack["moderation"].url
    async with httpx.AsyncClient(base_url=moderation) as client:
        for _ in range(80):
            rejected = await client.post(
                f"/v1/comments/{comment_id}/decision",
                json={"decision": "reject", "reason": "Off topic."},
                headers=first,
            )
            if rejected.status_code != 404:
                break
            await asyncio.sleep(0.25)
        assert rejected.status_code == 200, rejected.text
    for _ in range(80):
        if (await intake.own(comment_id, author))["status"] == "rejected":
            break
        await asyncio.sleep(0.25)
    appealed = await intake.client.post(
        f"/v1/comments/{comment_id}/appeals",
        json={"text": "זו ביקורת לגיטימית על המשרד, לא עלבון"},
        headers=author,
    )
    assert appealed.status_code == 202, appealed.text

    await sign_in(browser_page, web_stack, token(Role.MODERATOR, subject="second"), lang="ar")
    await assert_direction(browser_page, lang="ar")
    await browser_page.locator("#tab-appeals").click()
    appeal = browser_page.locator(f'#appeals li[data-comment-id="{comment_id}"]')
    for _ in range(40):
        if await appeal.count():
            break
        await browser_page.locator("#tab-queue").click()
        await browser_page.wait_for_timeout(250)
        await browser_page.locator("#tab-appeals").click()
    await expect(appeal).to_be_visible()
    await assert_accessible(browser_page)
    await save_screenshot(browser_page, "console_appeals_ar")

    # the moderator who took the decision is refused by the API, and told so plainly
    async def as_first_moderator(route: Route) -> None:
        await route.continue_(
            headers={**route.request.headers, **{"authorization": first["Authorization"]}}
        )

    problems.expect(r"status of 403")
    await browser_page.route("**/v1/appeals/*/decision", as_first_moderator)
    await appeal.locator("button[data-action=overturn]").click()
    await expect(appeal.locator(".status")).to_contain_text("مشرف آخر")
    await browser_page.unroute("**/v1/appeals/*/decision")

    await appeal.locator("textarea[name=statement]").fill(
        "بعد المراجعة: هذا نقد مشروع، يُنشر التعليق."
    )
    await appeal.locator("button[data-action=overturn]").click()
    await expect(appeal).to_have_count(0)
    await intake.wait_published(campaign_id, comment_id)


async def test_a_surge_of_abuse_raises_an_alert_on_the_console(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems], intake: Intake
) -> None:
    browser_page, _ = page
    campaign_id = await intake.campaign(mode="auto")
    await sign_in(browser_page, web_stack, token(Role.MODERATOR), lang="en")
    alerts = browser_page.locator("#alert-list")
    await expect(alerts).to_have_attribute("aria-live", "polite")
    # eight threats in the window, from eight people, against no baseline: a surge
    threat = "I will kill you minister {}"
    await asyncio.gather(
        *(intake.comment(campaign_id, threat.format(secrets.token_hex(3))) for _ in range(9))
    )
    mine = alerts.locator("li[data-alert-id]", has_text=campaign_id)
    for _ in range(30):
        if await mine.count():
            break
        # the surge is looked at as comments arrive, at most every few seconds per campaign
        await intake.comment(campaign_id, threat.format(secrets.token_hex(3)))
        await browser_page.wait_for_timeout(1000)
    await expect(mine).to_be_visible()
    await expect(browser_page.locator("#alerts")).to_be_visible()
    await expect(mine).to_contain_text("abusive")
    await assert_accessible(browser_page)


@pytest.mark.parametrize(
    ("credential", "lang", "message"),
    [
        ("not.a.token", "en", "not valid"),
        (token(Role.MODERATOR, ttl=-60), "en", "expired"),
        (token(Role.ANALYST), "he", "moderator"),
        (
            issue_staff_token("another-installation-secret-entirely", roles=["moderator"]),
            "ar",
            "غير صالح",
        ),
    ],
)
async def test_a_wrong_token_is_refused_with_a_clear_message(
    web_stack: ServiceGroup,
    page: tuple[Page, PageProblems],
    credential: str,
    lang: str,
    message: str,
) -> None:
    browser_page, problems = page
    problems.expect(r"status of 40[13]")
    await browser_page.goto(f"{web_stack['moderation'].url}/console?lang={lang}")
    await assert_direction(browser_page, lang=lang)
    await browser_page.locator("form#login textarea[name=token]").fill(credential)
    await browser_page.locator("form#login button[type=submit]").click()
    await expect(browser_page.locator("#login-status")).to_contain_text(message)
    await expect(browser_page.locator("#app-view")).to_be_hidden()
    await expect(browser_page.locator("form#login textarea[name=token]")).to_be_focused()
    # nothing of a refused token is kept
    kept = await browser_page.evaluate("() => sessionStorage.length + localStorage.length")
    assert kept == 0
    assert await browser_page.context.cookies() == []
    await assert_accessible(browser_page)


async def test_signing_out_forgets_the_token_and_shortcuts_are_listed(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems]
) -> None:
    browser_page, _ = page
    await sign_in(browser_page, web_stack, token(Role.MODERATOR), lang="he")
    stored = await browser_page.evaluate("() => Object.keys(sessionStorage)")
    assert len(stored) == 1
    assert await browser_page.evaluate("() => localStorage.length") == 0
    # the language switch keeps the moderator signed in (same tab)
    await browser_page.locator('a[data-lang="en"]').click()
    await expect(browser_page.locator("#app-view")).to_be_visible()
    await assert_direction(browser_page, lang="en")
    await browser_page.locator("body").press("?")
    help_dialog = browser_page.locator("dialog#help")
    await expect(help_dialog).to_be_visible()
    await expect(help_dialog).to_contain_text("approve")
    await browser_page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()
    await browser_page.locator("#logout").click()
    await expect(browser_page.locator("form#login")).to_be_visible()
    assert await browser_page.evaluate("() => sessionStorage.length") == 0
