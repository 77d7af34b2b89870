"""Throughput of the whole data-health chain: ~300-character texts into SQLite with every stage on.

    python bench/health_bench.py                  # the issue's workload: 1M records (and 250k for memory)
    python bench/health_bench.py --size small     # a smoke run (CI)

Stages on: normalization, PII (every detector, mask), consent (required purpose),
rules (min length, not empty, markup share, language flag), exact and
near-duplicate detection. The corpus (generated under bench/.data, never
committed) plants 5% exact duplicates, 5% near-duplicates (a few words edited),
3% texts with personal data, 1% records without consent, 0.5% too-short texts
and 1% non-English texts. Each ingestion runs in a fresh child process so its
peak RSS (VmHWM) is its own; memory is "flat in input size" when the peak at
1M is close to the peak at 250k.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
TARGET_RATE = 20_000

_VOCABULARY = (
    "the a of to and in for on with by from at as is was are were be been has have had will would can could "
    "customer order refund delivery account password invoice shipping screen battery update install error login "
    "payment subscription package warehouse driver address weekend morning evening support agent ticket manager "
    "product quality price discount store online mobile application network signal router server backup cloud "
    "report meeting schedule project deadline budget contract supplier invoice market growth sales revenue team "
    "new old late early broken missing wrong damaged delayed cancelled received sent opened closed resolved "
    "please thanks help urgent again still never always today yesterday tomorrow week month year"
)
WORDS = _VOCABULARY.split()
GERMAN = (
    "Die Lieferung ist leider nicht angekommen und ich habe seit einer Woche keine Antwort von Ihrem Kundendienst "
    "bekommen, obwohl ich schon dreimal angerufen habe und die Bestellung bezahlt ist."
)
PII_SNIPPETS = (
    "contact me at jane.doe{n}@example.com",
    "call me on +1 415-555-{n:04d}",
    "my card is 4111 1111 1111 1111",
    "transfer to DE89 3704 0044 0532 0130 00",
    "from host 10.{a}.{b}.7 today",
)

CONFIG = """\
name: health
record:
  id_field: id
  text_field: text
  subject_field: user
  consent_field: consent
  fields:
    id: {type: string, required: true}
    text: {type: string, required: true}
    user: {type: string}
    consent: {type: list}
    channel: {type: string}
