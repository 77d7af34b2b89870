"""The FastAPI application: ``create_app(project)``."""

from __future__ import annotations

from fastapi import FastAPI

from labelloop import __version__
from labelloop.api.deps import ProjectRegistry
from labelloop.api.errors import install_error_handlers
from labelloop.api.routers import health, metrics, records
from labelloop.config import Settings
from labelloop.project import Project

__all__ = ["create_app"]


def create_app(project: Project, settings: Settings | None = None) -> FastAPI:
    """The app serving every project of ``project``'s store."""
    settings = settings or Settings()
    app = FastAPI(title="labelloop", version=__version__, openapi_url="/openapi.json")
    app.state.registry = ProjectRegistry(project)
    app.state.max_push_bytes = settings.max_push_bytes
    install_error_handlers(app)
    app.include_router(records.router)
    app.include_router(metrics.router)
    app.include_router(health.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
