"""The per-row view that the content stages (PII, consent, rules) share inside one batch.

Those stages look at one record at a time and at its parsed payload; parsing
the canonical JSON once per row and handing the same :class:`RowState` from
stage to stage is what keeps the chain cheap (see :mod:`labelloop.stages.chain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RowState", "Verdict"]


@dataclass(slots=True)
class Verdict:
    """A stage's decision to take a row out of the batch.

    ``action`` is ``"drop"`` (not stored; only a payload-free lineage event is
    kept) or ``"quarantine"`` (held for a person with ``reason`` and ``message``).
    """

    action: str
    reason: str
    message: str
    stage: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RowState:
    """One record between normalization and the store."""

    payload: dict[str, Any]
    external_id: str | None
    subject_id: str | None
    consent: list[str] | None
    flags: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False
    verdict: Verdict | None = None
