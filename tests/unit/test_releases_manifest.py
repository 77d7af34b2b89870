"""Row hashes and the manifest hash: known answers, order, names and times left out."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from labelloop.releases.manifest import (
    COLUMNS,
    HASHED_COLUMNS,
    MANIFEST_FORMAT,
    ManifestHasher,
    class_of,
    derived_columns,
    row_hash,
)


def _row(**over: object) -> tuple[object, ...]:
    values: dict[str, object] = {
        "record_id": 7, "external_id": "r7", "payload": '{"id": "r7", "text": "hello"}', "split": "train",
        "labels": '{"topic":{"label":"sport"}}', "aggregation": AGGREGATION, "source": "inbox",
        "source_key": "a.jsonl", "ingest_run_id": 1, "batch_id": 2, "stages": '[{"name":"normalize"}]',
        "schema_version": 1,
    }  # fmt: skip
    values.update(over)
    return tuple(values[c] for c in HASHED_COLUMNS)


AGGREGATION = '{"topic":{"annotation_ids":[5,3,4],"confidence":0.6666666666666666,"method":"majority","run_id":9}}'


def test_hashed_columns_are_the_non_derived_export_columns() -> None:
    assert set(HASHED_COLUMNS) < set(COLUMNS)
    # derived from hashed columns, or (selection) provenance of the task, kept beside the labels
    assert set(COLUMNS) - set(HASHED_COLUMNS) == {
        "text", "label", "method", "confidence", "annotation_ids", "guidelines_version", "selection",
    }  # fmt: skip


def test_derived_columns_come_from_the_aggregation() -> None:
    method, confidence, ids = derived_columns(orjson.loads(AGGREGATION), "topic")
    assert (method, ids) == ("majority", [3, 4, 5]) and confidence == pytest.approx(2 / 3)
    assert derived_columns({}, "topic") == (None, None, [])


def test_row_hash_known_answer_and_sensitivity() -> None:
    row = _row()
    assert row_hash(row) == hashlib.sha256(orjson.dumps(list(row))).hexdigest()
    assert row_hash(row) == row_hash(list(_row()))
    assert row_hash(_row(split="test")) != row_hash(row)
    assert row_hash(_row(payload='{"id": "r7", "text": "hellO"}')) != row_hash(row)
    assert row_hash(_row(labels='{"topic":{"label":"tech"}}')) != row_hash(row)
    assert row_hash(_row(ingest_run_id=None)) != row_hash(row)


def test_manifest_hash_known_answer_and_order() -> None:
    params = {"question": "topic", "split": {"salt": "s"}}
    m = ManifestHasher(params)
    m.add(1, "aa")
    m.add(5, "bb")
    header = orjson.dumps({"format": MANIFEST_FORMAT, "params": params}, option=orjson.OPT_SORT_KEYS)
    assert m.hexdigest() == hashlib.sha256(header + b"\n1\taa\n5\tbb\n").hexdigest()
    assert m.rows == 2
    with pytest.raises(ValueError, match="ascend"):
        m.add(5, "cc")
    paged = ManifestHasher(params)
    paged.add_many([(1, "aa"), (5, "bb")])
    assert paged.hexdigest() == m.hexdigest() and paged.rows == 2
    with pytest.raises(ValueError, match="ascend"):
        paged.add_many([(3, "cc")])
    other = ManifestHasher({**params, "split": {"salt": "t"}})
    other.add(1, "aa")
    other.add(5, "bb")
    assert other.hexdigest() != m.hexdigest()  # split parameters are part of the content


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"label": "sport"}, "sport"),
        ({"labels": ["b", "a"]}, "a|b"),
        ({"rating": 4}, "4"),
        ({"choice": "tie"}, "tie"),
        (None, None),
        ({"spans": [{"start": 0, "end": 1, "label": "X"}]}, '{"spans":[{"end":1,"label":"X","start":0}]}'),
    ],
)
def test_class_of(value: dict[str, object] | None, expected: str | None) -> None:
    assert class_of(value) == expected
