"""The annotate page in a real browser: first meaningful paint and submit-to-next-task, at 1M tasks.

    python bench/ui_bench.py                 # 1,000,000 tasks on SQLite (the default store)
    python bench/ui_bench.py --size small    # 2,000 tasks: a smoke run (CI)
    python bench/ui_bench.py --backend postgres   # needs LABELLOOP_TEST_DATABASE_URL

The project is built the way ``bench/queue_bench.py`` builds it (its ``prepare``: records
generated, ingested, turned into tasks), then ``labelloop serve`` runs in its own process and
Debian's Chromium (Playwright) logs in as an annotator. Every figure is the browser's own clock:

- first meaningful paint: navigation start to the frame after the record text was put on the
  page (``labelloop:task-painted``, a performance mark the page sets in the task after the
  paint), over ``--loads`` loads of the annotate page, each with empty browser storage and the
  annotator's earlier lease ended, so each load finds no task held (``GET /queue/held``) and
  leases a new one (``POST /queue/next``) (warm: the same tab, the HTTP cache as a person's tab
  has it; cold: a new browser context each time, nothing cached);
- next task: the keydown of Enter (``labelloop:submit``, its event time) to the frame after the
  next task's text is shown, over ``--submits`` keyboard-driven tasks (key 1, then Enter).

Also reported, from the same pages' resource timing: the two API calls' durations as the browser
saw them and as the server measured them (``Server-Timing``), and the check that every submit
was stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from pgschema import drop_schema, pg_schema_url
from queue_bench import LABELS, free_port, pct, prepare

USER = "web-annotator"
PASSWORD = "bench-password-123"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WARMUP = 3

# The marks the page sets (static/annotate.js); the resource timings of its API calls.
_PAINT = """() => {
    const m = performance.getEntriesByName('labelloop:task-painted');
    return m.length ? m[m.length - 1].startTime : null;
}"""
_LOAD_DETAIL = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const next = performance.getEntriesByType('resource').filter(r => r.name.includes('/queue/next')).pop();
    const held = performance.getEntriesByType('resource').filter(r => r.name.includes('/queue/held')).pop();
    const hint = performance.getEntriesByType('resource').filter(r => r.name.includes('/suggestion')).pop();
    const st = (r) => r && r.serverTiming && r.serverTiming.length ? r.serverTiming[0].duration : null;
    return {ttfb: nav.responseStart, dom: nav.domContentLoadedEventEnd,
            held: held ? held.duration : null, held_server: st(held),
            next: next ? next.duration : null, next_server: st(next),
            hint: hint ? hint.duration : null, hint_server: st(hint)};
}"""
_CYCLE = """() => {
    const sub = performance.getEntriesByName('labelloop:submit').pop();
    const paint = performance.getEntriesByName('labelloop:task-painted').pop();
    const res = performance.getEntriesByType('resource');
    const post = res.filter(r => r.name.includes('/annotations')).pop();
    const next = res.filter(r => r.name.includes('/queue/next')).pop();
    const st = (r) => r && r.serverTiming && r.serverTiming.length ? r.serverTiming[0].duration : null;
    return {total: paint.startTime - sub.startTime, submit: post ? post.duration : null, submit_server: st(post),
            next: next ? next.duration : null, next_server: st(next)};
}"""


def summary(values: list[float]) -> dict[str, float]:
    clean = [v for v in values if v is not None]
    if not clean:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    return {
        "p50": round(pct(clean, 0.5), 1),
        "p95": round(pct(clean, 0.95), 1),
        "min": round(min(clean), 1),
        "max": round(max(clean), 1),
        "n": len(clean),
    }


def build(folder: Path, url: str | None, tasks: int, predictions: bool) -> dict[str, Any]:
    """queue_bench's project, plus a web user with a password, room for one lease per page load and
    (with ``predictions``) a model's predictions for every record."""
    setup = prepare(folder, url, tasks, 1)
    config_path = folder / "labelloop.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["labeling"]["max_leases_per_user"] = 100  # every measured load takes a fresh lease
    config_path.write_text(yaml.safe_dump(config))
    from labelloop.config import Settings
    from labelloop.governance.service import add_user
    from labelloop.project import open_project

    project = open_project(folder, Settings(database_url=url))
    add_user(project, USER, "annotator", password=PASSWORD)
    if predictions:
        setup["suggestions"] = add_predictions(project)
    project.store.dispose()
    return setup


