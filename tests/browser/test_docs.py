"""/docs and /redoc work with no internet and under a CSP without inline scripts (theirs allowed by their hashes):
every script and style comes from the project, and the pages render the whole API in a real browser."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.async_api import Browser, Route

pytestmark = pytest.mark.slow


async def _offline_page(browser: Browser, blocked: list[str]):  # type: ignore[no-untyped-def]
    """A page that can reach only loopback, as on a machine without internet; what it tried elsewhere is recorded."""
    context = await browser.new_context()

    async def only_loopback(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            blocked.append(f"{route.request.resource_type} {route.request.url}")
            await route.abort()

    await context.route("**/*", only_loopback)
    return await context.new_page()


async def test_swagger_ui_renders_offline(browser: Browser, live_server: str):
    blocked: list[str] = []
    page = await _offline_page(browser, blocked)
    await page.goto(f"{live_server}/docs")
    await page.wait_for_selector(".opblock", timeout=30_000)
    assert await page.locator(".opblock").count() > 50  # every operation is listed
    assert await page.locator("button.authorize").count() == 1  # sign-in works from the page
    assert await page.locator(".opblock-summary-path", has_text="/slots/search").count() == 1
    assert blocked == []


async def test_redoc_renders_offline(browser: Browser, live_server: str):
    blocked: list[str] = []
    page = await _offline_page(browser, blocked)
    await page.goto(f"{live_server}/redoc")
    await page.wait_for_selector("h1", timeout=30_000)
    await page.locator("h2", has_text="Book a slot").first.wait_for(timeout=30_000)  # an operation rendered
    assert "maeul" in (await page.locator("h1").first.inner_text())
    # the only thing fetched from elsewhere is ReDoc's own "API docs by Redocly" footer logo, which stays blank
    assert blocked == ["image https://cdn.redoc.ly/redoc/logo-mini.svg"]
