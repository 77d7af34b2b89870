"""Labeling: the schema, tasks, the queue (leases), annotations."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.errors import NotFoundError
from labelloop.governance.service import Principal, require
from labelloop.labeling.gold import add_gold, gold_report, resume_annotator
from labelloop.labeling.queue import held_task, next_task, renew_lease, skip_task, submit_annotation
from labelloop.labeling.review import (
    adjudicate,
    error_types,
    next_for_adjudication,
    next_for_review,
    review_annotation,
)
from labelloop.labeling.schemas import current_version, publish_schema
from labelloop.labeling.tasks import list_tasks
from labelloop.learning.service import create_tasks_by_strategy
from labelloop.project import Project
from labelloop.store import repo

router = APIRouter(prefix="/api/v1", tags=["labeling"])


class TasksCreate(BaseModel):
    """How to choose records and how many people label each."""

    strategy: str = Field(default="random", examples=["random", "hybrid", "entropy"])
    budget: int | None = Field(default=None, ge=1, description="at most this many tasks")
    overlap: int | None = Field(default=None, ge=1, le=50, description="annotators per item")
    k_max: int | None = Field(default=None, ge=1, le=50, description="up to this many when they disagree")
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    ids: list[int] | None = Field(default=None, description="these records instead of a strategy")
    source: str | None = None
    flag: str | None = Field(default=None, description="only records with this flag code")
    since: float | None = Field(default=None, description="only records ingested at or after (epoch seconds)")
    where: dict[str, Any] | None = Field(
        default=None,
        description="only records whose payload fields equal these values",
        examples=[{"channel": "email"}],
    )
    seed: int | None = None
    model: str | None = Field(default=None, description="predictions of this model (default: the newest)")
    model_version: str | None = Field(default=None, description="of this version (default: the newest)")
    cost: Literal["length"] | None = Field(default=None, description="prefer short texts at equal value")
    freshness_half_life_days: float | None = Field(default=None, gt=0)


class AnnotationIn(BaseModel):
    """An answer under a live lease."""

    lease_id: int
    value: dict[str, Any] = Field(examples=[{"topic": {"label": "sport"}}])
    duration_ms: int | None = Field(default=None, ge=0)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


class LeaseIn(BaseModel):
    """A lease, and for a skip its reason."""

    lease_id: int
    reason: str | None = Field(default=None, max_length=500)


def _task_project(registry: Registry, principal: Principal, task_id: int) -> Project:
    """The caller's project, if the task is in it (another project's task answers 404)."""
    with registry.store.read() as conn:
        task = repo.get_task(conn, task_id)
        names = repo.project_names(conn)
    if task is None or int(task["project_id"]) != principal.project_id:
        raise NotFoundError(f"task {task_id} not found")
    return registry.get(names[principal.project_id])


@router.get("/projects/{project}/schema", summary="The current label schema version and its guidelines")
def schema(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """404 before the first version is published (it is, with the first tasks)."""
    require(principal, "tasks.read", project)
    target = registry.get(project)
    with target.store.read() as conn:
        found = current_version(conn, target)
    if found is None:
        raise NotFoundError(f"project {project} has no published label schema yet")
    return found.public()


@router.post("/projects/{project}/schema", status_code=201, summary="Publish labelloop.yaml's schema as a version")
def publish(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Migrates annotations (renamed/merged labels) and re-queues items (split labels); 409 if unchanged."""
    require(principal, "schema.publish", project)
    return publish_schema(registry.get(project), actor=f"user:{principal.name}")


