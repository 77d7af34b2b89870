"""Releases on SQLite and PostgreSQL: content-addressed, immutable snapshots of the final labels with
stable hash splits, diffs, verified streaming exports (Parquet, JSON Lines, Hugging Face datasets),
atomic against kill -9, lineage both ways; over the service, the CLI and the HTTP API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from labelloop.api.app import create_app
from labelloop.cli.main import app as cli
from labelloop.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from labelloop.governance import erasure
from labelloop.governance.service import add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.quality import service as quality
from labelloop.releases import service
from labelloop.releases.manifest import COLUMNS, HASHED_COLUMNS, ManifestHasher, row_hash
from labelloop.releases.splits import SplitSpec, split_of
from labelloop.releases.writers import file_sha256
from tests.conftest import ProjectFactory
from tests.integration.test_api import assert_problem, bearer, open_other_project
from tests.integration.test_labeling import LABELS, principal
from tests.integration.test_quality import label_all, quality_config, record_ids

PEOPLE = ("ann", "bob", "cyd")


def labeled_project(make_project: ProjectFactory, n: int = 30) -> Project:
    """``n`` records labeled by three people through the queue, aggregated by majority vote."""
    project = make_project(quality_config(overlap=3, k_max=3, agreement="threshold", agreement_threshold=0.01))
    add_and_label(project, 0, n, people=[principal(project, name) for name in PEOPLE])
    return project


def add_and_label(
    project: Project, start: int, n: int, people: list[Any] | None = None, subject: str | None = None
) -> None:
    """Push records ``r{start}..`` (of data subject ``subject``), label them (the record number picks its label),
    aggregate."""
    rows: list[dict[str, Any]] = [
        {"id": f"r{i}", "text": f"article number {i} about {LABELS[i % 5]}"} for i in range(start, start + n)
    ]
    if subject is not None:
        rows = [{**row, "user": subject} for row in rows]
    assert push_records(project, orjson.dumps(rows))["new"] == n
    if people is None:
        people = [principal(project, f"{name}{start}") for name in PEOPLE]
    external = external_ids(project)
    create_tasks(project, overlap=3, k_max=3)
    label_all(project, people, lambda _p, rid: LABELS[int(external[rid][1:]) % 5])
    assert quality.aggregate(project, method="majority")["tasks"] >= n


def external_ids(project: Project) -> dict[int, str]:
    with project.store.read() as conn:
        return {int(r[0]): str(r[1]) for r in conn.execute(text("SELECT id, external_id FROM records"))}


def set_final_label(project: Project, record_id: int, label: str) -> None:
    """What a later aggregation does to one record: its final label row is replaced."""
    with project.store.write() as conn:
        conn.execute(
            text("UPDATE final_labels SET value = :v, method = 'adjudicated' WHERE record_id = :r"),
            {"v": orjson.dumps({"label": label}).decode(), "r": record_id},
        )


def rows_of(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def manifest_rows(project: Project, name: str) -> dict[int, str]:
    with project.store.read() as conn:
        return {
            int(r[0]): str(r[1])
            for r in conn.execute(
                text(
                    "SELECT rr.record_id, rr.row_sha256 FROM release_rows rr JOIN releases r ON r.id = rr.release_id "
                    "WHERE r.name = :n AND r.project_id = :p"
                ),
                {"n": name, "p": project.id},
            )
        }


# -- creation, determinism, immutability -----------------------------------------------------------------


def test_release_is_content_addressed_and_immutable(make_project: ProjectFactory) -> None:
    project = labeled_project(make_project)
    first = service.create_release(project, "v1", actor="test")
    assert first["records"] == 30 and len(first["manifest_sha256"]) == 64
    assert sum(first["splits"].values()) == 30 and set(first["classes"]) == set(LABELS)
    with pytest.raises(ConflictError, match="already exists"):
        service.create_release(project, "v1")
    twin = service.create_release(project, "v1-again")
    assert twin["manifest_sha256"] == first["manifest_sha256"]  # same state, another name: same hash
    assert twin["release_id"] != first["release_id"]

    ids = record_ids(project)
    before = manifest_rows(project, "v1")
    set_final_label(project, ids[0], "tech" if LABELS[0] != "tech" else "sport")
    changed = service.create_release(project, "v2")
    assert changed["manifest_sha256"] != first["manifest_sha256"]
    # the existing release keeps its rows and hash; an export still verifies against them
    assert service.get_release(project, "v1")["manifest_sha256"] == first["manifest_sha256"]
    assert manifest_rows(project, "v1") == before
    with project.store.read() as conn:
        audited = conn.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = 'release.create' AND project_id = :p"),
            {"p": project.id},
        ).scalar_one()
    assert audited == 3
    assert [r["name"] for r in service.list_releases(project)] == ["v1", "v1-again", "v2"]


def test_invalid_names_and_empty_state(make_project: ProjectFactory) -> None:
    project = make_project(quality_config(overlap=3, k_max=3))
    with pytest.raises(InvalidInputError, match="nothing to release"):
        service.create_release(project, "v1")
    with pytest.raises(InvalidInputError, match="release name"):
        service.create_release(project, "../evil")
    with pytest.raises(NotFoundError):
        service.get_release(project, "nope")


# -- splits --------------------------------------------------------------------------------------------------


def splits_of(project: Project, name: str) -> dict[str, str]:
    with project.store.read() as conn:
        rows = conn.execute(
            text(
                "SELECT r.external_id, rr.split FROM release_rows rr JOIN releases x ON x.id = rr.release_id "
                "JOIN records r ON r.id = rr.record_id WHERE x.name = :n AND x.project_id = :p"
            ),
            {"n": name, "p": project.id},
        )
        return {str(r[0]): str(r[1]) for r in rows}


def test_splits_are_stable_across_releases_and_never_leak_test_into_train(make_project: ProjectFactory) -> None:
    project = labeled_project(make_project, 40)
    service.create_release(project, "v1", train=0.6, validation=0.2, test=0.2, salt="s1")
    add_and_label(project, 40, 40)
    second = service.create_release(project, "v2")  # inherits v1's ratios and salt
    assert second["params"]["split"] == {"train": 0.6, "validation": 0.2, "test": 0.2, "salt": "s1"}
    old, new = splits_of(project, "v1"), splits_of(project, "v2")
    assert len(old) == 40 and len(new) == 80
    assert all(new[key] == split for key, split in old.items())  # every item keeps its split
    assert new == {key: split_of(key, SplitSpec(0.6, 0.2, 0.2, "s1")) for key in new}  # = f(hash(salt, key))
    assert set(new.values()) == {"train", "validation", "test"}
    # a resplit that would put earlier test/validation records into train is refused...
    with pytest.raises(ConflictError, match="leak"):
        service.create_release(project, "v3", train=0.9, validation=0.05, test=0.05, salt="other")
    assert [r["name"] for r in service.list_releases(project)] == ["v1", "v2"]  # nothing half-made
    # ...unless asked for explicitly
    third = service.create_release(
        project, "v3", train=0.9, validation=0.05, test=0.05, salt="other", allow_resplit=True
    )
    assert third["records"] == 80
    with pytest.raises(InvalidInputError, match="sum to 1"):
        service.create_release(project, "v4", train=0.5, validation=0.1, test=0.1)


# -- diff ---------------------------------------------------------------------------------------------------------


def test_diff_lists_added_removed_and_relabeled_per_class(make_project: ProjectFactory) -> None:
    project = labeled_project(make_project, 20)
    service.create_release(project, "v1")
    ids = record_ids(project)
    external = external_ids(project)
    add_and_label(project, 20, 2)  # (aggregates again: same labels for the first 20)
    old_label = service.release_row(project, "v1", ids[3])["row"]["label"]
    new_label = next(x for x in LABELS if x != old_label)
    set_final_label(project, ids[3], new_label)
    removed_label = service.release_row(project, "v1", ids[5])["row"]["label"]
    with project.store.write() as conn:  # a task sent back: its record has no final label now
        conn.execute(text("UPDATE tasks SET state = 'open' WHERE record_id = :r"), {"r": ids[5]})
    service.create_release(project, "v2")
    d = service.diff_releases(project, "v1", "v2")
    assert d["counts"] == {"added": 2, "removed": 1, "relabeled": 1, "unchanged": 18}
    assert {x["external_id"] for x in d["added"]} == {"r20", "r21"}
    assert d["by_class"]["added"] == {LABELS[0]: 1, LABELS[1]: 1}
    assert [x["record_id"] for x in d["removed"]] == [ids[5]]
    assert d["by_class"]["removed"] == {removed_label: 1}
    [relabeled] = d["relabeled"]
    assert relabeled["record_id"] == ids[3] and relabeled["external_id"] == external[ids[3]]
    assert relabeled["old"]["label"] == old_label and relabeled["new"]["label"] == new_label
    assert relabeled["new"]["labels"] == {"topic": {"label": new_label}}
    assert d["by_class"]["relabeled"] == {f"{old_label} -> {new_label}": 1}
    back = service.diff_releases(project, "v2", "v1", limit=1)
    assert back["counts"]["added"] == 1 and back["counts"]["removed"] == 2 and back["truncated"] is True
    assert len(back["removed"]) == 1
    same = service.diff_releases(project, "v1", "v1")
    assert same["counts"] == {"added": 0, "removed": 0, "relabeled": 0, "unchanged": 20}


# -- export ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_round_trip_verifies_every_row(make_project: ProjectFactory, tmp_path: Path, fmt: str) -> None:
    project = labeled_project(make_project, 25)
    release = service.create_release(project, "v1")
    set_final_label(project, record_ids(project)[0], "tech")  # later changes do not reach the release
    out = tmp_path / f"v1.{fmt}"
    seen: list[tuple[int, int]] = []
    done = service.export_release(
        project, "v1", fmt=fmt, out=out, page_size=7, progress=lambda a, b: seen.append((a, b))
    )
    assert done["records"] == 25 and done["path"] == str(out) and done["sha256"] == file_sha256(out)
    assert seen[-1] == (25, 25) and len(seen) == 4  # paged: 7 + 7 + 7 + 4
    rows = rows_of(out, fmt)
    assert [r["record_id"] for r in rows] == sorted(record_ids(project))
    assert list(rows[0]) == list(COLUMNS)
    manifest = manifest_rows(project, "v1")
    hasher = ManifestHasher(release["params"])
    for row in rows:
        digest = row_hash([row[c] for c in HASHED_COLUMNS])  # anyone can recompute it from the file
        assert digest == manifest[row["record_id"]]
        hasher.add(row["record_id"], digest)
        assert row["source"] == "api" and row["source_key"] and row["ingest_run_id"] and row["batch_id"]
        assert orjson.loads(row["stages"]) and row["schema_version"] == row["guidelines_version"] == 1
        assert row["method"] == "majority" and 0 < row["confidence"] <= 1 and len(row["annotation_ids"]) == 3
        assert row["text"] == orjson.loads(row["payload"])["text"] and row["label"] in LABELS
        assert orjson.loads(row["labels"]) == {"topic": {"label": row["label"]}}
        assert row["label"] == LABELS[int(row["external_id"][1:]) % 5]  # the snapshot, not the later change
        assert orjson.loads(row["selection"])["strategy"] == "random"  # why the item was labeled
    assert hasher.hexdigest() == release["manifest_sha256"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


AWKWARD = [
    'quotes " and "," and \\"escaped\\"',
    "commas, semicolons; tabs\tand\nnew\r\nlines",
    "backslash at the end \\",
    "control \x01\x02\x1f and del \x7f",
    "unicode é 中文 🎉 \u2028 end",
    '{"looks": "like json", "n": [1, 2]}',
    "NULL",
]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_keeps_every_byte_of_awkward_values(make_project: ProjectFactory, tmp_path: Path, fmt: str) -> None:
    """What PostgreSQL's CSV, Arrow's parser and the column-wise JSON must carry through unchanged."""
    project = make_project(quality_config(overlap=3, k_max=3, agreement="threshold", agreement_threshold=0.01))
    big = "a payload kept in the blob store " * 2500  # over the 64 KiB threshold
    rows = [{"id": f'r{i} "{text[:3]}"', "text": text} for i, text in enumerate([*AWKWARD, big])]
    assert push_records(project, orjson.dumps(rows))["new"] == len(rows)
    create_tasks(project, overlap=3, k_max=3)
    label_all(project, [principal(project, name) for name in PEOPLE], lambda _p, rid: LABELS[rid % 5])
    quality.aggregate(project, method="majority")
    service.create_release(project, "v1")
    with project.store.read() as conn:
        stored = {
            int(r[0]): (r[1], r[2], r[3])
            for r in conn.execute(text("SELECT id, external_id, payload, blob_ref FROM records"))
        }
    assert sum(1 for _, payload, ref in stored.values() if payload is None and ref) == 1  # one is in the blob store
    out = tmp_path / f"v1.{fmt}"
    done = service.export_release(project, "v1", fmt=fmt, out=out, page_size=4)
    assert done["records"] == len(rows)
    exported = rows_of(out, fmt)
    manifest = manifest_rows(project, "v1")
    for row in exported:
        external_id, payload, ref = stored[row["record_id"]]
        assert row["external_id"] == external_id
        assert row["payload"] == (payload if payload is not None else project.blobs.get(ref).decode())
        assert row["text"] == orjson.loads(row["payload"])["text"]
        assert row_hash([row[c] for c in HASHED_COLUMNS]) == manifest[row["record_id"]]
    texts = "".join(r["text"] for r in exported)  # what ingestion kept of them is still awkward
    assert all(c in texts for c in ('","', "\\", "\n", "\x01", "\x7f", "中文", "NULL"))
    if fmt == "jsonl":  # each line is what orjson writes for the row
        for line, row in zip(out.read_bytes().splitlines(), exported, strict=True):
            expected = {**row, "annotation_ids": orjson.Fragment(orjson.dumps(row["annotation_ids"]))}
            assert line == orjson.dumps(expected)


def test_parquet_loads_with_hugging_face_datasets_offline(
    make_project: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    project = labeled_project(make_project, 12)
    service.create_release(project, "v1")
    out = tmp_path / "v1.parquet"
    service.export_release(project, "v1", fmt="parquet", out=out)
    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 12 and loaded.column_names == list(COLUMNS)
    assert sorted(loaded["record_id"]) == sorted(record_ids(project))
    assert pq.read_table(out).schema.metadata[b"labelloop.release"] == b"v1"


def test_export_refuses_rows_that_no_longer_match_the_manifest(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = labeled_project(make_project, 10)
    service.create_release(project, "v1")
    with project.store.write() as conn:
        conn.execute(
            text("UPDATE records SET payload = :p WHERE id = :r"),
            {"p": '{"id": "r3", "text": "tampered"}', "r": record_ids(project)[3]},
        )
    out = tmp_path / "v1.jsonl"
    with pytest.raises(StorageError, match="no longer matches"):
        service.export_release(project, "v1", fmt="jsonl", out=out, page_size=4)
    assert list(tmp_path.iterdir()) == [p for p in tmp_path.iterdir() if p.name != "v1.jsonl"]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert service.release_row(project, "v1", record_ids(project)[3])["verified"] is False


def erase_subject(project: Project, subject: str, style: str) -> None:
    """Erasing a data subject after a release: governance's erasure (content erased, tombstones kept), or
    rows deleted outright by hand."""
    if style == "content erased":
        assert erasure.erase_subject(project, subject, actor="test")["records"] == 2
        return
    with project.store.write() as conn:
        conn.execute(text("DELETE FROM records WHERE subject_id = :s"), {"s": subject})


@pytest.mark.parametrize("style", ["row deleted", "content erased"])
@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_erasure_wins_the_export_leaves_erased_rows_out_and_still_verifies(
    make_project: ProjectFactory, tmp_path: Path, fmt: str, style: str
) -> None:
    project = labeled_project(make_project, 10)
    add_and_label(project, 10, 2, subject="alice")
    release = service.create_release(project, "v1")
    ids = record_ids(project)
    external = external_ids(project)
    with project.store.read() as conn:
        gone = {int(r[0]) for r in conn.execute(text("SELECT id FROM records WHERE subject_id = 'alice'"))}
    assert len(gone) == 2 and release["records"] == 12
    erase_subject(project, "alice", style)  # after the release
    out = tmp_path / f"v1.{fmt}"
    seen: list[tuple[int, int]] = []
    done = service.export_release(
        project, "v1", fmt=fmt, out=out, page_size=5, progress=lambda a, b: seen.append((a, b))
    )
    assert done["records"] == 10 and done["erased_rows"] == 2 and seen[-1] == (12, 12)
    rows = rows_of(out, fmt)
    assert [r["record_id"] for r in rows] == sorted(set(ids) - gone)
    assert not {external[i] for i in gone} & {r["external_id"] for r in rows}
    # every remaining row verifies, and with the hashes the release stored for the erased rows the
    # manifest is still whole
    manifest = manifest_rows(project, "v1")
    in_file = {r["record_id"]: row_hash([r[c] for c in HASHED_COLUMNS]) for r in rows}
    assert all(digest == manifest[rid] for rid, digest in in_file.items())
    hasher = ManifestHasher(release["params"])
    for rid in sorted(manifest):
        hasher.add(rid, in_file.get(rid, manifest[rid]))
    assert hasher.hexdigest() == release["manifest_sha256"]
    if fmt == "parquet":
        assert pq.read_metadata(out).metadata[b"labelloop.erased_rows"] == b"2"
    shown = service.release_row(project, "v1", min(gone))
    assert shown["erased"] is True and shown["verified"] is False and shown["row"]["payload"] is None
    assert service.release_row(project, "v1", ids[3])["erased"] is False
    # nothing erased: nothing left out, and no erasure metadata in the file
    service.create_release(project, "v2")
    again = service.export_release(project, "v2", fmt=fmt, out=tmp_path / f"v2.{fmt}")
    assert again["records"] == 10 and again["erased_rows"] == 0
    if fmt == "parquet":
        assert b"labelloop.erased_rows" not in pq.read_metadata(tmp_path / "v2.parquet").metadata


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from labelloop.config import Settings
    from labelloop.project import open_project
    from labelloop.releases.service import export_release

    folder, url, out, marker = sys.argv[1:5]
    project = open_project(Path(folder), Settings(database_url=url))

    def progress(done, total):
        Path(marker).write_text(str(done))
        time.sleep(30)  # killed here, half way

    export_release(project, "v1", fmt=sys.argv[5], out=Path(out), page_size=5, progress=progress)
    """
)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_kill_9_during_export_leaves_no_file_at_the_target(
    make_project: ProjectFactory, tmp_path: Path, db_url: str, fmt: str
) -> None:
    project = labeled_project(make_project, 15)
    service.create_release(project, "v1")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, marker = out_dir / f"v1.{fmt}", tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(project.dir), db_url, str(out), str(marker), fmt],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        assert time.monotonic() < deadline, "the export never started"
        time.sleep(0.05)
    parts = [p for p in out_dir.iterdir() if p.name.endswith(".part")]
    assert len(parts) == 1  # it really was writing (to its temporary name)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()  # nothing partial at the target...
    done = service.export_release(project, "v1", fmt=fmt, out=out)  # ...and the export simply runs again,
    assert done["records"] == 15 and len(rows_of(out, fmt)) == 15
    assert done["removed_parts"] == [parts[0].name]  # removing what the killed one left behind
    assert [p.name for p in out_dir.iterdir()] == [out.name]


