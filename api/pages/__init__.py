"""The dashboards: pages for the city (`/pages/city`) and the village enterprise (`/pages/operator`), signed in with
the same accounts as the API.

Signing in (`/pages/sign-in`, a plain form) sets the session cookie (the access token: HttpOnly, SameSite=Strict,
Secure over https) and a CSRF cookie the pages' scripts send back as a header on changes (`api/auth.py`); the form
itself carries the CSRF cookie's value, so another site cannot sign a browser in or out. The pages are HTML shells;
their scripts read the JSON API with the cookie, so what a page shows is what the API answers. Their libraries
(Leaflet, Chart.js) come from `node_modules` (pinned in `package-lock.json`, installed by `make`): nothing is
fetched from the internet, and without base-map tiles (`MAEUL_MAP_TILE_URL`) the map still draws zones and points.
Labels in Korean and English (`?lang=ko|en`, else the browser's language).
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import jwt
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from accounts import service
from accounts.actor import Actor
from accounts.errors import InvalidCredentials, SignInUnavailable, TooManyAttempts
from accounts.models import Role
from api.auth import (
    CSRF_COOKIE,
    MONITORS,
    OPERATORS,
    SESSION_COOKIE,
    cookie_name,
    csrf_valid,
    current_token,
    issue_token,
    read_cookie,
    secure_cookies,
    session_csrf,
    token_id,
)
from api.deps import NowDep, SessionDep, StateDep
from api.errors import NotAuthenticated
from api.state import AppState

HERE = Path(__file__).parent
NODE_MODULES = HERE.parent.parent / "node_modules"
VENDOR = {"leaflet": NODE_MODULES / "leaflet" / "dist", "chart.js": NODE_MODULES / "chart.js" / "dist"}


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A dashboard page: the shell `dashboard.html` around its own `<main>` (`templates/<name>.html`) and script
    (`static/<name>.js`); its heading's label key is `<name>_title`."""

    roles: frozenset[Role]  # who may open it
    title: str  # in the browser's tab, after "maeul · "
    heading: str  # in English, until the script puts the labels in the reader's language


DASHBOARDS = {
    "city": Dashboard(MONITORS, "city", "City dashboard"),
    "operator": Dashboard(OPERATORS, "village enterprise", "Village enterprise"),
}
HOME = {Role.CITY: "city", Role.OPERATOR: "operator", Role.ADMIN: "operator"}

router = APIRouter(prefix="/pages", include_in_schema=False)


def _template(name: str, *, main: str = "", **values: str) -> str:
    """A page: `{{main}}` takes a fragment of our own as it is, every other `{{key}}` its value escaped."""
    text = (HERE / "templates" / name).read_text().replace("{{main}}", main)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return text


def _with_csrf(response: Response, request: Request, state: AppState, token: str) -> Response:
    name, secure = cookie_name(request, state.settings, CSRF_COOKIE), secure_cookies(request, state.settings)
    response.set_cookie(name, token, samesite="strict", secure=secure, path="/")
    return response


