"""Declarative row rules (quality gates) from ``labelloop.yaml``.

Each rule checks one field (required, type, length, range, allowed values,
regex, language, empty text, markup or binary share) with a severity:
``quarantine`` holds the row for a person with the first failing check as its
reason; ``flag`` stores the record with the flag recorded and filterable
(``labelloop records --flag CODE``). Messages never quote the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labelloop.domain.rules import Rule, RuleSet
from labelloop.stages.row import RowState, Verdict

__all__ = ["RulesStage"]


class RulesStage:
    """Check every row against the rules; quarantine or flag violations."""

    name = "rules"
    version = "1"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self.ruleset = RuleSet(self.rules)

    @property
    def params(self) -> Mapping[str, Any]:
        """The rules, as configured."""
        return {"rules": [rule.as_params() for rule in self.rules]}

    def apply(self, row: RowState) -> None:
        """Flag ``row`` or set a quarantine verdict for its violations."""
        violations = self.ruleset.check(row.payload)
        if not violations:
            return
        held = [v for v in violations if v.severity == "quarantine"]
        if held:
            row.verdict = Verdict(
                "quarantine",
                held[0].code,
                "; ".join(v.message for v in held),
                self.name,
                {"rules": [v.rule for v in held], "codes": [v.code for v in held]},
            )
            return
        for v in violations:
            row.flags.append({"code": v.code, "by": self.name, "rule": v.rule})
