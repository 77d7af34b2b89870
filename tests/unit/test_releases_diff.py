"""Diff of two sorted release streams: added, removed, relabeled with old and new, per class, limits."""

from __future__ import annotations

from labelloop.releases.diff import DiffRow, diff_rows


def row(rid: int, label: str, split: str = "train") -> DiffRow:
    return DiffRow(rid, f"r{rid}", label, f'{{"topic":{{"label":"{label}"}}}}', split)


def test_added_removed_relabeled_and_unchanged() -> None:
    old = [row(1, "a"), row(2, "b"), row(3, "a"), row(5, "c")]
    new = [row(2, "b"), row(3, "c"), row(4, "a"), row(6, "a"), row(7, "b")]
    d = diff_rows(old, new).as_dict()
    assert d["counts"] == {"added": 3, "removed": 2, "relabeled": 1, "unchanged": 1}
    assert [x["record_id"] for x in d["added"]] == [4, 6, 7]
    assert [x["record_id"] for x in d["removed"]] == [1, 5]
    assert d["relabeled"] == [
        {
            "record_id": 3,
            "external_id": "r3",
            "old": {"label": "a", "labels": {"topic": {"label": "a"}}},
            "new": {"label": "c", "labels": {"topic": {"label": "c"}}},
            "split": "train",
        }
    ]
    assert d["by_class"] == {"added": {"a": 2, "b": 1}, "removed": {"a": 1, "c": 1}, "relabeled": {"a -> c": 1}}
    assert d["truncated"] is False


def test_a_split_change_alone_is_not_a_relabel_and_empty_streams() -> None:
    d = diff_rows([row(1, "a", "train")], [row(1, "a", "test")]).as_dict()
    assert d["counts"]["unchanged"] == 1 and d["relabeled"] == []
    assert diff_rows([], []).as_dict()["counts"] == {"added": 0, "removed": 0, "relabeled": 0, "unchanged": 0}


def test_limit_cuts_item_lists_but_not_counts() -> None:
    d = diff_rows([], (row(i, "x") for i in range(1, 101)), limit=10).as_dict()
    assert d["counts"]["added"] == 100 and len(d["added"]) == 10 and d["truncated"] is True
    assert d["by_class"]["added"] == {"x": 100}
