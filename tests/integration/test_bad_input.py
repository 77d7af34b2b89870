"""Bad input ends in quarantine with a reason code; the rows around it are ingested.

Also: the decisions a person takes on quarantined rows (drop, release), and
configs ingestion cannot honour (configured stages) failing loudly.
"""

from __future__ import annotations

import codecs
import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelloop.errors import ConfigError, ConflictError, InvalidInputError
from labelloop.ingest.quarantine import drop_quarantined, list_records, release_quarantined
from labelloop.ingest.service import push_records, run_ingest
from labelloop.ingest.status import project_status
from labelloop.project import Project
from tests.conftest import ProjectFactory

MAX_CHARS = 200

CONFIG: dict[str, Any] = {
    "name": "tickets",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "subject_field": "user",
        "max_field_chars": MAX_CHARS,
        "fields": {
            "id": {"type": "string", "required": True},
            "text": {"type": "string", "required": True},
            "user": {"type": "string"},
            "n": {"type": "integer"},
        },
    },
    "sources": [
        {"name": "inbox", "kind": "jsonl", "path": "data/*.jsonl"},
        {"name": "sheet", "kind": "csv", "path": "data/*.csv"},
        {"name": "api", "kind": "push"},
    ],
}

COUNTS = ("read", "new", "exact_duplicates", "quarantined", "unchanged")


def all_records(project: Project, *, with_payload: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = list_records(project, cursor=cursor, limit=500, with_payload=with_payload)
        out.extend(page)
    return out


def record(project: Project, record_id: int) -> dict[str, Any]:
    found = [r for r in all_records(project, with_payload=True) if r["id"] == record_id]
    assert len(found) == 1, f"record {record_id} not found"
    return found[0]


def pick(summary: dict[str, Any], *keys: str) -> dict[str, int]:
    return {k: summary[k] for k in keys}


def good(rid: str, text: str | None = None) -> bytes:
    return orjson.dumps({"id": rid, "text": text or f"text of {rid}"})


def assert_status_agrees(project: Project) -> None:
    seen: dict[str, int] = {}
    for r in all_records(project):
        seen[r["status"]] = seen.get(r["status"], 0) + 1
    by_status = project_status(project)["by_status"]
    assert by_status == {k: seen.get(k, 0) for k in by_status}, (by_status, seen)


# -- one bad row among good ones -------------------------------------------------------------------------


JSONL_CASES = [
    pytest.param(b'{"id": "bad", "text": "no closing brace"', "invalid_json", id="invalid_json"),
    pytest.param(b"this is not json at all", "invalid_json", id="invalid_json_text"),
    pytest.param(b"[1, 2, 3]", "not_an_object", id="not_an_object_list"),
    pytest.param(b'"just a string"', "not_an_object", id="not_an_object_string"),
    pytest.param(b'{"id": "bad"}', "missing_required_field", id="missing_required_field"),
    pytest.param(b'{"id": "bad", "text": "   "}', "missing_required_field", id="blank_required_field"),
    pytest.param(b'{"id": "bad", "text": "t", "n": "abc"}', "wrong_type", id="wrong_type"),
    pytest.param(b'{"id": "bad", "text": "t", "n": [1]}', "wrong_type", id="wrong_type_list"),
    pytest.param(b'{"id": "bad", "text": "caf\xe9 cr\xe8me"}', "invalid_encoding", id="invalid_encoding"),
    pytest.param(b'{"id": "bad", "text": "' + b"x" * (MAX_CHARS + 1) + b'"}', "field_too_large", id="too_large"),
]


@pytest.mark.parametrize(("bad_line", "code"), JSONL_CASES)
def test_jsonl_bad_row_is_quarantined_and_neighbours_ingested(
    make_project: ProjectFactory, bad_line: bytes, code: str
) -> None:
    body = b"\n".join([good("g1"), good("g2"), bad_line, good("g4")]) + b"\n"
    project = make_project(CONFIG, {"data/a.jsonl": body})

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 4, "new": 3, "exact_duplicates": 0, "quarantined": 1, "unchanged": 0}
    assert summary["quarantine_reasons"] == {code: 1}
    records = all_records(project)
    assert {r["source_key"]: r["status"] for r in records} == {
        "g1": "accepted",
        "g2": "accepted",
        "data/a.jsonl:3": "quarantined",
        "g4": "accepted",
    }
    bad = next(r for r in records if r["status"] == "quarantined")
    assert bad["reasons"][0]["code"] == code
    assert bad["reasons"][0]["message"]
    # a bad row is identified by the hash of its raw bytes (so a re-read does not quarantine it twice)
    assert len(bad["content_hash"]) == 32
    assert bad["content_hash"] not in {r["content_hash"] for r in records if r["status"] != "quarantined"}
    assert_status_agrees(project)
    # A second run neither re-reads nor re-quarantines the row.
    assert pick(run_ingest(project), "read", "quarantined") == {"read": 0, "quarantined": 0}


