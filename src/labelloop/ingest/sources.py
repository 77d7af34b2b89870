"""Readers for file sources: JSONL, CSV, Parquet and a directory of text files.

A reader turns one file (from a cursor position) into :class:`Chunk` objects
of at most ``batch_size`` :class:`RawRow` each, reading in bounded blocks so
memory does not grow with the file. A row that cannot be read (bad JSON,
ragged CSV, bad encoding) is still a row: it carries its raw bytes and a
reason, and goes to quarantine; the rows around it are unaffected.

Encodings: ``auto`` honours a byte-order mark (UTF-8, UTF-16, UTF-32), detects
BOM-less UTF-16 by its NUL bytes, and otherwise reads strict UTF-8: a line
that is not valid UTF-8 is quarantined as ``invalid_encoding``, never decoded
by a guess. Any Python codec may be declared instead.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from labelloop.domain.reasons import Reason

__all__ = ["Chunk", "FileState", "RawRow", "Row", "file_state", "parse_json_line", "read_file", "sniff_encoding"]

BLOCK = 4 << 20
HEAD_BYTES = 64 << 10
MAX_RAW = 1 << 20


#: A row as read, as a plain tuple (the hot path builds millions of them; a NamedTuple
#: costs ~0.5 us more each): (key, position, line, data, raw, reason, message).
Row = tuple[str, int, int, dict[str, Any] | None, bytes | None, Reason | None, str | None]


class RawRow(NamedTuple):
    """One row as read: ``data`` when readable, else ``reason`` and ``message``."""

    key: str
    position: int
    line: int
    data: dict[str, Any] | None
    raw: bytes | None
    reason: Reason | None
    message: str | None


@dataclass
class Chunk:
    """Rows read from one file, and where the file's cursor stands after them."""

    cursor_key: str
    rows: list[Row]
    start_position: int
    end_position: int
    start_line: int
    end_line: int
    complete: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileState:
    """What the cursor remembers of a file to tell new data from old."""

    size: int
    mtime_ns: int
    head_len: int
    head_sha256: str


def file_state(path: Path, head_len: int | None = None) -> FileState:
    """Size, modification time and a hash of the first ``head_len`` bytes of ``path``."""
    stat = path.stat()
    length = min(stat.st_size, HEAD_BYTES if head_len is None else head_len)
    with path.open("rb") as handle:
        head = handle.read(length)
    return FileState(stat.st_size, stat.st_mtime_ns, len(head), hashlib.sha256(head).hexdigest())


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def sniff_encoding(head: bytes, declared: str = "auto") -> tuple[str, int]:
    """The encoding of a file starting with ``head`` and the length of its BOM.

    >>> sniff_encoding(b"\\xef\\xbb\\xbf{}")
    ('utf-8', 3)
    >>> sniff_encoding("{}".encode("utf-16-le"))
    ('utf-16-le', 0)
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            if declared in ("auto", name) or codecs.lookup(declared).name == codecs.lookup(name).name:
                return name, len(bom)
            return declared, 0
    if declared != "auto":
        return codecs.lookup(declared).name, 0
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 4 >= len(sample):
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        if odd_nuls > even_nuls * 4:
            return "utf-16-le", 0
        if even_nuls > odd_nuls * 4:
            return "utf-16-be", 0
    return "utf-8", 0


def _is_utf8(name: str) -> bool:
    return codecs.lookup(name).name == "utf-8"


def read_file(
    kind: str,
    path: Path,
    key: str,
    *,
    start_position: int,
    start_line: int,
    batch_size: int,
    encoding: str = "auto",
    delimiter: str = ",",
    quotechar: str = '"',
) -> Iterator[Chunk]:
    """Chunks of ``path`` from the cursor (``start_position`` bytes, ``start_line`` rows)."""
    if kind == "jsonl":
        yield from _read_jsonl(path, key, start_position, start_line, batch_size, encoding)
    elif kind == "csv":
        yield from _read_csv(path, key, start_position, start_line, batch_size, encoding, delimiter, quotechar)
    elif kind == "parquet":
        yield from _read_parquet(path, key, start_line, batch_size)
    else:  # pragma: no cover - guarded by config validation
        raise ValueError(f"no file reader for {kind}")


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4096)


# -- JSONL ---------------------------------------------------------------------------------


def parse_json_line(key: str, position: int, line_no: int, line: bytes) -> Row:
    """Parse one JSON line into a row, or a quarantine row with its reason."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            return RawRow(
                key,
                position,
                line_no,
                None,
                line[:MAX_RAW],
                Reason.INVALID_ENCODING,
                f"line {line_no} is not valid UTF-8 (byte {bad.start}); declare the source's encoding",
            )
        return RawRow(
            key,
            position,
            line_no,
            None,
            line[:MAX_RAW],
            Reason.INVALID_JSON,
            f"line {line_no} is not valid JSON: {exc}",
        )
    if not isinstance(obj, dict):
        return RawRow(
            key,
            position,
            line_no,
            None,
            line[:MAX_RAW],
            Reason.NOT_AN_OBJECT,
            f"line {line_no} is JSON {type(obj).__name__}, expected an object",
        )
    return (key, position, line_no, obj, None, None, None)


