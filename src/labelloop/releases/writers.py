"""Release files: JSON Lines or Parquet, written to a temporary name beside the target and renamed
when complete, so a reader (or a crash, even ``kill -9``) never sees a partial file at the target.
No database here: the service hands over pages of rows in :data:`~labelloop.releases.manifest.COLUMNS` order.

The temporary name says who writes it: ``.<name>.<host>.<pid>.<random>.part`` (``host`` a short
hash of the host name). A killed export leaves its part file behind; the next export to the same
target removes the stale ones first (:func:`remove_stale_parts`): those of a process of this host
that is gone, and any older than :data:`STALE_AFTER` (written elsewhere, or by an older version
whose names carry no owner). A part file of a live process of this host is never touched, so two
exports to the same path do not undo each other."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelloop.errors import InvalidInputError, StorageError
from labelloop.releases.encode import concatenated, json_object_rows
from labelloop.releases.manifest import COLUMNS

__all__ = [
    "FORMATS",
    "PARQUET_SCHEMA",
    "STALE_AFTER",
    "EncodedPage",
    "ReleaseFileWriter",
    "file_sha256",
    "part_name",
    "remove_stale_parts",
]

FORMATS = ("jsonl", "parquet")

PARQUET_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("external_id", pa.string()),
        ("text", pa.string()),
        ("payload", pa.string()),
        ("label", pa.string()),
        ("labels", pa.string()),
        ("split", pa.string()),
        ("source", pa.string()),
        ("source_key", pa.string()),
        ("ingest_run_id", pa.int64()),
        ("batch_id", pa.int64()),
        ("stages", pa.string()),
        ("schema_version", pa.int32()),
        ("guidelines_version", pa.int32()),
        ("method", pa.string()),
        ("confidence", pa.float64()),
        ("annotation_ids", pa.list_(pa.int64())),
        ("aggregation", pa.string()),
        ("selection", pa.string()),
    ]
)
if tuple(PARQUET_SCHEMA.names) != COLUMNS:  # pragma: no cover - a module invariant
    raise RuntimeError("the Parquet schema and the release columns disagree")


#: Parquet columns with few distinct values (dictionary-encoded).
DICTIONARY_COLUMNS = ("label", "split", "source", "source_key", "stages", "method", "schema_version",
                      "guidelines_version", "ingest_run_id")  # fmt: skip


#: Columns that hold JSON text to be written as JSON (not as a string) in JSON Lines.
_RAW_JSON = frozenset({"annotation_ids"})


def _as_array(values: Sequence[Any] | pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == kind else values.cast(kind)
    return pa.array(values, type=kind)


def _id_lists(texts: pa.Array) -> pa.Array:
    """JSON arrays of integers (``"[1,2,3]"``) as a list<int64> array, without parsing them in Python."""
    trimmed = pc.utf8_trim(texts, "[] ")
    parts = pc.split_pattern(trimmed, ",")
    empty = pa.scalar([], type=pa.list_(pa.string()))
    lists = pc.if_else(pc.equal(trimmed, ""), empty, parts)
    return lists.cast(pa.list_(pa.int64()))


#: Seconds after which a part file whose writer cannot be checked (another host, no owner in its name) is stale.
STALE_AFTER = 3600.0

_HOST = hashlib.blake2b(socket.gethostname().encode("utf-8"), digest_size=4).hexdigest()
# After ".<name>.": owner (host hash and pid, absent in older names), then the random part.
_PART = re.compile(r"(?:(?P<host>[0-9a-f]{8})\.(?P<pid>[0-9]{1,10})\.)?[0-9a-f]{12}\.part")


def part_name(target: Path) -> Path:
    """A new temporary path beside ``target`` that names this host and process."""
    return target.parent / f".{target.name}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex[:12]}.part"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OverflowError:  # not a pid at all
        return False
    return True


def remove_stale_parts(target: Path, *, now: float | None = None, stale_after: float = STALE_AFTER) -> list[Path]:
    """Remove the leftover part files of earlier exports to ``target``; returns what was removed.

    A part file is stale when its writer was a process of this host that no longer runs, or when
    it was last written more than ``stale_after`` seconds ago and its writer cannot be checked
    (another host, or a name without an owner). Part files of other targets are never touched.
    """
    now = time.time() if now is None else now
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for path in candidates:
        found = _PART.fullmatch(path.name[len(prefix) :])
        if found is None:
            continue
        if found["host"] == _HOST:
            if _alive(int(found["pid"])):
                continue
        else:
            try:
                if now - path.stat().st_mtime <= stale_after:
                    continue
            except FileNotFoundError:
                continue
        try:
            path.unlink()
        except FileNotFoundError:  # removed by a concurrent export meanwhile
            continue
        removed.append(path)
    return removed


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes."""
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            sha.update(block)
    return sha.hexdigest()


class EncodedPage(NamedTuple):
    """A page ready to append: its row count and its Arrow table (Parquet) or its lines (JSON Lines)."""

    rows: int
    data: Any


