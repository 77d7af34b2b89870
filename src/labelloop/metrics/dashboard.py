"""The figures of a project's dashboard: backlog, throughput, latency, coverage, completeness, freshness,
agreement, gold accuracy, error types, drift and the learning curve across releases.

Where each figure comes from, and what it costs a page view:

- counts (records, labeled, coverage, tasks per state, answers) come from the counters kept with the
  writes (:func:`labelloop.ingest.status.project_status`), read on every view: the same numbers as
  ``GET /api/v1/projects/{project}/metrics``;
- everything else comes from a *snapshot* kept per process and project. A view first reads the
  project's fingerprint (its counters and the newest id of each append-only table: a handful of index
  lookups) and reuses the snapshot while the fingerprint is unchanged. When it moved, a small project
  (whose last read took under :data:`SLOW_READ_S`) is read again before the view answers, so its
  figures are always current; a large one is read again in a background thread, at most once every
  ``refresh_s`` seconds, while views answer at once from the previous snapshot (marked ``stale``): a
  busy project costs one read per interval however many people watch, and no view waits for it but
  the first of a process. Ages (backlog, freshness) are computed at view time from the timestamps the
  snapshot keeps, so they stay right while nothing changes;
- agreement is computed now (the same call as ``GET .../agreement``, without the bootstrap) while the
  project has at most :data:`LIVE_AGREEMENT_MAX` answers; above that the latest *recorded* agreement
  (``labelloop agreement`` or the worker's ``agreement`` job) is shown with its time, since computing it
  reads every answer (seconds at 100,000 tasks).

People's figures (throughput, agreement, gold accuracy and error types per annotator) are included only
with ``people=True`` (stewards and admins, as the API does for agreement per annotator).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from labelloop.config import DashboardSpec
from labelloop.errors import LabelloopError
from labelloop.ingest.status import project_status
from labelloop.labeling.gold import gold_report
from labelloop.labeling.review import error_types
from labelloop.labeling.schemas import current_version
from labelloop.metrics import queries
from labelloop.project import Project
from labelloop.quality.service import agreement, agreement_history, drift_history
from labelloop.quality.votes import main_question
from labelloop.releases.service import list_releases
from labelloop.store import repo
from labelloop.store.engine import Store

__all__ = [
    "AGE_BUCKETS",
    "LIVE_AGREEMENT_MAX",
    "REFRESH_S",
    "SLOW_READ_S",
    "age_buckets",
    "dashboard",
    "forget_snapshots",
    "kpis",
    "percentile",
    "wait_for_refresh",
]

logger = logging.getLogger(__name__)

#: Seconds between two background reads of a large project's snapshot while its figures keep changing.
REFRESH_S = 5.0
#: A project whose snapshot read took at least this long (seconds) is read again in the background.
SLOW_READ_S = 0.25
#: Agreement is computed at view time up to this many answers; above, the latest recorded one is shown.
LIVE_AGREEMENT_MAX = 20_000
#: Days of throughput shown.
THROUGHPUT_DAYS = 30
#: Backlog age buckets: (upper bound in seconds, label).
AGE_BUCKETS: tuple[tuple[float, str], ...] = (
    (3_600.0, "under 1 hour"),
    (86_400.0, "1 hour to 1 day"),
    (7 * 86_400.0, "1 to 7 days"),
    (math.inf, "over 7 days"),
)
NO_TARGETS = (
    "No coverage targets are configured: set dashboard.class_targets (final labels per class) and "
    "dashboard.source_targets (labeled share per source) in labelloop.yaml to measure against them."
)


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy's default);
    None for no values. Example: ``percentile([10, 20, 30, 40], 50) == 25.0``."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def age_buckets(times: np.ndarray, now: float) -> dict[str, int]:
    """How many of ``times`` (epoch seconds, sorted ascending) are in each :data:`AGE_BUCKETS` bucket at ``now``."""
    ages = now - times
    out: dict[str, int] = {}
    low = -math.inf
    for high, label in AGE_BUCKETS:
        out[label] = int(np.count_nonzero((ages >= low) & (ages < high))) if len(ages) else 0
        low = high
    return out


@dataclass
class _Snapshot:
    """What one read of the store gave; timestamps are kept so that ages are computed at view time."""

    fingerprint: tuple[Any, ...]
    computed_at: float
    queues: dict[str, np.ndarray]  # queue -> sorted epoch times its items entered it
    sources: list[str]
    tasks: dict[str, int]
    by_source: dict[str, dict[str, int]]
    latency: dict[str, np.ndarray]  # source -> seconds from ingestion to label
    newest_labeled: dict[str, float]  # source -> ingestion time of its newest labeled record
    accepted: dict[str, int]
    throughput: list[tuple[str, int, int]]  # (annotator, UTC day number, answers)
    question: str | None
    classes: dict[str, int]
    class_order: list[str]
    agreement: dict[str, Any] | None
    agreement_note: str | None
    history: list[dict[str, Any]]
    gold: list[dict[str, Any]]
    errors: dict[str, Any]
    drift: list[dict[str, Any]]
    learning: list[dict[str, Any]]
    read_s: float = 0.0


_snapshots: weakref.WeakKeyDictionary[Store, dict[int, _Snapshot]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Store, dict[int, threading.Lock]] = weakref.WeakKeyDictionary()
_refreshing: weakref.WeakKeyDictionary[Store, dict[int, threading.Thread]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def forget_snapshots(project: Project) -> None:
    """Drop the project's snapshot in this process (the next view reads the store again)."""
    with _guard:
        _snapshots.get(project.store, {}).pop(project.id, None)