def _read_jsonl(path: Path, key: str, start: int, start_line: int, batch_size: int, encoding: str) -> Iterator[Chunk]:
    enc, bom = sniff_encoding(_head(path), encoding)
    if not _is_utf8(enc):
        yield from _read_jsonl_text(path, key, start_line, batch_size, enc, bom)
        return
    parse = parse_json_line
    loads = orjson.loads
    JSONDecodeError = orjson.JSONDecodeError  # noqa: N806 - a local alias in the hot loop
    position = max(start, bom)
    line_no = start_line
    rows: list[Row] = []
    chunk_start, chunk_line = position, line_no
    with path.open("rb") as handle:
        handle.seek(position)
        tail = b""
        while True:
            block = handle.read(BLOCK)
            if not block:
                break
            lines = (tail + block).split(b"\n")
            tail = lines.pop()
            for line in lines:
                line_no += 1
                row_pos = position
                position += len(line) + 1
                if line and not line.isspace():
                    # the common case inline: an object (orjson takes a trailing \r as white space)
                    try:
                        obj = loads(line)
                    except JSONDecodeError:
                        obj = None
                    if type(obj) is dict:
                        rows.append((key, row_pos, line_no, obj, None, None, None))
                    else:
                        rows.append(parse(key, row_pos, line_no, line.rstrip(b"\r")))
                    if len(rows) >= batch_size:
                        yield Chunk(key, rows, chunk_start, position, chunk_line, line_no)
                        rows = []
                        chunk_start, chunk_line = position, line_no
        if tail.strip():
            # The last line has no newline: take it as a row (a file need not end with one).
            line_no += 1
            rows.append(parse(key, position, line_no, tail.rstrip(b"\r")))
            position += len(tail)
        elif tail:
            position += len(tail)
    yield Chunk(key, rows, chunk_start, position, chunk_line, line_no, complete=True)


def _text_lines(path: Path, enc: str, bom: int) -> Iterator[tuple[str | None, bytes]]:
    """Decoded lines of a non-UTF-8 file, with a fallback for undecodable lines."""
    decoder = codecs.getincrementaldecoder(enc)(errors="strict")
    with path.open("rb") as handle:
        handle.seek(bom)
        pending = ""
        while True:
            block = handle.read(BLOCK)
            final = not block
            try:
                pending += decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                # A UTF-16 file cannot be split into lines without decoding: the rest is one bad row.
                yield None, block[:MAX_RAW] + f" [{exc}]".encode()
                return
            parts = pending.split("\n")
            pending = "" if final else parts.pop()
            for part in parts:
                yield part.rstrip("\r"), b""
            if final:
                return


