"""Label aggregation benchmark: accuracy and speed of majority vote and Dawid-Skene (labelloop.quality.aggregation).

    python bench/aggregation_bench.py                  # full size: 100,000 items x 3 annotations, 200 annotators
    python bench/aggregation_bench.py --size small     # a smoke run (CI), a few seconds: 5,000 items
    python bench/aggregation_bench.py --json           # the same figures as JSON on stdout
    python bench/aggregation_bench.py --check          # exit 1 if a target is missed
    python bench/aggregation_bench.py --skip crowdkit  # without the reference library

A simulated crowd is generated in memory from a fixed seed (never downloaded, never written): items with
K = 5 classes of skewed priors (.40 .25 .15 .12 .08); 200 annotators of six kinds, each with a full K x K
confusion matrix (rows true label, columns given label):

    expert    10%  accuracy .85-.95 per true class, errors concentrated on a few classes (Dirichlet .7)
    good      47%  accuracy .72-.85, same error shape
    mediocre  33%  accuracy .50-.68, same error shape
    random     5%  every row a Dirichlet(3) draw: about chance
    spammer    3%  answers one favourite class 60-90% of the time whatever the truth
    swapper    2%  accurate but through a permutation of the classes (systematically wrong, yet informative)

Annotators work at lognormal rates (sigma .6); every item gets 3 distinct annotators drawn by rate; rows
are shuffled and ids are non-contiguous integers.

Measured in one run, on the same data:

* labelloop majority vote and Dawid-Skene (full confusion matrices; also one-coin, and with 1% gold),
  best and median of ``--repeat`` runs; the Dawid-Skene time includes building the index arrays from the
  three input arrays (``AggregationInput.from_arrays``), reported separately as ``encode_s``, as is the
  pure-Python conversion of a list of triples (``from_triples_s``);
* crowd-kit's ``DawidSkene`` (its defaults: ``n_iter=100, tol=1e-5``; and again with labelloop's tol) and
  ``MajorityVote`` on a pandas DataFrame (task, worker, label);
* accuracy against the simulated truth, the gap to crowd-kit, the share of identical labels, and the
  confusion-matrix recovery error: mean absolute difference between the estimated and the simulated
  matrices, over annotators with >= 50 annotations.

Targets (the issue's): Dawid-Skene accuracy within 0.5 points of crowd-kit's (not below it by more), and
at full size Dawid-Skene in <= 0.3 s (crowd-kit measured 1.30 s on the reference machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labelloop.quality.aggregation import (
    AggregationInput,
    dawid_skene,
    gold_weighted_vote,
    majority_vote,
)

SIZES = {
    "small": {"items": 5_000, "repeat": 3},
    "full": {"items": 100_000, "repeat": 5},
}
N_ANNOTATORS = 200
PER_ITEM = 3
K = 5
PRIORS = np.array([0.40, 0.25, 0.15, 0.12, 0.08])
MIX = {"expert": 0.10, "good": 0.47, "mediocre": 0.33, "random": 0.05, "spammer": 0.03, "swapper": 0.02}
ACCURACY_RANGE = {"expert": (0.85, 0.95), "good": (0.72, 0.85), "mediocre": (0.50, 0.68)}
MIN_ANNOTATIONS_FOR_CONFUSION = 50
GOLD_SHARE = 0.01

TARGET_GAP_POINTS = 0.5
TARGET_DS_SECONDS = 0.3  # full size only

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------
# The simulated crowd
# ------------------------------------------------------------------------------------------------


def confusion_matrix(rng: np.random.Generator, kind: str, k: int) -> np.ndarray:
    """A K x K row-stochastic matrix (rows true label, columns given label) for one annotator."""
    matrix = np.zeros((k, k))
    if kind in ACCURACY_RANGE:
        low, high = ACCURACY_RANGE[kind]
        for true in range(k):
            accuracy = rng.uniform(low, high)
            matrix[true, np.arange(k) != true] = (1 - accuracy) * rng.dirichlet(np.full(k - 1, 0.7))
            matrix[true, true] = accuracy
    elif kind == "random":
        matrix = rng.dirichlet(np.full(k, 3.0), size=k)
    elif kind == "spammer":
        favourite, strength = rng.integers(k), rng.uniform(0.6, 0.9)
        for true in range(k):
            matrix[true] = (1 - strength) * rng.dirichlet(np.full(k, 2.0))
            matrix[true, favourite] += strength
    else:  # swapper
        permutation = rng.permutation(k)
        for true in range(k):
            accuracy = rng.uniform(0.7, 0.9)
            matrix[true] = (1 - accuracy) / (k - 1)
            matrix[true, permutation[true]] = accuracy
    return matrix


@dataclass(frozen=True)
class Crowd:
    items: np.ndarray  # (n,) int64 item ids, rows shuffled
    annotators: np.ndarray  # (n,) int64 annotator ids
    labels: np.ndarray  # (n,) int64 given labels 0..K-1
    truth: dict[int, int]  # item id -> true label
    confusion: dict[int, np.ndarray]  # annotator id -> simulated K x K matrix
    kinds: dict[int, str]  # annotator id -> kind


def simulate(seed: int, n_items: int) -> Crowd:
    rng = np.random.default_rng(seed)
    sizes = np.floor(np.array(list(MIX.values())) * N_ANNOTATORS + 0.5).astype(int)
    sizes[0] += N_ANNOTATORS - sizes.sum()
    kinds = rng.permutation(np.repeat(np.array(list(MIX)), sizes))
    matrices = np.stack([confusion_matrix(rng, str(kind), K) for kind in kinds])
    rate = rng.lognormal(0.0, 0.6, N_ANNOTATORS)
    rate /= rate.sum()
    truth = rng.choice(K, size=n_items, p=PRIORS)
    who = rng.choice(N_ANNOTATORS, size=(n_items, PER_ITEM), p=rate)
    while True:  # redraw items that got the same annotator twice
        ordered = np.sort(who, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not repeated.any():
            break
        who[repeated] = rng.choice(N_ANNOTATORS, size=(int(repeated.sum()), PER_ITEM), p=rate)
    cumulative = matrices.cumsum(axis=2)[who, truth[:, None]]  # (items, PER_ITEM, K)
    given = np.minimum((rng.random((n_items, PER_ITEM, 1)) > cumulative).sum(axis=2), K - 1)
    item_ids = 7_000_000 + rng.choice(10 * n_items, size=n_items, replace=False)  # non-contiguous ids
    annotator_ids = 10_000 + 37 * np.arange(N_ANNOTATORS)
    order = rng.permutation(n_items * PER_ITEM)
    return Crowd(
        items=np.repeat(item_ids, PER_ITEM)[order].astype(np.int64),
        annotators=annotator_ids[who.reshape(-1)][order].astype(np.int64),
        labels=given.reshape(-1)[order].astype(np.int64),
        truth=dict(zip(item_ids.tolist(), truth.tolist(), strict=True)),
        confusion=dict(zip(annotator_ids.tolist(), matrices, strict=True)),
        kinds=dict(zip(annotator_ids.tolist(), (str(k) for k in kinds), strict=True)),
    )


# ------------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------------


def timed(fn: Callable[[], T], repeat: int) -> tuple[T, list[float], list[float]]:
    """Result of the last run, wall times and CPU times of ``repeat`` runs (after one warm-up).

    CPU time (``time.process_time``) is shown next to wall time because the reference machine is shared:
    numpy runs these loops on one thread, so on a quiet machine the two are equal.
    """
    result = fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return result, wall, cpu


def time_figures(wall: list[float], cpu: list[float]) -> dict[str, float]:
    return {
        "seconds_best": round(min(wall), 4),
        "seconds_median": round(statistics.median(wall), 4),
        "cpu_seconds_best": round(min(cpu), 4),
    }


def accuracy(items: list[Any], labels: list[Any], truth: dict[int, int], skip: set[int] | None = None) -> float:
    pairs = [(i, y) for i, y in zip(items, labels, strict=True) if not skip or i not in skip]
    return float(sum(truth[i] == y for i, y in pairs) / len(pairs))


def confusion_error(crowd: Crowd, estimated: dict[Any, np.ndarray]) -> dict[str, Any]:
    """Mean |estimated - simulated| over the cells of annotators with enough annotations, overall and by kind."""
    ids, counts = np.unique(crowd.annotators, return_counts=True)
    by_kind: dict[str, list[float]] = {}
    for annotator, count in zip(ids.tolist(), counts.tolist(), strict=True):
        if count >= MIN_ANNOTATIONS_FOR_CONFUSION and annotator in estimated:
            error = float(np.abs(estimated[annotator] - crowd.confusion[annotator]).mean())
            by_kind.setdefault(crowd.kinds[annotator], []).append(error)
    every = [e for errors in by_kind.values() for e in errors]
    return {
        "mean_abs_error": round(float(np.mean(every)), 4),
        "annotators": len(every),
        "by_kind": {kind: round(float(np.mean(errors)), 4) for kind, errors in sorted(by_kind.items())},
    }


def run_labelloop(crowd: Crowd, repeat: int, tol: float) -> dict[str, Any]:
    items_a, annotators_a, labels_a = crowd.items, crowd.annotators, crowd.labels
    triples = list(zip(items_a.tolist(), annotators_a.tolist(), labels_a.tolist(), strict=True))
    _, triple_times, _ = timed(lambda: AggregationInput.from_triples(triples), max(1, repeat // 2))
    inp, encode_times, encode_cpu = timed(lambda: AggregationInput.from_arrays(items_a, annotators_a, labels_a), repeat)
    table_times: list[float] = []
    try:
        import pyarrow as pa

        table = pa.table(
            {
                "item": pa.array(items_a),
                "annotator": pa.array([f"annotator-{a}" for a in annotators_a.tolist()]),
                "label": pa.array(labels_a),
            }
        )
        _, table_times, _ = timed(lambda: AggregationInput.from_table(table), max(1, repeat // 2))
    except ImportError:
        pass
    items = list(inp.items)

    mv, mv_wall, mv_cpu = timed(
        lambda: majority_vote(AggregationInput.from_arrays(items_a, annotators_a, labels_a)), repeat
    )
    ds, ds_wall, ds_cpu = timed(
        lambda: dawid_skene(AggregationInput.from_arrays(items_a, annotators_a, labels_a), tol=tol), repeat
    )
    _, em_wall, em_cpu = timed(lambda: dawid_skene(inp, tol=tol), repeat)
    one_coin, one_coin_wall, _ = timed(lambda: dawid_skene(inp, tol=tol, model="one_coin"), max(1, repeat // 2))

    rng = np.random.default_rng(12345)
    gold_items = rng.choice(np.array(items), size=max(1, int(GOLD_SHARE * len(items))), replace=False).tolist()
    gold = {item: crowd.truth[item] for item in gold_items}
    gold_set = set(gold_items)
    with_gold = dawid_skene(inp, tol=tol, gold=gold)
    gwv = gold_weighted_vote(inp, gold)

    return {
        "encode": {
            "from_arrays_s": round(min(encode_times), 4),
            "from_arrays_cpu_s": round(min(encode_cpu), 4),
            "from_triples_s": round(min(triple_times), 4),
            "from_table_pyarrow_string_annotators_s": round(min(table_times), 4) if table_times else None,
        },
        "majority_vote": {
            "accuracy": round(accuracy(items, mv.label_list(), crowd.truth), 4),
            **time_figures(mv_wall, mv_cpu),
        },
        "dawid_skene": {
            "accuracy": round(accuracy(items, ds.label_list(), crowd.truth), 4),
            **time_figures(ds_wall, ds_cpu),
            "em_only_seconds_best": round(min(em_wall), 4),
            "em_only_cpu_seconds_best": round(min(em_cpu), 4),
            "n_iter": ds.n_iter,
            "converged": ds.converged,
            "log_likelihood": round(ds.log_likelihood, 2),
            "confusion": confusion_error(crowd, dict(ds.confusion)),
        },
        "dawid_skene_one_coin": {
            "accuracy": round(accuracy(items, one_coin.label_list(), crowd.truth), 4),
            "seconds_best": round(min(one_coin_wall), 4),
            "n_iter": one_coin.n_iter,
        },
        "with_gold": {
            "gold_items": len(gold),
            "accuracy_on_other_items": {
                "majority_vote": round(accuracy(items, mv.label_list(), crowd.truth, gold_set), 4),
                "gold_weighted_vote": round(accuracy(items, gwv.label_list(), crowd.truth, gold_set), 4),
                "dawid_skene": round(accuracy(items, ds.label_list(), crowd.truth, gold_set), 4),
                "dawid_skene_gold": round(accuracy(items, with_gold.label_list(), crowd.truth, gold_set), 4),
            },
        },
        "_labels": ds.label_list(),
        "_items": items,
    }


def crowdkit_confusion(errors: Any, classes: list[int]) -> dict[Any, np.ndarray]:
    """crowd-kit's ``errors_`` (rows (worker, given), columns true) as worker -> K x K (rows true, columns given)."""
    out: dict[Any, np.ndarray] = {}
    for (worker, given), row in errors.iterrows():
        matrix = out.setdefault(worker, np.zeros((len(classes), len(classes))))
        matrix[:, classes.index(given)] = [row[c] for c in classes]
    return out


