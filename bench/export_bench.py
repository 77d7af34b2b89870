"""Releases at scale: cut a release of 1,000,000 labeled records and export it to Parquet and JSON Lines.

    python bench/export_bench.py                  # full: 1,000,000 labeled records
    python bench/export_bench.py --size small     # a smoke run (CI): 20,000 records
    python bench/export_bench.py --json           # one JSON object on stdout
    LABELLOOP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python bench/export_bench.py

Target (issue 6): 1M labeled records exported to Parquet in <= 10 s and <= 300 MB RSS (Label Studio
on this kind of machine: 100,000 tasks to JSON in 209 s and 675 MB).

The project is built by bulk SQL, not through the queue (queue_bench measures that): records with a
JSON payload (id, text of ~120 characters, user) in ingest batches of 10,000 with their run and
stage log, one complete task per record and one final label per task (majority vote, 3 annotation
ids, confidence). Then each measured step runs in a fresh child process that reports its wall time,
the CPU time of all its threads (``cpu_s``; the database server's is not in it) and its peak RSS
(``VmHWM`` of ``/proc/self/status``): ``release create`` (snapshot, splits, row hashes, manifest),
``export --format parquet`` and ``export --format jsonl`` (each streams pages, rebuilds and
verifies every row against the manifest, writes a temporary file and renames it).
The parent then checks the files: the row count, and the manifest hash recomputed from the file's
rows (every row's hash) equal to the release's. SQLite always; PostgreSQL on a fresh schema
(dropped afterwards) when ``LABELLOOP_TEST_DATABASE_URL`` is set. The load average is reported:
the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from pgschema import drop_schema, pg_schema_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


LABELS = ["business", "entertainment", "politics", "sport", "tech"]
SIZES = {"small": 20_000, "full": 1_000_000}
BATCH = 10_000
PG_ENV = "LABELLOOP_TEST_DATABASE_URL"
CONFIG = {
    "name": "export-bench",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "subject_field": "user",
        "fields": {"id": {"type": "string", "required": True}, "text": {"type": "string"}, "user": {}},
    },
    "sources": [{"name": "inbox", "kind": "jsonl", "path": "data/*.jsonl"}],
    "label_schema": {"questions": [{"name": "topic", "type": "single", "labels": LABELS}]},
}


def _rows(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany on SQLite."""
    from labelloop.store.repo import driver_cursor

    cursor = driver_cursor(conn)
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def prepare(folder: Path, url: str | None, n: int) -> dict[str, Any]:
    """A project with ``n`` records, complete tasks and final labels; returns the setup time."""
    from sqlalchemy import text

    from labelloop.config import Settings
    from labelloop.labeling.schemas import ensure_published
    from labelloop.project import open_project

    folder.mkdir(parents=True)
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    project = open_project(folder, Settings(database_url=url))
    started = time.perf_counter()
    now = time.time()
    words = ["the", "quarterly", "results", "beat", "expectations", "while", "the", "new", "model",
             "shipped", "to", "every", "customer"]  # fmt: skip
    stages = orjson.dumps(
        [{"name": "normalize", "version": "1", "params": {}}, {"name": "exact_dedup", "version": "1", "params": {}}]
    ).decode()
    with project.store.write() as conn:
        ensure_published(conn, project, "bench")
        source_id = conn.execute(
            text("SELECT id FROM sources WHERE project_id = :p AND name = 'inbox'"), {"p": project.id}
        ).scalar_one()
        run_id = conn.execute(
            text(
                "INSERT INTO ingest_runs (project_id, source_name, status, started_at, finished_at, heartbeat_at, "
                "host, pid) VALUES (:p, 'inbox', 'done', :t, :t, :t, 'bench', 1) RETURNING id"
            ),
            {"p": project.id, "t": now},
        ).scalar_one()
        for start in range(0, n, BATCH):
            end = min(start + BATCH, n)
            batch_id = conn.execute(
                text(
                    "INSERT INTO ingest_batches (run_id, source_id, cursor_key, start_position, end_position, "
                    "start_line, end_line, first_record_id, last_record_id, counts, stages, created_at) VALUES "
                    "(:r, :s, 'data/part.jsonl', :a, :b, :a, :b, :f, :l, '{}', :st, :t) RETURNING id"
                ),
                {"r": run_id, "s": source_id, "a": start, "b": end, "f": start + 1, "l": end, "st": stages, "t": now},
            ).scalar_one()
            records, tasks, finals = [], [], []
            for i in range(start, end):
                rid = i + 1
                text_ = f"document {i}: " + " ".join(words[(i + k) % len(words)] for k in range(12))
                payload = orjson.dumps({"id": f"d{i}", "text": text_, "user": f"u{i % 5000}"}).decode()
                records.append(
                    (rid, project.id, source_id, batch_id, "data/part.jsonl", f"d{i}", "accepted", payload, now)
                )
                tasks.append((rid, project.id, rid, 1, "complete", 0, 3, 3, 3, now, now))
                label = LABELS[(i * 7919) % 5]
                finals.append(
                    (
                        project.id, rid, rid, "topic", orjson.dumps({"label": label}).decode(), "majority",
                        (2 + (i % 2)) / 3, f"[{3 * i + 1},{3 * i + 2},{3 * i + 3}]", 1, 1, now,
                    )
                )  # fmt: skip
            _rows(conn, "records", ("id", "project_id", "source_id", "batch_id", "source_key", "external_id",
                                    "status", "payload", "ingested_at"), records)  # fmt: skip
            _rows(conn, "tasks", ("id", "project_id", "record_id", "schema_version", "state", "rank", "overlap",
                                  "k_max", "done", "created_at", "completed_at"), tasks)  # fmt: skip
            _rows(conn, "final_labels", ("project_id", "task_id", "record_id", "question", "value", "method",
                                         "confidence", "annotation_ids", "schema_version", "run_id", "computed_at"),
                  finals)  # fmt: skip
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('records_id_seq', %s)" % (n + 1))
    if project.store.dialect == "postgresql":
        with project.store.engine.connect() as raw:
            raw.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    project.store.dispose()
    return {"setup_s": round(time.perf_counter() - started, 1)}


