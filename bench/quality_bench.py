"""Quality in the product: final labels, agreement and a label-error scan over a project's store.

    python bench/quality_bench.py                  # full: 100,000 tasks x 3 answers from 200 annotators
    python bench/quality_bench.py --size small     # a smoke run (CI): 3,000 tasks
    python bench/quality_bench.py --json           # one JSON object on stdout
    LABELLOOP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python bench/quality_bench.py

The pure algorithms have their own benches (aggregation_bench, label_errors_bench, drift_bench); this
one measures what a steward waits for in the product, on SQLite and (when the URL is set) on a fresh
PostgreSQL schema: loading every annotation from the store, deciding and storing the final labels
(``aggregate`` with majority vote and with Dawid-Skene), computing agreement with its bootstrap
interval, per label, per annotator pair and per week, and a confident-learning scan that queues flags.

The crowd is simulated (seeded, in memory): 5 classes with skewed priors, 200 annotators of mixed skill
(experts, good, mediocre, spammers who always answer the most common class), each task answered by 3
distinct annotators; answers are written straight into the store as queue answers (the queue itself is
measured by queue_bench), the tasks marked complete. The label-error scan gets model probabilities that
point at the truth with noise, so the planted share of wrong final labels is known.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
PRIORS = [0.4, 0.25, 0.15, 0.12, 0.08]
SIZES = {"small": {"tasks": 3_000, "annotators": 40}, "full": {"tasks": 100_000, "annotators": 200}}
PG_ENV = "LABELLOOP_TEST_DATABASE_URL"


def simulate(tasks: int, annotators: int, seed: int) -> dict[str, np.ndarray]:
    """True labels, and per task 3 distinct annotators with their answers."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(LABELS), size=tasks, p=PRIORS)
    kinds = rng.choice(4, size=annotators, p=[0.1, 0.5, 0.35, 0.05])  # expert, good, mediocre, spammer
    accuracy = np.array([0.95, 0.85, 0.65, 0.0])[kinds]
    who = np.argsort(rng.random((tasks, annotators)), axis=1)[:, :3]
    answers = np.empty((tasks, 3), dtype=np.int64)
    for j in range(3):
        person = who[:, j]
        right = rng.random(tasks) < accuracy[person]
        wrong = (truth + rng.integers(1, len(LABELS), size=tasks)) % len(LABELS)
        answers[:, j] = np.where(right, truth, wrong)
        answers[kinds[person] == 3, j] = 0  # spammers always pick the most common class
    return {"truth": truth, "who": who, "answers": answers}


