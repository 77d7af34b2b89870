"""Unit tests for the file readers (labelloop.ingest.sources)."""

from __future__ import annotations

import codecs
import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelloop.domain.reasons import Reason
from labelloop.ingest.sources import Chunk, RawRow, read_file, read_text_document, sniff_encoding

# -- sniff_encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (codecs.BOM_UTF8 + b'{"a": 1}', ("utf-8", 3)),
        (codecs.BOM_UTF16_LE + '{"a": 1}'.encode("utf-16-le"), ("utf-16-le", 2)),
        (codecs.BOM_UTF16_BE + '{"a": 1}'.encode("utf-16-be"), ("utf-16-be", 2)),
        (codecs.BOM_UTF32_LE + '{"a": 1}'.encode("utf-32-le"), ("utf-32-le", 4)),
        (codecs.BOM_UTF32_BE + '{"a": 1}'.encode("utf-32-be"), ("utf-32-be", 4)),
        ('{"a": 1}\n{"b": 2}\n'.encode("utf-16-le"), ("utf-16-le", 0)),
        ('{"a": 1}\n{"b": 2}\n'.encode("utf-16-be"), ("utf-16-be", 0)),
        ('{"text": "caf\u00e9"}\n'.encode(), ("utf-8", 0)),
        (b"plain ascii", ("utf-8", 0)),
        (b"", ("utf-8", 0)),
        (b'{"a": "\xff"}', ("utf-8", 0)),
    ],
    ids=[
        "bom-utf8",
        "bom-utf16le",
        "bom-utf16be",
        "bom-utf32le",
        "bom-utf32be",
        "nobom-utf16le",
        "nobom-utf16be",
        "utf8",
        "ascii",
        "empty",
        "invalid-utf8",
    ],
)
def test_sniff_encoding_auto(head: bytes, expected: tuple[str, int]) -> None:
    assert sniff_encoding(head) == expected
    assert sniff_encoding(head, "auto") == expected


@pytest.mark.parametrize(
    ("head", "declared", "expected"),
    [
        (b"caf\xe9", "latin-1", ("iso8859-1", 0)),
        (b"plain", "cp1252", ("cp1252", 0)),
        (b"plain", "UTF-8", ("utf-8", 0)),
        (codecs.BOM_UTF8 + b"x", "utf-8", ("utf-8", 3)),
        (codecs.BOM_UTF8 + b"x", "utf8", ("utf-8", 3)),
        (codecs.BOM_UTF16_LE + "x".encode("utf-16-le"), "utf-16-le", ("utf-16-le", 2)),
        # a declared codec that the BOM contradicts wins, and the BOM bytes are not skipped
        (codecs.BOM_UTF16_LE + b"x", "latin-1", ("latin-1", 0)),
        # a declared codec disables the BOM-less UTF-16 guess
        ("ab".encode("utf-16-le"), "latin-1", ("iso8859-1", 0)),
    ],
)
def test_sniff_encoding_declared(head: bytes, declared: str, expected: tuple[str, int]) -> None:
    assert sniff_encoding(head, declared) == expected


# -- helpers ----------------------------------------------------------------------------------


def read_all(kind: str, path: Path, **kwargs: Any) -> list[Chunk]:
    options: dict[str, Any] = {"start_position": 0, "start_line": 0, "batch_size": 1000}
    options.update(kwargs)
    return list(read_file(kind, path, "k", **options))


def rows_of(chunks: list[Chunk]) -> list[RawRow]:
    # readers hand out plain tuples on the hot path; view them with RawRow's field names
    return [RawRow(*row) for chunk in chunks for row in chunk.rows]


def data_of(chunks: list[Chunk]) -> list[dict[str, Any] | None]:
    return [row.data for row in rows_of(chunks)]


def assert_single_complete(chunks: list[Chunk]) -> None:
    assert chunks[-1].complete is True
    assert all(not c.complete for c in chunks[:-1])


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# -- JSONL ------------------------------------------------------------------------------------