_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from labelloop.config import Settings
from labelloop.project import open_project
from labelloop.releases import service

folder, url, step, out = sys.argv[2], sys.argv[3] or None, sys.argv[4], sys.argv[5]
project = open_project(Path(folder), Settings(database_url=url))
started, cpu = time.perf_counter(), time.process_time()
if step == "create":
    result = service.create_release(project, "bench", actor="bench")
    result = {k: result[k] for k in ("records", "manifest_sha256", "splits")}
else:
    result = service.export_release(project, "bench", fmt=step, out=Path(out))
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
status = Path("/proc/self/status").read_text()
hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(hwm / 1024, 1), **result}))
"""


def child(folder: Path, url: str | None, step: str, out: Path) -> dict[str, Any]:
    """Run one step in a fresh process; its time and peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT / "src"), str(folder), url or "", step, str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def verify(path: Path, fmt: str, params: dict[str, Any], manifest: str) -> dict[str, Any]:
    """Recompute every row's hash and the manifest hash from the file."""
    import pyarrow.parquet as pq

    from labelloop.releases.manifest import HASHED_COLUMNS, ManifestHasher, row_hash

    hasher = ManifestHasher(params)
    started = time.perf_counter()
    if fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000, columns=list(HASHED_COLUMNS)):
            for row in zip(*(batch.column(c).to_pylist() for c in HASHED_COLUMNS), strict=True):
                hasher.add(row[0], row_hash(row))
    else:
        with path.open("rb") as f:
            for line in f:
                row = orjson.loads(line)
                hasher.add(row["record_id"], row_hash([row[c] for c in HASHED_COLUMNS]))
    return {
        "rows": hasher.rows,
        "manifest_matches": hasher.hexdigest() == manifest,
        "verify_s": round(time.perf_counter() - started, 1),
    }


def measure(folder: Path, url: str | None, n: int) -> dict[str, Any]:
    """Create the release, export it twice, check the files."""
    from labelloop.config import Settings
    from labelloop.project import open_project
    from labelloop.releases.service import get_release

    out: dict[str, Any] = {"records": n, **prepare(folder, url, n)}
    out["load_before"] = os.getloadavg()[0]
    out["release_create"] = child(folder, url, "create", folder / "unused")
    project = open_project(folder, Settings(database_url=url))
    release = get_release(project, "bench")
    project.store.dispose()
    for fmt in ("parquet", "jsonl"):
        path = folder / f"bench.{fmt}"
        step = child(folder, url, fmt, path)
        step.pop("path", None)
        step["file_mb"] = round(path.stat().st_size / 1e6, 1)
        step["check"] = verify(path, fmt, release["params"], release["manifest_sha256"])
        step["check"]["rows_match"] = step["check"]["rows"] == n == step["records"]
        out[f"export_{fmt}"] = step
        path.unlink()
    out["load_after"] = os.getloadavg()[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--skip", action="append", default=[], choices=["sqlite", "postgres"])
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args()
    n = SIZES[args.size]
    report: dict[str, Any] = {
        "size": args.size,
        "records": n,
        "target": {"parquet_export_s": 10, "peak_rss_mb": 300},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" not in args.skip:
            report["sqlite"] = measure(Path(tmp) / "sqlite", None, n)
        admin = os.environ.get(PG_ENV)
        if admin and "postgres" not in args.skip:
            url, schema = pg_schema_url(admin)
            try:
                report["postgres"] = measure(Path(tmp) / "postgres", url, n)
            finally:
                drop_schema(admin, schema)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
