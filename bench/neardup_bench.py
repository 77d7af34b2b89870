"""Near-duplicate detection benchmark: labelloop's NearDupDetector against datasketch, same corpus, same run.

    python bench/neardup_bench.py                 # the issue's workload: 100,000 texts
    python bench/neardup_bench.py --size small    # a smoke run (5,000 texts, a few seconds)
    python bench/neardup_bench.py --json          # the report as JSON on stdout

Corpus (generated in memory from ``--seed``, never downloaded or written): texts of 40-60 words drawn from a
fixed vocabulary of 20,000 made-up words with a Zipf distribution (exponent 1.05, like English), so that
unrelated texts share few word 3-grams. 10% of the texts are *planted* near-duplicates of an earlier original
(an unplanted text): 0-3 edits (replace, insert or delete a word; some words upper-cased, which lowercasing
undoes), kept only when the Jaccard similarity of the lowercased word-3-gram sets of the pair, computed here
with Python sets, is in [0.85, 1.0].

Pipelines, timed end to end from the texts to the verdicts:

* **labelloop**: ``NearDupDetector.process`` over batches of 20,000 texts (small: 1,000) with one in-memory
  ``LshIndex`` across batches; ``stored_shingles`` shingles the requested roots' texts from the corpus, as
  the caller does from its database.
* **datasketch**: lowercased word-3-gram sets as bytes, ``MinHash.bulk(num_perm=128)``, then per text in
  order ``MinHashLSH(threshold=0.8, num_perm=128).query``: a hit makes the text a near-duplicate of the first
  key returned; otherwise the text is inserted. No verification.

Scoring against the planted pairs: a *detection* is a text reported as a near-duplicate. It is *correct* when
the text is planted and the reported root is its original's root (the original itself, or, if the original
was itself reported as a near-duplicate, the root it points to). Precision = correct / detections;
recall = correct / planted.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from labelloop.domain.minhash import LshIndex, MinHashParams, NearDupDetector

SIZES = {"small": (5_000, 1_000), "full": (100_000, 20_000)}
VOCABULARY = 20_000
ZIPF = 1.05
PLANTED = 0.10
JACCARD_RANGE = (0.85, 1.0)
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def make_vocabulary(rng: np.random.Generator) -> list[str]:
    """VOCABULARY distinct made-up words of 1-4 syllables."""
    words: set[str] = set()
    out: list[str] = []
    while len(out) < VOCABULARY:
        n = int(rng.integers(1, 5))
        w = "".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), n))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


def trigrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    """The ground truth's shingles: lowercased word 3-grams (the whole text when shorter)."""
    low = [w.lower() for w in words]
    if len(low) < 3:
        return {tuple(low)} if low else set()
    return {tuple(low[i : i + 3]) for i in range(len(low) - 2)}


