"""Unit tests for declarative row rules (labelloop.domain.rules)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from labelloop.domain.rules import (
    RULE_CODES,
    Rule,
    RuleSet,
    Violation,
    binary_ratio,
    markup_ratio,
    rule_from_mapping,
)

ARTICLE_EN = (
    "The city council approved the new budget on Thursday after a long debate about public transport. "
    "Several members argued that the bus network should be expanded before the end of the year, while "
    "others wanted more money for schools and road repairs. The mayor said that the plan was a fair "
    "compromise and that residents would see the first changes in the spring."
)
ARTICLE_DE = (
    "Der Stadtrat hat am Donnerstag nach einer langen Debatte über den Nahverkehr den neuen Haushalt "
    "beschlossen. Mehrere Mitglieder wollten, dass das Busnetz noch vor Ende des Jahres ausgebaut wird."
)


def check(rule: Rule, record: dict[str, Any]) -> list[Violation]:
    return RuleSet([rule]).check(record)


def codes(rule: Rule, record: dict[str, Any]) -> list[str]:
    return [v.code for v in check(rule, record)]


# --- required, missing vs None, wrong type -----------------------------------------------------


def test_required_missing_and_null_are_told_apart() -> None:
    rule = Rule("text", required=True)
    (missing,) = check(rule, {})
    (null,) = check(rule, {"text": None})
    assert missing == Violation(
        "text.required", "text", "required", "quarantine", "text: missing, required (rule text.required)"
    )
    assert null.code == "required"
    assert null.message == "text: null, required (rule text.required)"
    assert check(rule, {"text": ""}) == []  # present (emptiness is not_empty's business)


def test_missing_or_null_skips_the_other_checks() -> None:
    rule = Rule("text", type="string", min_length=5, regex="x", not_empty=True)
    assert check(rule, {}) == []
    assert check(rule, {"text": None}) == []
    required = Rule("text", required=True, type="string", min_length=5)
    assert codes(required, {"text": None}) == ["required"]


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("string", ["", "x"], [1, 1.5, True, ["x"], {"a": 1}]),
        ("integer", [0, -3, 2**70], [1.0, True, False, "1"]),
        ("number", [0, 1.5, -2, math.inf], [True, "1.5", [1]]),
        ("boolean", [True, False], [0, 1, "true"]),
        ("list", [[], [1], (1, 2)], ["[]", {"a": 1}, 3]),
        ("object", [{}, {"a": 1}], [[("a", 1)], "{}", 1]),
    ],
)
def test_explicit_types(type_: str, good: list[Any], bad: list[Any]) -> None:
    rule = Rule("v", type=type_)  # type: ignore[arg-type]
    for value in good:
        assert check(rule, {"v": value}) == [], value
    for value in bad:
        assert codes(rule, {"v": value}) == ["wrong_type"], value


def test_wrong_type_message_names_types_only_and_skips_other_checks() -> None:
    rule = Rule("age", type="integer", min=0, max=150, allowed=(1, 2, 3))
    (violation,) = check(rule, {"age": "forty-two"})
    assert violation.code == "wrong_type"
    assert violation.rule == "age.type"
    assert violation.message == "age: expected integer, got string (rule age.type)"
    assert "forty" not in violation.message


def test_type_is_implied_by_the_checks() -> None:
    # regex implies a string; min a number; min_length a string or a list.
    assert codes(Rule("v", regex="a"), {"v": 5}) == ["wrong_type"]
    assert codes(Rule("v", min=0), {"v": "5"}) == ["wrong_type"]
    assert codes(Rule("v", min=0), {"v": True}) == ["wrong_type"]  # booleans are not numbers
    assert codes(Rule("v", max=10), {"v": 2.5}) == []
    assert codes(Rule("v", min_length=1), {"v": 3}) == ["wrong_type"]
    assert codes(Rule("v", min_length=1), {"v": ["a"]}) == []
    assert codes(Rule("v", min_length=1), {"v": "a"}) == []
    # allowed alone takes any type.
    assert codes(Rule("v", allowed=("a",)), {"v": 3}) == ["not_allowed"]
    message = check(Rule("v", min_length=1), {"v": 3})[0].message
    assert message == "v: expected string or list, got integer (rule v.type)"


# --- lengths ------------------------------------------------------------------------------------


def test_min_length_counts_stripped_characters() -> None:
    rule = Rule("text", min_length=1)
    (violation,) = check(rule, {"text": "   "})
    assert violation.code == "too_short"
    assert violation.message == "text: 0 characters, at least 1 required (rule text.min_length)"
    assert check(rule, {"text": " a "}) == []
    assert codes(Rule("text", min_length=3), {"text": "  ab  "}) == ["too_short"]
    assert check(Rule("text", min_length=3), {"text": "abc"}) == []


def test_max_length_counts_stripped_characters() -> None:
    rule = Rule("title", max_length=3)
    assert check(rule, {"title": "  abc  "}) == []
    (violation,) = check(rule, {"title": "abcd"})
    assert violation.code == "too_long"
    assert violation.message == "title: 4 characters, at most 3 allowed (rule title.max_length)"


def test_lengths_of_lists_count_items() -> None:
    rule = Rule("tags", min_length=1, max_length=2)
    assert check(rule, {"tags": ["a"]}) == []
    (short,) = check(rule, {"tags": []})
    assert short.message == "tags: 0 items, at least 1 required (rule tags.min_length)"
    (long,) = check(rule, {"tags": ["a", "b", "c"]})
    assert long.code == "too_long"
    assert long.message == "tags: 3 items, at most 2 allowed (rule tags.max_length)"
    assert check(rule, {"tags": [" ", ""]}) == []  # items are counted, not their text


def test_singular_in_messages() -> None:
    (violation,) = check(Rule("t", min_length=2), {"t": "a"})
    assert violation.message.startswith("t: 1 character, at least 2")


# --- numeric range ------------------------------------------------------------------------------


def test_range_is_inclusive() -> None:
    rule = Rule("score", min=0, max=1)
    for ok in (0, 0.0, 0.5, 1, 1.0):
        assert check(rule, {"score": ok}) == [], ok
    (low,) = check(rule, {"score": -0.01})
    (high,) = check(rule, {"score": 2})
    assert (low.code, low.rule, low.message) == (
        "out_of_range",
        "score.min",
        "score: below the minimum 0 (rule score.min)",
    )
    assert (high.code, high.rule) == ("out_of_range", "score.max")
    assert high.message == "score: above the maximum 1 (rule score.max)"


def test_nan_and_infinity_are_out_of_range() -> None:
    rule = Rule("score", min=0, max=1)
    nan = check(rule, {"score": math.nan})
    assert [v.code for v in nan] == ["out_of_range", "out_of_range"]
    assert "NaN" in nan[0].message
    assert codes(rule, {"score": math.inf}) == ["out_of_range"]
    assert codes(Rule("score", min=0), {"score": math.inf}) == []


# --- allowed ------------------------------------------------------------------------------------


def test_allowed_scalar() -> None:
    rule = Rule("label", allowed=("spam", "ham"))
    assert check(rule, {"label": "ham"}) == []
    (violation,) = check(rule, {"label": "eggs"})
    assert violation.code == "not_allowed"
    assert violation.message == "label: value not among the 2 allowed values ('spam', 'ham') (rule label.allowed)"


def test_allowed_list_requires_every_item() -> None:
    rule = Rule("tags", type="list", allowed=("a", "b"))
    assert check(rule, {"tags": ["a", "b", "a"]}) == []
    assert check(rule, {"tags": []}) == []
    (violation,) = check(rule, {"tags": ["a", "zz", "yy"]})
    assert violation.message.startswith("tags: 2 of 3 items not among the 2 allowed values")


def test_allowed_keeps_booleans_apart_from_numbers() -> None:
    numbers = Rule("v", allowed=(0, 1))
    assert codes(numbers, {"v": True}) == ["not_allowed"]
    assert codes(numbers, {"v": False}) == ["not_allowed"]
    assert check(numbers, {"v": 1}) == []
    assert check(numbers, {"v": 1.0}) == []  # numeric equality holds between int and float
    flags = Rule("v", allowed=(True,))
    assert codes(flags, {"v": 1}) == ["not_allowed"]
    assert check(flags, {"v": True}) == []


def test_allowed_with_unhashable_values() -> None:
    rule = Rule("v", allowed=({"k": 1}, "x"))
    assert check(rule, {"v": {"k": 1}}) == []
    assert codes(rule, {"v": {"k": 2}}) == ["not_allowed"]
    assert check(rule, {"v": "x"}) == []
    assert codes(Rule("v", allowed=("x",)), {"v": {"k": 1}}) == ["not_allowed"]


def test_allowed_preview_is_shortened() -> None:
    rule = Rule("n", allowed=tuple(range(20)))
    (violation,) = check(rule, {"n": 99})
    assert "the 20 allowed values (0, 1, 2, 3, 4, ...)" in violation.message


# --- regex --------------------------------------------------------------------------------------


def test_regex_uses_search() -> None:
    rule = Rule("code", regex=r"[A-Z]{3}-\d+")
    assert check(rule, {"code": "ticket ABC-12 opened"}) == []
    (violation,) = check(rule, {"code": "abc-12"})
    assert violation.code == "pattern_mismatch"
    assert violation.message == "code: does not match pattern '[A-Z]{3}-\\\\d+' (rule code.regex)"
    assert codes(Rule("code", regex=r"^\d+$"), {"code": "12a"}) == ["pattern_mismatch"]


def test_invalid_regex_raises_naming_the_pattern() -> None:
    with pytest.raises(ValueError, match=r"invalid regex '\(unclosed'") as info:
        Rule("code", regex="(unclosed")
    assert "rule code" in str(info.value)


# --- language -----------------------------------------------------------------------------------


def test_language_accepts_matching_text() -> None:
    rule = Rule("text", language=("en",))
    assert check(rule, {"text": ARTICLE_EN}) == []


def test_language_rejects_other_languages() -> None:
    rule = Rule("text", language=("en", "fr"))
    (violation,) = check(rule, {"text": ARTICLE_DE})
    assert violation.code == "wrong_language"
    assert violation.message.startswith("text: detected language de (confidence ")
    assert violation.message.endswith("), expected en, fr (rule text.language)")
    assert check(Rule("text", language=("de",)), {"text": ARTICLE_DE}) == []


def test_undetectable_text_passes_the_language_check() -> None:
    rule = Rule("text", language=("en",))
    for text in ("", "ok", "Samsung Galaxy Ultra", "12345 67890", "😀😀😀"):
        assert check(rule, {"text": text}) == [], text


def test_language_codes_are_validated() -> None:
    with pytest.raises(ValueError, match=r"unsupported language code.*xx"):
        Rule("text", language=("en", "xx"))
    assert Rule("text", language=["en", "de"]).language == ("en", "de")  # type: ignore[arg-type]
    assert Rule("text", language="en").language == ("en",)  # type: ignore[arg-type]


# --- not_empty ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\u200b", " \u200b\u200d \ufeff ", "\u00a0\u2060"])
def test_not_empty_fails_blank_and_zero_width_text(text: str) -> None:
    (violation,) = check(Rule("text", not_empty=True), {"text": text})
    assert violation.code == "empty_text"
    assert violation.message == "text: empty or blank text (rule text.not_empty)"


@pytest.mark.parametrize("text", ["a", " . ", "\u200bx", "0"])
def test_not_empty_passes_any_visible_character(text: str) -> None:
    assert check(Rule("text", not_empty=True), {"text": text}) == []


# --- markup -------------------------------------------------------------------------------------


def test_markup_ratio_known_values() -> None:
    assert markup_ratio("") == 0.0
    assert markup_ratio("plain words only") == 0.0
    assert markup_ratio("<b>hi</b>") == pytest.approx(7 / 9)
    assert markup_ratio("&amp;") == 1.0
    assert markup_ratio("a&nbsp;b") == pytest.approx(6 / 8)
    assert markup_ratio('<a href="https://x.org/p?q=1">go</a>') == pytest.approx(1 - 2 / 36)
    script = "<script>var x = 1;</script>ok"
    assert markup_ratio(script) == pytest.approx((len(script) - 2) / len(script))
    assert markup_ratio("<!-- note -->ok") == pytest.approx(13 / 15)
    assert markup_ratio("<!DOCTYPE html>") == 1.0
    assert markup_ratio("see [docs](https://x.org)") == pytest.approx(len("](https://x.org)") / 25)
    assert markup_ratio("![logo](a.png)") == 1.0
    assert markup_ratio("| a | b |\n|---|---|\n| 1 | 2 |") == pytest.approx(9 / 29)


@pytest.mark.parametrize(
    "text",
    [
        "a < b and c > d",
        "if x<3 or y > 4 then stop",
        "R&D costs & fees; AT&T",
        "I <3 this, 5 > 4",
        "Use [brackets] for notes (and parentheses).",
        "price: 3 < 5 -- ok",
    ],
)
def test_markup_look_alikes_are_not_markup(text: str) -> None:
    assert markup_ratio(text) == 0.0


def test_markup_check() -> None:
    rule = Rule("body", max_markup_ratio=0.3)
    html = '<div class="a"><p><span>Hi</span></p></div>'
    (violation,) = check(rule, {"body": html})
    assert violation.code == "mostly_markup"
    assert violation.message.endswith("of characters are markup, at most 30.0% allowed (rule body.max_markup_ratio)")
    assert check(rule, {"body": "A <b>bold</b> claim in an otherwise plain sentence of text."}) == []
    assert check(rule, {"body": "a < b and c > d"}) == []


def test_markup_ratio_is_linear_on_hostile_input() -> None:
    # Unclosed comments/scripts run to the end; the whole text is markup.
    assert markup_ratio("<!--" * 2000) == 1.0
    assert markup_ratio("<script>" * 2000) == 1.0
    assert markup_ratio("<a b c" * 2000) == 0.0


# --- binary -------------------------------------------------------------------------------------


def test_binary_ratio_known_values() -> None:
    assert binary_ratio("") == 0.0
    assert binary_ratio("ab\x00\x01") == 0.5
    assert binary_ratio("line\nnext\ttab\r\n") == 0.0
    assert binary_ratio("caf\ufffd") == 0.25
    assert binary_ratio("\ue000\U000f0000ab") == 0.5  # private use
    assert binary_ratio("x\udc80") == 0.5  # lone surrogate from surrogateescape
    assert binary_ratio("\x85\x9f") == 1.0  # C1 controls (mis-decoded cp1252)
    blob = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRlc3Q="
    assert binary_ratio(f"{blob} ok") == pytest.approx(len(blob) / (len(blob) + 3))
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    assert binary_ratio(f"data:image/png;base64,{png}") == pytest.approx(len(png) / (len(png) + 22))


@pytest.mark.parametrize(
    "text",
    [
        "Great product 😀🎉👍 would buy again ❤️",
        "Crème brûlée, jalapeño, Ærøskøbing, Łódź, naïve façade — déjà vu.",
        "日本語のテキストと한국어 텍스트와 русский текст",
        "Donaudampfschifffahrtsgesellschaftskapitänsmütze",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "call getUserAccountSettingsForCurrentSession2 first",
        "path /usr/local/lib/python3.11/site-packages/numpy/core/include",
        "MAX_RETRY_COUNT_FOR_HTTP_REQUESTS_2024",
        "non\u00a0breaking and soft\u00adhyphen and zero\u200bwidth",
    ],
)
def test_binary_look_alikes_are_not_binary(text: str) -> None:
    assert binary_ratio(text) == 0.0


def test_binary_check() -> None:
    rule = Rule("body", max_binary_ratio=0.05)
    (violation,) = check(rule, {"body": "PK\x03\x04\x14\x00\x06\x00 header"})
    assert violation.code == "binary_content"
    assert "of characters look binary, at most 5.0% allowed" in violation.message
    assert check(rule, {"body": "Fine text with emoji 😀 and accents é."}) == []


# --- severities, names, order -------------------------------------------------------------------


def test_severity_is_carried_by_each_violation() -> None:
    rules = RuleSet(
        [
            Rule("text", required=True),
            Rule("lang", severity="flag", allowed=("en",)),
        ]
    )
    violations = rules.check({"lang": "de"})
    assert [(v.code, v.severity) for v in violations] == [("required", "quarantine"), ("not_allowed", "flag")]


def test_explicit_name_is_used_for_every_check() -> None:
    rule = Rule("text", name="short_text", min_length=10, regex="x")
    violations = check(rule, {"text": "abc"})
    assert [v.rule for v in violations] == ["short_text", "short_text"]
    assert all(v.message.endswith("(rule short_text)") for v in violations)


def test_all_violations_in_rule_order() -> None:
    rules = RuleSet(
        [
            Rule("b", min=10),
            Rule("a", required=True),
            Rule("text", not_empty=True, min_length=2, regex="z", max_markup_ratio=0.1),
        ]
    )
    violations = rules.check({"b": 3, "text": " "})
    assert [(v.field, v.code) for v in violations] == [
        ("b", "out_of_range"),
        ("a", "required"),
        ("text", "empty_text"),
        ("text", "too_short"),
        ("text", "pattern_mismatch"),
    ]
    assert rules.check({"b": 10, "a": 1, "text": "zz"}) == []


def test_every_code_is_reachable() -> None:
    rules = RuleSet(
        [
            Rule("r", required=True),
            Rule("t", type="integer"),
            Rule("short", min_length=5),
            Rule("long", max_length=1),
            Rule("n", max=0),
            Rule("a", allowed=("x",)),
            Rule("p", regex="^z"),
            Rule("l", language=("fr",)),
            Rule("e", not_empty=True),
            Rule("m", max_markup_ratio=0.1),
            Rule("bin", max_binary_ratio=0.1),
        ]
    )
    record = {
        "t": "1",
        "short": "ab",
        "long": "ab",
        "n": 1,
        "a": "y",
        "p": "a",
        "l": ARTICLE_EN,
        "e": "",
        "m": "<p></p>",
        "bin": "\x00\x01",
    }
    assert sorted(v.code for v in rules.check(record)) == sorted(RULE_CODES)


# --- values never leak into messages -------------------------------------------------------------

SECRET = "Jane Doe jane.doe@example.com +44 20 7946 0958"


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        (Rule("v", type="integer"), SECRET),
        (Rule("v", min_length=500), SECRET),
        (Rule("v", max_length=5), SECRET),
        (Rule("v", allowed=("a", "b")), SECRET),
        (Rule("v", type="list", allowed=("a",)), [SECRET, "a"]),
        (Rule("v", regex=r"^\d+$"), SECRET),
        (Rule("v", language=("de",)), f"{SECRET} {ARTICLE_EN}"),
        (Rule("v", max_markup_ratio=0.1), f"<p>{SECRET}</p>" * 5),
        (Rule("v", max_binary_ratio=0.01), f"{SECRET}\x00\x01"),
        (Rule("v", min=100), 42.123456),
    ],
)
def test_messages_never_contain_the_value(rule: Rule, value: Any) -> None:
    violations = check(rule, {"v": value})
    assert violations, "the rule should have failed"
    for violation in violations:
        for part in ("Jane", "jane.doe", "7946", "42.123456"):
            assert part not in violation.message
        assert "\n" not in violation.message


# --- construction errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "carries no check"),
        ({"severity": "fatal", "required": True}, "severity must be one of quarantine, flag"),
        ({"type": "str"}, "type must be one of"),
        ({"type": "integer", "min_length": 1}, "check min_length does not apply to type integer"),
        ({"type": "string", "min": 1}, "check min does not apply to type string"),
        ({"type": "boolean", "regex": "x"}, "check regex does not apply to type boolean"),
        ({"min_length": 1, "min": 0}, "apply to no common value type"),
        ({"min_length": -1}, "min_length must be a non-negative integer"),
        ({"min_length": 1.5}, "min_length must be a non-negative integer"),
        ({"max_length": True}, "max_length must be a non-negative integer"),
        ({"min_length": 5, "max_length": 2}, "min_length 5 is greater than max_length 2"),
        ({"min": 2, "max": 1}, "min 2 is greater than max 1"),
        ({"min": "0"}, "min must be a number"),
        ({"max": math.nan}, "max must be a number"),
        ({"max_markup_ratio": 1.5}, "max_markup_ratio must be a number from 0 to 1"),
        ({"max_binary_ratio": -0.1}, "max_binary_ratio must be a number from 0 to 1"),
        ({"allowed": ()}, "allowed must be a non-empty list"),
        ({"allowed": "abc"}, "allowed must be a non-empty list"),
        ({"required": "yes"}, "required must be true or false"),
        ({"language": ()}, "language must be a non-empty list"),
        ({"regex": 5}, "regex must be a string"),
        ({"name": "", "required": True}, "name must be a non-empty string"),
    ],
)
def test_invalid_rules_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Rule("f", **kwargs)


def test_field_must_be_named() -> None:
    with pytest.raises(ValueError, match="field must be a non-empty string"):
        Rule("", required=True)


def test_ruleset_rejects_duplicate_names_and_non_rules() -> None:
    with pytest.raises(ValueError, match="duplicate rule name 'x'"):
        RuleSet([Rule("a", name="x", required=True), Rule("b", name="x", required=True)])
    with pytest.raises(ValueError, match="RuleSet takes Rule objects"):
        RuleSet([{"field": "a"}])  # type: ignore[list-item]


def test_ruleset_fields_and_rules() -> None:
    rules = [Rule("a", required=True), Rule("b", min=0), Rule("a", min_length=1)]
    rule_set = RuleSet(rules)
    assert rule_set.fields == frozenset({"a", "b"})
    assert rule_set.rules == tuple(rules)
    assert len(rule_set) == 3


def test_rule_is_frozen_and_comparable() -> None:
    rule = Rule("a", regex="x", allowed=["x", "y"])  # type: ignore[arg-type]
    assert rule.allowed == ("x", "y")
    assert rule == Rule("a", regex="x", allowed=("x", "y"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.min = 3  # type: ignore[misc]


# --- checks() and as_params() ------------------------------------------------------------------


def test_checks_lists_carried_checks_in_order() -> None:
    assert Rule("t", required=True).checks() == ["required"]
    assert Rule("t", type="string").checks() == ["type"]
    assert Rule("t", allowed=("a",)).checks() == ["allowed"]
    rule = Rule("t", required=True, regex="x", min_length=1, not_empty=True, language=("en",), max_binary_ratio=0.1)
    assert rule.checks() == ["required", "type", "not_empty", "min_length", "regex", "language", "max_binary_ratio"]


def test_as_params_is_json_ready() -> None:
    rule = Rule("text", severity="flag", name="lang_gate", language=("en", "de"), min_length=3, allowed=("a", "b"))
    assert rule.as_params() == {
        "field": "text",
        "severity": "flag",
        "name": "lang_gate",
        "checks": ["type", "min_length", "allowed", "language"],
        "min_length": 3,
        "allowed": ["a", "b"],
        "language": ["en", "de"],
    }
    assert Rule("n", required=True, type="number", min=0).as_params() == {
        "field": "n",
        "severity": "quarantine",
        "checks": ["required", "type", "min"],
        "type": "number",
        "required": True,
        "min": 0,
    }


# --- rule_from_mapping ---------------------------------------------------------------------------


def test_rule_from_mapping_builds_rules() -> None:
    rule = rule_from_mapping(
        {
            "field": "text",
            "required": True,
            "min_length": 1,
            "language": "en",
            "allowed": ["a", "b"],
            "severity": "flag",
        }
    )
    assert rule == Rule("text", severity="flag", required=True, min_length=1, language=("en",), allowed=("a", "b"))
    assert rule_from_mapping({"field": "n", "min": 0, "max": 1.5}) == Rule("n", min=0, max=1.5)


def test_rule_from_mapping_unknown_keys() -> None:
    with pytest.raises(
        ValueError, match=r"unknown rule key\(s\) for field 'text': 'max_len' \(did you mean 'max_length'\?\)"
    ):
        rule_from_mapping({"field": "text", "max_len": 3})
    with pytest.raises(ValueError, match="known keys: field, severity"):
        rule_from_mapping({"field": "text", "colour": "red"})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"required": True}, "a rule needs a 'field'"),
        ({"field": "t", "min_length": "3"}, "min_length must be a non-negative integer, got '3'"),
        ({"field": "t", "required": "yes"}, "required must be true or false"),
        ({"field": "t", "allowed": "abc"}, "allowed must be a non-empty list"),
        ({"field": "t", "language": ["en", 3]}, "language must be a non-empty list of language codes"),
        ({"field": "t", "regex": "[a-"}, r"invalid regex '\[a-'"),
        ({"field": "t"}, "carries no check"),
    ],
)
def test_rule_from_mapping_bad_values(spec: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rule_from_mapping(spec)


def test_rule_from_mapping_rejects_non_mappings() -> None:
    with pytest.raises(ValueError, match="a rule must be a mapping"):
        rule_from_mapping(["field", "text"])  # type: ignore[arg-type]
