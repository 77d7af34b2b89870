"""The difference between two releases: records added, removed and relabeled. Pure: it merges two
streams of rows sorted by record id, so it holds neither release in memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

__all__ = ["DiffRow", "ReleaseDiff", "diff_rows"]


class DiffRow(NamedTuple):
    """One release row as a diff sees it: ``labels`` is the JSON text ``{question: value}``."""

    record_id: int
    external_id: str | None
    label: str | None
    labels: str
    split: str


@dataclass
class ReleaseDiff:
    """Counts per class and (up to a limit) the items themselves."""

    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    relabeled: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    added_by_class: Counter[str] = field(default_factory=Counter)
    removed_by_class: Counter[str] = field(default_factory=Counter)
    relabeled_by_class: Counter[str] = field(default_factory=Counter)
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON form: ``added``, ``removed``, ``relabeled`` (item lists), ``counts``, ``by_class``, ``truncated``."""
        return {
            "added": self.added,
            "removed": self.removed,
            "relabeled": self.relabeled,
            "counts": {k: self.counts[k] for k in ("added", "removed", "relabeled", "unchanged")},
            "by_class": {
                "added": dict(sorted(self.added_by_class.items())),
                "removed": dict(sorted(self.removed_by_class.items())),
                "relabeled": dict(sorted(self.relabeled_by_class.items())),
            },
            "truncated": self.truncated,
        }


def _key(label: str | None) -> str:
    return "(none)" if label is None else label


def _item(row: DiffRow) -> dict[str, Any]:
    return {
        "record_id": row.record_id,
        "external_id": row.external_id,
        "label": row.label,
        "labels": orjson.loads(row.labels),
        "split": row.split,
    }


def _next(it: Iterator[DiffRow]) -> DiffRow | None:
    return next(it, None)


def diff_rows(old: Iterable[DiffRow], new: Iterable[DiffRow], *, limit: int | None = None) -> ReleaseDiff:
    """What changed from ``old`` to ``new`` (both ascending by record id).

    Added: in ``new`` only; removed: in ``old`` only; relabeled: in both with different final
    labels on any question (items carry ``old`` and ``new`` labels). ``limit`` caps each item
    list (counts are always complete; ``truncated`` says whether a list was cut).
    """
    result = ReleaseDiff()
    a_it, b_it = iter(old), iter(new)
    a, b = _next(a_it), _next(b_it)

    def keep(items: list[dict[str, Any]], item: dict[str, Any] | None = None, row: DiffRow | None = None) -> None:
        if limit is not None and len(items) >= limit:
            result.truncated = True
            return
        items.append(item if item is not None else _item(row))  # type: ignore[arg-type]

    while a is not None or b is not None:
        if b is None or (a is not None and a.record_id < b.record_id):
            assert a is not None
            result.counts["removed"] += 1
            result.removed_by_class[_key(a.label)] += 1
            keep(result.removed, row=a)
            a = _next(a_it)
        elif a is None or b.record_id < a.record_id:
            result.counts["added"] += 1
            result.added_by_class[_key(b.label)] += 1
            keep(result.added, row=b)
            b = _next(b_it)
        else:
            if a.labels != b.labels:
                result.counts["relabeled"] += 1
                result.relabeled_by_class[f"{_key(a.label)} -> {_key(b.label)}"] += 1
                keep(
                    result.relabeled,
                    {
                        "record_id": b.record_id,
                        "external_id": b.external_id,
                        "old": {"label": a.label, "labels": orjson.loads(a.labels)},
                        "new": {"label": b.label, "labels": orjson.loads(b.labels)},
                        "split": b.split,
                    },
                )
            else:
                result.counts["unchanged"] += 1
            a, b = _next(a_it), _next(b_it)
    return result
