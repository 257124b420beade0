"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with no network at all.

FastAPI's default pages load their JavaScript from a CDN (and ReDoc its fonts from Google):
offline they render blank. Here both pages load their assets from the installed
``fastapi-offline`` package, mounted at ``/docs-assets``, so every request a docs page makes
goes to the service itself. Two more guards: ReDoc's bundle is served with its one outside
reference (the sidebar's vendor logo, fetched from a CDN) pointed at the local favicon, and
both pages carry a Content-Security-Policy that lets the browser load nothing from another
origin.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
"""Swagger UI (``swagger-ui-bundle.js``, ``swagger-ui.css``), ReDoc (``redoc.standalone.js``)
and a favicon, as shipped by ``fastapi-offline``."""

REDOC_BUNDLE = "redoc.standalone.js"
REDOC_LOGO_URL = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The only outside URL ReDoc's bundle loads by itself (an <img> in the sidebar footer)."""

SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    # No badge that would ask validator.swagger.io about the schema.
    "validatorUrl": None,
    "tryItOutEnabled": True,
    "displayOperationId": True,
}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # Swagger UI starts from an inline script; ReDoc injects styles and runs a blob worker.
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)
"""The docs pages may load nothing from another origin."""


@cache
def redoc_bundle() -> bytes:
    """ReDoc's bundle, its sidebar logo pointed at the local favicon."""
    text = (ASSETS_DIR / REDOC_BUNDLE).read_text(encoding="utf-8")
    return text.replace(REDOC_LOGO_URL, f"{ASSETS_URL}/favicon.png").encode("utf-8")


def _no_network(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the two documentation pages of ``app`` and their assets (create the app with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages do not claim the paths)."""
    router = APIRouter(include_in_schema=False)
    title = app.title

    @router.get(docs_url)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI."""
        root = request.scope.get("root_path", "")
        return _no_network(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title} — Swagger UI",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
            )
        )

    @router.get(redoc_url)
    async def redoc(request: Request) -> HTMLResponse:
        """ReDoc."""
        root = request.scope.get("root_path", "")
        return _no_network(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title} — ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/{REDOC_BUNDLE}",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )

    @router.get(f"{ASSETS_URL}/{REDOC_BUNDLE}")
    async def redoc_js() -> Response:
        """ReDoc's bundle (before the static mount, which would serve the original)."""
        return Response(
            redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
