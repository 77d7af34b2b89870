"""Repository functions of the learning capability (predictions). Each takes an open connection and
never commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, select

from labelloop.store.repo import upsert
from labelloop.store.tables import model_versions, predictions, records, release_rows, releases, tasks

__all__ = [
    "latest_release_rows",
    "model_versions_of",
    "newest_model",
    "predictions_of",
    "project_record_ids",
    "record_info",
    "untasked_records",
    "upsert_predictions",
]

_CHUNK = 5_000


def project_record_ids(conn: Connection, project_id: int, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` are records of the project."""
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        stmt = select(records.c.id).where(
            records.c.project_id == project_id, records.c.id.in_(ids[start : start + _CHUNK])
        )
        found.update(int(r[0]) for r in conn.execute(stmt))
    return found


def upsert_predictions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert predictions; one for a record and model version already stored replaces it.

    The model versions they belong to are recorded (or marked as just updated) in ``model_versions``.
    """
    for start in range(0, len(rows), _CHUNK):
        upsert(
            conn,
            predictions,
            list(rows[start : start + _CHUNK]),
            ["project_id", "model", "model_version", "record_id"],
            ["probs", "embedding", "created_at"],
        )
    latest: dict[tuple[int, str, str], float] = {}
    for row in rows:
        key = (int(row["project_id"]), str(row["model"]), str(row["model_version"]))
        latest[key] = max(latest.get(key, float("-inf")), float(row["created_at"]))
    versions = [
        {"project_id": p, "model": m, "model_version": v, "last_at": at} for (p, m, v), at in sorted(latest.items())
    ]
    upsert(conn, model_versions, versions, ["project_id", "model", "model_version"], ["last_at"])


def untasked_records(conn: Connection, project_id: int) -> list[int]:
    """Accepted records with no task at all: the pool a model scores for selection."""
    tasked = select(tasks.c.id).where(tasks.c.record_id == records.c.id)
    stmt = select(records.c.id).where(
        records.c.project_id == project_id, records.c.status == "accepted", ~tasked.exists()
    )
    return [int(r[0]) for r in conn.execute(stmt.order_by(records.c.id))]


def newest_model(conn: Connection, project_id: int) -> str | None:
    """The model with the most recent predictions."""
    stmt = (
        select(model_versions.c.model)
        .where(model_versions.c.project_id == project_id)
        .order_by(model_versions.c.last_at.desc(), model_versions.c.model, model_versions.c.model_version)
        .limit(1)
    )
    found = conn.execute(stmt).scalar()
    return None if found is None else str(found)


def model_versions_of(conn: Connection, project_id: int, model: str) -> list[str]:
    """The versions of ``model``, newest first (by their latest predictions)."""
    stmt = (
        select(model_versions.c.model_version)
        .where(model_versions.c.project_id == project_id, model_versions.c.model == model)
        .order_by(model_versions.c.last_at.desc(), model_versions.c.model_version)
    )
    return [str(r[0]) for r in conn.execute(stmt)]


def predictions_of(
    conn: Connection, project_id: int, model: str, version: str, record_ids: Sequence[int]
) -> dict[int, tuple[dict[str, float], bytes | None]]:
    """Record id -> (probabilities, embedding bytes) of one model version, for those of ``record_ids`` it scored."""
    out: dict[int, tuple[dict[str, float], bytes | None]] = {}
    for start in range(0, len(record_ids), _CHUNK):
        stmt = select(predictions.c.record_id, predictions.c.probs, predictions.c.embedding).where(
            predictions.c.project_id == project_id,
            predictions.c.model == model,
            predictions.c.model_version == version,
            predictions.c.record_id.in_(record_ids[start : start + _CHUNK]),
        )
        for rid, probs, embedding in conn.execute(stmt):
            out[int(rid)] = (orjson.loads(probs), None if embedding is None else bytes(embedding))
    return out


def record_info(conn: Connection, record_ids: Sequence[int]) -> dict[int, tuple[int, float]]:
    """Record id -> (source id, ingested at)."""
    out: dict[int, tuple[int, float]] = {}
    for start in range(0, len(record_ids), _CHUNK):
        stmt = select(records.c.id, records.c.source_id, records.c.ingested_at).where(
            records.c.id.in_(record_ids[start : start + _CHUNK])
        )
        out.update({int(r[0]): (int(r[1]), float(r[2])) for r in conn.execute(stmt)})
    return out


def latest_release_rows(conn: Connection, project_id: int) -> tuple[str | None, list[tuple[int, str, str | None]]]:
    """The newest release's name and its rows as (record id, split, main label)."""
    newest = conn.execute(
        select(releases.c.id, releases.c.name)
        .where(releases.c.project_id == project_id)
        .order_by(releases.c.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return None, []
    stmt = select(release_rows.c.record_id, release_rows.c.split, release_rows.c.label).where(
        release_rows.c.release_id == newest[0]
    )
    return str(newest[1]), [(int(r), str(s), None if lab is None else str(lab)) for r, s, lab in conn.execute(stmt)]
