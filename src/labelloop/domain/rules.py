"""Declarative row rules (quality gates): which values a record's fields may hold.

Pure and stdlib-only. A :class:`Rule` names one top-level field of a record and carries one or
more checks; a :class:`RuleSet` evaluates rules in order and returns *every* violation. The
caller decides what they mean: any ``quarantine``-severity violation sends the record to
quarantine, ``flag``-only violations store it with flags.

Semantics, per rule:

* a **missing or None** field fails only ``required`` (``code="required"``) and skips every
  other check of the rule - absence is the business of ``required`` alone;
* a value of the **wrong type** fails ``wrong_type`` and skips the other checks of the rule.
  The expected type is ``type`` when given, otherwise what the checks understand: length checks
  take strings and lists, ``min``/``max`` numbers, text checks (``regex``, ``language``,
  ``not_empty``, the ratios) strings; ``allowed`` alone takes anything. **Booleans are not
  numbers**; ``integer`` is a Python ``int``; ``number`` an ``int`` or ``float``; ``list`` a list
  or tuple; ``object`` a dict;
* string lengths count the characters of the **stripped** text (``str.strip``), both for
  ``min_length`` and ``max_length``, so padding neither satisfies a minimum nor breaks a maximum;
  list lengths count items;
* ``not_empty`` fails text that is empty or only white space and zero-width characters
  (U+200B-U+200D, U+2060, U+FEFF, U+00AD, U+180E);
* ``allowed`` on a list requires every item to be allowed; booleans never match numbers
  (``True`` is not ``1``);
* ``language`` fails when :func:`~labelloop.domain.language.detect_language` names a language
  outside the tuple; text it cannot decide (``None``: too short, no function words, ties)
  **passes**. List close relatives together where both are acceptable (``da`` and ``no``);
* ``max_markup_ratio`` / ``max_binary_ratio`` compare :func:`markup_ratio` /
  :func:`binary_ratio` (see there) with an inclusive maximum.

Messages never contain the field's value (it may hold personal data): only lengths, counts,
type names, ratios, the detected language and the rule's own parameters.

Speed (2-core shared AMD EPYC VM, CPython 3.11, ``timeit`` best of 7): ``RuleSet.check`` with
one string rule (required + type + min/max length) takes 0.4 us a record, three simple rules
(allowed, range, required) 0.9 us. On 300-character texts ``markup_ratio`` takes 2.4 us on
plain text and 6 us on HTML; ``binary_ratio`` 3-4 us on text and 5 us on a base64 data URI.
A ``language`` check costs one :func:`~labelloop.domain.language.detect_language` call
(13-21 us).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from labelloop.domain.language import SUPPORTED_LANGUAGES, detect_language

__all__ = [
    "RULE_CODES",
    "Rule",
    "RuleSet",
    "RuleType",
    "Severity",
    "Violation",
    "binary_ratio",
    "markup_ratio",
    "rule_from_mapping",
]

RULE_CODES = (
    "required",
    "wrong_type",
    "too_short",
    "too_long",
    "out_of_range",
    "not_allowed",
    "pattern_mismatch",
    "wrong_language",
    "empty_text",
    "mostly_markup",
    "binary_content",
)

Severity = Literal["quarantine", "flag"]
RuleType = Literal["string", "integer", "number", "boolean", "list", "object"]
_SEVERITIES: tuple[str, ...] = get_args(Severity)
_TYPES: tuple[str, ...] = get_args(RuleType)

# Every check a rule may carry, in evaluation order, with its violation code.
_CHECK_CODES: dict[str, str] = {
    "required": "required",
    "type": "wrong_type",
    "not_empty": "empty_text",
    "min_length": "too_short",
    "max_length": "too_long",
    "min": "out_of_range",
    "max": "out_of_range",
    "allowed": "not_allowed",
    "regex": "pattern_mismatch",
    "language": "wrong_language",
    "max_markup_ratio": "mostly_markup",
    "max_binary_ratio": "binary_content",
}
_TEXT_CHECKS = ("regex", "language", "not_empty", "max_markup_ratio", "max_binary_ratio")
# The value types each check understands; a rule without ``type`` accepts their intersection.
_CHECK_TYPES: dict[str, frozenset[str]] = {
    "min_length": frozenset({"string", "list"}),
    "max_length": frozenset({"string", "list"}),
    "min": frozenset({"integer", "number"}),
    "max": frozenset({"integer", "number"}),
    **{check: frozenset({"string"}) for check in _TEXT_CHECKS},
}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list, tuple),
    "object": (dict,),
}
_MISSING: Any = object()


# ---------------------------------------------------------------------------------------------
# Ratios. Measured on 300-character texts (2-core VM, best of 7): markup_ratio 2.4 us plain /
# 6 us HTML, binary_ratio 3-4 us text / 5 us base64 - within the ~15 us budget because every
# pass is a C-level regex ``sub`` or str method; Python only loops over 32+ character tokens.
# ---------------------------------------------------------------------------------------------
# Markup: characters matched by one of these. Every branch starts with '<', '&', '!' or ']', so
# the regex engine skips plain text with a first-character scan; "a < b and c > d" is no tag
# because a tag name must follow '<' immediately. Attributes follow the HTML grammar (name,
# optional =value), bounded so a stray '<' cannot cause runaway backtracking.
_MARKUP = re.compile(
    # script/style elements and comments; unclosed ones run to the end of the text (as in HTML),
    # which also keeps a text full of unclosed "<!--" linear instead of rescanning per opener.
    r"<(script|style)\b[^>]{0,500}>.*?(?:</\1\s*>|\Z)"
    r"|<!--.*?(?:-->|\Z)"
    r"|<!\[CDATA\[|\]\]>"  # CDATA wrappers (the data inside is content)
    r"|<[!?][A-Za-z][^<>]{0,500}>"  # <!DOCTYPE ...>, <?xml ...?>
    r"|</?[A-Za-z][A-Za-z0-9:-]{0,40}"  # tag name, then attributes
    r"(?:\s+[A-Za-z_:@][-\w:.@]{0,60}"  # attribute name
    r"(?:\s*=\s*(?:\"[^\"]{0,2000}\"|'[^']{0,2000}'|[^\s\"'=<>`]{1,500}))?"  # optional value
    r"){0,60}"
    r"\s*/?>"
    r"|&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});"  # entities
    r"|!\[[^\]\n]{0,500}\]\([^()\s]{0,2000}(?:\s+\"[^\"\n]{0,500}\")?\)"  # markdown image: all of it
    r"|\]\([^()\s]{1,2000}(?:\s+\"[^\"\n]{0,500}\")?\)",  # markdown link: the "](target)" part
    re.DOTALL,
)
# Markdown lines that are pure layout: code fences, horizontal rules, table separator rows.
_MARKDOWN_LINES = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,})[^\n]*$"
    r"|^[ \t]*(?:[-*_][ \t]*){3,}$"
    r"|^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+(?:[ \t]*:?-{3,}:?[ \t]*)?$",
    re.MULTILINE,
)
_MARKDOWN_LINE_HINTS = ("```", "~~~", "---", "***", "___")

# Binary: C0/C1 control characters except tab, line feed and carriage return; the replacement
# character U+FFFD (what a failed decode leaves); the non-characters U+FFFE/U+FFFF; lone
# surrogates (surrogateescape-decoded bytes); private-use code points.
_BINARY_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufffe\uffff\ue000-\uf8ff\ud800-\udfff\U000f0000-\U0010ffff]+"
)
# Base64-like blob: a run of at least 32 base64 characters (standard or URL-safe alphabet),
# counted only when it is composed the way encoded bytes are (see ``_looks_encoded``).
_BASE64_MIN_RUN = 32
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}")
# Runs are ASCII: bytes.translate deletes a class in C far faster than str.translate.
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = b"abcdefghijklmnopqrstuvwxyz"
_DIGITS = b"0123456789"
# Random bytes in base64 are ~40 % upper case, ~40 % lower case, ~16 % digits; zero-heavy data
# (PNG headers: "AAAA") is upper case. Long natural tokens are one case (compounds, hex digests,
# CONSTANTS) or camelCase, where capitals stay rare and digits rarer.
_BASE64_MIN_UPPER_SHARE = 0.25
_BASE64_MIN_DIGIT_SHARE = 0.1


def markup_ratio(text: str) -> float:
    """Share of ``text``'s characters that are markup rather than content, in [0, 1].

    Input: any str (``""`` gives 0.0). Markup is: HTML/XML tags with their attributes
    (``<p class="x">``, ``</div>``, ``<br/>``), whole ``<script>``/``<style>`` elements,
    comments, ``<!DOCTYPE>``/``<?xml?>`` declarations, CDATA wrappers, character entities
    (``&amp;``, ``&#160;``, ``&#x41;``), markdown images (``![alt](src)``) and link targets
    (the ``](url)`` of ``[text](url)``), and markdown layout lines (code fences, horizontal
    rules, table separator rows). Comparisons such as ``a < b and c > d`` are not tags (a tag
    name must follow ``<`` directly), but ``x<y and z>w`` does read as a tag.
    The denominator is ``len(text)``, white space included.
    """
    if not text:
        return 0.0
    stripped = _MARKUP.sub("", text)
    if any(hint in stripped for hint in _MARKDOWN_LINE_HINTS):
        stripped = _MARKDOWN_LINES.sub("", stripped)
    return (len(text) - len(stripped)) / len(text)


def _looks_encoded(run: str) -> bool:
    """Whether a base64-alphabet run is composed like encoded bytes rather than a long word.

    It must mix upper case, lower case and digits, and either upper case makes up at least
    25 % of it or digits at least 10 %.
    """
    data = run.encode("ascii")
    size = len(data)
    upper = size - len(data.translate(None, _UPPER))
    lower = size - len(data.translate(None, _LOWER))
    digits = size - len(data.translate(None, _DIGITS))
    if not (upper and lower and digits):
        return False
    return upper >= _BASE64_MIN_UPPER_SHARE * size or digits >= _BASE64_MIN_DIGIT_SHARE * size


def binary_ratio(text: str) -> float:
    """Share of ``text``'s characters that look like binary data rather than text, in [0, 1].

    Input: any str (``""`` gives 0.0). Counted: control characters other than ``\\t``, ``\\n``,
    ``\\r`` (C0 and C1, so mis-decoded cp1252 bytes count); U+FFFD replacement characters;
    U+FFFE/U+FFFF; lone surrogates; private-use code points; and base64-like blobs - runs of at
    least 32 characters of the base64 alphabet (``A-Za-z0-9+/`` or URL-safe ``-_``, ``=``
    padding) that mix upper case, lower case and digits with at least 25 % upper case or 10 %
    digits. Emoji, accented letters, any script, long words, camelCase identifiers, hex digests
    and lower-case URL paths are not binary.
    The denominator is ``len(text)``.
    """
    if not text:
        return 0.0
    # Every counted character class is non-printable except U+FFFD, and isprintable() runs in
    # C without building a copy: clean one-line text skips the regex.
    count = 0
    if not text.isprintable() or "\ufffd" in text:
        count = len(text) - len(_BINARY_CHARS.sub("", text))
    # A blob has no white space: only tokens of 32+ characters can hold one.
    for token in text.split():
        if len(token) >= _BASE64_MIN_RUN:
            for match in _BASE64_RUN.finditer(token):
                run = match.group()
                if _looks_encoded(run):
                    count += len(run)
    return count / len(text)


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
_BLANK = re.compile("[\\s\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e]*")


def _type_name(value: Any) -> str:
    """The rule-language name of a value's type (never the value itself)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _preview(values: Sequence[Any], limit: int = 5) -> str:
    """The rule's allowed values for a message, shortened: they are parameters, not data."""
    shown = ", ".join(repr(v) for v in values[:limit])
    return f"({shown}, ...)" if len(values) > limit else f"({shown})"


