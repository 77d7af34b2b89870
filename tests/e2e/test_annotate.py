"""The annotate page in Chromium: every question type by keyboard, spans by mouse and keyboard, skip,
undo, guidelines, suggestions, gold feedback, the lease countdown, and answers that survive a lost
connection (sent exactly once when the server is back, also after a reload).

Browser tests run on SQLite only (the page's store side is covered on both backends by
tests/integration/test_ui_annotate.py). ``LABELLOOP_SCREENSHOTS=1`` writes docs/screenshots/annotate*.png.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.e2e.conftest import LiveServer, add_member, log_in

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
LABELS = ["business", "entertainment", "politics", "sport", "tech"]
SPAN_TEXT = "😀 Ada Lovelace met Charles Babbage in London."  # an astral emoji first: offsets are code points


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Browser tests run on a SQLite file only (this overrides the two-backend fixture)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def config(
    questions: list[dict[str, Any]], guidelines: str = "Pick the **main** topic.", **labeling: Any
) -> dict[str, Any]:
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    cfg["record"]["fields"].update({"a": {"type": "string"}, "b": {"type": "string"}})
    cfg["label_schema"] = {"guidelines": guidelines, "questions": questions}
    cfg["labeling"] = labeling
    return cfg


TOPIC = {"name": "topic", "type": "single", "labels": LABELS}


def seeded(
    make_project: ProjectFactory,
    questions: list[dict[str, Any]],
    rows: list[dict[str, Any]] | None = None,
    guidelines: str = "Pick the **main** topic.",
    tasks: bool = True,
    **labeling: Any,
) -> Project:
    """A project with the questions, records (default: 3 short articles) and their tasks, and ``ann``."""
    project = make_project(config(questions, guidelines, **labeling))
    rows = rows or [{"id": f"r{i}", "text": f"Article {i}: the match ended two to one."} for i in range(3)]
    assert push_records(project, orjson.dumps(rows))["new"] == len(rows)
    if tasks:
        create_tasks(project)
    add_member(project, "ann", "annotator")
    return project


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page whose script errors fail the test."""
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    assert errors == [], errors


def open_annotate(page: Any, server: LiveServer, name: str = "ann") -> int:
    """Log in (an annotator lands on the annotate page) and wait for the first task; its id."""
    log_in(page, server.url, name)
    page.wait_for_url(re.compile(r".*/annotate$"))
    page.locator("#task").wait_for(state="visible")
    return shown_task(page)


def shown_task(page: Any) -> int:
    return int(page.locator("#task").get_attribute("data-task-id"))


def wait_next(page: Any, previous: int, timeout: float = 10_000) -> None:
    """Until the page shows another task or the 'nothing to label' state."""
    page.wait_for_function(
        "(id) => { const t = document.getElementById('task');"
        " return t.hidden ? !document.getElementById('empty').hidden : t.dataset.taskId !== id }",
        arg=str(previous),
        timeout=timeout,
    )


def stored(project: Project) -> list[tuple[int, dict[str, Any]]]:
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT task_id, value FROM annotations ORDER BY id")).all()
    return [(int(t), orjson.loads(v)) for t, v in rows]


def shot(page: Any, name: str) -> None:
    if os.environ.get("LABELLOOP_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


# -- every question type by keyboard --------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "keys", "checked", "expected"),
    [
        (TOPIC, ["4"], ["sport"], {"label": "sport"}),
        (
            {"name": "tags", "type": "multi", "labels": ["urgent", "billing", "bug"]},
            ["1", "3", "3", "2"],
            ["urgent", "billing"],
            {"labels": ["billing", "urgent"]},
        ),
        ({"name": "stars", "type": "rating", "scale": [1, 10]}, ["7"], ["7"], {"rating": 7}),
    ],
    ids=["single", "multi", "rating"],
)
def test_keys_pick_the_nth_label_and_enter_submits(
    make_project: ProjectFactory,
    live_server: Any,
    page: Any,
    question: dict[str, Any],
    keys: list[str],
    checked: list[str],
    expected: dict[str, Any],
) -> None:
    project = seeded(make_project, [question])
    server = live_server(project)
    task_id = open_annotate(page, server)
    for key in keys:
        page.keyboard.press(key)
    for label in checked:
        assert page.get_by_label(label, exact=True).is_checked()
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    assert stored(project) == [(task_id, {question["name"]: expected})]
    assert page.get_by_role("status").filter(has_text=f"Saved task {task_id}.").is_visible()


