"""Versioned label schemas: questions, answer validation and migrations between versions.

Pure and standard-library only (no I/O). A :class:`LabelSchema` is a tuple of :class:`Question` s
plus Markdown guidelines. An annotation's *value* maps each question name to its answer; the JSON
shape of each answer is a public contract:

=========  ==============================================  ============================================
type       answer                                          constraints
=========  ==============================================  ============================================
single     ``{"label": "sport"}``                          one of ``labels``
multi      ``{"labels": ["a", "b"]}``                      distinct, from ``labels``, at least
                                                           ``min_labels`` (default 1), at most
                                                           ``max_labels`` (default: no limit)
spans      ``{"spans": [{"start": 0, "end": 5,             character offsets (code points, not bytes),
           "label": "PER"}]}``                             ``0 <= start < end <= len(text)``, label from
                                                           ``labels``, no duplicates, no overlaps
                                                           unless ``allow_overlap``; may be empty
rating     ``{"rating": 4}``                               an integer (not a bool) within ``scale``
                                                           (inclusive, default ``(1, 5)``)
pairwise   ``{"choice": "a"}``                             ``a``, ``b`` or ``tie``
text       ``{"text": "..."}``                             at most ``max_length`` characters (default
                                                           10,000); not blank when required
=========  ==============================================  ============================================

Questions are required unless ``required`` is false; an optional question may be left out of the
value or answered ``null`` (both mean "not answered"). :meth:`LabelSchema.validate` returns the
*normalized* value (answers in schema order, multi labels sorted, spans sorted by
``(start, end, label)``) or raises :class:`~labelloop.errors.InvalidInputError` with one message that
names the question and the problem. Messages quote labels and names but never the annotated text.

Versions. A published version is immutable; the next one declares a :class:`SchemaChange` relative
to its predecessor (labels renamed, merged or split, labels and questions added, questions removed).
:func:`check_change` proves that the declaration explains every difference and completes it with
what can be inferred (added labels and questions). :func:`migrate_value` then rewrites one old
value: renamed and merged labels are rewritten, an answer that used a split label is dropped and its
question listed for relabeling, and so is a new required question. Added labels do not force a
relabel (see :func:`affected_by_added_labels`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypeVar

from labelloop.errors import InvalidInputError

__all__ = [
    "ANSWER_KEYS",
    "LABELLED_TYPES",
    "NAME_PATTERN",
    "PAIRWISE_CHOICES",
    "QUESTION_TYPES",
    "LabelSchema",
    "Migration",
    "Question",
    "SchemaChange",
    "affected_by_added_labels",
    "change_from_mapping",
    "check_change",
    "migrate_value",
    "schema_from_mapping",
]

QUESTION_TYPES = ("single", "multi", "spans", "rating", "pairwise", "text")
#: Question types whose answers are drawn from the question's ``labels``.
LABELLED_TYPES = ("single", "multi", "spans")
PAIRWISE_CHOICES = ("a", "b", "tie")
#: Question names: a letter, then up to 63 letters, digits, ``_``, ``.`` or ``-``.
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_.-]{0,63}"
MAX_LABEL_LENGTH = 100

_NAME_RE = re.compile(NAME_PATTERN)
#: The key of each question type's answer object (``{"label": ...}`` for single, ...).
ANSWER_KEYS = {
    "single": "label",
    "multi": "labels",
    "spans": "spans",
    "rating": "rating",
    "pairwise": "choice",
    "text": "text",
}
_SPAN_KEYS = ("start", "end", "label")
_QUESTION_KEYS = (
    "name",
    "type",
    "labels",
    "required",
    "allow_overlap",
    "scale",
    "min_labels",
    "max_labels",
    "max_length",
    "help",
)
# Parameters that mean something for some types only: giving one elsewhere is almost always a
# mistake (e.g. a scale on a single question), so it is rejected rather than silently ignored.
_ONLY_FOR = {
    "labels": LABELLED_TYPES,
    "allow_overlap": ("spans",),
    "scale": ("rating",),
    "min_labels": ("multi",),
    "max_labels": ("multi",),
    "max_length": ("text",),
}
_SCHEMA_KEYS = ("guidelines", "questions")
# Siblings a schema block in a YAML file may carry next to the schema itself; they are the
# caller's business, so they are tolerated instead of being reported as unknown keys.
_SCHEMA_SIBLINGS = ("version", "change")
_CHANGE_KEYS = ("renamed", "merged", "split", "added_labels", "added_questions", "removed_questions")
# Error messages list at most this many labels, so a 500-label taxonomy does not flood them.
_MAX_LISTED = 20
_MAX_SHOWN_CHARS = 60


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    # bool is a subclass of int, but True is not a rating of 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages read by API and YAML users alike."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _show(value: Any) -> str:
    """A value quoted for a message, clipped: user input can be arbitrarily long."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f", … ({len(items) - _MAX_LISTED} more)"
    return shown


