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


def _bench(name: str, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), "--size", "small", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report: dict[str, object] = json.loads(out.stdout)
    return report


@pytest.mark.slow
def test_near_duplicate_bench_small_reaches_recall_and_precision() -> None:
    report = _bench("neardup_bench.py")
    ours = report["labelloop"]
    assert isinstance(ours, dict)
    # the quality figures hold at the small size too (speed is not asserted in CI)
    assert ours["recall"] >= 0.95
    assert ours["precision"] >= 0.95
    assert "datasketch" in report


@pytest.mark.slow
def test_pii_bench_small_reaches_recall_and_precision() -> None:
    report = _bench("pii_bench.py")
    recall = report["recall"]
    assert isinstance(recall, dict)
    assert min(recall.values()) >= 0.98
    assert report["precision"] >= 0.95  # type: ignore[operator]


@pytest.mark.slow
def test_health_bench_small_counts_what_it_planted() -> None:
    report = _bench("health_bench.py")
    runs = report["runs"]
    assert isinstance(runs, list)
    [run] = runs
    counts, planted = run["counts"], run["planted"]
    assert counts["read"] == planted["rows"]
    assert counts["near_duplicates"] == planted["near"]
    assert counts["redacted"] == planted["pii"]
    assert counts["consent_dropped"] == planted["no_consent"]
    assert counts["quarantined"] == planted["short"]
    assert counts["flagged"] == planted["german"]
    # planted exact copies, plus the repeated German text (same content under new ids)
    assert planted["exact"] <= counts["exact_duplicates"] <= planted["exact"] + planted["german"]


@pytest.mark.slow
def test_queue_bench_small_loses_and_doubles_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "queue_bench.py"), "--size", "small", "--seconds", "3", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    backends = [b for b in ("sqlite", "postgres") if b in report]
    assert "sqlite" in backends
    if env.get("LABELLOOP_TEST_DATABASE_URL"):
        assert "postgres" in backends
    for backend in backends:
        run = report[backend]
        checks = run["checks"]
        assert run["errors"] == 0, run["error_examples"]
        assert checks["acknowledged"] > 0
        assert checks["lost"] == checks["unacknowledged"] == 0
        assert checks["tasks_beyond_overlap"] == checks["same_person_twice"] == 0


@pytest.mark.slow
def test_quality_bench_small_labels_every_task_on_each_backend() -> None:
    report = _bench("quality_bench.py")
    crowd = report["crowd"]
    assert isinstance(crowd, dict)
    backends = [b for b in ("sqlite", "postgres") if b in report]
    assert backends[0] == "sqlite"
    for backend in backends:
        figures = report[backend]
        assert isinstance(figures, dict)
        assert figures["aggregate_majority"]["labels"] == figures["aggregate_dawid_skene"]["labels"] == crowd["tasks"]
        # Dawid-Skene learns the spammers, so it is never worse than the vote by more than noise
        assert figures["aggregate_dawid_skene"]["accuracy"] >= figures["aggregate_majority"]["accuracy"] - 0.01
        low, high = figures["agreement"]["alpha_ci"]
        assert low <= figures["agreement"]["alpha"] <= high
        assert figures["label_errors"]["queued"] == figures["label_errors"]["flagged"] > 0
    if len(backends) == 2:  # the same data gives the same figures on both stores
        assert report["sqlite"]["agreement"]["alpha"] == report["postgres"]["agreement"]["alpha"]