@dataclass(frozen=True)
class Rule:
    """One field's checks. Build with keywords; invalid settings raise ``ValueError``.

    ``field`` is a top-level key of the record. ``name`` (shown in messages and flags) defaults
    per check to ``"<field>.<check>"``, e.g. ``"text.min_length"``. A rule must carry at least
    one check, and its checks must fit its ``type`` (``min_length`` on an ``integer`` field is
    an error). ``allowed`` and ``language`` accept lists too (stored as tuples); a ``language``
    string is one code. See the module docstring for the semantics of each check.
    """

    field: str
    severity: Severity = "quarantine"
    name: str | None = None
    required: bool = False
    type: RuleType | None = None
    min_length: int | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    regex: str | None = None
    language: tuple[str, ...] | None = None
    not_empty: bool = False
    max_markup_ratio: float | None = None
    max_binary_ratio: float | None = None
    # Precomputed at construction (not part of equality or repr).
    _pattern: re.Pattern[str] | None = dataclasses.field(init=False, repr=False, compare=False, default=None)
    _accepts: frozenset[str] | None = dataclasses.field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        label = self.name or self.field
        if not isinstance(self.field, str) or not self.field:
            raise ValueError(f"rule field must be a non-empty string, got {self.field!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"rule {self.field}: name must be a non-empty string, got {self.name!r}")

        def fail(problem: str) -> ValueError:
            return ValueError(f"rule {label}: {problem}")

        if self.severity not in _SEVERITIES:
            raise fail(f"severity must be one of {', '.join(_SEVERITIES)}, got {self.severity!r}")
        if self.type is not None and self.type not in _TYPES:
            raise fail(f"type must be one of {', '.join(_TYPES)}, got {self.type!r}")
        for flag in ("required", "not_empty"):
            if not isinstance(getattr(self, flag), bool):
                raise fail(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        for bound in ("min_length", "max_length"):
            value = getattr(self, bound)
            if value is not None and (not _is_int(value) or value < 0):
                raise fail(f"{bound} must be a non-negative integer, got {value!r}")
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise fail(f"min_length {self.min_length} is greater than max_length {self.max_length}")
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if value is not None and (not _is_number(value) or math.isnan(value)):
                raise fail(f"{bound} must be a number, got {value!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise fail(f"min {self.min!r} is greater than max {self.max!r}")
        for ratio in ("max_markup_ratio", "max_binary_ratio"):
            value = getattr(self, ratio)
            if value is not None and (not _is_number(value) or not 0.0 <= value <= 1.0):
                raise fail(f"{ratio} must be a number from 0 to 1, got {value!r}")
        if self.allowed is not None:
            if isinstance(self.allowed, list):
                object.__setattr__(self, "allowed", tuple(self.allowed))
            if not isinstance(self.allowed, tuple) or not self.allowed:
                raise fail(f"allowed must be a non-empty list of values, got {self.allowed!r}")
        if self.language is not None:
            languages = self.language
            if isinstance(languages, str):
                languages = (languages,)
            elif isinstance(languages, list):
                languages = tuple(languages)
            if not isinstance(languages, tuple) or not languages or not all(isinstance(c, str) for c in languages):
                raise fail(f"language must be a non-empty list of language codes, got {self.language!r}")
            unknown = sorted(set(languages) - SUPPORTED_LANGUAGES)
            if unknown:
                raise fail(
                    f"unsupported language code(s) {', '.join(unknown)}; "
                    f"supported: {', '.join(sorted(SUPPORTED_LANGUAGES))}"
                )
            object.__setattr__(self, "language", languages)
        if self.regex is not None:
            if not isinstance(self.regex, str):
                raise fail(f"regex must be a string, got {self.regex!r}")
            try:
                object.__setattr__(self, "_pattern", re.compile(self.regex))
            except re.error as exc:
                raise fail(f"invalid regex {self.regex!r}: {exc}") from None

        checks = self.checks()
        if not checks:
            raise fail("carries no check (set required, type or a constraint)")
        object.__setattr__(self, "_accepts", self._accepted_types(checks, fail))

    def _accepted_types(self, checks: list[str], fail: Callable[[str], ValueError]) -> frozenset[str] | None:
        """The value types this rule accepts (``None``: any), checking the checks fit the type."""
        accepts: frozenset[str] | None = None if self.type is None else frozenset({self.type})
        for check in checks:
            understood = _CHECK_TYPES.get(check)
            if understood is None:
                continue
            if self.type is not None:
                if self.type not in understood:
                    raise fail(f"check {check} does not apply to type {self.type}")
            elif accepts is None:
                accepts = understood
            else:
                narrowed = accepts & understood
                if not narrowed:
                    raise fail(f"checks {', '.join(checks)} apply to no common value type; set a type")
                accepts = narrowed
        return accepts

    def checks(self) -> list[str]:
        """The checks this rule carries, in evaluation order (names as in ``rule_from_mapping``).

        ``"type"`` is listed whenever the value's type is checked: an explicit ``type``, or one
        implied by the other checks (e.g. ``regex`` implies a string).
        """
        out = ["required"] if self.required else []
        if self.type is not None or any(c in _CHECK_TYPES and self._is_set(c) for c in _CHECK_CODES):
            out.append("type")
        out.extend(c for c in _CHECK_CODES if c not in ("required", "type") and self._is_set(c))
        return out

    def _is_set(self, check: str) -> bool:
        value = getattr(self, check)
        return value is not None and value is not False

    def check_name(self, check: str) -> str:
        """The name violations of ``check`` carry: ``name`` if set, else ``"<field>.<check>"``."""
        return self.name or f"{self.field}.{check}"

    def as_params(self) -> dict[str, Any]:
        """The rule as JSON-ready lineage parameters: field, severity, name, checks and settings."""
        params: dict[str, Any] = {"field": self.field, "severity": self.severity}
        if self.name is not None:
            params["name"] = self.name
        params["checks"] = self.checks()
        for key in ("type", *[c for c in _CHECK_CODES if c not in ("type",)]):
            value = getattr(self, key)
            if value is None or value is False:
                continue
            params[key] = list(value) if isinstance(value, tuple) else value
        return params


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed check. ``message`` is one line and never contains the field's value."""

    rule: str
    field: str
    code: str
    severity: str
    message: str


# A compiled check: value -> None (passes) or the message detail (fails).
_Check = Callable[[Any], str | None]


class _CompiledRule:
    """A rule with everything precomputed: fixed violations, the type test, the value checks."""

    __slots__ = ("checks", "expected", "field", "missing", "null", "py_types", "reject_bool", "violation")

    def __init__(self, rule: Rule) -> None:
        self.field = rule.field
        severity = rule.severity

        def violation(check: str, detail: str) -> Violation:
            name = rule.check_name(check)
            return Violation(name, rule.field, _CHECK_CODES[check], severity, f"{rule.field}: {detail} (rule {name})")

        self.violation = violation
        # Violations that never vary are built once and shared (Violation is immutable).
        self.missing = violation("required", "missing, required") if rule.required else None
        self.null = violation("required", "null, required") if rule.required else None
        accepts = rule._accepts
        self.py_types: tuple[type, ...] = ()
        self.reject_bool = False
        self.expected = ""
        if accepts is not None:
            types: list[type] = []
            for name in _TYPES:
                if name in accepts:
                    types.extend(t for t in _PY_TYPES[name] if t not in types)
            self.py_types = tuple(types)
            # bool is a subclass of int: an int-accepting rule must turn booleans away itself.
            self.reject_bool = "boolean" not in accepts and int in types
            self.expected = " or ".join(
                n for n in _TYPES if n in accepts and not (n == "integer" and "number" in accepts)
            )
        self.checks = _build_checks(rule)

    def check(self, record: Mapping[str, Any], out: list[Violation]) -> None:
        value = record.get(self.field, _MISSING)
        if value is None:
            if self.null is not None:
                out.append(self.null)
            return
        if value is _MISSING:
            if self.missing is not None:
                out.append(self.missing)
            return
        if self.py_types and (not isinstance(value, self.py_types) or (self.reject_bool and value.__class__ is bool)):
            out.append(self.violation("type", f"expected {self.expected}, got {_type_name(value)}"))
            return
        for check, test in self.checks:
            detail = test(value)
            if detail is not None:
                out.append(self.violation(check, detail))


def _build_checks(rule: Rule) -> list[tuple[str, _Check]]:
    """The value checks of ``rule`` (after required and type), in evaluation order."""
    checks: list[tuple[str, _Check]] = []
    if rule.not_empty:
        blank = _BLANK.fullmatch

        def not_empty(value: str) -> str | None:
            return "empty or blank text" if blank(value) else None

        checks.append(("not_empty", not_empty))
    if rule.min_length is not None:
        low = rule.min_length

        def min_length(value: str | list[Any]) -> str | None:
            if isinstance(value, str):
                n = len(value.strip())
                return f"{_plural(n, 'character')}, at least {low} required" if n < low else None
            n = len(value)
            return f"{_plural(n, 'item')}, at least {low} required" if n < low else None

        checks.append(("min_length", min_length))
    if rule.max_length is not None:
        high = rule.max_length

        def max_length(value: str | list[Any]) -> str | None:
            if isinstance(value, str):
                n = len(value.strip()) if len(value) > high else len(value)
                return f"{_plural(n, 'character')}, at most {high} allowed" if n > high else None
            n = len(value)
            return f"{_plural(n, 'item')}, at most {high} allowed" if n > high else None

        checks.append(("max_length", max_length))
    if rule.min is not None:
        minimum = rule.min

        def min_check(value: float) -> str | None:
            if value != value:  # NaN compares false with everything: report it as such
                return f"not a number (NaN), minimum {minimum!r}"
            return f"below the minimum {minimum!r}" if value < minimum else None

        checks.append(("min", min_check))
    if rule.max is not None:
        maximum = rule.max

        def max_check(value: float) -> str | None:
            if value != value:
                return f"not a number (NaN), maximum {maximum!r}"
            return f"above the maximum {maximum!r}" if value > maximum else None

        checks.append(("max", max_check))
    if rule.allowed is not None:
        checks.append(("allowed", _allowed_check(rule.allowed)))
    if rule._pattern is not None:
        search = rule._pattern.search
        pattern_text = rule.regex

        def regex(value: str) -> str | None:
            return None if search(value) else f"does not match pattern {pattern_text!r}"

        checks.append(("regex", regex))
    if rule.language is not None:
        expected = rule.language
        expected_text = ", ".join(expected)

        def language(value: str) -> str | None:
            detected, confidence = detect_language(value)
            if detected is None or detected in expected:
                return None
            return f"detected language {detected} (confidence {confidence:.2f}), expected {expected_text}"

        checks.append(("language", language))
    if rule.max_markup_ratio is not None:
        markup_max = rule.max_markup_ratio

        def markup(value: str) -> str | None:
            ratio = markup_ratio(value)
            if ratio <= markup_max:
                return None
            return f"{ratio:.1%} of characters are markup, at most {markup_max:.1%} allowed"

        checks.append(("max_markup_ratio", markup))
    if rule.max_binary_ratio is not None:
        binary_max = rule.max_binary_ratio

        def binary(value: str) -> str | None:
            ratio = binary_ratio(value)
            if ratio <= binary_max:
                return None
            return f"{ratio:.1%} of characters look binary, at most {binary_max:.1%} allowed"

        checks.append(("max_binary_ratio", binary))
    return checks


def _allowed_check(allowed: tuple[Any, ...]) -> _Check:
    """Membership in ``allowed``: hashed where possible, booleans kept apart from numbers."""
    bools = frozenset(v for v in allowed if isinstance(v, bool))
    hashable: set[Any] = set()
    unhashable: list[Any] = []
    for v in allowed:
        if isinstance(v, bool):
            continue
        try:
            hashable.add(v)
        except TypeError:
            unhashable.append(v)
    others = frozenset(hashable)
    preview = _preview(allowed)
    count = len(allowed)

    def ok(item: Any) -> bool:
        if item.__class__ is bool:
            return item in bools
        try:
            if item in others:
                return True
        except TypeError:  # an unhashable item (list, dict) can only equal an unhashable value
            pass
        # ``==`` would let 1 match True: compare non-bool values only.
        return any(item == v for v in unhashable)

    def check(value: Any) -> str | None:
        if isinstance(value, list | tuple):
            bad = sum(1 for item in value if not ok(item))
            if not bad:
                return None
            return f"{bad} of {_plural(len(value), 'item')} not among the {count} allowed values {preview}"
        if ok(value):
            return None
        return f"value not among the {count} allowed values {preview}"

    return check


class RuleSet:
    """Rules evaluated in order against records. Compiles everything at construction.

    Explicit rule names must be unique (flags and quarantine reasons are keyed by them).
    """

    __slots__ = ("_compiled", "_fields", "_rules")

    def __init__(self, rules: Sequence[Rule]) -> None:
        names: set[str] = set()
        for rule in rules:
            if not isinstance(rule, Rule):
                raise ValueError(f"RuleSet takes Rule objects, got {type(rule).__name__}")
            if rule.name is not None:
                if rule.name in names:
                    raise ValueError(f"duplicate rule name {rule.name!r}")
                names.add(rule.name)
        self._rules: tuple[Rule, ...] = tuple(rules)
        self._compiled = tuple(_CompiledRule(rule) for rule in self._rules)
        self._fields = frozenset(rule.field for rule in self._rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in evaluation order."""
        return self._rules

    @property
    def fields(self) -> frozenset[str]:
        """The record fields any rule reads."""
        return self._fields

    def check(self, record: Mapping[str, Any]) -> list[Violation]:
        """Every violation of every rule for ``record`` (a mapping of field -> value), in rule order.

        An empty list means the record passes. The caller decides the outcome: any
        ``quarantine``-severity violation quarantines the record, ``flag``-only violations
        store it with flags.
        """
        out: list[Violation] = []
        for compiled in self._compiled:
            compiled.check(record, out)
        return out

    def __len__(self) -> int:
        return len(self._rules)


_RULE_KEYS: tuple[str, ...] = (
    "field",
    "severity",
    "name",
    "required",
    "type",
    "min_length",
    "max_length",
    "min",
    "max",
    "allowed",
    "regex",
    "language",
    "not_empty",
    "max_markup_ratio",
    "max_binary_ratio",
)


def rule_from_mapping(spec: Mapping[str, Any]) -> Rule:
    """Build a :class:`Rule` from a YAML-like mapping, e.g. ``{"field": "text", "min_length": 1}``.

    Keys are the :class:`Rule` attribute names; ``field`` is required. ``allowed`` takes a
    list, ``language`` a code or a list of codes. Unknown keys (with a did-you-mean hint),
    values of the wrong kind and inconsistent settings raise ``ValueError`` naming the rule.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"a rule must be a mapping of settings, got {type(spec).__name__}")
    unknown = [key for key in spec if key not in _RULE_KEYS]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), _RULE_KEYS, n=1)
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        where = f" for field {spec['field']!r}" if isinstance(spec.get("field"), str) else ""
        raise ValueError(f"unknown rule key(s){where}: {', '.join(hints)}; known keys: {', '.join(_RULE_KEYS)}")
    if "field" not in spec:
        raise ValueError("a rule needs a 'field'")
    return Rule(**dict(spec))
