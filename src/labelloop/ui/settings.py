"""The settings page: members and roles, label-schema versions and their guidelines, sources and their
runs, releases with their diff and downloads.

Stewards and admins open it (``settings.manage``); the members section and its actions need
``users.manage`` (admins); publishing needs ``schema.publish``. Every action is a form post with the
session's CSRF token that redirects back with a message (post/redirect/get); bad input renders the page
again with the message and the error's status (422, 409, 404), never a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import Registry
from labelloop.errors import HTTP_STATUS, ConfigError, ConflictError, InvalidInputError, NotFoundError, lookup
from labelloop.governance.service import (
    Role,
    add_user,
    allowed,
    list_members,
    require,
    revoke_tokens,
    set_password,
    set_role,
)
from labelloop.governance.sessions import WebSession
from labelloop.metrics.settings import publish_from_file, schema_preview, schema_versions, sources_overview
from labelloop.project import Project
from labelloop.releases.service import diff_releases, list_releases
from labelloop.ui.web import CurrentSession, PageRoute, check_form_csrf, member, render, see_other

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Items of each kind (added, removed, relabeled) a diff lists on the page; the counts are complete.
DIFF_ITEMS = 20
#: What a user can get wrong in a form: shown on the page with its status.
USER_ERRORS = (InvalidInputError, ConflictError, NotFoundError, ConfigError)
ROLES = [r.value for r in Role]


def _when(epoch: float | None) -> str:
    return "—" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _flash(query: dict[str, str], members: set[str]) -> str | None:
    """The message after an action, built here from a code (a link cannot make the page say anything:
    a name is shown only when it is one of ``members``, the project's members)."""
    done, name = query.get("done"), query.get("name", "")
    if done in ("added", "role", "role-same", "revoked", "password") and name not in members:
        return None
    role = query.get("role") if query.get("role") in ROLES else None
    if done == "added" and role:
        return f"Added {name} as {role}."
    if done == "role" and role:
        return f"{name} is now {role}."
    if done == "role-same" and role:
        return f"{name} already was {role}."
    if done == "revoked":
        return f"Revoked {_int(query.get('n')) or 0} API token(s) of {name}."
    if done == "password":
        return f"Set a new password for {name}; their web sessions ended."
    if done == "published":
        version, migrated, requeued = (_int(query.get(k)) or 0 for k in ("version", "migrated", "requeued"))
        return (
            f"Published label schema version {version}: {migrated} annotations migrated, "
            f"{requeued} records queued to be labeled again."
        )
    return None


def _diff(target: Project, releases: list[dict[str, Any]], old: str | None, new: str | None) -> dict[str, Any] | None:
    names = [r["name"] for r in releases]
    if len(names) < 2 and not (old and new):
        return None
    old = old or names[-2]
    new = new or names[-1]
    return diff_releases(target, old, new, limit=DIFF_ITEMS)


def _context(
    target: Project, session: WebSession, query: dict[str, str], errors: dict[str, str], form: dict[str, str]
) -> dict[str, Any]:
    """Everything the page shows (runs in a worker thread: it reads the store)."""
    admin = allowed(session.principal, "users.manage")
    members = list_members(target) if admin else []
    releases = list_releases(target)
    diff = None
    diff_error = None
    try:
        diff = _diff(target, releases, query.get("from") or None, query.get("to") or None)
    except USER_ERRORS as exc:
        diff_error = exc.message
    return {
        "active": "settings",
        "flash": _flash(query, {m["name"] for m in members}),
        "errors": errors,
        "form": form,
        "show_members": admin,
        "members": members,
        "roles": ROLES,
        "can_publish": allowed(session.principal, "schema.publish"),
        "versions": schema_versions(target),
        "preview": schema_preview(target),
        "sources": sources_overview(target),
        "releases": list(reversed(releases)),
        "release_names": [r["name"] for r in releases],
        "diff": diff,
        "diff_error": diff_error,
        "can_export": allowed(session.principal, "releases.export"),
        "when": _when,
    }


async def _page(
    request: Request,
    registry: Registry,
    session: WebSession,
    project: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    target = member(registry, session, project, "settings.manage")
    query = dict(request.query_params)
    context = await run_in_threadpool(_context, target, session, query, errors or {}, form or {})
    return render(request, "settings.html", session, project, context, status=status)


@router.get("/projects/{project}/settings", response_class=HTMLResponse)
async def settings_page(request: Request, project: str, session: CurrentSession, registry: Registry) -> HTMLResponse:
    """The settings page (``settings.manage``: stewards and admins; members for admins only).
    ``?from=A&to=B`` picks the releases to compare (default: the last two)."""
    return await _page(request, registry, session, project)


async def _form(request: Request, session: WebSession) -> dict[str, str]:
    form = await request.form()
    check_form_csrf(session, form)
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _back(project: str, anchor: str, **query: Any) -> Response:
    return see_other(f"/projects/{project}/settings?{urlencode(query)}#{anchor}")


def _actor(session: WebSession) -> str:
    return f"user:{session.principal.name}"


@router.post("/projects/{project}/settings/members")
async def add_member(request: Request, project: str, session: CurrentSession, registry: Registry) -> Response:
    """Add a member with a role and an initial password (admins)."""
    target = member(registry, session, project, "users.manage")
    form = await _form(request, session)
    name, role = form.get("name", "").strip(), form.get("role", "")
    try:
        if not form.get("password"):
            raise InvalidInputError("give the new member an initial password (8 to 1024 characters)")
        await run_in_threadpool(add_user, target, name, role, form["password"], _actor(session))
    except USER_ERRORS as exc:
        kept = {"name": name, "role": role}
        return await _page(request, registry, session, project, errors={"add": exc.message}, form=kept,
                           status=lookup(HTTP_STATUS, exc))  # fmt: skip
    return _back(project, "members", done="added", name=name, role=role)


@router.post("/projects/{project}/settings/members/{name}/role")
async def change_role(
    request: Request, project: str, name: str, session: CurrentSession, registry: Registry
) -> Response:
    """Give a member another role (admins; the last admin keeps the role)."""
    target = member(registry, session, project, "users.manage")
    form = await _form(request, session)
    try:
        result = await run_in_threadpool(set_role, target, name, form.get("role", ""), _actor(session))
    except USER_ERRORS as exc:
        return await _page(request, registry, session, project, errors={"members": exc.message},
                           status=lookup(HTTP_STATUS, exc))  # fmt: skip
    return _back(project, "members", done="role" if result["changed"] else "role-same", name=name, role=result["role"])


@router.post("/projects/{project}/settings/members/{name}/tokens/revoke")
async def revoke_member_tokens(
    request: Request, project: str, name: str, session: CurrentSession, registry: Registry
) -> Response:
    """Revoke every API token of a member (admins)."""
    target = member(registry, session, project, "users.manage")
    await _form(request, session)
    try:
        result = await run_in_threadpool(revoke_tokens, target, name, _actor(session))
    except USER_ERRORS as exc:
        return await _page(request, registry, session, project, errors={"members": exc.message},
                           status=lookup(HTTP_STATUS, exc))  # fmt: skip
    return _back(project, "members", done="revoked", name=name, n=result["revoked"])


@router.post("/projects/{project}/settings/members/password")
async def change_password(request: Request, project: str, session: CurrentSession, registry: Registry) -> Response:
    """Set a member's password; their web sessions end (admins)."""
    target = member(registry, session, project, "users.manage")
    form = await _form(request, session)
    name = form.get("name", "")
    try:
        await run_in_threadpool(set_password, target, name, form.get("password", ""), _actor(session))
    except USER_ERRORS as exc:
        return await _page(request, registry, session, project, errors={"password": exc.message},
                           form={"password_name": name}, status=lookup(HTTP_STATUS, exc))  # fmt: skip
    return _back(project, "members", done="password", name=name)


@router.post("/projects/{project}/settings/schema/publish")
async def publish(request: Request, project: str, session: CurrentSession, registry: Registry) -> Response:
    """Publish labelloop.yaml's label schema as the next version, with its migration (``schema.publish``)."""
    target = member(registry, session, project, "settings.manage")
    require(session.principal, "schema.publish", project)
    await _form(request, session)
    try:
        result = await run_in_threadpool(publish_from_file, target, _actor(session))
    except USER_ERRORS as exc:
        return await _page(request, registry, session, project, errors={"schema": exc.message},
                           status=lookup(HTTP_STATUS, exc))  # fmt: skip
    return _back(
        project, "schema", done="published", version=result["version"], migrated=result["migrated"],
        requeued=result["requeued"],
    )  # fmt: skip
