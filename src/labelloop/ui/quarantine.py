"""The quarantine page: held rows and held anomalous runs, and a person's decisions on them.

``/projects/{project}/quarantine`` (permission ``quarantine.decide``) lists the rows waiting in
quarantine with their reason and their raw content (untrusted: always escaped), filtered by
reason and paged with a keyset cursor (a record id; a "Next page" link). Rows are released (re-
validated against the current configuration) or dropped one at a time or in bulk; the flash
says how many were released, how many are still failing and why, and how many were dropped.
Runs an anomaly check held are released or dropped whole. Every rule is in
:mod:`labelloop.ingest.quarantine`.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import Registry
from labelloop.errors import HTTP_STATUS, ConflictError, InvalidInputError, LabelloopError, lookup
from labelloop.governance.sessions import WebSession
from labelloop.ingest.quarantine import (
    decide_held_run,
    decide_quarantined,
    held_runs,
    list_quarantine,
    quarantine_reasons,
)
from labelloop.project import Project
from labelloop.ui.web import CurrentSession, PageRoute, check_form_csrf, id_or_none, member, render, see_other

__all__ = ["flash_of", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Rows per page unless ``limit`` says otherwise (1..200).
PAGE = 50
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_FAILED = re.compile(r"^([A-Za-z0-9_.-]{1,64}):(\d{1,6})$")


def _number(raw: str | None, what: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    value = id_or_none(raw, high)
    if value is None or value < low:
        raise InvalidInputError(f"{what} must be a whole number from {low} to {high}, got '{raw[:20]}'")
    return value


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def flash_of(query: dict[str, str]) -> str | None:
    """The message after a decision, from the redirect's query (``released``, ``dropped``,
    ``failed`` = ``code:n,code:n``; or ``run``, ``run_decision``, ``records``); None if there is none.

    Only numbers and reason codes are read from the URL, so a crafted link cannot put
    arbitrary text into the page's status message.
    """
    if "run" in query and query.get("run_decision") in ("release", "drop"):
        run, records = id_or_none(query["run"]), id_or_none(query.get("records"))
        if run is not None and records is not None:
            verb = "Released" if query["run_decision"] == "release" else "Dropped"
            return f"{verb} run {run}: {_plural(records, 'record')}."
        return None
    released, dropped = id_or_none(query.get("released")), id_or_none(query.get("dropped"))
    if released is None or dropped is None:
        return None
    failing: list[tuple[str, int]] = []
    for part in filter(None, query.get("failed", "").split(",")):
        found = _FAILED.match(part)
        if found:
            failing.append((found.group(1), int(found.group(2))))
    total = sum(n for _, n in failing)
    still = f"{total} still failing" + (f" ({', '.join(f'{c}: {n}' for c, n in failing)})" if failing else "")
    return f"{released} released, {still}, {dropped} dropped."


def _page_url(project: str, nav: dict[str, Any], result: dict[str, str] | None = None) -> str:
    """The page's URL: the navigation (``reason``, ``cursor``, ``limit``; empty ones left out) and
    a decision's result for the flash."""
    params = {k: str(v) for k, v in nav.items() if v not in (None, "", 0, "0")}
    params.update(result or {})
    query = urlencode(params)
    return f"/projects/{project}/quarantine" + (f"?{query}" if query else "")


