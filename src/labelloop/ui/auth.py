"""Log in, log out and the landing page of each role."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import Registry
from labelloop.errors import AuthenticationError, InvalidInputError
from labelloop.governance.sessions import COOKIE, SESSION_HOURS, log_in, log_out
from labelloop.ui.web import CurrentSession, PageRoute, check_form_csrf, error_page, nav_for, see_other, templates

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: The double-submit cookie that guards the login form (there is no session yet to hold a token).
LOGIN_CSRF = "labelloop_login_csrf"


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (``/...``, not ``//host``) is followed after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _login_form(request: Request, next_url: str | None, error: str | None, username: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"session": None, "login_csrf": token, "next": next_url or "", "error": error, "username": username},
        status_code=401 if error else 200,
    )
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The login form."""
    return _login_form(request, _safe_next(next), None)


@router.post("/login")
async def login_submit(
    request: Request,
    registry: Registry,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the name and password, set the session cookie and go on to the page asked for."""
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_form(request, _safe_next(next), "The form expired: please try again.", username)
    try:
        session = await run_in_threadpool(log_in, registry.store, username, password, project.strip() or None)
    except (AuthenticationError, InvalidInputError) as exc:
        return _login_form(request, _safe_next(next), exc.message[:1].upper() + exc.message[1:] + ".", username)
    earlier = request.cookies.get(COOKIE)
    if earlier and earlier != session.token:
        # a login on a browser that still had a session (someone else's, or another project's)
        # ends that one: the cookie is replaced below, so nobody could use or log out of it again
        await run_in_threadpool(log_out, registry.store, earlier)
    target = _safe_next(next) or f"/projects/{session.principal.project}/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF)
    return response


@router.post("/logout")
async def logout(request: Request, session: CurrentSession, registry: Registry) -> Response:
    """End the session (the cookie is cleared and the session revoked in the store)."""
    check_form_csrf(session, await request.form())
    await run_in_threadpool(log_out, registry.store, session.token)
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def root(session: CurrentSession) -> Response:
    """The caller's project."""
    return see_other(f"/projects/{session.principal.project}/")


@router.get("/projects/{project}/")
def project_home(request: Request, project: str, session: CurrentSession) -> Response:
    """The first page the caller's role works on (annotators annotate, reviewers review, ...)."""
    if session.principal.project != project:
        return error_page(request, 403, "Not allowed", f"you are not a member of project '{project}'")
    entries = nav_for(session.principal)
    first = "dashboard" if session.principal.role.value in {"admin", "steward", "viewer"} else entries[0][0]
    return see_other(f"/projects/{project}/{first}")
