"""Normalization and content hashing of records: pure functions, no I/O.

A raw row (a ``dict`` from JSON, CSV, Parquet or a text file) becomes a
:class:`Normalized` record or a :class:`Rejection` with a :class:`Reason`:

* strings are Unicode NFC, NUL bytes removed; the text field keeps its line
  breaks (``\\r\\n`` -> ``\\n``, runs of blank lines -> one) while runs of other
  white space become one space; other string fields are collapsed to one line;
* values are coerced to the declared type when that is lossless (CSV gives
  strings: ``"12"`` -> 12 for an integer field), else the row is rejected;
* the payload is the canonical JSON (sorted keys, no spaces) of every field but
  the id, subject and consent fields, which are kept in their own columns;
* the content hash is BLAKE2b-128 of the canonical JSON of the payload minus
  ``hash_exclude``: two rows with the same content have the same hash whatever
  their ids, key order or white space.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from labelloop.domain.reasons import Reason

__all__ = [
    "FieldRule",
    "Normalized",
    "RecordNormalizer",
    "RecordShape",
    "Rejection",
    "content_hash",
    "normalize_record",
    "normalize_string",
    "normalize_text",
]

HASH_BYTES = 16
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

_TYPES = frozenset({"string", "integer", "number", "boolean", "list", "object", "datetime", "any"})
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class FieldRule:
    """Declared type and constraints of one field."""

    type: str = "string"
    required: bool = False
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"unknown field type {self.type!r}")


@dataclass(frozen=True, slots=True)
class RecordShape:
    """Everything normalization needs to know about a project's records."""

    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    id_field: str | None = None
    text_field: str | None = None
    subject_field: str | None = None
    consent_field: str | None = None
    event_time_field: str | None = None
    extra_fields: str = "keep"  # keep | drop | quarantine
    hash_exclude: frozenset[str] = frozenset()
    max_field_chars: int = 1_000_000


