"""Content-addressed blob store for large payloads and raw quarantined rows.

A blob's reference is ``sha256:<hex>`` of its bytes, so writing the same bytes
twice stores them once and a crashed run that wrote a blob but not its row
leaves nothing wrong behind. :class:`LocalBlobStore` keeps files in a folder
(the default, inside the project); :class:`FsspecBlobStore` takes any fsspec
URL (``s3://``, ``gs://``, ``memory://``, ...), imported only when used.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from labelloop.errors import InvalidInputError, MissingDependencyError, NotFoundError, StorageError

__all__ = ["BlobStore", "FsspecBlobStore", "LocalBlobStore", "open_blob_store"]

PREFIX = "sha256:"


def blob_ref(data: bytes) -> str:
    """The reference of ``data`` in any blob store."""
    return PREFIX + hashlib.sha256(data).hexdigest()


_REF = re.compile(r"sha256:([0-9a-f]{64})")


def _digest(ref: str) -> str:
    match = _REF.fullmatch(ref)
    if match is None:
        raise InvalidInputError(f"not a blob reference (sha256:<64 hex digits>): {ref!r}")
    return match.group(1)


class BlobStore(ABC):
    """Put, get and delete immutable blobs by content reference."""

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent) and return its reference."""

    @abstractmethod
    def get(self, ref: str) -> bytes:
        """The bytes of ``ref``; :class:`NotFoundError` if absent."""

    @abstractmethod
    def delete(self, ref: str) -> None:
        """Remove ``ref`` if present (used by erasure)."""


class LocalBlobStore(BlobStore):
    """Blobs as files ``<root>/ab/cd/<sha256>``, written atomically."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, ref: str) -> Path:
        digest = _digest(ref)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        path = self._path(ref)
        if path.exists():
            return ref
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(path)
        except OSError as exc:
            raise StorageError(f"cannot write blob to {self.root}: {exc}") from exc
        return ref

    def get(self, ref: str) -> bytes:
        try:
            return self._path(ref).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {ref} not found in {self.root}") from None

    def delete(self, ref: str) -> None:
        self._path(ref).unlink(missing_ok=True)


class FsspecBlobStore(BlobStore):
    """Blobs under any fsspec URL."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec is a core dependency
            raise MissingDependencyError.for_extra("fsspec blob storage", "fsspec") from None
        self.url = url.rstrip("/")
        self.fs: Any
        self.fs, self.base = fsspec.core.url_to_fs(self.url)

    def _path(self, ref: str) -> str:
        digest = _digest(ref)
        return f"{self.base}/{digest[:2]}/{digest[2:4]}/{digest}"

    def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        path = self._path(ref)
        try:
            if not self.fs.exists(path):
                self.fs.pipe_file(path, data)
        except OSError as exc:
            raise StorageError(f"cannot write blob to {self.url}: {exc}") from exc
        return ref

    def get(self, ref: str) -> bytes:
        try:
            data: bytes = self.fs.cat_file(self._path(ref))
        except FileNotFoundError:
            raise NotFoundError(f"blob {ref} not found in {self.url}") from None
        return data

    def delete(self, ref: str) -> None:
        path = self._path(ref)
        if self.fs.exists(path):
            self.fs.rm_file(path)


def open_blob_store(url: str) -> BlobStore:
    """A local folder for plain paths and ``file://``, fsspec for any other URL."""
    if "://" not in url:
        return LocalBlobStore(url)
    if url.startswith("file://"):
        return LocalBlobStore(url[len("file://") :])
    return FsspecBlobStore(url)
