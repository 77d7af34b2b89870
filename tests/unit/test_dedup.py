"""Unit tests for exact deduplication (labelloop.stages.dedup)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from labelloop.domain.records import FieldRule, RecordShape
from labelloop.ingest.sources import RawRow
from labelloop.stages.base import BATCH_SCHEMA, REJECT_SCHEMA
from labelloop.stages.dedup import ExactDedupStage, MemoryContentIndex
from labelloop.stages.normalize import NormalizeStage

SHAPE = RecordShape(
    fields={"id": FieldRule("string"), "text": FieldRule("string", required=True)},
    id_field="id",
    text_field="text",
)


def make_batch(rows: list[dict[str, Any]], ids: list[int]) -> pa.Table:
    raw = [RawRow("file.jsonl", i, i + 1, row, None, None, None) for i, row in enumerate(rows)]
    result = NormalizeStage(SHAPE).process_rows(raw, line_keys=True)
    assert result.rejected.num_rows == 0
    batch = result.kept
    assert batch.schema == BATCH_SCHEMA
    return batch.set_column(0, "id", pa.array(ids, pa.int64()))


def statuses(table: pa.Table) -> list[tuple[int, str, int | None]]:
    return list(
        zip(table["id"].to_pylist(), table["status"].to_pylist(), table["duplicate_of"].to_pylist(), strict=True)
    )


def test_no_duplicates_all_accepted() -> None:
    batch = make_batch([{"id": "a", "text": "one"}, {"id": "b", "text": "two"}], [1, 2])
    result = ExactDedupStage().process(batch, MemoryContentIndex())
    assert statuses(result.kept) == [(1, "accepted", None), (2, "accepted", None)]
    assert result.events == []
    assert result.counts == {"exact_duplicates": 0, "unchanged": 0}
    assert result.rejected.num_rows == 0
    assert result.rejected.schema == REJECT_SCHEMA
    assert result.kept.schema == BATCH_SCHEMA


def test_duplicates_in_batch_point_at_first_id() -> None:
    batch = make_batch(
        [
            {"id": "a", "text": "Hello world"},
            {"id": "b", "text": "other"},
            {"id": "c", "text": "  Hello   world "},
            {"id": "d", "text": "Hello world"},
            {"id": "e", "text": "other"},
        ],
        [10, 11, 12, 13, 14],
    )
    result = ExactDedupStage().process(batch, MemoryContentIndex())
    assert statuses(result.kept) == [
        (10, "accepted", None),
        (11, "accepted", None),
        (12, "duplicate", 10),
        (13, "duplicate", 10),
        (14, "duplicate", 11),
    ]
    assert result.counts == {"exact_duplicates": 3, "unchanged": 0}
    assert [(e.record_id, e.kind, e.stage, e.details) for e in result.events] == [
        (12, "duplicate_of", "exact_dedup", {"of": 10}),
        (13, "duplicate_of", "exact_dedup", {"of": 10}),
        (14, "duplicate_of", "exact_dedup", {"of": 11}),
    ]
    assert all(e.stage_version == ExactDedupStage.version for e in result.events)
    # duplicates are kept, never dropped
    assert result.kept.num_rows == 5


def test_known_hash_points_at_stored_id() -> None:
    index = MemoryContentIndex()
    index.add(make_batch([{"id": "old", "text": "seen before"}], [7]))
    batch = make_batch([{"id": "new", "text": "seen before"}, {"id": "x", "text": "fresh"}], [20, 21])
    result = ExactDedupStage().process(batch, index)
    assert statuses(result.kept) == [(20, "duplicate", 7), (21, "accepted", None)]
    assert [(e.record_id, e.details) for e in result.events] == [(20, {"of": 7})]
    assert result.counts == {"exact_duplicates": 1, "unchanged": 0}


def test_known_hash_wins_over_earlier_row_in_batch() -> None:
    index = MemoryContentIndex()
    index.add(make_batch([{"id": "old", "text": "same"}], [3]))
    batch = make_batch([{"id": "p", "text": "same"}, {"id": "q", "text": "same"}], [30, 31])
    result = ExactDedupStage().process(batch, index)
    assert statuses(result.kept) == [(30, "duplicate", 3), (31, "duplicate", 3)]


def test_known_hash_and_key_is_unchanged_and_dropped() -> None:
    index = MemoryContentIndex()
    index.add(make_batch([{"id": "a", "text": "same"}, {"id": "b", "text": "kept"}], [1, 2]))
    batch = make_batch(
        [
            {"id": "a", "text": "same"},  # re-sent: unchanged
            {"id": "a", "text": "edited"},  # same key, new content: a new record
            {"id": "c", "text": "same"},  # same content, new key: a duplicate of 1
            {"id": "b", "text": " kept "},  # re-sent with other white space: unchanged
        ],
        [40, 41, 42, 43],
    )
    result = ExactDedupStage().process(batch, index)
    assert statuses(result.kept) == [(41, "accepted", None), (42, "duplicate", 1)]
    assert result.kept["source_key"].to_pylist() == ["a", "c"]
    assert result.counts == {"exact_duplicates": 1, "unchanged": 2}
    assert [(e.record_id, e.kind, e.details) for e in result.events] == [(42, "duplicate_of", {"of": 1})]


def test_check_keys_off_marks_resent_rows_as_duplicates() -> None:
    index = MemoryContentIndex()
    index.add(make_batch([{"id": "a", "text": "same"}], [1]))
    batch = make_batch([{"id": "a", "text": "same"}], [50])
    stage = ExactDedupStage(check_keys=False)
    assert stage.params == {"hash": "blake2b-128", "check_keys": False}
    result = stage.process(batch, index)
    assert statuses(result.kept) == [(50, "duplicate", 1)]
    assert result.counts == {"exact_duplicates": 1, "unchanged": 0}


def test_rows_without_external_id_keyed_by_line() -> None:
    shape_rows = [{"text": "same"}, {"text": "same"}]
    raw = [RawRow("f.jsonl", i, i + 1, row, None, None, None) for i, row in enumerate(shape_rows)]
    batch = NormalizeStage(SHAPE).process_rows(raw, line_keys=True).kept
    assert batch["source_key"].to_pylist() == ["f.jsonl:1", "f.jsonl:2"]
    batch = batch.set_column(0, "id", pa.array([1, 2], pa.int64()))
    index = MemoryContentIndex()
    index.add(batch.slice(0, 1))
    result = ExactDedupStage().process(batch, index)
    # line 1 was stored already (unchanged), line 2 is a duplicate of it
    assert statuses(result.kept) == [(2, "duplicate", 1)]
    assert result.counts == {"exact_duplicates": 1, "unchanged": 1}


def test_memory_index_remembers_first_id() -> None:
    index = MemoryContentIndex()
    first = make_batch([{"id": "a", "text": "x"}], [1])
    index.add(first)
    index.add(make_batch([{"id": "b", "text": "x"}], [2]))
    digest = first["content_hash"][0].as_py()
    assert index.first_ids([digest, b"\x00" * 16]) == {digest: 1}
    asked = {(digest, "a"), (digest, "b"), (digest, "c"), (b"\x00" * 16, "a")}
    assert index.known_keys(asked) == {(digest, "a"), (digest, "b")}
    assert index.known_keys([(b"\x00" * 16, "a")]) == set()


@pytest.mark.parametrize("size", [0, 1])
def test_small_batches(size: int) -> None:
    batch = make_batch([{"id": "a", "text": "x"}][:size], list(range(size)))
    result = ExactDedupStage().process(batch, MemoryContentIndex())
    assert result.kept.num_rows == size
    assert result.counts == {"exact_duplicates": 0, "unchanged": 0}


@pytest.mark.parametrize("unrelated_stored", [False, True])
def test_repeated_row_in_one_batch_does_not_depend_on_unrelated_index_state(unrelated_stored: bool) -> None:
    # The same (content, key) twice in one batch: the second copy is a re-sent row.
    # Whether another, unrelated row of the batch was stored before must not change its fate.
    index = MemoryContentIndex()
    if unrelated_stored:
        index.add(make_batch([{"id": "b", "text": "other"}], [1]))
    batch = make_batch(
        [{"id": "a", "text": "same"}, {"id": "a", "text": "same"}, {"id": "b", "text": "other"}], [10, 11, 12]
    )
    result = ExactDedupStage().process(batch, index)
    repeated = [row for row in statuses(result.kept) if row[0] in (10, 11)]
    assert repeated == [(10, "accepted", None)]
    assert result.kept["source_key"].to_pylist().count("a") == 1
