"""The dashboard page(s)."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.ui.web import PageRoute

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