def test_pairwise_shows_both_options_and_keys_choose(make_project: ProjectFactory, live_server: Any, page: Any) -> None:
    rows = [{"id": "p1", "text": "Which answer is more helpful?", "a": "Restart the router.", "b": "<b>Call us</b>"}]
    project = seeded(make_project, [{"name": "better", "type": "pairwise"}], rows=rows)
    server = live_server(project)
    task_id = open_annotate(page, server)
    assert page.locator("#option-a").inner_text() == "Restart the router."
    assert page.locator("#option-b").inner_text() == "<b>Call us</b>"  # shown as text, not markup
    page.keyboard.press("2")
    assert page.get_by_label("B is better").is_checked()
    page.keyboard.press("3")
    assert page.get_by_label("Tie").is_checked()
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    assert stored(project) == [(task_id, {"better": {"choice": "tie"}})]


def test_free_text_and_several_questions(make_project: ProjectFactory, live_server: Any, page: Any) -> None:
    questions = [
        TOPIC,
        {"name": "stars", "type": "rating", "scale": [1, 5]},
        {"name": "note", "type": "text", "required": False, "help": "Anything odd?"},
    ]
    project = seeded(make_project, questions)
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("Enter")  # topic and stars are required: nothing is sent
    assert "topic: pick a label." in page.get_by_role("alert").inner_text()
    page.keyboard.press("2")  # the first labelled question is the active one
    page.get_by_label("3", exact=True).click()  # a click moves the keys to the rating question
    page.keyboard.press("5")
    assert page.get_by_label("5", exact=True).is_checked() and page.get_by_label("entertainment").is_checked()
    note = page.get_by_label("note", exact=True)
    note.click()
    page.keyboard.type("two lines,")
    page.keyboard.press("Enter")  # a new line inside the text box, not a submit
    page.keyboard.type("1 and 2 are text here")
    assert not page.get_by_label("business").is_checked()
    page.keyboard.press("Control+Enter")
    wait_next(page, task_id)
    assert stored(project) == [
        (
            task_id,
            {
                "note": {"text": "two lines,\n1 and 2 are text here"},
                "stars": {"rating": 5},
                "topic": {"label": "entertainment"},
            },
        )
    ]


# -- spans ------------------------------------------------------------------------------------------


SPANS = {"name": "entities", "type": "spans", "labels": ["PER", "ORG", "LOC"]}


def drag_select(page: Any, start: int, end: int) -> None:
    """Select record text from code point ``start`` to ``end`` with the mouse."""
    box = page.evaluate(
        """([start, end]) => {
            const node = document.getElementById('record-text');
            const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
            const full = node.textContent;
            const unit = (cp) => Array.from(full).slice(0, cp).join('').length;  // code points -> UTF-16
            const at = (u) => {
                let seen = 0, t;
                while ((t = walker.nextNode())) {
                    if (seen + t.data.length >= u) return [t, u - seen];
                    seen += t.data.length;
                }
            };
            const [sn, so] = at(unit(start)); walker.currentNode = node; const [en, eo] = at(unit(end));
            const first = document.createRange(); first.setStart(sn, so); first.setEnd(sn, so + 1);
            const last = document.createRange(); last.setStart(en, eo - 1); last.setEnd(en, eo);
            const a = first.getBoundingClientRect(), b = last.getBoundingClientRect();
            return {x1: a.left + 1, y1: a.top + a.height / 2, x2: b.right - 1, y2: b.top + b.height / 2};
        }""",
        [start, end],
    )
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move((box["x1"] + box["x2"]) / 2, box["y2"], steps=3)
    page.mouse.move(box["x2"], box["y2"], steps=3)
    page.mouse.up()