def test_jsonl_rows_and_reasons(tmp_path: Path) -> None:
    content = b'{"a": 1}\n{not json\n[1, 2]\n"str"\n{"a": "\xff"}\n{"a": 2}\n'
    path = write(tmp_path, "f.jsonl", content)
    chunks = read_all("jsonl", path)
    assert_single_complete(chunks)
    rows = rows_of(chunks)
    assert [r.reason for r in rows] == [
        None,
        Reason.INVALID_JSON,
        Reason.NOT_AN_OBJECT,
        Reason.NOT_AN_OBJECT,
        Reason.INVALID_ENCODING,
        None,
    ]
    assert [r.data for r in rows] == [{"a": 1}, None, None, None, None, {"a": 2}]
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r.key == "k" for r in rows)
    assert rows[1].raw == b"{not json"
    assert rows[4].raw == b'{"a": "\xff"}'
    assert all(r.message for r in rows if r.reason is not None)
    # positions are byte offsets of each line
    starts = [0]
    for line in content.split(b"\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    assert [r.position for r in rows] == starts[:6]
    assert chunks[-1].end_position == len(content)
    assert chunks[-1].end_line == 6


def test_jsonl_blank_lines_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", b'\n{"a": 1}\n\n   \n{"a": 2}\n\n')
    chunks = read_all("jsonl", path)
    rows = rows_of(chunks)
    assert [r.data for r in rows] == [{"a": 1}, {"a": 2}]
    assert [r.line for r in rows] == [2, 5]
    assert all(r.reason is None for r in rows)


def test_jsonl_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", b'{"a": "x"}\r\n{"a": "y"}\r\n\r\n')
    rows = rows_of(read_all("jsonl", path))
    assert [r.data for r in rows] == [{"a": "x"}, {"a": "y"}]
    assert all(r.reason is None for r in rows)


def test_jsonl_last_line_without_newline(tmp_path: Path) -> None:
    content = b'{"a": 1}\n{"a": 2}'
    path = write(tmp_path, "f.jsonl", content)
    chunks = read_all("jsonl", path)
    assert data_of(chunks) == [{"a": 1}, {"a": 2}]
    assert chunks[-1].complete
    assert chunks[-1].end_position == len(content)
    assert chunks[-1].end_line == 2


def test_jsonl_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", codecs.BOM_UTF8 + '{"t": "caf\u00e9"}\n{"t": "b"}\n'.encode())
    rows = rows_of(read_all("jsonl", path))
    assert [r.data for r in rows] == [{"t": "caf\u00e9"}, {"t": "b"}]
    assert rows[0].position == 3


@pytest.mark.parametrize(("codec", "bom"), [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_jsonl_utf16_with_bom(tmp_path: Path, codec: str, bom: bytes) -> None:
    text = '{"t": "caf\u00e9"}\r\n\r\n{"t": "\u65e5\u672c"}\n[1]\n'
    path = write(tmp_path, "f.jsonl", bom + text.encode(codec))
    chunks = read_all("jsonl", path)
    assert_single_complete(chunks)
    rows = rows_of(chunks)
    assert [r.data for r in rows] == [{"t": "caf\u00e9"}, {"t": "\u65e5\u672c"}, None]
    assert [r.reason for r in rows] == [None, None, Reason.NOT_AN_OBJECT]


def test_jsonl_utf16_without_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", '{"t": "one"}\n{"t": "two"}\n'.encode("utf-16-le"))
    assert data_of(read_all("jsonl", path)) == [{"t": "one"}, {"t": "two"}]


def test_jsonl_declared_latin1(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", '{"t": "\u00a3 5"}\n'.encode("latin-1"))
    assert data_of(read_all("jsonl", path, encoding="latin-1")) == [{"t": "\u00a3 5"}]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   "])
def test_jsonl_empty_file(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "f.jsonl", content)
    chunks = read_all("jsonl", path)
    assert len(chunks) == 1
    assert chunks[0].rows == []
    assert chunks[0].complete is True
    assert chunks[0].end_position == len(content)


def ten_lines() -> bytes:
    return b"".join(json.dumps({"n": i, "t": f"row {i}"}).encode() + b"\n" for i in range(10))


def test_jsonl_batching(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", ten_lines())
    chunks = read_all("jsonl", path, batch_size=3)
    assert [len(c.rows) for c in chunks] == [3, 3, 3, 1]
    assert sum(len(c.rows) for c in chunks) == 10
    assert_single_complete(chunks)
    assert [r["n"] for r in data_of(chunks)] == list(range(10))  # type: ignore[index]
    # chunks are contiguous
    for before, after in itertools.pairwise(chunks):
        assert after.start_position == before.end_position
        assert after.start_line == before.end_line


@pytest.mark.parametrize("middle", [0, 1, 2])
@pytest.mark.parametrize("prefix", [b"", codecs.BOM_UTF8], ids=["plain", "bom"])
def test_jsonl_resume_from_middle_chunk(tmp_path: Path, middle: int, prefix: bytes) -> None:
    content = prefix + ten_lines().replace(b'{"n": 4', b'\n{"n": 4')
    path = write(tmp_path, "f.jsonl", content)
    full = read_all("jsonl", path, batch_size=3)
    chunk = full[middle]
    resumed = read_all("jsonl", path, batch_size=3, start_position=chunk.end_position, start_line=chunk.end_line)
    already = sum(len(c.rows) for c in full[: middle + 1])
    expected = rows_of(full)[already:]
    assert data_of(resumed) == [r.data for r in expected]
    assert [r.line for r in rows_of(resumed)] == [r.line for r in expected]
    assert [r.position for r in rows_of(resumed)] == [r.position for r in expected]
    assert resumed[-1].complete


def test_jsonl_resume_at_end_reads_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", ten_lines())
    last = read_all("jsonl", path)[-1]
    again = read_all("jsonl", path, start_position=last.end_position, start_line=last.end_line)
    assert rows_of(again) == []
    assert again[-1].complete


def test_jsonl_resume_after_append(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", b'{"a": 1}\n')
    last = read_all("jsonl", path)[-1]
    with path.open("ab") as handle:
        handle.write(b'{"a": 2}\n')
    again = read_all("jsonl", path, start_position=last.end_position, start_line=last.end_line)
    assert [(r.line, r.data) for r in rows_of(again)] == [(2, {"a": 2})]


def test_utf16_jsonl_resume_by_line(tmp_path: Path) -> None:
    text = "".join(f'{{"n": {i}}}\n' for i in range(7))
    path = write(tmp_path, "f.jsonl", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    full = read_all("jsonl", path, batch_size=3)
    assert sum(len(c.rows) for c in full) == 7
    assert_single_complete(full)
    chunk = full[0]
    resumed = read_all("jsonl", path, batch_size=3, start_position=chunk.end_position, start_line=chunk.end_line)
    assert data_of(resumed) == [{"n": i} for i in range(3, 7)]


# -- CSV --------------------------------------------------------------------------------------


def test_csv_header_and_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b"id, text ,n\n1,hello,12\n2,world,13\n")
    chunks = read_all("csv", path)
    assert_single_complete(chunks)
    rows = rows_of(chunks)
    assert [r.data for r in rows] == [
        {"id": "1", "text": "hello", "n": "12"},
        {"id": "2", "text": "world", "n": "13"},
    ]
    assert [r.line for r in rows] == [2, 3]
    assert [r.position for r in rows] == [len(b"id, text ,n\n"), len(b"id, text ,n\n1,hello,12\n")]


def test_csv_crlf_and_no_final_newline(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b"a,b\r\n1,2\r\n3,4")
    assert data_of(read_all("csv", path)) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


def test_csv_ragged_row(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b"a,b,c\n1,2\n4,5,6,7\n8,9,10\n")
    rows = rows_of(read_all("csv", path))
    assert [r.reason for r in rows] == [Reason.RAGGED_ROW, Reason.RAGGED_ROW, None]
    assert rows[0].raw == b"1,2\n"
    assert rows[2].data == {"a": "8", "b": "9", "c": "10"}


def test_csv_bad_quoting_then_good_row(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b'a,b,c\n1,2,3\n3,"x"y,4\n5,6,7\n')
    rows = rows_of(read_all("csv", path))
    assert [r.reason for r in rows] == [None, Reason.BAD_QUOTING, None]
    assert rows[1].data is None
    assert rows[1].raw == b'3,"x"y,4\n'
    assert rows[0].data == {"a": "1", "b": "2", "c": "3"}
    assert rows[2].data == {"a": "5", "b": "6", "c": "7"}


def test_csv_embedded_newline_is_one_row(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b'id,text\n1,"line one\nline two"\n2,plain\n')
    rows = rows_of(read_all("csv", path))
    assert [r.data for r in rows] == [{"id": "1", "text": "line one\nline two"}, {"id": "2", "text": "plain"}]
    assert [r.line for r in rows] == [2, 3]


def test_csv_invalid_utf8_row(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b"a,b\n1,ok\n2,caf\xe9\n3,fine\n")
    rows = rows_of(read_all("csv", path))
    assert [r.reason for r in rows] == [None, Reason.INVALID_ENCODING, None]
    assert rows[1].raw == b"2,caf\xe9\n"
    assert rows[2].data == {"a": "3", "b": "fine"}


def test_csv_declared_latin1(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "item,price\ntea,\u00a32\n".encode("latin-1"))
    rows = rows_of(read_all("csv", path, encoding="latin-1"))
    assert [r.data for r in rows] == [{"item": "tea", "price": "\u00a32"}]


def test_csv_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", codecs.BOM_UTF8 + b"id,text\n1,x\n")
    assert data_of(read_all("csv", path)) == [{"id": "1", "text": "x"}]


def test_csv_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", codecs.BOM_UTF16_LE + "id,text\n1,caf\u00e9\n2,b\n".encode("utf-16-le"))
    assert data_of(read_all("csv", path)) == [{"id": "1", "text": "caf\u00e9"}, {"id": "2", "text": "b"}]


def test_csv_delimiter_and_quotechar(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", b"a;b\n'x;y';2\n")
    assert data_of(read_all("csv", path, delimiter=";", quotechar="'")) == [{"a": "x;y", "b": "2"}]


@pytest.mark.parametrize("content", [b"", b"a,b\n"])
def test_csv_empty_or_header_only(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "f.csv", content)
    chunks = read_all("csv", path)
    assert rows_of(chunks) == []
    assert chunks[-1].complete


def csv_content(n: int) -> bytes:
    """A CSV of ``n`` rows; row 4 has a quoted line break."""
    lines = [f'{i},"row\n{i}"\n' if i == 4 else f"{i},row {i}\n" for i in range(n)]
    return ("id,text\n" + "".join(lines)).encode()


def test_csv_batching(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", csv_content(10))
    chunks = read_all("csv", path, batch_size=3)
    assert sum(len(c.rows) for c in chunks) == 10
    assert all(len(c.rows) <= 3 for c in chunks)
    assert_single_complete(chunks)
    assert [d["id"] for d in data_of(chunks)] == [str(i) for i in range(10)]  # type: ignore[index]


@pytest.mark.parametrize("middle", [0, 1, 2])
def test_csv_resume_from_middle_chunk(tmp_path: Path, middle: int) -> None:
    path = write(tmp_path, "f.csv", csv_content(10))
    full = read_all("csv", path, batch_size=3)
    chunk = full[middle]
    resumed = read_all("csv", path, batch_size=3, start_position=chunk.end_position, start_line=chunk.end_line)
    already = sum(len(c.rows) for c in full[: middle + 1])
    expected = rows_of(full)[already:]
    assert data_of(resumed) == [r.data for r in expected]
    assert [r.line for r in rows_of(resumed)] == [r.line for r in expected]
    assert resumed[-1].complete


# -- Parquet ----------------------------------------------------------------------------------


def write_parquet(path: Path, n: int) -> list[dict[str, Any]]:
    records = [{"id": f"r{i}", "n": i, "text": f"t\u00e9xt {i}", "ok": i % 2 == 0} for i in range(n)]
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=4)
    return records


def test_parquet_rows(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    records = write_parquet(path, 10)
    chunks = read_all("parquet", path, batch_size=3)
    assert data_of(chunks) == records
    assert [r.line for r in rows_of(chunks)] == list(range(1, 11))
    assert all(r.reason is None for r in rows_of(chunks))
    assert_single_complete(chunks)
    assert all(len(c.rows) <= 3 for c in chunks)


@pytest.mark.parametrize("start_line", [0, 3, 4, 5, 9, 10])
def test_parquet_resume_by_start_line(tmp_path: Path, start_line: int) -> None:
    path = tmp_path / "f.parquet"
    records = write_parquet(path, 10)
    chunks = read_all("parquet", path, batch_size=3, start_line=start_line)
    assert data_of(chunks) == records[start_line:]
    assert [r.line for r in rows_of(chunks)] == list(range(start_line + 1, 11))


def test_parquet_resume_from_middle_chunk(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    records = write_parquet(path, 10)
    full = read_all("parquet", path, batch_size=3)
    chunk = next(c for c in full if c.rows)
    resumed = read_all("parquet", path, batch_size=3, start_position=chunk.end_position, start_line=chunk.end_line)
    assert data_of(resumed) == records[len(chunk.rows) :]


def test_parquet_corrupt_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.parquet", b"this is not parquet at all")
    chunks = read_all("parquet", path)
    rows = rows_of(chunks)
    assert len(rows) == 1
    assert rows[0].reason is Reason.UNREADABLE_FILE
    assert rows[0].data is None
    assert rows[0].raw == b"this is not parquet at all"
    assert chunks[-1].complete


# -- text documents ---------------------------------------------------------------------------


def test_read_text_document_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "doc.txt", "Caf\u00e9 news\nline two\n".encode())
    text, bad = read_text_document(path, "sport/doc.txt", "auto")
    assert bad is None
    assert text == "Caf\u00e9 news\nline two\n"


def test_read_text_document_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "doc.txt", codecs.BOM_UTF16_LE + "hi \u00e9".encode("utf-16-le"))
    assert read_text_document(path, "doc.txt", "auto") == ("hi \u00e9", None)


def test_read_text_document_declared_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "doc.txt", "\u00a310".encode("latin-1"))
    assert read_text_document(path, "doc.txt", "latin-1") == ("\u00a310", None)


def test_read_text_document_invalid_utf8(tmp_path: Path) -> None:
    content = b"caf\xe9 \xff"
    path = write(tmp_path, "doc.txt", content)
    text, bad = read_text_document(path, "tech/doc.txt", "auto")
    assert text is None
    assert bad is not None
    assert bad.reason is Reason.INVALID_ENCODING
    assert bad.key == "tech/doc.txt"
    assert bad.raw == content
    assert "tech/doc.txt" in (bad.message or "")


def test_read_text_document_missing_file(tmp_path: Path) -> None:
    text, bad = read_text_document(tmp_path / "nope.txt", "nope.txt", "auto")
    assert text is None
    assert bad is not None
    assert bad.reason is Reason.UNREADABLE_FILE
