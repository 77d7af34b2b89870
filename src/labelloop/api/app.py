"""The FastAPI application: ``create_app(project)``."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelloop import __version__
from labelloop.api.deps import ProjectRegistry
from labelloop.api.errors import install_error_handlers
from labelloop.api.routers import health, labeling, learning, metrics, quality, records, releases, users
from labelloop.config import Settings
from labelloop.project import Project

__all__ = ["SERVE_DIR_ENV", "create_app", "create_app_from_environment"]

#: ``labelloop serve --workers N`` passes the project folder to each worker process here.
SERVE_DIR_ENV = "LABELLOOP_SERVE_PROJECT_DIR"


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>`` to every answer: the server's own time, for clients and benchmarks.

    Plain ASGI rather than ``@app.middleware("http")``, whose wrapper costs a task and a stream per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"server-timing", took.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


def create_app(project: Project, settings: Settings | None = None) -> FastAPI:
    """The app serving every project of ``project``'s store."""
    settings = settings or Settings()
    app = FastAPI(title="labelloop", version=__version__, openapi_url="/openapi.json")
    app.state.registry = ProjectRegistry(project)
    app.state.max_push_bytes = settings.max_push_bytes
    install_error_handlers(app)
    app.add_middleware(ServerTiming)

    app.include_router(records.router)
    app.include_router(metrics.router)
    app.include_router(health.router)
    app.include_router(labeling.router)
    app.include_router(users.router)
    app.include_router(quality.router)
    app.include_router(learning.router)
    app.include_router(releases.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app_from_environment() -> FastAPI:
    """The app for the project folder in ``LABELLOOP_SERVE_PROJECT_DIR`` (one per server worker process)."""
    from pathlib import Path

    from labelloop.project import open_project

    folder = os.environ.get(SERVE_DIR_ENV)
    if not folder:
        raise RuntimeError(f"{SERVE_DIR_ENV} is not set")
    return create_app(open_project(Path(folder)))