def true_jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = trigrams(a), trigrams(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 0.0


def make_corpus(size: int, seed: int) -> tuple[list[str], dict[int, int], dict[int, float]]:
    """Texts, planted {near-duplicate index: original index}, and {near-duplicate index: true Jaccard}."""
    rng = np.random.default_rng(seed)
    vocab = make_vocabulary(rng)
    weights = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF
    cdf = np.cumsum(weights / weights.sum())

    def draw(k: int) -> list[str]:
        idx = np.minimum(np.searchsorted(cdf, rng.random(k)), VOCABULARY - 1)
        return [vocab[int(i)] for i in idx]

    n_planted = int(size * PLANTED)
    planted_at = np.sort(rng.choice(np.arange(1, size), n_planted, replace=False))
    is_planted = np.zeros(size, dtype=bool)
    is_planted[planted_at] = True
    docs: list[list[str]] = []
    originals: list[int] = []
    planted: dict[int, int] = {}
    sims: dict[int, float] = {}
    for i in range(size):
        if not is_planted[i]:
            words = draw(int(rng.integers(40, 61)))
            words[0] = words[0].capitalize()
            docs.append(words)
            originals.append(i)
            continue
        orig = originals[int(rng.integers(0, len(originals)))]
        base = docs[orig]
        while True:
            words = list(base)
            for _ in range(int(rng.choice(4, p=[0.15, 0.55, 0.2, 0.1]))):
                kind = int(rng.integers(0, 3))
                pos = int(rng.integers(0, len(words)))
                if kind == 0:
                    words[pos] = draw(1)[0]
                elif kind == 1:
                    words.insert(pos, draw(1)[0])
                elif len(words) > 3:
                    del words[pos]
            for pos in rng.integers(0, len(words), int(rng.integers(0, 3))):
                words[int(pos)] = words[int(pos)].upper()
            sim = true_jaccard(base, words)
            if JACCARD_RANGE[0] <= sim <= JACCARD_RANGE[1]:
                break
        docs.append(words)
        planted[i] = orig
        sims[i] = sim
    return [" ".join(d) for d in docs], planted, sims


def score(duplicate_of: Sequence[int | None], planted: Mapping[int, int], sims: Mapping[int, float]) -> dict[str, Any]:
    """Precision and recall of the reported roots against the planted pairs (see the module docstring), and
    recall by the planted pair's true Jaccard."""

    def root(i: int) -> int:
        seen = 0
        while (r := duplicate_of[i]) is not None and seen < len(duplicate_of):
            i, seen = r, seen + 1
        return i

    detections = [i for i, d in enumerate(duplicate_of) if d is not None]
    right = {i for i in detections if i in planted and duplicate_of[i] == root(planted[i])}
    by_sim: dict[str, float] = {}
    for lo, hi in ((0.85, 0.9), (0.9, 1.0), (1.0, 1.1)):
        pairs = [i for i, s in sims.items() if lo <= s < hi]
        if pairs:
            by_sim[f"[{lo}, {min(hi, 1.0)}{']' if hi > 1 else ')'}"] = round(
                sum(i in right for i in pairs) / len(pairs), 4
            )
    return {
        "detections": len(detections),
        "correct": len(right),
        "recall": round(len(right) / len(planted), 4) if planted else 1.0,
        "precision": round(len(right) / len(detections), 4) if detections else 1.0,
        "recall_by_jaccard": by_sim,
    }


def run_labelloop(texts: Sequence[str], batch: int, params: MinHashParams) -> dict[str, Any]:
    detector = NearDupDetector(params)
    hasher = detector.hasher
    index = LshIndex()
    fetched = 0

    def stored_shingles(ids: Sequence[int]) -> Mapping[int, np.ndarray]:
        nonlocal fetched
        fetched += len(ids)
        sets = hasher.shingle_sets([texts[i] for i in ids])
        return {i: sets[k] for k, i in enumerate(ids)}

    duplicate_of: list[int | None] = []
    checked = 0
    t0 = time.perf_counter()
    for lo in range(0, len(texts), batch):
        chunk = texts[lo : lo + batch]
        result = detector.process(chunk, range(lo, lo + len(chunk)), index, stored_shingles)
        duplicate_of.extend(result.duplicate_of)
        checked += result.candidates_checked
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 3),
        "docs_per_s": round(len(texts) / seconds),
        "params": params.as_params(),
        "candidates_checked": checked,
        "stored_fetched": fetched,
        "index_records": len(index),
        "index_bytes_per_record_band": round(index.nbytes / max(1, index.entries), 2),
        "duplicate_of": duplicate_of,
    }


def stage_times(texts: Sequence[str], batch: int, params: MinHashParams) -> dict[str, float]:
    """Seconds per stage of the hashing (a separate pass, to see where the time goes)."""
    detector = NearDupDetector(params)
    h = detector.hasher
    out = {"shingle_sets": 0.0, "signatures": 0.0, "band_keys": 0.0}
    for lo in range(0, len(texts), batch):
        chunk = texts[lo : lo + batch]
        t = time.perf_counter()
        sets = h.shingle_sets(chunk)
        out["shingle_sets"] += time.perf_counter() - t
        t = time.perf_counter()
        sig = h.signatures(sets)
        out["signatures"] += time.perf_counter() - t
        t = time.perf_counter()
        h.band_keys(sig)
        out["band_keys"] += time.perf_counter() - t
    return {k: round(v, 3) for k, v in out.items()}


