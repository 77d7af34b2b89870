"""The review and adjudicate pages in Chromium: accept, reject with a reason code, fix with a
corrected value (a bad one first), adjudicate by using one answer and by writing the value.

Reviewers see authors: the project configuration has no setting that blinds them (no
``labeling`` key for it), so there is no blinded view to test. Browser tests run on SQLite only
(both backends are covered by tests/integration/test_ui_review.py).
``LABELLOOP_SCREENSHOTS=1`` writes docs/screenshots/review.png and adjudicate.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from labelloop.project import Project
from tests.conftest import ProjectFactory
from tests.e2e.conftest import log_in
from tests.integration.test_ui_review import PASSWORD, answer, member, review_config, seed, spans_of

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Browser tests run on a SQLite file only (this overrides the two-backend fixture)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def screenshot(page: Any, name: str) -> None:
    if os.environ.get("LABELLOOP_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


def watch_console(page: Any) -> list[str]:
    """Script errors and CSP violations ("Refused to ...") collected while the test runs (a 4xx answer,
    which Chromium also logs as a console error, is expected on these pages and left out)."""
    errors: list[str] = []

    def console(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def reviews(project: Project) -> list[tuple[int, str, str | None]]:
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT annotation_id, decision, reason_code FROM reviews ORDER BY id")).all()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def test_reviewer_accepts_one_answer_and_rejects_another_with_a_reason_code(
    make_project: ProjectFactory, live_server: Any, context: Any
) -> None:
    seeded = seed(make_project(review_config()))
    server = live_server(seeded.project)
    page = context.new_page()
    errors = watch_console(page)
    log_in(page, server.url, "rita", PASSWORD)
    page.goto(f"{server.url}/projects/{seeded.project.name}/review")

    under_review = page.get_by_role("article", name="Answer under review")
    assert "by ann" in under_review.inner_text()
    assert "sport" in under_review.inner_text() and "“Alice Martin”" in under_review.inner_text()  # span text
    other = page.get_by_role("article", name="Other answer by bob")
    assert other.is_visible() and "sport" in other.inner_text()
    assert page.locator(".record-text").inner_text() == "Alice Martin scored twice as <b>Leeds</b> won the final."
    screenshot(page, "review.png")

    page.get_by_role("button", name="Accept", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Annotation 1 accepted."
    assert "tech" in page.get_by_role("article", name="Answer under review").inner_text()  # the next item

    page.get_by_role("button", name="Reject", exact=True).click()  # no reason code yet
    assert page.get_by_role("alert").inner_text().startswith("A reject needs a reason_code")
    page.get_by_label("Reason code").select_option("wrong_label")
    page.get_by_role("button", name="Reject", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Annotation 2 rejected."

    assert reviews(seeded.project) == [(1, "accept", None), (2, "reject", "wrong_label")]
    assert errors == []


def test_reviewer_fixes_an_answer_with_a_corrected_value(
    make_project: ProjectFactory, live_server: Any, context: Any
) -> None:
    seeded = seed(make_project(review_config()))
    server = live_server(seeded.project)
    page = context.new_page()
    errors = watch_console(page)
    log_in(page, server.url, "rita", PASSWORD)
    page.goto(f"{server.url}/projects/{seeded.project.name}/review")

    fix = page.get_by_role("group", name="Fix: the corrected value")
    assert fix.get_by_label("topic").input_value() == "sport"  # starts from the answer under review
    fix.get_by_label("topic").select_option("business")
    page.get_by_label("Reason code").select_option("missed_span")
    spans = fix.get_by_label("entities (spans as JSON)")
    spans.fill('[{"start": 0, "end": 12, "label": "PER"}, {"start": 99, "end": 100')
    with page.expect_response(re.compile(r".*/review$")) as posted:
        page.get_by_role("button", name="Save fix").click()
    assert posted.value.status == 422
    assert "spans are not valid JSON" in page.get_by_role("alert").inner_text()
    assert fix.get_by_label("topic").input_value() == "business"  # what was typed is kept
    assert page.get_by_label("Reason code").input_value() == "missed_span"

    fix.get_by_label("topic").select_option("sport")
    spans.fill('[{"start": 32, "end": 37, "label": "ORG"}, {"start": 0, "end": 12, "label": "PER"}]')
    page.get_by_role("button", name="Save fix").click()
    assert page.get_by_role("status").inner_text() == "Annotation 1 fixed."

    assert reviews(seeded.project) == [(1, "fix", "missed_span")]
    with seeded.project.store.read() as conn:
        fixed = conn.execute(text("SELECT value, status FROM annotations WHERE supersedes = 1")).one()
        original = conn.execute(text("SELECT status FROM annotations WHERE id = 1")).scalar_one()
    expected = answer("sport", [*spans_of(0), {"start": 32, "end": 37, "label": "ORG"}])
    assert (orjson.loads(fixed[0]), fixed[1], original) == (expected, "accepted", "superseded")
    assert errors == []


def test_adjudicator_uses_one_answer_then_writes_the_final_value(
    make_project: ProjectFactory, live_server: Any, context: Any
) -> None:
    seeded = seed(make_project(review_config()))
    server = live_server(seeded.project)
    page = context.new_page()
    errors = watch_console(page)
    log_in(page, server.url, "jude", PASSWORD)
    page.goto(f"{server.url}/projects/{seeded.project.name}/adjudicate")

    assert "tech" in page.get_by_role("article", name="Answer by ann").inner_text()
    assert "politics" in page.get_by_role("article", name="Answer by bob").inner_text()
    page.get_by_label("Reason").fill("An EU fine over product claims is a regulatory story: politics.")
    screenshot(page, "adjudicate.png")
    page.get_by_role("article", name="Answer by bob").get_by_role("button", name="Use this answer").click()
    assert page.get_by_role("status").inner_text() == "Task 2 settled."

    assert "business" in page.get_by_role("article", name="Answer by ann").inner_text()  # task 3 now
    final = page.get_by_role("group", name="Or write the final value")
    final.get_by_label("topic").select_option("business")
    final.get_by_label("entities (spans as JSON)").fill('[{"start": 23, "end": 38, "label": "ORG"}]')
    page.get_by_label("Reason").fill("Interest rates move markets: business, not sport.")
    page.get_by_role("button", name="Save final value").click()
    assert page.get_by_role("status").inner_text() == "Task 3 settled."
    assert page.get_by_text("Nothing to adjudicate right now.").is_visible()

    with seeded.project.store.read() as conn:
        finals = conn.execute(
            text("SELECT task_id, value FROM annotations WHERE status = 'adjudicated' ORDER BY task_id")
        ).all()
        states = dict(conn.execute(text("SELECT id, state FROM tasks")).all())
    assert [(int(t), orjson.loads(v)) for t, v in finals] == [
        (2, answer("politics", spans_of(1))),
        (3, answer("business", spans_of(2))),
    ]
    assert states == {1: "complete", 2: "complete", 3: "complete"}
    assert errors == []


def test_a_reviewer_typing_the_adjudicate_url_gets_403(
    make_project: ProjectFactory, live_server: Any, context: Any
) -> None:
    project = make_project(review_config())
    member(project, "rita", "reviewer")
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "rita", PASSWORD)
    response = page.goto(f"{server.url}/projects/{project.name}/adjudicate")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    assert page.get_by_text("Nothing to review right now.").count() == 0
    page.goto(f"{server.url}/projects/{project.name}/review")
    assert page.get_by_text("Nothing to review right now.").is_visible()