def run_crowdkit(crowd: Crowd, tol: float, items: list[Any]) -> dict[str, Any]:
    try:
        import crowdkit
        import pandas as pd
        from crowdkit.aggregation import DawidSkene, MajorityVote
    except ImportError as exc:
        return {"skipped": f"not installed: {exc}"}
    frame = pd.DataFrame({"task": crowd.items, "worker": crowd.annotators, "label": crowd.labels})
    classes = list(range(K))
    out: dict[str, Any] = {"version": getattr(crowdkit, "__version__", "?")}

    t0 = time.perf_counter()
    mv = MajorityVote().fit_predict(frame)
    mv_seconds = time.perf_counter() - t0
    out["majority_vote"] = {
        "accuracy": round(accuracy(items, mv.reindex(items).tolist(), crowd.truth), 4),
        "seconds": round(mv_seconds, 4),
    }
    for name, model_tol in (("dawid_skene", None), ("dawid_skene_same_tol", tol)):
        t0 = time.perf_counter()
        model = (DawidSkene(n_iter=100) if model_tol is None else DawidSkene(n_iter=100, tol=model_tol)).fit(frame)
        seconds = time.perf_counter() - t0
        labels = model.labels_.reindex(items).tolist() if model.labels_ is not None else []
        out[name] = {
            "tol": model.tol,
            "accuracy": round(accuracy(items, labels, crowd.truth), 4),
            "seconds": round(seconds, 4),
            "n_iter": len(model.loss_history_),
            "confusion": confusion_error(crowd, crowdkit_confusion(model.errors_, classes)),
            "_labels": labels,
        }
    return out