CSV_CASES = [
    pytest.param("c3,too,many,fields", "ragged_row", id="ragged_row_long"),
    pytest.param("c3", "ragged_row", id="ragged_row_short"),
    pytest.param('c3,"bad"quoting,1', "bad_quoting", id="bad_quoting"),
    pytest.param("c3,fine text,abc", "wrong_type", id="wrong_type"),
    pytest.param(",no id,1", "missing_required_field", id="missing_required_field"),
]


@pytest.mark.parametrize(("bad_line", "code"), CSV_CASES)
def test_csv_bad_row_is_quarantined_and_neighbours_ingested(
    make_project: ProjectFactory, bad_line: str, code: str
) -> None:
    body = f"id,text,n\nc1,first,1\nc2,second,2\n{bad_line}\nc4,fourth,4\nc5,fifth,5\n"
    project = make_project(CONFIG, {"data/t.csv": body})

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 5, "new": 4, "exact_duplicates": 0, "quarantined": 1, "unchanged": 0}
    assert summary["quarantine_reasons"] == {code: 1}
    records = all_records(project, with_payload=True)
    assert {r["source_key"]: r["status"] for r in records} == {
        "c1": "accepted",
        "c2": "accepted",
        "data/t.csv:4": "quarantined",
        "c4": "accepted",
        "c5": "accepted",
    }
    bad = next(r for r in records if r["status"] == "quarantined")
    assert bad["reasons"][0]["code"] == code
    c4 = next(r for r in records if r["source_key"] == "c4")
    assert c4["payload"] == {"text": "fourth", "n": 4}
    assert_status_agrees(project)


def test_csv_invalid_utf8_row_is_quarantined(make_project: ProjectFactory) -> None:
    body = b"id,text,n\nc1,first,1\nc2,caf\xe9,2\nc3,third,3\n"
    project = make_project(CONFIG, {"data/t.csv": body})

    summary = run_ingest(project)

    assert pick(summary, "read", "new", "quarantined") == {"read": 3, "new": 2, "quarantined": 1}
    bad = [r for r in all_records(project) if r["status"] == "quarantined"]
    assert [(r["source_key"], r["reasons"][0]["code"]) for r in bad] == [("data/t.csv:3", "invalid_encoding")]


def test_push_bad_rows_are_quarantined(make_project: ProjectFactory) -> None:
    project = make_project(CONFIG)
    ndjson = b"\n".join([good("p1"), b"{broken", b"42", good("p4"), b'{"id": "p5"}']) + b"\n"

    summary = push_records(project, ndjson)

    assert pick(summary, *COUNTS) == {"read": 5, "new": 2, "exact_duplicates": 0, "quarantined": 3, "unchanged": 0}
    assert summary["quarantine_reasons"] == {"invalid_json": 1, "not_an_object": 1, "missing_required_field": 1}
    codes = {r["source_key"]: r["reasons"][0]["code"] for r in all_records(project) if r["status"] == "quarantined"}
    assert codes == {"#2": "invalid_json", "#3": "not_an_object", "#5": "missing_required_field"}

    array = orjson.dumps([{"id": "p6", "text": "six"}, ["not", "an", "object"], None])
    summary = push_records(project, array)
    assert pick(summary, "read", "new", "quarantined") == {"read": 3, "new": 1, "quarantined": 2}
    assert summary["quarantine_reasons"] == {"not_an_object": 2}


@pytest.mark.parametrize("body", [b"[1, 2", b'[{"id": "x", "text": "t"}', b"   \n", b""])
def test_push_body_that_is_not_json_is_a_request_error(make_project: ProjectFactory, body: bytes) -> None:
    project = make_project(CONFIG)
    with pytest.raises(InvalidInputError):
        push_records(project, body)
    assert all_records(project) == []


# -- encodings ---------------------------------------------------------------------------------------------