def _read_jsonl_text(path: Path, key: str, start_line: int, batch_size: int, enc: str, bom: int) -> Iterator[Chunk]:
    # Non-UTF-8 files resume by line count: they are re-decoded up to the cursor.
    rows: list[Row] = []
    line_no = 0
    chunk_line = start_line
    for text, raw in _text_lines(path, enc, bom):
        line_no += 1
        if line_no <= start_line:
            continue
        if text is None:
            rows.append(
                RawRow(
                    key,
                    line_no,
                    line_no,
                    None,
                    raw,
                    Reason.INVALID_ENCODING,
                    f"line {line_no} onwards cannot be decoded as {enc}",
                )
            )
        elif text.strip():
            rows.append(parse_json_line(key, line_no, line_no, text.encode("utf-8")))
        if len(rows) >= batch_size:
            yield Chunk(key, rows, chunk_line, line_no, chunk_line, line_no)
            rows, chunk_line = [], line_no
    yield Chunk(key, rows, chunk_line, max(line_no, start_line), chunk_line, max(line_no, start_line), complete=True)


# -- CSV -----------------------------------------------------------------------------------


class _LineFeed:
    """Feeds ``csv.reader`` one decoded line at a time and tracks byte offsets."""

    def __init__(self, handle: Any, enc: str, position: int) -> None:
        self.handle = handle
        self.enc = enc
        self.utf8 = _is_utf8(enc)
        self.position = position
        self.raw: list[bytes] = []
        self.bad = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line: bytes = self.handle.readline()
        if not line:
            raise StopIteration
        self.position += len(line)
        self.raw.append(line)
        try:
            return line.decode(self.enc)
        except UnicodeDecodeError:
            self.bad = True
            return line.decode(self.enc, errors="replace")

    def take(self) -> tuple[bytes, bool]:
        raw, bad = b"".join(self.raw), self.bad
        self.raw, self.bad = [], False
        return raw, bad


def _csv_row(
    key: str,
    position: int,
    row_no: int,
    values: list[str],
    error: str | None,
    bad_encoding: bool,
    raw: bytes,
    header: list[str],
    enc: str,
) -> Row | None:
    """One CSV record as a row, a quarantine row, or None for a blank line."""
    if error is not None:
        return RawRow(key, position, row_no, None, raw[:MAX_RAW], Reason.BAD_QUOTING, f"row {row_no}: {error}")
    if bad_encoding:
        return RawRow(
            key,
            position,
            row_no,
            None,
            raw[:MAX_RAW],
            Reason.INVALID_ENCODING,
            f"row {row_no} is not valid {enc}; declare the source's encoding",
        )
    if not values or values == [""]:
        return None
    if len(values) != len(header):
        return RawRow(
            key,
            position,
            row_no,
            None,
            raw[:MAX_RAW],
            Reason.RAGGED_ROW,
            f"row {row_no} has {len(values)} fields, the header has {len(header)}",
        )
    return (key, position, row_no, dict(zip(header, values, strict=True)), None, None, None)


