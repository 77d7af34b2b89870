"""The aggregation benchmark runs at its small size as a smoke test (its speed figures are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_aggregation_bench_small_reports_sane_accuracies() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "aggregation_bench.py"), "--size", "small", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
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
