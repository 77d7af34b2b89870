"""Stratified releases on SQLite and PostgreSQL: every class, small ones included, in the split ratios;
released items keep their split; the same state gives the same manifest; over the service, CLI and API."""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from labelloop.api.app import create_app
from labelloop.cli.main import app as cli
from labelloop.governance.service import add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.quality import service as quality
from labelloop.releases import service
from labelloop.releases.splits import SplitSpec, split_of
from tests.conftest import ProjectFactory
from tests.integration.test_api import bearer
from tests.integration.test_labeling import principal
from tests.integration.test_quality import label_all, quality_config
from tests.integration.test_releases import external_ids, splits_of

PEOPLE = ("ann", "bob", "cyd")


def skewed_label(number: int) -> str:
    """r0-r9 and r40-r49 are sport (the small class), every other record business."""
    return "sport" if number % 40 < 10 else "business"


def add_skewed(project: Project, start: int, n: int, people: list[Any]) -> None:
    rows = [{"id": f"r{i}", "text": f"article {i}"} for i in range(start, start + n)]
    assert push_records(project, orjson.dumps(rows))["new"] == n
    external = external_ids(project)
    create_tasks(project, overlap=3, k_max=3)
    label_all(project, people, lambda _p, rid: skewed_label(int(external[rid][1:])))
    quality.aggregate(project, method="majority")


def class_counts(release: dict[str, Any]) -> dict[str, list[int]]:
    return {label: [c["train"], c["validation"], c["test"]] for label, c in release["classes"].items()}


def test_stratified_releases_keep_classes_in_ratio_and_items_in_their_split(
    make_project: ProjectFactory, db_url: str
) -> None:
    project = make_project(quality_config(overlap=3, k_max=3, agreement="threshold", agreement_threshold=0.01))
    people = [principal(project, name) for name in PEOPLE]
    add_skewed(project, 0, 40, people)  # sport 10, business 30

    v1 = service.create_release(project, "v1", stratify=True, actor="test")
    assert v1["params"]["split"] == {
        "train": 0.8,
        "validation": 0.1,
        "test": 0.1,
        "salt": "labelloop",
        "stratify": True,
    }
    assert class_counts(v1) == {"business": [24, 3, 3], "sport": [8, 1, 1]}
    # the hash alone does not do this: the same keys in hash mode miss the ratios of the small class
    by_hash = [split_of(f"r{i}", SplitSpec()) for i in range(10)]
    assert [by_hash.count(s) for s in ("train", "validation", "test")] != [8, 1, 1]

    # the same state gives the same manifest: inherited (over the CLI) or assigned afresh
    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    again = runner.invoke(cli, ["release", "create", "v1-again", "--stratify", "--json", "-C", str(project.dir)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["manifest_sha256"] == v1["manifest_sha256"]
    fresh = service.create_release(project, "v1-fresh", allow_resplit=True)  # stratify inherited, no split inherited
    assert fresh["manifest_sha256"] == v1["manifest_sha256"] and fresh["params"]["split"]["stratify"] is True

    # more data, over the API: every item of v1 keeps its split, and the classes are still in ratio
    add_skewed(project, 40, 20, people)  # sport +10, business +10
    token = bearer(add_user(project, "boss", "steward")["token"])
    with TestClient(create_app(project)) as client:
        made = client.post(
            "/api/v1/projects/tickets/releases", json={"name": "v2", "stratify": True, "allow_resplit": False},
            headers=token,
        )  # fmt: skip
    assert made.status_code == 201, made.text
    v2 = made.json()
    assert v2["records"] == 60 and class_counts(v2) == {"business": [32, 4, 4], "sport": [16, 2, 2]}
    before, after = splits_of(project, "v1"), splits_of(project, "v2")
    assert len(before) == 40 and all(after[key] == split for key, split in before.items())
    # a release without the flag inherits the mode (a scheduled release goes on stratified)
    v3 = service.create_release(project, "v3")
    assert v3["params"]["split"]["stratify"] is True and splits_of(project, "v3") == after
    assert v3["manifest_sha256"] == v2["manifest_sha256"]
    # and back to hash splits when asked (a resplit: it may move validation/test items into train)
    plain = service.create_release(project, "v4", stratify=False, allow_resplit=True)
    assert "stratify" not in plain["params"]["split"] and plain["manifest_sha256"] != v2["manifest_sha256"]
    assert splits_of(project, "v4") == {key: split_of(key, SplitSpec()) for key in after}
