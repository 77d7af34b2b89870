"""Read-only queries behind the dashboard (they take a connection and never write or commit).

Each one reads what a figure needs and nothing more: ids, states and timestamps, never record
payloads. The dashboard service runs them only when the project's counters or newest row ids
moved (see :func:`fingerprint`), not on every page view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import BigInteger, Connection, Integer, and_, cast, func, select

from labelloop.store.repo import driver_cursor
from labelloop.store.tables import (
    annotation_table,
    counters,
    final_labels,
    gold_checks,
    ingest_batches,
    job_runs,
    label_error_flags,
    quality_runs,
    releases,
    reviews,
    schema_versions,
    sources,
)

__all__ = [
    "accepted_by_source",
    "adjudicated_tasks",
    "daily_answers",
    "entered_times",
    "final_label_counts",
    "fingerprint",
    "label_latencies",
    "open_flag_times",
    "review_backlog_times",
    "task_groups",
    "train_runs",
]


def fingerprint(conn: Connection, project_id: int) -> tuple[Any, ...]:
    """What changes whenever a dashboard figure can change: every counter of the project and the newest
    id of each append-only table the figures read (answers, reviews, quality runs, releases, gold checks,
    job runs, label-error flags, schema versions). Each part is an index lookup or a small table."""
    counted = tuple(
        sorted(
            (str(name), int(value))
            for name, value in conn.execute(
                select(counters.c.name, counters.c.value).where(counters.c.project_id == project_id)
            )
        )
    )
    newest = [
        select(func.max(table.c.id)).where(table.c.project_id == project_id).scalar_subquery()
        for table in (
            annotation_table,
            reviews,
            quality_runs,
            releases,
            gold_checks,
            job_runs,
            label_error_flags,
            schema_versions,
        )
    ]
    ids = conn.execute(select(*newest)).one()
    # a flag decided changes no id: its status counts are part of the figure too
    decided = conn.execute(
        select(func.count())
        .select_from(label_error_flags)
        .where(label_error_flags.c.project_id == project_id, label_error_flags.c.status != "open")
    ).scalar_one()
    return (counted, tuple(ids), int(decided))


def _fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders) through the driver's cursor: plain tuples, no row objects."""
    cursor = driver_cursor(conn)
    try:
        cursor.execute(sql.replace("?", "%s" if conn.dialect.name == "postgresql" else "?"), tuple(params))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def _times(conn: Connection, sql: str, params: Sequence[Any]) -> NDArray[np.float64]:
    """The single float column of ``sql``, sorted ascending."""
    rows = _fetch(conn, sql, params)
    return np.sort(np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows)))


def task_groups(conn: Connection, project_id: int) -> list[tuple[int, str, bool, bool, int, float | None]]:
    """Tasks counted per (source id, state, gold, reached its overlap), with the ingestion time of the
    newest record in each group: one grouped pass over the tasks and their records' keys."""
    rows = _fetch(
        conn,
        "SELECT r.source_id, t.state, t.is_gold, CASE WHEN t.done >= t.overlap THEN 1 ELSE 0 END, count(*), "
        "max(r.ingested_at) FROM tasks t JOIN records r ON r.id = t.record_id WHERE t.project_id = ? "
        "GROUP BY r.source_id, t.state, t.is_gold, CASE WHEN t.done >= t.overlap THEN 1 ELSE 0 END",
        (project_id,),
    )
    return [(int(s), str(st), bool(g), bool(o), int(n), None if m is None else float(m)) for s, st, g, o, n, m in rows]


def label_latencies(conn: Connection, project_id: int) -> dict[int, NDArray[np.float64]]:
    """Per source id: seconds from each labeled record's ingestion to its task's completion (gold items
    left out)."""
    rows = _fetch(
        conn,
        "SELECT r.source_id, t.completed_at - r.ingested_at FROM tasks t JOIN records r ON r.id = t.record_id "
        "WHERE t.project_id = ? AND t.state = 'complete' AND t.completed_at IS NOT NULL AND t.is_gold = ?",
        (project_id, False),
    )
    if not rows:
        return {}
    table = np.asarray(rows, dtype=np.float64)
    out: dict[int, NDArray[np.float64]] = {}
    for source in np.unique(table[:, 0]):
        out[int(source)] = np.maximum(table[table[:, 0] == source, 1], 0.0)
    return out


