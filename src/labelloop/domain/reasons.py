"""Machine-readable reasons a row is quarantined, and record statuses."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason", "RecordStatus"]


class RecordStatus(StrEnum):
    """Where a record stands. Only these values are stored."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    QUARANTINED = "quarantined"
    HELD = "held"
    WITHDRAWN = "withdrawn"  # consent withdrawn for a purpose the queues need
    DELETED = "deleted"


class Reason(StrEnum):
    """Why a row went to quarantine. Stable codes: scripts filter on them."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_ENCODING = "invalid_encoding"
    RAGGED_ROW = "ragged_row"
    BAD_QUOTING = "bad_quoting"
    MISSING_REQUIRED_FIELD = "missing_required_field"
    WRONG_TYPE = "wrong_type"
    FIELD_TOO_LARGE = "field_too_large"
    UNKNOWN_FIELD = "unknown_field"
    UNREADABLE_FILE = "unreadable_file"
