"""The dashboards' cookies over https: `__Host-` names (Secure, path /, this host alone), and a CSRF token bound to
the session, so a planted cookie or another session's token does not pass (finding 16)."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Account
from api.state import AppState
from tests.conftest import asgi_client
from tests.factories import PASSWORD, make_account


async def _signed_in(client: httpx.AsyncClient, email: str) -> str:
    """Sign in through the dashboards' form; the session's CSRF token."""
    form = await client.get("/pages/sign-in")
    pre_session = client.cookies["__Host-maeul_csrf"]
    assert "Secure" in form.headers["set-cookie"] and "__Host-maeul_csrf=" in form.headers["set-cookie"]
    done = await client.post(
        "/pages/sign-in", data={"username": email, "password": PASSWORD, "csrf": pre_session, "next": "/pages/city"}
    )
    assert done.status_code == 303, done.text
    cookies = done.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("__Host-maeul_session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "Domain" not in session_cookie
    bound = client.cookies["__Host-maeul_csrf"]
    assert bound != pre_session  # a new session, its own token
    return bound


async def test_over_https_cookies_are_host_only_and_csrf_is_bound_to_the_session(
    state: AppState, session: AsyncSession
):
    first, second = await make_account(session), await make_account(session)
    await session.commit()
    emails = [await session.scalar(select(Account.email).where(Account.id == a.id)) for a in (first, second)]
    async with asgi_client(state, session) as other:
        other.base_url = httpx.URL("https://maeul.test")
        others_token = await _signed_in(other, str(emails[1]))
    async with asgi_client(state, session) as client:
        client.base_url = httpx.URL("https://maeul.test")
        token = await _signed_in(client, str(emails[0]))
        change = {"amount_krw": 1_000}
        refused = await client.post("/wallet/top-ups", json=change)
        assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
        crossed = await client.post("/wallet/top-ups", json=change, headers={"X-CSRF-Token": others_token})
        assert crossed.status_code == 403  # another session's token
        client.cookies.set("maeul_csrf", "planted", domain="maeul.test")  # a cookie a sibling could plant
        planted = await client.post("/wallet/top-ups", json=change, headers={"X-CSRF-Token": "planted"})
        assert planted.status_code == 403
        genuine = await client.post("/wallet/top-ups", json=change, headers={"X-CSRF-Token": token})
        assert genuine.status_code == 201, genuine.text
