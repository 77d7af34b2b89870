"""Release files: JSON Lines or Parquet, written to a temporary name beside the target and renamed
when complete, so a reader (or a crash, even ``kill -9``) never sees a partial file at the target.
No database here: the service hands over pages of rows in :data:`~labelloop.releases.manifest.COLUMNS` order."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelloop.errors import InvalidInputError
from labelloop.releases.manifest import COLUMNS

__all__ = ["FORMATS", "PARQUET_SCHEMA", "ReleaseFileWriter", "file_sha256"]

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


def _id_lists(texts: Sequence[str | None]) -> pa.Array:
    """JSON arrays of integers (``"[1,2,3]"``) as a list<int64> array, without parsing them in Python."""
    trimmed = pc.utf8_trim(pa.array(texts, type=pa.string()), "[] ")
    parts = pc.split_pattern(trimmed, ",")
    empty = pa.scalar([], type=pa.list_(pa.string()))
    lists = pc.if_else(pc.equal(trimmed, ""), empty, parts)
    return lists.cast(pa.list_(pa.int64()))


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes."""
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            sha.update(block)
    return sha.hexdigest()


class ReleaseFileWriter:
    """Writes release rows to ``path`` atomically; use as a context manager.

    Rows go to a hidden ``.<name>.<random>.part`` file in the target folder; leaving the
    ``with`` block normally flushes, fsyncs and renames it to ``path`` (replacing any old
    file), an exception removes it. A process killed mid-write leaves only the hidden part
    file (never anything at ``path``).
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
        self.tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
        self._file: BinaryIO | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._metadata = {
            b"labelloop.release": release.encode(),
            b"labelloop.manifest_sha256": manifest_sha256.encode(),
        }

    def __enter__(self) -> ReleaseFileWriter:
        self._file = self.tmp.open("xb")
        if self.format == "parquet":
            schema = PARQUET_SCHEMA.with_metadata(self._metadata)
            # Dictionary pages only for the columns with few values: trying them on payloads and hashes was
            # measured at half the encoding time for nothing.
            self._parquet = pq.ParquetWriter(
                self._file, schema, compression="zstd", use_dictionary=list(DICTIONARY_COLUMNS)
            )
        return self

    def write_columns(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """Append one page given as columns named like :data:`COLUMNS` (all of them, equal lengths).

        ``annotation_ids`` holds JSON texts (``"[1,2,3]"``): Parquet gets a list<int64> column,
        JSON Lines the array itself.
        """
        if self._file is None:
            raise RuntimeError("write_columns outside the writer's with block")
        n = len(columns["record_id"])
        if n == 0:
            return
        if self._parquet is not None:
            converted: dict[int, pa.Array] = {}  # one conversion for columns given twice (guidelines_version)
            arrays = []
            for f in PARQUET_SCHEMA:
                values = columns[f.name]
                if f.name == "annotation_ids":
                    arrays.append(_id_lists(values))
                    continue
                if id(values) not in converted:
                    converted[id(values)] = pa.array(values, type=f.type)
                arrays.append(converted[id(values)])
            self._parquet.write_table(pa.Table.from_arrays(arrays, schema=self._parquet.schema))
        else:
            fragment, dumps = orjson.Fragment, orjson.dumps
            ids_at = COLUMNS.index("annotation_ids")
            lines = []
            for row in zip(*(columns[c] for c in COLUMNS), strict=True):
                record = dict(zip(COLUMNS, row, strict=True))
                record["annotation_ids"] = fragment(row[ids_at])
                lines.append(dumps(record))
            self._file.write(b"\n".join(lines) + b"\n")
        self.rows += n

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
        self.tmp.replace(self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