class ReleaseFileWriter:
    """Writes release rows to ``path`` atomically; use as a context manager.

    Rows go to a hidden ``.<name>.<host>.<pid>.<random>.part`` file in the target folder (see
    :func:`part_name`); leaving the ``with`` block normally flushes, fsyncs and renames it to
    ``path`` (replacing any old file), an exception removes it. A process killed mid-write leaves
    only the hidden part file (never anything at ``path``), which the next export to ``path``
    removes (:func:`remove_stale_parts`; ``removed_parts`` lists what it removed).
    """

    def __init__(self, path: Path, fmt: str, *, release: str = "", manifest_sha256: str = "") -> None:
        if fmt not in FORMATS:
            raise InvalidInputError(f"unknown export format '{fmt}' (jsonl or parquet)")
        if not path.parent.is_dir():
            raise InvalidInputError(f"the folder {path.parent} does not exist")
        if path.is_dir():
            raise InvalidInputError(f"{path} is a folder: give a file path")
        self.path = path
        self.format = fmt
        self.rows = 0
        self.tmp = part_name(path)
        self.removed_parts: list[Path] = []
        self._file: BinaryIO | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._metadata = {
            b"labelloop.release": release.encode(),
            b"labelloop.manifest_sha256": manifest_sha256.encode(),
        }
        self._schema = PARQUET_SCHEMA.with_metadata(self._metadata)

    def __enter__(self) -> ReleaseFileWriter:
        self.removed_parts = remove_stale_parts(self.path)
        self._file = self.tmp.open("xb")
        if self.format == "parquet":
            # Dictionary pages only for the columns with few values: trying them on payloads and hashes was
            # measured at half the encoding time for nothing.
            self._parquet = pq.ParquetWriter(
                self._file, self._schema, compression="zstd", use_dictionary=list(DICTIONARY_COLUMNS)
            )
        return self

    def encode(self, columns: Mapping[str, Sequence[Any] | pa.Array | pa.ChunkedArray]) -> EncodedPage:
        """One page given as columns named like :data:`COLUMNS` (all of them, equal lengths), ready to write.

        Columns are Arrow arrays (as an export page holds them) or Python sequences.
        ``annotation_ids`` holds JSON texts (``"[1,2,3]"``): Parquet gets a list<int64> column,
        JSON Lines the array itself. A JSON Lines row is what ``orjson.dumps`` writes for the dict
        of the row's values (:mod:`labelloop.releases.encode` builds a page's lines at once).
        Touches neither the file nor the writer's state, so another thread may encode the next page
        while this one is written (:meth:`write_encoded`).
        """
        n = len(columns["record_id"])
        converted: dict[int, pa.Array] = {}  # one conversion for columns given twice (guidelines_version)
        arrays: dict[str, pa.Array] = {}
        for f in PARQUET_SCHEMA:
            values = columns[f.name]
            kind = pa.string() if f.name == "annotation_ids" else f.type
            if id(values) not in converted:
                converted[id(values)] = _as_array(values, kind)
            arrays[f.name] = converted[id(values)]
            if len(arrays[f.name]) != n:
                raise ValueError(f"column {f.name} has {len(arrays[f.name])} values, not {n}")
        if n == 0:
            return EncodedPage(0, None)
        if self.format == "parquet":
            arrays["annotation_ids"] = _id_lists(arrays["annotation_ids"])
            return EncodedPage(n, pa.Table.from_arrays(list(arrays.values()), schema=self._schema))
        return EncodedPage(n, json_object_rows([(c, arrays[c]) for c in COLUMNS], raw=_RAW_JSON, end="\n"))

    def write_encoded(self, page: EncodedPage) -> None:
        """Append a page made by :meth:`encode`."""
        if self._file is None:
            raise RuntimeError("write_encoded outside the writer's with block")
        if page.rows == 0:
            return
        if self._parquet is not None:
            self._parquet.write_table(page.data)
        else:
            self._file.write(concatenated(page.data))
        self.rows += page.rows

    def write_columns(self, columns: Mapping[str, Sequence[Any] | pa.Array | pa.ChunkedArray]) -> None:
        """Append one page given as columns named like :data:`COLUMNS` (see :meth:`encode`)."""
        self.write_encoded(self.encode(columns))

    def set_metadata(self, values: Mapping[str, str]) -> None:
        """Add key-value metadata to a Parquet file's footer (nothing for JSON Lines, which has no place for it)."""
        if self._parquet is not None:
            self._parquet.add_key_value_metadata(dict(values))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        file, self._file = self._file, None
        try:
            if self._parquet is not None:
                self._parquet.close()
            if file is not None and exc_type is None:
                file.flush()
                os.fsync(file.fileno())
        finally:
            if file is not None:
                file.close()
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            self.tmp.replace(self.path)
        except FileNotFoundError as exc:
            raise StorageError(
                f"the temporary file {self.tmp} disappeared before it could be renamed to {self.path} "
                "(removed by another host's export to the same path after an hour without writes?)"
            ) from exc
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