def _read_csv(
    path: Path, key: str, start: int, start_line: int, batch_size: int, encoding: str, delimiter: str, quotechar: str
) -> Iterator[Chunk]:
    enc, bom = sniff_encoding(_head(path), encoding)
    if enc.startswith(("utf-16", "utf-32")):
        yield from _read_csv_text(path, key, start_line, batch_size, enc, bom, delimiter, quotechar)
        return
    rows: list[Row] = []
    csv.field_size_limit(1 << 30)
    with path.open("rb") as handle:
        handle.seek(bom)
        feed = _LineFeed(handle, enc, bom)
        reader = csv.reader(feed, delimiter=delimiter, quotechar=quotechar, strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except (StopIteration, csv.Error):
            yield Chunk(key, [], start, max(start, feed.position), start_line, start_line, complete=True)
            return
        feed.take()
        header_end = feed.position
        line_no = 1
        position = max(start, header_end)
        if position != feed.position:
            handle.seek(position)
            feed.position = position
            line_no = start_line
        chunk_start, chunk_line = position, line_no
        while True:
            row_pos = feed.position
            try:
                values = next(reader)
                error: str | None = None
            except StopIteration:
                break
            except csv.Error as exc:
                values, error = [], str(exc)
            raw, bad = feed.take()
            line_no += 1
            row = _csv_row(key, row_pos, line_no, values, error, bad, raw, header, enc)
            if row is not None:
                rows.append(row)
            if len(rows) >= batch_size:
                yield Chunk(key, rows, chunk_start, feed.position, chunk_line, line_no)
                rows, chunk_start, chunk_line = [], feed.position, line_no
        yield Chunk(key, rows, chunk_start, feed.position, chunk_line, line_no, complete=True)


def _read_csv_text(
    path: Path, key: str, start_line: int, batch_size: int, enc: str, bom: int, delimiter: str, quotechar: str
) -> Iterator[Chunk]:
    text_lines = (t if t is not None else "" for t, _ in _text_lines(path, enc, bom))
    reader = csv.reader((t + "\n" for t in text_lines), delimiter=delimiter, quotechar=quotechar, strict=True)
    rows: list[Row] = []
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        yield Chunk(key, [], start_line, start_line, start_line, start_line, complete=True)
        return
    line_no = 1
    chunk_line = start_line
    while True:
        try:
            values = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as exc:
            values, error = [], str(exc)
        line_no += 1
        if line_no <= start_line:
            continue
        raw = delimiter.join(values).encode("utf-8")
        row = _csv_row(key, line_no, line_no, values, error, False, raw, header, enc)
        if row is not None:
            rows.append(row)
        if len(rows) >= batch_size:
            yield Chunk(key, rows, chunk_line, line_no, chunk_line, line_no)
            rows, chunk_line = [], line_no
    end = max(line_no, start_line)
    yield Chunk(key, rows, chunk_line, end, chunk_line, end, complete=True)


# -- Parquet -------------------------------------------------------------------------------


def _read_parquet(path: Path, key: str, start_line: int, batch_size: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a corrupt file
        with path.open("rb") as handle:
            raw = handle.read(HEAD_BYTES)
        row = RawRow(key, 0, 1, None, raw, Reason.UNREADABLE_FILE, f"not a readable Parquet file: {exc}")
        yield Chunk(key, [row], 0, 1, 0, 1, complete=True)
        return
    done = 0
    for batch in parquet.iter_batches(batch_size=batch_size):
        if done + batch.num_rows <= start_line:
            done += batch.num_rows
            continue
        skip = max(0, start_line - done)
        rows: list[Row] = [
            (key, done + i + 1, done + i + 1, item, None, None, None)
            for i, item in enumerate(batch.slice(skip).to_pylist(), start=skip)
        ]
        yield Chunk(key, rows, done + skip, done + batch.num_rows, done + skip, done + batch.num_rows)
        done += batch.num_rows
    end = max(done, start_line)
    yield Chunk(key, [], end, end, end, end, complete=True)


# -- Directory of text files ----------------------------------------------------------------


def read_text_document(path: Path, rel: str, encoding: str) -> tuple[str | None, RawRow | None]:
    """The text of one document, or a quarantine row saying why it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, RawRow(rel, 0, 1, None, None, Reason.UNREADABLE_FILE, f"{rel}: {exc.strerror}")
    enc, bom = sniff_encoding(data[:4096], encoding)
    try:
        return data[bom:].decode(enc), None
    except UnicodeDecodeError as exc:
        return None, RawRow(
            rel,
            0,
            1,
            None,
            data[:MAX_RAW],
            Reason.INVALID_ENCODING,
            f"{rel} is not valid {enc} (byte {exc.start}); declare the source's encoding",
        )
