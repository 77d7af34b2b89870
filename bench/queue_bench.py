"""The labeling queue under load: concurrent annotators doing next -> submit against a real server.

    python bench/queue_bench.py                  # the issue's workload (PostgreSQL 1M tasks / 32 clients,
                                                 # SQLite 100k tasks / 8 clients); needs LABELLOOP_TEST_DATABASE_URL
    python bench/queue_bench.py --size small     # a smoke run (CI)

Each backend: records are generated and ingested (never committed), tasks are
created with overlap 2, then ``labelloop serve`` runs in its own process and
N client threads (one annotator each) loop ``POST /queue/next`` ->
``POST /tasks/{id}/annotations`` for a fixed time. Reported: next-task latency
as the server measured it (its ``Server-Timing`` header) and as the client saw
it, submit latency, submits per second, and the checks of the recorded history
against the store: every 201 stored and nothing else, no task with more
answers than its overlap or two answers from one person, no error answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from pgschema import drop_schema, pg_schema_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LABELS = ["business", "entertainment", "politics", "sport", "tech"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def server_ms(response: httpx.Response) -> float:
    header = response.headers.get("server-timing", "")
    return float(header.split("dur=")[1]) if "dur=" in header else float("nan")


def prepare(folder: Path, url: str | None, tasks: int, clients: int) -> dict[str, Any]:
    """A project with ``tasks`` records turned into tasks and ``clients`` annotator tokens."""
    from labelloop.config import Settings
    from labelloop.governance.service import add_user
    from labelloop.ingest.service import run_ingest
    from labelloop.labeling.tasks import create_tasks
    from labelloop.project import open_project

    config = {
        "name": "queue-bench",
        "record": {"id_field": "id", "text_field": "text", "fields": {"id": {"type": "string"}, "text": {}}},
        "sources": [{"name": "docs", "kind": "jsonl", "path": "data/*.jsonl"}],
        "label_schema": {"questions": [{"name": "topic", "type": "single", "labels": LABELS}]},
        "labeling": {"overlap": 2, "max_leases_per_user": 1},
    }
    (folder / "data").mkdir(parents=True)
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config))
    with (folder / "data" / "docs.jsonl").open("wb") as handle:
        for i in range(tasks):
            handle.write(orjson.dumps({"id": f"d{i}", "text": f"document {i} about the topic of the day"}) + b"\n")
    project = open_project(folder, Settings(database_url=url))
    started = time.perf_counter()
    run_ingest(project)
    ingested = time.perf_counter() - started
    started = time.perf_counter()
    created = create_tasks(project, overlap=2)["created"]
    creating = time.perf_counter() - started
    tokens = [add_user(project, f"annotator{i:02d}", "annotator")["token"] for i in range(clients)]
    project.store.dispose()
    return {"tokens": tokens, "created": created, "ingest_s": round(ingested, 1), "create_tasks_s": round(creating, 1)}


def run_clients(base: str, tokens: list[str], seconds: float) -> dict[str, Any]:
    """Every client loops next -> submit until ``seconds`` have passed; returns the recorded history."""
    stop = time.perf_counter() + seconds
    lock = threading.Lock()
    history: list[tuple[str, int, int, int]] = []
    next_server: list[float] = []
    next_client: list[float] = []
    submit_server: list[float] = []
    submit_client: list[float] = []
    errors: list[str] = []
    empty = [0]

    def client(token: str, name: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                got = http.post("/api/v1/projects/queue-bench/queue/next")
                t1 = time.perf_counter()
                if got.status_code == 204:
                    with lock:
                        empty[0] += 1
                    return
                if got.status_code != 200:
                    with lock:
                        errors.append(f"next {got.status_code} {got.text[:200]}")
                    continue
                body = got.json()
                t2 = time.perf_counter()
                done = http.post(
                    f"/api/v1/tasks/{body['task_id']}/annotations",
                    json={"lease_id": body["lease_id"], "value": {"topic": {"label": LABELS[body["task_id"] % 5]}},
                          "duration_ms": 1, "idempotency_key": uuid.uuid4().hex},
                )  # fmt: skip
                t3 = time.perf_counter()
                with lock:
                    next_client.append((t1 - t0) * 1000)
                    next_server.append(server_ms(got))
                    if done.status_code == 201:
                        submit_client.append((t3 - t2) * 1000)
                        submit_server.append(server_ms(done))
                        history.append((name, body["task_id"], body["lease_id"], done.json()["annotation_id"]))
                    else:
                        errors.append(f"submit {done.status_code} {done.text[:200]}")

    threads = [threading.Thread(target=client, args=(t, f"annotator{i:02d}")) for i, t in enumerate(tokens)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {
        "history": history,
        "errors": errors,
        "elapsed_s": elapsed,
        "next_server_ms": next_server,
        "next_client_ms": next_client,
        "submit_server_ms": submit_server,
        "submit_client_ms": submit_client,
    }


def check(folder: Path, url: str | None, history: list[tuple[str, int, int, int]]) -> dict[str, Any]:
    """The recorded history against the store."""
    from sqlalchemy import text

    from labelloop.config import Settings
    from labelloop.project import open_project

    project = open_project(folder, Settings(database_url=url))
    with project.store.read() as conn:
        stored = conn.execute(text("SELECT id, task_id, user_id FROM annotations")).all()
        over = conn.execute(text("SELECT COUNT(*) FROM tasks WHERE done > overlap OR leased < 0")).scalar_one()
    project.store.dispose()
    ok_ids = {h[3] for h in history}
    stored_ids = {int(r[0]) for r in stored}
    per_task: dict[int, list[int]] = defaultdict(list)
    for _aid, task_id, user_id in stored:
        per_task[int(task_id)].append(int(user_id))
    return {
        "acknowledged": len(ok_ids),
        "stored": len(stored_ids),
        "lost": len(ok_ids - stored_ids),
        "unacknowledged": len(stored_ids - ok_ids),
        "tasks_beyond_overlap": int(over) + sum(1 for users in per_task.values() if len(users) > 2),
        "same_person_twice": sum(1 for users in per_task.values() if len(users) != len(set(users))),
    }


def measure(
    backend: str, url: str | None, tasks: int, clients: int, seconds: float, workers: int = 1
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"labelloop-queue-{backend}-"))
    setup = prepare(folder, url, tasks, clients)
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("LABELLOOP_DATABASE_URL", None)
    if url:
        env["LABELLOOP_DATABASE_URL"] = url
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "labelloop.cli.main", "serve", "--project-dir", str(folder)),
            *("--port", str(port), "--workers", str(workers)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        result = run_clients(base, setup["tokens"], seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    checks = check(folder, url, result["history"])
    submits = len(result["history"])
    return {
        "backend": backend,
        "tasks": setup["created"],
        "clients": clients,
        "server_workers": workers,
        "seconds": round(result["elapsed_s"], 1),
        "setup": {k: setup[k] for k in ("ingest_s", "create_tasks_s")},
        "submits_per_s": round(submits / result["elapsed_s"], 1),
        "next_server_ms": {"p50": round(pct(result["next_server_ms"], 0.5), 2),
                           "p95": round(pct(result["next_server_ms"], 0.95), 2)},
        "next_client_ms": {"p50": round(pct(result["next_client_ms"], 0.5), 2),
                           "p95": round(pct(result["next_client_ms"], 0.95), 2)},
        "submit_server_ms": {"p50": round(pct(result["submit_server_ms"], 0.5), 2),
                             "p95": round(pct(result["submit_server_ms"], 0.95), 2)},
        "submit_client_ms": {"p50": round(pct(result["submit_client_ms"], 0.5), 2),
                             "p95": round(pct(result["submit_client_ms"], 0.95), 2)},
        "errors": len(result["errors"]),
        "error_examples": result["errors"][:3],
        "checks": checks,
        "mean_next_server_ms": round(statistics.fmean(result["next_server_ms"] or [0.0]), 2),
    }  # fmt: skip


def in_process(backend: str, url: str | None, tasks: int, threads: int, seconds: float) -> dict[str, Any]:
    """The same next -> submit loop calling the services directly (no HTTP): what the store side can do."""
    from labelloop.config import Settings
    from labelloop.governance.service import authenticate_token
    from labelloop.labeling.queue import next_task, submit_annotation
    from labelloop.project import open_project

    folder = Path(tempfile.mkdtemp(prefix=f"labelloop-queue-inproc-{backend}-"))
    setup = prepare(folder, url, tasks, threads)
    project = open_project(folder, Settings(database_url=url))
    people = [authenticate_token(project.store, token) for token in setup["tokens"]]
    done = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def work(person: Any) -> None:
        while time.perf_counter() < stop:
            leased = next_task(project, person)
            if leased is None:
                return
            submit_annotation(project, person, leased["task_id"], leased["lease_id"], {"topic": {"label": "sport"}})
            with lock:
                done[0] += 1

    workers = [threading.Thread(target=work, args=(p,)) for p in people]
    began = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - began
    project.store.dispose()
    return {"backend": backend, "threads": threads, "tasks": tasks, "cycles_per_s": round(done[0] / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--seconds", type=float, default=None, help="load duration per backend")
    parser.add_argument("--skip", nargs="*", default=[], choices=["sqlite", "postgres"])
    parser.add_argument("--workers", type=int, default=2, help="server processes (labelloop serve --workers)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--in-process",
        type=int,
        nargs="*",
        metavar="THREADS",
        help="also run the loop without HTTP with these thread counts",
    )
    args = parser.parse_args()
    full = args.size == "full"
    seconds = args.seconds or (30.0 if full else 4.0)
    report: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "size": args.size,
    }
    admin = os.environ.get("LABELLOOP_TEST_DATABASE_URL")
    if "postgres" not in args.skip and admin:
        url, schema = pg_schema_url(admin)
        try:
            report["postgres"] = measure(
                "postgres", url, 1_000_000 if full else 3_000, 32 if full else 8, seconds, args.workers
            )
        finally:
            drop_schema(admin, schema)
    if args.in_process and admin and "postgres" not in args.skip:
        report["postgres_in_process"] = []
        for threads in args.in_process:
            url, schema = pg_schema_url(admin)
            try:
                report["postgres_in_process"].append(in_process("postgres", url, 20_000, threads, seconds))
            finally:
                drop_schema(admin, schema)
    if "sqlite" not in args.skip:
        report["sqlite"] = measure("sqlite", None, 100_000 if full else 2_000, 8 if full else 4, seconds, args.workers)
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
