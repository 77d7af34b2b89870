"""The dashboard at 100,000 tasks: how long a page view takes, cold and warm.

    python bench/dashboard_bench.py                  # full: 100,000 tasks, 120,000 answers from 20 annotators
    python bench/dashboard_bench.py --size small     # a smoke run: 5,000 tasks
    python bench/dashboard_bench.py --json           # one JSON object on stdout
    LABELLOOP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python bench/dashboard_bench.py

A project with two sources, every record tasked with overlap 2, 60% of the tasks answered by two of 20
annotators over 30 days (answers written straight into the store as queue answers, the tasks marked
complete, the counters moved as the queue moves them), final labels decided (``aggregate``) and one
agreement figure recorded. Measured, on SQLite and (when the URL is set) on a fresh PostgreSQL schema:

- ``snapshot_read``: the first view in a process, which reads the dashboard's snapshot from the store;
- ``warm_view``: a view while nothing changed (counters and the fingerprint only), median of 20;
- ``view_after_an_answer``: a view right after one more answer through the queue: a project this large
  answers from its previous snapshot and reads the new one in a background thread (``refresh_s=0``);
  ``background_read`` is how long that read took;
- ``page_cold`` / ``page_warm``: ``GET /projects/{project}/dashboard`` through the web app (TestClient,
  logged in as a steward): the first request of the process, then the median of 10.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from pgschema import drop_schema, pg_schema_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

LABELS = ["business", "entertainment", "politics", "sport", "tech"]
SIZES = {"small": {"tasks": 5_000, "annotators": 10}, "full": {"tasks": 100_000, "annotators": 20}}
PG_ENV = "LABELLOOP_TEST_DATABASE_URL"
PASSWORD = "bench-password"


def prepare(folder: Path, url: str | None, size: dict[str, int], seed: int) -> tuple[Any, float]:
    """The project (see the module docstring); returns it and the setup time."""
    from sqlalchemy import text

    from labelloop.config import Settings
    from labelloop.governance.service import add_user
    from labelloop.ingest.service import push_records
    from labelloop.labeling.tasks import create_tasks
    from labelloop.project import open_project
    from labelloop.quality.service import aggregate, agreement
    from labelloop.store import repo

    config = {
        "name": "dashboard-bench",
        "record": {"id_field": "id", "text_field": "text", "fields": {"id": {"type": "string"}, "text": {}}},
        "sources": [{"name": "email", "kind": "push"}, {"name": "chat", "kind": "push"}],
        "label_schema": {"questions": [{"name": "topic", "type": "single", "labels": LABELS}]},
        "labeling": {"overlap": 2},
    }
    folder.mkdir(parents=True)
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config))
    project = open_project(folder, Settings(database_url=url))
    started = time.perf_counter()
    n = size["tasks"]
    for start in range(0, n, 50_000):
        rows = [{"id": f"d{i}", "text": f"document {i}"} for i in range(start, min(start + 50_000, n))]
        push_records(project, orjson.dumps(rows), source="email" if start % 100_000 == 0 else "chat")
    create_tasks(project, overlap=2)
    for i in range(size["annotators"]):
        add_user(project, f"a{i:02d}", "annotator", token_days=1)
    add_user(project, "steward", "steward", password=PASSWORD)
    rng = np.random.default_rng(seed)
    now = time.time()
    with project.store.write() as conn:
        users = [r[0] for r in conn.execute(text("SELECT id FROM users WHERE role = 'annotator' ORDER BY id")).all()]
        tasks = conn.execute(text("SELECT id, record_id FROM tasks ORDER BY id")).all()
        done = int(len(tasks) * 0.6)
        values = [orjson.dumps({"topic": {"label": label}}).decode() for label in LABELS]
        rows = []
        for k, (task_id, record_id) in enumerate(tasks[:done]):
            who = rng.choice(len(users), 2, replace=False)
            truth = int(rng.integers(len(LABELS)))
            at = now - 30 * 86_400 + 30 * 86_400 * k / done
            for j in range(2):
                label = truth if rng.random() < 0.8 else int(rng.integers(len(LABELS)))
                rows.append(
                    {"p": project.id, "t": task_id, "r": record_id, "u": users[who[j]], "l": 2 * k + j + 1,
                     "v": values[label], "c": at + j * 600}
                )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO annotations (project_id, task_id, record_id, user_id, lease_id, value, schema_version, "
                "guidelines_version, status, created_at) VALUES (:p, :t, :r, :u, :l, :v, 1, 1, 'submitted', :c)"
            ),
            rows,
        )
        conn.execute(
            text("UPDATE tasks SET state = 'complete', done = 2, completed_at = :n WHERE id <= :m"),
            {"n": now, "m": tasks[done - 1][0]},
        )
        repo.add_counters(
            conn,
            project.id,
            {"annotations": len(rows), "tasks_open": -done, "tasks_complete": done, "labeled": done},
        )
    aggregate(project)
    agreement(project, record=True, bootstrap=0)
    return project, time.perf_counter() - started


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def measure(project: Any) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from labelloop.governance.service import Principal, Role
    from labelloop.labeling.queue import next_task, submit_annotation
    from labelloop.metrics.dashboard import dashboard, forget_snapshots, wait_for_refresh
    from labelloop.ui.app import create_web_app

    out: dict[str, Any] = {}
    forget_snapshots(project)
    found, seconds = timed(lambda: dashboard(project, people=True))
    out["snapshot_read_s"] = round(seconds, 3)
    out["records"] = found["counts"]["records"]
    out["answers"] = found["counts"]["annotations"]
    out["alpha_source"] = (found["agreement"]["now"] or {}).get("source")
    warm = [timed(lambda: dashboard(project, people=True))[1] for _ in range(20)]
    out["warm_view_ms"] = round(statistics.median(warm) * 1000, 2)
    with project.store.read() as conn:
        from sqlalchemy import text

        user_id = conn.execute(text("SELECT id FROM users WHERE name = 'a00'")).scalar_one()
    person = Principal(int(user_id), "a00", Role.ANNOTATOR, project.id, project.name)
    lease = next_task(project, person)
    assert lease is not None
    submit_annotation(project, person, lease["task_id"], lease["lease_id"], {"topic": {"label": "sport"}})
    view, seconds = timed(lambda: dashboard(project, people=True, refresh_s=0))
    out["view_after_an_answer_s"] = round(seconds, 3)
    out["view_after_an_answer_stale"] = view["stale"]
    _, seconds = timed(lambda: wait_for_refresh(project))
    out["background_read_s"] = round(seconds + out["view_after_an_answer_s"], 3)

    forget_snapshots(project)
    with TestClient(create_web_app(project)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post(
            "/login",
            data={"username": "steward", "password": PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        url = f"/projects/{project.name}/dashboard"
        page, seconds = timed(lambda: client.get(url))
        assert page.status_code == 200
        out["page_cold_s"] = round(seconds, 3)
        warm = [timed(lambda: client.get(url))[1] for _ in range(10)]
        out["page_warm_ms"] = round(statistics.median(warm) * 1000, 1)
        out["page_bytes"] = len(page.content)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--skip", action="append", default=[], choices=["sqlite", "postgres"])
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args()
    size = SIZES[args.size]
    report: dict[str, Any] = {
        "size": args.size,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "tasks": size["tasks"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" not in args.skip:
            project, setup = prepare(Path(tmp) / "sqlite", None, size, args.seed)
            report["sqlite"] = {"setup_s": round(setup, 1), **measure(project)}
            project.store.dispose()
        admin = os.environ.get(PG_ENV)
        if admin and "postgres" not in args.skip:
            url, schema = pg_schema_url(admin)
            try:
                project, setup = prepare(Path(tmp) / "postgres", url, size, args.seed)
                report["postgres"] = {"setup_s": round(setup, 1), **measure(project)}
                project.store.dispose()
            finally:
                drop_schema(admin, schema)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
