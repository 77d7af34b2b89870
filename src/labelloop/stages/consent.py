"""Consent: a record is stored only when its data subject agreed to the required purposes.

The purposes come from the record's ``consent_field`` (normalized to a sorted
JSON list). A record missing a required purpose is dropped — not stored, a
lineage event without payload says so — or quarantined, as configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.stages.row import RowState, Verdict

__all__ = ["ConsentStage"]

CONSENT_MISSING = "consent_missing"


class ConsentStage:
    """Keep records whose subject consented to every required purpose."""

    name = "consent"
    version = "1"

    def __init__(self, required: Sequence[str], action: str = "drop") -> None:
        if action not in ("drop", "quarantine"):
            raise ValueError(f"consent action must be drop or quarantine, not {action!r}")
        self.required = tuple(sorted(set(required)))
        self.action = action

    @property
    def params(self) -> Mapping[str, Any]:
        """Required purposes and the action for records without them."""
        return {"required": list(self.required), "action": self.action}

    def apply(self, row: RowState) -> None:
        """Set a verdict on ``row`` when a required purpose is missing."""
        given = set(row.consent or ())
        missing = [p for p in self.required if p not in given]
        if not missing:
            return
        message = f"no consent for {', '.join(missing)}" + ("" if row.consent else " (the record states no consent)")
        row.verdict = Verdict(self.action, CONSENT_MISSING, message, self.name, {"missing": missing})