def test_spans_by_mouse_with_a_label_click_and_remove(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    guidelines = "Mark every **person** (PER), **organisation** (ORG) and **place** (LOC); leave out titles."
    project = seeded(make_project, [SPANS], rows=[{"id": "s1", "text": SPAN_TEXT}], guidelines=guidelines)
    server = live_server(project)
    task_id = open_annotate(page, server)
    drag_select(page, 2, 14)  # "Ada Lovelace"
    page.get_by_role("button", name="PER", exact=True).click()
    drag_select(page, 19, 34)  # "Charles Babbage"
    page.keyboard.press("3")  # a label key works after a mouse selection too
    drag_select(page, 38, 44)  # "London"
    page.keyboard.press("3")
    items = page.locator("ul.spans li")
    assert items.count() == 3
    assert "“Charles Babbage”" in items.nth(1).inner_text()
    items.filter(has_text="Charles Babbage").get_by_role("button", name="Remove").click()
    drag_select(page, 19, 34)
    page.keyboard.press("1")
    shot(page, "annotate-spans.png")
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    assert stored(project) == [
        (
            task_id,
            {
                "entities": {
                    "spans": [
                        {"start": 2, "end": 14, "label": "PER"},
                        {"start": 19, "end": 34, "label": "PER"},
                        {"start": 38, "end": 44, "label": "LOC"},
                    ]
                }
            },
        )
    ]
    assert [SPAN_TEXT[1:][s - 1 : e - 1] for s, e in ((2, 14), (19, 34), (38, 44))] == [
        "Ada Lovelace",
        "Charles Babbage",
        "London",
    ]  # the emoji is one code point (and one Python character)


def test_spans_by_keyboard_and_undo(make_project: ProjectFactory, live_server: Any, page: Any) -> None:
    project = seeded(make_project, [TOPIC, SPANS], rows=[{"id": "s1", "text": SPAN_TEXT}])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("4")  # topic: sport
    page.locator("#record-text").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # caret after "😀 "
    page.keyboard.press("Control+Shift+ArrowRight")
    page.keyboard.press("Control+Shift+ArrowRight")  # "Ada Lovelace"
    assert page.locator("#record-text .pending").all_inner_texts() == ["Ada Lovelace"]
    page.keyboard.press("1")  # the selection made the spans question the active one
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # before the full stop
    page.keyboard.press("Control+Shift+ArrowLeft")  # "London"
    assert page.locator("#record-text .pending").all_inner_texts() == ["London"]
    page.keyboard.press("3")
    assert page.locator("ul.spans li").count() == 2
    page.keyboard.press("z")  # undo the LOC span
    assert page.locator("ul.spans li").count() == 1
    page.keyboard.press("z")  # undo the PER span
    assert page.locator("ul.spans li").count() == 0
    page.keyboard.press("z")  # undo topic
    assert not page.get_by_label("sport").is_checked()
    page.keyboard.press("z")
    assert page.get_by_role("status").filter(has_text="Nothing to undo").is_visible()
    page.get_by_label("tech").check()
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    assert stored(project) == [(task_id, {"entities": {"spans": []}, "topic": {"label": "tech"}})]


# -- skip, undo, guidelines, suggestions, gold, lease ------------------------------------------------------


def test_skip_needs_a_reason_and_is_stored(make_project: ProjectFactory, live_server: Any, page: Any) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("s")
    reason = page.get_by_label("Reason")
    assert reason.is_visible() and reason.evaluate("el => el === document.activeElement")
    page.keyboard.press("1")  # keys do not label while the skip form is open
    reason.select_option("other")
    page.get_by_role("button", name="Skip task").click()
    assert "Say in the note why" in page.get_by_role("alert").inner_text()
    page.get_by_label("Note", exact=True).fill("written in Welsh")
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    with project.store.read() as conn:
        skips = conn.execute(text("SELECT task_id, reason FROM skips")).all()
    assert [(int(t), r) for t, r in skips] == [(task_id, "other: written in Welsh")]
    assert stored(project) == []
    # Escape closes the form without skipping
    second = shown_task(page)
    page.keyboard.press("S")
    page.keyboard.press("Escape")
    assert not page.get_by_label("Reason").is_visible() and shown_task(page) == second


def test_z_undoes_the_last_change_and_a_submitted_answer_is_final(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("z")
    assert page.get_by_label("business").is_checked()
    page.get_by_role("button", name="Undo").click()
    assert not any(page.get_by_label(label, exact=True).is_checked() for label in LABELS)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    page.keyboard.press("z")
    assert page.get_by_role("status").filter(has_text="a submitted answer is final").is_visible()
    assert stored(project) == [(task_id, {"topic": {"label": "entertainment"}})]


def test_guidelines_show_their_version_render_markdown_safely_and_collapse(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    guidelines = "Pick the **main** topic.\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))"
    project = seeded(make_project, [TOPIC], guidelines=guidelines)
    server = live_server(project)
    open_annotate(page, server)
    summary = page.locator("#guidelines summary")
    assert summary.inner_text() == "Guidelines (version 1)"
    body = page.locator("#guidelines-body")
    assert body.is_visible()  # new guidelines open by themselves the first time
    assert body.locator("strong").inner_text() == "main"
    assert body.locator("script").count() == 0 and body.locator("a[href*='javascript']").count() == 0
    summary.click()
    assert not body.is_visible()
    summary.click()
    assert body.is_visible()
    summary.click()
    page.reload()
    page.locator("#task").wait_for(state="visible")
    assert not page.locator("#guidelines-body").is_visible()  # seen once: stays closed


def test_a_suggestion_is_shown_and_accepted_with_a_key_never_preselected(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    from labelloop.learning.service import import_predictions

    news = [
        "Wenger hails Arsenal's comeback. Arsene Wenger praised his side's resolve after they came from two goals "
        "down to beat Middlesbrough 5-3 at Highbury on Saturday.",
        "Chelsea sack Mutu. Chelsea have sacked Adrian Mutu after he failed a drugs test, the club confirmed.",
        "Jones files lawsuit against Conte. Former Olympic champion Marion Jones has filed a lawsuit against the "
        "founder of the Balco laboratory.",
    ]
    guidelines = (
        "Pick the **main** topic of the article.\n\n- *sport*: matches, players, clubs, doping cases\n"
        "- *business*: companies, markets, the economy\n\nWhen two topics fit, choose the one of the headline."
    )
    rows = [{"id": f"n{i}", "text": body} for i, body in enumerate(news)]
    project = seeded(make_project, [TOPIC], rows=rows, guidelines=guidelines)
    with project.store.read() as conn:
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))]
    probs = {"sport": 0.82, "tech": 0.18}
    import_predictions(project, [{"record_id": i, "model": "m", "model_version": "2", "probs": probs} for i in ids])
    server = live_server(project)
    task_id = open_annotate(page, server)
    panel = page.get_by_role("complementary", name="Model suggestion")
    panel.wait_for(state="visible")
    assert re.search(r"topic: sport \(82%\)\s+model m, version 2", panel.inner_text())
    assert not page.get_by_label("sport").is_checked()  # a suggestion, not an answer
    page.keyboard.press("a")
    assert page.get_by_label("sport").is_checked()
    shot(page, "annotate.png")
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    assert stored(project) == [(task_id, {"topic": {"label": "sport"}})]


def test_gold_feedback_right_after_a_gold_item(
    make_project: ProjectFactory, live_server: Any, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.labeling import queue
    from labelloop.labeling.gold import add_gold

    class Always:
        def random(self) -> float:
            return 0.0  # every lease is a gold one while there is a gold item to give

    monkeypatch.setattr(queue, "_random", Always())
    project = seeded(make_project, [TOPIC], tasks=False, gold_rate=0.5, gold_feedback=True)
    with project.store.read() as conn:
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))]
    add_gold(project, ids[0], {"topic": {"label": "sport"}})
    create_tasks(project)
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("5")  # tech: wrong
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    feedback = page.locator("#feedback")
    assert feedback.is_visible()
    assert "Gold item: your answer was not correct." in feedback.inner_text()
    assert "The known answer: topic: sport" in feedback.inner_text()


