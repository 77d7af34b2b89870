"""The review and adjudicate pages through the web app (TestClient), and the services behind them,
on SQLite and PostgreSQL: login, roles, CSRF, decisions through the forms, errors as pages."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from labelloop.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from labelloop.governance.service import Principal, Role, add_user
from labelloop.governance.sessions import authenticate_session
from labelloop.ingest.service import push_records
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.review import (
    adjudicate_with_answer,
    adjudication_item,
    next_for_review,
    review_annotation,
    review_item,
)
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.ui.app import create_web_app
from tests import webclient as web
from tests.conftest import DEFAULT_CONFIG, ProjectFactory

PASSWORD = "review-page-password"
LABELS = ["business", "politics", "sport", "tech"]
TEXTS = [
    "Alice Martin scored twice as <b>Leeds</b> won the final.",
    "The EU fined Nokia over the battery claims of its new phone.",
    "Markets fell after the Bank of England kept interest rates unchanged.",
]
#: The entity each annotator marks in each record.
NAMES = [("Alice Martin", "PER"), ("Nokia", "ORG"), ("Bank of England", "ORG")]


def spans_of(record: int) -> list[dict[str, Any]]:
    """The spans ann and bob both mark in record ``record`` (0-based)."""
    name, label = NAMES[record]
    start = TEXTS[record].index(name)
    return [{"start": start, "end": start + len(name), "label": label}]


def review_config() -> dict[str, Any]:
    """Two annotators per task and no third: a disagreement goes to adjudication."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["label_schema"] = {
        "guidelines": "Pick the main topic; mark people and organisations.",
        "questions": [
            {"name": "topic", "type": "single", "labels": LABELS},
            {"name": "entities", "type": "spans", "labels": ["PER", "ORG"], "required": False},
        ],
    }
    config["labeling"] = {"overlap": 2, "k_max": 2}
    return config


def member(project: Project, name: str, role: str) -> Principal:
    """A project member who can log in with PASSWORD."""
    add_user(project, name, role, password=PASSWORD)
    with project.store.read() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar_one()
    return Principal(int(user_id), name, Role(role), project.id, project.name)


def answer(label: str, spans: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"topic": {"label": label}}
    if spans is not None:
        value["entities"] = {"spans": spans}
    return value


@dataclass
class Seeded:
    project: Project
    ann: Principal
    bob: Principal
    rita: Principal
    jude: Principal


def seed(project: Project) -> Seeded:
    """Three records answered by ann and bob: they agree on the first (sport) and disagree on the
    other two, which wait for adjudication. Annotation ids: ann 1, 2, 3 and bob 4, 5, 6."""
    push_records(project, orjson.dumps([{"id": f"r{i}", "text": t} for i, t in enumerate(TEXTS)]))
    create_tasks(project)
    ann, bob = member(project, "ann", "annotator"), member(project, "bob", "annotator")
    rita, jude = member(project, "rita", "reviewer"), member(project, "jude", "adjudicator")
    for who, labels in ((ann, ["sport", "tech", "business"]), (bob, ["sport", "politics", "sport"])):
        for record, label in enumerate(labels):
            lease = next_task(project, who)
            assert lease is not None and lease["record"]["text"] == TEXTS[record]
            submit_annotation(project, who, lease["task_id"], lease["lease_id"], answer(label, spans_of(record)))
    return Seeded(project, ann, bob, rita, jude)


@pytest.fixture
def seeded(make_project: ProjectFactory) -> Seeded:
    return seed(make_project(review_config()))


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_web_app(seeded.project)) as test_client:
        yield test_client


def log_in(client: TestClient, name: str) -> None:
    web.log_in(client, name, PASSWORD, fresh=False)


csrf_of = web.csrf_of


def session_csrf(client: TestClient, project: Project) -> str:
    """The CSRF token of the client's session (for a role that has no page showing it)."""
    return authenticate_session(project.store, client.cookies["labelloop_session"]).csrf_token


