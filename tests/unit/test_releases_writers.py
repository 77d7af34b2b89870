"""Release files: stale part files of killed exports are removed, a live writer's never; the writer names its owner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from labelloop.releases import writers
from labelloop.releases.manifest import COLUMNS
from labelloop.releases.writers import STALE_AFTER, ReleaseFileWriter, part_name, remove_stale_parts


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def touch(path: Path, age: float = 0.0) -> Path:
    path.write_bytes(b"half a file")
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


def test_only_stale_parts_of_the_same_target_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "v1.parquet"
    host = writers._HOST
    other = "0badc0de" if host != "0badc0de" else "0badc0df"
    dead = touch(tmp_path / f".v1.parquet.{host}.{dead_pid()}.aaaaaaaaaaaa.part")
    live = touch(tmp_path / f".v1.parquet.{host}.{os.getpid()}.bbbbbbbbbbbb.part", age=10 * STALE_AFTER)
    remote_fresh = touch(tmp_path / f".v1.parquet.{other}.1.cccccccccccc.part", age=STALE_AFTER / 2)
    remote_old = touch(tmp_path / f".v1.parquet.{other}.1.dddddddddddd.part", age=STALE_AFTER * 2)
    legacy_fresh = touch(tmp_path / ".v1.parquet.eeeeeeeeeeee.part")
    legacy_old = touch(tmp_path / ".v1.parquet.ffffffffffff.part", age=STALE_AFTER * 2)
    other_target = touch(tmp_path / f".v1.parquet.bak.{host}.{dead_pid()}.aaaaaaaaaaaa.part")
    other_target_old = touch(tmp_path / ".v10.parquet.ffffffffffff.part", age=STALE_AFTER * 2)
    unrelated = touch(tmp_path / ".v1.parquet.notes", age=STALE_AFTER * 2)
    target.write_bytes(b"the previous export")

    removed = remove_stale_parts(target)
    assert sorted(removed) == sorted([dead, remote_old, legacy_old])
    for kept in (live, remote_fresh, legacy_fresh, other_target, other_target_old, unrelated, target):
        assert kept.exists(), kept
    assert remove_stale_parts(target) == []  # nothing left to do
    # the clock decides for the writers that cannot be asked; a live process of this host is never second-guessed
    later = remove_stale_parts(target, now=time.time() + 2 * STALE_AFTER)
    assert sorted(later) == sorted([remote_fresh, legacy_fresh]) and live.exists()


def test_the_writer_names_its_owner_and_cleans_up_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "v1.parquet"
    name = part_name(target).name
    assert name.startswith(f".v1.parquet.{writers._HOST}.{os.getpid()}.") and name.endswith(".part")
    leftover = touch(tmp_path / f".v1.parquet.{writers._HOST}.{dead_pid()}.aaaaaaaaaaaa.part")
    columns: dict[str, list[object]] = {c: [None] for c in COLUMNS}
    columns.update(record_id=[1], split=["train"], annotation_ids=["[1,2]"], schema_version=[1])
    columns["guidelines_version"] = columns["schema_version"]
    with ReleaseFileWriter(target, "parquet", release="v1") as writer:
        assert writer.removed_parts == [leftover] and not leftover.exists()
        assert writer.tmp.exists() and writer.tmp.name.startswith(f".v1.parquet.{writers._HOST}.{os.getpid()}.")
        writer.write_columns(columns)
    assert pq.read_table(target).column("annotation_ids").to_pylist() == [[1, 2]]
    assert [p.name for p in tmp_path.iterdir()] == ["v1.parquet"]
