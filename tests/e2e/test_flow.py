"""The whole labeling round in the browser, as people do it.

An admin logs in and publishes the schema; two annotators label the same tasks with the
keyboard and one of them disagrees on one article; a reviewer accepts one answer and rejects
another with a reason code; the adjudicator settles the conflict; the dashboard then shows the
agreement and the counts that the API reports.
"""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.e2e.conftest import E2E_TIMEOUT_MS, add_member, log_in

LABELS = ["business", "entertainment", "politics", "sport", "tech"]
ARTICLES = {
    "a1": "Arsenal beat Chelsea two to one in the cup final at Wembley.",
    "a2": "The striker signed a new four-year contract with the club.",
    "a3": "A new phone chip doubles battery life, the maker says.",
}
#: What each annotator answers per article; bob disagrees on a3.
ANSWERS = {"ann": {"a1": "sport", "a2": "sport", "a3": "tech"}, "bob": {"a1": "sport", "a2": "sport", "a3": "business"}}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The browser flow runs on a SQLite file (the services are covered on both backends elsewhere)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def flow_config() -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["label_schema"] = {
        "guidelines": "Pick the **main** topic of the article.",
        "questions": [{"name": "topic", "type": "single", "labels": LABELS}],
    }
    config["labeling"] = {"overlap": 2, "k_max": 2}
    return config


def key_of(text_shown: str) -> str:
    return next(k for k, v in ARTICLES.items() if v in text_shown)


def annotate_all(page: Any, base: str, project: Project, person: str) -> None:
    """Label every task the queue hands out with the keyboard only: a digit, then Enter."""
    page.goto(f"{base}/projects/{project.name}/annotate")
    answered: list[str] = []
    for _ in range(len(ARTICLES)):
        # the next task: a shown record this person has not answered yet
        page.wait_for_function(
            "(done) => { const r = document.querySelector('#record-text');"
            " return !!r && r.offsetParent !== null && r.textContent.length > 0 && !done.includes(r.textContent); }",
            arg=answered,
        )
        shown = str(page.locator("#record-text").text_content())
        label = ANSWERS[person][key_of(shown)]
        page.keyboard.press(str(LABELS.index(label) + 1))
        page.keyboard.press("Enter")
        answered.append(shown)
        deadline = time.monotonic() + E2E_TIMEOUT_MS / 1000
        while answers_by(project, person) < len(answered):  # stored before the next one is asked for
            assert time.monotonic() < deadline, f"{person}'s answer {len(answered)} never arrived"
            time.sleep(0.05)
    page.get_by_text("Nothing to label right now").wait_for()


def answers_by(project: Project, person: str) -> int:
    with project.store.read() as conn:
        found = conn.execute(
            text("SELECT COUNT(*) FROM annotations a JOIN users u ON u.id = a.user_id WHERE u.name = :n"), {"n": person}
        ).scalar_one()
    return int(found)


def stored_answers(project: Project) -> dict[tuple[str, str], str]:
    with project.store.read() as conn:
        rows = conn.execute(
            text(
                "SELECT u.name, r.source_key, a.value FROM annotations a JOIN users u ON u.id = a.user_id"
                " JOIN tasks t ON t.id = a.task_id JOIN records r ON r.id = t.record_id"
            )
        ).all()
    return {(str(name), str(key)): orjson.loads(value)["topic"]["label"] for name, key, value in rows}


