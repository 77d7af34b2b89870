"""A corpus of XSS payloads in records, labels, guidelines, reason codes and skip reasons: none executes.

Every payload, if it ever ran, would set ``window.__xss``, open a dialog or leave an element
carrying a ``data-xss`` attribute in the page. The test visits every page as the role that
works there and checks all three after the page's scripts have run — so it catches escaping
bugs that the CSP would hide (an injected element is a failure even if its handler is blocked),
and reports any CSP violation, which would mean markup was parsed where text was meant.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from labelloop.errors import InvalidInputError
from labelloop.governance.service import Principal, Role, add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.queue import next_task, skip_task, submit_annotation
from labelloop.labeling.review import next_for_review, review_annotation
from labelloop.labeling.schemas import publish_schema
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.e2e.conftest import PASSWORD, log_in

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img data-xss src=x onerror="window.__xss=1">',
    '"><svg data-xss onload=window.__xss=1>',
    "'><img data-xss src=x onerror=window.__xss=1>",
    '" onmouseover="window.__xss=1" data-xss="',
    "</textarea><img data-xss src=x onerror=window.__xss=1>",
    "</script><script>window.__xss=1</script>",
    '<a data-xss href="javascript:window.__xss=1">click</a>',
    '<iframe data-xss srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "<math><mtext><table><mglyph><style><img data-xss src=x onerror=window.__xss=1>",
    "{{ 7*7 }}<details data-xss open ontoggle=window.__xss=1>",
    "javascript:window.__xss=1",
]

GUIDELINES = "\n\n".join(
    [
        "# Pick the topic",
        "A [harmless-looking link](javascript:window.__xss=1) and ![img](x onerror=window.__xss=1).",
        *PAYLOADS,
        '<div data-xss onclick="window.__xss=1">raw html in markdown</div>',
    ]
)

LABELS = [PAYLOADS[1], PAYLOADS[2], "plain", PAYLOADS[5]]


def xss_config() -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["label_schema"] = {
        "guidelines": GUIDELINES,
        "questions": [
            {"name": "topic", "type": "single", "labels": LABELS},
            {"name": "note", "type": "text"},
        ],
    }
    config["labeling"] = {"overlap": 2, "k_max": 2, "reason_codes": [PAYLOADS[0], PAYLOADS[4], "other"]}
    return config


def member(project: Project, name: str, role: str) -> Principal:
    created = add_user(project, name, role, password=PASSWORD)
    assert created["user"] == name
    from sqlalchemy import text

    with project.store.read() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar_one()
    return Principal(int(user_id), name, Role(role), project.id, project.name)


def seeded(make_project: ProjectFactory) -> Project:
    project = make_project(xss_config())
    publish_schema(project, actor="test")
    rows = [{"id": f"x{i}", "text": f"record {i}: {p}", "user": p[:60]} for i, p in enumerate(PAYLOADS)]
    bad = [{"id": "bad-1", "user": PAYLOADS[1]}, {"id": PAYLOADS[3][:60], "user": PAYLOADS[2]}]  # no text: held
    summary = push_records(project, orjson.dumps(rows + bad))
    assert summary["new"] == len(PAYLOADS) and summary["quarantined"] == 2, summary
    create_tasks(project, overlap=2, k_max=2)
    ann, bob = member(project, "ann", "annotator"), member(project, "bob", "annotator")
    member(project, "rev", "reviewer")
    member(project, "adj", "adjudicator")
    member(project, "boss", "admin")
    # two annotators disagree on the first tasks (-> adjudication), one task is skipped with a payload reason
    for index, person in enumerate((ann, bob)):
        for _ in range(3):
            task = next_task(project, person)
            assert task is not None
            value = {"topic": {"label": LABELS[index]}, "note": {"text": PAYLOADS[6 + index]}}
            submit_annotation(project, person, task["task_id"], task["lease_id"], value, 900)
    task = next_task(project, ann)
    assert task is not None
    skip_task(project, ann, task["task_id"], task["lease_id"], PAYLOADS[7])
    reviewer = member(project, "rev2", "reviewer")
    due = next_for_review(project, reviewer)
    assert due is not None
    review_annotation(project, reviewer, int(due["annotation_id"]), "reject", reason_code=PAYLOADS[0])
    return project


def test_user_names_cannot_carry_markup(make_project: ProjectFactory) -> None:
    project = make_project()
    for payload in PAYLOADS:
        with pytest.raises(InvalidInputError, match="user name"):
            add_user(project, payload, "annotator", password=PASSWORD)


PAGES = [
    ("ann", "annotate"),
    ("rev", "review"),
    ("adj", "adjudicate"),
    ("boss", "quarantine"),
    ("boss", "dashboard"),
    ("boss", "settings"),
    ("boss", "review"),
    ("boss", "adjudicate"),
]


def test_no_payload_executes_on_any_page(make_project: ProjectFactory, live_server: Any, browser: Any) -> None:
    project = seeded(make_project)
    server = live_server(project)
    for user, path in PAGES:
        context = browser.new_context()
        context.set_default_timeout(10_000)
        page = context.new_page()
        dialogs: list[str] = []
        violations: list[str] = []
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        page.on(
            "console",
            lambda m, violations=violations: (
                violations.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None
            ),
        )
        log_in(page, server.url, user)
        response = page.goto(f"{server.url}/projects/{project.name}/{path}")
        assert response is not None and response.status == 200, (user, path)
        page.wait_for_load_state("networkidle")
        page.mouse.move(200, 300)  # hover-triggered payloads get their chance
        for candidate in page.locator("details").all()[:5]:
            if candidate.is_visible():
                candidate.click()
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.__xss") is None, (user, path)
        assert dialogs == [], (user, path, dialogs)
        assert page.locator("[data-xss]").count() == 0, (
            user,
            path,
            page.locator("[data-xss]").first.evaluate("e => e.outerHTML"),
        )
        assert page.locator("a[href^='javascript:' i]").count() == 0, (user, path)
        assert violations == [], (user, path, violations)
        if path == "annotate":  # the payload is shown, as text
            assert page.get_by_text("onerror", exact=False).count() >= 1
        context.close()
