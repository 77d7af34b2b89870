"""Repository functions of the job-run log. Each takes an open connection and never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from labelloop.store.tables import job_runs

__all__ = ["claim_run", "finish_run", "job_runs_of"]


def claim_run(conn: Connection, project_id: int, job: str, scheduled_for: float, worker: str, now: float) -> int | None:
    """Claim a job's fire time: the new run's id, or None when a run of it exists (another worker's, or
    an earlier attempt of this one). Runs in its own savepoint so a lost race leaves the transaction usable."""
    try:
        with conn.begin_nested():
            stmt = (
                job_runs.insert()
                .values(
                    project_id=project_id,
                    job=job,
                    scheduled_for=scheduled_for,
                    worker=worker[:128],
                    started_at=now,
                    outcome="running",
                )
                .returning(job_runs.c.id)
            )
            return int(conn.execute(stmt).scalar_one())
    except IntegrityError:
        return None


def finish_run(
    conn: Connection, run_id: int, *, outcome: str, at: float, attempts: int, error: str | None, result: str | None
) -> None:
    """Record how a run ended."""
    conn.execute(
        update(job_runs)
        .where(job_runs.c.id == run_id)
        .values(outcome=outcome, finished_at=at, attempts=attempts, error=error, result=result)
    )


def job_runs_of(conn: Connection, project_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    stmt = select(job_runs).where(job_runs.c.project_id == project_id).order_by(job_runs.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]
