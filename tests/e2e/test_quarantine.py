"""The quarantine page in Chromium: held rows with their raw content shown as text, the reason
filter, per-row and bulk release and drop with the counts in the flash, and a held anomalous run.

Rows are quarantined the way they are in production: pushed through ``push_records`` under a
strict configuration (see tests/integration/test_bad_input.py), which is then relaxed so that
some rows can be released. Browser tests run on SQLite only (both backends are covered by
tests/integration/test_ui_quarantine.py). ``LABELLOOP_SCREENSHOTS=1`` writes
docs/screenshots/quarantine.png.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelloop.ingest.quarantine import held_runs
from labelloop.ingest.service import push_records
from labelloop.project import Project
from tests.conftest import ProjectFactory
from tests.e2e.conftest import add_member, log_in
from tests.e2e.test_review import screenshot, watch_console
from tests.integration.test_ui_quarantine import relaxed_config, status_of, strict_config

HOSTILE = '{"id": "T-1043", "text": "<img src=x onerror=alert(1)> refund please", "channel": "web"'
BAD_ROWS = [
    b'{"id": "T-1041", "text": "The printer on floor 3 is jammed again", "channel": "email"}',  # no n
    HOSTILE.encode(),  # invalid JSON (and hostile)
    b'{"id": "T-1044", "text": "Cannot log in since the update this morning", "channel": "chat"}',  # no n
    b'["T-1045", "not an object"]',
    b'{"id": "T-1046", "text": "help", "n": 2}',  # too short for the quality rule
]
WORDS = ["printer", "login", "password", "screen", "network", "email", "invoice", "refund", "order", "delivery"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Browser tests run on a SQLite file only (this overrides the two-backend fixture)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def with_anomalies(config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out["record"]["fields"]["channel"] = {"type": "string"}
    out["stages"]["anomalies"] = {"min_history": 3, "action": "hold"}
    return out


def seed(make_project: ProjectFactory) -> tuple[Project, int]:
    """Five held rows (ids 2..6), then three runs of 30 rows and two collapsed runs of 5 each, which
    are held (answers the id of the last run; the one before it is held too)."""
    strict = make_project(with_anomalies(strict_config()))
    body = b"\n".join([b'{"id": "T-1040", "text": "A perfectly good ticket", "n": 1}', *BAD_ROWS]) + b"\n"
    assert push_records(strict, body)["quarantined"] == 5
    rng = random.Random(3)
    run_id = 0
    for week, n in enumerate([30, 30, 30, 5, 5]):
        rows = [
            {"id": f"W{week}-{i}", "text": " ".join(rng.choice(WORDS) for _ in range(10)), "n": i} for i in range(n)
        ]
        run_id = push_records(strict, orjson.dumps(rows))["run_id"]
    assert [(r["run_id"], r["records"]) for r in held_runs(strict)] == [(run_id, 5), (run_id - 1, 5)]
    return make_project(with_anomalies(relaxed_config())), run_id


def row(page: Any, record_id: int) -> Any:
    return page.locator("tr", has=page.get_by_label(f"Select row {record_id}", exact=True))


def test_bulk_and_single_release_and_drop_with_the_counts(
    make_project: ProjectFactory, live_server: Any, context: Any
) -> None:
    project, run_id = seed(make_project)
    add_member(project, "ada", "steward")
    server = live_server(project)
    page = context.new_page()
    errors = watch_console(page)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, server.url, "ada")
    page.goto(f"{server.url}/projects/{project.name}/quarantine")

    # the untrusted raw row is shown as text, never as markup
    assert row(page, 3).locator("pre.raw").inner_text() == HOSTILE
    assert page.locator("pre.raw img").count() == 0
    assert row(page, 3).get_by_text("invalid_json", exact=True).is_visible()
    held = page.locator("table.runs tr", has_text=f"Run {run_id}")
    assert held.locator("td").nth(2).inner_text() == "5"  # records the run holds
    assert "5 rows read; the last 5 runs had a median of 30" in held.inner_text()
    screenshot(page, "quarantine.png")

    # the reason filter
    page.get_by_label("Reason").select_option("missing_required_field")
    page.get_by_role("button", name="Filter").click()
    assert [page.get_by_label(f"Select row {i}", exact=True).count() for i in (2, 3, 4, 5, 6)] == [1, 0, 1, 0, 0]
    page.get_by_label("Reason").select_option("")
    page.get_by_role("button", name="Filter").click()

    # one row's own button
    row(page, 3).get_by_role("button", name="Drop", exact=True).click()
    assert page.get_by_role("status").inner_text() == "0 released, 0 still failing, 1 dropped."
    assert page.get_by_label("Select row 3", exact=True).count() == 0

    # bulk: every row on the page; the two missing 'n' pass the relaxed configuration now
    page.get_by_label("Select all on this page").check()
    assert all(page.get_by_label(f"Select row {i}", exact=True).is_checked() for i in (2, 4, 5, 6))
    page.get_by_role("button", name="Release selected").click()
    assert page.get_by_role("status").inner_text() == (
        "2 released, 2 still failing (not_an_object: 1, too_short: 1), 0 dropped."
    )

    # a rule can be overridden by a person; a row that is no object cannot: it is dropped
    page.get_by_label("Select row 6", exact=True).check()
    page.get_by_label("Override quality rules").check()
    page.get_by_role("button", name="Release selected").click()
    assert page.get_by_role("status").inner_text() == "1 released, 0 still failing, 0 dropped."
    page.get_by_label("Select row 5", exact=True).check()
    page.get_by_role("button", name="Drop selected").click()
    assert page.get_by_role("status").inner_text() == "0 released, 0 still failing, 1 dropped."
    assert page.get_by_text("Nothing in quarantine.").is_visible()

    # the held runs: one released, one dropped
    held.get_by_role("button", name="Release run").click()
    assert page.get_by_role("status").inner_text() == f"Released run {run_id}: 5 records."
    earlier = page.locator("table.runs tr", has_text=f"Run {run_id - 1}")
    assert "5 rows read; the last 4 runs had a median of 30" in earlier.inner_text()
    earlier.get_by_role("button", name="Drop run").click()
    assert page.get_by_role("status").inner_text() == f"Dropped run {run_id - 1}: 5 records."
    assert page.get_by_role("button", name="Release run").count() == 0

    statuses = status_of(project)
    assert {k: statuses[k] for k in ("T-1040", "T-1041", "#3", "T-1044", "#5", "T-1046")} == {
        "T-1040": "accepted",
        "T-1041": "accepted",
        "#3": "deleted",
        "T-1044": "accepted",
        "#5": "deleted",
        "T-1046": "accepted",
    }
    assert [statuses[f"W4-{i}"] for i in range(5)] == ["accepted"] * 5
    assert [statuses[f"W3-{i}"] for i in range(5)] == ["deleted"] * 5
    assert dialogs == [] and errors == []


def test_an_annotator_typing_the_quarantine_url_gets_403(
    make_project: ProjectFactory, live_server: Any, context: Any
) -> None:
    project = make_project(strict_config())
    add_member(project, "ann", "annotator")
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "ann")
    response = page.goto(f"{server.url}/projects/{project.name}/quarantine")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
