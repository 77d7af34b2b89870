"""``labelloop worker``: run the project's schedules, run one job now, or show the recorded runs."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from labelloop.cli.common import JsonOut, ProjectDir, emit, err, open_dir, out, user_errors
from labelloop.errors import InvalidInputError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``worker`` to the ``labelloop`` app."""
    app.command("worker")(worker_cmd)


@user_errors
def worker_cmd(
    once: Annotated[
        str | None, typer.Option("--once", help="Run this scheduled job now (e.g. aggregate, ingest:inbox).")
    ] = None,
    runs: Annotated[bool, typer.Option("--runs", help="Show the latest recorded job runs and exit.")] = False,
    project_dir: ProjectDir = Path(),
    as_json: JsonOut = False,
) -> None:
    """Run the schedules of labelloop.yaml (ingestion cadences, aggregation, agreement, training, queue
    top-up, releases) until interrupted; every run is recorded and no fire time runs twice."""
    from labelloop.schedules.service import job_runs, run_job, run_worker

    project = open_dir(project_dir)
    if runs:
        found = job_runs(project)

        def human(d: dict[str, Any]) -> None:
            table = Table("job", "fire time", "outcome", "attempts", "worker", "error")
            for r in d["runs"]:
                table.add_row(r["job"], f"{r['scheduled_for']:.0f}", r["outcome"], str(r["attempts"]), r["worker"],
                              r["error"] or "")  # fmt: skip
            out.print(table)

        emit({"runs": found}, as_json, human)
        return
    if once is not None:
        spec = next((s for s in project.config.schedules if s.key == once), None)
        if spec is None:
            known = ", ".join(s.key for s in project.config.schedules) or "none"
            raise InvalidInputError(f"no scheduled job '{once}' in labelloop.yaml (scheduled: {known})")
        result = run_job(project, spec)
        emit(result, as_json, lambda d: out.print(f"{d['job']}: {d['outcome']} {d.get('error') or ''}"))
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"worker: {len(project.config.schedules)} schedule(s); Ctrl-C to stop")
    run_worker(project, stop=stop)
