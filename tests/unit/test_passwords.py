"""Unit tests for password hashing (labelloop.governance.service): argon2id, and scrypt hashes of earlier
versions still verifying."""

from __future__ import annotations

import base64
import hashlib

import pytest

from labelloop.governance.service import hash_password, verify_password


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("correct horse battery staple")


def test_right_password(stored: str) -> None:
    assert verify_password("correct horse battery staple", stored) is True


@pytest.mark.parametrize(
    "attempt",
    ["wrong", "", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "],
)
def test_wrong_password(stored: str, attempt: str) -> None:
    assert verify_password(attempt, stored) is False


def test_format_is_argon2id_with_its_parameters(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=")
    assert ",t=" in stored and ",p=" in stored


def test_unicode_password_and_salted_hashes() -> None:
    first = hash_password("p\u00e4ssw\u00f6rd \U0001f511")
    second = hash_password("p\u00e4ssw\u00f6rd \U0001f511")
    assert first != second  # a fresh salt each time
    assert verify_password("p\u00e4ssw\u00f6rd \U0001f511", first) is True
    assert verify_password("p\u00e4ssw\u00f6rd \U0001f511", second) is True
    assert verify_password("passwoerd \U0001f511", first) is False


def _legacy_scrypt(password: str, n: int = 16) -> str:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    return f"scrypt${n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_scrypt_hashes_of_earlier_versions_still_verify() -> None:
    legacy = _legacy_scrypt("an older password")
    assert verify_password("an older password", legacy) is True
    assert verify_password("an older passwore", legacy) is False


@pytest.mark.parametrize(
    "value", [None, "", "garbage", "bcrypt$2b$12$abc", "$scrypt$16$8$1$a$b", "$argon2id$v=19$broken"]
)
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
