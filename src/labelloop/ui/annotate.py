"""The annotate page: where labelers spend their day.

The page is a shell rendered fast on the server (guidelines of the current schema version as
sanitized Markdown, the project's lease time, the server's clock); ``static/annotate.js`` then
leases tasks through the JSON API (``POST /api/v1/projects/{project}/queue/next``), submits
answers (``POST /api/v1/tasks/{id}/annotations``), skips, renews leases, and keeps every answer
that could not be sent in the browser's outbox until the server has it. No task is leased by
the page route itself: a reload must not hold a second lease.

One JSON route lives here too, because only this page needs it: the suggestion of the newest
model version for a record the caller is labeling (``GET /projects/{project}/annotate/suggestion?record_id=N``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.governance.service import require
from labelloop.labeling.queue import holds_record
from labelloop.labeling.schemas import current_version
from labelloop.learning.service import latest_prediction
from labelloop.ui.web import MAX_ID, CurrentSession, PageRoute, member, render

__all__ = ["SKIP_REASONS", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# JSON answers (problem+json on errors, like the API), not HTML error pages: a plain APIRoute.
_json = APIRouter(include_in_schema=False)

#: Why a labeler skips a task: (code stored with the skip, text shown). A note may follow the code.
SKIP_REASONS: list[tuple[str, str]] = [
    ("guidelines_unclear", "The guidelines do not cover it"),
    ("not_enough_context", "Not enough context to decide"),
    ("wrong_language", "Not in a language I label"),
    ("unsafe_content", "Offensive or unsafe content"),
    ("broken_record", "The record is broken or empty"),
    ("other", "Other (say why in the note)"),
]


@router.get("/projects/{project}/annotate", response_class=HTMLResponse)
def annotate_page(request: Request, project: str, session: CurrentSession, registry: Registry) -> HTMLResponse:
    """The annotate shell: 403 without ``queue.work``; the task itself is leased by the page's script."""
    target = member(registry, session, project, "queue.work")
    with target.store.read() as conn:
        version = current_version(conn, target)
    settings = target.config.labeling
    context: dict[str, Any] = {
        "active": "annotate",
        "guidelines": version.schema.guidelines if version is not None else "",
        "guidelines_version": version.version if version is not None else 0,
        "lease_seconds": settings.lease_seconds,
        "gold_feedback": settings.gold_feedback,
        "server_time_ms": int(time.time() * 1000),
        "skip_reasons": SKIP_REASONS,
    }
    return render(request, "annotate.html", session, project, context)


@_json.get("/projects/{project}/annotate/suggestion")
def suggestion(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    record_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> dict[str, Any]:
    """``{"suggestion": {question, model, model_version, label, probability, probs} | null}`` for a record.

    Only for a record whose task the caller holds a live lease on (the task on their screen); any
    other record id, of this project or not, existing or not, answers ``null`` alike.
    """
    require(principal, "queue.work", project)
    proj = registry.get(project)
    if not holds_record(proj, principal, record_id):
        return {"suggestion": None}
    return {"suggestion": latest_prediction(proj, record_id)}


router.include_router(_json)
