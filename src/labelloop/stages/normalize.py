"""Stage 0: raw rows from a source -> the normalized batch table.

It is the only stage whose input is not a table: rows from files and HTTP are
heterogeneous dicts (or unreadable bytes). It validates each row against the
record schema with :func:`labelloop.domain.records.normalize_record`, and
builds the :data:`~labelloop.stages.base.BATCH_SCHEMA` table column by column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from labelloop.domain.records import RecordNormalizer, RecordShape, Rejection
from labelloop.stages.base import BATCH_SCHEMA, REJECT_SCHEMA

__all__ = ["NormalizeResult", "NormalizeStage"]


@dataclass
class NormalizeResult:
    """The normalized batch, the rejected rows, and the batch's counts.

    After the content stages (:mod:`labelloop.stages.chain`) ran on it, ``chained``
    is set, ``dropped`` holds the payload-free events of records not stored and
    ``stages`` the per-stage counts.
    """

    kept: pa.Table
    rejected: pa.Table
    counts: dict[str, int] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    chained: bool = False
    #: The payloads of ``kept`` as dicts (same order), for the content stages; not sent between processes.
    records: list[dict[str, Any]] | None = None


class NormalizeStage:
    """Validate, coerce and canonicalize rows; hash their content."""

    name = "normalize"
    version = "1"

    def __init__(self, shape: RecordShape) -> None:
        self.shape = shape
        self.normalizer = RecordNormalizer(shape)

    @property
    def params(self) -> Mapping[str, Any]:
        """The record shape this stage enforces."""
        shape = self.shape
        return {
            "fields": {k: {"type": v.type, "required": v.required} for k, v in shape.fields.items()},
            "id_field": shape.id_field,
            "text_field": shape.text_field,
            "extra_fields": shape.extra_fields,
            "hash_exclude": sorted(shape.hash_exclude),
            "unicode": "NFC",
            "hash": "blake2b-128",
        }

    def process_rows(
        self, rows: Sequence[Sequence[Any]], *, keyed_by_hash: bool = False, line_keys: bool = False
    ) -> NormalizeResult:
        """Normalize raw rows into the batch table and the rejected rows.

        A row's source key is its external id when it has one; otherwise the
        content hash with ``keyed_by_hash`` (pushed rows), ``<file>:<line>`` with
        ``line_keys`` (rows of a file), or the reader's key (a document).

        Each row is a sequence ``(key, position, line, data, raw, reason, message)``
        (``labelloop.ingest.sources.RawRow``): ``data`` is the parsed dict, or None
        with ``raw``, ``reason`` and ``message`` for a row the reader could not parse.
        """
        normalize = self.normalizer.fields
        good: list[tuple[Any, ...]] = []
        bad: list[tuple[Any, ...]] = []
        records: list[dict[str, Any]] = []
        for key, position, line, data, raw, reason, message in rows:
            if data is not None:
                out = normalize(data)
                if not isinstance(out, Rejection):
                    payload, digest, external, subject, consent, event_time, record = out
                    records.append(record)
                    if external is not None:
                        key = external
                    elif keyed_by_hash:
                        key = digest.hex()
                    elif line_keys:
                        key = f"{key}:{line}"
                    good.append((key, external, digest, subject, consent, event_time, payload, position, line))
                    continue
                reason, message = out.reason, out.message
                raw = bytes(memoryview(orjson.dumps(data, default=str)))  # exact-size copy
            bad.append((f"{key}:{line}" if line_keys else key, position, line, raw, str(reason or ""), message or ""))
        n = len(good)
        # One transpose in C instead of nine list appends a row.
        cols: list[Any] = list(zip(*good, strict=True)) if good else [()] * 9
        kept = pa.table(
            [
                pa.nulls(n, pa.int64()),
                pa.array(cols[0], pa.string()),
                pa.array(cols[1], pa.string()),
                pa.array(cols[2], pa.binary(16)),
                pa.array(cols[3], pa.string()),
                pa.array(cols[4], pa.string()),
                pa.array(cols[5], pa.float64()),
                pa.array(cols[6], pa.string()),
                pa.array(cols[7], pa.int64()),
                pa.array(cols[8], pa.int64()),
                pa.array(["accepted"] * n, pa.string()),
                pa.nulls(n, pa.int64()),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.float64()),
                pa.nulls(n, pa.string()),
            ],
            schema=BATCH_SCHEMA,
        )
        bcols: list[Any] = list(zip(*bad, strict=True)) if bad else [()] * 6
        rejected = pa.table([list(c) for c in bcols], schema=REJECT_SCHEMA)
        return NormalizeResult(kept, rejected, {"read": len(rows), "quarantined": len(bad)}, records=records)