# -- lineage, API, CLI -------------------------------------------------------------------------------------------------


def test_lineage_both_ways_over_the_api(make_project: ProjectFactory, tmp_path: Path, db_url: str) -> None:
    project = labeled_project(make_project, 10)
    token = bearer(add_user(project, "boss", "steward")["token"])
    rid = record_ids(project)[2]
    with TestClient(create_app(project)) as client:
        made = client.post("/api/v1/projects/tickets/releases", json={"name": "v1"}, headers=token)
        assert made.status_code == 201, made.text
        assert made.json().keys() >= {"release_id", "records", "manifest_sha256", "splits", "classes"}
        again = client.post("/api/v1/projects/tickets/releases", json={"name": "v1"}, headers=token)
        assert_problem(again, 409)
        client.post("/api/v1/projects/tickets/releases", json={"name": "v2"}, headers=token)
        # record -> releases
        events = client.get(f"/api/v1/records/{rid}/lineage", headers=token).json()["events"]
        released = [e for e in events if e["kind"] == "released"]
        assert [e["release"] for e in released] == ["v1", "v2"]
        assert released[0]["split"] in ("train", "validation", "test") and len(released[0]["row_sha256"]) == 64
        # release row -> source
        row = client.get(f"/api/v1/projects/tickets/releases/v1/rows/{rid}", headers=token).json()
        assert row["verified"] is True and row["row"]["record_id"] == rid
        ingested = next(e for e in row["lineage"] if e["kind"] == "ingested")
        assert ingested["source"] == "api" and ingested["run_id"] == row["row"]["ingest_run_id"]
        assert ingested["stages"] == orjson.loads(row["row"]["stages"])
        # list, one, diff, download
        listed = client.get("/api/v1/projects/tickets/releases", headers=token).json()["releases"]
        assert [r["name"] for r in listed] == ["v1", "v2"]
        one = client.get("/api/v1/projects/tickets/releases/v2", headers=token).json()
        assert one["manifest_sha256"] == made.json()["manifest_sha256"]
        diff = client.get("/api/v1/projects/tickets/releases/v2/diff", params={"base": "v1"}, headers=token).json()
        assert diff["counts"] == {"added": 0, "removed": 0, "relabeled": 0, "unchanged": 10}
        download = client.get(
            "/api/v1/projects/tickets/releases/v1/export", params={"format": "parquet"}, headers=token
        )
        assert download.status_code == 200 and download.headers["x-labelloop-records"] == "10"
        assert download.headers["x-labelloop-erased-rows"] == "0"
        path = tmp_path / "down.parquet"
        path.write_bytes(download.content)
        assert file_sha256(path) == download.headers["x-labelloop-sha256"] and pq.read_table(path).num_rows == 10
        jsonl = client.get("/api/v1/projects/tickets/releases/v1/export", params={"format": "jsonl"}, headers=token)
        assert len(jsonl.content.splitlines()) == 10
        assert_problem(client.get("/api/v1/projects/tickets/releases/nope", headers=token), 404)
        # policies: annotators may read but not cut or download; another project sees nothing
        annotator = bearer(add_user(project, "ann2", "annotator")["token"])
        assert_problem(client.post("/api/v1/projects/tickets/releases", json={"name": "x"}, headers=annotator), 403)
        assert_problem(client.get("/api/v1/projects/tickets/releases/v1/export", headers=annotator), 403)
        assert client.get("/api/v1/projects/tickets/releases", headers=annotator).status_code == 200
        other = open_other_project(tmp_path / "other", db_url)
        stranger = bearer(add_user(other, "stranger", "admin")["token"])
        for url in (
            "/api/v1/projects/tickets/releases/v1",
            f"/api/v1/projects/tickets/releases/v1/rows/{rid}",
            "/api/v1/projects/tickets/releases/v1/export",
            f"/api/v1/records/{rid}/lineage",
        ):
            assert client.get(url, headers=stranger).status_code in (403, 404), url
        # the stranger's own project has no release v1: 404, not the other project's
        assert_problem(client.get("/api/v1/projects/billing/releases/v1", headers=stranger), 404)
        other.store.dispose()