def _page(
    request: Request, state: AppState, name: str, *, status: int = 200, main: str = "", **values: str
) -> Response:
    """A page with the request's CSRF token (a new one, set as a cookie, when it has none yet) in its forms."""
    csrf = read_cookie(request, state.settings, CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = HTMLResponse(_template(name, main=main, csrf=csrf, **values), status_code=status)
    return _with_csrf(response, request, state, csrf)


def _local(target: str | None) -> str | None:
    """Only a dashboard page of this site is a place to go after signing in (never another site)."""
    if target and target.startswith("/pages/") and "//" not in target and "\\" not in target:
        return target
    return None


def _sign_in_page(request: Request, state: AppState, *, target: str, error: str = "", status: int = 200) -> Response:
    return _page(request, state, "sign-in.html", status=status, next=target, error=error)


@router.get("")
async def home(request: Request, state: StateDep, session: SessionDep, now: NowDep) -> Response:
    """To the signed-in account's dashboard, or to signing in."""
    actor = await _actor(request, state, session, now)
    if actor is None:
        return RedirectResponse("/pages/sign-in", status_code=303)
    if actor.role not in HOME:
        return _forbidden(request, state, actor)
    return RedirectResponse(f"/pages/{HOME[actor.role]}", status_code=303)


@router.get("/sign-in")
async def sign_in_form(request: Request, state: StateDep, next: str | None = None) -> Response:
    return _sign_in_page(request, state, target=_local(next) or "/pages")


@router.post("/sign-in")
async def sign_in(
    request: Request,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    username: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=500)] = "/pages",
) -> Response:
    target = _local(next) or "/pages"
    if not csrf_valid(request, state.settings, state.token_keys, csrf):
        return _sign_in_page(request, state, target=target, error="session expired: try again", status=403)
    try:
        account = await service.authenticate(
            session,
            state.redis,
            email=username,
            password=password,
            max_failures=state.settings.login_max_failures,
            lockout_seconds=state.settings.login_lockout_seconds,
        )
    except InvalidCredentials:
        return _sign_in_page(request, state, target=target, error="wrong email or password", status=401)
    except (TooManyAttempts, SignInUnavailable) as refused:
        return _sign_in_page(request, state, target=target, error=refused.detail, status=429)
    lifetime = timedelta(minutes=state.settings.access_token_minutes)
    token = issue_token(Actor(account.id, Role(account.role)), keys=state.token_keys, now=now, lifetime=lifetime)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        cookie_name(request, state.settings, SESSION_COOKIE),
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, state.settings),
        path="/",
    )
    bound = session_csrf(token_id(token, state.token_keys), state.token_keys)
    return _with_csrf(response, request, state, bound)  # a new session, its own CSRF token


@router.post("/sign-out")
async def sign_out(
    request: Request,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    """Revoke the session's token (like `POST /auth/sign-out`) and forget the cookie."""
    if not csrf_valid(request, state.settings, state.token_keys, csrf):
        return _sign_in_page(request, state, target="/pages", error="session expired: try again", status=403)
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    if token is not None:
        try:
            found = await current_token(request, state, session, now, bearer=token)
        except NotAuthenticated:
            found = None
        if found is not None:
            await service.revoke_token(
                session, account_id=found.actor.id, token_id=found.token_id, expires_at=found.expires_at, now=now
            )
            await session.commit()
    response = RedirectResponse("/pages/sign-in", status_code=303)
    name, secure = cookie_name(request, state.settings, SESSION_COOKIE), secure_cookies(request, state.settings)
    response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="strict")
    return response


async def _actor(request: Request, state: AppState, session: SessionDep, now: NowDep) -> Actor | None:
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    if token is None:
        return None
    try:
        return (await current_token(request, state, session, now, bearer=token)).actor
    except (NotAuthenticated, jwt.PyJWTError):
        return None


def _forbidden(request: Request, state: AppState, actor: Actor) -> Response:
    return _page(request, state, "forbidden.html", status=403, role=str(actor.role))


@router.get("/{dashboard}")
async def dashboard(dashboard: str, request: Request, state: StateDep, session: SessionDep, now: NowDep) -> Response:
    if dashboard not in DASHBOARDS:
        return HTMLResponse("<h1>404</h1>", status_code=404)
    actor = await _actor(request, state, session, now)
    if actor is None:
        return RedirectResponse(f"/pages/sign-in?next={quote(f'/pages/{dashboard}')}", status_code=303)
    page = DASHBOARDS[dashboard]
    if actor.role not in page.roles:
        return _forbidden(request, state, actor)
    settings = state.settings
    return _page(
        request,
        state,
        "dashboard.html",
        main=(HERE / "templates" / f"{dashboard}.html").read_text(),
        dashboard=dashboard,
        title=page.title,
        heading=page.heading,
        tiles=settings.map_tile_url or "",
        attribution=settings.map_tile_attribution,
        timezone=settings.local_timezone,
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/pages/static", StaticFiles(directory=HERE / "static"), name="pages-static")
    for name, directory in VENDOR.items():
        # node_modules comes with `make` (npm ci); an API installed without it serves the pages' shells only
        app.mount(f"/pages/vendor/{name}", StaticFiles(directory=directory, check_dir=False), name=f"vendor-{name}")
