"""The web pages and the API docs: the single-page UI at `/` (its files under `/static`), and
Swagger UI at `/docs` from the package's own copy, so the docs work offline. Everything they load
is same-origin; their Content-Security-Policy makes the browser enforce it."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# The page loads nothing from elsewhere; the policy makes the browser enforce that.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Swagger UI starts itself with an inline script; everything else it loads is ours.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
}
DOCS_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)


# -- the web page -------------------------------------------------------------------------------


def add_page(app: FastAPI) -> None:
    """The single-page UI at `/`, its script and style under `/static` (all same-origin)."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


# -- the API docs ------------------------------------------------------------------------------


def add_docs(app: FastAPI) -> None:
    """Swagger UI at `/docs`, its scripts and styles from the `swagger-ui-bundle-v2` package under
    `/docs/assets`: the docs work without the internet."""
    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )
        page.headers.update(DOCS_HEADERS)
        return page
