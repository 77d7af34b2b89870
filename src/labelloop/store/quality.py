"""Repository functions of the quality capability (final labels, quality runs, drift alerts,
label-error flags). Each takes an open connection and never commits."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from labelloop.store.releases import LIVE_STATUSES
from labelloop.store.repo import add_counters, driver_cursor, sharded
from labelloop.store.tables import (
    annotation_table,
    drift_alerts,
    final_labels,
    label_error_flags,
    predictions,
    quality_runs,
    records,
    release_rows,
    tasks,
)

__all__ = [
    "AnnotationRow",
    "add_drift_alerts",
    "add_flags",
    "add_quality_run",
    "annotation_rows",
    "decide_flag",
    "drift_alerts_of",
    "final_label_rows",
    "flag_counts",
    "get_flag",
    "next_flag",
    "open_flag_tasks",
    "prediction_embeddings",
    "prediction_probs",
    "quality_runs_of",
    "release_records",
    "release_split_counts",
    "replace_final_labels",
    "send_task_back",
]

_CHUNK = 5_000


class AnnotationRow(NamedTuple):
    """One annotation with its task's state, overlap, gold flag and its record's source."""

    id: int
    task_id: int
    record_id: int
    user_id: int
    lease_id: int | None
    value: str
    status: str
    supersedes: int | None
    schema_version: int
    created_at: float
    task_state: str
    overlap: int
    k_max: int
    is_gold: bool
    gold_value: str | None
    source_id: int


_ANNOTATION_SQL = (
    "SELECT a.id, a.task_id, a.record_id, a.user_id, a.lease_id, a.value, a.status, a.supersedes, "
    "a.schema_version, a.created_at, t.state, t.overlap, t.k_max, t.is_gold, t.gold_value, r.source_id "
    "FROM annotations a JOIN tasks t ON t.id = a.task_id JOIN records r ON r.id = a.record_id "
    "WHERE a.project_id = {mark} ORDER BY a.id"
)


def annotation_rows(conn: Connection, project_id: int) -> list[AnnotationRow]:
    """Every annotation of the project (oldest first) with its task's and record's context.

    Read through the driver's cursor: a project's quality figures read every annotation, and a
    SQLAlchemy row object apiece was measured at ~40% of the whole computation. Quality code decides
    which of them count (see ``quality.votes``).
    """
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    cursor = driver_cursor(conn)
    try:
        cursor.execute(_ANNOTATION_SQL.format(mark=mark), (project_id,))
        make = AnnotationRow._make
        return [make(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


_FINAL_COLUMNS = (
    "project_id", "task_id", "record_id", "question", "value", "method", "confidence", "annotation_ids",
    "schema_version", "run_id", "computed_at",
)  # fmt: skip


def replace_final_labels(conn: Connection, task_ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
    """Replace the final labels of ``task_ids`` by ``rows`` (tasks absent from ``rows`` lose theirs).

    Inserted through the driver's ``executemany`` (a whole project's labels at once: SQLAlchemy's
    per-row parameter processing was measured at most of the write).
    """
    ids = sorted(set(task_ids))
    for start in range(0, len(ids), _CHUNK):
        conn.execute(delete(final_labels).where(final_labels.c.task_id.in_(ids[start : start + _CHUNK])))
    if not rows:
        return
    cursor = driver_cursor(conn)
    try:
        if conn.dialect.name == "postgresql":
            # COPY: 30k labels measured 1.4 s through executemany's pipeline, a fraction of that copied
            with cursor.copy(f"COPY final_labels ({', '.join(_FINAL_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row.get(c) for c in _FINAL_COLUMNS))
            return
        marks = ", ".join(["?"] * len(_FINAL_COLUMNS))
        sql = f"INSERT INTO final_labels ({', '.join(_FINAL_COLUMNS)}) VALUES ({marks})"
        for start in range(0, len(rows), 50_000):
            cursor.executemany(sql, [tuple(row.get(c) for c in _FINAL_COLUMNS) for row in rows[start : start + 50_000]])
    finally:
        cursor.close()


def final_label_rows(
    conn: Connection, project_id: int, *, after: int = 0, tasks: int | None = None
) -> list[dict[str, Any]]:
    """The project's current final labels of tasks after ``after`` (at most ``tasks`` tasks), by task id."""
    stmt = select(final_labels).where(final_labels.c.project_id == project_id, final_labels.c.task_id > after)
    if tasks is not None:
        page = (
            select(final_labels.c.task_id)
            .where(final_labels.c.project_id == project_id, final_labels.c.task_id > after)
            .group_by(final_labels.c.task_id)
            .order_by(final_labels.c.task_id)
            .limit(tasks)
        )
        last = conn.execute(select(func.max(page.subquery().c.task_id))).scalar()
        if last is None:
            return []
        stmt = stmt.where(final_labels.c.task_id <= last)
    return [dict(r) for r in conn.execute(stmt.order_by(final_labels.c.task_id, final_labels.c.question)).mappings()]


