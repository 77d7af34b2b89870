"""Unit tests for label schemas, answer validation and migrations (labelloop.domain.schemas)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from labelloop.domain.schemas import (
    QUESTION_TYPES,
    LabelSchema,
    Question,
    SchemaChange,
    affected_by_added_labels,
    change_from_mapping,
    check_change,
    migrate_value,
    schema_from_mapping,
)
from labelloop.errors import InvalidInputError

TEXT = "Alice met Bob in Paris. They talked for hours about the weather."  # 64 characters

SCHEMA_DATA: dict[str, Any] = {
    "guidelines": "Pick the **main** topic.",
    "questions": [
        {"name": "topic", "type": "single", "labels": ["business", "sport", "tech"]},
        {"name": "tags", "type": "multi", "labels": ["a", "b", "c"], "max_labels": 2},
        {"name": "entities", "type": "spans", "labels": ["PER", "LOC", "ORG"]},
        {"name": "stars", "type": "rating"},
        {"name": "better", "type": "pairwise"},
        {"name": "note", "type": "text", "max_length": 20, "required": False},
    ],
}
SCHEMA = schema_from_mapping(SCHEMA_DATA)


def valid_value() -> dict[str, Any]:
    return {
        "topic": {"label": "sport"},
        "tags": {"labels": ["a"]},
        "entities": {"spans": [{"start": 0, "end": 5, "label": "PER"}]},
        "stars": {"rating": 4},
        "better": {"choice": "a"},
        "note": {"text": "fine"},
    }


def with_answer(question: str, answer: Any) -> dict[str, Any]:
    value = valid_value()
    value[question] = answer
    return value


def error_of(schema: LabelSchema, value: Any, text: str | None = TEXT) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        schema.validate(value, text=text)
    return info.value


def spans(*items: tuple[int, int, str]) -> dict[str, Any]:
    return {"spans": [{"start": s, "end": e, "label": label} for s, e, label in items]}


def schema(*questions: dict[str, Any], guidelines: str = "") -> LabelSchema:
    return schema_from_mapping({"guidelines": guidelines, "questions": list(questions)})


# ---------------------------------------------------------------------------------------------
# Validation: valid values and their normal form
# ---------------------------------------------------------------------------------------------


def test_a_valid_value_comes_back_normalized_in_schema_order() -> None:
    value = dict(reversed(list(valid_value().items())))
    result = SCHEMA.validate(value, text=TEXT)
    assert result == valid_value()
    assert list(result) == ["topic", "tags", "entities", "stars", "better", "note"]
    assert result is not value


@pytest.mark.parametrize(
    ("question", "answer", "normalized"),
    [
        ("topic", {"label": "tech"}, {"label": "tech"}),
        ("tags", {"labels": ["c", "a"]}, {"labels": ["a", "c"]}),
        ("tags", {"labels": ("b",)}, {"labels": ["b"]}),
        (
            "entities",
            spans((17, 22, "LOC"), (10, 13, "PER"), (0, 5, "PER")),
            spans((0, 5, "PER"), (10, 13, "PER"), (17, 22, "LOC")),
        ),
        ("entities", {"spans": []}, {"spans": []}),
        ("entities", spans((0, 64, "ORG")), spans((0, 64, "ORG"))),  # the whole text: end == len(text)
        ("entities", spans((5, 9, "PER"), (0, 5, "PER")), spans((0, 5, "PER"), (5, 9, "PER"))),  # touching is fine
        ("stars", {"rating": 1}, {"rating": 1}),
        ("stars", {"rating": 5}, {"rating": 5}),
        ("better", {"choice": "tie"}, {"choice": "tie"}),
        ("better", {"choice": "b"}, {"choice": "b"}),
        ("note", {"text": "  padded  "}, {"text": "  padded  "}),
        ("note", {"text": ""}, {"text": ""}),  # optional text may be empty
        ("note", {"text": "x" * 20}, {"text": "x" * 20}),
    ],
)
def test_valid_answers_are_normalized(question: str, answer: Any, normalized: dict[str, Any]) -> None:
    assert SCHEMA.validate(with_answer(question, answer), text=TEXT)[question] == normalized


def test_optional_question_may_be_left_out_or_null() -> None:
    value = valid_value()
    del value["note"]
    assert "note" not in SCHEMA.validate(value, text=TEXT)
    value["note"] = None
    assert "note" not in SCHEMA.validate(value, text=TEXT)


def test_multi_with_min_labels_zero_accepts_an_empty_list() -> None:
    s = schema({"name": "tags", "type": "multi", "labels": ["a", "b"], "min_labels": 0})
    assert s.validate({"tags": {"labels": []}}) == {"tags": {"labels": []}}


def test_custom_scale_is_inclusive() -> None:
    s = schema({"name": "stars", "type": "rating", "scale": [0, 10]})
    assert s.validate({"stars": {"rating": 0}}) == {"stars": {"rating": 0}}
    assert s.validate({"stars": {"rating": 10}}) == {"stars": {"rating": 10}}
    assert "11 is outside the scale 0..10" in str(error_of(s, {"stars": {"rating": 11}}))


def test_text_is_only_needed_when_there_is_a_spans_question() -> None:
    s = schema({"name": "topic", "type": "single", "labels": ["x"]})
    assert s.validate({"topic": {"label": "x"}}) == {"topic": {"label": "x"}}


# ---------------------------------------------------------------------------------------------
# Validation: errors name the question and the problem
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    [
        ("topic", {"label": "cooking"}, "topic: 'cooking' is not a label (labels: business, sport, tech)"),
        ("entities", spans((40, 70, "PER")), "entities: span 0 [40, 70) is outside the text (length 64)"),
        (
            "entities",
            spans((0, 5, "PER"), (3, 8, "LOC")),
            "entities: spans [0, 5) and [3, 8) overlap (allow_overlap is off)",
        ),
        ("stars", {"rating": 7}, "stars: 7 is outside the scale 1..5"),
    ],
)
def test_documented_messages_are_exact(question: str, answer: Any, message: str) -> None:
    error = error_of(SCHEMA, with_answer(question, answer))
    assert str(error) == message
    assert error.details["question"] == question


@pytest.mark.parametrize(
    ("question", "answer", "problem"),
    [
        # wrong shapes of the answer itself
        ("topic", "sport", 'answer must be an object like {"label": ...}, got string'),
        ("topic", ["sport"], "got array"),
        ("topic", {}, "answer has no 'label'"),
        ("topic", {"labels": ["sport"]}, "unexpected key 'labels' in answer (expected only 'label')"),
        ("topic", {"label": "sport", "why": "x"}, "unexpected key 'why'"),
        # single
        ("topic", {"label": 3}, "label must be a string, got integer"),
        ("topic", {"label": None}, "label must be a string, got null"),
        ("topic", {"label": "Sport"}, "'Sport' is not a label"),
        # multi
        ("tags", {"labels": "a"}, "labels must be an array of strings, got string"),
        ("tags", {"labels": ["a", 1]}, "labels[1] must be a string, got integer"),
        ("tags", {"labels": ["a", "z"]}, "'z' is not a label (labels: a, b, c)"),
        ("tags", {"labels": ["a", "a"]}, "label 'a' is given twice"),
        ("tags", {"labels": []}, "at least 1 label is required, got 0"),
        ("tags", {"labels": ["a", "b", "c"]}, "at most 2 labels are allowed, got 3"),
        # spans
        ("entities", {"spans": {"start": 0}}, "spans must be an array, got object"),
        ("entities", {"spans": ["PER"]}, "span 0 must be an object"),
        ("entities", {"spans": [{"start": 0, "end": 5}]}, "span 0 has no 'label'"),
        (
            "entities",
            {"spans": [{"start": 0, "end": 5, "label": "PER", "text": "Alice"}]},
            "span 0 has unexpected key 'text'",
        ),
        ("entities", {"spans": [{"start": 0.0, "end": 5, "label": "PER"}]}, "span 0 start must be an integer"),
        ("entities", {"spans": [{"start": 0, "end": True, "label": "PER"}]}, "span 0 end must be an integer"),
        ("entities", {"spans": [{"start": 0, "end": "5", "label": "PER"}]}, "end must be an integer, got string"),
        ("entities", spans((0, 5, "PER"), (5, 5, "PER")), "span 1 [5, 5) is empty or reversed"),
        ("entities", spans((8, 3, "PER")), "span 0 [8, 3) is empty or reversed"),
        ("entities", spans((-1, 3, "PER")), "span 0 [-1, 3) is outside the text (length 64)"),
        ("entities", spans((0, 5, "PER"), (60, 65, "LOC")), "span 1 [60, 65) is outside the text (length 64)"),
        ("entities", spans((0, 5, "DATE")), "span 0 'DATE' is not a label (labels: LOC, ORG, PER)"),
        ("entities", {"spans": [{"start": 0, "end": 5, "label": 1}]}, "span 0 label must be a string, got integer"),
        ("entities", spans((0, 5, "PER"), (0, 5, "PER")), "span [0, 5) 'PER' is given twice"),
        ("entities", spans((0, 5, "PER"), (0, 5, "ORG")), "spans [0, 5) and [0, 5) overlap"),
        # a span nested in an earlier long one overlaps it even though its neighbour does not
        ("entities", spans((0, 30, "ORG"), (10, 13, "PER"), (17, 22, "LOC")), "spans [0, 30) and [10, 13) overlap"),
        ("entities", spans((0, 30, "ORG"), (5, 9, "PER"), (17, 22, "LOC")), "spans [0, 30) and [5, 9) overlap"),
        # rating
        ("stars", {"rating": 0}, "0 is outside the scale 1..5"),
        ("stars", {"rating": 4.0}, "rating must be an integer, got number"),
        ("stars", {"rating": True}, "rating must be an integer, got boolean"),
        ("stars", {"rating": "4"}, "rating must be an integer, got string"),
        # pairwise
        ("better", {"choice": "c"}, "'c' is not a choice (choices: a, b, tie)"),
        ("better", {"choice": "A"}, "'A' is not a choice"),
        ("better", {"choice": 1}, "choice must be a string, got integer"),
        # text
        ("note", {"text": 5}, "text must be a string, got integer"),
        ("note", {"text": "x" * 21}, "text has 21 characters, more than max_length 20"),
    ],
)
def test_invalid_answers_name_question_and_problem(question: str, answer: Any, problem: str) -> None:
    error = error_of(SCHEMA, with_answer(question, answer))
    assert str(error).startswith(f"{question}: ")
    assert problem in str(error)
    assert error.details["question"] == question


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_required_text_must_not_be_blank(blank: str) -> None:
    s = schema({"name": "summary", "type": "text"})
    assert str(error_of(s, {"summary": {"text": blank}})) == "summary: text is empty but the question is required"


def test_missing_required_answer() -> None:
    value = valid_value()
    del value["topic"]
    error = error_of(SCHEMA, value)
    assert str(error) == "missing answer for required question 'topic'"
    assert error.details["question"] == "topic"


def test_null_answer_for_required_question_is_missing() -> None:
    assert str(error_of(SCHEMA, with_answer("stars", None))) == "missing answer for required question 'stars'"


def test_unknown_question() -> None:
    s = schema({"name": "topic", "type": "single", "labels": ["x"]})
    error = error_of(s, {"topik": {"label": "x"}})
    assert str(error) == "unknown question 'topik' (questions: topic)"
    assert error.details["question"] == "topik"


def test_unknown_question_is_reported_even_when_answers_are_complete() -> None:
    value = valid_value() | {"extra": {"label": "sport"}}
    assert str(error_of(SCHEMA, value)).startswith("unknown question 'extra' (questions: topic, tags, entities")


@pytest.mark.parametrize("value", [[], "topic", None, 3])
def test_value_must_be_an_object(value: Any) -> None:
    assert "must be an object mapping question names to answers" in str(error_of(SCHEMA, value))


def test_text_is_required_when_the_schema_has_spans() -> None:
    error = error_of(SCHEMA, valid_value(), text=None)
    assert "text is required" in str(error)
    assert "'entities'" in str(error)


def test_text_must_be_a_string() -> None:
    with pytest.raises(InvalidInputError, match="text must be a string, got integer"):
        SCHEMA.validate(valid_value(), text=42)  # type: ignore[arg-type]


def test_long_label_lists_are_truncated_in_messages() -> None:
    labels = [f"l{i:03d}" for i in range(50)]
    s = schema({"name": "topic", "type": "single", "labels": labels})
    message = str(error_of(s, {"topic": {"label": "nope"}}))
    assert "l019" in message
    assert "l020" not in message
    assert "(30 more)" in message


# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------


def test_span_offsets_count_characters_not_bytes() -> None:
    text = "Zoë 🎉 in Köln"  # 13 characters, 18 bytes in UTF-8
    assert len(text) == 13
    s = schema({"name": "entities", "type": "spans", "labels": ["PER", "LOC"]})
    value = {"entities": spans((9, 13, "LOC"), (0, 3, "PER"))}
    assert s.validate(value, text=text) == {"entities": spans((0, 3, "PER"), (9, 13, "LOC"))}
    assert text[9:13] == "Köln"
    error = error_of(s, {"entities": spans((9, 14, "LOC"))}, text=text)
    assert str(error) == "entities: span 0 [9, 14) is outside the text (length 13)"


def test_allow_overlap_accepts_overlapping_and_nested_spans_but_not_duplicates() -> None:
    s = schema({"name": "entities", "type": "spans", "labels": ["PER", "ORG"], "allow_overlap": True})
    value = {"entities": spans((3, 8, "PER"), (0, 5, "ORG"), (0, 5, "PER"), (1, 2, "ORG"))}
    assert s.validate(value, text=TEXT) == {
        "entities": spans((0, 5, "ORG"), (0, 5, "PER"), (1, 2, "ORG"), (3, 8, "PER"))
    }
    error = error_of(s, {"entities": spans((0, 5, "PER"), (0, 5, "PER"))})
    assert str(error) == "entities: span [0, 5) 'PER' is given twice"


def test_spans_need_text_even_for_an_empty_text() -> None:
    s = schema({"name": "entities", "type": "spans", "labels": ["PER"]})
    assert s.validate({"entities": {"spans": []}}, text="") == {"entities": {"spans": []}}
    assert "outside the text (length 0)" in str(error_of(s, {"entities": spans((0, 1, "PER"))}, text=""))


# ---------------------------------------------------------------------------------------------
# labels_of
# ---------------------------------------------------------------------------------------------


def test_labels_of_lists_labels_per_labelled_question() -> None:
    value = SCHEMA.validate(
        with_answer("entities", spans((0, 5, "PER"), (10, 13, "PER"), (17, 22, "LOC")))
        | {"tags": {"labels": ["c", "a"]}},
        text=TEXT,
    )
    assert SCHEMA.labels_of(value) == {"topic": ["sport"], "tags": ["a", "c"], "entities": ["LOC", "PER"]}


def test_labels_of_distinguishes_unanswered_from_empty() -> None:
    s = schema(
        {"name": "tags", "type": "multi", "labels": ["a"], "min_labels": 0},
        {"name": "entities", "type": "spans", "labels": ["PER"], "required": False},
    )
    assert s.labels_of({"tags": {"labels": []}}) == {"tags": []}


# ---------------------------------------------------------------------------------------------
# Reading schemas
# ---------------------------------------------------------------------------------------------


def test_schema_from_mapping_reads_every_type_and_round_trips() -> None:
    assert [q.type for q in SCHEMA.questions] == ["single", "multi", "spans", "rating", "pairwise", "text"]
    assert set(QUESTION_TYPES) == {q.type for q in SCHEMA.questions}
    assert SCHEMA.guidelines == "Pick the **main** topic."
    assert SCHEMA.question("tags") == Question("tags", "multi", labels=("a", "b", "c"), max_labels=2)
    assert SCHEMA.question("note").required is False
    assert SCHEMA.question("stars").scale == (1, 5)
    again = schema_from_mapping(SCHEMA.as_dict())
    assert again == SCHEMA
    assert again.digest() == SCHEMA.digest()


def test_as_dict_has_a_stable_key_order_and_only_applicable_parameters() -> None:
    questions = SCHEMA.as_dict()["questions"]
    assert list(questions[0]) == ["name", "type", "labels", "required", "help"]
    assert list(questions[1]) == ["name", "type", "labels", "required", "min_labels", "max_labels", "help"]
    assert list(questions[2]) == ["name", "type", "labels", "required", "allow_overlap", "help"]
    assert list(questions[3]) == ["name", "type", "required", "scale", "help"]
    assert list(questions[4]) == ["name", "type", "required", "help"]
    assert list(questions[5]) == ["name", "type", "required", "max_length", "help"]
    assert list(SCHEMA.as_dict()) == ["guidelines", "questions"]


def test_null_parameters_mean_not_given_and_schema_siblings_are_ignored() -> None:
    # pydantic's model_dump() writes unset optional fields as None (e.g. labels of a rating question).
    data = {
        "version": 3,
        "change": {"renamed": {}},
        "guidelines": None,
        "questions": [{"name": "stars", "type": "rating", "labels": None, "help": None}],
    }
    s = schema_from_mapping(data)
    assert s == LabelSchema((Question("stars", "rating"),))


def test_question_lookup() -> None:
    assert SCHEMA.question("topic").labels == ("business", "sport", "tech")
    with pytest.raises(KeyError, match="unknown question 'topik'"):
        SCHEMA.question("topik")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a mapping with 'questions'"),
        ({}, "has no questions"),
        ({"questions": []}, "has no questions"),
        ({"questions": {"name": "x"}}, "'questions' must be a list, got object"),
        ({"questions": [{"name": "x", "type": "pairwise"}], "guideline": "x"}, "did you mean 'guidelines'?"),
        ({"guidelines": 3, "questions": [{"name": "x", "type": "pairwise"}]}, "guidelines must be a string"),
        ({"questions": ["topic"]}, "questions[0] must be a mapping"),
        ({"questions": [{"type": "single", "labels": ["a"]}]}, "questions[0] has no 'name'"),
        ({"questions": [{"name": "topic"}]}, "questions[0] has no 'type'"),
        (
            {"questions": [{"name": "topic", "type": "choice", "labels": ["a"]}]},
            "question 'topic': unknown type 'choice'",
        ),
        (
            {"questions": [{"name": "t", "type": "single", "lables": ["a"]}]},
            "question 't': unknown key 'lables' (keys: name, type, labels",
        ),
        (
            {"questions": [{"name": "a", "type": "pairwise"}, {"name": "a", "type": "text"}]},
            "question name 'a' is used twice",
        ),
        ({"questions": [{"name": "1topic", "type": "pairwise"}]}, "question name '1topic' is invalid"),
        ({"questions": [{"name": "my topic", "type": "pairwise"}]}, "question name 'my topic' is invalid"),
        ({"questions": [{"name": "topic\n", "type": "pairwise"}]}, "is invalid"),
        ({"questions": [{"name": "t" * 65, "type": "pairwise"}]}, "is invalid"),
        ({"questions": [{"name": 3, "type": "pairwise"}]}, "question name 3 is invalid"),
        ({"questions": [{"name": "topic", "type": "single"}]}, "question 'topic': labels are missing"),
        ({"questions": [{"name": "topic", "type": "multi", "labels": []}]}, "question 'topic': labels are missing"),
        ({"questions": [{"name": "ents", "type": "spans", "labels": []}]}, "question 'ents': labels are missing"),
        ({"questions": [{"name": "topic", "type": "single", "labels": "a, b"}]}, "labels must be a list, got string"),
        ({"questions": [{"name": "t", "type": "single", "labels": ["a", "b", "a"]}]}, "label 'a' is listed twice"),
        ({"questions": [{"name": "t", "type": "single", "labels": ["a", ""]}]}, "labels must not be empty or blank"),
        ({"questions": [{"name": "t", "type": "single", "labels": ["a", " "]}]}, "labels must not be empty or blank"),
        ({"questions": [{"name": "t", "type": "single", "labels": [" a"]}]}, "leading or trailing white space"),
        ({"questions": [{"name": "t", "type": "single", "labels": [1, 2]}]}, "label 1 must be a string"),
        ({"questions": [{"name": "t", "type": "single", "labels": ["x" * 101]}]}, "longer than 100 characters"),
        ({"questions": [{"name": "s", "type": "rating", "labels": ["a"]}]}, "'labels' applies only to single"),
        ({"questions": [{"name": "p", "type": "pairwise", "labels": ["a", "b"]}]}, "'labels' applies only to"),
        ({"questions": [{"name": "n", "type": "text", "labels": ["a"]}]}, "'labels' applies only to"),
        ({"questions": [{"name": "t", "type": "single", "labels": ["a"], "scale": [1, 3]}]}, "'scale' applies only"),
        ({"questions": [{"name": "t", "type": "single", "labels": ["a"], "min_labels": 0}]}, "'min_labels' applies"),
        ({"questions": [{"name": "t", "type": "multi", "labels": ["a"], "allow_overlap": True}]}, "'allow_overlap'"),
        ({"questions": [{"name": "s", "type": "rating", "scale": [5, 1]}]}, "scale 5..1 is empty or reversed"),
        ({"questions": [{"name": "s", "type": "rating", "scale": [3, 3]}]}, "scale 3..3 is empty or reversed"),
        ({"questions": [{"name": "s", "type": "rating", "scale": [1, 2, 3]}]}, "scale must be two integers"),
        ({"questions": [{"name": "s", "type": "rating", "scale": [1, 5.5]}]}, "scale must be two integers"),
        ({"questions": [{"name": "s", "type": "rating", "scale": 5}]}, "scale must be a list, got integer"),
        ({"questions": [{"name": "s", "type": "rating", "required": "yes"}]}, "required must be true or false"),
        ({"questions": [{"name": "m", "type": "multi", "labels": ["a"], "min_labels": 2}]}, "min_labels 2 exceeds"),
        ({"questions": [{"name": "m", "type": "multi", "labels": ["a"], "min_labels": -1}]}, "min_labels must be"),
        ({"questions": [{"name": "m", "type": "multi", "labels": ["a", "b"], "max_labels": 0}]}, "max_labels must be"),
        (
            {"questions": [{"name": "m", "type": "multi", "labels": ["a", "b"], "min_labels": 2, "max_labels": 1}]},
            "max_labels must be an integer >= 1 and >= min_labels (2)",
        ),
        ({"questions": [{"name": "n", "type": "text", "max_length": 0}]}, "max_length must be an integer >= 1"),
        ({"questions": [{"name": "n", "type": "text", "help": 3}]}, "help must be a string"),
    ],
)
def test_schema_from_mapping_rejects_bad_schemas(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        schema_from_mapping(data)
    assert message in str(info.value)


def test_question_constructor_validates_too() -> None:
    with pytest.raises(ValueError, match="scale applies only to rating questions"):
        Question("topic", "single", labels=("a",), scale=(0, 3))
    with pytest.raises(ValueError, match="a text question takes no labels"):
        Question("note", "text", labels=("a",))
    with pytest.raises(ValueError, match="has no questions"):
        LabelSchema(())


# ---------------------------------------------------------------------------------------------
# Digests
# ---------------------------------------------------------------------------------------------


def test_digest_is_stable_under_key_order_and_spelled_out_defaults() -> None:
    reordered = {
        "questions": [dict(reversed(list(q.items()))) for q in SCHEMA_DATA["questions"]],
        "guidelines": SCHEMA_DATA["guidelines"],
    }
    assert list(reordered["questions"][0]) == ["labels", "type", "name"]
    assert schema_from_mapping(reordered).digest() == SCHEMA.digest()
    spelled = copy.deepcopy(SCHEMA_DATA)
    spelled["questions"][0]["required"] = True
    spelled["questions"][3]["scale"] = [1, 5]
    spelled["questions"][1]["min_labels"] = 1
    assert schema_from_mapping(spelled).digest() == SCHEMA.digest()
    assert len(SCHEMA.digest()) == 64
    assert int(SCHEMA.digest(), 16) >= 0


def _edited(edit: str) -> dict[str, Any]:
    data = copy.deepcopy(SCHEMA_DATA)
    questions = data["questions"]
    if edit == "label added":
        questions[0]["labels"].append("science")
    elif edit == "label renamed":
        questions[0]["labels"][1] = "sports"
    elif edit == "labels reordered":
        questions[0]["labels"].reverse()
    elif edit == "optional":
        questions[0]["required"] = False
    elif edit == "scale":
        questions[3]["scale"] = [1, 10]
    elif edit == "overlap":
        questions[2]["allow_overlap"] = True
    elif edit == "help":
        questions[0]["help"] = "The main one."
    elif edit == "question order":
        questions.reverse()
    elif edit == "question removed":
        questions.pop()
    return data


@pytest.mark.parametrize(
    "edit",
    [
        "label added",
        "label renamed",
        "labels reordered",
        "optional",
        "scale",
        "overlap",
        "help",
        "question order",
        "question removed",
    ],
)
def test_digest_changes_with_content(edit: str) -> None:
    assert schema_from_mapping(_edited(edit)).digest() != SCHEMA.digest()


def test_guidelines_have_their_own_digest() -> None:
    edited = schema_from_mapping(SCHEMA_DATA | {"guidelines": "Pick the main topic. Ignore ads."})
    assert edited.digest() == SCHEMA.digest()
    assert edited.guidelines_digest() != SCHEMA.guidelines_digest()
    assert SCHEMA.guidelines_digest() == schema_from_mapping(copy.deepcopy(SCHEMA_DATA)).guidelines_digest()
    # sha256 of the UTF-8 text: a known answer for the empty string
    assert LabelSchema((Question("p", "pairwise"),)).guidelines_digest() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


# ---------------------------------------------------------------------------------------------
# Changes between versions
# ---------------------------------------------------------------------------------------------

TOPIC_V1 = schema({"name": "topic", "type": "single", "labels": ["business", "sports", "tech", "finance"]})


def topic_v2(*labels: str) -> LabelSchema:
    return schema({"name": "topic", "type": "single", "labels": list(labels)})


def test_change_from_mapping_reads_every_part() -> None:
    change = change_from_mapping(
        {
            "renamed": {"topic": {"sports": "sport"}},
            "merged": {"topic": {"money": ["business", "finance"]}},
            "split": {"topic": {"tech": ["science", "technology"]}},
            "added_labels": {"topic": ["culture"]},
            "added_questions": ["stars"],
            "removed_questions": ["old"],
        }
    )
    assert change.renamed == {"topic": {"sports": "sport"}}
    assert change.merged == {"topic": {"money": ("business", "finance")}}
    assert change.split == {"topic": {"tech": ("science", "technology")}}
    assert change.added_labels == {"topic": ("culture",)}
    assert change.added_questions == ("stars",)
    assert change.removed_questions == ("old",)
    assert change_from_mapping(change.as_dict()) == change


@pytest.mark.parametrize("data", [None, {}, {"renamed": None, "split": {}}])
def test_empty_change(data: Any) -> None:
    assert change_from_mapping(data) == SchemaChange()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a schema change must be a mapping"),
        ({"renames": {}}, "did you mean 'renamed'?"),
        ({"renamed": ["sports"]}, "renamed must be a mapping, got array"),
        ({"renamed": {"topic": {"sports": ["sport"]}}}, "renamed.topic.sports must be a non-empty string"),
        ({"merged": {"topic": {"money": "business"}}}, "merged.topic.money must be a list of names, got string"),
        ({"split": {"topic": {"tech": [1, 2]}}}, "split.topic.tech must contain non-empty strings"),
        ({"added_questions": "stars"}, "added_questions must be a list of names"),
        ({"removed_questions": [""]}, "removed_questions must contain non-empty strings"),
    ],
)
def test_change_from_mapping_rejects_bad_shapes(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        change_from_mapping(data)
    assert message in str(info.value)


def test_check_change_accepts_an_unchanged_schema() -> None:
    assert check_change(SCHEMA, SCHEMA, SchemaChange()) == SchemaChange()


def test_check_change_rename_merge_split_and_inferred_added_labels() -> None:
    new = topic_v2("money", "sport", "science", "technology", "culture")
    change = change_from_mapping(
        {
            "renamed": {"topic": {"sports": "sport"}},
            "merged": {"topic": {"money": ["business", "finance"]}},
            "split": {"topic": {"tech": ["science", "technology"]}},
        }
    )
    checked = check_change(TOPIC_V1, new, change)
    assert checked.added_labels == {"topic": ("culture",)}
    assert checked.renamed == change.renamed
    assert checked.merged == change.merged
    assert checked.split == change.split
    assert checked.added_questions == ()
    assert checked.removed_questions == ()


def test_check_change_accepts_declared_added_labels() -> None:
    new = topic_v2("business", "sports", "tech", "finance", "culture", "science")
    checked = check_change(TOPIC_V1, new, SchemaChange(added_labels={"topic": ["culture"]}))
    assert checked.added_labels == {"topic": ("culture", "science")}


def test_check_change_merge_into_a_label_that_stays_when_listed_among_its_sources() -> None:
    new = topic_v2("business", "sports", "tech")
    checked = check_change(TOPIC_V1, new, SchemaChange(merged={"topic": {"business": ["business", "finance"]}}))
    assert checked.added_labels == {}


def test_check_change_split_may_keep_the_old_name_as_a_part() -> None:
    new = topic_v2("business", "sports", "tech", "finance", "science")
    checked = check_change(TOPIC_V1, new, SchemaChange(split={"topic": {"tech": ["tech", "science"]}}))
    assert checked.added_labels == {}


def test_check_change_infers_added_and_requires_declared_removed_questions() -> None:
    old = schema({"name": "topic", "type": "single", "labels": ["a"]}, {"name": "stars", "type": "rating"})
    new = schema(
        {"name": "note", "type": "text"},
        {"name": "topic", "type": "single", "labels": ["a"]},
        {"name": "better", "type": "pairwise", "required": False},
    )
    checked = check_change(old, new, SchemaChange(removed_questions=["stars"]))
    assert checked.added_questions == ("note", "better")
    assert checked.removed_questions == ("stars",)
    with pytest.raises(ValueError, match="question 'stars' disappeared: declare it in removed_questions"):
        check_change(old, new, SchemaChange())
    with pytest.raises(ValueError, match="question 'note' is declared added but was already in the old version"):
        check_change(new, new, SchemaChange(added_questions=["note"]))


def test_check_change_allows_parameter_changes_that_migrations_handle() -> None:
    old = schema({"name": "tags", "type": "multi", "labels": ["a", "b"]}, {"name": "note", "type": "text"})
    new = schema(
        {"name": "tags", "type": "multi", "labels": ["a", "b"], "max_labels": 1, "help": "Pick one."},
        {"name": "note", "type": "text", "max_length": 10, "required": False},
    )
    assert check_change(old, new, SchemaChange()) == SchemaChange()


@pytest.mark.parametrize(
    ("new_labels", "change", "message"),
    [
        (
            ("business", "sport", "tech", "finance"),
            {},
            "label 'sports' of 'topic' disappeared: declare it renamed, merged or split",
        ),
        (
            ("business", "sport", "tech", "finance", "science"),
            {"renamed": {"topic": {"tech": "science"}}, "split": {"topic": {"tech": ["science", "it"]}}},
            "label 'tech' of 'topic' is both renamed and split",
        ),
        (
            ("business", "sport", "tech"),
            {"merged": {"topic": {"business": ["finance", "sports"]}}},
            "merged target 'business' of 'topic' is an existing label that stays",
        ),
        (
            ("business", "sports", "tech"),
            {"renamed": {"topic": {"finance": "business"}}},
            "renamed target 'business' of 'topic' is an existing label that stays",
        ),
        (
            ("business", "sports", "tech", "finance", "science", "it"),
            {"split": {"topic": {"tech": ["science", "it"]}}},
            "label 'tech' of 'topic' is split but still in the new version",
        ),
        (
            ("money", "sports", "tech"),
            {"renamed": {"topic": {"business": "money", "finance": "money"}}},
            "label 'money' of 'topic' is the target of two declarations",
        ),
        (
            ("money", "sports", "tech", "finance"),
            {"merged": {"topic": {"money": ["business"]}}},
            "needs at least two old labels (for one, declare a rename)",
        ),
        (
            ("business", "sports", "science", "finance"),
            {"split": {"topic": {"tech": ["science"]}}},
            "needs at least two new labels (for one, declare a rename)",
        ),
        (
            ("business", "sport", "tech", "finance"),
            {"renamed": {"topic": {"sport": "sports"}}},
            "renamed label 'sport' of 'topic' is not a label of the old version",
        ),
        (
            ("business", "sports", "tech", "finance"),
            {"renamed": {"topic": {"sports": "sport"}}},
            "renamed target 'sport' of 'topic' is not a label of the new version",
        ),
        (
            ("business", "sports", "tech", "finance"),
            {"renamed": {"topic": {"sports": "sports"}}},
            "label 'sports' of 'topic' is renamed to itself",
        ),
        (
            ("business", "sports", "tech", "finance", "science"),
            {"added_labels": {"topic": ["tech"]}},
            "added label 'tech' of 'topic' was already a label of the old version",
        ),
        (
            ("business", "sports", "tech", "finance"),
            {"added_labels": {"topic": ["science"]}},
            "added label 'science' of 'topic' is not a label of the new version",
        ),
        (
            ("business", "sports", "money"),
            {"merged": {"topic": {"money": ["tech", "finance"]}}, "added_labels": {"topic": ["money"]}},
            "added label 'money' of 'topic' is also merged from",
        ),
        (
            ("business", "sports", "tech", "finance"),
            {"renamed": {"stars": {"a": "b"}}},
            "renamed: question 'stars' is not in both versions",
        ),
    ],
)
def test_check_change_rejects_unexplained_or_contradictory_changes(
    new_labels: tuple[str, ...], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        check_change(TOPIC_V1, topic_v2(*new_labels), change_from_mapping(change))
    assert message in str(info.value)


def test_check_change_rejects_a_type_change() -> None:
    old = schema({"name": "topic", "type": "single", "labels": ["a", "b"]})
    new = schema({"name": "topic", "type": "multi", "labels": ["a", "b"]})
    with pytest.raises(ValueError, match="question 'topic' changed type from single to multi: not allowed"):
        check_change(old, new, SchemaChange())


def test_check_change_rejects_a_scale_change() -> None:
    old = schema({"name": "stars", "type": "rating"})
    new = schema({"name": "stars", "type": "rating", "scale": [1, 10]})
    with pytest.raises(ValueError, match=r"changed scale from 1\.\.5 to 1\.\.10"):
        check_change(old, new, SchemaChange())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (SchemaChange(removed_questions=["nope"]), "removed question 'nope' is not a question of the old version"),
        (SchemaChange(removed_questions=["stars"]), "question 'stars' is declared removed but is still in the new"),
        (SchemaChange(added_questions=["nope"]), "added question 'nope' is not a question of the new version"),
        (SchemaChange(renamed={"stars": {"1": "one"}}), "renamed: question 'stars' (rating) has no labels"),
        (SchemaChange(split={"topic": {"a": "bc"}}), "split.topic.a must be a list of names, got string"),
    ],
)
def test_check_change_rejects_bad_question_declarations(change: SchemaChange, message: str) -> None:
    s = schema({"name": "topic", "type": "single", "labels": ["a", "b"]}, {"name": "stars", "type": "rating"})
    with pytest.raises(ValueError) as info:
        check_change(s, s, change)
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------
# Migrating values
# ---------------------------------------------------------------------------------------------

OLD = schema(
    {"name": "topic", "type": "single", "labels": ["business", "sports", "tech", "finance"]},
    {"name": "tags", "type": "multi", "labels": ["a", "b", "c"]},
    {"name": "entities", "type": "spans", "labels": ["PER", "PERSON", "LOC", "GPE"], "allow_overlap": True},
    {"name": "stars", "type": "rating"},
    {"name": "better", "type": "pairwise", "required": False},
)
NEW = schema(
    {"name": "topic", "type": "single", "labels": ["money", "sport", "science", "technology", "culture"]},
    {"name": "tags", "type": "multi", "labels": ["ab", "c", "d"]},
    {"name": "entities", "type": "spans", "labels": ["PER", "LOC", "CITY", "COUNTRY"], "allow_overlap": True},
    {"name": "stars", "type": "rating"},
    {"name": "note", "type": "text", "required": False},
)
CHANGE = check_change(
    OLD,
    NEW,
    change_from_mapping(
        {
            "renamed": {"topic": {"sports": "sport"}},
            "merged": {
                "topic": {"money": ["business", "finance"]},
                "tags": {"ab": ["a", "b"]},
                "entities": {"PER": ["PER", "PERSON"]},
            },
            "split": {"topic": {"tech": ["science", "technology"]}, "entities": {"GPE": ["CITY", "COUNTRY"]}},
            "removed_questions": ["better"],
        }
    ),
)


def old_value(**answers: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "topic": {"label": "sports"},
        "tags": {"labels": ["c"]},
        "entities": spans((0, 5, "PER")),
        "stars": {"rating": 3},
    }
    value.update(answers)
    return value


def test_change_fixture_is_complete() -> None:
    assert CHANGE.added_labels == {"topic": ("culture",), "tags": ("d",)}
    assert CHANGE.added_questions == ("note",)
    assert CHANGE.removed_questions == ("better",)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, old_value(topic={"label": "sport"})),
        ({"topic": {"label": "business"}}, old_value(topic={"label": "money"})),
        ({"topic": {"label": "finance"}}, old_value(topic={"label": "money"})),
        ({"tags": {"labels": ["a", "b"]}}, old_value(topic={"label": "sport"}, tags={"labels": ["ab"]})),
        ({"tags": {"labels": ["c", "b"]}}, old_value(topic={"label": "sport"}, tags={"labels": ["ab", "c"]})),
        (
            {"entities": spans((0, 5, "PERSON"), (0, 5, "PER"), (10, 13, "PERSON"))},
            old_value(topic={"label": "sport"}, entities=spans((0, 5, "PER"), (10, 13, "PER"))),
        ),
    ],
)
def test_migrate_rewrites_renamed_and_merged_labels(answers: dict[str, Any], expected: dict[str, Any]) -> None:
    migration = migrate_value(old_value(**answers), OLD, NEW, CHANGE)
    assert migration.value == expected
    assert migration.relabel == ()
    assert migration.changed is True
    assert NEW.validate(migration.value, text=TEXT) == expected


def test_merge_of_two_chosen_multi_labels_gives_one_label() -> None:
    migration = migrate_value(old_value(tags={"labels": ["b", "a"]}), OLD, NEW, CHANGE)
    assert migration.value is not None
    assert migration.value["tags"] == {"labels": ["ab"]}


@pytest.mark.parametrize(
    ("answers", "relabel"),
    [
        ({"topic": {"label": "tech"}}, ("topic",)),
        ({"entities": spans((0, 5, "PER"), (17, 22, "GPE"))}, ("entities",)),
        ({"topic": {"label": "tech"}, "entities": spans((17, 22, "GPE"))}, ("topic", "entities")),
    ],
)
def test_a_split_label_sends_the_question_to_relabeling(answers: dict[str, Any], relabel: tuple[str, ...]) -> None:
    migration = migrate_value(old_value(**answers), OLD, NEW, CHANGE)
    assert migration.relabel == relabel
    assert migration.value is not None
    for name in relabel:
        assert name not in migration.value
    assert migration.value["stars"] == {"rating": 3}
    assert migration.changed is True


def test_removed_question_is_dropped_and_optional_added_question_needs_nothing() -> None:
    migration = migrate_value(old_value(better={"choice": "tie"}), OLD, NEW, CHANGE)
    assert migration.value is not None
    assert "better" not in migration.value
    assert "note" not in migration.value
    assert migration.relabel == ()


def test_added_required_question_is_relabeled() -> None:
    old = schema({"name": "topic", "type": "single", "labels": ["a", "b"]})
    new = schema({"name": "topic", "type": "single", "labels": ["a", "b"]}, {"name": "stars", "type": "rating"})
    change = check_change(old, new, SchemaChange())
    migration = migrate_value({"topic": {"label": "a"}}, old, new, change)
    assert migration.value == {"topic": {"label": "a"}}
    assert migration.relabel == ("stars",)
    assert migration.changed is False


def test_unchanged_value_is_not_changed_even_if_it_was_unsorted() -> None:
    s = schema({"name": "tags", "type": "multi", "labels": ["a", "b", "c"]})
    migration = migrate_value({"tags": {"labels": ["c", "a"]}}, s, s, SchemaChange())
    assert migration == type(migration)(value={"tags": {"labels": ["a", "c"]}}, relabel=(), changed=False)


def test_nothing_surviving_gives_none() -> None:
    old = schema({"name": "topic", "type": "single", "labels": ["tech"]})
    new = schema({"name": "topic", "type": "single", "labels": ["science", "it"], "required": False})
    change = check_change(old, new, SchemaChange(split={"topic": {"tech": ["science", "it"]}}))
    migration = migrate_value({"topic": {"label": "tech"}}, old, new, change)
    assert migration.value is None
    assert migration.relabel == ("topic",)
    assert migration.changed is True


@pytest.mark.parametrize(
    ("old_question", "new_question", "answer"),
    [
        # became required while unanswered
        ({"name": "q", "type": "rating", "required": False}, {"name": "q", "type": "rating"}, None),
        # max_length lowered below the answer
        ({"name": "q", "type": "text"}, {"name": "q", "type": "text", "max_length": 3}, {"text": "too long"}),
        # a merge leaves fewer labels than min_labels
        (
            {"name": "q", "type": "multi", "labels": ["a", "b", "c"], "min_labels": 2},
            {"name": "q", "type": "multi", "labels": ["ab", "c"], "min_labels": 2},
            {"labels": ["a", "b"]},
        ),
        # overlapping spans no longer allowed
        (
            {"name": "q", "type": "spans", "labels": ["X"], "allow_overlap": True},
            {"name": "q", "type": "spans", "labels": ["X"]},
            spans((0, 5, "X"), (3, 8, "X")),
        ),
    ],
)
def test_answers_that_no_longer_fit_are_relabeled(
    old_question: dict[str, Any], new_question: dict[str, Any], answer: Any
) -> None:
    old, new = schema(old_question), schema(new_question)
    declared = SchemaChange(merged={"q": {"ab": ["a", "b"]}}) if old_question["type"] == "multi" else SchemaChange()
    change = check_change(old, new, declared)
    value = {} if answer is None else {"q": answer}
    migration = migrate_value(value, old, new, change)
    assert migration.relabel == ("q",)
    assert migration.value is None


def test_migrate_rejects_a_value_invalid_for_the_old_schema() -> None:
    with pytest.raises(InvalidInputError, match="topic: 'sport' is not a label"):
        migrate_value(old_value(topic={"label": "sport"}), OLD, NEW, CHANGE)


def test_migrate_does_not_need_the_text_for_spans() -> None:
    # An end far beyond any plausible text still migrates: offsets are not checked without the text.
    migration = migrate_value(old_value(entities=spans((1000, 1005, "PERSON"))), OLD, NEW, CHANGE)
    assert migration.value is not None
    assert migration.value["entities"] == spans((1000, 1005, "PER"))


def test_migrated_values_validate_against_the_new_schema() -> None:
    olds = [
        old_value(),
        old_value(topic={"label": "finance"}, tags={"labels": ["a", "b", "c"]}),
        old_value(topic={"label": "tech"}, entities=spans((0, 5, "PERSON"), (17, 22, "LOC"))),
        old_value(entities={"spans": []}, better={"choice": "b"}),
    ]
    for value in olds:
        OLD.validate(value, text=TEXT)
        migration = migrate_value(value, OLD, NEW, CHANGE)
        assert migration.value is not None
        complete = migration.value | {name: old_value(topic={"label": "sport"})[name] for name in migration.relabel}
        assert NEW.validate(complete, text=TEXT) == complete


# ---------------------------------------------------------------------------------------------
# Added labels
# ---------------------------------------------------------------------------------------------


def test_affected_by_added_labels_lists_single_and_multi_answers_only() -> None:
    old = schema(
        {"name": "topic", "type": "single", "labels": ["a", "b"]},
        {"name": "tags", "type": "multi", "labels": ["x"]},
        {"name": "entities", "type": "spans", "labels": ["PER"]},
        {"name": "other", "type": "single", "labels": ["u"]},
    )
    new = schema(
        {"name": "topic", "type": "single", "labels": ["a", "b", "c"]},
        {"name": "tags", "type": "multi", "labels": ["x", "y"]},
        {"name": "entities", "type": "spans", "labels": ["PER", "ORG"]},
        {"name": "other", "type": "single", "labels": ["u"]},
    )
    change = check_change(old, new, SchemaChange())
    assert change.added_labels == {"topic": ("c",), "tags": ("y",), "entities": ("ORG",)}
    value = {
        "topic": {"label": "a"},
        "tags": {"labels": ["x"]},
        "entities": spans((0, 5, "PER")),
        "other": {"label": "u"},
    }
    assert affected_by_added_labels(value, change) == ("topic", "tags")
    migration = migrate_value(value, old, new, change)
    assert migration.relabel == ()
    assert migration.changed is False
    assert affected_by_added_labels({"other": {"label": "u"}}, change) == ()