def add_predictions(project: Any) -> dict[str, Any]:
    """A model's predictions for every record (so every task has a suggestion), and the lookup's cost."""
    from sqlalchemy import text

    from labelloop.learning.service import import_predictions, latest_prediction

    with project.store.read() as conn:
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))]
    rng = random.Random(7)
    started = time.perf_counter()
    for start in range(0, len(ids), 20_000):
        rows = []
        for rid in ids[start : start + 20_000]:
            top = rng.choice(LABELS)
            probs = {label: 0.6 if label == top else 0.1 for label in LABELS}
            rows.append({"record_id": rid, "model": "bench", "model_version": "1", "probs": probs})
        import_predictions(project, rows)
    imported = time.perf_counter() - started
    lookups = []  # each reads the newest version (model_versions) and the record's prediction
    for rid in rng.sample(ids, min(50, len(ids))):
        t0 = time.perf_counter()
        assert latest_prediction(project, rid) is not None
        lookups.append((time.perf_counter() - t0) * 1000)
    return {"predictions": len(ids), "import_s": round(imported, 1), "suggestion_lookup_ms": summary(lookups)}


def stored_by_user(folder: Path, url: str | None) -> int:
    from sqlalchemy import text

    from labelloop.config import Settings
    from labelloop.project import open_project

    project = open_project(folder, Settings(database_url=url))
    with project.store.read() as conn:
        found = conn.execute(
            text("SELECT COUNT(*) FROM annotations a JOIN users u ON u.id = a.user_id WHERE u.name = :n"), {"n": USER}
        ).scalar_one()
    project.store.dispose()
    return int(found)


class LeaseRelease:
    """Ends the bench annotator's live leases (as if they ran out) before a measured load, so that every
    load is a first visit: the page finds no task held (``GET /queue/held``) and leases a new one
    (``POST /queue/next``), the longest way to the first task. Not timed."""

    def __init__(self, folder: Path, url: str | None) -> None:
        from labelloop.config import Settings
        from labelloop.project import open_project

        self.project = open_project(folder, Settings(database_url=url))

    def __call__(self) -> None:
        from sqlalchemy import text

        from labelloop.store import repo

        with self.project.store.write() as conn:
            conn.execute(
                text(
                    "UPDATE leases SET expires_at = 1 WHERE state = 'active'"
                    " AND user_id IN (SELECT id FROM users WHERE name = :n)"
                ),
                {"n": USER},
            )
            # ended now, as the server's sweep would end them (the task goes back to the pool and
            # no longer counts against the person's lease cap)
            repo.expire_leases(conn, self.project.id, time.time())

    def close(self) -> None:
        self.project.store.dispose()


def log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/annotate")
    page.locator("#task").wait_for(state="visible")


def one_load(page: Any, url: str, suggestions: bool, release: LeaseRelease) -> tuple[float, dict[str, Any]]:
    """Navigate with empty storage and no task held (a new lease) and wait for the painted mark; (ms, breakdown)."""
    if page.url.startswith("http"):  # a new tab (about:blank) has no storage of the site yet
        page.evaluate("() => { sessionStorage.clear(); localStorage.clear(); }")
    release()
    page.goto(url, wait_until="commit")
    page.wait_for_function(_PAINT, timeout=30_000)
    painted = float(page.evaluate(_PAINT))
    if suggestions:
        page.locator("#suggestion").wait_for(state="visible")
    return painted, page.evaluate(_LOAD_DETAIL)


def breakdown(details: list[dict[str, Any]]) -> dict[str, float]:
    """The p50 of each part of a page load (browser clock, and the server's own for the API calls)."""
    return {
        "ttfb": summary([d["ttfb"] for d in details])["p50"],
        "dom_content_loaded": summary([d["dom"] for d in details])["p50"],
        "queue_held_browser": summary([d["held"] for d in details])["p50"],
        "queue_held_server": summary([d["held_server"] for d in details])["p50"],
        "queue_next_browser": summary([d["next"] for d in details])["p50"],
        "queue_next_server": summary([d["next_server"] for d in details])["p50"],
        "suggestion_browser": summary([d["hint"] for d in details])["p50"],
        "suggestion_server": summary([d["hint_server"] for d in details])["p50"],
    }


