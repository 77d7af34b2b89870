"""Data-health figures of a project, read from counters kept with the writes."""

from __future__ import annotations

import time
from typing import Any

import orjson

from labelloop.project import Project
from labelloop.store import repo

__all__ = ["project_status"]


def project_status(project: Project) -> dict[str, Any]:
    """The KPIs of ``labelloop status``.

    ``records`` counts live records (accepted, duplicates, near-duplicates); the
    labeling figures are 0 or null until the labeling workflow records labels
    (null means "not measurable yet", never a made-up value).
    """
    with project.store.read() as conn:
        counts = repo.get_counters(conn, project.id)
        runs = repo.last_runs(conn, project.id, limit=1)
        anomalies = repo.run_anomalies(conn, project.id, limit=10)
        paused = repo.paused_users(conn, project.id)
    by_status = {
        "accepted": counts.get("accepted", 0),
        "duplicate": counts.get("duplicate", 0),
        "near_duplicate": counts.get("near_duplicate", 0),
        "quarantined": counts.get("quarantined", 0),
        "deleted": counts.get("deleted", 0),
        "held": counts.get("held", 0),
        "withdrawn": counts.get("withdrawn", 0),
    }
    records = by_status["accepted"] + by_status["duplicate"] + by_status["near_duplicate"]
    labeled = counts.get("labeled", 0)
    last = runs[0] if runs else None
    return {
        "project": project.name,
        "records": records,
        "labeled": labeled,
        "coverage": (labeled / by_status["accepted"]) if by_status["accepted"] else 0.0,
        "completeness": None,
        "freshness_s": None,
        "label_latency_p50_s": None,
        "label_latency_p95_s": None,
        "by_status": by_status,
        "rows_read": counts.get("rows_read", 0),
        "health": {
            "redacted": counts.get("redacted", 0),
            "flagged": counts.get("flagged", 0),
            "consent_dropped": counts.get("consent_dropped", 0),
            "pii_dropped": counts.get("pii_dropped", 0),
        },
        "anomalies": anomalies,
        "paused_annotators": paused,
        "last_run": None
        if last is None
        else {
            "run_id": last["id"],
            "status": last["status"],
            "started_at": last["started_at"],
            "age_s": round(time.time() - last["started_at"], 1),
            "counts": orjson.loads(last["counts"]) if last["counts"] else None,
            "error": last["error"],
        },
    }