@router.post("/projects/{project}/tasks", status_code=201, summary="Create labeling tasks from records")
def tasks_create(project: str, body: TasksCreate, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Answers ``created`` (and the schema version the tasks use)."""
    require(principal, "tasks.create", project)
    return create_tasks_by_strategy(registry.get(project), **body.model_dump(), actor=f"user:{principal.name}")


@router.get("/projects/{project}/tasks", summary="A page of tasks, by keyset cursor")
def tasks_page(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    state: Annotated[str | None, Query(description="open, complete, adjudication, cancelled")] = None,
    cursor: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    """Tasks in id order after ``cursor``."""
    require(principal, "tasks.read", project)
    items, next_cursor = list_tasks(registry.get(project), state=state, cursor=cursor, limit=limit)
    return {"tasks": items, "next_cursor": next_cursor}


@router.post(
    "/projects/{project}/queue/next",
    summary="Lease the next task to the caller",
    responses={204: {"description": "nothing is due for the caller"}},
)
async def queue_next(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    resume: Annotated[bool, Query(description="a task the caller already holds comes first (same lease)")] = False,
) -> Any:
    """200 ``{task_id, lease_id, lease_expires_at, record, schema_version, guidelines_version}`` or 204."""
    require(principal, "queue.work", project)
    target = registry.get(project)
    leased = await run_in_threadpool(partial(next_task, resume=resume), target, principal)
    if leased is None:
        return Response(status_code=204)
    # serialized here: FastAPI's generic encoder walks the whole payload (~1 ms a call, measured)
    return Response(orjson.dumps(leased), media_type="application/json")


@router.get(
    "/projects/{project}/queue/held",
    summary="The caller's oldest live lease (a task held, not yet answered)",
    responses={204: {"description": "the caller holds no live lease"}},
)
async def queue_held(project: str, principal: CurrentPrincipal, registry: Registry) -> Any:
    """200 in ``queue/next``'s shape (the same lease), or 204: a page resumes its task instead of leasing another."""
    require(principal, "queue.work", project)
    held = await run_in_threadpool(held_task, registry.get(project), principal)
    if held is None:
        return Response(status_code=204)
    return Response(orjson.dumps(held), media_type="application/json")


@router.post("/tasks/{task_id}/annotations", status_code=201, summary="Submit an answer under a live lease")
async def annotate(task_id: int, body: AnnotationIn, principal: CurrentPrincipal, registry: Registry) -> Any:
    """201 ``{annotation_id}``; 409 when the lease is not the caller's live one; 422 for an invalid value."""
    target = registry.get(principal.project)
    require(principal, "queue.work", target.name)
    done = await run_in_threadpool(
        submit_annotation,
        target,
        principal,
        task_id,
        body.lease_id,
        body.value,
        body.duration_ms,
        body.idempotency_key,
    )
    return Response(orjson.dumps(done), status_code=201, media_type="application/json")


@router.post("/tasks/{task_id}/skip", summary="Give a leased task back, with a reason")
def skip(task_id: int, body: LeaseIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """The task is never offered to the caller again."""
    target = _task_project(registry, principal, task_id)
    require(principal, "queue.work", target.name)
    return skip_task(target, principal, task_id, body.lease_id, body.reason or "")


@router.post("/tasks/{task_id}/lease", summary="Renew the caller's live lease")
def renew(task_id: int, body: LeaseIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Answers the new ``lease_expires_at``; 409 if the lease is not live or not the caller's."""
    target = _task_project(registry, principal, task_id)
    require(principal, "queue.work", target.name)
    return renew_lease(target, principal, task_id, body.lease_id)


class ReviewIn(BaseModel):
    """A reviewer's decision on an annotation."""

    decision: str = Field(examples=["accept", "reject", "fix", "escalate"])
    reason_code: str | None = Field(default=None, description="from the project's taxonomy; needed to reject or fix")
    value: dict[str, Any] | None = Field(default=None, description="the corrected value, for a fix")
    comment: str | None = Field(default=None, max_length=2000)


class AdjudicationIn(BaseModel):
    """The final value of a task, and why."""

    value: dict[str, Any]
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/projects/{project}/review/next",
    summary="The next annotation to review (never the caller's own)",
    responses={204: {"description": "nothing to review"}},
)
def review_next(project: str, principal: CurrentPrincipal, registry: Registry) -> Any:
    """200 with the annotation and its record, or 204 (suspected label errors have their own queue:
    ``POST /projects/{project}/label-errors/next``)."""
    require(principal, "review.decide", project)
    found = next_for_review(registry.get(project), principal)
    return Response(status_code=204) if found is None else found


@router.post("/annotations/{annotation_id}/reviews", status_code=201, summary="Accept, reject, fix or escalate")
def review(annotation_id: int, body: ReviewIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """A fix stores the corrected value as a new annotation that supersedes the original (kept)."""
    target = registry.get(principal.project)
    require(principal, "review.decide", target.name)
    return review_annotation(
        target, principal, annotation_id, body.decision, body.reason_code, body.value, body.comment
    )


@router.post(
    "/projects/{project}/adjudication/next",
    summary="The next task waiting for adjudication, all its answers side by side",
    responses={204: {"description": "nothing to adjudicate"}},
)
def adjudication_next(project: str, principal: CurrentPrincipal, registry: Registry) -> Any:
    """200 with the task, its record and its annotations, or 204."""
    require(principal, "adjudicate", project)
    found = next_for_adjudication(registry.get(project), principal)
    return Response(status_code=204) if found is None else found


@router.post("/tasks/{task_id}/adjudication", status_code=201, summary="Record a task's final value")
def adjudication(task_id: int, body: AdjudicationIn, principal: CurrentPrincipal, registry: Registry) -> Any:
    """The task is complete; 409 if it is not waiting for adjudication."""
    target = registry.get(principal.project)
    require(principal, "adjudicate", target.name)
    return adjudicate(target, principal, task_id, body.value, body.reason)


class GoldIn(BaseModel):
    """A record with a known answer."""

    record_id: int
    value: dict[str, Any]


@router.post("/projects/{project}/gold", status_code=201, summary="Make a record a gold item with its known answer")
def gold_add(project: str, body: GoldIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Gold items are mixed into annotators' queues at the project's gold_rate."""
    require(principal, "tasks.create", project)
    return add_gold(registry.get(project), body.record_id, body.value, actor=f"user:{principal.name}")


@router.get("/projects/{project}/annotators", summary="Per annotator: gold accuracy with its interval, pauses")
def annotators(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """For stewards: who is below the project's gold accuracy and paused."""
    require(principal, "tasks.create", project)
    return {"annotators": gold_report(registry.get(project))}


@router.post("/projects/{project}/annotators/{name}/resume", summary="Lift an annotator's gold pause")
def resume(project: str, name: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """The annotator gets leases again."""
    require(principal, "tasks.create", project)
    return resume_annotator(registry.get(project), name, actor=f"user:{principal.name}")


@router.get("/projects/{project}/reviews/summary", summary="Review outcomes by reason code, label and annotator")
def reviews_summary(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """The error-type instrumentation (stewards, admins, reviewers)."""
    require(principal, "review.decide", project)
    return error_types(registry.get(project))
