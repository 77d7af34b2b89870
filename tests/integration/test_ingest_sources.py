"""Ingestion of every source kind into a real store (SQLite and PostgreSQL).

Each test ingests through the public service functions (``run_ingest``,
``push_records``) and checks both the run's counts and what the store holds
(``list_records``, ``project_status``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from labelloop.ingest.quarantine import list_records
from labelloop.ingest.service import push_records, run_ingest
from labelloop.ingest.status import project_status
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory


def all_records(project: Project, *, with_payload: bool = False) -> list[dict[str, Any]]:
    """Every record of ``project`` in id order, paging through ``list_records``."""
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = list_records(project, cursor=cursor, limit=500, with_payload=with_payload)
        out.extend(page)
    return out


def jsonl(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def by_key(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = [r["source_key"] for r in records]
    assert len(keys) == len(set(keys)), f"a source key is stored twice: {keys}"
    return {r["source_key"]: r for r in records}


def status_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def assert_status_agrees(project: Project) -> None:
    """``project_status`` counts what ``list_records`` shows."""
    records = all_records(project)
    seen = status_counts(records)
    status = project_status(project)
    for name in ("accepted", "duplicate", "near_duplicate", "quarantined", "deleted"):
        assert status["by_status"][name] == seen.get(name, 0), (name, status["by_status"], seen)
    assert status["records"] == seen.get("accepted", 0) + seen.get("duplicate", 0) + seen.get("near_duplicate", 0)


def pick(summary: dict[str, Any], *keys: str) -> dict[str, int]:
    return {k: summary[k] for k in keys}


COUNTS = ("read", "new", "exact_duplicates", "quarantined", "unchanged")

# A schema where the id is optional, so rows without one are keyed by file and line.
OPTIONAL_ID_CONFIG: dict[str, Any] = {
    "name": "tickets",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "subject_field": "user",
        "fields": {
            "id": {"type": "string"},
            "text": {"type": "string", "required": True},
            "user": {"type": "string"},
        },
    },
    "sources": [
        {"name": "inbox", "kind": "jsonl", "path": "data/*.jsonl"},
        {"name": "api", "kind": "push"},
    ],
}


# -- JSONL -------------------------------------------------------------------------------------------


def _three_jsonl_files() -> dict[str, bytes | str]:
    return {
        "data/a.jsonl": jsonl(
            {"id": "a1", "text": "alpha"},
            {"text": "beta"},  # no id: keyed by file and line
            {"id": "a3", "text": "alpha"},  # duplicate of a1 in the same file
        ),
        "data/b.jsonl": jsonl(
            {"id": "b1", "text": "gamma"},
            {"id": "b2", "text": "beta"},  # duplicate of a.jsonl:2 across files
        ),
        "data/c.jsonl": jsonl(
            {"text": "  alpha  "},  # same content once white space is normalized
            {"id": "c2", "text": "delta"},
        ),
        "data/ignored.txt": "not matched by the glob\n",
    }


def test_jsonl_glob_counts_and_stored_records(make_project: ProjectFactory) -> None:
    project = make_project(OPTIONAL_ID_CONFIG, _three_jsonl_files())

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 7, "new": 4, "exact_duplicates": 3, "quarantined": 0, "unchanged": 0}
    assert summary["files_read"] == 3
    records = all_records(project, with_payload=True)
    assert len(records) == 7
    assert {r["source"] for r in records} == {"inbox"}
    keyed = by_key(records)
    assert set(keyed) == {"a1", "data/a.jsonl:2", "a3", "b1", "b2", "data/c.jsonl:1", "c2"}
    first_alpha = keyed["a1"]["id"]
    first_beta = keyed["data/a.jsonl:2"]["id"]
    expected = {
        "a1": ("accepted", None),
        "data/a.jsonl:2": ("accepted", None),
        "a3": ("duplicate", first_alpha),
        "b1": ("accepted", None),
        "b2": ("duplicate", first_beta),
        "data/c.jsonl:1": ("duplicate", first_alpha),
        "c2": ("accepted", None),
    }
    assert {k: (r["status"], r["duplicate_of"]) for k, r in keyed.items()} == expected
    # The external id is kept only for rows that had one.
    assert keyed["a1"]["external_id"] == "a1"
    assert keyed["data/a.jsonl:2"]["external_id"] is None
    # Files are read in sorted order, rows in file order: ids grow the same way.
    order = ["a1", "data/a.jsonl:2", "a3", "b1", "b2", "data/c.jsonl:1", "c2"]
    assert [r["source_key"] for r in records] == order
    assert keyed["data/c.jsonl:1"]["payload"] == {"text": "alpha"}
    assert keyed["data/c.jsonl:1"]["content_hash"] == keyed["a1"]["content_hash"]
    assert_status_agrees(project)
    status = project_status(project)
    assert status["records"] == 7
    assert status["by_status"]["accepted"] == 4
    assert status["by_status"]["duplicate"] == 3
    assert status["last_run"]["status"] == "succeeded"


def test_jsonl_rerun_reads_nothing(make_project: ProjectFactory) -> None:
    project = make_project(OPTIONAL_ID_CONFIG, _three_jsonl_files())
    run_ingest(project)
    before = all_records(project)

    again = run_ingest(project)

    assert pick(again, *COUNTS) == {"read": 0, "new": 0, "exact_duplicates": 0, "quarantined": 0, "unchanged": 0}
    assert again["files_read"] == 0
    assert all_records(project) == before
    assert project_status(project)["records"] == 7


def test_jsonl_append_ingests_only_the_appended_rows(make_project: ProjectFactory) -> None:
    project = make_project(OPTIONAL_ID_CONFIG, _three_jsonl_files())
    run_ingest(project)
    first_ids = {r["source_key"]: r["id"] for r in all_records(project)}
    path = Path(project.dir or ".") / "data/a.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(jsonl({"id": "a4", "text": "epsilon"}, {"text": "gamma"}, {"id": "a6", "text": "zeta"}))

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 3, "new": 2, "exact_duplicates": 1, "quarantined": 0, "unchanged": 0}
    assert summary["files_read"] == 1
    keyed = by_key(all_records(project))
    assert len(keyed) == 10
    # Old rows keep their ids; the new ones come after them.
    assert {k: keyed[k]["id"] for k in first_ids} == first_ids
    assert min(keyed[k]["id"] for k in ("a4", "data/a.jsonl:5", "a6")) > max(first_ids.values())
    assert keyed["a4"]["status"] == "accepted"
    assert keyed["data/a.jsonl:5"]["status"] == "duplicate"
    assert keyed["data/a.jsonl:5"]["duplicate_of"] == keyed["b1"]["id"]
    assert keyed["a6"]["status"] == "accepted"
    assert_status_agrees(project)
    # And once more: nothing new.
    assert pick(run_ingest(project), "read", "new") == {"read": 0, "new": 0}


def test_jsonl_rewritten_file_is_reread_and_old_rows_are_unchanged(make_project: ProjectFactory) -> None:
    rows = [{"id": f"r{i}", "text": f"row number {i}"} for i in range(1, 6)]
    project = make_project(OPTIONAL_ID_CONFIG, {"data/a.jsonl": jsonl(*rows)})
    assert run_ingest(project)["new"] == 5
    old = by_key(all_records(project))
    changed = copy.deepcopy(rows)
    changed[0]["text"] = "the first row was edited in place"
    (Path(project.dir or ".") / "data/a.jsonl").write_text(jsonl(*changed), encoding="utf-8")

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 5, "new": 1, "exact_duplicates": 0, "quarantined": 0, "unchanged": 4}
    records = all_records(project, with_payload=True)
    assert len(records) == 6
    newest = records[-1]
    assert newest["source_key"] == "r1"
    assert newest["payload"] == {"text": "the first row was edited in place"}
    assert newest["status"] == "accepted"
    assert newest["id"] > max(r["id"] for r in old.values())
    # The four untouched rows were not stored again.
    assert sorted(r["source_key"] for r in records) == ["r1", "r1", "r2", "r3", "r4", "r5"]
    assert_status_agrees(project)


def test_jsonl_rewritten_file_without_ids_keys_rows_by_line(make_project: ProjectFactory) -> None:
    lines = [{"text": f"line {i}"} for i in range(1, 5)]
    project = make_project(OPTIONAL_ID_CONFIG, {"data/a.jsonl": jsonl(*lines)})
    run_ingest(project)
    changed = [{"text": "a new and longer first line"}, *lines[1:]]
    (Path(project.dir or ".") / "data/a.jsonl").write_text(jsonl(*changed), encoding="utf-8")

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 4, "new": 1, "exact_duplicates": 0, "quarantined": 0, "unchanged": 3}
    keys = [r["source_key"] for r in all_records(project)]
    assert keys == ["data/a.jsonl:1", "data/a.jsonl:2", "data/a.jsonl:3", "data/a.jsonl:4", "data/a.jsonl:1"]


# -- CSV ---------------------------------------------------------------------------------------------


CSV_CONFIG: dict[str, Any] = {
    "name": "tickets",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "fields": {
            "id": {"type": "string"},
            "text": {"type": "string", "required": True},
            "priority": {"type": "integer"},
        },
    },
    "sources": [{"name": "sheet", "kind": "csv", "path": "data/tickets.csv"}],
}


def test_csv_counts_and_stored_records(make_project: ProjectFactory) -> None:
    body = (
        "id,text,priority\n"
        "t1,printer is broken,2\n"
        ",no id on this row,1\n"  # line 3: keyed by file and line
        't3,"quoted, with a comma",3\n'
        "t4,printer is broken,2\n"  # duplicate of t1
        ",printer is broken,2\n"  # line 6: duplicate of t1 too
    )
    project = make_project(CSV_CONFIG, {"data/tickets.csv": body})

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 5, "new": 3, "exact_duplicates": 2, "quarantined": 0, "unchanged": 0}
    records = all_records(project, with_payload=True)
    keyed = by_key(records)
    assert list(keyed) == ["t1", "data/tickets.csv:3", "t3", "t4", "data/tickets.csv:6"]
    assert keyed["t1"]["status"] == "accepted"
    assert keyed["t4"]["status"] == "duplicate"
    assert keyed["t4"]["duplicate_of"] == keyed["t1"]["id"]
    assert keyed["data/tickets.csv:6"]["duplicate_of"] == keyed["t1"]["id"]
    assert keyed["data/tickets.csv:3"]["external_id"] is None
    # CSV strings are coerced to the declared types; the id lives in its own column.
    assert keyed["t3"]["payload"] == {"text": "quoted, with a comma", "priority": 3}
    assert keyed["t3"]["external_id"] == "t3"
    assert_status_agrees(project)
    assert pick(run_ingest(project), "read", "new") == {"read": 0, "new": 0}


# -- Parquet -----------------------------------------------------------------------------------------


PARQUET_CONFIG: dict[str, Any] = {
    "name": "tickets",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "fields": {
            "id": {"type": "string"},
            "text": {"type": "string", "required": True},
            "score": {"type": "number"},
        },
    },
    "sources": [{"name": "lake", "kind": "parquet", "path": "data/*.parquet"}],
}


def test_parquet_counts_and_stored_records(make_project: ProjectFactory) -> None:
    project = make_project(PARQUET_CONFIG)
    folder = Path(project.dir or ".") / "data"
    folder.mkdir(exist_ok=True)
    table = pa.table(
        {
            "id": ["p1", None, "p3", "p4", None],
            "text": ["sunny day", "rainy day", "sunny day", "foggy day", "rainy day"],
            "score": [0.5, 1.5, 0.5, 2.0, 1.5],
        }
    )
    pq.write_table(table, folder / "part-0.parquet")
    pq.write_table(pa.table({"id": ["q1"], "text": ["foggy day"], "score": [2.0]}), folder / "part-1.parquet")

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 6, "new": 3, "exact_duplicates": 3, "quarantined": 0, "unchanged": 0}
    assert summary["files_read"] == 2
    keyed = by_key(all_records(project, with_payload=True))
    assert list(keyed) == ["p1", "data/part-0.parquet:2", "p3", "p4", "data/part-0.parquet:5", "q1"]
    assert [keyed[k]["status"] for k in keyed] == [
        "accepted",
        "accepted",
        "duplicate",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert keyed["p3"]["duplicate_of"] == keyed["p1"]["id"]
    assert keyed["data/part-0.parquet:5"]["duplicate_of"] == keyed["data/part-0.parquet:2"]["id"]
    assert keyed["q1"]["duplicate_of"] == keyed["p4"]["id"]
    assert keyed["p4"]["payload"] == {"text": "foggy day", "score": 2.0}
    assert_status_agrees(project)
    assert pick(run_ingest(project), "read", "new") == {"read": 0, "new": 0}


# -- Directory of text files -------------------------------------------------------------------------


DIRECTORY_CONFIG: dict[str, Any] = {
    "name": "news",
    "record": {
        "text_field": "text",
        "fields": {"text": {"type": "string", "required": True}, "topic": {"type": "string"}},
    },
    "sources": [
        {"name": "articles", "kind": "directory", "path": "corpus", "pattern": "*/*.txt", "label_field": "topic"}
    ],
}


def _corpus() -> dict[str, bytes | str]:
    return {
        "corpus/sport/001.txt": "The match ended in a draw.\n",
        "corpus/sport/002.txt": "A record crowd watched the final.\n",
        "corpus/sport/003.txt": "The match ended in a draw.\n",  # same text and topic as 001
        "corpus/tech/001.txt": "A new phone was released.\n",
        "corpus/tech/002.txt": "The match ended in a draw.\n",  # same text, other topic: not a duplicate
        "corpus/README.md": "not a document\n",
        "corpus/top-level.txt": "outside any topic folder: not matched by */*.txt\n",
    }


def test_directory_one_folder_per_label(make_project: ProjectFactory) -> None:
    project = make_project(DIRECTORY_CONFIG, _corpus())

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 5, "new": 4, "exact_duplicates": 1, "quarantined": 0, "unchanged": 0}
    keyed = by_key(all_records(project, with_payload=True))
    assert list(keyed) == ["sport/001.txt", "sport/002.txt", "sport/003.txt", "tech/001.txt", "tech/002.txt"]
    assert keyed["sport/001.txt"]["payload"] == {"text": "The match ended in a draw.", "topic": "sport"}
    assert keyed["tech/002.txt"]["payload"] == {"text": "The match ended in a draw.", "topic": "tech"}
    assert keyed["tech/002.txt"]["status"] == "accepted"
    assert keyed["sport/003.txt"]["status"] == "duplicate"
    assert keyed["sport/003.txt"]["duplicate_of"] == keyed["sport/001.txt"]["id"]
    assert all(r["external_id"] is None for r in keyed.values())
    assert_status_agrees(project)

    again = run_ingest(project)
    assert pick(again, "read", "new") == {"read": 0, "new": 0}

    (Path(project.dir or ".") / "corpus/tech/003.txt").write_text("Chips got faster again.\n", encoding="utf-8")
    more = run_ingest(project)
    assert pick(more, *COUNTS) == {"read": 1, "new": 1, "exact_duplicates": 0, "quarantined": 0, "unchanged": 0}
    assert all_records(project)[-1]["source_key"] == "tech/003.txt"
    assert project_status(project)["records"] == 6


# -- Push --------------------------------------------------------------------------------------------


def _pushed_rows() -> list[dict[str, Any]]:
    return [
        {"id": "u1", "text": "refund please", "user": "ann"},
        {"id": "u2", "text": "where is my parcel", "user": "bob"},
        {"id": "u3", "text": "refund please", "user": "cy"},  # same content as u1: the subject is not content
        {"text": "no id here"},
    ]


def test_push_json_array_and_repeat(make_project: ProjectFactory) -> None:
    project = make_project(OPTIONAL_ID_CONFIG)
    body = orjson.dumps(_pushed_rows())

    summary = push_records(project, body)

    assert pick(summary, *COUNTS) == {"read": 4, "new": 3, "exact_duplicates": 1, "quarantined": 0, "unchanged": 0}
    records = all_records(project)
    assert [r["source"] for r in records] == ["api"] * 4
    keyed = by_key(records)
    assert keyed["u3"]["status"] == "duplicate"
    assert keyed["u3"]["duplicate_of"] == keyed["u1"]["id"]
    no_id = records[-1]
    assert no_id["external_id"] is None
    # A pushed row without an id is keyed by its content.
    assert no_id["source_key"] == no_id["content_hash"]

    again = push_records(project, body)

    assert pick(again, *COUNTS) == {"read": 4, "new": 0, "exact_duplicates": 0, "quarantined": 0, "unchanged": 4}
    assert all_records(project) == records
    assert_status_agrees(project)


def test_push_ndjson_and_repeat(make_project: ProjectFactory) -> None:
    project = make_project(OPTIONAL_ID_CONFIG)
    body = b"\n".join(orjson.dumps(r) for r in _pushed_rows()) + b"\n\n"

    summary = push_records(project, body, content_type="application/x-ndjson")

    assert pick(summary, *COUNTS) == {"read": 4, "new": 3, "exact_duplicates": 1, "quarantined": 0, "unchanged": 0}
    keyed = by_key(all_records(project))
    assert set(keyed) >= {"u1", "u2", "u3"}
    assert keyed["u3"]["duplicate_of"] == keyed["u1"]["id"]

    # The same body without a content type is still recognised as NDJSON.
    again = push_records(project, body)
    assert pick(again, *COUNTS) == {"read": 4, "new": 0, "exact_duplicates": 0, "quarantined": 0, "unchanged": 4}
    assert len(all_records(project)) == 4
    assert project_status(project)["records"] == 4


def test_push_then_file_rows_dedup_across_sources(make_project: ProjectFactory) -> None:
    project = make_project(OPTIONAL_ID_CONFIG, {"data/a.jsonl": jsonl({"id": "f1", "text": "refund please"})})
    push_records(project, orjson.dumps(_pushed_rows()))

    summary = run_ingest(project)

    assert pick(summary, "read", "new", "exact_duplicates") == {"read": 1, "new": 0, "exact_duplicates": 1}
    keyed = by_key(all_records(project))
    assert keyed["f1"]["source"] == "inbox"
    assert keyed["f1"]["duplicate_of"] == keyed["u1"]["id"]
    assert_status_agrees(project)


# -- Large payloads ----------------------------------------------------------------------------------


def test_large_payloads_go_to_the_blob_store(make_project: ProjectFactory) -> None:
    config = copy.deepcopy(OPTIONAL_ID_CONFIG)
    config["record"]["blob_threshold_bytes"] = 1024
    big_text = "lorem ipsum dolor sit amet " * 200  # ~5.4 kB
    files = {"data/a.jsonl": jsonl({"id": "small", "text": "tiny"}, {"id": "big", "text": big_text})}
    project = make_project(config, files)

    summary = run_ingest(project)

    assert summary["new"] == 2
    keyed = by_key(all_records(project, with_payload=True))
    assert keyed["small"]["blob_ref"] is None
    assert keyed["small"]["payload"] == {"text": "tiny"}
    assert keyed["big"]["blob_ref"] is not None
    assert keyed["big"]["payload"] is None
    stored = orjson.loads(project.blobs.get(keyed["big"]["blob_ref"]))
    assert stored == {"text": big_text.strip()}

    # A pushed big row goes the same way, and a re-push is still idempotent.
    body = orjson.dumps([{"id": "pushed-big", "text": "x" * 4000}])
    assert push_records(project, body)["new"] == 1
    assert push_records(project, body)["unchanged"] == 1
    pushed = by_key(all_records(project, with_payload=True))["pushed-big"]
    assert pushed["payload"] is None
    assert pushed["blob_ref"] is not None
    assert orjson.loads(project.blobs.get(pushed["blob_ref"])) == {"text": "x" * 4000}


def test_default_config_requires_ids(make_project: ProjectFactory) -> None:
    """With the default schema (id required) a row without id is quarantined, not keyed by line."""
    project = make_project(
        DEFAULT_CONFIG,
        {"data/a.jsonl": jsonl({"id": "1", "text": "hi", "user": "ann", "consent": ["training"]}, {"text": "no id"})},
    )

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 2, "new": 1, "exact_duplicates": 0, "quarantined": 1, "unchanged": 0}
    records = all_records(project)
    assert [r["source_key"] for r in records] == ["1", "data/a.jsonl:2"]
    assert records[1]["status"] == "quarantined"
    assert records[1]["reasons"][0]["code"] == "missing_required_field"
    assert_status_agrees(project)
