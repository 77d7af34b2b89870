"""Unit tests for record normalization and content hashing (labelloop.domain.records)."""

from __future__ import annotations

import unicodedata
from typing import Any

import orjson
import pytest

from labelloop.domain.reasons import Reason
from labelloop.domain.records import (
    FieldRule,
    Normalized,
    RecordShape,
    Rejection,
    normalize_record,
    normalize_string,
    normalize_text,
)

SHAPE = RecordShape(
    fields={
        "id": FieldRule("string", required=True),
        "text": FieldRule("string", required=True),
        "user": FieldRule("string"),
        "consent": FieldRule("list"),
    },
    id_field="id",
    text_field="text",
    subject_field="user",
    consent_field="consent",
)


def ok(row: dict[str, Any], shape: RecordShape = SHAPE) -> Normalized:
    out = normalize_record(row, shape)
    assert isinstance(out, Normalized), out
    return out


def rejected(row: dict[str, Any], shape: RecordShape = SHAPE) -> Rejection:
    out = normalize_record(row, shape)
    assert isinstance(out, Rejection), out
    return out


def payload(out: Normalized) -> dict[str, Any]:
    return orjson.loads(out.payload)


# -- normalize_text / normalize_string ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e\u0301", "\u00e9"),
        ("Cafe\u0301", "Caf\u00e9"),
        ("plain ascii", "plain ascii"),
        ("a\nb", "a\nb"),
        ("a\n\nb", "a\n\nb"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("a\n  \n\t\n \nb", "a\n\nb"),
        ("a\r\nb", "a\nb"),
        ("a\r\n\r\n\r\n\r\nb", "a\n\nb"),
        ("a\rb", "a\nb"),
        ("a\tb", "a b"),
        ("a  b", "a b"),
        ("a \t  b", "a b"),
        ("  padded  ", "padded"),
        ("\n\n  lead and trail \n\n", "lead and trail"),
        ("line one  \n   line two", "line one\nline two"),
        ("nul\x00byte", "nulbyte"),
        ("\x00", ""),
        ("  Cafe\u0301\t is\r\n\r\n\r\n open ", "Caf\u00e9 is\n\nopen"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e\u0301", "\u00e9"),
        ("plain", "plain"),
        ("a\nb", "a b"),
        ("a\r\n\r\nb", "a b"),
        ("a\tb", "a b"),
        ("a   b", "a b"),
        ("  padded \n", "padded"),
        ("nul\x00byte", "nulbyte"),
        ("multi\n\n\nline\ttext  here ", "multi line text here"),
    ],
)
def test_normalize_string(raw: str, expected: str) -> None:
    assert normalize_string(raw) == expected


@pytest.mark.parametrize("func", [normalize_text, normalize_string])
@pytest.mark.parametrize("raw", ["e\x00\u0301", "Cafe\x00\u0301 ok", "a\u0301\x00"])
def test_output_is_nfc_and_nul_free_even_when_nul_separates_combining_mark(func: Any, raw: str) -> None:
    out = func(raw)
    assert "\x00" not in out
    assert unicodedata.is_normalized("NFC", out), repr(out)


@pytest.mark.parametrize("func", [normalize_text, normalize_string])
def test_normalization_is_idempotent(func: Any) -> None:
    raw = "  Cafe\u0301\t is\r\n\r\n\r\n open \x00 now "
    once = func(raw)
    assert func(once) == once


# -- type coercion ---------------------------------------------------------------------------


