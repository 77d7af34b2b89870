"""The benchmarks run in CI at a small size, as smoke tests: their timings are not asserted, their
correctness figures (counts, recall, agreement with the reference libraries) are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _bench(name: str, *args: str, timeout: int = 600) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), "--size", "small", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report: dict[str, Any] = json.loads(out.stdout)
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


@pytest.mark.slow
def test_aggregation_bench_small_reports_sane_accuracies() -> None:
    report = _bench("aggregation_bench.py")
    ours = report["labelloop"]
    mv, ds = ours["majority_vote"]["accuracy"], ours["dawid_skene"]["accuracy"]
    assert 0.5 < mv < 1.0
    assert ds >= mv - 0.01
    assert ours["dawid_skene"]["n_iter"] >= 1
    assert 0.0 < ours["dawid_skene"]["confusion"]["mean_abs_error"] < 0.2
    assert report["data"]["items"] == 5_000
    if "comparison" in report:  # crowd-kit installed (the test extra): the gap is reported
        assert isinstance(report["comparison"]["ds_accuracy_gap_points"], float)
        assert abs(report["comparison"]["ds_accuracy_gap_points"]) <= 1.0
        assert report["comparison"]["ds_same_labels"] >= 0.95
    else:
        assert "skipped" in report["crowdkit"]


@pytest.mark.slow
def test_label_errors_bench_small_reports_sane_figures() -> None:
    report = _bench("label_errors_bench.py")
    assert report["size"] == "small"
    assert report["bbc"]["items"] == 600
    assert report["bbc"]["classes"] == ["business", "entertainment", "politics", "sports", "tech"]
    filters = {
        "prune_by_noise_rate",
        "prune_by_class",
        "both",
        "confident_learning",
        "predicted_neq_given",
        "low_self_confidence",
        "low_normalized_margin",
    }
    for name in ("uniform", "class_conditional"):
        variant = report["bbc"]["variants"][name]
        assert variant["planted"] == pytest.approx(60, abs=2)
        assert variant["cv_accuracy_vs_true"] > 0.9  # the model itself is good, the noise is in the labels
        assert set(variant["filters"]) == filters
        for row in variant["filters"].values():
            for side in ("labelloop", "cleanlab"):
                assert 0 <= row[side]["recall"] <= 1 and 0 <= row[side]["precision"] <= 1
                assert row[side]["seconds"] > 0
            assert row["agreement"]["jaccard"] >= 0.95
        # the default filter finds most planted errors, mostly planted ones
        default = variant["filters"]["prune_by_noise_rate"]["labelloop"]
        assert default["recall"] >= 0.7 and default["precision"] >= 0.7
        ranking = variant["ranking"]
        assert ranking["ranked"] == variant["filters"]["prune_by_noise_rate"]["labelloop"]["flagged"]
        assert ranking["planted_in_top"]["50"] >= 40
    synthetic = report["synthetic"]
    assert synthetic["rows"] == 50_000 and synthetic["planted"] == 5_000
    assert set(synthetic["filters"]) == filters
    assert all(row["agreement"]["jaccard"] >= 0.95 for row in synthetic["filters"].values())
    assert report["worst_agreement"]["jaccard"] >= 0.95
    assert report["targets_met"] == (report["worst_agreement"]["jaccard"] >= 0.95 and report["recall"] >= 0.8)
    assert {"python", "numpy", "cleanlab", "cpus"} <= set(report["machine"])


@pytest.mark.slow
def test_export_bench_small_exports_verified_files() -> None:
    report = _bench("export_bench.py", timeout=900)
    assert report["records"] == 20_000 and report["machine"]["cpus"]
    stores = [s for s in ("sqlite", "postgres") if s in report]
    assert "sqlite" in stores
    manifests = set()
    for store in stores:
        result = report[store]
        created = result["release_create"]
        assert created["records"] == 20_000 and sum(created["splits"].values()) == 20_000
        manifests.add(created["manifest_sha256"])
        for fmt in ("parquet", "jsonl"):
            step = result[f"export_{fmt}"]
            assert step["records"] == 20_000 and len(step["sha256"]) == 64
            assert step["check"] == {**step["check"], "rows": 20_000, "manifest_matches": True, "rows_match": True}
            assert step["seconds"] > 0 and step["peak_rss_mb"] > 0
    assert len(manifests) == 1  # the same data gives the same manifest on every store


@pytest.mark.slow
def test_drift_bench_small_alerts_on_exactly_the_planted_columns() -> None:
    report = _bench("drift_bench.py")
    detection = report["detection"]
    assert detection["alerted"] == sorted(detection["planted"])
    assert detection["flagged_not_planted"] == []
    assert report["scipy_ks"]["statistics_equal"] == report["scipy_ks"]["columns"] == 20
    assert report["scipy_ks"]["max_pvalue_abs_diff"] <= 1e-9
    assert 0 < report["report"]["peak_rss_mb"] <= 500
