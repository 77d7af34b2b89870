"""``kill -9`` during ingestion loses nothing and stores nothing twice.

A ``labelloop ingest`` subprocess is killed with SIGKILL once some batches are
committed; a second run resumes from the cursor and a third finds nothing new.
Every row ends up stored exactly once, with the duplicates and quarantined
rows the file holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from labelloop.ingest.service import run_ingest
from labelloop.ingest.status import project_status
from tests.conftest import ProjectFactory

pytestmark = pytest.mark.slow

ROWS = 400_000  # valid rows; every 10th repeats the text of an earlier row under its own id
BAD_EVERY = 59_989  # a malformed line is inserted before row i when i % BAD_EVERY == 1
BLANK_EVERY = 100_000  # and a blank line (not a row) before row i when i % BLANK_EVERY == 7
BATCH_SIZE = 5_000

CONFIG: dict[str, Any] = {
    "name": "bulk",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "fields": {"id": {"type": "string", "required": True}, "text": {"type": "string", "required": True}},
    },
    "sources": [{"name": "inbox", "kind": "jsonl", "path": "data/*.jsonl", "batch_size": BATCH_SIZE}],
}


def write_rows(path: Path) -> dict[str, int]:
    """Write the JSONL file; returns what it holds (non-blank lines, duplicates, malformed lines)."""
    out: list[str] = []
    duplicates = malformed = 0
    for i in range(ROWS):
        if i % BLANK_EVERY == 7:
            out.append("   ")
        if i % BAD_EVERY == 1:
            out.append(f'{{"id": "broken-{i}", "text": "no closing brace"' if malformed % 2 == 0 else f"[{i}]")
            malformed += 1
        if i % 10 == 9:
            source = i - 5  # a row whose own text is unique
            duplicates += 1
        else:
            source = i
        out.append(f'{{"id": "r{i}", "text": "ticket {source}: the printer on floor {source % 7} is jammed"}}')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return {"lines": ROWS + malformed, "duplicates": duplicates, "malformed": malformed}


def test_sigkill_mid_run_then_resume_stores_every_row_once(make_project: ProjectFactory, db_url: str) -> None:
    project = make_project(CONFIG)
    folder = Path(project.dir or ".")
    planted = write_rows(folder / "data" / "tickets.jsonl")
    total = planted["lines"]
    assert planted["malformed"] >= 5
    assert planted["duplicates"] == ROWS // 10

    engine = create_engine(db_url)
    log = folder / "first-run.stderr"
    try:

        def count() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM records")).scalar_one())

        env = {**os.environ, "LABELLOOP_DATABASE_URL": db_url}
        command = [sys.executable, "-m", "labelloop.cli.main", "ingest", "--json", "--project-dir", str(folder)]
        with log.open("wb") as stderr:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while count() == 0:
                assert proc.poll() is None, f"the first run ended before committing a batch: {log.read_text()}"
                assert time.monotonic() < deadline, "no batch committed within 60 s"
                time.sleep(0.02)
            assert proc.poll() is None, "the first run finished before it could be killed: make the file larger"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()  # our own child: killed already on the normal path, or left over by a failed assert
                proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"first run exited by itself ({proc.returncode}): {log.read_text()}"
        at_kill = count()
        assert 0 < at_kill < total, f"the kill did not land mid-run: {at_kill} of {total} rows stored"

        resumed = run_ingest(project)

        # The second run reads exactly the rows the first did not commit, and skips none as re-reads.
        assert resumed["read"] == total - at_kill
        assert resumed["unchanged"] == 0
        with engine.connect() as conn:
            by_status = {
                str(k): int(v) for k, v in conn.execute(text("SELECT status, count(*) FROM records GROUP BY status"))
            }
            twice = conn.execute(
                text("SELECT source_key, count(*) FROM records GROUP BY source_key HAVING count(*) > 1 LIMIT 5")
            ).all()
            runs = [tuple(r) for r in conn.execute(text("SELECT id, status FROM ingest_runs ORDER BY id"))]
            dangling = conn.execute(
                text(
                    "SELECT count(*) FROM records d LEFT JOIN records o ON o.id = d.duplicate_of "
                    "WHERE d.status = 'duplicate' AND (o.id IS NULL OR o.status <> 'accepted')"
                )
            ).scalar_one()
        assert sum(by_status.values()) == total
        assert by_status.get("duplicate", 0) == planted["duplicates"]
        assert by_status.get("quarantined", 0) == planted["malformed"]
        assert by_status.get("accepted", 0) == ROWS - planted["duplicates"]
        assert twice == [], f"source keys stored twice: {twice}"
        assert dangling == 0, "a duplicate points at a record that is not an accepted original"
        assert len(runs) == 2
        assert runs[0][1] in ("interrupted", "running")
        assert runs[1][1] == "succeeded"

        # The counters kept with the writes agree: nothing was counted twice.
        status = project_status(project)
        assert status["by_status"]["accepted"] == by_status.get("accepted", 0)
        assert status["by_status"]["duplicate"] == planted["duplicates"]
        assert status["by_status"]["quarantined"] == planted["malformed"]
        assert status["rows_read"] == total

        third = run_ingest(project)
        assert (third["read"], third["new"], third["quarantined"]) == (0, 0, 0)
        assert count() == total
    finally:
        engine.dispose()