def _jsonl_text() -> str:
    return "".join(json.dumps({"id": f"e{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS, 1))


TEXTS = ["café crème", "naïve façade", "plain ascii"]


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        pytest.param(codecs.BOM_UTF8, "utf-8", id="utf-8-bom"),
        pytest.param(codecs.BOM_UTF16_LE, "utf-16-le", id="utf-16-le-bom"),
        pytest.param(codecs.BOM_UTF16_BE, "utf-16-be", id="utf-16-be-bom"),
    ],
)
def test_jsonl_with_bom_ingests_normally(make_project: ProjectFactory, bom: bytes, encoding: str) -> None:
    project = make_project(CONFIG, {"data/a.jsonl": bom + _jsonl_text().encode(encoding)})

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 3, "new": 3, "exact_duplicates": 0, "quarantined": 0, "unchanged": 0}
    records = all_records(project, with_payload=True)
    assert [r["source_key"] for r in records] == ["e1", "e2", "e3"]
    assert [r["payload"]["text"] for r in records] == TEXTS
    assert pick(run_ingest(project), "read", "new") == {"read": 0, "new": 0}


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        pytest.param(codecs.BOM_UTF8, "utf-8", id="utf-8-bom"),
        pytest.param(codecs.BOM_UTF16_LE, "utf-16-le", id="utf-16-le-bom"),
        pytest.param(codecs.BOM_UTF16_BE, "utf-16-be", id="utf-16-be-bom"),
    ],
)
def test_csv_with_bom_ingests_normally(make_project: ProjectFactory, bom: bytes, encoding: str) -> None:
    text = 'id,text,n\ne1,café crème,1\ne2,"naïve, façade",2\ne3,plain ascii,3\n'
    project = make_project(CONFIG, {"data/t.csv": bom + text.encode(encoding)})

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 3, "new": 3, "exact_duplicates": 0, "quarantined": 0, "unchanged": 0}
    records = all_records(project, with_payload=True)
    # The BOM is not part of the first header name: the id column is found.
    assert [r["source_key"] for r in records] == ["e1", "e2", "e3"]
    assert [r["payload"] for r in records] == [
        {"text": "café crème", "n": 1},
        {"text": "naïve, façade", "n": 2},
        {"text": "plain ascii", "n": 3},
    ]


def test_jsonl_declared_latin1_encoding_reads_latin1_file(make_project: ProjectFactory) -> None:
    config = copy.deepcopy(CONFIG)
    config["sources"][0]["encoding"] = "latin-1"
    project = make_project(config, {"data/a.jsonl": _jsonl_text().encode("latin-1")})

    summary = run_ingest(project)

    assert pick(summary, "read", "new", "quarantined") == {"read": 3, "new": 3, "quarantined": 0}
    assert [r["payload"]["text"] for r in all_records(project, with_payload=True)] == TEXTS


# -- empty files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"data/empty.jsonl": b""}, id="empty-jsonl"),
        pytest.param({"data/blank.jsonl": b"\n\n  \n"}, id="blank-lines-jsonl"),
        pytest.param({"data/empty.csv": b""}, id="empty-csv"),
        pytest.param({"data/header.csv": b"id,text,n\n"}, id="header-only-csv"),
    ],
)
def test_empty_file_ingests_nothing_and_succeeds(make_project: ProjectFactory, files: dict[str, bytes]) -> None:
    project = make_project(CONFIG, files)

    summary = run_ingest(project)

    assert pick(summary, *COUNTS) == {"read": 0, "new": 0, "exact_duplicates": 0, "quarantined": 0, "unchanged": 0}
    assert all_records(project) == []
    status = project_status(project)
    assert status["last_run"]["status"] == "succeeded"
    assert status["records"] == 0
    # Data written to the file later is picked up.
    name = next(iter(files))
    path = Path(project.dir or ".") / name
    if name.endswith(".jsonl"):
        path.write_bytes(path.read_bytes() + good("late") + b"\n")
    else:
        path.write_bytes(b"id,text,n\nlate,text of late,1\n")
    assert pick(run_ingest(project), "read", "new") == {"read": 1, "new": 1}
    assert [r["source_key"] for r in all_records(project)] == ["late"]


# -- quarantine decisions ----------------------------------------------------------------------------------


def _quarantined_ids(project: Project) -> dict[str, int]:
    return {r["source_key"]: r["id"] for r in all_records(project) if r["status"] == "quarantined"}


