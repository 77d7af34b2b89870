"""The content stages between normalization and the store: PII, consent, rules.

They run on the normalized batch, one row at a time over its parsed payload
(parsed once, shared by the three), in a fixed order:

1. ``pii`` first, so nothing later can store a raw value: the rows it or a
   later stage quarantines are kept in redacted form;
2. ``consent``: records without the required purposes are dropped or held;
3. ``rules``: quality gates quarantine or flag.

The chain is pure and picklable (built from the record shape, the stage
settings and the HMAC key), so it runs in the helper process that reads and
normalizes a large file, in parallel with the writer. Stages that need the
store (exact and near-duplicate detection) run after it, in the writer's
transaction.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from labelloop.config import StagesSpec
from labelloop.domain.records import HASH_BYTES, RecordShape
from labelloop.domain.rules import rule_from_mapping
from labelloop.stages.base import BATCH_SCHEMA, REJECT_SCHEMA, describe
from labelloop.stages.consent import ConsentStage
from labelloop.stages.pii import PiiStage
from labelloop.stages.row import RowState
from labelloop.stages.rules import RulesStage

__all__ = ["ChainResult", "PreStoreChain"]


@dataclass
class ChainResult:
    """What the chain made of a normalized batch.

    ``dropped`` holds one payload-free lineage event per record that is not
    stored (consent, PII ``drop_record``); ``counts`` the run-summary counts and
    ``stages`` the per-stage ones.
    """

    kept: pa.Table
    rejected: pa.Table
    dropped: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


class PreStoreChain:
    """PII, consent and rules stages as configured for one source."""

    def __init__(self, shape: RecordShape, stages: StagesSpec, hmac_key: bytes | None = None) -> None:
        self.shape = shape
        self.pii: PiiStage | None = None
        if stages.pii is not None:
            self.pii = PiiStage.from_spec(stages.pii, hmac_key)
        self.consent = (
            ConsentStage(stages.consent.required, stages.consent.action) if stages.consent is not None else None
        )
        self.rules = (
            RulesStage([rule_from_mapping(r.model_dump(exclude_defaults=True)) for r in stages.rules])
            if stages.rules
            else None
        )
        self.stages: list[PiiStage | ConsentStage | RulesStage] = [
            s for s in (self.pii, self.consent, self.rules) if s is not None
        ]

    def describe(self) -> list[dict[str, Any]]:
        """Name, version and parameters of each stage, for lineage."""
        return [describe(stage) for stage in self.stages]

    def process(self, kept: pa.Table, rejected: pa.Table, records: list[dict[str, Any]] | None = None) -> ChainResult:
        """Run the stages over a normalized batch and its rejected rows.

        ``records``, when given, are the payloads of ``kept`` already parsed (they are changed in place).
        """
        if self.pii is not None and rejected.num_rows:
            rejected = self._mask_rejected(rejected)
        if not self.stages or not kept.num_rows:
            return ChainResult(kept, rejected)
        shape = self.shape
        payloads = kept["payload"].to_pylist()
        externals = kept["external_id"].to_pylist()
        subjects = kept["subject_id"].to_pylist()
        consents = kept["consent"].to_pylist()
        keys = kept["source_key"].to_pylist()
        hashes = kept["content_hash"].to_pylist()
        positions = kept["position"].to_pylist()
        lines = kept["line"].to_pylist()
        flags_col: list[str | None] = kept["flags"].to_pylist()
        notes_col: list[str | None] = kept["notes"].to_pylist()
        keep = [True] * len(payloads)
        bad: list[tuple[Any, ...]] = []
        dropped: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        per_stage: dict[str, Counter[str]] = {s.name: Counter() for s in self.stages}
        loads, dumps, sort_keys = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
        parsed = records if records is not None and len(records) == len(payloads) else [loads(p) for p in payloads]
        for i, record in enumerate(parsed):
            consent = consents[i]
            row = RowState(record, externals[i], subjects[i], loads(consent) if consent else None)
            for stage in self.stages:
                stage.apply(row)
                if row.verdict is not None:
                    break
            verdict = row.verdict
            if verdict is not None:
                keep[i] = False
                tally = per_stage[verdict.stage]
                if verdict.action == "drop":
                    tally["dropped"] += 1
                    counts["consent_dropped" if verdict.stage == "consent" else "pii_dropped"] += 1
                    dropped.append(
                        {
                            "kind": verdict.reason,
                            "stage": verdict.stage,
                            "stage_version": _version(self.stages, verdict.stage),
                            "details": {"position": positions[i], "line": lines[i], **verdict.details},
                        }
                    )
                else:
                    tally["quarantined"] += 1
                    tally[f"reason:{verdict.reason}"] += 1
                    key = keys[i]
                    if key == externals[i] and row.external_id != externals[i]:
                        key = row.external_id  # the key was an id holding personal data
                    bad.append((key, positions[i], lines[i], self._record_json(row), verdict.reason, verdict.message))
                continue
            if row.changed:
                encoded = dumps(row.payload, option=sort_keys)
                payloads[i] = encoded.decode()
                hashed = encoded
                if shape.hash_exclude:
                    hashed = dumps(
                        {k: v for k, v in row.payload.items() if k not in shape.hash_exclude}, option=sort_keys
                    )
                before = hashes[i]
                hashes[i] = hashlib.blake2b(hashed, digest_size=HASH_BYTES).digest()
                if keys[i] == externals[i] and row.external_id != externals[i]:
                    keys[i] = row.external_id
                elif externals[i] is None and keys[i] == before.hex():
                    keys[i] = hashes[i].hex()  # a pushed row keyed by content: by the stored content
                externals[i] = row.external_id
                subjects[i] = row.subject_id
            if row.flags:
                flags_col[i] = dumps(row.flags).decode()
                counts["flagged"] += 1
                for flag in row.flags:
                    per_stage[flag["by"]]["flagged"] += 1
            if row.notes:
                notes_col[i] = dumps(row.notes).decode()
                for note in row.notes:
                    if note["kind"] == "redacted":
                        counts["redacted"] += 1
                        for entity, n in note["details"]["entities"].items():
                            per_stage["pii"][f"entity:{entity}"] += n
        out = kept
        if not all(keep):
            mask = pa.array(keep)
            filtered = {
                "source_key": [k for k, ok in zip(keys, keep, strict=True) if ok],
                "external_id": [k for k, ok in zip(externals, keep, strict=True) if ok],
                "subject_id": [k for k, ok in zip(subjects, keep, strict=True) if ok],
                "content_hash": [k for k, ok in zip(hashes, keep, strict=True) if ok],
                "payload": [k for k, ok in zip(payloads, keep, strict=True) if ok],
                "flags": [k for k, ok in zip(flags_col, keep, strict=True) if ok],
                "notes": [k for k, ok in zip(notes_col, keep, strict=True) if ok],
            }
            out = kept.filter(mask)
        else:
            filtered = {
                "source_key": keys,
                "external_id": externals,
                "subject_id": subjects,
                "content_hash": hashes,
                "payload": payloads,
                "flags": flags_col,
                "notes": notes_col,
            }
        arrays = {name: pa.array(values, BATCH_SCHEMA.field(name).type) for name, values in filtered.items()}
        out = pa.table([arrays.get(f.name, out[f.name]) for f in BATCH_SCHEMA], schema=BATCH_SCHEMA)
        if bad:
            extra = pa.table([list(c) for c in zip(*bad, strict=True)], schema=REJECT_SCHEMA)
            rejected = pa.concat_tables([rejected, extra]) if rejected.num_rows else extra
        counts["quarantined"] = len(bad)
        stages = {name: _nest(tally) for name, tally in per_stage.items()}
        return ChainResult(out, rejected, dropped, dict(counts), stages)

    def _record_json(self, row: RowState) -> bytes:
        """The whole record (roles included), so that a person can release it through the same path."""
        shape = self.shape
        record: dict[str, Any] = dict(row.payload)
        if shape.id_field and row.external_id is not None:
            record[shape.id_field] = row.external_id
        if shape.subject_field and row.subject_id is not None:
            record[shape.subject_field] = row.subject_id
        if shape.consent_field and row.consent is not None:
            record[shape.consent_field] = row.consent
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)

    def _mask_rejected(self, rejected: pa.Table) -> pa.Table:
        pii = self.pii
        assert pii is not None
        raws = [pii.mask_raw(raw) for raw in rejected["raw"].to_pylist()]
        messages = [pii.mask_text(m or "") for m in rejected["message"].to_pylist()]
        keys = [pii.mask_text(k) if k else k for k in rejected["source_key"].to_pylist()]
        return (
            rejected.set_column(REJECT_SCHEMA.get_field_index("raw"), "raw", pa.array(raws, pa.binary()))
            .set_column(REJECT_SCHEMA.get_field_index("message"), "message", pa.array(messages, pa.string()))
            .set_column(REJECT_SCHEMA.get_field_index("source_key"), "source_key", pa.array(keys, pa.string()))
        )


def _version(stages: list[PiiStage | ConsentStage | RulesStage], name: str) -> str:
    return next(s.version for s in stages if s.name == name)


def _nest(tally: Mapping[str, int]) -> dict[str, Any]:
    """``{"reason:x": 1, "dropped": 2}`` -> ``{"reasons": {"x": 1}, "dropped": 2}``."""
    out: dict[str, Any] = {}
    for key, value in sorted(tally.items()):
        if ":" in key:
            group, name = key.split(":", 1)
            out.setdefault({"reason": "reasons", "entity": "entities"}[group], {})[name] = value
        else:
            out[key] = value
    return out