def send_task_back(conn: Connection, task_id: int, *, from_state: str, to_state: str, overlap: int) -> bool:
    """Move a task from ``from_state`` to ``to_state`` (with ``overlap``), keeping the state counters right.

    False when the task was not in ``from_state`` any more (a concurrent change won).
    """
    result = conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.state == from_state)
        .values(state=to_state, overlap=overlap, completed_at=None)
    )
    if not result.rowcount:
        return False
    project_id = conn.execute(select(tasks.c.project_id).where(tasks.c.id == task_id)).scalar_one()
    deltas = {sharded(f"tasks_{from_state}", task_id): -1, sharded(f"tasks_{to_state}", task_id): 1}
    if from_state == "complete":
        deltas[sharded("labeled", task_id)] = -1
    add_counters(conn, int(project_id), deltas)
    return True


def add_quality_run(
    conn: Connection,
    *,
    project_id: int,
    kind: str,
    started_at: float,
    actor: str,
    params: Mapping[str, Any],
    summary: Mapping[str, Any],
) -> int:
    """Record one quality computation (finished now) with its parameters and summary; returns its id."""
    values = {
        "project_id": project_id,
        "kind": kind,
        "started_at": started_at,
        "finished_at": time.time(),
        "actor": actor,
        "params": orjson.dumps(params, default=str).decode(),
        "summary": orjson.dumps(summary, default=str).decode(),
    }
    return int(conn.execute(insert(quality_runs).values(**values).returning(quality_runs.c.id)).scalar_one())


def quality_runs_of(conn: Connection, project_id: int, kind: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest quality runs of a kind, newest first."""
    stmt = (
        select(quality_runs)
        .where(quality_runs.c.project_id == project_id, quality_runs.c.kind == kind)
        .order_by(quality_runs.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def add_drift_alerts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store a drift run's alerts."""
    if rows:
        conn.execute(insert(drift_alerts), list(rows))


def drift_alerts_of(conn: Connection, project_id: int, run_id: int | None = None) -> list[dict[str, Any]]:
    """Alerts of one drift run, or of every run (newest first)."""
    stmt = select(drift_alerts).where(drift_alerts.c.project_id == project_id)
    if run_id is not None:
        stmt = stmt.where(drift_alerts.c.run_id == run_id)
    return [dict(r) for r in conn.execute(stmt.order_by(drift_alerts.c.id.desc())).mappings()]


def open_flag_tasks(conn: Connection, project_id: int) -> set[int]:
    """Tasks with a suspected label error nobody has decided yet."""
    stmt = select(label_error_flags.c.task_id).where(
        label_error_flags.c.project_id == project_id, label_error_flags.c.status == "open"
    )
    return {int(r[0]) for r in conn.execute(stmt)}


def add_flags(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Store new label-error flags; returns how many."""
    batch = list(rows)
    if batch:
        conn.execute(insert(label_error_flags), batch)
    return len(batch)


def next_flag(conn: Connection, project_id: int, reviewer_id: int) -> dict[str, Any] | None:
    """The oldest open flag on a task the reviewer did not answer (the highest score first among equals)."""
    answered = select(annotation_table.c.id).where(
        annotation_table.c.task_id == label_error_flags.c.task_id, annotation_table.c.user_id == reviewer_id
    )
    stmt = (
        select(label_error_flags)
        .where(
            label_error_flags.c.project_id == project_id,
            label_error_flags.c.status == "open",
            ~answered.exists(),
        )
        .order_by(label_error_flags.c.id)
        .limit(1)
    )
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def get_flag(conn: Connection, flag_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """One flag (locked for update on PostgreSQL when asked)."""
    stmt = select(label_error_flags).where(label_error_flags.c.id == flag_id)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def decide_flag(conn: Connection, flag_id: int, *, status: str, by: int, at: float, annotation_id: int | None) -> None:
    """Close a flag as confirmed or dismissed."""
    conn.execute(
        update(label_error_flags)
        .where(label_error_flags.c.id == flag_id)
        .values(status=status, decided_by=by, decided_at=at, annotation_id=annotation_id)
    )


def flag_counts(conn: Connection, project_id: int) -> dict[str, int]:
    """Flags per status (open, confirmed, dismissed)."""
    stmt = (
        select(label_error_flags.c.status, func.count())
        .where(label_error_flags.c.project_id == project_id)
        .group_by(label_error_flags.c.status)
    )
    return {str(status): int(n) for status, n in conn.execute(stmt)}


def record_payloads(conn: Connection, record_ids: Sequence[int]) -> dict[int, tuple[str | None, str | None]]:
    """Record id -> (JSON payload text, blob reference): a large payload lives in the blob store."""
    out: dict[int, tuple[str | None, str | None]] = {}
    for start in range(0, len(record_ids), _CHUNK):
        part = list(record_ids[start : start + _CHUNK])
        stmt = select(records.c.id, records.c.payload, records.c.blob_ref).where(records.c.id.in_(part))
        for rid, payload, ref in conn.execute(stmt):
            out[int(rid)] = (payload, ref)
    return out


def window_records(
    conn: Connection, project_id: int, start: float, end: float, *, time_field: str = "ingested"
) -> list[dict[str, Any]]:
    """Accepted records whose ingestion (or event) time is in ``[start, end)``: id, source, payload, blob."""
    column = records.c.ingested_at if time_field == "ingested" else records.c.event_time
    stmt = (
        select(records.c.id, records.c.source_id, records.c.payload, records.c.blob_ref)
        .where(records.c.project_id == project_id, records.c.status == "accepted", column >= start, column < end)
        .order_by(records.c.id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def mark_alerts_enqueued(conn: Connection, run_id: int, count: int) -> None:
    """Note on a drift run's alerts how many records were queued because of them."""
    conn.execute(update(drift_alerts).where(drift_alerts.c.run_id == run_id).values(enqueued=count))


def tasks_changed_since(conn: Connection, project_id: int, complete: Sequence[int], after_id: int) -> set[int]:
    """Among ``complete`` tasks, those no longer complete or with an annotation newer than ``after_id``."""
    wanted = set(complete)
    changed: set[int] = set()
    newer = select(annotation_table.c.task_id).where(
        annotation_table.c.project_id == project_id, annotation_table.c.id > after_id
    )
    changed.update(int(t) for (t,) in conn.execute(newer) if int(t) in wanted)
    not_complete = select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.state != "complete")
    changed.update(int(t) for (t,) in conn.execute(not_complete) if int(t) in wanted)
    return changed


def clear_unfinished_labels(conn: Connection, project_id: int) -> int:
    """Delete the final labels of tasks that are not complete (reopened or escalated); returns how many."""
    unfinished = select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.state != "complete")
    result = conn.execute(
        delete(final_labels).where(final_labels.c.project_id == project_id, final_labels.c.task_id.in_(unfinished))
    )
    return int(result.rowcount or 0)


