"""The drift benchmark runs at its small size as a smoke test (its timings are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_drift_bench_small_alerts_on_exactly_the_planted_columns() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "drift_bench.py"), "--size", "small", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    detection = report["detection"]
    assert detection["alerted"] == sorted(detection["planted"])
    assert detection["flagged_not_planted"] == []
    assert report["scipy_ks"]["statistics_equal"] == report["scipy_ks"]["columns"] == 20
    assert report["scipy_ks"]["max_pvalue_abs_diff"] <= 1e-9
    assert 0 < report["report"]["peak_rss_mb"] <= 500