def _page(
    request: Request,
    session: WebSession,
    project: str,
    target: Project,
    query: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The page for ``query`` (``reason``, ``cursor``, ``limit`` and a decision's result), with an error if any."""
    reason = query.get("reason", "").strip()
    if reason and not _CODE.match(reason):
        raise InvalidInputError("reason must be a reason code such as invalid_json")
    cursor = _number(query.get("cursor"), "cursor", 0, 0, 2**62)
    limit = _number(query.get("limit"), "limit", PAGE, 1, 200)
    rows, next_cursor = list_quarantine(target, reason=reason or None, cursor=cursor, limit=limit)
    reasons = quarantine_reasons(target)
    shown_limit = limit if limit != PAGE else None
    context = {
        "active": "quarantine",
        "flash": None if error else flash_of(query),
        "error": error,
        "rows": rows,
        "reasons": reasons,
        "total": sum(reasons.values()),
        "reason": reason,
        "cursor": cursor,
        "limit": shown_limit,
        "next_url": None
        if next_cursor is None
        else _page_url(project, {"reason": reason, "cursor": next_cursor, "limit": shown_limit}),
        "first_url": _page_url(project, {"reason": reason, "limit": shown_limit}) if cursor else None,
        "runs": [{**run, "when": _when(run["at"])} for run in held_runs(target)],
    }
    return render(request, "quarantine.html", session, project, context, status=status)


@router.get("/projects/{project}/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, project: str, session: CurrentSession, registry: Registry) -> HTMLResponse:
    """Held rows (filtered by reason, keyset-paged) and held anomalous runs."""
    target = member(registry, session, project, "quarantine.decide")
    return _page(request, session, project, target, dict(request.query_params))


async def _refused(
    request: Request, session: WebSession, project: str, target: Project, form: Any, exc: LabelloopError
) -> HTMLResponse:
    """The page again (where the person was) with the reason a decision was refused."""
    back = {k: v for k in ("reason", "cursor", "limit") if isinstance(v := form.get(k), str) and _CODE.match(v)}
    message = exc.message[:1].upper() + exc.message[1:].rstrip(".") + "."
    status = lookup(HTTP_STATUS, exc)
    return await run_in_threadpool(_page, request, session, project, target, back, error=message, status=status)


def _ids(form: Any) -> list[int]:
    out: list[int] = []
    for raw in form.getlist("ids"):
        value = id_or_none(raw)
        if value is None:
            raise InvalidInputError("a selected row is not a record id")
        out.append(value)
    return out


def _decision(form: Any) -> tuple[str, list[int]]:
    """The decision and the rows of a posted form: one row's button (``row`` = ``release:ID``) or
    the bulk buttons (``action``) with the checked rows (``ids``)."""
    one = form.get("row")
    if isinstance(one, str) and one:
        decision, _, rid = one.partition(":")
        value = id_or_none(rid)
        if value is None:
            raise InvalidInputError("the row to decide on is not a record id")
        ids = [value]
    else:
        action = form.get("action")
        decision = action if isinstance(action, str) else ""
        ids = _ids(form)
    if decision not in ("release", "drop"):
        raise InvalidInputError("choose Release or Drop")
    if not ids:
        raise InvalidInputError("select at least one row first")
    return decision, ids


@router.post("/projects/{project}/quarantine")
async def quarantine_decide(request: Request, project: str, session: CurrentSession, registry: Registry) -> Response:
    """Release or drop the selected rows (``action`` with ``ids``) or one row (``row`` = ``release:ID``)."""
    target = member(registry, session, project, "quarantine.decide")
    form = await request.form()
    check_form_csrf(session, form)
    try:
        decision, ids = _decision(form)
        result = await run_in_threadpool(
            decide_quarantined,
            target,
            ids,
            decision,
            f"user:{session.principal.name}",
            force=form.get("force") == "1",
        )
    except InvalidInputError as exc:
        return await _refused(request, session, project, target, form, exc)
    failing: dict[str, int] = {}
    for failure in result["failed"]:
        code = str(failure["reason"]) if _CODE.match(str(failure["reason"])) else "other"
        failing[code] = failing.get(code, 0) + 1
    back = {k: v for k in ("reason", "cursor", "limit") if isinstance(v := form.get(k), str) and _CODE.match(v)}
    summary = {
        "released": str(len(result["released"])),
        "dropped": str(len(result["dropped"])),
        "failed": ",".join(f"{code}:{n}" for code, n in sorted(failing.items())),
    }
    return see_other(_page_url(project, back, summary))


@router.post("/projects/{project}/quarantine/runs/{run_id}")
async def run_decide(
    request: Request, project: str, run_id: str, session: CurrentSession, registry: Registry
) -> Response:
    """Release or drop every record an anomalous run held (``decision`` = ``release`` or ``drop``)."""
    target = member(registry, session, project, "quarantine.decide")
    form = await request.form()
    check_form_csrf(session, form)
    decision = form.get("decision")
    run = id_or_none(run_id)
    try:
        if run is None:
            raise InvalidInputError("the run is not a run id")
        if decision not in ("release", "drop"):
            raise InvalidInputError("choose Release run or Drop run")
        result = await run_in_threadpool(decide_held_run, target, run, str(decision), f"user:{session.principal.name}")
    except (InvalidInputError, ConflictError) as exc:
        return await _refused(request, session, project, target, {}, exc)
    flash = {"run": str(run), "run_decision": str(decision), "records": str(result["records"])}
    return see_other(_page_url(project, {}, flash))
