"""Dependencies shared by the routers: the store, the caller, the project."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from labelloop.governance.service import Principal, authenticate_token, cached_principal
from labelloop.governance.sessions import COOKIE, authenticate_session, cached_session, check_csrf
from labelloop.project import Project, open_project_in_store

__all__ = ["CurrentPrincipal", "ProjectRegistry", "get_principal", "get_registry"]


class ProjectRegistry:
    """The projects of one store, opened on first use."""

    def __init__(self, home: Project) -> None:
        self.home = home
        self.store = home.store
        self._open: dict[str, Project] = {home.name: home}

    def get(self, name: str) -> Project:
        """The open project ``name``; :class:`NotFoundError` if the store has none."""
        project = self._open.get(name)
        if project is None:
            project = open_project_in_store(self.store, name, self.home.blobs)
            self._open[name] = project
        return project


def get_registry(request: Request) -> ProjectRegistry:
    """The registry held by the app."""
    registry: ProjectRegistry = request.app.state.registry
    return registry


Registry = Annotated[ProjectRegistry, Depends(get_registry)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_principal(request: Request, registry: Registry) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` (programs) or the web app's session cookie.

    A cookie-authenticated request that changes state must carry the session's CSRF token
    in ``X-CSRF-Token``.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None
    cookie = request.cookies.get(COOKIE)
    if bearer is None and cookie:
        session = cached_session(registry.store, cookie)
        if session is None:
            session = await run_in_threadpool(authenticate_session, registry.store, cookie)
        if request.method not in SAFE_METHODS:
            check_csrf(session, request.headers.get("x-csrf-token"))
        return session.principal
    # A recently verified token needs no store lookup, so no hop to a worker thread either.
    known = cached_principal(registry.store, bearer)
    if known is not None:
        return known
    return await run_in_threadpool(authenticate_token, registry.store, bearer)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
