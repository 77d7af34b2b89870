"""The jobs of ``labelloop worker`` and how each run is claimed, retried and recorded.

A run is keyed by (job, fire time): the worker claims it by inserting its row in
``job_runs`` before doing anything, so two workers on one PostgreSQL — or a worker
restarted in the middle of a minute — never run the same fire time twice; a claim
that loses the race is recorded nowhere and does nothing. Every job is idempotent
by itself too (ingestion by cursor and content hash, aggregation and agreement by
recomputation, training by a version digest, top-up against the live backlog,
releases by name), so running one again later is safe.

Transient storage errors are retried with exponential backoff (tenacity); any
other error ends the run as ``error`` with its message — the worker goes on.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from labelloop.config import ScheduleSpec
from labelloop.errors import ConflictError, InvalidInputError, LabelloopError, StorageError
from labelloop.ingest.service import run_ingest
from labelloop.learning.service import create_tasks_by_strategy, train_baseline
from labelloop.project import Project
from labelloop.quality import service as quality
from labelloop.releases.service import create_release
from labelloop.store import quality as qrepo
from labelloop.store import repo
from labelloop.store import schedules as srepo

__all__ = ["JOBS", "job_runs", "run_job", "run_worker"]

Job = Callable[[Project, ScheduleSpec, float], dict[str, Any]]


def _ingest(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
    return run_ingest(project, source=spec.source)


def _aggregate(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
    return quality.aggregate(project, actor="worker")


def _agreement(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
    found = quality.agreement(project, bootstrap=200, actor="worker")
    return {k: found[k] for k in ("question", "krippendorff_alpha", "alpha_ci", "units", "run_id")}


def _train(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
    with project.store.read() as conn:
        labels = len({r["task_id"] for r in qrepo.final_label_rows(conn, project.id)})
        last = next(
            (stored_result(r["result"]) for r in srepo.job_runs_of(conn, project.id, limit=200)
             if r["job"] == spec.key and r["outcome"] == "ok"),
            {},
        )  # fmt: skip
    new = labels - int(last.get("trained_on", 0))
    if new < spec.min_new_labels:
        return {"skipped": f"{new} new labels since the last training (needs {spec.min_new_labels})"}
    return train_baseline(project)


def _top_up(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
    with project.store.read() as conn:
        backlog = repo.get_counters(conn, project.id).get("tasks_open", 0)
    if backlog >= spec.target_backlog:
        return {"skipped": f"backlog {backlog} is at its target {spec.target_backlog}"}
    budget = spec.target_backlog - backlog
    try:
        made = create_tasks_by_strategy(project, strategy=spec.strategy, budget=budget, seed=int(at), actor="worker")
    except InvalidInputError as exc:
        if "needs predictions" not in exc.message:
            raise
        made = create_tasks_by_strategy(project, strategy="random", budget=budget, seed=int(at), actor="worker")
        made["fell_back"] = exc.message
    return {**made, "backlog_before": backlog}


def _release(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
    name = spec.name.format(date=datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d"))
    try:
        return create_release(project, name, actor="worker")
    except ConflictError as exc:
        return {"skipped": exc.message}


def stored_result(text: str | None) -> dict[str, Any]:
    """A stored JSON result, or {}."""
    found = orjson.loads(text) if text else {}
    return found if isinstance(found, dict) else {}


JOBS: dict[str, Job] = {
    "ingest": _ingest,
    "aggregate": _aggregate,
    "agreement": _agreement,
    "train": _train,
    "top_up": _top_up,
    "release": _release,
}


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_job(
    project: Project,
    spec: ScheduleSpec,
    *,
    scheduled_for: float | None = None,
    attempts: int = 3,
    backoff_s: float = 1.0,
    worker: str | None = None,
) -> dict[str, Any]:
    """Run one fire time of ``spec`` (default: the current minute) unless it already ran; returns the run:
    ``job``, ``scheduled_for``, ``outcome`` (ok, skipped, error, or ``already_run``), ``attempts``,
    ``result`` or ``error``."""
    now = time.time()
    at = float(scheduled_for if scheduled_for is not None else now // 60 * 60)
    with project.store.write() as conn:
        run_id = srepo.claim_run(conn, project.id, spec.key, at, worker or _worker_name(), now)
    if run_id is None:
        return {"job": spec.key, "scheduled_for": at, "outcome": "already_run", "attempts": 0}
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, max=30),
        retry=retry_if_exception_type(StorageError),
        reraise=True,
    )
    outcome, error, result = "ok", None, None
    try:
        result = retrying(JOBS[spec.job], project, spec, at)
        if "skipped" in result:
            outcome = "skipped"
    except LabelloopError as exc:
        outcome, error = "error", exc.message
    except Exception as exc:  # the worker outlives any job: the failure is recorded, not raised
        outcome, error = "error", f"{type(exc).__name__}: {exc}"
    tries = int(retrying.statistics.get("attempt_number", 1))
    with project.store.write() as conn:
        srepo.finish_run(
            conn,
            run_id,
            outcome=outcome,
            at=time.time(),
            attempts=tries,
            error=None if error is None else error[:4000],
            result=None if result is None else orjson.dumps(result, default=str).decode(),
        )
    out: dict[str, Any] = {"job": spec.key, "scheduled_for": at, "outcome": outcome, "attempts": tries}
    out.update({"error": error} if error is not None else {"result": result})
    return out


def job_runs(project: Project, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest recorded runs, newest first."""
    with project.store.read() as conn:
        rows = srepo.job_runs_of(conn, project.id, limit=limit)
    return [
        {
            "job": r["job"],
            "scheduled_for": r["scheduled_for"],
            "worker": r["worker"],
            "started_at": r["started_at"],
            "finished_at": r["finished_at"],
            "outcome": r["outcome"],
            "attempts": r["attempts"],
            "error": r["error"],
            "result": stored_result(r["result"]),
        }
        for r in rows
    ]


def run_worker(project: Project, *, stop: threading.Event | None = None) -> None:
    """Run the project's schedules until ``stop`` is set (or the process is interrupted)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    if not project.config.schedules:
        raise InvalidInputError("labelloop.yaml has no schedules: nothing for the worker to do")
    scheduler = BackgroundScheduler(timezone="UTC")
    for spec in project.config.schedules:
        scheduler.add_job(
            run_job,
            CronTrigger.from_crontab(spec.cron, timezone="UTC"),
            args=[project, spec],
            id=spec.key,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=60,
        )
    scheduler.start()
    try:
        (stop or threading.Event()).wait()
    finally:
        scheduler.shutdown(wait=True)