def _invalid(question: str, problem: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(f"{question}: {problem}", question=question, **details)


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Questions and schemas
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One question of a label schema; construction validates it (``ValueError`` when wrong).

    ``labels`` (single, multi, spans only) keep their declared order: it is the order annotators see.
    Parameters that do not apply to the type (``scale`` on a single question, ``labels`` on a rating
    question, ...) must keep their defaults.
    """

    name: str
    type: str
    labels: tuple[str, ...] = ()
    required: bool = True
    allow_overlap: bool = False
    scale: tuple[int, int] = (1, 5)
    min_labels: int = 1
    max_labels: int | None = None
    max_length: int = 10_000
    help: str = ""
    _label_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"question name {_show(self.name)} is invalid: it must start with a letter and contain only "
                "letters, digits, '_', '.' and '-' (at most 64 characters)"
            )
        where = f"question '{self.name}'"
        if self.type not in QUESTION_TYPES:
            raise ValueError(f"{where}: unknown type {_show(self.type)} (types: {', '.join(QUESTION_TYPES)})")
        # Lists are accepted and frozen so that a schema stays hashable and immutable.
        if isinstance(self.labels, list):
            object.__setattr__(self, "labels", tuple(self.labels))
        if isinstance(self.scale, list):
            object.__setattr__(self, "scale", tuple(self.scale))
        self._check_labels(where)
        for flag in ("required", "allow_overlap"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{where}: {flag} must be true or false, got {_json_type(getattr(self, flag))}")
        if not isinstance(self.help, str):
            raise ValueError(f"{where}: help must be a string, got {_json_type(self.help)}")
        self._check_parameters(where)
        object.__setattr__(self, "_label_set", frozenset(self.labels))

    def _check_labels(self, where: str) -> None:
        if not isinstance(self.labels, tuple):
            raise ValueError(f"{where}: labels must be a list of strings, got {_json_type(self.labels)}")
        if self.type not in LABELLED_TYPES:
            if self.labels:
                raise ValueError(f"{where}: a {self.type} question takes no labels")
            return
        if not self.labels:
            raise ValueError(f"{where}: labels are missing: a {self.type} question needs at least one label")
        seen: set[str] = set()
        for label in self.labels:
            if not isinstance(label, str):
                # YAML reads `labels: [1, 2]` as integers; the hint saves a round trip.
                raise ValueError(f"{where}: label {label!r} must be a string, got {_json_type(label)} (quote it)")
            if not label.strip():
                raise ValueError(f"{where}: labels must not be empty or blank")
            if label != label.strip():
                raise ValueError(f"{where}: label {_show(label)} has leading or trailing white space")
            if len(label) > MAX_LABEL_LENGTH:
                raise ValueError(f"{where}: label {_show(label)} is longer than {MAX_LABEL_LENGTH} characters")
            if label in seen:
                raise ValueError(f"{where}: label '{label}' is listed twice")
            seen.add(label)

    def _check_parameters(self, where: str) -> None:
        defaults = {"allow_overlap": False, "scale": (1, 5), "min_labels": 1, "max_labels": None, "max_length": 10_000}
        for param, default in defaults.items():
            if self.type not in _ONLY_FOR[param] and getattr(self, param) != default:
                raise ValueError(f"{where}: {param} applies only to {' and '.join(_ONLY_FOR[param])} questions")
        scale = self.scale
        if not (isinstance(scale, tuple) and len(scale) == 2 and _is_int(scale[0]) and _is_int(scale[1])):
            raise ValueError(f"{where}: scale must be two integers [min, max], got {scale!r}")
        if scale[0] >= scale[1]:
            raise ValueError(f"{where}: scale {scale[0]}..{scale[1]} is empty or reversed (min must be below max)")
        if not _is_int(self.min_labels) or self.min_labels < 0:
            raise ValueError(f"{where}: min_labels must be an integer >= 0, got {self.min_labels!r}")
        if self.type == "multi" and self.min_labels > len(self.labels):
            raise ValueError(f"{where}: min_labels {self.min_labels} exceeds the {len(self.labels)} labels")
        if self.max_labels is not None and (not _is_int(self.max_labels) or self.max_labels < max(1, self.min_labels)):
            raise ValueError(
                f"{where}: max_labels must be an integer >= 1 and >= min_labels ({self.min_labels}), "
                f"got {self.max_labels!r}"
            )
        if not _is_int(self.max_length) or self.max_length < 1:
            raise ValueError(f"{where}: max_length must be an integer >= 1, got {self.max_length!r}")

    def as_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form: fixed key order, only the parameters that apply to the type."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type in LABELLED_TYPES:
            out["labels"] = list(self.labels)
        out["required"] = self.required
        if self.type == "multi":
            out["min_labels"] = self.min_labels
            out["max_labels"] = self.max_labels
        elif self.type == "spans":
            out["allow_overlap"] = self.allow_overlap
        elif self.type == "rating":
            out["scale"] = list(self.scale)
        elif self.type == "text":
            out["max_length"] = self.max_length
        out["help"] = self.help
        return out

    def check_answer(self, answer: Any, text: str | None = None) -> dict[str, Any]:
        """Validate and normalize one answer of this question (see :meth:`LabelSchema.validate`).

        For spans, ``text=None`` skips only the check against the end of the text (labels,
        duplicates, overlaps and ``0 <= start < end`` are still checked).
        """
        return _CHECKERS[self.type](self, _answer_field(self, answer), text)


@dataclass(frozen=True)
class LabelSchema:
    """A set of questions and their guidelines; construction validates it (``ValueError``).

    Example::

        schema = LabelSchema((Question("topic", "single", labels=("sport", "tech")),), guidelines="Main topic.")
        schema.validate({"topic": {"label": "sport"}})  # -> {"topic": {"label": "sport"}}
    """

    questions: tuple[Question, ...]
    guidelines: str = ""
    _by_name: Mapping[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.questions, list):
            object.__setattr__(self, "questions", tuple(self.questions))
        if not isinstance(self.questions, tuple) or not self.questions:
            raise ValueError("label schema has no questions: declare at least one")
        by_name: dict[str, Question] = {}
        for question in self.questions:
            if not isinstance(question, Question):
                raise ValueError(f"label schema questions must be Question objects, got {type(question).__name__}")
            if question.name in by_name:
                raise ValueError(f"question name '{question.name}' is used twice")
            by_name[question.name] = question
        if not isinstance(self.guidelines, str):
            raise ValueError(f"guidelines must be a string (Markdown), got {_json_type(self.guidelines)}")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def names(self) -> tuple[str, ...]:
        """The question names in schema order."""
        return tuple(q.name for q in self.questions)

    def question(self, name: str) -> Question:
        """The question called ``name``; ``KeyError`` when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown question {_show(name)} (questions: {_listing(self.names)})") from None

    def as_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form, ``{"guidelines": ..., "questions": [...]}``, with a stable key order.

        :func:`schema_from_mapping` reads it back to an equal schema.
        """
        return {"guidelines": self.guidelines, "questions": [q.as_dict() for q in self.questions]}

    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the questions, guidelines excluded.

        Independent of the key order of the mapping the schema came from and of parameters spelled
        out at their defaults; question order, label order and ``help`` texts are content and count.
        """
        return hashlib.sha256(_canonical_json(self.as_dict()["questions"]).encode("utf-8")).hexdigest()

    def guidelines_digest(self) -> str:
        """SHA-256 (hex) of the guidelines text (UTF-8), so guideline edits are tracked separately."""
        return hashlib.sha256(self.guidelines.encode("utf-8")).hexdigest()

    def validate(self, value: Any, text: str | None = None) -> dict[str, Any]:
        """Validate an annotation value and return it normalized.

        ``value`` maps question names to answers, e.g. ``{"topic": {"label": "sport"},
        "entities": {"spans": [{"start": 0, "end": 5, "label": "PER"}]}}``. ``text`` is the record's
        text; span offsets index its characters (code points), so it is required whenever the schema
        has a spans question, answered or not.

        Returns a new dict with the answers in schema order, optional questions answered ``null``
        left out, multi labels sorted and spans sorted by ``(start, end, label)``.

        Raises :class:`~labelloop.errors.InvalidInputError` (``details["question"]`` names the
        question when there is one) on the first problem: an unknown question, a missing required
        answer, a wrong JSON type, an extra key in an answer, a label not in the question's labels,
        a span outside the text, overlapping or duplicate spans, a rating outside the scale, ...
        """
        if text is None:
            spans = next((q for q in self.questions if q.type == "spans"), None)
            if spans is not None:
                raise InvalidInputError(
                    f"text is required to validate question '{spans.name}' (span offsets refer to the record's text)",
                    question=spans.name,
                )
        elif not isinstance(text, str):
            raise InvalidInputError(f"text must be a string, got {_json_type(text)}")
        return self._validate(value, text)

    def _validate(self, value: Any, text: str | None) -> dict[str, Any]:
        # text=None here means "do not check span ends against the text" (used by migrations).
        if not isinstance(value, Mapping):
            raise InvalidInputError(
                f"an annotation value must be an object mapping question names to answers, got {_json_type(value)}"
            )
        for key in value:
            if key not in self._by_name:
                raise InvalidInputError(
                    f"unknown question {_show(key)} (questions: {_listing(self.names)})", question=str(key)
                )
        out: dict[str, Any] = {}
        for question in self.questions:
            answer = value.get(question.name)
            if answer is None:
                if question.required:
                    raise InvalidInputError(
                        f"missing answer for required question '{question.name}'", question=question.name
                    )
                continue
            out[question.name] = question.check_answer(answer, text)
        return out

    def labels_of(self, value: Mapping[str, Any]) -> dict[str, list[str]]:
        """Per single/multi/spans question answered in ``value``, the sorted distinct labels it uses.

        Meant for agreement statistics on validated values: unanswered questions are left out (an
        answer with no labels - an empty multi or spans answer - gives ``[]``), other question types
        and malformed parts are ignored.

        Example: ``{"topic": {"label": "sport"}, "ents": {"spans": [{..., "label": "PER"}, {..., "label": "PER"}]}}``
        gives ``{"topic": ["sport"], "ents": ["PER"]}``.
        """
        out: dict[str, list[str]] = {}
        for question in self.questions:
            answer = value.get(question.name)
            if question.type not in LABELLED_TYPES or not isinstance(answer, Mapping):
                continue
            raw = answer.get(ANSWER_KEYS[question.type])
            if question.type == "single":
                used = [raw] if isinstance(raw, str) else []
            elif question.type == "multi":
                used = [x for x in raw if isinstance(x, str)] if isinstance(raw, list | tuple) else []
            else:
                spans = raw if isinstance(raw, list | tuple) else []
                labels = (s.get("label") for s in spans if isinstance(s, Mapping))
                used = [label for label in labels if isinstance(label, str)]
            out[question.name] = sorted(set(used))
        return out


# --------------------------------------------------------------------------------------------
# Answer checks, one per question type. Each returns the normalized answer.
# --------------------------------------------------------------------------------------------


def _answer_field(question: Question, answer: Any) -> Any:
    key = ANSWER_KEYS[question.type]
    if not isinstance(answer, Mapping):
        raise _invalid(question.name, f'answer must be an object like {{"{key}": ...}}, got {_json_type(answer)}')
    extra = [_show(k) for k in answer if k != key]
    if extra:
        raise _invalid(question.name, f"unexpected key {', '.join(extra)} in answer (expected only '{key}')")
    if key not in answer:
        raise _invalid(question.name, f"answer has no '{key}'")
    return answer[key]


def _check_label(question: Question, label: Any, what: str = "label", at: str = "") -> str:
    if not isinstance(label, str):
        raise _invalid(question.name, f"{at}{what} must be a string, got {_json_type(label)}")
    if label not in question._label_set:
        raise _invalid(
            question.name,
            f"{at}{_show(label)} is not a label (labels: {_listing(sorted(question.labels))})",
            label=label[:_MAX_SHOWN_CHARS],
        )
    return label


def _check_single(question: Question, raw: Any, text: str | None) -> dict[str, Any]:
    return {"label": _check_label(question, raw)}


def _check_multi(question: Question, raw: Any, text: str | None) -> dict[str, Any]:
    if not isinstance(raw, list | tuple):
        raise _invalid(question.name, f"labels must be an array of strings, got {_json_type(raw)}")
    seen: set[str] = set()
    for i, item in enumerate(raw):
        label = _check_label(question, item, what=f"labels[{i}]")
        if label in seen:
            raise _invalid(question.name, f"label '{label}' is given twice", label=label)
        seen.add(label)
    if len(seen) < question.min_labels:
        noun = "label is" if question.min_labels == 1 else "labels are"
        raise _invalid(question.name, f"at least {question.min_labels} {noun} required, got {len(seen)}")
    if question.max_labels is not None and len(seen) > question.max_labels:
        raise _invalid(question.name, f"at most {question.max_labels} labels are allowed, got {len(seen)}")
    return {"labels": sorted(seen)}


def _check_spans(question: Question, raw: Any, text: str | None) -> dict[str, Any]:
    if not isinstance(raw, list | tuple):
        raise _invalid(question.name, f"spans must be an array, got {_json_type(raw)}")
    length = None if text is None else len(text)  # code points: offsets are characters, not bytes
    spans: list[tuple[int, int, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise _invalid(
                question.name,
                f'span {i} must be an object like {{"start": 0, "end": 5, "label": ...}}, got {_json_type(item)}',
            )
        extra = [_show(k) for k in item if k not in _SPAN_KEYS]
        if extra:
            raise _invalid(
                question.name, f"span {i} has unexpected key {', '.join(extra)} (expected start, end, label)"
            )
        for key in _SPAN_KEYS:
            if key not in item:
                raise _invalid(question.name, f"span {i} has no '{key}'")
        start, end = item["start"], item["end"]
        for key, offset in (("start", start), ("end", end)):
            if not _is_int(offset):
                raise _invalid(question.name, f"span {i} {key} must be an integer, got {_json_type(offset)}")
        if start >= end:
            raise _invalid(question.name, f"span {i} [{start}, {end}) is empty or reversed (start must be below end)")
        if start < 0 or (length is not None and end > length):
            where = "the text" if length is None else f"the text (length {length})"
            raise _invalid(question.name, f"span {i} [{start}, {end}) is outside {where}")
        label = _check_label(question, item["label"], at=f"span {i} ")
        spans.append((start, end, label))
    spans.sort()
    for a, b in pairwise(spans):
        if a == b:
            raise _invalid(question.name, f"span [{a[0]}, {a[1]}) '{a[2]}' is given twice")
    if not question.allow_overlap:
        # Sorted by start: a span overlaps an earlier one iff it starts before the furthest end so far.
        furthest: tuple[int, int, str] | None = None
        for span in spans:
            if furthest is not None and span[0] < furthest[1]:
                raise _invalid(
                    question.name,
                    f"spans [{furthest[0]}, {furthest[1]}) and [{span[0]}, {span[1]}) overlap (allow_overlap is off)",
                )
            if furthest is None or span[1] > furthest[1]:
                furthest = span
    return {"spans": [{"start": s, "end": e, "label": label} for s, e, label in spans]}


def _check_rating(question: Question, raw: Any, text: str | None) -> dict[str, Any]:
    if not _is_int(raw):
        raise _invalid(question.name, f"rating must be an integer, got {_json_type(raw)}")
    low, high = question.scale
    if not low <= raw <= high:
        raise _invalid(question.name, f"{raw} is outside the scale {low}..{high}")
    return {"rating": raw}


def _check_pairwise(question: Question, raw: Any, text: str | None) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise _invalid(question.name, f"choice must be a string, got {_json_type(raw)}")
    if raw not in PAIRWISE_CHOICES:
        raise _invalid(question.name, f"{_show(raw)} is not a choice (choices: {', '.join(PAIRWISE_CHOICES)})")
    return {"choice": raw}


def _check_text(question: Question, raw: Any, text: str | None) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise _invalid(question.name, f"text must be a string, got {_json_type(raw)}")
    if question.required and not raw.strip():
        raise _invalid(question.name, "text is empty but the question is required")
    if len(raw) > question.max_length:
        raise _invalid(question.name, f"text has {len(raw)} characters, more than max_length {question.max_length}")
    # Kept verbatim (not stripped): white space may be part of a free-text answer.
    return {"text": raw}


_CHECKERS: dict[str, Callable[[Question, Any, str | None], dict[str, Any]]] = {
    "single": _check_single,
    "multi": _check_multi,
    "spans": _check_spans,
    "rating": _check_rating,
    "pairwise": _check_pairwise,
    "text": _check_text,
}


# --------------------------------------------------------------------------------------------
# Reading schemas from YAML-like mappings
# --------------------------------------------------------------------------------------------


def _unknown_key_message(where: str, key: Any, known: Sequence[str]) -> str:
    hint = difflib.get_close_matches(str(key), known, n=1)
    suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
    return f"{where}: unknown key {_show(key)} (keys: {', '.join(known)}){suggestion}"


def _question_from_mapping(index: int, entry: Any) -> Question:
    if not isinstance(entry, Mapping):
        raise ValueError(f"questions[{index}] must be a mapping with 'name' and 'type', got {_json_type(entry)}")
    # None means "not given": pydantic dumps unset optional fields (e.g. labels of a rating question) as None.
    given = {k: v for k, v in entry.items() if v is not None}
    for key in ("name", "type"):
        if key not in given:
            raise ValueError(f"questions[{index}] has no '{key}'")
    name = given["name"]
    where = f"question '{name}'" if isinstance(name, str) else f"questions[{index}]"
    for key in given:
        if key not in _QUESTION_KEYS:
            raise ValueError(_unknown_key_message(where, key, _QUESTION_KEYS))
    qtype = given["type"]
    if qtype in QUESTION_TYPES:
        for param, types in _ONLY_FOR.items():
            if param in given and qtype not in types:
                raise ValueError(f"{where}: '{param}' applies only to {' and '.join(types)} questions, not {qtype}")
    kwargs = dict(given)
    for key in ("labels", "scale"):
        value = kwargs.get(key)
        if value is not None:
            if not isinstance(value, list | tuple):
                raise ValueError(f"{where}: {key} must be a list, got {_json_type(value)}")
            kwargs[key] = tuple(value)
    return Question(**kwargs)


def schema_from_mapping(data: Mapping[str, Any]) -> LabelSchema:
    """Build a :class:`LabelSchema` from its YAML/JSON form; ``ValueError`` with a clear message when wrong.

    Input format (keys other than ``name`` and ``type`` optional; ``null`` means "not given")::

        guidelines: "Pick the **main** topic."
        questions:
          - {name: topic, type: single, labels: [business, sport, tech]}
          - {name: tags, type: multi, labels: [a, b, c], min_labels: 0, max_labels: 2}
          - {name: entities, type: spans, labels: [PER, ORG], allow_overlap: false}
          - {name: stars, type: rating, scale: [1, 10], required: false}
          - {name: better, type: pairwise}
          - {name: note, type: text, max_length: 500, help: "Anything odd?"}

    Rejected: no questions, duplicate or malformed names (``^[A-Za-z][A-Za-z0-9_.-]{0,63}$``), unknown
    types, unknown keys, labels missing, empty, duplicated or not strings of at most 100 characters
    for single/multi/spans, labels (or another type's parameter) given to a type that has none, a
    scale that is not two increasing integers. ``version`` and ``change`` next to the schema are
    ignored (the caller reads them; see :func:`change_from_mapping`).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a label schema must be a mapping with 'questions', got {_json_type(data)}")
    for key in data:
        if key not in _SCHEMA_KEYS and key not in _SCHEMA_SIBLINGS:
            raise ValueError(_unknown_key_message("label schema", key, _SCHEMA_KEYS))
    guidelines = data.get("guidelines")
    if guidelines is None:
        guidelines = ""
    if not isinstance(guidelines, str):
        raise ValueError(f"label schema: guidelines must be a string (Markdown), got {_json_type(guidelines)}")
    raw_questions = data.get("questions")
    if raw_questions is None or (isinstance(raw_questions, list | tuple) and not raw_questions):
        raise ValueError("label schema has no questions: list at least one under 'questions'")
    if not isinstance(raw_questions, list | tuple):
        raise ValueError(f"label schema: 'questions' must be a list, got {_json_type(raw_questions)}")
    questions = tuple(_question_from_mapping(i, entry) for i, entry in enumerate(raw_questions))
    return LabelSchema(questions, guidelines=guidelines)


# --------------------------------------------------------------------------------------------
# Changes between versions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaChange:
    """How a schema version relates to its predecessor. Every part keys by question name.

    * ``renamed``: ``{question: {old_label: new_label}}`` - same meaning, new name;
    * ``merged``: ``{question: {new_label: [old_a, old_b, ...]}}`` - several old labels become one
      (list the new label among the old ones to fold others into a label that stays);
    * ``split``: ``{question: {old_label: [new_a, new_b, ...]}}`` - one old label becomes several
      (answers that used it must be relabeled; the old name may stay as one of the parts);
    * ``added_labels``: ``{question: [label, ...]}`` - brand-new labels (inferred by :func:`check_change`);
    * ``added_questions`` / ``removed_questions``: question names (added ones are inferred).

    Renaming a question is not a change of its own: declare the old one removed and the new one added.
    """

    renamed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    merged: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    split: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    added_labels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    added_questions: Sequence[str] = ()
    removed_questions: Sequence[str] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (lists, not tuples) that :func:`change_from_mapping` reads back."""
        return {
            "renamed": {q: dict(m) for q, m in self.renamed.items()},
            "merged": {q: {k: list(v) for k, v in m.items()} for q, m in self.merged.items()},
            "split": {q: {k: list(v) for k, v in m.items()} for q, m in self.split.items()},
            "added_labels": {q: list(v) for q, v in self.added_labels.items()},
            "added_questions": list(self.added_questions),
            "removed_questions": list(self.removed_questions),
        }


_T = TypeVar("_T")


def _names(where: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    # A bare string is a Sequence too; "sport" must not become ('s', 'p', 'o', 'r', 't').
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ValueError(f"{where} must be a list of names, got {_json_type(raw)}")
    for item in raw:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{where} must contain non-empty strings, got {item!r}")
    # Order kept, repeats dropped: listing a label twice says nothing more.
    return tuple(dict.fromkeys(raw))


def _label(where: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{where} must be a non-empty string, got {raw!r}")
    return raw


def _mapping(where: str, raw: Any, item: Callable[[str, Any], _T]) -> dict[str, _T]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a mapping, got {_json_type(raw)}")
    out: dict[str, _T] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{where}: keys must be non-empty strings, got {key!r}")
        out[key] = item(f"{where}.{key}", value)
    return out


def _renames(where: str, raw: Any) -> dict[str, str]:
    return _mapping(where, raw, _label)


def _label_lists(where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    return _mapping(where, raw, _names)


def _change_parts(get: Callable[[str], Any]) -> SchemaChange:
    return SchemaChange(
        renamed=_mapping("renamed", get("renamed"), _renames),
        merged=_mapping("merged", get("merged"), _label_lists),
        split=_mapping("split", get("split"), _label_lists),
        added_labels=_label_lists("added_labels", get("added_labels")),
        added_questions=_names("added_questions", get("added_questions")),
        removed_questions=_names("removed_questions", get("removed_questions")),
    )


def change_from_mapping(data: Mapping[str, Any] | None) -> SchemaChange:
    """Read a :class:`SchemaChange` from its YAML/JSON form (``None`` or ``{}``: no change declared).

    Checks shapes only (``ValueError``); whether the change fits two schemas is :func:`check_change`'s job.
    Example::

        renamed: {topic: {sports: sport}}
        merged: {topic: {business: [finance, economy]}}
        split: {topic: {tech: [science, technology]}}
        removed_questions: [stars]
    """
    if data is None:
        return SchemaChange()
    if not isinstance(data, Mapping):
        raise ValueError(f"a schema change must be a mapping, got {_json_type(data)}")
    for key in data:
        if key not in _CHANGE_KEYS:
            raise ValueError(_unknown_key_message("schema change", key, _CHANGE_KEYS))
    return _change_parts(data.get)


@dataclass(frozen=True)
class _Declaration:
    kind: str  # "renamed", "merged" or "split"
    sources: tuple[str, ...]  # old labels
    targets: tuple[str, ...]  # new labels

    def describe(self) -> str:
        return f"{self.kind} from {', '.join(repr(s) for s in self.sources)}"


def _declarations(question: str, change: SchemaChange) -> list[_Declaration]:
    out = [_Declaration("renamed", (old,), (new,)) for old, new in change.renamed.get(question, {}).items()]
    out += [_Declaration("merged", tuple(olds), (new,)) for new, olds in change.merged.get(question, {}).items()]
    out += [_Declaration("split", (old,), tuple(news)) for old, news in change.split.get(question, {}).items()]
    return out


def _check_label_change(name: str, old: Question, new: Question, change: SchemaChange) -> tuple[str, ...]:
    """Check the label declarations of one question kept in both versions; return its added labels."""
    old_labels, new_labels = set(old.labels), set(new.labels)
    fate: dict[str, _Declaration] = {}  # old label -> the declaration that consumes it
    producer: dict[str, _Declaration] = {}  # new label -> the declaration that produces it
    for decl in _declarations(name, change):
        if decl.kind == "renamed" and decl.sources == decl.targets:
            raise ValueError(f"label '{decl.sources[0]}' of '{name}' is renamed to itself")
        if decl.kind == "merged" and len(decl.sources) < 2:
            raise ValueError(
                f"merge into '{decl.targets[0]}' of '{name}' needs at least two old labels (for one, declare a rename)"
            )
        if decl.kind == "split" and len(decl.targets) < 2:
            raise ValueError(
                f"split of '{decl.sources[0]}' of '{name}' needs at least two new labels (for one, declare a rename)"
            )
        for source in decl.sources:
            if source not in old_labels:
                raise ValueError(f"{decl.kind} label '{source}' of '{name}' is not a label of the old version")
            if source in fate:
                before = fate[source].kind
                both = f"{decl.kind} twice" if before == decl.kind else f"both {before} and {decl.kind}"
                raise ValueError(f"label '{source}' of '{name}' is {both}")
            fate[source] = decl
        for target in decl.targets:
            if target not in new_labels:
                raise ValueError(f"{decl.kind} target '{target}' of '{name}' is not a label of the new version")
            if target in producer:
                raise ValueError(
                    f"label '{target}' of '{name}' is the target of two declarations "
                    f"({producer[target].describe()} and {decl.describe()}): declare one merge instead"
                )
            producer[target] = decl
    for source, decl in fate.items():
        # A label that keeps its name must keep (or narrow) its meaning: old answers could not be
        # told from new ones otherwise.
        if source in new_labels and source not in decl.targets:
            raise ValueError(
                f"label '{source}' of '{name}' is {decl.kind} but still in the new version with another meaning"
            )
    for target, decl in producer.items():
        if target in old_labels and target not in fate:
            raise ValueError(
                f"{decl.kind} target '{target}' of '{name}' is an existing label that stays: its meaning would widen "
                f"silently; list it among the merged labels ({{'{target}': ['{target}', ...]}})"
            )
    for label in old.labels:
        if label not in fate and label not in new_labels:
            raise ValueError(f"label '{label}' of '{name}' disappeared: declare it renamed, merged or split")
    inferred = tuple(label for label in new.labels if label not in old_labels and label not in producer)
    for label in change.added_labels.get(name, ()):
        if label not in new_labels:
            raise ValueError(f"added label '{label}' of '{name}' is not a label of the new version")
        if label in old_labels:
            raise ValueError(f"added label '{label}' of '{name}' was already a label of the old version")
        if label in producer:
            raise ValueError(f"added label '{label}' of '{name}' is also {producer[label].describe()}")
    return inferred


def check_change(old: LabelSchema, new: LabelSchema, change: SchemaChange) -> SchemaChange:
    """Verify that ``change`` explains every difference from ``old`` to ``new``; return it completed.

    Checked, per question kept in both versions: the type is unchanged (and a rating's scale, since
    ratings on different scales do not compare); every old label that is not in the new version is
    declared renamed, merged or split; every declared old label exists in ``old`` and every target in
    ``new``; a label is declared at most once and is the target of at most one declaration; a
    declared old label does not stay under its own name unless it is one of its own targets (split
    ``a -> [a, b]`` or merge ``a <- [a, b]``); a target that already existed must be listed among its
    own sources. Questions that disappear must be listed in ``removed_questions``; declared added
    questions must be new. Other parameter changes (``required``, ``help``, ``min_labels``, ...)
    need no declaration: :func:`migrate_value` sends answers that no longer fit to relabeling.

    Returns a normalized :class:`SchemaChange` (dicts and tuples) whose ``added_labels`` and
    ``added_questions`` hold everything new that no declaration produces, in the new version's order.
    Raises ``ValueError`` naming the first unexplained or contradictory difference, e.g.
    ``"label 'sports' of 'topic' disappeared: declare it renamed, merged or split"``.
    """
    declared = change
    change = _change_parts(lambda key: getattr(declared, key))  # same shape checks as for YAML input
    old_names, new_names = set(old.names), set(new.names)
    for name in change.removed_questions:
        if name not in old_names:
            raise ValueError(f"removed question '{name}' is not a question of the old version")
        if name in new_names:
            raise ValueError(f"question '{name}' is declared removed but is still in the new version")
    for name in old.names:
        if name not in new_names and name not in change.removed_questions:
            raise ValueError(f"question '{name}' disappeared: declare it in removed_questions")
    for name in change.added_questions:
        if name in old_names:
            raise ValueError(f"question '{name}' is declared added but was already in the old version")
        if name not in new_names:
            raise ValueError(f"added question '{name}' is not a question of the new version")
    for part in ("renamed", "merged", "split", "added_labels"):
        for name in getattr(change, part):
            if name not in old_names or name not in new_names:
                raise ValueError(f"{part}: question '{name}' is not in both versions")
            if new.question(name).type not in LABELLED_TYPES:
                raise ValueError(f"{part}: question '{name}' ({new.question(name).type}) has no labels")
    added_labels: dict[str, tuple[str, ...]] = {}
    for new_q in new.questions:
        if new_q.name not in old_names:
            continue
        old_q = old.question(new_q.name)
        if old_q.type != new_q.type:
            raise ValueError(
                f"question '{new_q.name}' changed type from {old_q.type} to {new_q.type}: not allowed; "
                "remove it and add a question with a new name instead"
            )
        if old_q.type == "rating" and old_q.scale != new_q.scale:
            raise ValueError(
                f"question '{new_q.name}' changed scale from {old_q.scale[0]}..{old_q.scale[1]} to "
                f"{new_q.scale[0]}..{new_q.scale[1]}: ratings on different scales do not compare; "
                "remove it and add a question with a new name instead"
            )
        if new_q.type in LABELLED_TYPES:
            inferred = _check_label_change(new_q.name, old_q, new_q, change)
            if inferred:
                added_labels[new_q.name] = inferred
    return SchemaChange(
        renamed={q: m for q, m in change.renamed.items() if m},
        merged={q: m for q, m in change.merged.items() if m},
        split={q: m for q, m in change.split.items() if m},
        added_labels=added_labels,
        added_questions=tuple(n for n in new.names if n not in old_names),
        removed_questions=tuple(n for n in old.names if n not in new_names),
    )


# --------------------------------------------------------------------------------------------
# Migrating values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """The result of :func:`migrate_value`.

    ``value`` is the migrated value (``None`` when no answer survives), ``relabel`` the questions
    (new schema order) whose answers must be asked again, ``changed`` whether ``value`` differs from
    the original value (compared in normalized form, so sorting alone is not a change).
    """

    value: dict[str, Any] | None
    relabel: tuple[str, ...]
    changed: bool


def _relabel_map(question: str, change: SchemaChange) -> tuple[dict[str, str], frozenset[str]]:
    """Old label -> new label for renames and merges, and the set of split (unmigratable) labels."""
    rewrite = dict(change.renamed.get(question, {}))
    for new, olds in change.merged.get(question, {}).items():
        for old in olds:
            rewrite[old] = new
    return rewrite, frozenset(change.split.get(question, {}))


def _migrate_answer(qtype: str, answer: dict[str, Any], rewrite: dict[str, str], split: frozenset[str]) -> Any:
    """Rewrite the labels of one normalized answer; ``None`` when it used a split label."""
    if qtype == "single":
        label = answer["label"]
        return None if label in split else {"label": rewrite.get(label, label)}
    if qtype == "multi":
        labels = answer["labels"]
        if split.intersection(labels):
            return None
        # A merge can map two chosen labels to one: the set drops the repeat.
        return {"labels": sorted({rewrite.get(label, label) for label in labels})}
    if qtype == "spans":
        spans = answer["spans"]
        if any(s["label"] in split for s in spans):
            return None
        # A merge can turn two spans on the same range into duplicates: keep one.
        kept = sorted({(s["start"], s["end"], rewrite.get(s["label"], s["label"])) for s in spans})
        return {"spans": [{"start": s, "end": e, "label": label} for s, e, label in kept]}
    return answer


def migrate_value(value: Mapping[str, Any], old: LabelSchema, new: LabelSchema, change: SchemaChange) -> Migration:
    """Migrate one annotation value from ``old`` to ``new`` under ``change`` (the result of :func:`check_change`).

    ``value`` must be valid for ``old`` (``InvalidInputError`` otherwise; span ends are not checked,
    as there is no text here). Per question of ``new``:

    * kept question: renamed and merged labels are rewritten (single, multi, spans; repeats created by
      a merge collapse into one); an answer that used a split label is dropped and the question listed
      in ``relabel`` - only a person can tell which part applies; an answer that no longer fits the new
      question's other parameters (e.g. ``max_length`` lowered, fewer labels than ``min_labels``
      after a merge) is dropped and listed too; an unanswered question that became required is listed;
    * added question: listed in ``relabel`` when required;
    * removed question (in ``old`` only): its answer is dropped.

    Added labels do not put a question in ``relabel``: the existing answer is still a valid one, just
    possibly not the best one any more - see :func:`affected_by_added_labels` to decide about re-queueing.

    Every answer in the migrated value passes ``new``'s checks except span ends, which need the text
    (offsets are not changed by a migration, so they remain as valid as they were).
    """
    normalized = old._validate(value, None)
    old_names = set(old.names)
    out: dict[str, Any] = {}
    relabel: list[str] = []
    for question in new.questions:
        name = question.name
        answer = normalized.get(name) if name in old_names else None
        if answer is None:
            if question.required:
                relabel.append(name)
            continue
        rewrite, split = _relabel_map(name, change)
        migrated = _migrate_answer(old.question(name).type, answer, rewrite, split)
        if migrated is None:
            relabel.append(name)
            continue
        try:
            out[name] = question.check_answer(migrated, None)
        except InvalidInputError:
            # Fits the old question but not the new one: ask again rather than guess.
            relabel.append(name)
    return Migration(value=out or None, relabel=tuple(relabel), changed=out != normalized)


def affected_by_added_labels(value: Mapping[str, Any], change: SchemaChange) -> tuple[str, ...]:
    """Questions answered in ``value`` whose answer might now be different because labels were added.

    Only single and multi answers count (recognized by their shape, ``{"label": ...}`` or
    ``{"labels": [...]}``): a new label could have been chosen instead of, or besides, the given one.
    Span answers are left out by design (adding an entity type does not make existing spans wrong;
    re-tagging is a bigger decision). ``value`` may be the old or the migrated value (kept questions
    have the same name in both); ``change`` should come from :func:`check_change` so that added labels
    are complete. Returned in ``value``'s order.

    Example: with ``added_labels={"topic": ["science"]}``, ``{"topic": {"label": "tech"}}`` gives ``("topic",)``.
    """
    out: list[str] = []
    for name, answer in value.items():
        if not change.added_labels.get(name) or not isinstance(answer, Mapping):
            continue
        if set(answer) in ({"label"}, {"labels"}):
            out.append(name)
    return tuple(out)
