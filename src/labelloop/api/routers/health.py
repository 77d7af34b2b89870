"""Data health: quarantine decisions, held runs and their anomalies, consent withdrawal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.governance.consent import withdraw_consent
from labelloop.governance.erasure import erase_subject
from labelloop.governance.service import require
from labelloop.ingest.quarantine import decide_held_run, drop_quarantined, release_quarantined
from labelloop.store import repo

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["data health"])


class ReleaseBody(BaseModel):
    """Options of a release."""

    force: bool = Field(default=False, description="ingest even if quality rules still fail (flagged)")


class WithdrawBody(BaseModel):
    """Purposes a data subject withdraws."""

    purposes: list[str] = Field(min_length=1, examples=[["labeling", "training"]])


@router.post("/quarantine/{record_id}/release", summary="Re-validate a quarantined row and ingest it")
def release(
    project: str, record_id: int, principal: CurrentPrincipal, registry: Registry, body: ReleaseBody | None = None
) -> dict[str, Any]:
    """409 when the row is still invalid or was decided already."""
    require(principal, "quarantine.decide", project)
    return release_quarantined(
        registry.get(project), record_id, actor=f"user:{principal.name}", force=bool(body and body.force)
    )


@router.post("/quarantine/{record_id}/drop", summary="Drop a quarantined row (its raw content is erased)")
def drop(project: str, record_id: int, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """409 when the row was decided already."""
    require(principal, "quarantine.decide", project)
    return drop_quarantined(registry.get(project), record_id, actor=f"user:{principal.name}")


@router.get("/runs/anomalies", summary="The latest anomalous source runs, newest first")
def anomalies(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Each with its checks, whether it holds records and the decision taken."""
    require(principal, "records.read", project)
    target = registry.get(project)
    with target.store.read() as conn:
        return {"runs": repo.run_anomalies(conn, target.id, limit=100)}


@router.post("/runs/{run_id}/release", summary="Release the records an anomalous run held")
def release_run(project: str, run_id: int, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """409 when the run holds nothing."""
    require(principal, "quarantine.decide", project)
    return decide_held_run(registry.get(project), run_id, "release", actor=f"user:{principal.name}")


@router.post("/runs/{run_id}/drop", summary="Drop the records an anomalous run held")
def drop_run(project: str, run_id: int, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """409 when the run holds nothing."""
    require(principal, "quarantine.decide", project)
    return decide_held_run(registry.get(project), run_id, "drop", actor=f"user:{principal.name}")


@router.post(
    "/subjects/{subject_id}/consent/withdraw",
    summary="A data subject withdraws consent for purposes; their records leave the queues at once",
)
def withdraw(
    project: str, subject_id: str, body: WithdrawBody, principal: CurrentPrincipal, registry: Registry
) -> dict[str, Any]:
    """Answers how many records changed and how many left the queues."""
    require(principal, "consent.manage", project)
    return withdraw_consent(registry.get(project), subject_id, body.purposes, actor=f"user:{principal.name}")


@router.delete("/subjects/{subject_id}", summary="Erase a data subject's records (payloads, raw rows, predictions)")
def erase(project: str, subject_id: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Erasure: the subject's records lose their content; counts of what went."""
    require(principal, "subjects.erase", project)
    return erase_subject(registry.get(project), subject_id, actor=principal.name)
