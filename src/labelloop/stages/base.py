"""The stage contract.

A stage has a ``name``, a ``version`` and frozen ``params`` (recorded in lineage
so a release says exactly how it was made) and one method, :meth:`Stage.process`,
over a batch: a ``pyarrow.Table`` with the columns of :data:`BATCH_SCHEMA`. It
returns what it keeps, what it rejects (each row with a reason code and a
message) and the per-record lineage events it adds. What a stage must remember
between batches (a dedup index, running statistics) lives in the state object
it is given, never in the stage, so a stage runs the same in-process or on a
worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

__all__ = ["BATCH_SCHEMA", "REJECT_SCHEMA", "LineageEvent", "Stage", "StageResult", "describe", "set_columns"]

#: The columns every batch carries between stages.
BATCH_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("source_key", pa.string()),
        ("external_id", pa.string()),
        ("content_hash", pa.binary(16)),
        ("subject_id", pa.string()),
        ("consent", pa.string()),
        ("event_time", pa.float64()),
        ("payload", pa.string()),
        ("position", pa.int64()),
        ("line", pa.int64()),
        ("status", pa.string()),
        ("duplicate_of", pa.int64()),
        # JSON list of flags ({"code", "by"}) for a record stored despite them; null: none.
        ("flags", pa.string()),
        # Near-duplicates: Jaccard similarity to ``duplicate_of``.
        ("similarity", pa.float64()),
        # JSON list of lineage events ({"kind", "stage", "stage_version", "details"}) that
        # stages before the store noted for the row; they get the record id when it is stored.
        ("notes", pa.string()),
    ]
)

#: Rows a stage (or a reader) rejects: where they came from, the raw bytes, why.
REJECT_SCHEMA = pa.schema(
    [
        ("source_key", pa.string()),
        ("position", pa.int64()),
        ("line", pa.int64()),
        ("raw", pa.binary()),
        ("reason", pa.string()),
        ("message", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class LineageEvent:
    """Something that happened to one record, for the append-only lineage log."""

    record_id: int
    kind: str
    stage: str
    stage_version: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class StageResult:
    """What a stage made of a batch."""

    kept: pa.Table
    rejected: pa.Table
    events: list[LineageEvent] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class Stage(Protocol):
    """A named, versioned step over a batch."""

    name: str
    version: str

    @property
    def params(self) -> Mapping[str, Any]:
        """The frozen parameters, as recorded in lineage."""
        ...

    def process(self, batch: pa.Table, state: Any) -> StageResult:
        """Process one batch of :data:`BATCH_SCHEMA` rows with the stage's ``state``."""
        ...


class Described(Protocol):
    """Anything with a stage's name, version and parameters."""

    name: str
    version: str

    @property
    def params(self) -> Mapping[str, Any]:
        """The frozen parameters."""
        ...


def describe(stage: Described) -> dict[str, Any]:
    """The lineage description of a stage: name, version, parameters."""
    return {"name": stage.name, "version": stage.version, "params": dict(stage.params)}


def set_columns(table: pa.Table, **columns: Any) -> pa.Table:
    """``table`` with the named columns replaced (values as lists or arrays of their declared type)."""
    for name, values in columns.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    return table


def empty_rejects() -> pa.Table:
    """A rejected-rows table with no rows."""
    return REJECT_SCHEMA.empty_table()
