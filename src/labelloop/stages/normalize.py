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

from labelloop.domain.reasons import Reason
from labelloop.domain.records import RecordShape, Rejection, normalize_record
from labelloop.stages.base import BATCH_SCHEMA, REJECT_SCHEMA

__all__ = ["NormalizeResult", "NormalizeStage"]


@dataclass
class NormalizeResult:
    """The normalized batch, the rejected rows, and the batch's counts."""

    kept: pa.Table
    rejected: pa.Table
    counts: dict[str, int] = field(default_factory=dict)


class NormalizeStage:
    """Validate, coerce and canonicalize rows; hash their content."""

    name = "normalize"
    version = "1"

    def __init__(self, shape: RecordShape) -> None:
        self.shape = shape

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
        shape = self.shape
        keys: list[str] = []
        ext: list[str | None] = []
        hashes: list[bytes] = []
        subjects: list[str | None] = []
        consents: list[str | None] = []
        times: list[float | None] = []
        payloads: list[str] = []
        positions: list[int] = []
        lines: list[int] = []
        bad_key: list[str] = []
        bad_pos: list[int] = []
        bad_line: list[int] = []
        bad_raw: list[bytes | None] = []
        bad_reason: list[str] = []
        bad_msg: list[str] = []
        for key, position, line, data, raw, reason, message in rows:
            if data is not None:
                out = normalize_record(data, shape)
                if not isinstance(out, Rejection):
                    external = out.external_id
                    if external is not None:
                        key = external
                    elif keyed_by_hash:
                        key = out.content_hash.hex()
                    elif line_keys:
                        key = f"{key}:{line}"
                    keys.append(key)
                    ext.append(external)
                    hashes.append(out.content_hash)
                    subjects.append(out.subject_id)
                    consents.append(None if out.consent is None else out.consent.decode())
                    times.append(out.event_time)
                    payloads.append(out.payload.decode())
                    positions.append(position)
                    lines.append(line)
                    continue
                reason, message = out.reason, out.message
                raw = orjson.dumps(data, default=str)
            bad_key.append(f"{key}:{line}" if line_keys else key)
            bad_pos.append(position)
            bad_line.append(line)
            bad_raw.append(raw)
            bad_reason.append(str(reason or Reason.INVALID_JSON))
            bad_msg.append(message or "")
        n = len(keys)
        kept = pa.table(
            [
                pa.nulls(n, pa.int64()),
                pa.array(keys, pa.string()),
                pa.array(ext, pa.string()),
                pa.array(hashes, pa.binary(16)),
                pa.array(subjects, pa.string()),
                pa.array(consents, pa.string()),
                pa.array(times, pa.float64()),
                pa.array(payloads, pa.string()),
                pa.array(positions, pa.int64()),
                pa.array(lines, pa.int64()),
                pa.array(["accepted"] * n, pa.string()),
                pa.nulls(n, pa.int64()),
            ],
            schema=BATCH_SCHEMA,
        )
        rejected = pa.table([bad_key, bad_pos, bad_line, bad_raw, bad_reason, bad_msg], schema=REJECT_SCHEMA)
        return NormalizeResult(kept, rejected, {"read": len(rows), "quarantined": len(bad_key)})
