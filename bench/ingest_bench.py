"""Ingestion benchmark: JSONL into SQLite and PostgreSQL, HTTP push, peak memory.

    python bench/ingest_bench.py                   # the issue's workload (1M and 5M rows)
    python bench/ingest_bench.py --size small      # a smoke run (CI)

Generates its corpus under bench/.data (never committed): records of ~200 bytes
with 10% exact duplicates (same text, new id) and 0.1% malformed lines. Each
ingestion runs in a fresh child process so its peak RSS is its own. The bare
loop (parse each line with orjson and hash it, nothing else) runs in the same
invocation, so the ratio compares like with like.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from pgschema import drop_schema, pg_schema_url

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
WORDS = [
    "order",
    "refund",
    "delivery",
    "account",
    "password",
    "invoice",
    "shipping",
    "broken",
    "screen",
    "battery",
    "update",
    "install",
    "error",
    "login",
    "payment",
    "card",
    "charged",
    "twice",
    "subscription",
    "cancel",
    "please",
    "help",
    "urgent",
    "thanks",
    "package",
    "missing",
    "arrived",
    "late",
    "damaged",
    "replace",
    "warranty",
    "support",
    "ticket",
    "customer",
    "service",
    "email",
    "phone",
    "address",
    "change",
    "store",
]
CONFIG = """\
name: bench
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
    priority: {type: integer}