def test_a_whole_round_in_the_browser(make_project: ProjectFactory, live_server: Any, browser: Any) -> None:
    project = make_project(flow_config())
    rows = [{"id": key, "text": body} for key, body in ARTICLES.items()]
    assert push_records(project, orjson.dumps(rows))["new"] == len(ARTICLES)
    for name, role in [("root", "admin"), ("ann", "annotator"), ("bob", "annotator"), ("rita", "reviewer"),
                       ("jude", "adjudicator")]:  # fmt: skip
        add_member(project, name, role)
    server = live_server(project)
    errors: list[str] = []

    def person(name: str) -> Any:
        context = browser.new_context()
        context.set_default_timeout(E2E_TIMEOUT_MS)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
        log_in(page, server.url, name)
        return page

    # the admin publishes the schema from labelloop.yaml on the settings page
    admin = person("root")
    admin.goto(f"{server.url}/projects/{project.name}/settings")
    admin.get_by_role("button", name="Publish version 1").click()
    admin.wait_for_load_state()
    versions = admin.get_by_role("list", name="Published versions")
    assert versions.get_by_role("heading", name=re.compile(r"^Version \d")).all_inner_texts() == ["Version 1 current"]
    created = create_tasks(project, overlap=2, k_max=2)
    assert created["created"] == len(ARTICLES)

    # two annotators label the same tasks with the keyboard; bob disagrees on a3
    for name in ("ann", "bob"):
        annotate_all(person(name), server.url, project, name)
    answers = stored_answers(project)
    assert answers == {(name, key): label for name, chosen in ANSWERS.items() for key, label in chosen.items()}

    # the reviewer accepts the first answer shown and rejects the next with a reason code
    reviewer = person("rita")
    reviewer.goto(f"{server.url}/projects/{project.name}/review")
    reviewer.get_by_role("button", name="Accept", exact=True).click()
    assert re.fullmatch(r"Annotation \d+ accepted\.", reviewer.get_by_role("status").inner_text())
    reviewer.get_by_label("Reason code").select_option("wrong_label")
    reviewer.get_by_role("button", name="Reject", exact=True).click()
    assert re.fullmatch(r"Annotation \d+ rejected\.", reviewer.get_by_role("status").inner_text())
    with project.store.read() as conn:
        decisions = sorted(str(d) for d in conn.execute(text("SELECT decision FROM reviews")).scalars())
    assert decisions == ["accept", "reject"]

    # the adjudicator settles a3 with ann's answer
    adjudicator = person("jude")
    adjudicator.goto(f"{server.url}/projects/{project.name}/adjudicate")
    assert ARTICLES["a3"] in adjudicator.locator("main").inner_text()
    adjudicator.get_by_label("Reason").fill("A phone chip is technology news.")
    adjudicator.get_by_role("article", name="Answer by ann").get_by_role("button", name="Use this answer").click()
    assert re.fullmatch(r"Task \d+ settled\.", adjudicator.get_by_role("status").inner_text())
    with project.store.read() as conn:
        state = conn.execute(
            text("SELECT t.state FROM tasks t JOIN records r ON r.id = t.record_id WHERE r.source_key = 'a3'")
        ).scalar_one()
    assert state == "complete"

    # the dashboard shows the agreement and the counts the API reports
    admin.goto(f"{server.url}/projects/{project.name}/dashboard")
    admin.wait_for_selector("body[data-charts='ready']", timeout=30_000)
    base = f"{server.url}/api/v1/projects/{project.name}"
    metrics = admin.request.get(f"{base}/metrics").json()
    agreement = admin.request.get(f"{base}/agreement?bootstrap=0").json()

    def kpi(key: str) -> str:
        return str(admin.locator(f'[data-kpi="{key}"]').get_attribute("data-value"))

    assert int(kpi("records")) == metrics["records"] == len(ARTICLES)
    assert int(kpi("labeled")) == metrics["labeled"]
    assert agreement["krippendorff_alpha"] is not None
    assert float(kpi("alpha")) == pytest.approx(agreement["krippendorff_alpha"])
    assert admin.locator('[data-kpi="alpha"]').inner_text() == f"{agreement['krippendorff_alpha']:.3f}"
    errors_table = admin.get_by_role("table", name=re.compile("^Error types from reviews"))
    assert errors_table.get_by_role("rowheader", name="wrong_label").is_visible()
    assert errors == []
