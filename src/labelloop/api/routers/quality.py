"""Quality: final labels, agreement, annotators' confusion, suspected label errors, drift."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, model_validator

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.governance.service import allowed, require
from labelloop.quality.service import (
    aggregate,
    agreement,
    agreement_history,
    decide_label_error,
    drift,
    drift_history,
    final_labels,
    label_error_report,
    latest_confusion,
    next_label_error,
    scan_label_errors,
)

router = APIRouter(prefix="/api/v1", tags=["quality"])


class AggregateIn(BaseModel):
    """Which rule decides the final labels (default: the project's ``quality.aggregation``)."""

    method: Literal["majority", "dawid_skene", "adjudicated"] | None = None


class Prediction(BaseModel):
    """One record's out-of-sample class probabilities."""

    record_id: int
    probs: dict[str, float]


class LabelErrorsIn(BaseModel):
    """A confident-learning scan; without predictions the baseline model's cross-validated ones are used."""

    predictions: list[Prediction] | None = Field(default=None, max_length=5_000_000)
    question: str | None = None
    filter_by: (
        Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"] | None
    ) = None
    enqueue: bool = True


class LabelErrorDecision(BaseModel):
    """``confirm`` with the corrected value, or ``dismiss``."""

    decision: Literal["confirm", "dismiss"]
    value: dict[str, Any] | None = Field(default=None, examples=[{"topic": {"label": "sport"}}])
    reason: str | None = Field(default=None, max_length=500)


class DriftIn(BaseModel):
    """The reference (a window in epoch seconds, or a release) and the current window, what time windows
    are cut by, which model's predictions to compare, and what to queue."""

    reference: str | None = Field(
        default=None,
        pattern=r"^release:[^:]+(:[^:]+)?$",
        max_length=300,
        description="release:NAME or release:NAME:SPLIT, in place of reference_start / reference_end",
        examples=["release:v3", "release:v3:train"],
    )
    reference_start: float | None = None
    reference_end: float | None = None
    current_start: float
    current_end: float
    time: Literal["ingested", "event"] = "ingested"
    model: str | None = Field(
        default=None, min_length=1, max_length=128, description="whose predictions (default: the newest model's)"
    )
    model_version: str | None = Field(
        default=None, min_length=1, max_length=64, description="which version of it (default: its newest)"
    )
    enqueue: int = Field(default=0, ge=0, le=1_000_000, description="queue up to N records of drifted slices")
    priority: int = Field(default=10, ge=-1_000_000, le=1_000_000)

    @model_validator(mode="after")
    def _one_reference(self) -> DriftIn:
        window = (self.reference_start, self.reference_end)
        if self.reference is not None and window != (None, None):
            raise ValueError("give either reference (a release) or reference_start and reference_end, not both")
        if self.reference is None and None in window:
            raise ValueError("give reference_start and reference_end, or reference: release:NAME[:SPLIT]")
        return self

    def reference_of(self) -> tuple[float, float] | str:
        """The reference as the service takes it."""
        if self.reference is not None:
            return self.reference
        return (float(self.reference_start or 0.0), float(self.reference_end or 0.0))


@router.post("/projects/{project}/aggregate", summary="Recompute the final labels of complete tasks")
def aggregate_route(project: str, body: AggregateIn, principal: CurrentPrincipal, registry: Registry) -> Any:
    """Summary of the run: tasks labeled, by method, confidence, tasks sent back for low confidence."""
    require(principal, "quality.manage", project)
    return aggregate(registry.get(project), method=body.method, actor=f"user:{principal.name}")


@router.get("/projects/{project}/labels", summary="A page of final labels, by task id")
def labels_page(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    cursor: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    """Each: task, record, question, value, method, confidence, annotation ids used."""
    require(principal, "quality.read", project)
    rows, next_cursor = final_labels(registry.get(project), cursor=cursor, limit=limit)
    return {"labels": rows, "next_cursor": next_cursor}


@router.get("/projects/{project}/agreement", summary="Inter-annotator agreement now, and its recorded history")
def agreement_route(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    question: str | None = None,
    slice: Annotated[str | None, Query(description="also per value of this payload field")] = None,
    window: Annotated[Literal["day", "week", "month"], Query()] = "week",
    bootstrap: Annotated[int, Query(ge=0, le=5_000)] = 500,
) -> dict[str, Any]:
    """Krippendorff's α with a bootstrap interval, per label, per slice, trend; per annotator and pair
    for stewards and admins only (people's figures), ``null`` for other roles. Nothing is recorded."""
    require(principal, "quality.read", project)
    target = registry.get(project)
    now = agreement(target, question=question, slice_field=slice, window=window, bootstrap=bootstrap, record=False)
    if not allowed(principal, "quality.manage"):
        now["per_annotator"] = now["pairs"] = None
    return {**now, "history": agreement_history(target)}


@router.post("/projects/{project}/agreement", summary="Compute agreement now and record it in the history")
def agreement_snapshot(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    question: str | None = None,
    window: Annotated[Literal["day", "week", "month"], Query()] = "week",
) -> dict[str, Any]:
    """The same figures as GET, kept as a quality run (stewards, admins; a scheduler calls it)."""
    require(principal, "quality.manage", project)
    return agreement(registry.get(project), question=question, window=window, actor=f"user:{principal.name}")


@router.get("/projects/{project}/annotators/confusion", summary="Annotators' confusion matrices (Dawid-Skene)")
def confusion(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """From the latest Dawid-Skene aggregation; rows are the true label, columns the label given."""
    require(principal, "quality.manage", project)
    return latest_confusion(registry.get(project))


@router.post("/projects/{project}/label-errors", summary="Scan the final labels for likely label errors")
def label_errors_scan(project: str, body: LabelErrorsIn, principal: CurrentPrincipal, registry: Registry) -> Any:
    """Flags go to the reviewers' queue with reason ``suspected_label_error``."""
    require(principal, "quality.manage", project)
    predictions = None if body.predictions is None else {p.record_id: p.probs for p in body.predictions}
    return scan_label_errors(
        registry.get(project), predictions=predictions, question=body.question, filter_by=body.filter_by,
        enqueue=body.enqueue, actor=f"user:{principal.name}",
    )  # fmt: skip


@router.get("/projects/{project}/label-errors", summary="How suspected label errors turned out")
def label_errors_report(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Open, confirmed (real errors) and dismissed flags, and the precision of the flags."""
    require(principal, "quality.read", project)
    return label_error_report(registry.get(project))


@router.post(
    "/projects/{project}/label-errors/next",
    summary="The next suspected label error to re-review (never on the caller's own task)",
    responses={204: {"description": "nothing to re-review"}},
)
def label_errors_next(project: str, principal: CurrentPrincipal, registry: Registry) -> Any:
    """200 with the flag, the record and the task's answers, or 204."""
    require(principal, "review.decide", project)
    found = next_label_error(registry.get(project), principal)
    return Response(status_code=204) if found is None else found


@router.post("/label-errors/{flag_id}", summary="Confirm (with the corrected value) or dismiss a suspected error")
def label_error_decide(
    flag_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: LabelErrorDecision,
    principal: CurrentPrincipal,
    registry: Registry,
) -> dict[str, Any]:
    """A confirmed error's corrected value becomes the task's final label (method ``corrected``); another
    project's flag answers 404."""
    target = registry.get(principal.project)
    require(principal, "review.decide", target.name)
    return decide_label_error(target, principal, flag_id, body.decision, body.value, body.reason)


@router.post(
    "/projects/{project}/drift", summary="Compare a reference (window or release) with now and store the alerts"
)
def drift_route(project: str, body: DriftIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Numeric (PSI, KS), categorical (chi-squared, Jensen-Shannon), text, label, prediction (class and
    confidence) and embedding (MMD², mean cosine) drift, per slice. An unknown release answers 404."""
    require(principal, "quality.manage", project)
    return drift(
        registry.get(project),
        reference=body.reference_of(),
        current=(body.current_start, body.current_end),
        time_field=body.time,
        model=body.model,
        model_version=body.model_version,
        enqueue=body.enqueue,
        priority=body.priority,
        actor=f"user:{principal.name}",
    )


@router.get("/projects/{project}/drift", summary="Recorded drift reports and their alerts, newest first")
def drift_list(
    project: str,
    principal: CurrentPrincipal,
    registry: Registry,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> dict[str, Any]:
    """Each report's reference (window or release) and current window, model, row counts and alerts."""
    require(principal, "quality.read", project)
    return {"reports": drift_history(registry.get(project), limit=limit)}