def alert_of(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    assert found is not None, html[:2000]
    return found.group(1)


def flash_of(html: str) -> str:
    found = re.search(r'class="flash" role="status">([^<]*)<', html)
    assert found is not None, html[:2000]
    return found.group(1)


def reviews(project: Project) -> list[tuple[int, str, str | None]]:
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT annotation_id, decision, reason_code FROM reviews ORDER BY id")).all()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def statuses(project: Project) -> dict[int, str]:
    with project.store.read() as conn:
        return {int(r[0]): str(r[1]) for r in conn.execute(text("SELECT id, status FROM annotations"))}


# -- services ------------------------------------------------------------------------------------


def test_review_item_shows_the_tasks_other_answers_with_their_authors(seeded: Seeded) -> None:
    project = seeded.project
    item = review_item(project, seeded.rita)
    assert item is not None
    assert (item["annotation_id"], item["author"], item["value"]["topic"]) == (1, "ann", {"label": "sport"})
    assert [(o["annotation_id"], o["author"], o["value"]["topic"]["label"]) for o in item["others"]] == [
        (4, "bob", "sport")
    ]
    assert [q["name"] for q in item["questions"]] == ["topic", "entities"]
    assert item["reason_codes"] == list(project.config.labeling.reason_codes)
    assert item["record"]["payload"]["text"] == TEXTS[0]
    assert {k: v for k, v in item.items() if k not in ("author", "others", "questions", "reason_codes")} == (
        next_for_review(project, seeded.rita)
    )

    # a named annotation: its author may not review it, a decided one is a conflict, an unknown one 404
    assert review_item(project, seeded.rita, 5) is not None
    with pytest.raises(PermissionDeniedError):
        review_item(project, seeded.ann, 1)
    review_annotation(project, seeded.rita, 1, "accept")
    with pytest.raises(ConflictError):
        review_item(project, seeded.rita, 1)
    with pytest.raises(NotFoundError):
        review_item(project, seeded.rita, 999)
    # nobody is offered their own answers
    theirs = review_item(project, seeded.ann)
    assert theirs is not None and theirs["author"] == "bob"


def test_adjudication_item_and_adjudicating_with_one_answer(seeded: Seeded) -> None:
    project = seeded.project
    item = adjudication_item(project, seeded.jude)
    assert item is not None
    assert [(a["annotation_id"], a["author"], a["value"]["topic"]["label"]) for a in item["annotations"]] == [
        (2, "ann", "tech"),
        (5, "bob", "politics"),
    ]
    task_id = item["task_id"]
    with pytest.raises(PermissionDeniedError):
        adjudication_item(project, seeded.ann, task_id)  # she answered it
    with pytest.raises(NotFoundError):
        adjudicate_with_answer(project, seeded.jude, task_id, 1, "annotation 1 belongs to another task")
    with pytest.raises(InvalidInputError):
        adjudicate_with_answer(project, seeded.jude, task_id, 5, "   ")

    done = adjudicate_with_answer(project, seeded.jude, task_id, 5, "an EU fine is a regulatory story: politics")

    assert done["state"] == "complete"
    with project.store.read() as conn:
        final = conn.execute(
            text("SELECT value FROM annotations WHERE id = :i AND status = 'adjudicated'"), {"i": done["annotation_id"]}
        ).scalar_one()
    assert orjson.loads(final)["topic"] == {"label": "politics"}
    with pytest.raises(ConflictError):
        adjudication_item(project, seeded.jude, task_id)
    following = adjudication_item(project, seeded.jude)
    assert following is not None and following["task_id"] != task_id


# -- the pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["review", "adjudicate"])
def test_pages_need_a_login(client: TestClient, seeded: Seeded, path: str) -> None:
    url = f"/projects/{seeded.project.name}/{path}"
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + url.replace("/", "%2F")
    posted = client.post(url, data={"annotation_id": "1", "task_id": "2", "decision": "accept"}, follow_redirects=False)
    assert posted.status_code == 401
    assert reviews(seeded.project) == []


ROLES = [
    ("review", "annotator", 403),
    ("review", "viewer", 403),
    ("review", "reviewer", 200),
    ("review", "adjudicator", 200),
    ("review", "steward", 200),
    ("adjudicate", "annotator", 403),
    ("adjudicate", "viewer", 403),
    ("adjudicate", "reviewer", 403),
    ("adjudicate", "adjudicator", 200),
    ("adjudicate", "admin", 200),
]


@pytest.mark.parametrize(("path", "role", "status"), ROLES)
def test_each_role_gets_the_pages_its_permission_allows(
    client: TestClient, seeded: Seeded, path: str, role: str, status: int
) -> None:
    member(seeded.project, "someone", role)
    log_in(client, "someone")
    page = client.get(f"/projects/{seeded.project.name}/{path}")
    assert page.status_code == status
    if status == 403:
        assert "Not allowed" in page.text
        token = session_csrf(client, seeded.project)
        posted = client.post(
            f"/projects/{seeded.project.name}/{path}",
            data={"csrf_token": token, "annotation_id": "1", "decision": "accept", "task_id": "2", "use": "2"},
        )
        assert posted.status_code == 403
        assert reviews(seeded.project) == []
        assert adjudication_item(seeded.project, seeded.jude) is not None
    else:
        assert f"<h1>{path.capitalize()}</h1>" in page.text


def test_forms_without_the_csrf_token_are_refused(client: TestClient, seeded: Seeded) -> None:
    name = seeded.project.name
    log_in(client, "jude")  # an adjudicator may review too
    client.get(f"/projects/{name}/review")
    for data in ({}, {"csrf_token": "not-the-token"}):
        refused = client.post(f"/projects/{name}/review", data={**data, "annotation_id": "1", "decision": "accept"})
        assert refused.status_code == 403
        refused = client.post(
            f"/projects/{name}/adjudicate", data={**data, "task_id": "2", "use": "5", "reason": "because"}
        )
        assert refused.status_code == 403
    assert reviews(seeded.project) == []
    assert statuses(seeded.project)[1] == "submitted"
    item = adjudication_item(seeded.project, seeded.jude)
    assert item is not None and item["task_id"] == 2


def test_reviewer_accepts_rejects_and_the_next_item_loads(client: TestClient, seeded: Seeded) -> None:
    name = seeded.project.name
    log_in(client, "rita")
    page = client.get(f"/projects/{name}/review")
    assert page.status_code == 200
    html = page.text
    assert "Answer under review" in html and "Other answer by bob" in html and '<span class="author">ann</span>' in html
    assert "as &lt;b&gt;Leeds&lt;/b&gt; won" in html and "<b>Leeds" not in html  # record text is escaped
    assert '<option value="wrong_label">wrong_label</option>' in html
    token = csrf_of(html)

    accepted = client.post(
        f"/projects/{name}/review",
        data={"csrf_token": token, "annotation_id": "1", "decision": "accept"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/projects/{name}/review?done=accept&annotation=1"
    following = client.get(accepted.headers["location"])
    assert flash_of(following.text) == "Annotation 1 accepted."
    assert 'name="annotation_id" value="2"' in following.text

    # a reject needs a reason code: the same page again, with the message, and nothing stored
    missing = client.post(
        f"/projects/{name}/review", data={"csrf_token": token, "annotation_id": "2", "decision": "reject"}
    )
    assert missing.status_code == 422
    assert alert_of(missing.text).startswith("A reject needs a reason_code from the project&#39;s taxonomy")
    assert 'name="annotation_id" value="2"' in missing.text
    rejected = client.post(
        f"/projects/{name}/review",
        data={"csrf_token": token, "annotation_id": "2", "decision": "reject", "reason_code": "wrong_label"},
    )
    assert rejected.status_code == 200 and flash_of(rejected.text) == "Annotation 2 rejected."
    assert reviews(seeded.project) == [(1, "accept", None), (2, "reject", "wrong_label")]
    again = client.post(
        f"/projects/{name}/review", data={"csrf_token": token, "annotation_id": "2", "decision": "accept"}
    )
    assert again.status_code == 409 and "already decided" in again.text
    escalated = client.post(
        f"/projects/{name}/review", data={"csrf_token": token, "annotation_id": "3", "decision": "escalate"}
    )
    assert flash_of(escalated.text) == "Annotation 3 escalated to adjudication."
    assert statuses(seeded.project)[3] == "escalated"


def test_bad_fix_values_come_back_as_a_4xx_page_with_the_message(client: TestClient, seeded: Seeded) -> None:
    name = seeded.project.name
    log_in(client, "rita")
    token = csrf_of(client.get(f"/projects/{name}/review").text)
    base = {"csrf_token": token, "annotation_id": "1", "decision": "fix", "reason_code": "wrong_label"}
    cases = [
        ({"answer.topic": "cooking"}, "&#39;cooking&#39; is not a label"),
        ({"answer.topic": ""}, "Missing answer for required question &#39;topic&#39;."),
        ({"answer.topic": "tech", "answer.entities": "[{not json"}, "the spans are not valid JSON"),
        ({"answer.topic": "tech", "answer.entities": '[{"start": 0, "end": 999, "label": "PER"}]'}, "entities"),
        ({"answer.topic": "tech", "answer.entities": '[{"start": 0, "end": 5, "label": "LOC"}]'}, "LOC"),
    ]
    for fields, message in cases:
        response = client.post(f"/projects/{name}/review", data={**base, **fields})
        assert response.status_code == 422, (fields, response.text[:500])
        assert message in alert_of(response.text), (fields, alert_of(response.text))
        assert "Answer under review" in response.text  # the page, not a bare error
    # what the reviewer typed is shown again
    assert "LOC" in response.text and "[{not json" not in response.text
    assert reviews(seeded.project) == []
    assert statuses(seeded.project)[1] == "submitted"

    fixed = client.post(
        f"/projects/{name}/review",
        data={**base, "answer.topic": "tech", "answer.entities": '[{"start": 0, "end": 5, "label": "PER"}]'},
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    assert reviews(seeded.project) == [(1, "fix", "wrong_label")]
    with seeded.project.store.read() as conn:
        value = conn.execute(text("SELECT value FROM annotations WHERE supersedes = 1")).scalar_one()
    assert orjson.loads(value) == answer("tech", [{"start": 0, "end": 5, "label": "PER"}])


def test_adjudicator_uses_an_answer_or_writes_the_value(client: TestClient, seeded: Seeded) -> None:
    name = seeded.project.name
    log_in(client, "jude")
    page = client.get(f"/projects/{name}/adjudicate")
    assert page.status_code == 200
    assert "Answer by ann" in page.text and "Answer by bob" in page.text
    assert page.text.count(">Use this answer</button>") == 2
    token = csrf_of(page.text)

    no_reason = client.post(f"/projects/{name}/adjudicate", data={"csrf_token": token, "task_id": "2", "use": "5"})
    assert no_reason.status_code == 422 and alert_of(no_reason.text) == "An adjudication needs a reason."
    used = client.post(
        f"/projects/{name}/adjudicate",
        data={"csrf_token": token, "task_id": "2", "use": "5", "reason": "EU fine: politics"},
        follow_redirects=False,
    )
    assert used.status_code == 303 and used.headers["location"] == f"/projects/{name}/adjudicate?done=2"

    following = client.get(used.headers["location"])
    assert flash_of(following.text) == "Task 2 settled."
    assert 'name="task_id" value="3"' in following.text
    bad = client.post(
        f"/projects/{name}/adjudicate",
        data={"csrf_token": token, "task_id": "3", "use": "write", "reason": "r", "answer.topic": "weather"},
    )
    assert bad.status_code == 422 and "&#39;weather&#39; is not a label" in alert_of(bad.text)
    assert 'value="r"' in bad.text  # the reason typed is kept
    written = client.post(
        f"/projects/{name}/adjudicate",
        data={"csrf_token": token, "task_id": "3", "use": "write", "reason": "markets", "answer.topic": "business"},
    )
    assert written.status_code == 200 and "Nothing to adjudicate right now." in written.text
    with seeded.project.store.read() as conn:
        finals = conn.execute(
            text("SELECT task_id, value FROM annotations WHERE status = 'adjudicated' ORDER BY task_id")
        ).all()
    assert [(int(t), orjson.loads(v)) for t, v in finals] == [
        (2, answer("politics", spans_of(1))),
        (3, answer("business")),
    ]


def test_nothing_to_review_right_now(make_project: ProjectFactory) -> None:
    project = make_project(review_config())
    member(project, "rita", "reviewer")
    with TestClient(create_web_app(project)) as client:
        log_in(client, "rita")
        page = client.get(f"/projects/{project.name}/review")
        assert page.status_code == 200 and "Nothing to review right now." in page.text
        member(project, "jude", "adjudicator")
        log_in(client, "jude")
        page = client.get(f"/projects/{project.name}/adjudicate")
        assert page.status_code == 200 and "Nothing to adjudicate right now." in page.text


def test_answer_fields_read_every_question_type() -> None:
    from starlette.datastructures import FormData

    from labelloop.ui.review import drafts_from_form, drafts_from_value, value_from_form

    questions = [
        {"name": "topic", "type": "single", "labels": LABELS, "required": True},
        {"name": "tags", "type": "multi", "labels": ["urgent", "billing"], "required": False},
        {"name": "stars", "type": "rating", "scale": [1, 5], "required": False},
        {"name": "better", "type": "pairwise", "required": True},
        {"name": "note", "type": "text", "required": False},
        {"name": "ents", "type": "spans", "labels": ["PER"], "required": False},
    ]
    value = {
        "topic": {"label": "tech"},
        "tags": {"labels": ["billing", "urgent"]},
        "stars": {"rating": 4},
        "better": {"choice": "tie"},
        "note": {"text": "  two\nlines "},
        "ents": {"spans": [{"end": 3, "label": "PER", "start": 0}]},
    }
    drafts = drafts_from_value(questions, value)
    assert drafts == {
        "topic": "tech",
        "tags": ["billing", "urgent"],
        "stars": "4",
        "better": "tie",
        "note": "  two\nlines ",
        "ents": '[{"start": 0, "end": 3, "label": "PER"}]',
    }
    fields = [(f"answer.{k}", x) for k, v in drafts.items() for x in (v if isinstance(v, list) else [v])]
    form = FormData(fields)
    assert value_from_form(questions, form) == value  # the fields read back to the same value
    assert drafts_from_form(questions, form) == drafts

    # empty optional fields are left out; a required one is sent so the schema can say what is missing
    empty = FormData([("answer.topic", ""), ("answer.better", "a"), ("answer.note", "   ")])
    assert value_from_form(questions, empty) == {"better": {"choice": "a"}}
    with pytest.raises(InvalidInputError, match="whole number"):
        value_from_form(questions, FormData([("answer.stars", "four")]))
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        value_from_form(questions, FormData([("answer.ents", "[{")]))


def test_blind_review_hides_authors_from_reviewers_and_adjudicators(make_project: ProjectFactory) -> None:
    config = review_config()
    config["labeling"]["blind_review"] = True
    s = seed(make_project(config))
    boss = member(s.project, "boss", "steward")
    item = review_item(s.project, s.rita)
    assert item is not None
    shown = [item["author"], *(o["author"] for o in item["others"])]
    assert shown == ["Annotator 1", "Annotator 2"][: len(shown)]
    assert item["author_id"] is None and all(o["author_id"] is None for o in item["others"])
    due = next_for_review(s.project, s.rita)
    assert due is not None and due["author_id"] is None
    adjudication = adjudication_item(s.project, s.jude)
    assert adjudication is not None
    assert {a["author"] for a in adjudication["annotations"]} == {"Annotator 1", "Annotator 2"}
    # stewards still see who wrote what
    assert {a["author"] for a in adjudication_item(s.project, boss)["annotations"]} == {"ann", "bob"}  # type: ignore[index]
    with TestClient(create_web_app(s.project)) as web:
        log_in(web, "rita")
        page = web.get(f"/projects/{s.project.name}/review")
        assert page.status_code == 200
        assert "Annotator 1" in page.text and ">ann<" not in page.text and ">bob<" not in page.text
