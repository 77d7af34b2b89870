"""Unit tests for the error tree (labelloop.errors) and the blob stores (labelloop.store.blobs)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

import labelloop.errors as errors_module
from labelloop.errors import (
    EXIT_CODES,
    HTTP_STATUS,
    AuthenticationError,
    ConfigError,
    ConflictError,
    InvalidInputError,
    LabelloopError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    StageExecutionError,
    StorageError,
    lookup,
)
from labelloop.store.blobs import BlobStore, FsspecBlobStore, LocalBlobStore, open_blob_store

# -- errors -----------------------------------------------------------------------------------

EXPECTED_ALL = sorted(
    [
        "EXIT_CODES",
        "HTTP_STATUS",
        "AuthenticationError",
        "ConfigError",
        "ConflictError",
        "InvalidInputError",
        "LabelloopError",
        "MissingDependencyError",
        "NotFoundError",
        "PermissionDeniedError",
        "StageExecutionError",
        "StorageError",
        "lookup",
    ]
)


def test_all_is_the_public_api() -> None:
    assert sorted(errors_module.__all__) == EXPECTED_ALL
    for name in errors_module.__all__:
        assert hasattr(errors_module, name), name


def test_every_exported_exception_is_a_labelloop_error() -> None:
    classes = [
        getattr(errors_module, name)
        for name in errors_module.__all__
        if isinstance(getattr(errors_module, name), type) and issubclass(getattr(errors_module, name), BaseException)
    ]
    assert len(classes) == 10
    for klass in classes:
        assert issubclass(klass, LabelloopError), klass


@pytest.mark.parametrize(
    ("klass", "status"),
    [
        (NotFoundError, 404),
        (ConflictError, 409),
        (InvalidInputError, 422),
        (PermissionDeniedError, 403),
        (AuthenticationError, 401),
        (ConfigError, 422),
        (MissingDependencyError, 500),
        (StorageError, 503),
        (StageExecutionError, 500),
        (LabelloopError, 500),
    ],
)
def test_http_status(klass: type[LabelloopError], status: int) -> None:
    assert lookup(HTTP_STATUS, klass("boom")) == status


def test_lookup_uses_most_specific_ancestor() -> None:
    class MissingThingError(NotFoundError):
        pass

    class UnlistedError(LabelloopError):
        pass

    assert lookup(HTTP_STATUS, MissingThingError("x")) == 404
    assert lookup(HTTP_STATUS, UnlistedError("x")) == 500
    assert lookup(EXIT_CODES, AuthenticationError("x")) == 1


def test_authentication_is_a_permission_error() -> None:
    assert issubclass(AuthenticationError, PermissionDeniedError)


@pytest.mark.parametrize(
    ("klass", "code"),
    [
        (NotFoundError, "not_found"),
        (ConflictError, "conflict"),
        (InvalidInputError, "invalid_input"),
        (PermissionDeniedError, "permission_denied"),
        (AuthenticationError, "unauthenticated"),
        (ConfigError, "config_error"),
        (MissingDependencyError, "missing_dependency"),
        (StorageError, "storage_error"),
        (StageExecutionError, "stage_failed"),
    ],
)
def test_error_codes(klass: type[LabelloopError], code: str) -> None:
    assert klass("m").code == code


def test_error_message_code_and_details() -> None:
    err = NotFoundError("no such thing", code="custom", what="record", id=3)
    assert str(err) == "no such thing"
    assert err.message == "no such thing"
    assert err.code == "custom"
    assert err.details == {"what": "record", "id": 3}
    # the class default is untouched by an instance override
    assert NotFoundError("x").code == "not_found"


def test_missing_dependency_for_extra() -> None:
    err = MissingDependencyError.for_extra("x", "postgres")
    assert isinstance(err, MissingDependencyError)
    assert "pip install 'labelloop[postgres]'" in str(err)
    assert str(err).startswith("x ")
    assert err.details == {"extra": "postgres"}
    assert lookup(HTTP_STATUS, err) == 500


# -- blob stores ------------------------------------------------------------------------------


@pytest.fixture(params=["local", "fsspec-memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return FsspecBlobStore(f"memory://blobs-{uuid.uuid4().hex}")


@pytest.mark.parametrize("data", [b"hello", b"", bytes(range(256)) * 100])
def test_put_get_round_trip(store: BlobStore, data: bytes) -> None:
    ref = store.put(data)
    assert ref == "sha256:" + hashlib.sha256(data).hexdigest()
    assert store.get(ref) == data


def test_same_bytes_same_ref(store: BlobStore) -> None:
    first = store.put(b"payload")
    second = store.put(b"payload")
    other = store.put(b"payload!")
    assert first == second
    assert first.startswith("sha256:")
    assert len(first) == len("sha256:") + 64
    assert other != first
    assert store.get(other) == b"payload!"


def test_get_missing_ref(store: BlobStore) -> None:
    missing = "sha256:" + hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(NotFoundError):
        store.get(missing)


def test_delete(store: BlobStore) -> None:
    ref = store.put(b"to erase")
    keep = store.put(b"to keep")
    store.delete(ref)
    with pytest.raises(NotFoundError):
        store.get(ref)
    assert store.get(keep) == b"to keep"
    store.delete(ref)  # deleting twice is fine
    # and the blob can be written again
    assert store.put(b"to erase") == ref
    assert store.get(ref) == b"to erase"


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "sha256:",
        "md5:" + "a" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "SHA256:" + "a" * 64,
        "sha256:" + "z" * 64,
        "sha256:+" + "a" * 63,
        "sha256:0x" + "a" * 62,
    ],
    ids=[
        "empty",
        "prefix-only",
        "other-algo",
        "short",
        "long",
        "upper-prefix",
        "non-hex",
        "sign",
        "0x-prefix",
    ],
)
@pytest.mark.parametrize("operation", ["get", "delete"])
def test_malformed_ref(store: BlobStore, ref: str, operation: str) -> None:
    with pytest.raises(InvalidInputError):
        getattr(store, operation)(ref)


def test_local_store_layout(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path)
    ref = local.put(b"abc")
    digest = ref.removeprefix("sha256:")
    assert (tmp_path / digest[:2] / digest[2:4] / digest).read_bytes() == b"abc"
    # no temporary files left behind
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


def test_fsspec_stores_are_separate() -> None:
    one = FsspecBlobStore(f"memory://blobs-{uuid.uuid4().hex}")
    two = FsspecBlobStore(f"memory://blobs-{uuid.uuid4().hex}")
    ref = one.put(b"only in one")
    with pytest.raises(NotFoundError):
        two.get(ref)


def test_open_blob_store_plain_path(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "b"))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "b"


def test_open_blob_store_file_url(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path}/b")
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "b"
    ref = store.put(b"x")
    assert LocalBlobStore(tmp_path / "b").get(ref) == b"x"


def test_open_blob_store_other_url() -> None:
    store = open_blob_store(f"memory://blobs-{uuid.uuid4().hex}")
    assert isinstance(store, FsspecBlobStore)
    assert store.get(store.put(b"m")) == b"m"