def wait_for_refresh(project: Project, timeout: float = 60.0) -> None:
    """Wait until a background read of the project's snapshot (if one runs) has finished."""
    with _guard:
        thread = _refreshing.get(project.store, {}).get(project.id)
    if thread is not None:
        thread.join(timeout)


def _lock_of(project: Project) -> threading.Lock:
    with _guard:
        return _locks.setdefault(project.store, {}).setdefault(project.id, threading.Lock())


def _cached(project: Project) -> _Snapshot | None:
    with _guard:
        return _snapshots.get(project.store, {}).get(project.id)


def _read_and_keep(project: Project, fingerprint: tuple[Any, ...]) -> _Snapshot:
    with _lock_of(project):  # one read per project at a time; the others wait for it and reuse it
        known = _cached(project)
        if known is not None and known.fingerprint == fingerprint:
            return known
        started = time.perf_counter()
        fresh = _read(project, fingerprint)
        fresh.read_s = time.perf_counter() - started
        with _guard:
            _snapshots.setdefault(project.store, {})[project.id] = fresh
        return fresh


def _refresh_in_background(project: Project, fingerprint: tuple[Any, ...]) -> None:
    """Start reading the snapshot in a thread unless one is reading it already."""
    with _guard:
        running = _refreshing.setdefault(project.store, {})
        thread = running.get(project.id)
        if thread is not None and thread.is_alive():
            return

        def work() -> None:
            try:
                _read_and_keep(project, fingerprint)
            except Exception:  # the previous snapshot stays; the next view tries again
                logger.exception("reading the dashboard of project %s failed", project.name)

        thread = threading.Thread(target=work, name=f"dashboard-{project.name}", daemon=True)
        running[project.id] = thread
    thread.start()


def _snapshot(project: Project, refresh_s: float) -> tuple[_Snapshot, bool]:
    """The project's snapshot and whether it is older than the store (see the module docstring)."""
    with project.store.read() as conn:
        current = queries.fingerprint(conn, project.id)
    known = _cached(project)
    if known is not None and known.fingerprint == current:
        return known, False
    if known is not None and known.read_s >= SLOW_READ_S:
        if time.time() - known.computed_at >= refresh_s:
            _refresh_in_background(project, current)
        return known, True
    return _read_and_keep(project, current), False