sources:
  - name: inbox
    kind: jsonl
    path: data/*.jsonl
  - name: api
    kind: push
"""


def make_rows(n: int, seed: int) -> tuple[list[bytes], dict[str, int]]:
    """``n`` JSONL lines: 10% duplicates of earlier texts under new ids, 0.1% malformed."""
    rng = random.Random(seed)
    contents: list[tuple[str, str, int]] = []
    lines: list[bytes] = []
    planted = {"duplicates": 0, "malformed": 0}
    for i in range(n):
        roll = rng.random()
        if roll < 0.001:
            lines.append(b'{"id": "m%d", "text": "unterminated' % i)
            planted["malformed"] += 1
            continue
        if roll < 0.101 and contents:
            # the same content from another person under a new id: an exact duplicate
            text, channel, priority = contents[rng.randrange(len(contents))]
            planted["duplicates"] += 1
        else:
            text = " ".join(rng.choices(WORDS, k=rng.randint(12, 20))) + f" #{seed}-{i}"
            channel, priority = rng.choice(["email", "chat", "phone"]), rng.randint(1, 4)
            contents.append((text, channel, priority))
            if len(contents) > 50_000:
                contents = contents[-50_000:]
        row = {
            "id": f"t{i:08d}",
            "text": text,
            "user": f"u{rng.randrange(20_000)}",
            "consent": ["support"],
            "channel": channel,
            "priority": priority,
        }
        lines.append(orjson.dumps(row))
    return lines, planted


def corpus(n: int, seed: int = 7) -> tuple[Path, dict[str, int]]:
    """Write (once) and return the corpus file of ``n`` rows and what was planted in it."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"tickets-{n}.jsonl"
    meta = DATA / f"tickets-{n}.json"
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    planted = {"duplicates": 0, "malformed": 0}
    with path.open("wb") as handle:
        done = 0
        part = 0
        while done < n:
            size = min(200_000, n - done)
            lines, got = make_rows(size, seed + part)
            # ids stay unique across parts
            lines = [line.replace(b'"id":"t', b'"id":"p%d-t' % part, 1) for line in lines]
            handle.write(b"\n".join(lines) + b"\n")
            planted["duplicates"] += got["duplicates"]
            planted["malformed"] += got["malformed"]
            done += size
            part += 1
    planted["rows"] = n
    planted["bytes"] = path.stat().st_size
    meta.write_text(json.dumps(planted))
    return path, planted


def bare_loop(path: Path) -> float:
    """Seconds for the bare loop: parse each line and hash it, nothing else."""
    start = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            try:  # noqa: SIM105 - a bare try is the cheapest way; contextlib.suppress would slow the baseline
                orjson.loads(line)
            except orjson.JSONDecodeError:
                pass
            hashlib.blake2b(line, digest_size=16).digest()
    return time.perf_counter() - start


def child_ingest(path: str, url: str) -> None:
    """Run one ingestion in this (child) process and print its figures as JSON."""
    from labelloop.config import Settings
    from labelloop.ingest.service import run_ingest
    from labelloop.project import open_project

    folder = Path(tempfile.mkdtemp(prefix="labelloop-bench-"))
    (folder / "labelloop.yaml").write_text(CONFIG)
    (folder / "data").mkdir()
    (folder / "data" / "tickets.jsonl").symlink_to(path)
    project = open_project(folder, Settings(database_url=url or None))
    start = time.perf_counter()
    summary = run_ingest(project)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "summary": summary, "dir": str(folder)}))


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    Read from VmHWM, not ``getrusage``: Linux carries ru_maxrss across fork and exec,
    so a child would report its parent's peak (seen: 1.3 GB for a 300 MB child).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(path: Path, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--url", url], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def push_bench(requests: int, per_request: int) -> dict[str, Any]:
    """Records/s of HTTP push, ``per_request`` records a request, against a real server process."""
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="labelloop-push-"))
    (folder / "labelloop.yaml").write_text(CONFIG)
    env = {**os.environ}
    env.pop("LABELLOOP_DATABASE_URL", None)
    cli = [sys.executable, "-m", "labelloop.cli.main"]
    token = json.loads(
        subprocess.run(
            [*cli, "user", "add", "bench", "--role", "steward", "--json", "--project-dir", str(folder)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    )["token"]
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--project-dir", str(folder)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # Push bodies are JSON arrays: malformed lines would make a whole body invalid (a 422),
        # so they are left out here; bad rows inside valid bodies are tested elsewhere.
        lines = []
        for line in make_rows(requests * per_request + requests * per_request // 500, seed=11)[0]:
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            lines.append(line)
        lines = lines[: requests * per_request]
        bodies = [b"[" + b",".join(lines[i : i + per_request]) + b"]" for i in range(0, len(lines), per_request)]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        new = 0
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            start = time.perf_counter()
            for body in bodies:
                response = client.post("/api/v1/projects/bench/records", content=body)
                response.raise_for_status()
                new += response.json()["new"] + response.json()["exact_duplicates"]
            seconds = time.perf_counter() - start
            again = client.post("/api/v1/projects/bench/records", content=bodies[0]).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "records": len(lines),
        "stored": new,
        "seconds": seconds,
        "records_per_s": len(lines) / seconds,
        "repeat_new": again["new"],
        "repeat_unchanged": again["unchanged"],
    }


def progress(report: dict[str, Any]) -> None:
    """The report so far, on stderr (a long run that fails late still shows its figures)."""
    print(json.dumps(report), file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--skip", nargs="*", default=[], choices=["sqlite", "postgres", "push", "memory"])
    args = parser.parse_args()
    if args.child:
        child_ingest(args.child, args.url)
        return
    n, big, push_requests = (1_000_000, 5_000_000, 30) if args.size == "full" else (20_000, 60_000, 3)
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "size": args.size,
    }
    path, planted = corpus(n)
    report["corpus"] = planted
    bare = bare_loop(path)
    report["bare_loop_records_per_s"] = n / bare
    if "sqlite" not in args.skip:
        result = run_child(path, "")
        summary = result["summary"]
        expected = (n - planted["malformed"] - planted["duplicates"], planted["duplicates"], planted["malformed"])
        got = (summary["new"], summary["exact_duplicates"], summary["quarantined"])
        if got != expected:
            raise SystemExit(f"SQLite counts {got} differ from planted {expected}")
        report["sqlite"] = {
            "records_per_s": n / result["seconds"],
            "seconds": result["seconds"],
            "peak_rss_mb": result["peak_rss_mb"],
            "ratio_to_bare": bare / result["seconds"],
        }
        rerun = subprocess.run(
            [sys.executable, "-m", "labelloop.cli.main", "ingest", "--json", "--project-dir", result["dir"]],
            check=True,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"},
        )
        report["sqlite"]["rerun_new"] = json.loads(rerun.stdout)["new"]
    progress(report)
    admin = os.environ.get("LABELLOOP_TEST_DATABASE_URL") or os.environ.get("LABELLOOP_BENCH_DATABASE_URL")
    if "postgres" not in args.skip and admin:
        url, schema = pg_schema_url(admin)
        try:
            result = run_child(path, url)
        finally:
            drop_schema(admin, schema)
        report["postgres"] = {
            "records_per_s": n / result["seconds"],
            "seconds": result["seconds"],
            "peak_rss_mb": result["peak_rss_mb"],
            "new": result["summary"]["new"],
        }
    progress(report)
    if "push" not in args.skip:
        report["push"] = push_bench(push_requests, 10_000 if args.size == "full" else 2_000)
    progress(report)
    if "memory" not in args.skip:
        big_path, _ = corpus(big)
        small_run = report.get("sqlite") or {"peak_rss_mb": run_child(path, "")["peak_rss_mb"]}
        result = run_child(big_path, "")
        report["memory"] = {
            f"peak_rss_mb_{n}": small_run["peak_rss_mb"],
            f"peak_rss_mb_{big}": result["peak_rss_mb"],
            "growth": result["peak_rss_mb"] / small_run["peak_rss_mb"] - 1,
            f"records_per_s_{big}": big / result["seconds"],
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
