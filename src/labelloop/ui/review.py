"""The review and adjudication pages.

``/projects/{project}/review`` (permission ``review.decide``) shows the next annotation due
for review beside its record and the task's other answers (with their authors: the project
configuration has no setting that blinds reviewers), and takes one decision: accept, reject
with a reason code, escalate, or fix with a corrected value. ``/projects/{project}/adjudicate``
(permission ``adjudicate``) shows every answer of the next task waiting for adjudication; the
adjudicator uses one of them or writes the final value, with a reason. Both are plain forms
(post/redirect/get); the services in :mod:`labelloop.labeling.review` hold every rule, and a
value they refuse comes back as the same page with the message (422).
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from labelloop.api.deps import Registry
from labelloop.domain.schemas import ANSWER_KEYS
from labelloop.errors import InvalidInputError, NotFoundError
from labelloop.governance.sessions import WebSession
from labelloop.labeling.review import (
    adjudicate,
    adjudicate_with_answer,
    adjudication_item,
    review_annotation,
    review_item,
)
from labelloop.project import Project
from labelloop.ui.web import CurrentSession, PageRoute, check_form_csrf, id_or_none, member, render, see_other

__all__ = ["drafts_from_form", "drafts_from_value", "router", "value_from_form"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: What the flash says after each review decision.
DONE = {"accept": "accepted", "reject": "rejected", "fix": "fixed", "escalate": "escalated to adjudication"}
#: The form field of a question's answer (``answer.<question name>``).
FIELD = "answer."


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts else ""


def _str(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int(form: Any, name: str, what: str) -> int:
    value = id_or_none(_str(form, name))
    if value is None:
        raise InvalidInputError(f"{what} is missing or not a number")
    return value


def drafts_from_value(questions: list[dict[str, Any]], value: dict[str, Any] | None) -> dict[str, Any]:
    """The form state that shows ``value`` (an annotation value) in the answer fields.

    Question name -> a string (a label, a choice, a rating, a text, the spans as JSON) or, for a
    multi question, the list of checked labels; unanswered questions get "" (or []).
    """
    out: dict[str, Any] = {}
    for question in questions:
        name, kind = question["name"], question["type"]
        answer = (value or {}).get(name)
        raw = answer.get(ANSWER_KEYS[kind]) if isinstance(answer, dict) else None
        if kind == "multi":
            out[name] = [str(x) for x in raw] if isinstance(raw, list) else []
        elif kind == "spans":
            out[name] = json.dumps(_spans_in_order(raw), ensure_ascii=False) if raw is not None else ""
        else:
            out[name] = "" if raw is None else str(raw)
    return out


def _spans_in_order(raw: Any) -> Any:
    """Spans with their keys as people write them (start, end, label), not as stored (sorted)."""
    if not isinstance(raw, list):
        return raw
    order = {"start": 0, "end": 1, "label": 2}
    return [
        dict(sorted(span.items(), key=lambda kv: order.get(kv[0], 3))) if isinstance(span, dict) else span
        for span in raw
    ]


def drafts_from_form(questions: list[dict[str, Any]], form: Any) -> dict[str, Any]:
    """The answer fields as the person filled them in (to show them again next to an error)."""
    out: dict[str, Any] = {}
    for question in questions:
        key = FIELD + question["name"]
        if question["type"] == "multi":
            out[question["name"]] = [v for v in form.getlist(key) if isinstance(v, str)]
        else:
            raw = form.get(key)
            out[question["name"]] = raw if isinstance(raw, str) else ""
    return out


def value_from_form(questions: list[dict[str, Any]], form: Any) -> dict[str, Any]:
    """An annotation value from the answer fields of a form (``answer.<question>``).

    Only the shape is built here: ``single`` and ``pairwise`` take the chosen option, ``multi``
    the checked labels, ``rating`` a whole number, ``text`` the text, ``spans`` a JSON list of
    ``{"start", "end", "label"}``. An empty field of an optional question is left out. Whether
    the value is valid is the label schema's call (the service validates it); what cannot even
    be read (a rating that is no number, spans that are no JSON) is an :class:`InvalidInputError`.
    """
    value: dict[str, Any] = {}
    for question in questions:
        name, kind = question["name"], question["type"]
        key = FIELD + name
        required = bool(question.get("required", True))
        if kind == "multi":
            labels = [v for v in form.getlist(key) if isinstance(v, str)]
            if labels or required:
                value[name] = {"labels": labels}
            continue
        raw = form.get(key)
        text = raw if isinstance(raw, str) else ""
        if kind == "text":
            if text.strip() or required:
                value[name] = {"text": text}
            continue
        text = text.strip()
        if not text:
            continue  # a required question left empty: the schema says "missing answer for ..."
        if kind == "rating":
            try:
                value[name] = {"rating": int(text)}
            except ValueError:
                raise InvalidInputError(
                    f"question '{name}': the rating must be a whole number, got '{text[:40]}'"
                ) from None
        elif kind == "spans":
            try:
                value[name] = {"spans": json.loads(text)}
            except (ValueError, RecursionError) as exc:
                why = exc if isinstance(exc, ValueError) else "nested too deep"
                raise InvalidInputError(
                    f"question '{name}': the spans are not valid JSON ({why}); write a list like "
                    '[{"start": 0, "end": 5, "label": "PER"}]'
                ) from None
        else:
            value[name] = {ANSWER_KEYS[kind]: text}
    return value


def _record_view(project: Project, record: dict[str, Any]) -> dict[str, Any]:
    """The record's text (the configured text field) and its other fields, for the page."""
    field = project.config.record.text_field
    payload = dict(record.get("payload") or {})
    text = payload.pop(field, None) if field else None
    fields = {
        k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in payload.items() if v is not None
    }
    return {"id": record["id"], "text": text if isinstance(text, str) else None, "fields": fields}