def typed_shape(kind: str, **rule: Any) -> RecordShape:
    return RecordShape(fields={"v": FieldRule(kind, **rule)})


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("integer", "12", 12),
        ("integer", " 12 ", 12),
        ("integer", 7, 7),
        ("integer", 3.0, 3),
        ("number", "1.5", 1.5),
        ("number", 2, 2.0),  # numbers are floats so 2, 2.0 and "2" hash alike
        ("number", "-0.25", -0.25),
        ("boolean", "true", True),
        ("boolean", "TRUE", True),
        ("boolean", "false", False),
        ("boolean", "1", True),
        ("boolean", "0", False),
        ("boolean", "yes", True),
        ("boolean", "no", False),
        ("boolean", 1, True),
        ("boolean", False, False),
        ("list", '["a", "b"]', ["a", "b"]),
        ("list", ["x", 1], ["x", 1]),
        ("list", ["  spaced   item "], ["spaced item"]),
        ("object", '{"k": 1}', {"k": 1}),
        ("object", {"k": [1, 2]}, {"k": [1, 2]}),
        ("string", 5, "5"),
        ("string", True, "true"),
        ("string", "a \n b", "a b"),
        ("any", {"x": [1]}, {"x": [1]}),
    ],
)
def test_coercion(kind: str, raw: Any, expected: Any) -> None:
    out = ok({"v": raw}, typed_shape(kind))
    value = payload(out)["v"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("integer", "twelve"),
        ("integer", "12.5"),
        ("integer", 12.5),
        ("integer", True),
        ("integer", [1]),
        ("number", "abc"),
        ("number", "nan"),
        ("number", "inf"),
        ("number", float("nan")),
        ("number", True),
        ("boolean", "maybe"),
        ("boolean", 2),
        ("list", "not a list"),
        ("list", "[broken json"),
        ("list", {"a": 1}),
        ("object", "[1, 2]"),
        ("object", "{broken"),
        ("object", [1]),
        ("string", {"a": 1}),
        ("string", [1, 2]),
        ("string", float("nan")),
        ("datetime", "not a time"),
        ("datetime", [2024]),
    ],
)
def test_wrong_type(kind: str, raw: Any) -> None:
    out = rejected({"v": raw}, typed_shape(kind))
    assert out.reason is Reason.WRONG_TYPE
    assert "'v'" in out.message


def test_integer_too_big_for_storage_is_rejected_not_raised() -> None:
    # CSV gives strings; a 30-digit integer cannot be stored as a 64-bit JSON integer.
    out = normalize_record({"v": "1" * 30}, typed_shape("integer"))
    assert isinstance(out, Rejection)
    assert out.reason in (Reason.WRONG_TYPE, Reason.FIELD_TOO_LARGE)


# -- rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [
        {"text": "hello"},
        {"id": None, "text": "hello"},
        {"id": "   ", "text": "hello"},
        {"id": "a1"},
        {"id": "a1", "text": " \n\t "},
        {"id": "a1", "text": None},
    ],
)
def test_missing_required_field(row: dict[str, Any]) -> None:
    out = rejected(row)
    assert out.reason is Reason.MISSING_REQUIRED_FIELD


def test_missing_required_non_string_field_given_blank_csv_value() -> None:
    shape = RecordShape(fields={"n": FieldRule("integer", required=True)})
    assert rejected({"n": ""}, shape).reason is Reason.MISSING_REQUIRED_FIELD
    assert rejected({"n": "  "}, shape).reason is Reason.MISSING_REQUIRED_FIELD


def test_optional_blank_non_string_field_is_absent() -> None:
    shape = RecordShape(fields={"n": FieldRule("integer")})
    assert payload(ok({"n": ""}, shape)) == {}


def test_undeclared_text_field_must_be_a_string() -> None:
    shape = RecordShape(text_field="body")
    assert rejected({"other": "x"}, shape).reason is Reason.MISSING_REQUIRED_FIELD
    assert rejected({"body": 5}, shape).reason is Reason.MISSING_REQUIRED_FIELD
    assert payload(ok({"body": " a \r\n\r\n\r\n b "}, shape)) == {"body": "a\n\nb"}


def test_field_too_large_by_max_field_chars() -> None:
    shape = RecordShape(fields={"text": FieldRule("string")}, text_field="text", max_field_chars=5)
    assert payload(ok({"text": "abcde"}, shape)) == {"text": "abcde"}
    out = rejected({"text": "abcdef"}, shape)
    assert out.reason is Reason.FIELD_TOO_LARGE
    assert "'text'" in out.message


def test_max_field_chars_counts_after_normalization() -> None:
    shape = RecordShape(fields={"s": FieldRule("string")}, max_field_chars=3)
    assert payload(ok({"s": "  a    b  "}, shape)) == {"s": "a b"}


def test_field_too_large_applies_to_undeclared_fields() -> None:
    shape = RecordShape(max_field_chars=4)
    assert rejected({"extra": "12345"}, shape).reason is Reason.FIELD_TOO_LARGE
    assert payload(ok({"extra": "1234"}, shape)) == {"extra": "1234"}


def test_field_too_large_by_max_length() -> None:
    shape = RecordShape(fields={"s": FieldRule("string", max_length=3)})
    assert payload(ok({"s": "abc"}, shape)) == {"s": "abc"}
    assert rejected({"s": "abcd"}, shape).reason is Reason.FIELD_TOO_LARGE