def prepare(folder: Path, url: str | None, size: dict[str, int], seed: int) -> tuple[Any, dict[str, Any]]:
    """A project whose tasks all carry 3 answers; returns it and the setup timings."""
    from sqlalchemy import text

    from labelloop.config import Settings
    from labelloop.governance.service import add_user
    from labelloop.ingest.service import push_records
    from labelloop.labeling.tasks import create_tasks
    from labelloop.project import open_project

    config = {
        "name": "quality-bench",
        "record": {"id_field": "id", "text_field": "text", "fields": {"id": {"type": "string"}, "text": {}}},
        "sources": [{"name": "api", "kind": "push"}],
        "label_schema": {"questions": [{"name": "topic", "type": "single", "labels": LABELS}]},
        "labeling": {"overlap": 3},
    }
    folder.mkdir(parents=True)
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config))
    project = open_project(folder, Settings(database_url=url))
    crowd = simulate(size["tasks"], size["annotators"], seed)
    started = time.perf_counter()
    for start in range(0, size["tasks"], 50_000):
        rows = [{"id": f"d{i}", "text": f"document {i}"} for i in range(start, min(start + 50_000, size["tasks"]))]
        push_records(project, orjson.dumps(rows))
    create_tasks(project, overlap=3)
    users = [add_user(project, f"a{i:03d}", "annotator", token_days=1) for i in range(size["annotators"])]
    del users
    with project.store.write() as conn:
        ids = dict(conn.execute(text("SELECT name, id FROM users")).all())
        user_ids = np.array([ids[f"a{i:03d}"] for i in range(size["annotators"])])
        tasks = conn.execute(text("SELECT id, record_id FROM tasks ORDER BY record_id")).all()
        now = time.time()
        values = [orjson.dumps({"topic": {"label": label}}).decode() for label in LABELS]
        rows = [
            {
                "p": project.id, "t": task_id, "r": record_id, "u": int(user_ids[crowd["who"][k, j]]),
                "l": 3 * k + j + 1, "v": values[crowd["answers"][k, j]], "c": now - (len(tasks) - k),
            }
            for k, (task_id, record_id) in enumerate(tasks)
            for j in range(3)
        ]  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO annotations (project_id, task_id, record_id, user_id, lease_id, value, schema_version, "
                "guidelines_version, status, created_at) VALUES (:p, :t, :r, :u, :l, :v, 1, 1, 'submitted', :c)"
            ),
            rows,
        )
        conn.execute(text("UPDATE tasks SET state = 'complete', done = 3, completed_at = :n"), {"n": now})
    setup = time.perf_counter() - started
    record_order = [int(r) for _, r in tasks]
    return project, {"setup_s": round(setup, 1), "crowd": crowd, "records": record_order}


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def measure(project: Any, setup: dict[str, Any], seed: int) -> dict[str, Any]:
    from labelloop.quality import service

    crowd = setup["crowd"]
    truth = {rid: LABELS[crowd["truth"][k]] for k, rid in enumerate(setup["records"])}

    def accuracy() -> float:
        rows, _ = service.final_labels(project, limit=10_000_000)
        return sum(r["value"]["label"] == truth[r["record_id"]] for r in rows) / len(truth)

    out: dict[str, Any] = {"setup_s": setup["setup_s"], "tasks": len(truth), "annotations": 3 * len(truth)}
    mv, seconds = timed(lambda: service.aggregate(project, method="majority"))
    out["aggregate_majority"] = {"seconds": round(seconds, 3), "labels": mv["labels"], "accuracy": round(accuracy(), 4)}
    ds, seconds = timed(lambda: service.aggregate(project, method="dawid_skene"))
    out["aggregate_dawid_skene"] = {
        "seconds": round(seconds, 3),
        "labels": ds["labels"],
        "accuracy": round(accuracy(), 4),
    }
    agreement, seconds = timed(lambda: service.agreement(project, bootstrap=200, window="week"))
    out["agreement"] = {
        "seconds": round(seconds, 3),
        "bootstrap": 200,
        "alpha": agreement["krippendorff_alpha"],
        "alpha_ci": agreement["alpha_ci"],
        "pairs": agreement["pairs_total"],
    }
    rows, _ = service.final_labels(project, limit=10_000_000)
    rng = np.random.default_rng(seed)
    predictions: dict[int, dict[str, float]] = {}
    for row in rows:
        p = rng.dirichlet(np.full(len(LABELS), 0.3))
        p = 0.3 * p + 0.7 * np.eye(len(LABELS))[LABELS.index(truth[row["record_id"]])]
        predictions[row["record_id"]] = {label: float(x) for label, x in zip(LABELS, p / p.sum(), strict=True)}
    wrong = {r["record_id"] for r in rows if r["value"]["label"] != truth[r["record_id"]]}
    scan, seconds = timed(lambda: service.scan_label_errors(project, predictions=predictions))
    found = {r["record_id"] for r in scan["top"]}
    out["label_errors"] = {
        "seconds": round(seconds, 3),
        "wrong_final_labels": len(wrong),
        "flagged": scan["flagged"],
        "queued": scan["new_flags"],
        "top20_wrong": len(found & wrong),
    }
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
        "crowd": {"tasks": size["tasks"], "annotators": size["annotators"], "answers_per_task": 3},
    }
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" not in args.skip:
            project, setup = prepare(Path(tmp) / "sqlite", None, size, args.seed)
            report["sqlite"] = measure(project, setup, args.seed)
            project.store.dispose()
        admin = os.environ.get(PG_ENV)
        if admin and "postgres" not in args.skip:
            url, schema = pg_schema_url(admin)
            try:
                project, setup = prepare(Path(tmp) / "postgres", url, size, args.seed)
                report["postgres"] = measure(project, setup, args.seed)
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