class Normalized(NamedTuple):
    """A record ready to store."""

    payload: str
    content_hash: bytes
    external_id: str | None
    subject_id: str | None
    consent: str | None
    event_time: float | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that cannot be stored as it is, and why."""

    reason: Reason
    message: str


def _is_clean(value: str) -> bool:
    """True when white space needs no work: no control or separator characters but
    single inner ASCII spaces (``str.isprintable`` is False for tabs, newlines, NUL,
    NBSP and the other Unicode separators). Measured ~5x faster than a regex search.
    """
    return value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " "


def _nfc(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    return value


def normalize_text(value: str) -> str:
    """NFC, no NUL, ``\\n`` line breaks, single spaces, at most one blank line in a row.

    >>> normalize_text("  Caf\\u0065\\u0301\\t is\\r\\n\\r\\n\\r\\n open ")
    'Café is\\n\\nopen'
    """
    value = _nfc(value)
    if _is_clean(value):
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in value.split("\n")]
    value = "\n".join(lines).strip("\n")
    if "\n\n\n" in value:
        value = _BLANK_RUNS.sub("\n\n", value)
    return value


def normalize_string(value: str) -> str:
    """NFC, no NUL, all white space runs collapsed to one space, trimmed."""
    value = _nfc(value)
    if _is_clean(value):
        return value
    return " ".join(value.split())


def content_hash(canonical: bytes) -> bytes:
    """The 16-byte BLAKE2b digest used to find exact duplicates."""
    return hashlib.blake2b(canonical, digest_size=HASH_BYTES).digest()


class _BadValue(Exception):  # noqa: N818 - internal signal, never escapes normalize_record
    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message


def _coerce(name: str, rule: FieldRule, value: Any, is_text: bool, limit: int) -> Any:
    kind = rule.type
    if kind == "string":
        if isinstance(value, str):
            out = normalize_text(value) if is_text else normalize_string(value)
        elif isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
            out = str(value).lower() if isinstance(value, bool) else str(value)
        else:
            raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a string, got {_kind(value)}")
        if len(out) > limit:
            raise _BadValue(Reason.FIELD_TOO_LARGE, f"field '{name}' has {len(out)} characters (limit {limit})")
        if rule.max_length is not None and len(out) > rule.max_length:
            raise _BadValue(Reason.FIELD_TOO_LARGE, f"field '{name}' is longer than {rule.max_length}")
        return out
    if kind == "integer":
        number: Any = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = int(value.strip())
        if number is None:
            raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be an integer, got {_kind(value)}")
        if not _INT_MIN <= number <= _INT_MAX:
            raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' is outside the 64-bit integer range")
        return number
    if kind == "number":
        # Numbers are stored as floats so that 2, 2.0 and "2" hash alike.
        result = math.nan
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                result = float(value)
            except OverflowError:
                result = math.nan
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                result = float(value.strip())
        if math.isfinite(result):
            return result
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a finite number, got {_kind(value)}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a boolean, got {_kind(value)}")
    if kind == "list":
        if isinstance(value, str) and value.lstrip().startswith("["):
            with contextlib.suppress(orjson.JSONDecodeError):
                value = orjson.loads(value)
        if not isinstance(value, list):
            raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a list, got {_kind(value)}")
        if rule.max_length is not None and len(value) > rule.max_length:
            raise _BadValue(Reason.FIELD_TOO_LARGE, f"field '{name}' has more than {rule.max_length} items")
        return [normalize_string(v) if isinstance(v, str) else v for v in value]
    if kind == "object":
        if isinstance(value, str) and value.lstrip().startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                value = orjson.loads(value)
        if not isinstance(value, dict):
            raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be an object, got {_kind(value)}")
        return value
    if kind == "datetime":
        return _epoch(name, value)
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _epoch(name: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be an ISO 8601 time, got {value[:40]!r}") from None
    else:
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a time, got {_kind(value)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _loose(value: Any, limit: int, name: str) -> Any:
    """Undeclared fields are normalized by what they are."""
    if isinstance(value, str):
        out = normalize_string(value)
        if len(out) > limit:
            raise _BadValue(Reason.FIELD_TOO_LARGE, f"field '{name}' has {len(out)} characters (limit {limit})")
        return out
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and not _INT_MIN <= value <= _INT_MAX:
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' is outside the 64-bit integer range")
    return value


def normalize_record(row: Mapping[str, Any], shape: RecordShape) -> Normalized | Rejection:
    """Validate and normalize one raw row against ``shape``.

    ``row`` maps field names to raw values (``None`` or a missing key mean
    absent). Returns :class:`Normalized` or a :class:`Rejection` naming the
    first problem found. For many rows, build one :class:`RecordNormalizer`.
    """
    return RecordNormalizer(shape)(row)


class RecordNormalizer:
    """``normalize_record`` with the per-field work planned once for a shape."""

    def __init__(self, shape: RecordShape) -> None:
        self.shape = shape
        limit = shape.max_field_chars
        self.plan = [
            (name, rule.required, rule.type, _plain_string_ok(rule, limit), rule) for name, rule in shape.fields.items()
        ]
        self.declared = frozenset(shape.fields)

    def __call__(self, row: Mapping[str, Any]) -> Normalized | Rejection:
        """Normalize one row (see :func:`normalize_record`)."""
        try:
            return Normalized(*self._normalize(row)[:6])
        except _BadValue as bad:
            return Rejection(bad.reason, bad.message)

    def fields(
        self, row: Mapping[str, Any]
    ) -> tuple[str, bytes, str | None, str | None, str | None, float | None, dict[str, Any]] | Rejection:
        """:meth:`__call__` as a plain tuple in :class:`Normalized`'s order, plus the payload as a dict.

        The bulk path: the dict saves the content stages from parsing the payload again.
        """
        try:
            return self._normalize(row)
        except _BadValue as bad:
            return Rejection(bad.reason, bad.message)

    def _normalize(
        self, row: Mapping[str, Any]
    ) -> tuple[str, bytes, str | None, str | None, str | None, float | None, dict[str, Any]]:
        shape = self.shape
        limit = shape.max_field_chars
        text_field = shape.text_field
        out: dict[str, Any] = {}
        for name, required, kind, plain_ok, rule in self.plan:
            value = row.get(name)
            if value is None or (kind != "string" and isinstance(value, str) and not value.strip()):
                if required:
                    raise _BadValue(Reason.MISSING_REQUIRED_FIELD, f"required field '{name}' is missing")
                continue
            if (
                plain_ok
                and type(value) is str
                and len(value) <= plain_ok
                # _is_clean, inlined: this runs for every string field of every row
                and value.isprintable()
                and "  " not in value
                and value[:1] != " "
                and value[-1:] != " "
            ):
                # the common case: a clean string within limits; only NFC may remain to do
                if not value.isascii() and not unicodedata.is_normalized("NFC", value):
                    value = unicodedata.normalize("NFC", value)
            else:
                value = _coerce(name, rule, value, name == text_field, limit)
            if required and value == "":
                raise _BadValue(Reason.MISSING_REQUIRED_FIELD, f"required field '{name}' is empty")
            out[name] = value
        if len(row) > len(out):
            declared = self.declared
            for name, value in row.items():
                if name in declared or value is None:
                    continue
                if shape.extra_fields == "drop":
                    continue
                if shape.extra_fields == "quarantine":
                    raise _BadValue(Reason.UNKNOWN_FIELD, f"field '{name}' is not declared in the record schema")
                if not isinstance(name, str):
                    raise _BadValue(Reason.WRONG_TYPE, f"field name {name!r} is not a string")
                if name == text_field and isinstance(value, str):
                    out[name] = normalize_text(value)
                else:
                    out[name] = _loose(value, limit, name)
        if text_field is not None and text_field not in self.declared and not isinstance(out.get(text_field), str):
            raise _BadValue(Reason.MISSING_REQUIRED_FIELD, f"text field '{text_field}' is missing or not a string")

        external_id = subject_id = None
        if shape.id_field:
            external_id = out.pop(shape.id_field, None)
            if type(external_id) is not str or shape.id_field not in self.declared:
                external_id = _role_string(external_id, shape.id_field)
            # a declared string field arrives normalized already
            external_id = external_id or None
        if shape.subject_field:
            subject_id = out.pop(shape.subject_field, None)
            if type(subject_id) is not str or shape.subject_field not in self.declared:
                subject_id = _role_string(subject_id, shape.subject_field)
            subject_id = subject_id or None
        consent: str | None = None
        if shape.consent_field:
            purposes = out.pop(shape.consent_field, None)
            if purposes is not None:
                if isinstance(purposes, str):
                    purposes = [p for p in (x.strip() for x in purposes.split(",")) if p]
                if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
                    raise _BadValue(Reason.WRONG_TYPE, f"field '{shape.consent_field}' must be a list of purposes")
                consent = orjson.dumps(sorted(set(purposes))).decode()
        event_time = None
        if shape.event_time_field:
            raw_time = out.get(shape.event_time_field)
            if raw_time is not None:
                event_time = raw_time if isinstance(raw_time, float) else _epoch(shape.event_time_field, raw_time)

        try:
            encoded = orjson.dumps(out, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:  # e.g. an integer beyond 64 bits nested in a list
            raise _BadValue(Reason.WRONG_TYPE, f"the record cannot be stored as JSON: {exc}") from None
        if shape.hash_exclude and shape.hash_exclude.intersection(out):
            hashed = orjson.dumps(
                {k: v for k, v in out.items() if k not in shape.hash_exclude}, option=orjson.OPT_SORT_KEYS
            )
        else:
            hashed = encoded
        digest = hashlib.blake2b(hashed, digest_size=HASH_BYTES).digest()
        # orjson's bytes keep a ~4 KB buffer each (measured): keep the exact-size str instead.
        payload = encoded.decode()
        return payload, digest, external_id, subject_id, consent, event_time, out


def _plain_string_ok(rule: FieldRule, limit: int) -> int:
    """For string fields, the longest value the fast path may take as is (0: never)."""
    if rule.type != "string":
        return 0
    return min(limit, rule.max_length or limit)


def _role_string(value: Any, name: str | None) -> str | None:
    if value is None:
        return None
    if type(value) is str and _is_clean(value):
        return value or None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a string or integer, got {_kind(value)}")
    text = normalize_string(str(value))
    return text or None
