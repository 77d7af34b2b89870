"""The benchmarks run in CI at a small size, as smoke tests (their figures are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ingest_bench_small_runs_and_counts_right() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    skip = [] if env.get("LABELLOOP_TEST_DATABASE_URL") else ["--skip", "postgres"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest_bench.py"), "--size", "small", *skip],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    corpus = report["corpus"]
    # the bench itself checks its SQLite counts against what it planted; check the rest here
    assert report["sqlite"]["rerun_new"] == 0
    assert report["push"]["records"] == report["push"]["stored"]
    assert report["push"]["repeat_new"] == 0
    assert report["push"]["repeat_unchanged"] > 0
    if "postgres" in report:
        assert report["postgres"]["new"] == corpus["rows"] - corpus["duplicates"] - corpus["malformed"]
    assert report["memory"]["peak_rss_mb_60000"] > 0
