"""Records: push ingestion, pages, lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.errors import InvalidInputError, LabelloopError, NotFoundError
from labelloop.governance.service import require
from labelloop.ingest.quarantine import list_records
from labelloop.ingest.service import push_records
from labelloop.store import releases as release_repo
from labelloop.store import repo

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.post(
    "/projects/{project}/records",
    summary="Push records (JSON array or NDJSON); idempotent by external id / content hash",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def push(project: str, request: Request, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Ingest the body's rows; answers the same counts as ``labelloop ingest``."""
    require(principal, "records.push", project)
    target = registry.get(project)
    limit = request.app.state.max_push_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = await request.body()
    if len(body) > limit:
        raise _too_large(limit)
    return await run_in_threadpool(
        push_records, target, body, request.headers.get("content-type"), None, f"user:{principal.name}"
    )


def _too_large(limit: int) -> LabelloopError:
    error = InvalidInputError(f"the body is larger than {limit} bytes: split it into several requests")
    error.code = "payload_too_large"
    return error


@router.get("/projects/{project}/records", summary="A page of records, by keyset cursor")
def records_page(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    status: Annotated[
        str | None,
        Query(description="accepted, duplicate, near_duplicate, quarantined, held, withdrawn, deleted"),
    ] = None,
    cursor: Annotated[int, Query(ge=0, description="next_cursor of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    payload: Annotated[bool, Query(description="include payloads")] = False,
    flag: Annotated[str | None, Query(description="only records with this flag code")] = None,
) -> dict[str, Any]:
    """Records in id order after ``cursor``; ``next_cursor`` is null on the last page."""
    require(principal, "records.read", project)
    items, next_cursor = list_records(
        registry.get(project), status=status, cursor=cursor, limit=limit, with_payload=payload, flag=flag
    )
    return {"records": items, "next_cursor": next_cursor}


@router.get("/records/{record_id}/lineage", summary="Every event of a record, from its source on")
def lineage(record_id: int, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """The ingestion batch (run, source, position range, stages) and the record's own events."""
    with registry.store.read() as conn:
        record = repo.get_record(conn, record_id)
        if int(record["project_id"]) != principal.project_id:
            raise NotFoundError(f"record {record_id} not found")
        events = repo.record_lineage(conn, record_id)
        # the releases holding the record, each with its split, label and row hash
        events += release_repo.releases_of_record(conn, record_id)
    return {"record_id": record_id, "status": record["status"], "events": events}


@router.get("/records/{record_id}/cluster", summary="The near-duplicate cluster of a record: root and members")
def cluster(record_id: int, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Selection takes one item per cluster: the root, or any single member."""
    with registry.store.read() as conn:
        record = repo.get_record(conn, record_id)
        if int(record["project_id"]) != principal.project_id:
            raise NotFoundError(f"record {record_id} not found")
        return {"record_id": record_id, **repo.near_duplicate_cluster(conn, principal.project_id, record_id)}
