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
from typing import Any

import orjson

from labelloop.domain.reasons import Reason

__all__ = [
    "FieldRule",
    "Normalized",
    "RecordShape",
    "Rejection",
    "canonical_json",
    "content_hash",
    "normalize_record",
    "normalize_string",
    "normalize_text",
]

HASH_BYTES = 16

_TYPES = frozenset({"string", "integer", "number", "boolean", "list", "object", "datetime", "any"})
# A text needs the slow path only if it has white space other than single inner spaces.
_NEEDS_WS_FIX = re.compile(r"[^\S ]|  |^ | $|\x00")
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


@dataclass(frozen=True, slots=True)
class Normalized:
    """A record ready to store."""

    payload: bytes
    content_hash: bytes
    external_id: str | None
    subject_id: str | None
    consent: bytes | None
    event_time: float | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that cannot be stored as it is, and why."""

    reason: Reason
    message: str


def normalize_text(value: str) -> str:
    """NFC, no NUL, ``\\n`` line breaks, single spaces, at most one blank line in a row.

    >>> normalize_text("  Caf\\u0065\\u0301\\t is\\r\\n\\r\\n\\r\\n open ")
    'Café is\\n\\nopen'
    """
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    if _NEEDS_WS_FIX.search(value) is None:
        return value
    value = value.replace("\x00", "")
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in value.split("\n")]
    value = "\n".join(lines).strip("\n")
    if "\n\n\n" in value:
        value = _BLANK_RUNS.sub("\n\n", value)
    return value


def normalize_string(value: str) -> str:
    """NFC, no NUL, all white space runs collapsed to one space, trimmed."""
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    if _NEEDS_WS_FIX.search(value) is None:
        return value
    return " ".join(value.replace("\x00", "").split())


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


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
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be an integer, got {_kind(value)}")
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a finite number")
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a number, got {_kind(value)}")
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
    return value


def normalize_record(row: Mapping[str, Any], shape: RecordShape) -> Normalized | Rejection:
    """Validate and normalize one raw row against ``shape``.

    ``row`` maps field names to raw values (``None`` or a missing key mean
    absent). Returns :class:`Normalized` or a :class:`Rejection` naming the
    first problem found.
    """
    try:
        return _normalize(row, shape)
    except _BadValue as bad:
        return Rejection(bad.reason, bad.message)


def _normalize(row: Mapping[str, Any], shape: RecordShape) -> Normalized:
    limit = shape.max_field_chars
    text_field = shape.text_field
    out: dict[str, Any] = {}
    for name, rule in shape.fields.items():
        value = row.get(name)
        if value is None or (isinstance(value, str) and rule.type != "string" and not value.strip()):
            if rule.required:
                raise _BadValue(Reason.MISSING_REQUIRED_FIELD, f"required field '{name}' is missing")
            continue
        value = _coerce(name, rule, value, name == text_field, limit)
        if rule.required and value == "":
            raise _BadValue(Reason.MISSING_REQUIRED_FIELD, f"required field '{name}' is empty")
        out[name] = value
    if len(row) > len(out):
        for name, value in row.items():
            if name in out or name in shape.fields or value is None:
                continue
            if shape.extra_fields == "drop":
                continue
            if shape.extra_fields == "quarantine":
                raise _BadValue(Reason.UNKNOWN_FIELD, f"field '{name}' is not declared in the record schema")
            if not isinstance(name, str):
                raise _BadValue(Reason.WRONG_TYPE, f"field name {name!r} is not a string")
            out[name] = (
                normalize_text(value) if name == text_field and isinstance(value, str) else _loose(value, limit, name)
            )
    if text_field is not None and text_field not in shape.fields:
        text = out.get(text_field)
        if not isinstance(text, str):
            raise _BadValue(Reason.MISSING_REQUIRED_FIELD, f"text field '{text_field}' is missing or not a string")

    external_id = _role_string(out.pop(shape.id_field, None), shape.id_field) if shape.id_field else None
    subject_id = _role_string(out.pop(shape.subject_field, None), shape.subject_field) if shape.subject_field else None
    consent: bytes | None = None
    if shape.consent_field:
        purposes = out.pop(shape.consent_field, None)
        if purposes is not None:
            if isinstance(purposes, str):
                purposes = [p for p in (x.strip() for x in purposes.split(",")) if p]
            if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
                raise _BadValue(Reason.WRONG_TYPE, f"field '{shape.consent_field}' must be a list of purposes")
            consent = orjson.dumps(sorted(set(purposes)))
    event_time = None
    if shape.event_time_field:
        raw_time = out.get(shape.event_time_field)
        if raw_time is not None:
            event_time = raw_time if isinstance(raw_time, float) else _epoch(shape.event_time_field, raw_time)

    payload = orjson.dumps(out, option=orjson.OPT_SORT_KEYS)
    if shape.hash_exclude and shape.hash_exclude.intersection(out):
        hashed = orjson.dumps(
            {k: v for k, v in out.items() if k not in shape.hash_exclude}, option=orjson.OPT_SORT_KEYS
        )
    else:
        hashed = payload
    digest = hashlib.blake2b(hashed, digest_size=HASH_BYTES).digest()
    return Normalized(payload, digest, external_id, subject_id, consent, event_time)


def _role_string(value: Any, name: str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _BadValue(Reason.WRONG_TYPE, f"field '{name}' must be a string or integer, got {_kind(value)}")
    text = normalize_string(str(value))
    return text or None
