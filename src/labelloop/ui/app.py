"""The whole server: the JSON API plus the web app, from one process (``labelloop serve``)."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse

from labelloop.api.app import SERVE_DIR_ENV, create_app
from labelloop.config import Settings
from labelloop.errors import MissingDependencyError
from labelloop.project import Project
from labelloop.ui import auth, pages
from labelloop.ui.assets import ASSETS
from labelloop.ui.security import SecurityHeaders

__all__ = ["create_app_from_environment", "create_web_app", "plotly_js"]

STATIC = Path(__file__).parent / "static"


def plotly_js() -> Path:
    """plotly.js as shipped inside the ``plotly`` Python package (served by labelloop, never from a CDN)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise MissingDependencyError(f"plotly.min.js is missing from the plotly package at {path}")
    return path


def create_web_app(project: Project, settings: Settings | None = None) -> FastAPI:
    """The API of ``create_app`` with the web app's pages, static files and security headers."""
    app = create_app(project, settings)
    app.add_middleware(SecurityHeaders)

    @app.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def static_file(name: str, request: Request) -> Response:
        return await ASSETS.serve(name, request)

    chart_js = plotly_js()

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle() -> FileResponse:
        return FileResponse(chart_js, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.include_router(auth.router)
    for router in pages.routers():
        app.include_router(router)
    return app


def create_app_from_environment() -> FastAPI:
    """The web app for the project folder in ``LABELLOOP_SERVE_PROJECT_DIR`` (one per server worker)."""
    from labelloop.project import open_project

    folder = os.environ.get(SERVE_DIR_ENV)
    if not folder:
        raise RuntimeError(f"{SERVE_DIR_ENV} is not set")
    return create_web_app(open_project(Path(folder)))
