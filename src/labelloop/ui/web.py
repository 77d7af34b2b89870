"""What every page shares: templates, the logged-in session, CSRF on forms, error pages.

Pages are server-rendered Jinja2 templates with autoescaping on; the only scripts are the
static files under ``ui/static`` (see :mod:`labelloop.ui.security` for the CSP). Data a
script needs travels in ``data-*`` attributes or comes from the JSON API, never inside a
``<script>`` element. A page route is an :class:`PageRoute`: a labelloop error becomes an
HTML page with the same status the API would answer (a missing session redirects to
``/login``), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import nh3
from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from labelloop import __version__
from labelloop.api.deps import Registry
from labelloop.errors import HTTP_STATUS, AuthenticationError, InvalidInputError, LabelloopError, lookup
from labelloop.governance.service import Principal, allowed, require
from labelloop.governance.sessions import COOKIE, WebSession, authenticate_session, cached_session, check_csrf
from labelloop.project import Project
from labelloop.ui.assets import ASSETS

__all__ = [
    "MAX_ID",
    "CurrentSession",
    "PageRoute",
    "check_form_csrf",
    "id_or_none",
    "markdown",
    "member",
    "page_session",
    "render",
    "see_other",
    "templates",
]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

# Guidelines are Markdown written by stewards: raw HTML is off in the parser and the
# result still goes through nh3 (ammonia) with its default allow-list, so a guideline can
# never carry a script, an event handler or a javascript: link into a labeler's page.
_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str | None) -> Markup:
    """``text`` as sanitized HTML (Markdown rendered, then cleaned with nh3)."""
    if not text:
        return Markup("")
    return Markup(nh3.clean(_MD.render(text), link_rel="noopener noreferrer nofollow"))


templates.env.filters["markdown"] = markdown
templates.env.globals["version"] = __version__
templates.env.globals["static"] = ASSETS.url

#: The pages of a project, in the navigation's order: (path, label, permission).
NAV: list[tuple[str, str, str]] = [
    ("annotate", "Annotate", "queue.work"),
    ("review", "Review", "review.decide"),
    ("adjudicate", "Adjudicate", "adjudicate"),
    ("quarantine", "Quarantine", "quarantine.decide"),
    ("dashboard", "Dashboard", "metrics.read"),
    ("settings", "Settings", "settings.manage"),
]


class LoginRequiredError(AuthenticationError):
    """A page was asked for without a live session."""


class PageRoute(APIRoute):
    """A page route: labelloop errors become HTML error pages (or a redirect to the login)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                await _refuse_nul(request)
                return await handler(request)
            except AuthenticationError as exc:
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                return error_page(request, 401, "Log in again", exc.message)
            except LabelloopError as exc:
                status = lookup(HTTP_STATUS, exc)
                return error_page(request, status, _TITLES.get(status, "Something is wrong"), exc.message)

        return page


async def _refuse_nul(request: Request) -> None:
    """A NUL character in the path, the query or a form field is refused (422) before any route reads it:
    PostgreSQL cannot store or even compare text holding one (the driver raises, a 500)."""
    values: list[Any] = [request.scope.get("path", ""), *request.query_params.values()]
    kind = request.headers.get("content-type", "")
    if request.method == "POST" and kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        values += [v for _, v in (await request.form()).multi_items()]  # parsed once: the route gets the same form
    if any(isinstance(v, str) and "\x00" in v for v in values):
        raise InvalidInputError("the request holds a NUL character, which no field may contain")


_TITLES = {400: "Check the input", 403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Check the input"}


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    """An HTML error page with the API's status code."""
    return templates.TemplateResponse(
        request, "error.html", {"title": title, "detail": detail, "status": status, "session": None}, status_code=status
    )


async def page_session(request: Request, registry: Registry) -> WebSession:
    """The session of the page's caller; redirects to the login page when there is none."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise LoginRequiredError("log in to see this page")
    found = cached_session(registry.store, cookie)
    if found is not None:
        return found
    return await run_in_threadpool(authenticate_session, registry.store, cookie)


CurrentSession = Annotated[WebSession, Depends(page_session)]


def member(registry: Registry, session: WebSession, project: str, permission: str) -> Project:
    """The open project, once the session's user is a member with ``permission`` (else 403)."""
    require(session.principal, permission, project)
    return registry.get(project)


#: The largest id a form field or a link may name: ids are signed 64-bit integers in the store.
MAX_ID = 2**63 - 1


def id_or_none(raw: object, high: int = MAX_ID) -> int | None:
    """``raw`` (a form field or query value) as a whole number from 0 to ``high``; None otherwise.

    Only ASCII digits count: ``str.isdigit`` also says yes to "²", which ``int`` refuses, and a
    number beyond ``high`` is refused here rather than overflowing the database driver.
    """
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if value <= high else None


def check_form_csrf(session: WebSession, form: Any) -> None:
    """Refuse a form post whose ``csrf_token`` field is not the session's (403)."""
    value = form.get("csrf_token") if form is not None else None
    check_csrf(session, value if isinstance(value, str) else None)


def nav_for(principal: Principal) -> list[tuple[str, str]]:
    """The navigation entries the principal's role may open: (path, label)."""
    return [(path, label) for path, label, permission in NAV if allowed(principal, permission)]


def render(
    request: Request, template: str, session: WebSession, project: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """A project page with the shared context: the session, the navigation and the CSRF token."""
    page = {
        "session": session,
        "user": session.principal,
        "project": project,
        "nav": nav_for(session.principal),
        "csrf_token": session.csrf_token,
        **context,
    }
    return templates.TemplateResponse(request, template, page, status_code=status)


def see_other(url: str) -> RedirectResponse:
    """The redirect after a successful form post (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)