def measure_browser(
    base: str, loads: int, submits: int, project_name: str, suggestions: bool, release: LeaseRelease
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is needed: apt-get install -y chromium")
    url = f"{base}/projects/{project_name}/annotate"
    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        log_in(page, base)
        warm: list[float] = []
        details: list[dict[str, Any]] = []
        for i in range(WARMUP + loads):
            ms, detail = one_load(page, url, suggestions, release)
            if i >= WARMUP:
                warm.append(ms)
                details.append(detail)
        cookies = context.cookies()
        cold: list[float] = []
        cold_details: list[dict[str, Any]] = []
        for _ in range(loads):
            fresh = browser.new_context(viewport={"width": 1280, "height": 900})
            fresh.add_cookies(cookies)
            tab = fresh.new_page()
            ms, detail = one_load(tab, url, suggestions, release)
            cold.append(ms)
            cold_details.append(detail)
            fresh.close()

        cycles: list[dict[str, Any]] = []
        page.goto(url)
        page.locator("#task").wait_for(state="visible")
        for i in range(WARMUP + submits):
            before = page.locator("#task").get_attribute("data-task-id")
            page.evaluate("() => { performance.clearMarks(); performance.clearResourceTimings(); }")
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            page.wait_for_function(
                "(id) => document.getElementById('task').dataset.taskId !== id"
                " && performance.getEntriesByName('labelloop:task-painted').length > 0",
                arg=before,
                timeout=30_000,
            )
            if i >= WARMUP:
                cycles.append(page.evaluate(_CYCLE))
        context.close()
        browser.close()
    out["first_paint_ms"] = summary(warm)
    out["first_paint_cold_ms"] = summary(cold)
    out["load_breakdown_p50_ms"] = breakdown(details)
    out["cold_load_breakdown_p50_ms"] = breakdown(cold_details)
    out["next_task_ms"] = summary([c["total"] for c in cycles])
    out["next_task_breakdown_p50_ms"] = {
        "submit_browser": summary([c["submit"] for c in cycles])["p50"],
        "submit_server": summary([c["submit_server"] for c in cycles])["p50"],
        "queue_next_browser": summary([c["next"] for c in cycles])["p50"],
        "queue_next_server": summary([c["next_server"] for c in cycles])["p50"],
    }
    out["loads"] = len(warm)
    out["submits"] = len(cycles)  # measured
    out["submitted"] = len(cycles) + WARMUP  # all keyboard submits, warm-up included
    return out


def run(backend: str, url: str | None, tasks: int, loads: int, submits: int, predictions: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"labelloop-ui-{backend}-"))
    started = time.perf_counter()
    setup = build(folder, url, tasks, predictions)
    print(f"[ui_bench] {setup['created']} tasks ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("LABELLOOP_DATABASE_URL", None)
    if url:
        env["LABELLOOP_DATABASE_URL"] = url
    server = subprocess.Popen(
        [sys.executable, "-m", "labelloop.cli.main", "serve", "--project-dir", str(folder), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        release = LeaseRelease(folder, url)
        try:
            result = measure_browser(base, loads, submits, "queue-bench", predictions, release)
        finally:
            release.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    result["stored"] = stored_by_user(folder, url)
    shutil.rmtree(folder, ignore_errors=True)
    return {"backend": backend, "tasks": setup["created"], "setup": setup_public(setup), **result}


def setup_public(setup: dict[str, Any]) -> dict[str, Any]:
    return {k: setup[k] for k in ("ingest_s", "create_tasks_s", "suggestions") if k in setup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--loads", type=int, default=20, help="page loads measured (each warm and cold)")
    parser.add_argument("--submits", type=int, default=50, help="keyboard submits measured")
    parser.add_argument(
        "--no-predictions", action="store_true", help="no model predictions (by default every record has one)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    tasks = 1_000_000 if args.size == "full" else 2_000
    report: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "size": args.size,
    }
    if args.backend == "postgres":
        admin = os.environ.get("LABELLOOP_TEST_DATABASE_URL")
        if not admin:
            raise SystemExit("--backend postgres needs LABELLOOP_TEST_DATABASE_URL")
        url, schema = pg_schema_url(admin)
        try:
            report.update(run("postgres", url, tasks, args.loads, args.submits, not args.no_predictions))
        finally:
            drop_schema(admin, schema)
    else:
        report.update(run("sqlite", None, tasks, args.loads, args.submits, not args.no_predictions))
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
