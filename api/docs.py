"""The API's documentation pages, /docs (Swagger UI) and /redoc, served with their scripts and styles from the project
(`api/docs_assets/`, pinned: swagger-ui-dist 5.32.0, redoc 2.5.1), so they work on a city intranet or a laptop with no
internet, where FastAPI's default pages (assets from a CDN) are blank."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.middleware import csp

ASSETS = Path(__file__).parent / "docs_assets"
PREFIX = "/docs-assets"


def _inline_scripts_allowed(page: HTMLResponse) -> HTMLResponse:
    """The page with a CSP that allows exactly its own inline scripts (by their SHA-256), none other."""
    html = bytes(page.body).decode()
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    digests = tuple(base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() for script in scripts)
    page.headers["content-security-policy"] = csp(script_hashes=digests)
    return page


def install(app: FastAPI) -> None:
    """For an app built with `docs_url=None, redoc_url=None`."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _inline_scripts_allowed(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=title,
                oauth2_redirect_url="/docs/oauth2-redirect",
                swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
                swagger_css_url=f"{PREFIX}/swagger-ui.css",
                swagger_favicon_url=f"{PREFIX}/favicon-32x32.png",
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _inline_scripts_allowed(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _inline_scripts_allowed(
            get_redoc_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=title,
                redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                redoc_favicon_url=f"{PREFIX}/favicon-32x32.png",
                with_google_fonts=False,
            )
        )