def without_private(value: Any) -> Any:
    """``value`` without the dict keys starting with ``_`` (label lists kept for the comparison)."""
    if isinstance(value, dict):
        return {k: without_private(v) for k, v in value.items() if not k.startswith("_")}
    return value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default by size)")
    ap.add_argument("--tol", type=float, default=1e-6, help="labelloop's Dawid-Skene tol")
    ap.add_argument("--skip", action="append", default=[], choices=["crowdkit"], help="leave out a reference")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    size = SIZES[args.size]
    repeat = args.repeat or size["repeat"]

    t0 = time.perf_counter()
    crowd = simulate(args.seed, size["items"])
    generate_s = time.perf_counter() - t0

    ours = run_labelloop(crowd, repeat, args.tol)
    items, our_labels = ours.pop("_items"), ours.pop("_labels")
    reference: dict[str, Any] = (
        {"skipped": "--skip crowdkit"} if "crowdkit" in args.skip else run_crowdkit(crowd, args.tol, items)
    )

    report: dict[str, Any] = {
        "size": args.size,
        "seed": args.seed,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
        "data": {
            "items": len(items),
            "annotations": int(crowd.items.shape[0]),
            "annotators": N_ANNOTATORS,
            "classes": K,
            "priors": PRIORS.tolist(),
            "annotator_kinds": {kind: sum(1 for k in crowd.kinds.values() if k == kind) for kind in MIX},
            "generate_s": round(generate_s, 2),
        },
        "repeat": repeat,
        "labelloop": ours,
        "crowdkit": without_private(reference),
    }
    ds = ours["dawid_skene"]
    targets: dict[str, Any] = {"ds_seconds_max": TARGET_DS_SECONDS if args.size == "full" else None}
    ok = args.size != "full" or ds["seconds_best"] <= TARGET_DS_SECONDS
    if "dawid_skene" in reference:
        theirs = reference["dawid_skene"]
        gap = round(100 * (ds["accuracy"] - theirs["accuracy"]), 2)
        same = sum(a == b for a, b in zip(our_labels, theirs["_labels"], strict=True)) / len(items)
        report["comparison"] = {
            "ds_accuracy_gap_points": gap,
            "ds_accuracy_gap_points_same_tol": round(
                100 * (ds["accuracy"] - reference["dawid_skene_same_tol"]["accuracy"]), 2
            ),
            "ds_same_labels": round(same, 5),
            "ds_speedup": round(theirs["seconds"] / ds["seconds_best"], 1),
            "ds_over_mv_points": round(100 * (ds["accuracy"] - ours["majority_vote"]["accuracy"]), 2),
            "mv_accuracy_gap_points": round(
                100 * (ours["majority_vote"]["accuracy"] - reference["majority_vote"]["accuracy"]), 2
            ),
        }
        targets["ds_gap_points_min"] = -TARGET_GAP_POINTS
        ok = ok and gap >= -TARGET_GAP_POINTS
    report["targets"] = targets
    report["targets_met"] = bool(ok)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        mv = ours["majority_vote"]
        print(
            f"Aggregation bench ({args.size}, seed {args.seed}), "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
        )
        print(f"  data: {len(items):,} items, {crowd.items.shape[0]:,} annotations, {N_ANNOTATORS} annotators, K={K}")
        enc = ours["encode"]
        print(f"  encode: from_arrays {enc['from_arrays_s']:.3f} s, from_triples {enc['from_triples_s']:.3f} s")
        print(
            f"  labelloop MV   acc {mv['accuracy']:.4f}  {mv['seconds_best']:.3f} s (median {mv['seconds_median']:.3f})"
        )
        print(
            f"  labelloop DS   acc {ds['accuracy']:.4f}  {ds['seconds_best']:.3f} s "
            f"(median {ds['seconds_median']:.3f}), "
            f"{ds['n_iter']} iterations, confusion MAE {ds['confusion']['mean_abs_error']:.4f}"
        )
        oc = ours["dawid_skene_one_coin"]
        print(f"  labelloop DS one-coin acc {oc['accuracy']:.4f}  {oc['seconds_best']:.3f} s")
        print(f"  with {ours['with_gold']['gold_items']} gold items: {ours['with_gold']['accuracy_on_other_items']}")
        if "comparison" in report:
            for name in ("majority_vote", "dawid_skene", "dawid_skene_same_tol"):
                r = reference[name]
                extra = f", {r['n_iter']} iterations" if "n_iter" in r else ""
                print(f"  crowd-kit {name:<20} acc {r['accuracy']:.4f}  {r['seconds']:.3f} s{extra}")
            print(f"  comparison: {report['comparison']}")
        print(f"  targets met: {ok}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