def _answers(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**a, "when": _when(a.get("created_at"))} for a in items]


# -- review ------------------------------------------------------------------------------------


def _review_page(
    request: Request,
    session: WebSession,
    project: str,
    target: Project,
    item: dict[str, Any] | None,
    *,
    flash: str | None = None,
    error: str | None = None,
    form: Any = None,
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {"active": "review", "flash": flash, "error": error, "item": None}
    if item is not None:
        questions = item["questions"]
        context.update(
            item={**item, "when": _when(item.get("created_at"))},
            record=_record_view(target, item["record"]),
            others=_answers(item["others"]),
            questions=questions,
            reason_codes=item["reason_codes"],
            drafts=drafts_from_form(questions, form)
            if form is not None
            else drafts_from_value(questions, item["value"]),
            chosen_reason=_str(form, "reason_code") if form is not None else "",
            comment=_str(form, "comment") if form is not None else "",
        )
    return render(request, "review.html", session, project, context, status=status)


@router.get("/projects/{project}/review", response_class=HTMLResponse)
def review_page(request: Request, project: str, session: CurrentSession, registry: Registry) -> HTMLResponse:
    """The next annotation due for review, with its record and the task's other answers."""
    target = member(registry, session, project, "review.decide")
    flash = None
    done, annotation = request.query_params.get("done", ""), id_or_none(request.query_params.get("annotation"))
    if done in DONE and annotation is not None:
        flash = f"Annotation {annotation} {DONE[done]}."
    item = review_item(target, session.principal)
    return _review_page(request, session, project, target, item, flash=flash)


@router.post("/projects/{project}/review")
async def review_submit(request: Request, project: str, session: CurrentSession, registry: Registry) -> Response:
    """Accept, reject (with a reason code), escalate or fix (with the corrected value) one annotation."""
    target = member(registry, session, project, "review.decide")
    form = await request.form()
    check_form_csrf(session, form)
    annotation_id = _int(form, "annotation_id", "the annotation")
    decision = _str(form, "decision")
    reason_code = _str(form, "reason_code") or None
    comment = _str(form, "comment") or None
    try:
        value = None
        if decision == "fix":
            item = await run_in_threadpool(review_item, target, session.principal, annotation_id)
            if item is None:  # never with an id (the service raises), but say so rather than assume
                raise NotFoundError(f"annotation {annotation_id} not found")
            value = value_from_form(item["questions"], form)
        await run_in_threadpool(
            review_annotation, target, session.principal, annotation_id, decision, reason_code, value, comment
        )
    except InvalidInputError as exc:
        item = await run_in_threadpool(review_item, target, session.principal, annotation_id)
        return _review_page(request, session, project, target, item, error=_sentence(exc), form=form, status=422)
    return see_other(f"/projects/{project}/review?done={decision}&annotation={annotation_id}")


def _sentence(error: InvalidInputError) -> str:
    """The service's message as a sentence; one that starts with a question's name keeps it as written."""
    message = error.message
    question = error.details.get("question")
    if not (isinstance(question, str) and message.startswith(f"{question}:")):
        message = message[:1].upper() + message[1:]
    return message.rstrip(".") + "."


# -- adjudication ------------------------------------------------------------------------------


def _adjudicate_page(
    request: Request,
    session: WebSession,
    project: str,
    target: Project,
    item: dict[str, Any] | None,
    *,
    flash: str | None = None,
    error: str | None = None,
    form: Any = None,
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {"active": "adjudicate", "flash": flash, "error": error, "item": None}
    if item is not None:
        questions = item["questions"]
        context.update(
            item=item,
            record=_record_view(target, item["record"]),
            answers=_answers(item["annotations"]),
            questions=questions,
            drafts=drafts_from_form(questions, form) if form is not None else drafts_from_value(questions, None),
            reason=_str(form, "reason") if form is not None else "",
        )
    return render(request, "adjudicate.html", session, project, context, status=status)


@router.get("/projects/{project}/adjudicate", response_class=HTMLResponse)
def adjudicate_page(request: Request, project: str, session: CurrentSession, registry: Registry) -> HTMLResponse:
    """The next task waiting for adjudication, every answer side by side."""
    target = member(registry, session, project, "adjudicate")
    done = id_or_none(request.query_params.get("done"))
    flash = f"Task {done} settled." if done is not None else None
    item = adjudication_item(target, session.principal)
    return _adjudicate_page(request, session, project, target, item, flash=flash)


@router.post("/projects/{project}/adjudicate")
async def adjudicate_submit(request: Request, project: str, session: CurrentSession, registry: Registry) -> Response:
    """Settle a task with one of its answers (``use`` = an annotation id) or a written value (``use=write``)."""
    target = member(registry, session, project, "adjudicate")
    form = await request.form()
    check_form_csrf(session, form)
    task_id = _int(form, "task_id", "the task")
    use = _str(form, "use")
    reason = _str(form, "reason")
    try:
        if use == "write":
            item = await run_in_threadpool(adjudication_item, target, session.principal, task_id)
            if item is None:  # never with an id (the service raises), but say so rather than assume
                raise NotFoundError(f"task {task_id} not found")
            value = value_from_form(item["questions"], form)
            await run_in_threadpool(adjudicate, target, session.principal, task_id, value, reason)
        elif (answer_id := id_or_none(use)) is not None:
            await run_in_threadpool(adjudicate_with_answer, target, session.principal, task_id, answer_id, reason)
        else:
            raise InvalidInputError("use one of the answers or write the final value")
    except InvalidInputError as exc:
        item = await run_in_threadpool(adjudication_item, target, session.principal, task_id)
        return _adjudicate_page(request, session, project, target, item, error=_sentence(exc), form=form, status=422)
    return see_other(f"/projects/{project}/adjudicate?done={task_id}")