def _read(project: Project, fingerprint: tuple[Any, ...]) -> _Snapshot:
    """Read every figure's facts from the store (see the module docstring for when this runs)."""
    computed_at = time.time()
    with project.store.read() as conn:
        names = repo.source_names(conn, project.id)
        users = repo.user_names(conn, project.id)
        groups = queries.task_groups(conn, project.id)
        latencies = queries.label_latencies(conn, project.id)
        queues = {
            "annotate": queries.entered_times(conn, project.id, "open"),
            "review": queries.review_backlog_times(conn, project.id),
            "adjudicate": queries.entered_times(conn, project.id, "adjudication"),
            "label errors": queries.open_flag_times(conn, project.id),
        }
        daily = queries.daily_answers(conn, project.id)
        adjudicated = queries.adjudicated_tasks(conn, project.id)
        accepted_ids = queries.accepted_by_source(conn, project.id)
        trained = queries.train_runs(conn, project.id)
        version = current_version(conn, project)
        counts = repo.get_counters(conn, project.id)
        question = main_question(version.schema) if version is not None and version.schema.questions else None
        label_rows = queries.final_label_counts(conn, project.id, question.name) if question is not None else []
    sources = [names[k] for k in sorted(names)]
    by_source: dict[str, dict[str, int]] = {s: {"tasks": 0, "labeled": 0, "at_overlap": 0} for s in sources}
    newest: dict[str, float] = {}
    tasks = {"tasks": 0, "at_overlap": 0, "complete": 0, "open": 0, "adjudication": 0, "gold": 0}
    for source_id, state, gold, at_overlap, n, newest_ingested in groups:
        if gold:  # gold items measure people; they stay open and are no one's backlog
            tasks["gold"] += n
            continue
        if state == "cancelled":
            continue
        source = names.get(source_id, str(source_id))
        per = by_source.setdefault(source, {"tasks": 0, "labeled": 0, "at_overlap": 0})
        tasks["tasks"] += n
        per["tasks"] += n
        if at_overlap:
            tasks["at_overlap"] += n
            per["at_overlap"] += n
        if state in ("open", "adjudication", "complete"):
            tasks[state] += n
        if state == "complete":
            per["labeled"] += n
            if newest_ingested is not None and newest_ingested > newest.get(source, -math.inf):
                newest[source] = newest_ingested
    tasks["adjudicated"] = adjudicated
    classes: dict[str, int] = {}
    order: list[str] = []
    if question is not None and version is not None:
        order = list(question.labels)
        for text, n in label_rows:
            value = orjson.loads(text)
            used = version.schema.labels_of({question.name: value}).get(question.name)
            if used is None:  # a rating or pairwise answer: its value is the class
                inner = next(iter(value.values()), None) if isinstance(value, dict) else value
                used = [] if inner is None else [str(inner)]
            for label in used:
                classes[label] = classes.get(label, 0) + n
                if label not in order:
                    order.append(label)
    agreed, note = _agreement(project, counts.get("annotations", 0))
    return _Snapshot(
        fingerprint=fingerprint,
        computed_at=computed_at,
        queues=queues,
        sources=sorted(set(sources) | set(by_source)),
        tasks=tasks,
        by_source=by_source,
        latency={names.get(k, str(k)): v for k, v in latencies.items()},
        newest_labeled=newest,
        accepted={names.get(k, str(k)): v for k, v in accepted_ids.items()},
        throughput=[(users.get(u, str(u)), d, n) for u, d, n in daily],
        question=None if question is None else question.name,
        classes=classes,
        class_order=order,
        agreement=agreed,
        agreement_note=note,
        history=_safe(lambda: agreement_history(project, limit=100), []),
        gold=_safe(lambda: gold_report(project), []),
        errors=_safe(lambda: error_types(project), {"by_code": {}, "by_label": {}, "by_annotator": {}, "reviews": 0}),
        drift=_safe(lambda: drift_history(project, limit=20), []),
        learning=_learning(project, trained),
    )