def test_drop_quarantined_deletes_and_cannot_be_decided_twice(make_project: ProjectFactory) -> None:
    body = b"\n".join([good("g1"), b"{broken", good("g3")]) + b"\n"
    project = make_project(CONFIG, {"data/a.jsonl": body})
    run_ingest(project)
    rid = _quarantined_ids(project)["data/a.jsonl:2"]

    result = drop_quarantined(project, rid, actor="tester")

    assert result == {"id": rid, "status": "deleted"}
    assert record(project, rid)["status"] == "deleted"
    by_status = project_status(project)["by_status"]
    assert (by_status["quarantined"], by_status["deleted"], by_status["accepted"]) == (0, 1, 2)
    with pytest.raises(ConflictError):
        drop_quarantined(project, rid)
    with pytest.raises(ConflictError):
        release_quarantined(project, rid)
    assert record(project, rid)["status"] == "deleted"
    assert_status_agrees(project)


def test_release_of_a_still_invalid_row_is_refused(make_project: ProjectFactory) -> None:
    body = b"\n".join([good("g1"), b'{"id": "bad", "text": "t", "n": "abc"}', b"{broken"]) + b"\n"
    project = make_project(CONFIG, {"data/a.jsonl": body})
    run_ingest(project)
    ids = _quarantined_ids(project)

    for key in ("data/a.jsonl:2", "data/a.jsonl:3"):
        with pytest.raises(ConflictError):
            release_quarantined(project, ids[key])
        assert record(project, ids[key])["status"] == "quarantined"
    assert project_status(project)["by_status"]["quarantined"] == 2
    # Still undecided: it can be dropped afterwards.
    assert drop_quarantined(project, ids["data/a.jsonl:3"])["status"] == "deleted"
    assert_status_agrees(project)


def test_release_after_declaring_the_encoding(make_project: ProjectFactory) -> None:
    body = b"\n".join([good("g1"), b'{"id": "lat", "text": "caf\xe9 cr\xe8me"}', good("g3")]) + b"\n"
    project = make_project(CONFIG, {"data/a.jsonl": body})
    run_ingest(project)
    rid = _quarantined_ids(project)["data/a.jsonl:2"]
    assert record(project, rid)["reasons"][0]["code"] == "invalid_encoding"
    with pytest.raises(ConflictError):
        release_quarantined(project, rid)

    fixed = copy.deepcopy(CONFIG)
    fixed["sources"][0]["encoding"] = "latin-1"
    project = make_project(fixed)
    result = release_quarantined(project, rid, actor="tester")

    assert result["id"] == rid
    assert result["status"] == "accepted"
    released = record(project, rid)
    assert released["status"] == "accepted"
    assert released["payload"] == {"text": "café crème"}
    assert released["external_id"] == "lat"
    assert released["content_hash"] is not None
    assert len(all_records(project)) == 3
    with pytest.raises(ConflictError):
        release_quarantined(project, rid)
    assert_status_agrees(project)


def test_release_after_making_a_field_optional(make_project: ProjectFactory) -> None:
    strict = copy.deepcopy(CONFIG)
    strict["record"]["fields"]["n"] = {"type": "integer", "required": True}
    body = b"\n".join([orjson.dumps({"id": "g1", "text": "one", "n": 1}), orjson.dumps({"id": "m", "text": "two"})])
    project = make_project(strict, {"data/a.jsonl": body + b"\n"})
    summary = run_ingest(project)
    assert summary["quarantine_reasons"] == {"missing_required_field": 1}
    rid = _quarantined_ids(project)["data/a.jsonl:2"]
    with pytest.raises(ConflictError):
        release_quarantined(project, rid)

    project = make_project(CONFIG)  # n is optional again
    result = release_quarantined(project, rid)

    assert result == {"id": rid, "status": "accepted", "duplicate_of": None, "similarity": None}
    released = record(project, rid)
    assert released["status"] == "accepted"
    assert released["payload"] == {"text": "two"}
    by_status = project_status(project)["by_status"]
    assert (by_status["accepted"], by_status["quarantined"]) == (2, 0)
    assert_status_agrees(project)


def _latin1_row_released_around_a_push(make_project: ProjectFactory, push_first: bool) -> tuple[Project, int, int]:
    """A latin-1 line quarantined in a UTF-8 source, and a pushed row with the same content."""
    files = {"data/a.jsonl": b'{"id": "lat", "text": "caf\xe9"}\n'}
    project = make_project(CONFIG, files)
    push = orjson.dumps([{"id": "pushed", "text": "café"}])
    if push_first:
        push_records(project, push)
        run_ingest(project)
    else:
        run_ingest(project)
        push_records(project, push)
    ids = {r["source_key"]: r["id"] for r in all_records(project)}
    fixed = copy.deepcopy(CONFIG)
    fixed["sources"][0]["encoding"] = "latin-1"
    return make_project(fixed), ids["data/a.jsonl:1"], ids["pushed"]


