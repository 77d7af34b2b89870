"""Releases: cut, list, show, diff, one row with its lineage, and file downloads."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.governance.service import require
from labelloop.releases.service import create_release, diff_releases, export_release, get_release, list_releases
from labelloop.releases.service import release_row as release_row_of

router = APIRouter(prefix="/api/v1", tags=["releases"])

_MEDIA = {"parquet": "application/vnd.apache.parquet", "jsonl": "application/x-ndjson"}


class ReleaseIn(BaseModel):
    """A release's name and split parameters (default: the previous release's, else 0.8/0.1/0.1)."""

    name: str = Field(min_length=1, max_length=128, examples=["2026-11-v1"])
    train: float | None = Field(default=None, ge=0, le=1)
    validation: float | None = Field(default=None, ge=0, le=1)
    test: float | None = Field(default=None, ge=0, le=1)
    salt: str | None = Field(default=None, min_length=1, max_length=128)
    stratify: bool | None = Field(
        default=None,
        description="keep each class of the main question in the split ratios: items of the previous release keep "
        "their split, new ones go per class to the split furthest below its share (default: the previous release's "
        "choice, else false)",
    )
    allow_resplit: bool = Field(
        default=False,
        description="allow moving earlier validation/test records into train (stratified: assign every item afresh)",
    )


@router.post("/projects/{project}/releases", status_code=201, summary="Cut an immutable release of the final labels")
def create_route(project: str, body: ReleaseIn, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """201 ``{release_id, name, records, manifest_sha256, params, splits, classes, ...}``; 409 if the name exists."""
    require(principal, "releases.create", project)
    return create_release(
        registry.get(project), body.name, train=body.train, validation=body.validation, test=body.test,
        salt=body.salt, stratify=body.stratify, allow_resplit=body.allow_resplit, actor=f"user:{principal.name}",
    )  # fmt: skip


@router.get("/projects/{project}/releases", summary="The project's releases, oldest first")
def list_route(project: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """``{releases: [...]}``."""
    require(principal, "releases.read", project)
    return {"releases": list_releases(registry.get(project))}


@router.get("/projects/{project}/releases/{name}", summary="One release: parameters, manifest hash, splits, classes")
def get_route(project: str, name: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """404 when the project has no release of that name."""
    require(principal, "releases.read", project)
    return get_release(registry.get(project), name)


@router.get("/projects/{project}/releases/{name}/diff", summary="What changed from release `base` to this one")
def diff_route(
    project: str,
    name: str,
    principal: CurrentPrincipal,
    registry: Registry,
    base: Annotated[str, Query(description="the earlier release")],
    limit: Annotated[int, Query(ge=0, le=100_000, description="items per list; counts stay whole")] = 1_000,
) -> dict[str, Any]:
    """``added``, ``removed``, ``relabeled`` (items, relabeled with old and new labels), ``counts``, ``by_class``."""
    require(principal, "releases.read", project)
    return diff_releases(registry.get(project), base, name, limit=limit)


@router.get(
    "/projects/{project}/releases/{name}/rows/{record_id}", summary="One release row and its chain back to the source"
)
def row_route(project: str, name: str, record_id: int, principal: CurrentPrincipal, registry: Registry) -> Any:
    """The exported columns, the row hash, whether it still verifies, and the record's lineage."""
    require(principal, "releases.read", project)
    return release_row_of(registry.get(project), name, record_id)


@router.get("/projects/{project}/releases/{name}/export", summary="Download a release as Parquet or JSON Lines")
def export_route(
    project: str,
    name: str,
    principal: CurrentPrincipal,
    registry: Registry,
    format: Annotated[Literal["parquet", "jsonl"], Query()] = "parquet",
) -> FileResponse:
    """The file, written (and verified against the manifest) to a temporary folder, streamed, then deleted.

    Headers ``X-Labelloop-Records`` (rows in the file), ``X-Labelloop-Erased-Rows`` (rows left out because
    their record was erased since the release), ``X-Labelloop-Sha256`` (of the file) and
    ``X-Labelloop-Manifest-Sha256``.
    """
    require(principal, "releases.export", project)
    folder = Path(tempfile.mkdtemp(prefix="labelloop-export-"))
    try:
        done = export_release(registry.get(project), name, fmt=format, out=folder / f"{name}.{format}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    headers = {
        "X-Labelloop-Records": str(done["records"]),
        "X-Labelloop-Erased-Rows": str(done["erased_rows"]),
        "X-Labelloop-Sha256": done["sha256"],
        "X-Labelloop-Manifest-Sha256": done["manifest_sha256"],
    }
    return FileResponse(
        done["path"], media_type=_MEDIA[format], filename=f"{name}.{format}", headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )  # fmt: skip
