"""Run-level anomaly checks of a source against its own recent runs.

Each run of a source that read rows leaves its figures in ``run_stats``: rows
read, null share per declared field, a histogram of text lengths, the values
seen in categorical fields, the share of duplicates. At the end of the run
they are compared with the source's last ``history`` runs:

* ``volume``: rows read outside [median / f, median * f] of earlier runs;
* ``null_rate``: a field's null share rose by more than ``null_rate_jump``;
* ``length_shift``: population stability index of the text-length histogram
  (log2 bins) above ``length_psi`` (0.1 small, 0.25 large shift, the usual
  reading of PSI);
* ``new_values``: values of a categorical field never seen before;
* ``duplicate_share``: share of exact + near duplicates rose by more than
  ``duplicate_share_jump``.

No verdict is given before ``min_history`` earlier runs. An anomalous run is
marked (in ``run_stats``, the run's summary, ``labelloop status``); with
``action: hold`` its accepted records are held (``status=held``) until a
person releases or drops the run.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import Connection

from labelloop.config import AnomalySpec
from labelloop.store import repo

__all__ = ["RunStats", "evaluate", "finish_source_run"]

LENGTH_BINS = 24  # bin i holds lengths in [2^(i-1), 2^i); bin 0 holds empty texts
MAX_CATEGORIES = 1000


def _length_bin(n: int) -> int:
    return min(n.bit_length(), LENGTH_BINS - 1)


class RunStats:
    """Figures of one source's run, accumulated batch by batch from the stored rows."""

    def __init__(self, text_field: str | None, fields: Sequence[str], spec: AnomalySpec | None) -> None:
        self.text_field = text_field
        self.fields = list(fields)
        self.categorical = list(spec.categorical) if spec is not None else []
        self.reset()

    def reset(self) -> None:
        """Start a new run."""
        self.read = 0
        self.stored = 0
        self.duplicates = 0
        self.nulls: Counter[str] = Counter()
        self.lengths = [0] * LENGTH_BINS
        self.values: dict[str, set[str]] = {f: set() for f in self.categorical}

    def add(self, stored: pa.Table, counts: dict[str, Any]) -> None:
        """Account for one stored batch and its counts."""
        self.read += int(counts.get("read", 0))
        self.duplicates += int(counts.get("exact_duplicates", 0)) + int(counts.get("near_duplicates", 0))
        if not stored.num_rows:
            return
        self.stored += stored.num_rows
        fields, text_field, categorical = self.fields, self.text_field, self.categorical
        lengths, nulls, values = self.lengths, self.nulls, self.values
        for payload in stored["payload"].to_pylist():
            record = orjson.loads(payload) if payload else {}
            for name in fields:
                if record.get(name) is None:
                    nulls[name] += 1
            if text_field is not None:
                text = record.get(text_field)
                lengths[_length_bin(len(text) if isinstance(text, str) else 0)] += 1
            for name in categorical:
                value = record.get(name)
                seen = values[name]
                if value is not None and len(seen) < MAX_CATEGORIES:
                    seen.add(str(value)[:200])

    def snapshot(self) -> dict[str, Any]:
        """The run's figures as stored in ``run_stats.stats``."""
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "nulls": dict(self.nulls),
            "fields": self.fields,
            "lengths": self.lengths,
            "values": {k: sorted(v) for k, v in self.values.items()},
        }


def _psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two histograms (smoothed so empty bins stay finite)."""
    e_total, a_total = sum(expected), sum(actual)
    if not e_total or not a_total:
        return 0.0
    eps = 1e-4
    psi = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa_ = max(e / e_total, eps), max(a / a_total, eps)
        psi += (pa_ - pe) * math.log(pa_ / pe)
    return psi


def evaluate(current: dict[str, Any], history: Sequence[dict[str, Any]], spec: AnomalySpec) -> list[dict[str, Any]]:
    """The anomalies of ``current`` against earlier runs' ``history`` (newest first). Pure."""
    if len(history) < spec.min_history:
        return []
    found: list[dict[str, Any]] = []
    median = statistics.median(h["read"] for h in history)
    read = current["read"]
    if median > 0 and (read < median / spec.volume_factor or read > median * spec.volume_factor):
        found.append(
            {
                "check": "volume",
                "value": read,
                "norm": median,
                "message": f"{read} rows read; the last {len(history)} runs had a median of {median:g}",
            }
        )
    stored = current["stored"]
    if stored >= spec.min_rows:
        rated = [h for h in history if h["stored"] > 0]
        for name in current["fields"]:
            rate = current["nulls"].get(name, 0) / stored
            if not rated:
                break
            norm = statistics.fmean(h["nulls"].get(name, 0) / h["stored"] for h in rated)
            if rate - norm > spec.null_rate_jump:
                found.append(
                    {
                        "check": "null_rate",
                        "field": name,
                        "value": round(rate, 4),
                        "norm": round(norm, 4),
                        "message": f"field '{name}' is empty in {rate:.0%} of rows (usually {norm:.0%})",
                    }
                )
        past = [sum(h["lengths"][i] for h in history) for i in range(LENGTH_BINS)]
        psi = _psi(past, current["lengths"])
        if psi > spec.length_psi:
            found.append(
                {
                    "check": "length_shift",
                    "value": round(psi, 4),
                    "norm": spec.length_psi,
                    "message": f"text lengths shifted (PSI {psi:.2f} > {spec.length_psi:g})",
                }
            )
        shares = [h["duplicates"] / h["read"] for h in history if h["read"]]
        share = current["duplicates"] / read if read else 0.0
        if shares:
            norm = statistics.fmean(shares)
            if share - norm > spec.duplicate_share_jump:
                found.append(
                    {
                        "check": "duplicate_share",
                        "value": round(share, 4),
                        "norm": round(norm, 4),
                        "message": f"{share:.0%} of rows are duplicates (usually {norm:.0%})",
                    }
                )
    for name, values in current["values"].items():
        known: set[str] = set()
        for h in history:
            known.update(h["values"].get(name, []))
        new = sorted(set(values) - known)
        if new:
            shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
            found.append(
                {
                    "check": "new_values",
                    "field": name,
                    "value": len(new),
                    "values": new[:50],
                    "message": f"field '{name}' has {len(new)} new value(s): {shown}",
                }
            )
    return found


def finish_source_run(
    conn: Connection, project_id: int, source_id: int, run_id: int, stats: RunStats, spec: AnomalySpec
) -> dict[str, Any] | None:
    """Store the run's figures, check them against history, hold the run when configured.

    Returns ``{"anomalies": [...], "held": n}`` or None when the run read nothing.
    """
    current = stats.snapshot()
    stats.reset()
    if current["read"] == 0:
        return None
    history = repo.recent_run_stats(conn, source_id, spec.history)
    anomalies = evaluate(current, history, spec)
    held = 0
    if anomalies and spec.action == "hold":
        held = repo.hold_run_records(conn, project_id, source_id, run_id)
        if held:
            repo.add_counters(conn, project_id, {"accepted": -held, "held": held})
    repo.add_run_stats(conn, project_id, source_id, run_id, current, anomalies, held=held > 0)
    return {"anomalies": anomalies, "held": held}
