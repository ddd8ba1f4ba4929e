"""Browser tests: the pages people use, in Debian's Chromium driven by Playwright.

Nothing is downloaded at run time: Playwright's own driver comes with its wheel and the browser is
the system Chromium (``make test`` installs it with apt when it is missing; ``KOLOT_CHROMIUM``
names another binary). The whole stack runs once for the session as ``make up`` runs it, so the
pages are served by the real services over real HTTP.

Every page a test opens is watched: a console error, an uncaught exception or a failed request
fails the test, and a screenshot of the last state is saved under ``test-artefacts/browser/``
(``KOLOT_TEST_ARTEFACTS`` moves it) whether the test passed or not. A request the browser cancelled
because the page itself navigated away while it was in flight (a link followed during a poll) is
not a fault anyone sees, and is not counted.
``checks.assert_accessible`` runs axe-core's WCAG 2.2 A/AA rules on the page as it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright

from kolot.devstack import ServiceGroup
from tests.browser.checks import save_screenshot
from tests.e2e.stack import QUICK_ENV, service_group

CHROMIUM = Path(os.environ.get("KOLOT_CHROMIUM", "/usr/bin/chromium"))
# The probe's flags: without the background-networking ones Chromium keeps dialling Google's hosts,
# which this machine's closed network refuses.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def web_stack(
    nats_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceGroup]:
    """The four services as child processes on free ports, shared by every browser test."""
    group = service_group(
        nats_url,
        mongo_url,
        prefix="b",
        log_dir=tmp_path_factory.mktemp("browser-logs"),
        env={
            **QUICK_ENV,
            # every test's people post from 127.0.0.1: past 30 in five minutes, moderation
            # would hold what they post as one address's burst
            "KOLOT_BURST_PER_ADDRESS": "100000",
        },
    )
    with group:
        yield group


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make install-browser` (Debian's chromium package) "
            "or set KOLOT_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageProblems:
    """What went wrong in a page while a test drove it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    # Errors a test provokes on purpose (a 4xx it asserts on logs a console error in Chromium).
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        found = self.console_errors + self.page_errors + self.failed_requests
        return [line for line in found if not any(p.search(line) for p in self.expected)]


@pytest.fixture
async def page(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Page, PageProblems]]:
    """A fresh browser context and page (phone-sized), watched for errors; screenshot at the end."""
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="he-IL",
    )
    page = await context.new_page()
    problems = PageProblems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console_errors.append(f"console: {message.text} ({message.location})")

    # Main-frame navigations started so far, and the count when each request was issued: a request
    # aborted after a later navigation began was cancelled by that navigation, not by a fault.
    navigations = 0
    issued_at: dict[Request, int] = {}

    def on_request(req: Request) -> None:
        nonlocal navigations
        if req.is_navigation_request() and req.frame == page.main_frame:
            navigations += 1
        issued_at[req] = navigations

    def on_request_failed(req: Request) -> None:
        started = issued_at.pop(req, navigations)
        if req.failure == "net::ERR_ABORTED" and navigations > started:
            return
        problems.failed_requests.append(f"request failed: {req.method} {req.url} {req.failure}")

    page.on("request", on_request)
    page.on("requestfinished", lambda req: issued_at.pop(req, None))
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(f"page error: {error}"))
    page.on("requestfailed", on_request_failed)
    try:
        yield page, problems
    finally:
        await save_screenshot(page, request.node.name)
        await context.close()
    unexpected = problems.unexpected()
    assert not unexpected, "the page reported errors:\n" + "\n".join(unexpected)