def assert_one_original_per_content(project: Project) -> None:
    """Among live records with the same content, one is accepted and the others point at it."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in all_records(project):
        if r["status"] in ("accepted", "duplicate"):
            groups.setdefault(r["content_hash"], []).append(r)
    for members in groups.values():
        originals = [r["id"] for r in members if r["status"] == "accepted"]
        assert len(originals) == 1, f"several accepted records with the same content: {members}"
        assert all(r["duplicate_of"] == originals[0] for r in members if r["status"] == "duplicate"), members


def test_release_of_a_row_whose_content_exists_is_a_duplicate(make_project: ProjectFactory) -> None:
    project, rid, pushed = _latin1_row_released_around_a_push(make_project, push_first=True)
    assert rid > pushed

    result = release_quarantined(project, rid)

    assert result == {"id": rid, "status": "duplicate", "duplicate_of": pushed, "similarity": None}
    released = record(project, rid)
    assert (released["status"], released["duplicate_of"]) == ("duplicate", pushed)
    assert_one_original_per_content(project)
    assert_status_agrees(project)


def test_release_of_an_older_row_keeps_one_original_per_content(make_project: ProjectFactory) -> None:
    """The released row is older (smaller id) than an accepted row with the same content."""
    project, rid, pushed = _latin1_row_released_around_a_push(make_project, push_first=False)
    assert rid < pushed

    result = release_quarantined(project, rid)

    assert result["id"] == rid
    assert result["status"] in ("accepted", "duplicate")
    assert_one_original_per_content(project)
    assert_status_agrees(project)


# -- re-reading rows that were quarantined -----------------------------------------------------------------


def test_reread_does_not_quarantine_the_same_row_twice(make_project: ProjectFactory) -> None:
    """A rewritten file is re-read whole; its unchanged bad row is not a new quarantine entry."""
    lines = [good("g1"), b"{broken", good("g3")]
    project = make_project(CONFIG, {"data/a.jsonl": b"\n".join(lines) + b"\n"})
    run_ingest(project)
    path = Path(project.dir or ".") / "data/a.jsonl"
    path.write_bytes(b"\n".join([good("g1", "the first row was edited"), *lines[1:]]) + b"\n")

    summary = run_ingest(project)

    assert pick(summary, "read", "new", "unchanged") == {"read": 3, "new": 1, "unchanged": 2}
    assert summary["quarantined"] == 0
    bad = [r for r in all_records(project) if r["status"] == "quarantined"]
    assert [r["source_key"] for r in bad] == ["data/a.jsonl:2"]
    assert project_status(project)["by_status"]["quarantined"] == 1


def test_released_row_is_not_stored_again_when_its_file_is_reread(make_project: ProjectFactory) -> None:
    lines = [good("g1"), b'{"id": "lat", "text": "caf\xe9"}', good("g3")]
    project = make_project(CONFIG, {"data/a.jsonl": b"\n".join(lines) + b"\n"})
    run_ingest(project)
    rid = _quarantined_ids(project)["data/a.jsonl:2"]
    fixed = copy.deepcopy(CONFIG)
    fixed["sources"][0]["encoding"] = "latin-1"
    project = make_project(fixed)
    assert release_quarantined(project, rid)["status"] == "accepted"
    path = Path(project.dir or ".") / "data/a.jsonl"
    path.write_bytes(b"\n".join([good("g1", "the first row was edited"), *lines[1:]]) + b"\n")

    summary = run_ingest(project)

    # Only the edited first row is new; the released row is the one already stored.
    assert pick(summary, "read", "new", "exact_duplicates", "unchanged") == {
        "read": 3,
        "new": 1,
        "exact_duplicates": 0,
        "unchanged": 2,
    }
    lat = [r for r in all_records(project) if r["external_id"] == "lat"]
    assert [(r["id"], r["status"]) for r in lat] == [(rid, "accepted")]


# -- configs ingestion cannot honour -----------------------------------------------------------------------


def test_unsupported_policies_refuse_to_ingest(make_project: ProjectFactory) -> None:
    config = {**copy.deepcopy(CONFIG), "policies": {"retention_days": 30}}
    project = make_project(config, {"data/a.jsonl": good("g1") + b"\n"})

    with pytest.raises(ConfigError):
        run_ingest(project)
    with pytest.raises(ConfigError):
        push_records(project, orjson.dumps([{"id": "p1", "text": "pushed"}]))

    assert all_records(project) == []
    assert project_status(project)["records"] == 0