def test_lease_countdown_and_renewal_while_active(make_project: ProjectFactory, live_server: Any, page: Any) -> None:
    project = seeded(make_project, [TOPIC], lease_seconds=12)
    server = live_server(project)
    task_id = open_annotate(page, server)
    left = page.locator("#lease-left")
    first = left.inner_text()
    assert re.fullmatch(r"0:1[0-2]", first), first
    with project.store.read() as conn:
        before = conn.execute(text("SELECT expires_at FROM leases WHERE task_id = :t"), {"t": task_id}).scalar_one()
    page.wait_for_function("(v) => document.getElementById('lease-left').textContent !== v", arg=first)
    page.keyboard.press("1")  # the person is active: the lease is renewed before it ends
    deadline = time.monotonic() + 15
    after = before
    while time.monotonic() < deadline and after <= before:
        time.sleep(0.5)
        with project.store.read() as conn:
            after = conn.execute(text("SELECT expires_at FROM leases WHERE task_id = :t"), {"t": task_id}).scalar_one()
    assert after > before
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    assert stored(project) == [(task_id, {"topic": {"label": "business"}})]


def test_nothing_to_label_shows_a_refresh_button(make_project: ProjectFactory, live_server: Any, page: Any) -> None:
    project = seeded(make_project, [TOPIC], tasks=False)
    server = live_server(project)
    log_in(page, server.url, "ann")
    heading = page.get_by_role("heading", name="Nothing to label right now")
    heading.wait_for(state="visible")
    create_tasks(project)
    page.get_by_role("button", name="Refresh").click()
    page.locator("#task").wait_for(state="visible")
    assert page.locator("#record-text").inner_text().startswith("Article ")