def entered_times(conn: Connection, project_id: int, state: str) -> NDArray[np.float64]:
    """When each task now in ``state`` entered it, sorted: creation for ``open`` tasks, the time it left
    the open state for the others (gold items left out)."""
    when = "t.created_at" if state == "open" else "COALESCE(t.completed_at, t.created_at)"
    return _times(
        conn,
        f"SELECT {when} FROM tasks t WHERE t.project_id = ? AND t.state = ? AND t.is_gold = ?",
        (project_id, state, False),
    )


def review_backlog_times(conn: Connection, project_id: int) -> NDArray[np.float64]:
    """When each answer waiting for review was submitted, sorted (submitted and not reviewed: what the
    review page hands out)."""
    return _times(
        conn,
        "SELECT a.created_at FROM annotations a WHERE a.project_id = ? AND a.status = 'submitted' "
        "AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.annotation_id = a.id)",
        (project_id,),
    )


def open_flag_times(conn: Connection, project_id: int) -> NDArray[np.float64]:
    """When each suspected label error still waiting for a decision was raised, sorted."""
    return _times(
        conn, "SELECT created_at FROM label_error_flags WHERE project_id = ? AND status = 'open'", (project_id,)
    )


def daily_answers(conn: Connection, project_id: int) -> list[tuple[int, int, int]]:
    """(user id, UTC day number, answers) for the answers given through the queue (one row per person
    and day: small however many answers there are).

    Counted: annotations made under a lease that replace nothing (a schema migration's rewrite and a
    reviewer's fix are not new answers). The day number is ``floor(created_at / 86400)``.
    """
    seconds = annotation_table.c.created_at / 86_400
    # PostgreSQL's CAST rounds; SQLite's truncates, which is floor for the positive epoch times stored here
    day = cast(func.floor(seconds), BigInteger) if conn.dialect.name == "postgresql" else cast(seconds, Integer)
    stmt = (
        select(annotation_table.c.user_id, day.label("day"), func.count())
        .where(
            annotation_table.c.project_id == project_id,
            annotation_table.c.lease_id.is_not(None),
            annotation_table.c.supersedes.is_(None),
        )
        .group_by(annotation_table.c.user_id, day)
    )
    return [(int(u), int(d), int(n)) for u, d, n in conn.execute(stmt)]


def adjudicated_tasks(conn: Connection, project_id: int) -> int:
    """Tasks settled by an adjudicator (they hold an ``adjudicated`` annotation)."""
    stmt = select(func.count(func.distinct(annotation_table.c.task_id))).where(
        annotation_table.c.project_id == project_id, annotation_table.c.status == "adjudicated"
    )
    return int(conn.execute(stmt).scalar_one())


def final_label_counts(conn: Connection, project_id: int, question: str) -> list[tuple[str, int]]:
    """(value JSON text, final labels with it) for one question: each distinct answer once."""
    stmt = (
        select(final_labels.c.value, func.count())
        .where(final_labels.c.project_id == project_id, final_labels.c.question == question)
        .group_by(final_labels.c.value)
    )
    return [(str(v), int(n)) for v, n in conn.execute(stmt)]


def accepted_by_source(conn: Connection, project_id: int) -> dict[int, int]:
    """Records accepted at ingestion per source id: the ``new`` count of every ingestion batch (one row
    per batch of up to 20,000 records, so this never reads the records)."""
    stmt = (
        select(ingest_batches.c.source_id, ingest_batches.c.counts)
        .join(sources, sources.c.id == ingest_batches.c.source_id)
        .where(sources.c.project_id == project_id)
    )
    out: dict[int, int] = {}
    for source_id, counts in conn.execute(stmt):
        found = orjson.loads(counts) if counts else {}
        out[int(source_id)] = out.get(int(source_id), 0) + int(found.get("new", 0) or 0)
    return out


def train_runs(conn: Connection, project_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Trainings of the baseline (``labelloop train``, the API or the worker's train job), newest first:
    when, and what they stored (which release it learned from, and its test accuracy and macro-F1 when
    the release had a test split)."""
    stmt = (
        select(quality_runs.c.finished_at, quality_runs.c.summary)
        .where(and_(quality_runs.c.project_id == project_id, quality_runs.c.kind == "train"))
        .order_by(quality_runs.c.id.desc())
        .limit(limit)
    )
    out: list[dict[str, Any]] = []
    for finished, summary in conn.execute(stmt):
        found = orjson.loads(summary) if summary else {}
        if isinstance(found, dict):
            out.append({"at": finished, **found})
    return out
