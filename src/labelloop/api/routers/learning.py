"""Learning: a model's predictions in, the baseline model trained."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.governance.service import require
from labelloop.learning.service import import_predictions, train_baseline

router = APIRouter(prefix="/api/v1", tags=["learning"])


class TrainIn(BaseModel):
    """How to train the baseline."""

    seed: int = 0


@router.post("/projects/{project}/predictions", summary="Store a model's predictions per record")
def predictions(
    project: str,
    body: Annotated[list[Any], Body(max_length=1_000_000)],
    principal: CurrentPrincipal,
    registry: Registry,
) -> dict[str, Any]:
    """A JSON array of ``{record_id, model, model_version, probs, embedding?}``; answers ``imported`` and
    the ``rejected`` rows with their reason (the good rows around them are kept)."""
    require(principal, "models.manage", project)
    return import_predictions(registry.get(project), body)


@router.post("/projects/{project}/train", summary="Train the baseline on the final labels and score the pool")
def train(project: str, body: TrainIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Answers the model version, how many labels it learned from and how many records it scored."""
    require(principal, "models.manage", project)
    return train_baseline(registry.get(project), seed=body.seed)