def run_datasketch(texts: Sequence[str]) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

    def shingles(text: str) -> list[bytes]:
        w = text.lower().split()
        if len(w) < 3:
            return [" ".join(w).encode()] if w else []
        return [f"{a} {b} {c}".encode() for a, b, c in zip(w, w[1:], w[2:], strict=False)]

    t0 = time.perf_counter()
    mhs = MinHash.bulk([shingles(t) for t in texts], num_perm=128)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    duplicate_of: list[int | None] = []
    for i, m in enumerate(mhs):
        hits = lsh.query(m)
        if hits:
            duplicate_of.append(int(hits[0]))
        else:
            duplicate_of.append(None)
            lsh.insert(i, m)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 3), "docs_per_s": round(len(texts) / seconds), "duplicate_of": duplicate_of}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--num-perm", type=int, default=MinHashParams().num_perm)
    parser.add_argument("--skip-datasketch", action="store_true", help="labelloop only (for tuning)")
    args = parser.parse_args(argv)
    size, batch = SIZES[args.size]

    t = time.perf_counter()
    texts, planted, sims = make_corpus(size, args.seed)
    corpus = {
        "texts": size,
        "planted": len(planted),
        "mean_words": round(float(np.mean([t.count(" ") + 1 for t in texts])), 1),
        "planted_jaccard_min": round(min(sims.values()), 4),
        "planted_jaccard_mean": round(float(np.mean(list(sims.values()))), 4),
        "planted_jaccard_1.0": sum(1 for s in sims.values() if s == 1.0),
        "generated_in_s": round(time.perf_counter() - t, 2),
    }
    params = MinHashParams(num_perm=args.num_perm)
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpu": platform.processor()},
        "size": args.size,
        "batch": batch,
        "corpus": corpus,
    }
    ours = run_labelloop(texts, batch, params)
    ours.update(score(ours.pop("duplicate_of"), planted, sims))
    ours["stage_seconds"] = stage_times(texts, batch, params)
    report["labelloop"] = ours
    if not args.skip_datasketch:
        theirs = run_datasketch(texts)
        theirs.update(score(theirs.pop("duplicate_of"), planted, sims))
        report["datasketch"] = theirs
        report["speed_ratio"] = round(ours["docs_per_s"] / theirs["docs_per_s"], 2)
    report["targets_met"] = {
        "recall>=0.95": ours["recall"] >= 0.95,
        "precision>=0.95": ours["precision"] >= 0.95,
        **({"ratio>=5": report["speed_ratio"] >= 5} if "speed_ratio" in report else {}),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0


def _print(report: Mapping[str, Any]) -> None:
    c = report["corpus"]
    print(
        f"corpus: {c['texts']:,} texts (~{c['mean_words']} words), {c['planted']:,} planted near-duplicates "
        f"(Jaccard min {c['planted_jaccard_min']}, mean {c['planted_jaccard_mean']}, "
        f"{c['planted_jaccard_1.0']} at 1.0); batch {report['batch']:,}"
    )
    rows: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
        ("docs/s", lambda r: f"{r['docs_per_s']:,}"),
        ("seconds", lambda r: f"{r['seconds']}"),
        ("recall", lambda r: f"{r['recall']}"),
        ("precision", lambda r: f"{r['precision']}"),
        ("detections", lambda r: f"{r['detections']:,}"),
    ]
    names = [n for n in ("labelloop", "datasketch") if n in report]
    print(f"{'':12}" + "".join(f"{n:>14}" for n in names))
    for label, fmt in rows:
        print(f"{label:12}" + "".join(f"{fmt(report[n]):>14}" for n in names))
    for n in names:
        print(f"{n} recall by planted Jaccard: {report[n]['recall_by_jaccard']}")
    ours = report["labelloop"]
    print(
        f"labelloop: params {ours['params']}, candidates checked {ours['candidates_checked']:,}, "
        f"stored roots fetched {ours['stored_fetched']:,}, index {ours['index_records']:,} records at "
        f"{ours['index_bytes_per_record_band']} B per (record, band); stages {ours['stage_seconds']}"
    )
    if "speed_ratio" in report:
        print(f"speed ratio labelloop / datasketch: {report['speed_ratio']}x")
    print(f"targets met: {report['targets_met']}")


if __name__ == "__main__":
    raise SystemExit(main())