def test_cli_json_keys(make_project: ProjectFactory, tmp_path: Path, db_url: str) -> None:
    project = labeled_project(make_project, 10)
    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    folder = str(project.dir)

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, [*args, "-C", folder])
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if code == 0 and "--json" in args else result

    made = run("release", "create", "v1", "--json")
    assert made.keys() >= {"release_id", "records", "manifest_sha256"} and made["records"] == 10
    failed = run("release", "create", "v1", "--json", code=1)
    assert "already exists" in failed.output and "Traceback" not in failed.output
    run("release", "create", "v2", "--json")
    listed = run("release", "list", "--json")
    assert [r["name"] for r in listed["releases"]] == ["v1", "v2"]
    diff = run("release", "diff", "v1", "v2", "--json")
    assert diff.keys() >= {"added", "removed", "relabeled"}
    shown = run("release", "show", "v1", "--json")
    assert shown["manifest_sha256"] == made["manifest_sha256"]
    row = run("release", "show", "v1", "--record", str(record_ids(project)[0]), "--json")
    assert row["verified"] is True
    for fmt in ("parquet", "jsonl"):
        out = tmp_path / f"cli.{fmt}"
        exported = run("export", "v1", "--format", fmt, "--out", str(out), "--json")
        assert exported.keys() >= {"path", "records", "sha256", "erased_rows"}
        assert exported["records"] == 10 and exported["sha256"] == file_sha256(out)
    bad = run("export", "v1", "--format", "csv", "--out", str(tmp_path / "x.csv"), code=1)
    assert "unknown export format" in bad.output
    run("release", "diff", "v1", "nope", code=1)
