"""``labelloop worker`` on SQLite and PostgreSQL: every run recorded, a fire time never run twice (by two
workers at once, or after a restart), transient storage errors retried, failures recorded without
stopping the worker, and the jobs doing their work idempotently."""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from labelloop.config import ScheduleSpec
from labelloop.errors import StorageError
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.schedules import service as schedules
from tests.conftest import ProjectFactory
from tests.integration.test_labeling import labeling_config, seed_records


def worker_config(*entries: dict[str, Any]) -> dict[str, Any]:
    config = labeling_config()
    config["schedules"] = list(entries)
    return config


def runs(project: Project) -> list[tuple[str, float, str]]:
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT job, scheduled_for, outcome FROM job_runs ORDER BY id")).all()
    return [(str(j), float(s), str(o)) for j, s, o in rows]


def test_a_fire_time_runs_once_and_every_run_is_recorded(make_project: ProjectFactory) -> None:
    project = make_project(
        worker_config({"job": "top_up", "cron": "*/5 * * * *", "target_backlog": 4, "strategy": "random"})
    )
    seed_records(project, 10)
    spec = project.config.schedules[0]
    first = schedules.run_job(project, spec, scheduled_for=1_000.0)
    assert first["outcome"] == "ok" and first["result"]["created"] == 4
    assert schedules.run_job(project, spec, scheduled_for=1_000.0)["outcome"] == "already_run"  # a restart
    later = schedules.run_job(project, spec, scheduled_for=1_300.0)
    assert later["outcome"] == "skipped" and "at its target" in later["result"]["skipped"]  # backlog is full
    with project.store.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM tasks")).scalar_one() == 4  # nothing duplicated
    assert runs(project) == [("top_up", 1_000.0, "ok"), ("top_up", 1_300.0, "skipped")]
    listed = schedules.job_runs(project)
    assert listed[0]["outcome"] == "skipped" and listed[1]["result"]["created"] == 4


def test_two_workers_never_run_the_same_fire_time(make_project: ProjectFactory) -> None:
    project = make_project(worker_config({"job": "aggregate", "cron": "* * * * *"}))
    seed_records(project, 3)
    spec = project.config.schedules[0]
    entered = threading.Barrier(8)
    calls: list[int] = []
    real = schedules.JOBS["aggregate"]

    def slow(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
        calls.append(1)
        time.sleep(0.2)
        return real(project, spec, at)

    schedules.JOBS["aggregate"] = slow
    results: list[dict[str, Any]] = []
    try:

        def worker(n: int) -> None:
            entered.wait()
            results.append(schedules.run_job(project, spec, scheduled_for=60.0, worker=f"w{n}"))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        schedules.JOBS["aggregate"] = real
    outcomes = sorted(r["outcome"] for r in results)
    assert outcomes.count("already_run") == 7 and len(calls) == 1
    assert len(runs(project)) == 1


def test_transient_errors_are_retried_and_failures_recorded(make_project: ProjectFactory) -> None:
    project = make_project(
        worker_config({"job": "agreement", "cron": "0 * * * *"}, {"job": "train", "cron": "0 3 * * *"})
    )
    seed_records(project, 3)
    agreement_spec, train_spec = project.config.schedules
    real = schedules.JOBS["agreement"]
    failures = [StorageError("the database went away"), StorageError("the database went away")]

    def flaky(project: Project, spec: ScheduleSpec, at: float) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return {"fine": True}

    schedules.JOBS["agreement"] = flaky
    try:
        done = schedules.run_job(project, agreement_spec, scheduled_for=0.0, backoff_s=0.01)
    finally:
        schedules.JOBS["agreement"] = real
    assert done["outcome"] == "ok" and done["attempts"] == 3
    # training with no labels at all: too few new labels, skipped; a failing job is recorded as an error
    assert schedules.run_job(project, train_spec, scheduled_for=0.0)["outcome"] == "skipped"
    broken = ScheduleSpec(job="release", cron="0 0 * * *", name="weekly-{date}")
    failed = schedules.run_job(project, broken, scheduled_for=0.0)
    assert failed["outcome"] == "error" and "nothing to release" in failed["error"]
    with project.store.read() as conn:
        row = conn.execute(text("SELECT outcome, attempts, error FROM job_runs WHERE job = 'release'")).one()
    assert row[0] == "error" and row[1] == 1 and "nothing to release" in row[2]


def test_schedules_are_validated_when_the_project_is_read() -> None:
    with pytest.raises(ValidationError, match="not a cron expression"):
        ScheduleSpec(job="ingest", cron="every tuesday")
    with pytest.raises(ValidationError):
        ScheduleSpec(job="dance", cron="* * * * *")  # type: ignore[arg-type]
    from labelloop.config import ProjectConfig

    with pytest.raises(ValidationError, match="repeated"):
        ProjectConfig.model_validate(
            {
                "name": "x",
                "schedules": [{"job": "aggregate", "cron": "* * * * *"}, {"job": "aggregate", "cron": "0 * * * *"}],
            }
        )


def test_the_scheduler_fires_jobs_on_their_cron(make_project: ProjectFactory) -> None:
    project = make_project(worker_config({"job": "aggregate", "cron": "* * * * *"}))
    seed_records(project, 2)
    create_tasks(project)  # publishes the label schema aggregation needs
    stop = threading.Event()
    fired = threading.Event()
    real = schedules.run_job

    def watched(project: Project, spec: ScheduleSpec, **kwargs: Any) -> dict[str, Any]:
        result = real(project, spec, **kwargs)
        fired.set()
        stop.set()
        return result

    from apscheduler.triggers.cron import CronTrigger

    original = CronTrigger.from_crontab
    # every second instead of every minute, so the test does not wait for the clock
    CronTrigger.from_crontab = classmethod(lambda cls, expr, timezone=None: cls(second="*", timezone=timezone))  # type: ignore[method-assign,assignment]
    schedules.run_job = watched  # type: ignore[assignment]
    try:
        thread = threading.Thread(target=schedules.run_worker, args=(project,), kwargs={"stop": stop})
        thread.start()
        assert fired.wait(10), "the scheduler never fired"
        thread.join(10)
    finally:
        schedules.run_job = real  # type: ignore[assignment]
        CronTrigger.from_crontab = original  # type: ignore[method-assign]
    recorded = runs(project)
    assert recorded and recorded[0][0] == "aggregate" and recorded[0][2] == "ok"
    assert orjson.loads(orjson.dumps(schedules.job_runs(project)))[0]["job"] == "aggregate"
