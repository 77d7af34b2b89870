"""Which annotations count, and what each one answers to a question.

A task's annotations have a history (review fixes, schema migrations, rejections,
adjudication). Two views of them are used:

- *first-pass answers* (agreement): what the annotators gave through the queue
  (annotations made under a lease), the latest per person and task; a schema
  migration's replacement stands in for the answer it migrated, and a reviewer's
  fix does not hide the answer it corrected — agreement measures the people who
  answered, not the corrections.
- *votes* (aggregation): the live answers — submitted, accepted or escalated, the
  latest per person and task — including a reviewer's fix (it supersedes the
  original, which no longer votes); rejected answers do not vote.
- *authoritative values*: an adjudicator's value or a confirmed label-error
  correction settles a task outright (the latest one wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import orjson

from labelloop.domain.schemas import LabelSchema, Question
from labelloop.errors import InvalidInputError
from labelloop.store.quality import AnnotationRow

__all__ = [
    "AGGREGATED_TYPES",
    "AUTHORITATIVE",
    "Vote",
    "answer_of",
    "authoritative",
    "first_pass",
    "live_votes",
    "main_question",
]

#: Question types whose answers are categories (or ordered categories) that votes can decide.
AGGREGATED_TYPES = ("single", "pairwise", "rating")
#: Annotation statuses that settle a task's value outright.
AUTHORITATIVE = ("adjudicated", "corrected")
_VOTING = ("submitted", "accepted", "escalated")


class Vote(NamedTuple):
    """One annotation as the quality code sees it (a named tuple: a project reads every one)."""

    annotation_id: int
    task_id: int
    record_id: int
    user_id: int
    value: Mapping[str, Any]
    created_at: float
    source_id: int
    task_state: str
    is_gold: bool
    gold_value: Mapping[str, Any] | None


class _Votes:
    """Builds votes, parsing each distinct JSON value once (categorical answers repeat a handful of
    values; parsing each copy was the largest cost of reading a project's answers)."""

    def __init__(self) -> None:
        self._parsed: dict[str, Any] = {}

    def _json(self, text: str) -> Any:
        found = self._parsed.get(text)
        if found is None:
            found = self._parsed[text] = orjson.loads(text)
        return found

    def __call__(self, row: AnnotationRow) -> Vote:
        return Vote(
            row.id,
            row.task_id,
            row.record_id,
            row.user_id,
            self._json(row.value),
            float(row.created_at),
            row.source_id,
            row.task_state,
            bool(row.is_gold),
            self._json(row.gold_value) if row.gold_value else None,
        )


def first_pass(rows: Iterable[AnnotationRow]) -> list[Vote]:
    """The answers people gave through the queue: latest per (task, person), in id order."""
    latest: dict[tuple[int, int], AnnotationRow] = {}
    for row in rows:
        if row.lease_id is None or row.status in AUTHORITATIVE:
            continue
        latest[(row.task_id, row.user_id)] = row  # rows come oldest first
    vote = _Votes()
    return [vote(r) for r in sorted(latest.values())]


def live_votes(rows: Iterable[AnnotationRow]) -> list[Vote]:
    """The answers that vote on a task's label now: latest live answer per (task, person).

    A reviewer's fix takes the place of the answer it corrects, in that answer's author's name
    (two fixes by one reviewer on one task are two votes, not one).
    """
    author: dict[int, int] = {}  # annotation id -> whose answer it stands for
    latest: dict[tuple[int, int], AnnotationRow] = {}
    for row in rows:  # oldest first: a superseded answer comes before its fix
        who = row.user_id
        if row.lease_id is None and row.supersedes is not None:
            who = author.get(row.supersedes, who)
        author[row.id] = who
        if row.status in _VOTING:
            latest[(row.task_id, who)] = row._replace(user_id=who)
    vote = _Votes()
    return [vote(r) for r in sorted(latest.values())]


def authoritative(rows: Iterable[AnnotationRow]) -> dict[int, Vote]:
    """Task id -> the adjudicated or corrected annotation that settles it (the latest)."""
    vote = _Votes()
    return {row.task_id: vote(row) for row in rows if row.status in AUTHORITATIVE}


def answer_of(question: Question, value: Mapping[str, Any]) -> Any:
    """The comparable part of an answer to ``question``, or None when it is not answered.

    single -> label (str); pairwise -> choice ("a", "b", "tie"); rating -> int;
    multi -> frozenset of labels; spans -> tuple of (start, end, label), sorted;
    text -> the text.
    """
    answer = value.get(question.name)
    if not isinstance(answer, Mapping):
        return None
    if question.type == "single":
        return answer.get("label")
    if question.type == "pairwise":
        return answer.get("choice")
    if question.type == "rating":
        rating = answer.get("rating")
        return int(rating) if isinstance(rating, int | float) and not isinstance(rating, bool) else None
    if question.type == "multi":
        labels = answer.get("labels")
        return frozenset(str(x) for x in labels) if isinstance(labels, list | tuple) else None
    if question.type == "spans":
        spans = answer.get("spans")
        if not isinstance(spans, list | tuple):
            return None
        return tuple(sorted((int(s["start"]), int(s["end"]), str(s["label"])) for s in spans if isinstance(s, Mapping)))
    text = answer.get("text")
    return text if isinstance(text, str) else None


def main_question(schema: LabelSchema, name: str | None = None) -> Question:
    """The question ``name``, or the first categorical (single, pairwise, rating, multi) one, or the first."""
    if name is not None:
        try:
            return schema.question(name)
        except KeyError as exc:
            raise InvalidInputError(str(exc.args[0])) from None
    for question in schema.questions:
        if question.type in (*AGGREGATED_TYPES, "multi"):
            return question
    return schema.questions[0]
