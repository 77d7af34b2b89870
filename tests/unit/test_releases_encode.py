"""Column-wise JSON: byte for byte what orjson writes row by row, on values chosen to break it."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.releases.encode import concatenated, json_object_rows, json_string_field, json_values
from labelloop.releases.manifest import ManifestHasher

NASTY = [
    "",
    "plain",
    '"',
    '","',
    '\\",\\"',
    "\\",
    "\\\\",
    'a","b',
    '","","',
    "ends with backslash \\",
    'quote at the end "',
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f",
    "\x7f del, é, 中文, emoji 🎉, \u2028 \u2029",
    '{"id": "r1", "text": "line one\\nline two", "nested": {"k": [1, 2, "3"]}}',
    "],[",
    ",",
    'x",',
    '\\",',
    "null",
    "  spaced  ",
]


def orjson_texts(values: list[Any]) -> list[str]:
    return [orjson.dumps(v).decode() for v in values]


@pytest.mark.parametrize("comma", [False, True])
def test_strings_are_escaped_exactly_as_orjson_does(comma: bool) -> None:
    values: list[str | None] = [*NASTY, None, *NASTY]
    encoded = json_values(pa.array(values, type=pa.string()), comma=comma).to_pylist()
    assert encoded == [t + ("," if comma else "") for t in orjson_texts(values)]
    # the same without the values that hold the bytes a column is cut at (the fast way)
    plain = [v for v in values if v is None or '",' not in orjson.dumps(v).decode()[:-1]]
    assert len(plain) < len(values)
    encoded = json_values(pa.array(plain, type=pa.string()), comma=comma).to_pylist()
    assert encoded == [t + ("," if comma else "") for t in orjson_texts(plain)]


def test_numbers_and_missing_values() -> None:
    ints = [0, -1, 2**62, None, 7]
    assert json_values(pa.array(ints, type=pa.int64())).to_pylist() == orjson_texts(ints)
    assert json_values(pa.array([1, None], type=pa.int32()), comma=True).to_pylist() == ["1,", "null,"]
    floats = [0.1, 2 / 3, 1.0, 1e-5, 1e20, -0.0, None, 0.1, 123456789.125]
    assert json_values(pa.array(floats, type=pa.float64())).to_pylist() == orjson_texts(floats)
    assert json_values(pa.array([True, None, False])).to_pylist() == ["true", "null", "false"]
    assert json_values(pa.nulls(2)).to_pylist() == ["null", "null"]
    with pytest.raises(TypeError):
        json_values(pa.array([[1]]))


def test_rows_are_what_orjson_writes_for_a_dict() -> None:
    rows = [(i, NASTY[i % len(NASTY)], None if i % 3 else f"x{i}", i / 7) for i in range(40)]
    columns = [
        pa.array([r[0] for r in rows], type=pa.int64()),
        pa.array([r[1] for r in rows], type=pa.string()),
        pa.array([r[2] for r in rows], type=pa.string()),
        pa.array([r[3] for r in rows], type=pa.float64()),
    ]
    ids = pa.array([f"[{i},{i + 1}]" for i in range(40)], type=pa.string())
    names = ["id", "text", 'odd "name"', "ratio", "ids"]
    lines = json_object_rows(list(zip(names, [*columns, ids], strict=True)), raw=frozenset({"ids"}), end="\n")
    expected = b"".join(
        orjson.dumps({**dict(zip(names, r, strict=False)), "ids": orjson.Fragment(f"[{r[0]},{r[0] + 1}]")}) + b"\n"
        for r in rows
    )
    assert bytes(concatenated(lines)) == expected
    # a slice of a column keeps its own values
    assert json_values(columns[1].slice(5, 3)).to_pylist() == orjson_texts([r[1] for r in rows[5:8]])
    assert bytes(concatenated(lines.slice(1, 2))) == b"".join(expected.splitlines(keepends=True)[1:3])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=30))
def test_any_text_survives(values: list[str | None]) -> None:
    column = pa.array(values, type=pa.string())
    assert json_values(column).to_pylist() == orjson_texts(values)
    lines = json_object_rows([("v", column)], end="\n")
    assert bytes(concatenated(lines)) == b"".join(orjson.dumps({"v": v}) + b"\n" for v in values)


def test_empty_columns() -> None:
    assert json_values(pa.array([], type=pa.string())).to_pylist() == []
    assert bytes(concatenated(pa.array([], type=pa.string()))) == b""


def test_the_manifest_takes_a_page_of_arrays_as_it_takes_rows() -> None:
    ids, digests = list(range(3, 300, 7)), [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3, 300, 7)]
    by_row, by_page = ManifestHasher({"p": 1}), ManifestHasher({"p": 1})
    for rid, digest in zip(ids, digests, strict=True):
        by_row.add(rid, digest)
    by_page.add_arrays(pa.array(ids[:10], type=pa.int64()), pa.array(digests[:10]))
    by_page.add_arrays(pa.array(ids[10:], type=pa.int64()), pa.array(digests[10:]))
    assert by_page.hexdigest() == by_row.hexdigest() and by_page.rows == by_row.rows == len(ids)
    with pytest.raises(ValueError, match="ascend"):
        by_page.add_arrays(pa.array([1000, 999], type=pa.int64()), pa.array(["a", "b"]))
    with pytest.raises(ValueError, match="ascend"):
        by_page.add_arrays(pa.array([5], type=pa.int64()), pa.array(["a"]))


def test_a_string_field_is_read_out_of_json_objects() -> None:
    read = [
        '{"text": "plain", "other": 1}',
        '{"text": "esc \\" \\\\ \\n \\u00e9 \\ud83c\\udf89"}',
        '{"nested": {"text": "not top level"}}',
        '{"text": null}',
        None,
        '{"text": ""}',
    ]
    expected = ["plain", 'esc " \\ \n é 🎉', None, None, None, ""]
    assert json_string_field(pa.array(read, type=pa.string()), "text").to_pylist() == expected
    # pages Arrow's reader refuses are read one by one, with the same answers
    for odd, answer in [
        ('{"text": 5}', None),
        ('{"text": ["a"]}', None),
        ('{\n  "text": "pretty"\n}', "pretty"),
        ('{"text": "first", "text": "last"}', "last"),
        ("not json", None),
    ]:
        assert json_string_field(pa.array([*read, odd], type=pa.string()), "text").to_pylist() == [*expected, answer]
    assert json_string_field(pa.array(['{"a b": "x"}'], type=pa.string()), "a b").to_pylist() == ["x"]
    assert json_string_field(pa.array([], type=pa.string()), "text").to_pylist() == []