sources:
  - name: inbox
    kind: jsonl
    path: data/*.jsonl
    batch_size: 20000
stages:
  near_duplicates: {threshold: 0.8}
  pii: {email: mask, phone: mask, card: mask, iban: mask, ip: mask, ssn: mask, url_credentials: mask, secret: mask}
  consent: {required: [support]}
  rules:
    - {field: text, min_length: 40, severity: quarantine}
    - {field: text, not_empty: true, max_markup_ratio: 0.5, severity: quarantine}
    - {field: text, language: [en], severity: flag}
"""


def sentence(rng: random.Random, n_chars: int = 300) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def make_rows(n: int, seed: int) -> tuple[list[bytes], dict[str, int]]:
    """``n`` JSONL lines with the planted share of each case."""
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    planted = dict.fromkeys(["exact", "near", "pii", "no_consent", "short", "german"], 0)
    lines: list[bytes] = []
    for i in range(n):
        roll = rng.random()
        consent = ["support"]
        channel = rng.choice(["email", "chat", "phone"])
        if roll < 0.05 and recent:
            text, channel = rng.choice(recent)  # the same content again, under a new id
            planted["exact"] += 1
        elif roll < 0.10 and recent:
            # one word replaced by another: Jaccard of word 3-grams ~0.88 for ~50 words
            words = rng.choice(recent)[0].split()
            at = rng.randrange(len(words))
            words[at] = rng.choice([w for w in WORDS if w != words[at]])
            text = " ".join(words)
            planted["near"] += 1
        elif roll < 0.13:
            snippet = rng.choice(PII_SNIPPETS).format(
                n=rng.randrange(10_000), a=rng.randrange(256), b=rng.randrange(256)
            )
            text = sentence(rng, 240) + " " + snippet + " thanks"
            planted["pii"] += 1
        elif roll < 0.14:
            text = sentence(rng)
            consent = []
            planted["no_consent"] += 1
        elif roll < 0.145:
            text = "refund please"
            planted["short"] += 1
        elif roll < 0.155:
            text = GERMAN
            planted["german"] += 1
        else:
            text = sentence(rng)
            recent.append((text, channel))
            if len(recent) > 5_000:
                recent = recent[-5_000:]
        row = {
            "id": f"s{seed}-{i}",
            "text": text,
            "user": f"u{rng.randrange(50_000)}",
            "consent": consent,
            "channel": channel,
        }
        lines.append(orjson.dumps(row))
    return lines, planted


def corpus(n: int, seed: int = 11) -> tuple[Path, dict[str, int]]:
    """Write (once) and return the corpus of ``n`` rows and what was planted in it."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"health-{n}.jsonl"
    meta = DATA / f"health-{n}.json"
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    planted: dict[str, int] = {}
    with path.open("wb") as handle:
        done = part = 0
        while done < n:
            size = min(100_000, n - done)
            lines, got = make_rows(size, seed + part)
            handle.write(b"\n".join(lines) + b"\n")
            for key, value in got.items():
                planted[key] = planted.get(key, 0) + value
            done += size
            part += 1
    planted["rows"] = n
    planted["bytes"] = path.stat().st_size
    meta.write_text(json.dumps(planted))
    return path, planted


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM: not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_ingest(path: str, without: list[str]) -> None:
    """Run one ingestion in this (child) process and print its figures as JSON."""
    from labelloop.config import Settings
    from labelloop.ingest.service import run_ingest
    from labelloop.project import open_project

    folder = Path(tempfile.mkdtemp(prefix="labelloop-health-"))
    config = CONFIG
    if "near_duplicates" in without:
        config = config.replace("  near_duplicates: {threshold: 0.8}\n", "")
    (folder / "labelloop.yaml").write_text(config)
    (folder / "data").mkdir()
    (folder / "data" / "corpus.jsonl").symlink_to(path)
    project = open_project(folder, Settings(database_url=None))
    start = time.perf_counter()
    summary = run_ingest(project)
    seconds = time.perf_counter() - start
    from labelloop.ingest.near_dups import index_nbytes

    result = {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "summary": summary, "dir": str(folder)}
    result["near_dup_index_mb"] = round(index_nbytes(project) / 2**20, 1)
    print(json.dumps(result))


def run_child(path: Path, without: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), *(["--without", *without] if without else [])],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(n: int, without: list[str]) -> dict[str, Any]:
    path, planted = corpus(n)
    result = run_child(path, without)
    summary = result["summary"]
    return {
        "rows": n,
        "planted": planted,
        "seconds": round(result["seconds"], 2),
        "records_per_s": round(n / result["seconds"]),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "near_dup_index_mb": result["near_dup_index_mb"],
        "counts": {
            k: summary[k]
            for k in (
                "read",
                "new",
                "exact_duplicates",
                "near_duplicates",
                "quarantined",
                "redacted",
                "consent_dropped",
                "flagged",
            )
        },
        "stages": summary["stages"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the report as JSON only")
    parser.add_argument("--sizes", type=int, nargs="*", help="rows per run (default: 250k and 1M; small: 20k)")
    parser.add_argument(
        "--without", nargs="*", default=[], choices=["near_duplicates"], help="stages left out (memory comparisons)"
    )
    args = parser.parse_args()
    if args.child:
        child_ingest(args.child, args.without)
        return
    sizes = args.sizes or ([250_000, 1_000_000] if args.size == "full" else [20_000])
    runs = [measure(n, args.without) for n in sizes]
    report: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": runs,
        "target_records_per_s": TARGET_RATE,
        "without": args.without,
    }
    if len(runs) > 1:
        report["rss_growth_mb"] = round(runs[-1]["peak_rss_mb"] - runs[0]["peak_rss_mb"], 1)
    if args.json:
        print(json.dumps(report))
        return
    print(report["machine"])
    for run in runs:
        print(
            f"{run['rows']:>9,} rows: {run['seconds']:7.2f} s  {run['records_per_s']:>7,} rec/s "
            f"(target {TARGET_RATE:,})  peak RSS {run['peak_rss_mb']:.0f} MB "
            f"(near-duplicate index {run['near_dup_index_mb']} MB)"
        )
        print(f"           counts {run['counts']}")
        print(f"           planted {run['planted']}")
    if "rss_growth_mb" in report:
        print(f"peak RSS growth {sizes[0]:,} -> {sizes[-1]:,}: {report['rss_growth_mb']} MB")


if __name__ == "__main__":
    main()
