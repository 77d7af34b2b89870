"""Drift report benchmark: wall time, peak memory, detection and KS exactness (labelloop.quality.drift).

    python bench/drift_bench.py                  # full size: 1,000,000 x 20 numeric columns per window
    python bench/drift_bench.py --size small     # a smoke run (CI): 50,000 x 20, a few seconds
    python bench/drift_bench.py --json           # the same figures as JSON on stdout (one object)
    python bench/drift_bench.py --check          # exit 1 if a target is missed
    python bench/drift_bench.py --repeat 5       # best of 5 report runs (default: 3 full, 1 small)

Data (generated from a fixed seed, written to two Parquet files in a temporary directory that is deleted at
the end; nothing is downloaded or committed): 20 float64 columns per window, a mix of normal, log-normal,
uniform and integer-valued (heavy ties) distributions, one column with 5 % missing values. The current window
draws every column from the same distribution as the reference except three planted shifts: ``c04`` mean
+0.5 sd, ``c08`` scale x2, ``c14`` a new mode (20 % of the rows moved to +5 sd).

Measured:

1. ``report``: the full report the way the product runs it, in a fresh child process that only imports
   labelloop and reads the Parquet files column by column (``ParquetFile.read(columns=[c])``): wall time
   (reading included) and CPU time of ``drift_report``, and the child's peak RSS (VmHWM; the generator's
   arrays live in the parent and are not counted). Best of ``--repeat`` runs, with 1 and the default number
   of worker threads.
2. ``compute``: ``drift_report`` over the two tables already in memory (no reading), 1 and 2 workers.
3. ``scipy``: ``scipy.stats.ks_2samp(method="asymp")`` over the same 20 columns (NaNs dropped), its time,
   and whether our KS statistics equal scipy's exactly and the p-values agree to 1e-9.
4. ``detection``: the columns that alert must be exactly the planted ones, and the others must be "ok".

Targets: report <= 3 s and peak RSS <= 500 MB at full size, exact detection, KS equal to scipy. For scale:
the issue quotes Evidently at 165 s and 1.66 GB and scipy's KS at 6 s on this data size. Timings on a shared
machine are noisy: the load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy
import scipy.stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labelloop.quality.drift import drift_report

SIZES = {"small": 50_000, "full": 1_000_000}
COLUMNS = 20
PLANTED = {"c04": "mean +0.5 sd", "c08": "scale x2", "c14": "new mode: 20% of rows at +5 sd"}
MISSING_COLUMN = "c17"
TARGET_SECONDS = 3.0
TARGET_RSS_MB = 500.0
PVALUE_TOLERANCE = 1e-9


def column_names() -> list[str]:
    return [f"c{i:02d}" for i in range(COLUMNS)]


def draw(rng: np.random.Generator, i: int, n: int) -> np.ndarray:
    """Column ``i``'s distribution (the same for both windows)."""
    kind = i % 4
    if kind == 0:
        return rng.normal(10.0 * i, 1.0 + i / 10, n)
    if kind == 1:
        return rng.lognormal(0.0, 0.75, n)
    if kind == 2:
        return rng.uniform(-3.0, 3.0, n)
    return rng.poisson(4.0 + i / 5, n).astype(np.float64)  # integer values: heavy ties


def generate(n: int, seed: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    for i, name in enumerate(column_names()):
        ref[name] = draw(rng, i, n)
        c = draw(rng, i, n)
        sd = float(np.std(ref[name]))
        if name == "c04":
            c = c + 0.5 * sd
        elif name == "c08":
            c = np.mean(ref[name]) + (c - np.mean(ref[name])) * 2.0
        elif name == "c14":
            moved = rng.random(n) < 0.2
            c[moved] += 5.0 * sd
        if name == MISSING_COLUMN:
            ref[name][rng.random(n) < 0.05] = np.nan
            c[rng.random(n) < 0.05] = np.nan
        cur[name] = c
    return pa.table(ref), pa.table(cur)


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM; ru_maxrss can carry a parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(ref_path: str, cur_path: str, workers: int | None) -> None:
    """Run one report reading column by column from Parquet; print its figures as one JSON line."""
    import_rss = current_rss_mb()
    ref_file, cur_file = pq.ParquetFile(ref_path), pq.ParquetFile(cur_path)
    names = ref_file.schema_arrow.names

    def ref_loader(name: str) -> Any:
        return ref_file.read(columns=[name]).column(0)

    def cur_loader(name: str) -> Any:
        return cur_file.read(columns=[name]).column(0)

    t0, c0 = time.perf_counter(), time.process_time()
    report = drift_report(ref_loader, cur_loader, columns=names, workers=workers)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    features = {
        f.name: {
            "severity": f.severity,
            "psi": f.metrics["psi"],
            "ks_statistic": f.metrics["ks_statistic"],
            "ks_pvalue": f.metrics["ks_pvalue"],
            "cur_missing_share": f.cur_missing_share,
        }
        for f in report.features
    }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_rss_mb": peak_rss_mb(),
                "rss_after_imports_mb": import_rss,
                "features": features,
                "alerts": [[a.feature, a.severity] for a in report.alerts],
            }
        )
    )


