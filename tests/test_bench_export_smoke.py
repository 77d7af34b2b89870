"""The export benchmark runs at its small size as a smoke test: every exported file must carry every
row and verify against the release manifest (its speed and memory figures are reported, not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_export_bench_small_exports_verified_files() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "export_bench.py"), "--size", "small", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
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