def test_list_max_length_counts_items() -> None:
    shape = RecordShape(fields={"tags": FieldRule("list", max_length=2)})
    assert payload(ok({"tags": ["a", "b"]}, shape)) == {"tags": ["a", "b"]}
    assert rejected({"tags": ["a", "b", "c"]}, shape).reason is Reason.FIELD_TOO_LARGE


def test_unknown_field_quarantined() -> None:
    shape = RecordShape(fields={"text": FieldRule("string")}, text_field="text", extra_fields="quarantine")
    out = rejected({"text": "hi", "surprise": 1}, shape)
    assert out.reason is Reason.UNKNOWN_FIELD
    assert "surprise" in out.message
    # an extra key whose value is null counts as absent
    assert payload(ok({"text": "hi", "surprise": None}, shape)) == {"text": "hi"}


def test_extra_fields_keep_normalizes_by_value() -> None:
    shape = RecordShape(fields={"text": FieldRule("string")}, text_field="text", extra_fields="keep")
    out = ok({"text": "hi", "note": "  a \n b ", "n": 3, "bad": float("nan"), "gone": None}, shape)
    assert payload(out) == {"text": "hi", "note": "a b", "n": 3, "bad": None}


def test_extra_fields_drop() -> None:
    shape = RecordShape(fields={"text": FieldRule("string")}, text_field="text", extra_fields="drop")
    assert payload(ok({"text": "hi", "note": "x", "n": 3}, shape)) == {"text": "hi"}


def test_unknown_field_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field type"):
        FieldRule("decimal")


# -- payload, roles, consent -----------------------------------------------------------------


def test_payload_excludes_role_fields_and_is_canonical_json() -> None:
    out = ok({"text": "  hi  there ", "id": " a1 ", "user": "u\u0301 7", "consent": ["b", "a"], "z": 1, "a": 2})
    assert out.payload == '{"a":2,"text":"hi there","z":1}'
    assert out.external_id == "a1"
    assert out.subject_id == unicodedata.normalize("NFC", "u\u0301 7")
    assert out.consent == '["a","b"]'


def test_integer_id_becomes_string() -> None:
    shape = RecordShape(id_field="id", subject_field="user")
    out = ok({"id": 42, "user": 7, "text": "x"}, shape)
    assert out.external_id == "42"
    assert out.subject_id == "7"
    assert payload(out) == {"text": "x"}


def test_role_field_of_wrong_type_is_rejected() -> None:
    shape = RecordShape(id_field="id")
    assert rejected({"id": {"nested": 1}}, shape).reason is Reason.WRONG_TYPE
    assert rejected({"id": True}, shape).reason is Reason.WRONG_TYPE


def test_absent_roles_are_none() -> None:
    out = ok({"id": "a", "text": "t"})
    assert (out.subject_id, out.consent, out.event_time) == (None, None, None)


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        (["research", "marketing", "research"], '["marketing","research"]'),
        ('["b","a","b"]', '["a","b"]'),
        ([" b ", "a"], '["a","b"]'),
        ([], "[]"),
    ],
)
def test_consent_sorted_unique_json_list(consent: Any, expected: str) -> None:
    assert ok({"id": "1", "text": "t", "consent": consent}).consent == expected


def test_consent_comma_separated_string_when_undeclared() -> None:
    shape = RecordShape(consent_field="consent")
    out = ok({"consent": "research, marketing,,research", "text": "t"}, shape)
    assert out.consent == '["marketing","research"]'
    assert payload(out) == {"text": "t"}


def test_consent_must_be_list_of_strings() -> None:
    shape = RecordShape(consent_field="consent")
    assert rejected({"consent": [1, 2]}, shape).reason is Reason.WRONG_TYPE
    assert rejected({"consent": {"a": 1}}, shape).reason is Reason.WRONG_TYPE


# -- content hash ----------------------------------------------------------------------------


BASE_ROW: dict[str, Any] = {"id": "1", "text": "Caf\u00e9 is open\nnow", "user": "u1", "consent": ["a"], "lang": "fr"}