# -- a lost connection and lost leases ----------------------------------------------------------------


def count(project: Project) -> int:
    with project.store.read() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM annotations")).scalar_one())


def test_an_answer_survives_the_server_going_away_and_arrives_once(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("4")
    server.stop()
    page.keyboard.press("Enter")
    waiting = page.get_by_text("1 answer waiting to be sent")
    waiting.wait_for(state="visible")
    assert page.locator("#connection").is_visible()
    assert count(project) == 0
    stored_box = page.evaluate(f"localStorage.getItem('labelloop:{project.name}:ann:outbox')")
    assert json.loads(stored_box)[0]["task_id"] == task_id
    server.start()  # same port: the page's retries reach it
    waiting.wait_for(state="hidden", timeout=20_000)
    page.locator("#task").wait_for(state="visible", timeout=20_000)
    assert shown_task(page) != task_id
    time.sleep(1.5)  # any duplicate retry would have landed by now
    assert stored(project) == [(task_id, {"topic": {"label": "sport"}})]


def test_the_outbox_is_sent_first_after_a_reload_while_the_server_was_down(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("2")
    server.stop()
    page.keyboard.press("Enter")
    page.get_by_text("1 answer waiting to be sent").wait_for(state="visible")
    with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED"):
        page.reload()  # the browser cannot even load the page now
    # Chromium shows its error page after the failed load; a navigation started
    # before that page commits is interrupted by it, so wait for it first.
    page.wait_for_url(lambda url: url.startswith("chrome-error://"))
    assert count(project) == 0
    server.start()
    page.goto(f"{server.url}/projects/{project.name}/annotate")
    page.locator("#task").wait_for(state="visible")
    assert not page.locator("#outbox").is_visible()
    assert stored(project) == [(task_id, {"topic": {"label": "entertainment"}})]


def test_logging_out_with_answers_waiting_asks_first_then_clears_them(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.route("**/annotations", lambda route: route.abort())  # the answer cannot be sent
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.get_by_text("1 answer waiting to be sent").wait_for(state="visible")
    outbox = f"localStorage.getItem('labelloop:{project.name}:ann:outbox')"
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Log out").click()
    assert asked and asked[0].startswith("1 answer is still waiting to be sent from this browser.")
    assert page.url.endswith("/annotate")  # stayed: the answer is kept
    assert json.loads(page.evaluate(outbox))[0]["task_id"] == task_id
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    assert page.evaluate(outbox) is None
    assert page.evaluate("sessionStorage.length") == 0
    assert count(project) == 0
    with project.store.read() as conn:
        live = conn.execute(text("SELECT COUNT(*) FROM web_sessions WHERE revoked_at IS NULL")).scalar_one()
    assert live == 0


def test_logging_out_with_nothing_waiting_does_not_ask(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    open_annotate(page, server)
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    assert asked == []


def _expire(project: Project, task_id: int) -> None:
    with project.store.write() as conn:
        conn.execute(text("UPDATE leases SET expires_at = 1 WHERE task_id = :t"), {"t": task_id})


def test_a_lost_lease_is_said_clearly_and_the_answer_dropped(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    _expire(project, task_id)  # e.g. the laptop slept through the lease
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    alert = page.get_by_role("alert")
    assert f"Your answer to task {task_id} was not stored" in alert.inner_text()
    assert "expired" in alert.inner_text()
    assert not page.locator("#outbox").is_visible() and count(project) == 0

    # the same, for an answer that waited in the outbox while the server was away
    second = shown_task(page)
    page.keyboard.press("1")
    server.stop()
    page.keyboard.press("Enter")
    page.get_by_text("1 answer waiting to be sent").wait_for(state="visible")
    _expire(project, second)
    server.start()
    page.get_by_text("1 answer waiting to be sent").wait_for(state="hidden", timeout=20_000)
    message = page.get_by_role("alert").filter(has_text=f"Your answer to task {second} could not be saved")
    message.wait_for(state="visible")
    assert "removed from the waiting answers" in message.inner_text()
    assert count(project) == 0


def test_a_reload_keeps_the_task_and_the_answer_in_progress(
    make_project: ProjectFactory, live_server: Any, page: Any
) -> None:
    project = seeded(make_project, [TOPIC])
    server = live_server(project)
    task_id = open_annotate(page, server)
    page.keyboard.press("3")
    page.reload()
    page.locator("#task").wait_for(state="visible")
    assert shown_task(page) == task_id  # the same lease, not a second one
    assert page.get_by_label("politics").is_checked()
    page.keyboard.press("Enter")
    wait_next(page, task_id)
    with project.store.read() as conn:
        leases = conn.execute(text("SELECT COUNT(*) FROM leases WHERE task_id = :t"), {"t": task_id}).scalar_one()
    assert leases == 1
    assert stored(project) == [(task_id, {"topic": {"label": "politics"}})]


# -- the benchmark, at its small size ----------------------------------------------------------------


@pytest.mark.slow
def test_ui_bench_small_reports_both_figures() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABELLOOP_DATABASE_URL"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ui_bench.py"), "--size", "small", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["tasks"] > 0 and report["loads"] >= 20 and report["submits"] >= 50
    for figure in ("first_paint_ms", "next_task_ms"):
        assert report[figure]["p50"] > 0 and report[figure]["p95"] >= report[figure]["p50"]
    assert report["stored"] == report["submitted"]  # every keyboard submit arrived, once
