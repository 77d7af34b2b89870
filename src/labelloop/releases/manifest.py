"""A release's rows, their hashes and the manifest hash: pure functions, no I/O.

A release row is one record with its final labels, its split and its lineage; an exported file
has the columns :data:`COLUMNS`. A row's hash covers the columns :data:`HASHED_COLUMNS` (every
column that is not derived from another one): ``sha256(orjson.dumps([values in HASHED_COLUMNS
order]))`` in hex, so anyone can recompute it from an exported file. The derived columns are
functions of hashed ones: ``text`` of ``payload``, ``label`` of ``labels``, ``method``,
``confidence`` and ``annotation_ids`` of ``aggregation``, ``guidelines_version`` of
``schema_version``. The manifest hash is the SHA-256 of::

    {"format": "labelloop-release/1", "params": {...}}\\n      (JSON, sorted keys)
    <record_id>\\t<row_sha256>\\n                             (one line per row, by record id)

It names neither the release nor the time it was cut: the same state cut twice, under any
name, gives the same hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from labelloop.releases.encode import concatenated

__all__ = [
    "COLUMNS",
    "HASHED_COLUMNS",
    "MANIFEST_FORMAT",
    "ManifestHasher",
    "class_of",
    "derived_columns",
    "row_hash",
]

MANIFEST_FORMAT = "labelloop-release/1"

#: The columns of an exported release, in order. JSON-valued columns hold JSON text.
COLUMNS: tuple[str, ...] = (
    "record_id",  # the store's record id
    "external_id",  # the record's own id (``record.id_field``)
    "text",  # the record's ``record.text_field``
    "payload",  # the whole record, JSON
    "label",  # the main question's answer as a class name
    "labels",  # every question's final value, JSON {question: value}
    "split",  # train, validation or test
    "source",  # the source's name
    "source_key",  # where in the source (file, push batch) the record came from
    "ingest_run_id",  # the ingestion run
    "batch_id",  # the ingestion batch (its position range is in the record's lineage)
    "stages",  # the stage names, versions and parameters that batch went through, JSON
    "schema_version",  # label-schema version of the final label
    "guidelines_version",  # guidelines version (versioned together with the schema)
    "method",  # how the main question was decided (majority, dawid_skene, adjudicated, ...)
    "confidence",  # the main question's confidence
    "annotation_ids",  # every annotation the final labels used
    "aggregation",  # per question: method, confidence, annotation ids, aggregation run, JSON
    "selection",  # why the item was labeled: the strategy, model version and score of its task
)


#: The columns a row hash covers, in hashing order (the others are derived from these).
HASHED_COLUMNS: tuple[str, ...] = (
    "record_id", "external_id", "payload", "split", "labels", "aggregation", "source", "source_key",
    "ingest_run_id", "batch_id", "stages", "schema_version",
)  # fmt: skip


def row_hash(values: Sequence[Any]) -> str:
    """The SHA-256 (hex) of one row given as the values of :data:`HASHED_COLUMNS`, in order."""
    return hashlib.sha256(orjson.dumps(tuple(values))).hexdigest()


def class_of(value: Mapping[str, Any] | None) -> str | None:
    """A question's value as one class name: ``{"label": "sport"}`` -> ``"sport"``.

    Multi-label answers join their sorted labels with ``|``; numbers become text; anything
    else (spans, several keys) is its canonical JSON.
    """
    if value is None:
        return None
    if len(value) == 1:
        inner = next(iter(value.values()))
        if isinstance(inner, str):
            return inner
        if isinstance(inner, bool) or inner is None:
            return orjson.dumps(inner).decode()
        if isinstance(inner, int | float):
            return str(inner)
        if isinstance(inner, list) and all(isinstance(x, str) for x in inner):
            return "|".join(sorted(inner))
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def derived_columns(aggregation: Mapping[str, Any], question: str) -> tuple[str | None, float | None, list[int]]:
    """``method`` and ``confidence`` of ``question`` and every annotation id used, from a row's aggregation.

    ``aggregation`` maps each question to ``{"method", "confidence", "annotation_ids", "run_id"}``.
    """
    main = aggregation.get(question)
    ids = sorted({int(i) for meta in aggregation.values() for i in meta.get("annotation_ids", ())})
    if main is None:
        return None, None, ids
    return main.get("method"), main.get("confidence"), ids


class ManifestHasher:
    """Builds a manifest hash row by row (rows must come in ascending record id)."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._sha = hashlib.sha256()
        header = {"format": MANIFEST_FORMAT, "params": dict(params)}
        self._sha.update(orjson.dumps(header, option=orjson.OPT_SORT_KEYS) + b"\n")
        self._last = -1
        self.rows = 0

    def add(self, record_id: int, row_sha256: str) -> None:
        """Add one row; :class:`ValueError` if ids do not ascend (a manifest has one order)."""
        if record_id <= self._last:
            raise ValueError(f"manifest rows must ascend by record id ({record_id} after {self._last})")
        self._last = record_id
        self._sha.update(f"{record_id}\t{row_sha256}\n".encode())
        self.rows += 1

    def add_many(self, rows: Sequence[tuple[int, str]]) -> None:
        """Add rows ``(record_id, row_sha256)`` given in ascending record id (a page of an export)."""
        if not rows:
            return
        if rows[0][0] <= self._last:
            raise ValueError(f"manifest rows must ascend by record id ({rows[0][0]} after {self._last})")
        self._sha.update("".join([f"{rid}\t{digest}\n" for rid, digest in rows]).encode())
        self._last = rows[-1][0]
        self.rows += len(rows)

    def add_arrays(self, record_ids: pa.Array, row_hashes: pa.Array) -> None:
        """Add a page given as Arrow arrays (int64 record ids, ascending; hex row hashes), without a Python loop."""
        if len(record_ids) != len(row_hashes):
            raise ValueError("one row hash per record id")
        if len(record_ids) == 0:
            return
        if record_ids.null_count or row_hashes.null_count:
            raise ValueError("manifest rows need a record id and a row hash")
        ids = record_ids.to_numpy()
        if ids[0] <= self._last or (len(ids) > 1 and not (ids[1:] > ids[:-1]).all()):
            raise ValueError(f"manifest rows must ascend by record id (page from {ids[0]} after {self._last})")
        lines = pc.binary_join_element_wise(pc.cast(record_ids, pa.string()), "\t", row_hashes, "\n", "")
        self._sha.update(concatenated(lines))
        self._last = int(ids[-1])
        self.rows += len(ids)

    def hexdigest(self) -> str:
        """The manifest hash so far."""
        return self._sha.hexdigest()