@pytest.mark.parametrize(
    "variant",
    [
        {"lang": "fr", "consent": ["a"], "user": "u1", "text": "Caf\u00e9 is open\nnow", "id": "1"},
        {"id": "1", "text": "  Caf\u00e9  is\topen\r\nnow  ", "user": "u1", "consent": ["a"], "lang": " fr "},
        {"id": "1", "text": "Cafe\u0301 is open\nnow", "user": "u1", "consent": ["a"], "lang": "fr"},
        {"id": "2", "text": "Caf\u00e9 is open\nnow", "user": "u1", "consent": ["a"], "lang": "fr"},
        {"id": "1", "text": "Caf\u00e9 is open\nnow", "user": "someone-else", "consent": ["a"], "lang": "fr"},
        {"id": "1", "text": "Caf\u00e9 is open\nnow", "user": "u1", "consent": ["x", "y"], "lang": "fr"},
        {"id": "1", "text": "Caf\u00e9 is open\nnow", "lang": "fr"},
        {"id": "1", "text": "Caf\u00e9 is open\nnow\x00", "user": "u1", "consent": ["a"], "lang": "fr"},
    ],
    ids=["key-order", "whitespace", "unicode-nfd", "id", "subject", "consent", "no-roles", "nul"],
)
def test_content_hash_ignores_presentation_and_roles(variant: dict[str, Any]) -> None:
    base = ok(BASE_ROW)
    other = ok(variant)
    assert len(base.content_hash) == 16
    assert other.content_hash == base.content_hash
    assert other.payload == base.payload


@pytest.mark.parametrize(
    "change",
    [
        {"text": "Caf\u00e9 is closed\nnow"},
        {"text": "Caf\u00e9 is open now"},
        {"text": "Caf\u00e9 is open\n\nnow"},
        {"lang": "en"},
        {"extra": "x"},
    ],
)
def test_content_hash_changes_with_content(change: dict[str, Any]) -> None:
    assert ok({**BASE_ROW, **change}).content_hash != ok(BASE_ROW).content_hash


def test_hash_exclude_is_honoured() -> None:
    shape = RecordShape(text_field="text", hash_exclude=frozenset({"source_url"}))
    a = ok({"text": "same", "source_url": "http://a"}, shape)
    b = ok({"text": "same", "source_url": "http://b"}, shape)
    c = ok({"text": "same"}, shape)
    assert a.content_hash == b.content_hash == c.content_hash
    # still stored in the payload
    assert payload(a) == {"text": "same", "source_url": "http://a"}
    # without hash_exclude the field counts
    plain = RecordShape(text_field="text")
    with_url = ok({"text": "same", "source_url": "http://a"}, plain)
    assert with_url.content_hash != ok({"text": "same"}, plain).content_hash
    # and a changed text still changes the hash
    assert ok({"text": "different", "source_url": "http://a"}, shape).content_hash != a.content_hash


# -- event time ------------------------------------------------------------------------------

JAN_1_2024 = 1_704_067_200.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-01T00:00:00Z", JAN_1_2024),
        ("2024-01-01T00:00:00+00:00", JAN_1_2024),
        ("2024-01-01T02:00:00+02:00", JAN_1_2024),
        ("2023-12-31T19:00:00-05:00", JAN_1_2024),
        ("2024-01-01T00:00:00", JAN_1_2024),
        ("2024-01-01", JAN_1_2024),
        ("2024-01-01T00:00:01.5Z", JAN_1_2024 + 1.5),
        (" 2024-01-01T00:00:00Z ", JAN_1_2024),
        (JAN_1_2024, JAN_1_2024),
        (1_704_067_200, JAN_1_2024),
    ],
)
@pytest.mark.parametrize("declared", [True, False])
def test_event_time_to_epoch(raw: Any, expected: float, declared: bool) -> None:
    fields = {"ts": FieldRule("datetime")} if declared else {}
    shape = RecordShape(fields=fields, event_time_field="ts")
    out = ok({"ts": raw, "text": "x"}, shape)
    assert isinstance(out.event_time, float)
    assert out.event_time == pytest.approx(expected, abs=1e-6)


def test_event_time_invalid_is_wrong_type() -> None:
    shape = RecordShape(event_time_field="ts")
    out = rejected({"ts": "yesterday"}, shape)
    assert out.reason is Reason.WRONG_TYPE
    assert "'ts'" in out.message


def test_number_field_hash_is_the_same_from_csv_and_json() -> None:
    # CSV gives "2", JSON gives 2 or 2.0: the same content must hash the same.
    shape = RecordShape(fields={"text": FieldRule("string"), "score": FieldRule("number")}, text_field="text")
    hashes = {ok({"text": "t", "score": raw}, shape).content_hash for raw in ("2", 2, 2.0, " 2.0 ")}
    assert len(hashes) == 1