def _safe(read: Any, default: Any) -> Any:
    """A figure that cannot be computed yet (no schema published, say) is empty, not an error page."""
    try:
        return read()
    except LabelloopError:
        return default


def _agreement(project: Project, answers: int) -> tuple[dict[str, Any] | None, str | None]:
    """Agreement now (small projects) or the latest recorded figure, and a note saying which."""
    if answers <= LIVE_AGREEMENT_MAX:
        try:
            found = agreement(project, record=False, bootstrap=0, window="week")
        except LabelloopError as exc:
            return None, f"Agreement cannot be computed yet: {exc.message}."
        return {**found, "source": "now", "at": time.time()}, None
    recorded = _safe(lambda: agreement_history(project, limit=1), [])
    if not recorded:
        return None, (
            f"This project has {answers:,} answers: agreement is not computed on page views above "
            f"{LIVE_AGREEMENT_MAX:,}. Record it with `labelloop agreement` or the worker's agreement job."
        )
    last = recorded[0]
    when = datetime.fromtimestamp(float(last["at"]), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {**last, "source": "recorded"}, f"Agreement as recorded at {when} (not recomputed on page views)."


def _learning(project: Project, trained: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per release: its labels, and the test accuracy of the first model trained from it."""
    found = _safe(lambda: list_releases(project), [])
    by_release: dict[str, dict[str, Any]] = {}
    for run in reversed(trained):  # oldest first: the first model trained on a release
        name = run.get("trained_from")
        if isinstance(name, str) and name not in by_release and run.get("test_accuracy") is not None:
            by_release[name] = run
    out = []
    for release in found:
        run = by_release.get(str(release["name"]))
        out.append(
            {
                "name": release["name"],
                "created_at": release["created_at"],
                "records": int(release["records"]),
                "test_accuracy": None if run is None else run.get("test_accuracy"),
                "test_macro_f1": None if run is None else run.get("test_macro_f1"),
                "model_version": None if run is None else run.get("model_version"),
            }
        )
    return out


def _day_label(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def _throughput(snap: _Snapshot, now: float, people: bool) -> dict[str, Any]:
    today = math.floor(now / 86_400)
    days = list(range(today - THROUGHPUT_DAYS + 1, today + 1))
    index = {d: i for i, d in enumerate(days)}
    total = [0] * len(days)
    per: dict[str, list[int]] = {}
    for name, day, n in snap.throughput:
        at = index.get(day)
        if at is None:
            continue
        total[at] += n
        per.setdefault(name, [0] * len(days))[at] += n
    out: dict[str, Any] = {"days": [_day_label(d) for d in days], "total": total, "answers": sum(total)}
    if people:
        out["by_annotator"] = dict(sorted(per.items()))
        out["annotators"] = {k: sum(v) for k, v in sorted(per.items(), key=lambda kv: (-sum(kv[1]), kv[0]))}
    return out


def _latency(snap: _Snapshot) -> dict[str, Any]:
    def stats(values: np.ndarray) -> dict[str, Any]:
        return {"labels": len(values), "p50_s": percentile(values, 50), "p95_s": percentile(values, 95)}

    every = [v for v in snap.latency.values() if len(v)]
    overall = np.concatenate(every) if every else np.asarray([], dtype=np.float64)
    return {"overall": stats(overall), "by_source": {s: stats(snap.latency[s]) for s in sorted(snap.latency)}}


def _freshness(snap: _Snapshot, now: float) -> dict[str, Any]:
    by_source: dict[str, Any] = {}
    for source in snap.sources:
        newest = snap.newest_labeled.get(source)
        by_source[source] = {
            "newest_labeled_ingested_at": newest,
            "age_s": None if newest is None else max(0.0, now - newest),
        }
    ages = [v["age_s"] for v in by_source.values() if v["age_s"] is not None]
    return {"age_s": min(ages) if ages else None, "by_source": by_source}


def _backlog(snap: _Snapshot, now: float) -> list[dict[str, Any]]:
    out = []
    for queue, times in snap.queues.items():
        out.append(
            {
                "queue": queue,
                "items": len(times),
                "oldest_age_s": max(0.0, now - float(times[0])) if len(times) else None,
                "by_age": age_buckets(times, now),
            }
        )
    return out


def _coverage(snap: _Snapshot, targets: DashboardSpec) -> dict[str, Any]:
    """Coverage per class and per source, each against its target in ``dashboard:`` when one is set."""
    by_source = {}
    for source in snap.sources:
        labeled = snap.by_source.get(source, {}).get("labeled", 0)
        accepted = snap.accepted.get(source, 0)
        share = (labeled / accepted) if accepted else None
        wanted = targets.source_targets.get(source)
        by_source[source] = {
            "labeled": labeled,
            "accepted": accepted,
            "coverage": share,
            "target": wanted,
            "met": None if wanted is None else (share is not None and share >= wanted),
        }
    total = sum(snap.classes.values())
    by_class = {}
    for label in snap.class_order:
        n = snap.classes.get(label, 0)
        wanted_n = targets.class_targets.get(label)
        by_class[label] = {
            "labels": n,
            "share": (n / total) if total else None,
            "target": wanted_n,
            "met": None if wanted_n is None else n >= wanted_n,
            "missing": None if wanted_n is None else max(0, wanted_n - n),
        }
    configured = bool(targets.class_targets or targets.source_targets)
    return {
        "targets": {"classes": dict(targets.class_targets), "sources": dict(targets.source_targets)}
        if configured
        else None,
        "targets_note": None if configured else NO_TARGETS,
        "question": snap.question,
        "by_class": by_class,
        "final_labels": total,
        "by_source": by_source,
    }


def _completeness(snap: _Snapshot) -> dict[str, Any]:
    tasks = snap.tasks
    return {
        "tasks": tasks["tasks"],
        "at_overlap": tasks["at_overlap"],
        "share_at_overlap": (tasks["at_overlap"] / tasks["tasks"]) if tasks["tasks"] else None,
        "complete": tasks["complete"],
        "adjudicated": tasks["adjudicated"],
        "adjudicated_share": (tasks["adjudicated"] / tasks["complete"]) if tasks["complete"] else None,
        "gold_items": tasks["gold"],
    }


def _agreement_view(snap: _Snapshot, people: bool) -> dict[str, Any]:
    found = dict(snap.agreement) if snap.agreement is not None else None
    if found is not None and not people:
        found["per_annotator"] = None
        found["pairs"] = None
    history = [  # oldest first, for a trend line
        {"run_id": h["run_id"], "at": h["at"], "alpha": h.get("krippendorff_alpha"), "units": h.get("units")}
        for h in reversed(snap.history)
    ]
    return {"now": found, "note": snap.agreement_note, "history": history}


def _drift(snap: _Snapshot) -> dict[str, Any]:
    alerts: list[dict[str, Any]] = []
    runs = []
    for run in snap.drift:
        severities: dict[str, int] = defaultdict(int)
        for alert in run.get("alerts", []):
            severities[str(alert.get("severity", "alert"))] += 1
            alerts.append(
                {
                    "run_id": run["run_id"],
                    "at": run["at"],
                    "feature": alert.get("feature"),
                    "kind": alert.get("kind"),
                    "slice": alert.get("slice"),
                    "severity": alert.get("severity"),
                }
            )
        runs.append({"run_id": run["run_id"], "at": run["at"], "alerts": len(run.get("alerts", [])), **severities})
    return {"runs": list(reversed(runs)), "alerts": alerts[:50]}


def _errors(snap: _Snapshot, people: bool) -> dict[str, Any]:
    found = dict(snap.errors)
    if not people:
        found["by_annotator"] = None
    return found


def dashboard(
    project: Project, *, people: bool = False, now: float | None = None, refresh_s: float | None = None
) -> dict[str, Any]:
    """Every figure of the dashboard (see the module docstring), as plain data.

    Keys: ``counts`` (the API's ``/metrics`` figures, from counters), ``kpis`` (records, labeled,
    coverage, completeness, adjudicated share, freshness, latency p50/p95, α), ``backlog`` (per queue:
    items, oldest age, items per age bucket), ``throughput`` (answers per UTC day; per annotator with
    ``people``), ``latency`` (seconds from ingestion to label: p50/p95 overall and per source),
    ``coverage`` (final labels per class of the main question, labeled share per source; ``targets`` is
    None: none are configured), ``completeness``, ``freshness`` (age of the newest labeled record per
    source), ``agreement`` (``now``: the agreement figures, per annotator only with ``people``;
    ``history``: the recorded α), ``gold`` (per annotator with Wilson intervals; None without
    ``people``), ``errors`` (review outcomes per reason code and label; per annotator with ``people``),
    ``drift`` (recorded reports and their alerts), ``learning`` (per release: labels, and test accuracy
    where a worker's ``train`` run recorded it), ``as_of`` and ``stale`` (the snapshot's time, and
    whether newer data is waiting for the next refresh).
    """
    at = time.time() if now is None else now
    snap, stale = _snapshot(project, REFRESH_S if refresh_s is None else refresh_s)
    status = project_status(project)
    with project.store.read() as conn:
        counters = repo.get_counters(conn, project.id)
    latency = _latency(snap)
    freshness = _freshness(snap, at)
    completeness = _completeness(snap)
    agreed = _agreement_view(snap, people)
    alpha = agreed["now"]["krippendorff_alpha"] if agreed["now"] is not None else None
    counts = {
        "records": status["records"],
        "labeled": status["labeled"],
        "coverage": status["coverage"],
        "by_status": status["by_status"],
        "tasks": {
            "open": counters.get("tasks_open", 0),
            "complete": counters.get("tasks_complete", 0),
            "adjudication": counters.get("tasks_adjudication", 0),
            "total": counters.get("tasks", 0),
        },
        "annotations": counters.get("annotations", 0),
    }
    return {
        "project": project.name,
        "as_of": snap.computed_at,
        "stale": stale,
        "people": people,
        "counts": counts,
        "kpis": {
            "records": status["records"],
            "labeled": status["labeled"],
            "coverage": status["coverage"],
            "completeness": completeness["share_at_overlap"],
            "adjudicated_share": completeness["adjudicated_share"],
            "freshness_s": freshness["age_s"],
            "label_latency_p50_s": latency["overall"]["p50_s"],
            "label_latency_p95_s": latency["overall"]["p95_s"],
            "krippendorff_alpha": alpha,
        },
        "backlog": _backlog(snap, at),
        "throughput": _throughput(snap, at, people),
        "latency": latency,
        "coverage": _coverage(snap, project.config.dashboard),
        "completeness": completeness,
        "freshness": freshness,
        "agreement": agreed,
        "gold": snap.gold if people else None,
        "errors": _errors(snap, people),
        "drift": _drift(snap),
        "learning": {
            "releases": snap.learning,
            "note": None
            if any(r["test_accuracy"] is not None for r in snap.learning)
            else (
                "No model accuracy yet: train the baseline on a release with a test split (labelloop train, "
                "the API or the worker's train job) to draw the curve. Labels per release are shown."
            ),
        },
    }


def kpis(project: Project, *, now: float | None = None) -> dict[str, Any]:
    """The ``labelloop status`` KPIs with the labeling figures filled in from the dashboard's snapshot:
    ``completeness`` (share of tasks at their overlap), ``freshness_s`` (age of the newest labeled
    record), ``label_latency_p50_s`` / ``label_latency_p95_s`` (ingestion to label)."""
    status = project_status(project)
    at = time.time() if now is None else now
    snap, _ = _snapshot(project, REFRESH_S)
    latency = _latency(snap)
    status.update(
        completeness=_completeness(snap)["share_at_overlap"],
        freshness_s=_freshness(snap, at)["age_s"],
        label_latency_p50_s=latency["overall"]["p50_s"],
        label_latency_p95_s=latency["overall"]["p95_s"],
    )
    return status
