"""The consultation report, as a ministry analyst opens it in a browser.

The consultation gets its figures from a real flow through the running services: visits from a
paid source, participants with a declared profile, comments a moderator decides, an outcome the
ministry publishes. The analyst opens the report as a person does (no header: the sign-in page,
a pasted token) and reads each section's numbers.

Stable hooks: the sign-in form ``form#login textarea[name=token]`` + ``button[type=submit]``,
``#login-status``; the report's sections ``section#totals|funnel|timeline|channels|
representativeness|clusters|moderation|outcome``; key figures ``li[data-figure=<name>] b``;
``#sign-out``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from kolot.devstack import ServiceGroup
from tests.browser.checks import assert_accessible, assert_direction, save_screenshot
from tests.browser.conftest import PageProblems
from tests.conftest import staff_headers

WAIT_MS = 20_000
CAMPAIGN = {
    "title": {
        "he": "תחבורה ציבורית בגליל",
        "ar": "المواصلات العامة في الجليل",
        "en": "Public transport in the Galilee",
    },
    "description": {"he": "התייעצות על קווי אוטובוס", "en": "A consultation on bus lines"},
    "purpose": {"he": "לשמוע את התושבים", "en": "To hear the residents"},
    "use_of_input": {"he": "המשרד יפרסם מה שמע", "en": "The ministry will publish what it heard"},
    "moderation_mode": "pre",
    "targets": {"region": {"north": 0.5, "center": 0.5}},
}
OUTCOME: dict[str, Any] = {
    "summary": {
        "he": "שמענו שהקווים בגליל צפופים",
        "ar": "سمعنا أن الخطوط في الجليل مزدحمة",
        "en": "We heard that the Galilee lines are crowded",
    },
    "decisions": [
        {"he": "קו 500 יתוגבר", "ar": "سيتم تعزيز الخط 500", "en": "Line 500 will run more often"}
    ],
    "url": "https://gov.example/galilee-decision",
}


@dataclass(frozen=True)
class Consultation:
    campaign_id: str
    approved: str
    rejected: str


async def eventually(check: Any, what: str, *, attempts: int = 120) -> Any:
    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    pytest.fail(f"never happened: {what}")


@pytest.fixture(scope="module")
async def consultation(web_stack: ServiceGroup) -> Consultation:
    """Pre-moderated, with 4 visits, 2 participants, 2 comments decided and an outcome."""
    admin, moderator = staff_headers("admin"), staff_headers("moderator")
    async with (
        httpx.AsyncClient(base_url=web_stack["intake"].url, timeout=10) as intake,
        httpx.AsyncClient(base_url=web_stack["moderation"].url, timeout=10) as moderation,
        httpx.AsyncClient(base_url=web_stack["metrics"].url, timeout=10) as metrics,
    ):
        created = await intake.post("/v1/campaigns", json=CAMPAIGN, headers=admin)
        assert created.status_code == 201, created.text
        campaign_id: str = created.json()["id"]
        opened = await intake.post(f"/v1/campaigns/{campaign_id}/open", headers=admin)
        assert opened.status_code == 200, opened.text

        for _ in range(4):
            visit = await intake.post(
                f"/v1/campaigns/{campaign_id}/visits", json={"source": "facebook"}
            )
            assert visit.status_code == 202, visit.text
        comments: list[str] = []
        for region, text in (
            ("north", "הקו מכרמיאל לחיפה מלא כל בוקר, צריך עוד אוטובוסים."),
            ("center", "האוטובוס האחרון יוצא מוקדם מדי, אי אפשר לחזור מהעבודה."),
        ):
            joined = await intake.post(
                "/v1/participants",
                json={
                    "source": "facebook",
                    "campaign_id": campaign_id,
                    "profile": {"region": region},
                },
            )
            assert joined.status_code == 201, joined.text
            author = {"Authorization": f"Bearer {joined.json()['token']}"}
            posted = await intake.post(
                f"/v1/campaigns/{campaign_id}/comments", json={"text": text}, headers=author
            )
            assert posted.status_code == 202, posted.text
            comments.append(posted.json()["id"])

        async def decide(comment_id: str, decision: str) -> bool:
            decided = await moderation.post(
                f"/v1/comments/{comment_id}/decision",
                json={"decision": decision, "reason": "read by a moderator"},
                headers=moderator,
            )
            assert decided.status_code in (200, 404), decided.text
            return decided.status_code == 200  # 404: moderation has not read it from the bus yet

        approved, rejected = comments
        await eventually(lambda: decide(approved, "approve"), "the first comment approved")
        await eventually(lambda: decide(rejected, "reject"), "the second comment rejected")
        published = await intake.post(
            f"/v1/campaigns/{campaign_id}/outcomes", json=OUTCOME, headers=admin
        )
        assert published.status_code == 201, published.text

        async def counted() -> bool:
            answer = await metrics.get(
                f"/v1/campaigns/{campaign_id}/report", headers=staff_headers("analyst")
            )
            assert answer.status_code == 200, answer.text
            report = answer.json()
            return bool(
                report["totals"]["visits"] == 4
                and report["totals"]["participants"] == 2
                and report["comments"]["by_status"]["published"] == 1
                and report["comments"]["by_status"]["rejected"] == 1
                and report["outcome"] is not None
            )

        await eventually(counted, "metrics counted the flow")
    return Consultation(campaign_id=campaign_id, approved=approved, rejected=rejected)


def report_url(web_stack: ServiceGroup, campaign_id: str, lang: str) -> str:
    return f"{web_stack['metrics'].url}/v1/campaigns/{campaign_id}/report?lang={lang}"


def figure(page: Page, section: str, name: str) -> Any:
    return page.locator(f"section#{section} li[data-figure={name}] b")


def row(page: Page, section: str, heading: str) -> Any:
    """The cells of the table row headed ``heading`` in a section (tables may be folded away)."""
    return page.locator(f"section#{section} tr").filter(
        has=page.locator("th[scope=row]", has_text=re.compile(rf"^{re.escape(heading)}$"))
    )


async def sign_in(page: Page, token_headers: dict[str, str]) -> None:
    token = token_headers["Authorization"].removeprefix("Bearer ")
    await page.locator("form#login textarea[name=token]").fill(token)
    await page.locator("form#login button[type=submit]").click()


async def test_an_analyst_signs_in_and_reads_every_section_in_hebrew(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems], consultation: Consultation
) -> None:
    browser_page, _ = page
    response = await browser_page.goto(report_url(web_stack, consultation.campaign_id, "he"))
    assert response is not None
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    # no token yet: the sign-in page, which holds no figure
    await assert_direction(browser_page, lang="he")
    await expect(browser_page.locator("form#login")).to_be_visible()
    assert await browser_page.locator("section#totals").count() == 0
    await assert_accessible(browser_page)
    await save_screenshot(browser_page, "report_sign_in_he")

    await sign_in(browser_page, staff_headers("analyst"))
    await expect(browser_page.locator("section#totals")).to_be_visible(timeout=WAIT_MS)
    await assert_direction(browser_page, lang="he")
    await expect(browser_page).to_have_title(re.compile("תחבורה ציבורית בגליל"))
    await expect(browser_page.locator("#sign-out")).to_be_visible()

    await expect(figure(browser_page, "totals", "visits")).to_have_text("4")
    await expect(figure(browser_page, "totals", "participants")).to_have_text("2")
    await expect(figure(browser_page, "totals", "comments")).to_have_text("2")
    await expect(figure(browser_page, "totals", "published")).to_have_text("1")
    # the funnel: 4 visits, 2 took part (50%), all from the paid source
    await expect(row(browser_page, "funnel", "ביקרו").locator("td").first).to_have_text("4")
    await expect(row(browser_page, "funnel", "השתתפו").locator("td")).to_have_text(["2", "50.0%"])
    await expect(figure(browser_page, "funnel", "conversion")).to_have_text("50.0%")
    await expect(row(browser_page, "funnel", "facebook").locator("td").nth(3)).to_have_text("2")
    # over time: one day so far, with both comments
    await expect(browser_page.locator("section#timeline svg[role=img] circle")).to_have_count(3)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    await expect(row(browser_page, "timeline", today).locator("td").nth(1)).to_have_text("2")
    # channels: both comments came from the web
    await expect(row(browser_page, "channels", "אתר").locator("td").first).to_have_text("2")
    # representativeness: one of each region against 50/50 targets, too few to warn
    represented = browser_page.locator("section#representativeness")
    await expect(represented).to_contain_text("מדד אי־הדמיון: 0.00")
    await expect(represented).to_contain_text("פחות מ־30 משתתפים הצהירו על כך")
    await expect(row(browser_page, "representativeness", "north").locator("td")).to_have_text(
        ["1", "50.0%", "50.0%", "1.00"]
    )
    # moderation transparency: a moderator approved one and rejected the other
    await expect(row(browser_page, "moderation", "מנחה").first.locator("td")).to_have_text(
        ["1", "1", "0"]
    )
    await expect(row(browser_page, "moderation", "פורסמו").locator("td")).to_have_text("1")
    await expect(row(browser_page, "moderation", "נדחו").locator("td")).to_have_text("1")
    await expect(row(browser_page, "moderation", "מנחה").nth(1).locator("td").first).to_have_text(
        "2"
    )
    # the outcome, and when it was published
    outcome = browser_page.locator("section#outcome")
    await expect(outcome).to_contain_text(OUTCOME["summary"]["he"])
    await expect(outcome).to_contain_text("קו 500 יתוגבר")
    await expect(outcome.locator("time")).to_have_text(f"פורסם ב־{today}.")
    await expect(outcome.locator("a")).to_have_attribute(
        "href", "https://gov.example/galilee-decision"
    )

    # every chart is an image with a name; its figures are a table a screen reader can open
    charts = browser_page.locator("svg[role=img]")
    assert await charts.count() >= 5
    for i in range(await charts.count()):
        assert (await charts.nth(i).get_attribute("aria-label") or "").strip()
    await browser_page.locator("section#funnel details summary").click()
    await expect(browser_page.locator("section#funnel details table")).to_be_visible()
    await assert_accessible(browser_page)

    # the token stays in the tab: a reload shows the report again, signing out forgets it
    await browser_page.reload()
    await expect(browser_page.locator("section#totals")).to_be_visible(timeout=WAIT_MS)
    await browser_page.locator("#sign-out").click()
    await expect(browser_page.locator("form#login")).to_be_visible()
    assert await browser_page.evaluate("sessionStorage.length") == 0


@pytest.mark.parametrize("lang", ["ar", "en"])
async def test_the_report_reads_in_arabic_and_english(
    web_stack: ServiceGroup,
    page: tuple[Page, PageProblems],
    consultation: Consultation,
    lang: str,
) -> None:
    browser_page, _ = page
    await browser_page.set_extra_http_headers(staff_headers("analyst"))
    response = await browser_page.goto(report_url(web_stack, consultation.campaign_id, lang))
    assert response is not None
    assert response.status == 200
    await assert_direction(browser_page, lang=lang)
    await expect(figure(browser_page, "totals", "participants")).to_have_text("2")
    heard = OUTCOME["summary"][lang]
    await expect(browser_page.locator("section#outcome")).to_contain_text(heard)
    # the charts read in the page's direction
    label = browser_page.locator("section#moderation svg text").first
    assert await label.get_attribute("direction") == ("rtl" if lang == "ar" else "ltr")
    await assert_accessible(browser_page)


async def test_a_refused_token_is_said_and_forgotten(
    web_stack: ServiceGroup, page: tuple[Page, PageProblems], consultation: Consultation
) -> None:
    browser_page, problems = page
    problems.expect(r"status of 40[13]")  # the refusals this test provokes
    await browser_page.goto(report_url(web_stack, consultation.campaign_id, "en"))

    await sign_in(browser_page, {"Authorization": "Bearer not-a-token"})
    await expect(browser_page.locator("#login-status")).to_have_text(
        "This token is not valid or has expired. Ask for a new one."
    )
    await sign_in(browser_page, staff_headers("moderator"))
    await expect(browser_page.locator("#login-status")).to_have_text(
        "This token does not open reports: an analyst token is needed."
    )
    await expect(browser_page.locator("form#login textarea[name=token]")).to_be_focused()
    assert await browser_page.evaluate("sessionStorage.length") == 0
    await assert_accessible(browser_page)


async def test_without_javascript_the_form_posts_the_token_and_shows_the_report(
    web_stack: ServiceGroup, browser: Browser, consultation: Consultation
) -> None:
    context = await browser.new_context(java_script_enabled=False, locale="he-IL")
    try:
        no_script = await context.new_page()
        url = report_url(web_stack, consultation.campaign_id, "he")
        await no_script.goto(url)
        await sign_in(no_script, staff_headers("analyst"))
        await expect(no_script.locator("section#totals")).to_be_visible(timeout=WAIT_MS)
        await expect(figure(no_script, "totals", "participants")).to_have_text("2")
        assert "token" not in no_script.url  # posted, never in the address
        await no_script.goto(url)
        await sign_in(no_script, staff_headers("moderator"))
        await expect(no_script.locator("#login-status")).to_contain_text("נדרש אסימון אנליסט")
    finally:
        await context.close()