def decided_flags(conn: Connection, project_id: int) -> set[tuple[int, str, str]]:
    """(task, question, given label) of every flag a reviewer already decided."""
    stmt = select(label_error_flags.c.task_id, label_error_flags.c.question, label_error_flags.c.given).where(
        label_error_flags.c.project_id == project_id, label_error_flags.c.status != "open"
    )
    return {(int(t), str(q), str(g)) for t, q, g in conn.execute(stmt)}


def release_split_counts(conn: Connection, release_id: int) -> dict[str, int]:
    """Rows of a release per split (only the splits it has rows in)."""
    stmt = (
        select(release_rows.c.split, func.count())
        .where(release_rows.c.release_id == release_id)
        .group_by(release_rows.c.split)
    )
    return {str(split): int(n) for split, n in conn.execute(stmt)}


def release_records(conn: Connection, release_id: int, *, split: str | None = None) -> list[dict[str, Any]]:
    """The records of a release (optionally of one split) that are still live, by record id: id, source,
    payload, blob, and ``labels``, the release's own snapshot of the record's final labels (JSON text).

    A record erased, withdrawn or quarantined since the release was cut is left out: it is no longer
    data anyone may compare against.
    """
    stmt = (
        select(records.c.id, records.c.source_id, records.c.payload, records.c.blob_ref, release_rows.c.labels)
        .select_from(release_rows.join(records, records.c.id == release_rows.c.record_id))
        .where(release_rows.c.release_id == release_id, records.c.status.in_(LIVE_STATUSES))
        .order_by(records.c.id)
    )
    if split is not None:
        stmt = stmt.where(release_rows.c.split == split)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def prediction_probs(
    conn: Connection, project_id: int, model: str, version: str, record_ids: Sequence[int]
) -> dict[int, tuple[str, bool]]:
    """Record id -> (probabilities JSON text, whether an embedding is stored) of one model version, for
    those of ``record_ids`` it scored. The embeddings themselves stay in the database (see
    :func:`prediction_embeddings`): a window may hold millions of them."""
    has_embedding = predictions.c.embedding.is_not(None).label("has_embedding")
    out: dict[int, tuple[str, bool]] = {}
    for start in range(0, len(record_ids), _CHUNK):
        stmt = select(predictions.c.record_id, predictions.c.probs, has_embedding).where(
            predictions.c.project_id == project_id,
            predictions.c.model == model,
            predictions.c.model_version == version,
            predictions.c.record_id.in_(record_ids[start : start + _CHUNK]),
        )
        for rid, probs, embedded in conn.execute(stmt):
            out[int(rid)] = (str(probs), bool(embedded))
    return out


def prediction_embeddings(
    conn: Connection, project_id: int, model: str, version: str, record_ids: Sequence[int]
) -> dict[int, bytes]:
    """Record id -> stored embedding (float32 bytes) of one model version, for those of ``record_ids`` that have one."""
    out: dict[int, bytes] = {}
    for start in range(0, len(record_ids), _CHUNK):
        stmt = select(predictions.c.record_id, predictions.c.embedding).where(
            predictions.c.project_id == project_id,
            predictions.c.model == model,
            predictions.c.model_version == version,
            predictions.c.record_id.in_(record_ids[start : start + _CHUNK]),
            predictions.c.embedding.is_not(None),
        )
        for rid, embedding in conn.execute(stmt):
            out[int(rid)] = bytes(embedding)
    return out
