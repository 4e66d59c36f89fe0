"""The dashboards in a real browser (Debian's chromium, Playwright) against `maeul demo`, whose simulated village
fills the KPIs: signing in and out, the pages load offline without console errors, the map's canvas is drawn, the
charts and tables show what the KPI API answers, Korean labels; screenshots are kept in `test-artefacts/`."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, Route
from redis.asyncio import Redis

from core.redis import redis_database
from core.settings import Settings
from sim import live
from sim.pilot import DEMO_PASSWORD
from tests.conftest import DEMO_REDIS_DB

pytestmark = pytest.mark.slow

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"


async def _page(browser: Browser, problems: list[str]) -> Page:
    """A page that can reach only loopback (no internet), recording console errors, page errors and whatever it
    tried to fetch from elsewhere."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1600}, locale="en-GB")

    async def only_loopback(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            problems.append(f"fetched {route.request.url}")
            await route.abort()

    await context.route("**/*", only_loopback)
    page = await context.new_page()
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


async def _sign_in(page: Page, base: str, who: str, target: str) -> None:
    await page.goto(f"{base}{target}")
    assert page.url.startswith(f"{base}/pages/sign-in")  # not signed in: to the form, and back afterwards
    await page.fill("input[name=username]", f"{who}@maeul.demo")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("#sign-in")
    await page.wait_for_url(f"{base}{target}")
    await page.wait_for_selector("body[data-ready=true]", timeout=60_000)


async def _map_is_drawn(page: Page) -> int:
    """Coloured pixels on the map's canvas (Leaflet draws zones and points there)."""
    return int(
        await page.evaluate(
            """() => {
                const canvas = document.querySelector('#map canvas');
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let drawn = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) drawn++;
                return drawn;
            }"""
        )
    )


async def _api(page: Page, path: str) -> object:
    """The API as the signed-in page sees it (its session cookie)."""
    answer = await page.request.get(urljoin(page.url, path))
    assert answer.ok, (path, answer.status)
    return await answer.json()


async def _live_rows(base: str, settings: Settings) -> None:
    """Wait until the demo's simulated village has caught up with the wall clock (it plays the last day, from this
    hour yesterday, so at whatever time the tests run there is a day behind them), then see illegal parkings on record
    (its cameras upload every simulated minute)."""
    redis = Redis.from_url(redis_database(settings, DEMO_REDIS_DB))
    try:
        for _ in range(300):
            if await redis.get(live.CAUGHT_UP):
                break
            await asyncio.sleep(1)
        else:
            raise AssertionError("the demo's village did not catch up with the wall clock in five minutes")
    finally:
        await redis.aclose()
    today = datetime.now(ZoneInfo("Asia/Seoul")).date()
    days = {"first": (today - timedelta(days=1)).isoformat(), "last": today.isoformat()}
    async with httpx.AsyncClient(base_url=base) as client:
        token = await client.post("/auth/token", data={"username": "city@maeul.demo", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        daily = await client.get("/kpi/daily", params=days, headers=headers)
    assert any(day["illegal_parking"] for day in daily.json()), daily.json()


async def test_the_city_signs_in_and_reads_the_kpis_the_api_gives(browser: Browser, demo_api: str, settings: Settings):
    await _live_rows(demo_api, settings)
    problems: list[str] = []
    page = await _page(browser, problems)
    await _sign_in(page, demo_api, "city", "/pages/city")
    ARTEFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTEFACTS / "city.png", full_page=True)
    assert problems == []
    assert await _map_is_drawn(page) > 1000

    # the daily chart shows the KPI API's days (read again if the simulated village moved in between)
    for _ in range(3):
        shown = await page.evaluate("() => window.maeulCharts['daily-chart'].data.datasets.map(d => [d.label, d.data])")
        labels = await page.evaluate("() => window.maeulCharts['daily-chart'].data.labels")
        export = await page.evaluate("() => document.getElementById('export-daily').getAttribute('href')")
        query = dict(part.split("=") for part in export.split("?")[1].split("&"))
        days = await _api(page, f"/kpi/daily?first={query['first']}&last={query['last']}")
        assert isinstance(days, list)
        expected = [[d["illegal_parking"] for d in days], [d["entering_vehicles"] for d in days]]
        if [shown[0][1], shown[1][1]] == expected:
            break
        await page.reload()
        await page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert [shown[0][1], shown[1][1]] == expected, (shown, expected)
    assert labels == [d["day"][5:] for d in days] and len(labels) == 14
    assert shown[0][0] == "Illegal parking (vehicles)"
    assert days[-2]["illegal_parking"] or days[-1]["illegal_parking"]  # the village plays the last day: live rows

    # the KPI table is this month's, beside the published values
    month = await page.inner_text("#month")
    monthly = await _api(page, f"/kpi/monthly?month={month}")
    assert isinstance(monthly, dict)
    row = page.locator("#kpi-table tr[data-kpi=supply_ratio] td")
    summary = next(k for k in monthly["kpis"] if k["kpi"] == "supply_ratio")
    cells = await row.all_inner_texts()
    assert cells[0] == "Parking supply ratio"
    assert float(cells[1]) == round(summary["weekday"], 3) if summary["weekday"] is not None else cells[1] == "-"
    assert cells[3] == "0.371 / 0.373" and cells[4] == "1.094 / 1.108"

    # the hourly chart is today's supply ratio hour by hour
    hourly_shown = await page.evaluate("() => window.maeulCharts['hourly-chart'].data.datasets[0].data")
    today = await page.evaluate("() => Maeul.localDay(0)")
    hourly = await _api(page, f"/kpi/hourly?day={today}")
    assert isinstance(hourly, dict)
    assert hourly_shown == hourly["supply_ratio"] and len(hourly_shown) == 24

    # Korean labels
    await page.goto(f"{demo_api}/pages/city?lang=ko")
    await page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert await page.inner_text("h1") == "시 현황판"
    await page.screenshot(path=ARTEFACTS / "city-ko.png", full_page=True)

    # signing out revokes the session: the pages send the browser back to the form, the old cookie opens nothing
    cookie = next(c for c in await page.context.cookies() if c["name"] == "maeul_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await page.click("#sign-out")
    await page.wait_for_url(f"{demo_api}/pages/sign-in")
    await page.goto(f"{demo_api}/pages/city")
    assert page.url.startswith(f"{demo_api}/pages/sign-in")
    async with httpx.AsyncClient(base_url=demo_api, cookies={"maeul_session": cookie["value"]}) as old:
        assert (await old.get("/me")).status_code == 401
    assert problems == []


async def test_the_village_enterprise_sees_its_day(browser: Browser, demo_api: str):
    problems: list[str] = []
    page = await _page(browser, problems)
    await _sign_in(page, demo_api, "operator", "/pages/operator")
    ARTEFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTEFACTS / "operator.png", full_page=True)
    assert problems == []
    assert await _map_is_drawn(page) > 1000
    today = await page.evaluate("() => Maeul.localDay(0)")
    for _ in range(3):
        shown = {
            await row.get_attribute("data-kpi"): (await row.locator("td").all_inner_texts())[1]
            for row in await page.locator("#revenue tr").all()
        }
        [day] = await _api(page, f"/kpi/daily?first={today}&last={today}")  # type: ignore[misc]
        expected = {name: "-" if day[name] is None else f"{day[name]:,.0f}" for name in shown}
        if shown == expected:
            break
        await page.reload()
        await page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert shown == expected and set(shown) >= {"revenue_enterprise", "revenue_city", "revenue_owners"}
    assert await page.locator("#bookings tr").count() >= 2  # a header and at least one state of today's bookings
    assert await page.locator("#complaints li").count() >= 1


async def test_the_pages_refuse_other_accounts_and_forged_changes(browser: Browser, demo_api: str):
    problems: list[str] = []
    page = await _page(browser, problems)
    await page.goto(f"{demo_api}/pages/sign-in")
    await page.fill("input[name=username]", "resident@maeul.demo")
    await page.fill("input[name=password]", "not the password")
    await page.click("#sign-in")
    assert "wrong email or password" in await page.inner_text(".error")
    await page.fill("input[name=username]", "resident@maeul.demo")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("#sign-in")
    assert "Not for this account" in await page.inner_text("h1")  # residents use the app, not the dashboards
    # the session cookie alone does not make a change: the CSRF header must match the CSRF cookie
    forged = await page.request.post(f"{demo_api}/wallet/top-ups", data={"amount_krw": 1000})
    assert forged.status == 403 and (await forged.json())["error"] == "csrf_failed"
    csrf = next(c["value"] for c in await page.context.cookies() if c["name"] == "maeul_csrf")
    genuine = await page.request.post(
        f"{demo_api}/wallet/top-ups", data={"amount_krw": 1000}, headers={"X-CSRF-Token": csrf}
    )
    assert genuine.status == 201, await genuine.text()
    # a sign-in form posted from elsewhere (no CSRF cookie to match) is refused
    async with httpx.AsyncClient(base_url=demo_api) as fresh:
        signing_in = {"username": "city@maeul.demo", "password": DEMO_PASSWORD, "next": "https://evil.example/"}
        elsewhere = await fresh.post("/pages/sign-in", data=signing_in | {"csrf": "guess"})
        assert elsewhere.status_code == 403 and "maeul_session" not in elsewhere.cookies
        # after signing in, only this site's pages are places to go
        token = (await fresh.get("/pages/sign-in")).cookies["maeul_csrf"]
        landed = await fresh.post("/pages/sign-in", data=signing_in | {"csrf": token})
        assert landed.status_code == 303 and landed.headers["location"] == "/pages"
    # the refusals above answered 401 and 403 on purpose (the browser logs each); nothing else went wrong
    expected = {"401 (Unauthorized)", "403 (Forbidden)"}
    assert [p for p in problems if not any(p.endswith(status) for status in expected)] == []
