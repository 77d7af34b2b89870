"""The page routers of the web app, one module per page family."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.ui import annotate, dashboard, quarantine, review, settings

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """Every page router, in the navigation's order."""
    return [annotate.router, review.router, quarantine.router, dashboard.router, settings.router]
