"""Unit tests for password hashing (labelloop.governance.service)."""

from __future__ import annotations

import pytest

from labelloop.governance.service import hash_password, verify_password

# Cheap scrypt parameters keep the suite fast; the format is the same.
FAST = {"n": 2**4, "r": 8, "p": 1}


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("correct horse battery staple", **FAST)


def test_right_password(stored: str) -> None:
    assert verify_password("correct horse battery staple", stored) is True


@pytest.mark.parametrize(
    "attempt",
    ["wrong", "", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "],
)
def test_wrong_password(stored: str, attempt: str) -> None:
    assert verify_password(attempt, stored) is False


def test_format(stored: str) -> None:
    parts = stored.split("$")
    assert parts[:4] == ["scrypt", "16", "8", "1"]
    assert len(parts) == 6


def test_default_parameters_round_trip() -> None:
    stored = hash_password("s3cret-password")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("s3cret-password", stored) is True
    assert verify_password("s3cret-passwore", stored) is False


def test_unicode_password() -> None:
    stored = hash_password("p\u00e4ssw\u00f6rd \U0001f511", **FAST)
    assert verify_password("p\u00e4ssw\u00f6rd \U0001f511", stored) is True
    assert verify_password("passwoerd \U0001f511", stored) is False


def test_salted_hashes_differ() -> None:
    first = hash_password("same password", **FAST)
    second = hash_password("same password", **FAST)
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]
    assert verify_password("same password", first) is True
    assert verify_password("same password", second) is True


@pytest.mark.parametrize("value", [None, "", "garbage", "bcrypt$2b$12$abc", "$scrypt$16$8$1$a$b"])
def test_missing_or_foreign_stored_value(value: str | None) -> None:
    assert verify_password("anything", value) is False


@pytest.mark.parametrize(
    "value",
    [
        "scrypt$",
        "scrypt$garbage",
        "scrypt$16$8$1$c2FsdA==",
        "scrypt$x$8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16$8$1$!!not-base64!!$ZGlnZXN0",
        "scrypt$15$8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16$8$1$c2FsdA==$ZGlnZXN0$extra",
    ],
    ids=["empty-body", "no-fields", "missing-digest", "non-int-n", "bad-base64", "n-not-power-of-2", "extra-field"],
)
def test_corrupt_scrypt_value_is_false_not_an_error(value: str) -> None:
    assert verify_password("anything", value) is False
