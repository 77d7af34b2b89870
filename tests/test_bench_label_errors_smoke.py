"""The label-error benchmark runs at its small size (CI smoke): its report is complete and sane."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_label_errors_bench_small_reports_sane_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "label_errors_bench.py"), "--size", "small", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
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