def run_child(ref_path: Path, cur_path: Path, workers: int | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(ref_path), str(cur_path)]
    if workers:
        cmd += ["--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = min(runs, key=lambda r: r["seconds"])
    return {
        "seconds": round(best["seconds"], 3),
        "cpu_seconds": round(best["cpu_seconds"], 3),
        "all_seconds": [round(r["seconds"], 3) for r in runs],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "rss_after_imports_mb": round(runs[0]["rss_after_imports_mb"], 1),
    }


def compute_only(ref: pa.Table, cur: pa.Table, workers: int, repeat: int) -> dict[str, Any]:
    times, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        drift_report(ref, cur, workers=workers)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    i = int(np.argmin(times))
    return {
        "seconds": round(times[i], 3),
        "cpu_seconds": round(cpus[i], 3),
        "all_seconds": [round(t, 3) for t in times],
    }


def scipy_reference(ref: pa.Table, cur: pa.Table, ours: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    results = {}
    for name in column_names():
        a = ref.column(name).to_numpy()
        b = cur.column(name).to_numpy()
        results[name] = sps.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)], method="asymp")
    seconds = time.perf_counter() - t0
    stat_equal = [n for n, r in results.items() if float(r.statistic) == ours[n]["ks_statistic"]]
    p_diff = max(abs(float(r.pvalue) - ours[n]["ks_pvalue"]) for n, r in results.items())
    return {
        "seconds": round(seconds, 3),
        "statistics_equal": len(stat_equal),
        "columns": len(results),
        "max_pvalue_abs_diff": p_diff,
        "ks_equal": len(stat_equal) == len(results) and p_diff <= PVALUE_TOLERANCE,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--repeat", type=int, default=0, help="report runs to take the best of (0: 3 full, 1 small)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--child", nargs=2, metavar=("REF", "CUR"), help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.workers or None)
        return 0

    n = SIZES[args.size]
    repeat = args.repeat or (3 if args.size == "full" else 1)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    ref, cur = generate(n, args.seed)
    generate_s = time.perf_counter() - t0

    folder = Path(tempfile.mkdtemp(prefix="labelloop-drift-bench-"))
    try:
        ref_path, cur_path = folder / "reference.parquet", folder / "current.parquet"
        t0 = time.perf_counter()
        pq.write_table(ref, ref_path)
        pq.write_table(cur, cur_path)
        write_s = time.perf_counter() - t0
        parquet_mb = (ref_path.stat().st_size + cur_path.stat().st_size) / 2**20

        default_runs = [run_child(ref_path, cur_path, None) for _ in range(repeat)]
        one_worker_runs = [run_child(ref_path, cur_path, 1) for _ in range(repeat)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    compute = {
        "workers_1": compute_only(ref, cur, 1, repeat),
        "workers_2": compute_only(ref, cur, 2, repeat),
    }
    ours = default_runs[0]["features"]
    ks = scipy_reference(ref, cur, ours)

    alerted = sorted(name for name, f in ours.items() if f["severity"] == "alert")
    flagged_unplanted = sorted(name for name, f in ours.items() if name not in PLANTED and f["severity"] != "ok")
    detection = {
        "planted": PLANTED,
        "alerted": alerted,
        "flagged_not_planted": flagged_unplanted,
        "exact": alerted == sorted(PLANTED) and not flagged_unplanted,
        "missing_share_c17": round(ours[MISSING_COLUMN]["cur_missing_share"], 4),
        "psi": {name: round(f["psi"], 5) for name, f in ours.items()},
        "ks_statistic": {name: round(f["ks_statistic"], 5) for name, f in ours.items()},
    }
    report = {**best_of(default_runs), "workers": min(4, os.cpu_count() or 1)}
    report_1 = best_of(one_worker_runs)
    targets = {
        "report_seconds": TARGET_SECONDS,
        "peak_rss_mb": TARGET_RSS_MB,
        "detection_exact": True,
        "ks_equal_to_scipy": True,
    }
    ok = bool(
        (args.size != "full" or report["seconds"] <= TARGET_SECONDS)
        and report["peak_rss_mb"] <= TARGET_RSS_MB
        and detection["exact"]
        and ks["ks_equal"]
    )
    out: dict[str, Any] = {
        "size": args.size,
        "seed": args.seed,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pyarrow": pa.__version__,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "data": {
            "rows_per_window": n,
            "columns": COLUMNS,
            "generate_s": round(generate_s, 2),
            "parquet_write_s": round(write_s, 2),
            "parquet_mb": round(parquet_mb, 1),
        },
        "report": report,
        "report_workers_1": report_1,
        "compute": compute,
        "scipy_ks": ks,
        "detection": detection,
        "targets": targets,
        "targets_met": ok,
        "quoted_from_issue": {"evidently_s": 165, "evidently_gb": 1.66, "scipy_ks_s": 6},
    }

    if args.json:
        print(json.dumps(out, indent=2))
    else:
        m = out["machine"]
        print(
            f"Drift bench ({args.size}: {n:,} x {COLUMNS} per window, seed {args.seed}), Python {m['python']}, "
            f"{m['cpus']} CPUs, load {m['loadavg_before'][0]} -> {m['loadavg_after'][0]}"
        )
        print(
            f"  report (Parquet, column by column): {report['seconds']:.2f} s wall, {report['cpu_seconds']:.2f} s CPU, "
            f"{report['workers']} workers; 1 worker {report_1['seconds']:.2f} s  (target <= {TARGET_SECONDS} s)"
        )
        print(
            f"  peak RSS {report['peak_rss_mb']:.0f} MB (after imports {report['rss_after_imports_mb']:.0f} MB)  "
            f"(target <= {TARGET_RSS_MB:.0f} MB)"
        )
        print(
            f"  compute only: {compute['workers_1']['seconds']:.2f} s (1 worker), "
            f"{compute['workers_2']['seconds']:.2f} s (2 workers)"
        )
        print(
            f"  scipy ks_2samp x {COLUMNS}: {ks['seconds']:.2f} s; statistics equal {ks['statistics_equal']}/"
            f"{ks['columns']}, max p-value diff {ks['max_pvalue_abs_diff']:.1e}"
        )
        print(f"  alerted {alerted}, planted {sorted(PLANTED)}, other columns flagged {flagged_unplanted}")
        print(f"  targets met: {ok}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
