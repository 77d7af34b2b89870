"""JSON of whole Arrow columns: written byte for byte as ``orjson.dumps`` writes each row's values, and read.

A JSON Lines export writes every row as the JSON object of its columns; building a dict per row
and dumping it was 13 s of a 1M-row export. Here a page's lines are built a column at a time
(and the manifest's lines the same way), and a page's text fields are read out of its payloads by
Arrow's JSON reader (:func:`json_string_field`). No I/O.

Strings are escaped by orjson itself, a whole column in one call: ``orjson.dumps(["a", "b", ""])``
is ``["a","b",""]``, and the three bytes ``","`` stand between every two values. Cutting there
gives every value as orjson writes it, with its comma, as one Arrow array over the same bytes
(the trailing ``""`` gives the last value its comma). A value can hold those bytes too (``","``
itself, or ``x",`` escaped as ``x\\",``), which makes more cuts than values: such a column is
then dumped one value at a time. Integers are Arrow's decimal text, floats are formatted by orjson
once per distinct value, missing values are ``null``. Arrow's own string kernels were measured
slower here: replacing ``"`` in 150 MB of JSON payloads took 0.9 s, against 0.1 s for orjson and
the cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

__all__ = ["concatenated", "json_object_rows", "json_string_field", "json_values"]

Column: TypeAlias = pa.Array | pa.ChunkedArray


def _array(values: Column) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _strings(values: pa.Array, comma: bool) -> pa.Array:
    texts = (pc.fill_null(values, "") if values.null_count else values).to_pylist()
    texts.append("")
    dumped = orjson.dumps(texts)
    data = np.frombuffer(dumped, dtype=np.uint8)
    cuts = np.flatnonzero((data[:-2] == 0x22) & (data[1:-1] == 0x2C) & (data[2:] == 0x22))
    if len(cuts) == len(values) and len(dumped) < 1 << 31:
        offsets = np.empty(len(values) + 1, dtype=np.int32)
        offsets[0] = 1
        offsets[1:] = cuts + 2
        encoded = pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(dumped))
        if not comma:
            encoded = pc.binary_slice(encoded.view(pa.binary()), 0, -1).view(pa.string())
    else:  # a value that holds the cut itself (see the module's doc): one value at a time
        end = b"," if comma else b""
        encoded = pa.array([orjson.dumps(text) + end for text in texts[:-1]], type=pa.binary()).cast(pa.string())
    if values.null_count:
        encoded = pc.if_else(pc.is_null(values), "null," if comma else "null", encoded)
    return encoded


def _floats(values: pa.Array) -> pa.Array:
    coded = values.dictionary_encode()
    texts = pa.array([orjson.dumps(v).decode() for v in coded.dictionary.to_pylist()], type=pa.string())
    return pc.take(texts, coded.indices)


def json_values(values: Column, *, comma: bool = False) -> pa.Array:
    """Each value's JSON text, as ``orjson.dumps(value)``, followed by ``,`` when ``comma``.

    Takes string, integer, float, boolean and null arrays; missing values become ``null``.

    >>> json_values(pa.array(['say "hi"', None])).to_pylist()
    ['"say \\\\"hi\\\\""', 'null']
    >>> json_values(pa.array([1, None]), comma=True).to_pylist()
    ['1,', 'null,']
    """
    values = _array(values)
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _strings(values, comma)
    if pa.types.is_integer(kind):
        encoded = pc.cast(values, pa.string())
    elif pa.types.is_floating(kind):
        encoded = _floats(values)
    elif pa.types.is_boolean(kind):
        encoded = pc.if_else(values, "true", "false")
    elif pa.types.is_null(kind):
        encoded = pa.nulls(len(values), type=pa.string())
    else:
        raise TypeError(f"no JSON encoding for Arrow type {kind}")
    encoded = pc.fill_null(encoded, "null")
    return pc.binary_join_element_wise(encoded, ",", "") if comma else encoded


def json_object_rows(
    columns: Sequence[tuple[str, Column]], *, raw: frozenset[str] = frozenset(), end: str = ""
) -> pa.Array:
    """Each row's JSON object ``{name: value, ...}`` in the given order, as ``orjson.dumps(dict)``, then ``end``.

    Columns named in ``raw`` hold JSON text already and go in as they are (orjson's ``Fragment``).
    """
    if not columns:
        raise ValueError("at least one column")
    pieces: list[str | pa.Array] = []
    last = len(columns) - 1
    for i, (name, values) in enumerate(columns):
        pieces.append(("{" if i == 0 else "") + orjson.dumps(name).decode() + ":")
        if name in raw:
            text = pc.fill_null(_array(values), "null")
            pieces.append(text if i == last else pc.binary_join_element_wise(text, ",", ""))
        else:
            pieces.append(json_values(values, comma=i != last))
    pieces.append("}" + end)
    return pc.binary_join_element_wise(*pieces, "")


def _bounds(values: pa.Array) -> tuple[list[int], memoryview]:
    """A string or binary array's value bounds (one more than values) and its data buffer."""
    if values.null_count:
        raise ValueError("no nulls allowed here")
    if pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type):
        width: type[np.integer] = np.int64
    elif pa.types.is_string(values.type) or pa.types.is_binary(values.type):
        width = np.int32
    else:
        raise TypeError(f"not a string array: {values.type}")
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=width)[values.offset : values.offset + len(values) + 1]
    data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")
    return offsets.tolist(), data


def concatenated(values: Column) -> memoryview:
    """The bytes of every value of a string array, back to back (no copy for one chunk)."""
    values = _array(values)
    if len(values) == 0:
        return memoryview(b"")
    bounds, data = _bounds(values)
    return data[bounds[0] : bounds[-1]]


def json_string_field(values: Column, name: str) -> pa.Array:
    """The string under the top-level key ``name`` of each JSON object text; None where the text is
    missing, the key is absent or its value is not a string.

    Arrow's JSON reader takes a whole page at once; a page it cannot take (a value under ``name``
    that is not a string, the key twice in one object, a line break between tokens, a text that is
    not JSON) is read one value at a time with orjson (an unreadable text gives None).

    >>> json_string_field(pa.array(['{"text": "a"}', '{"text": 5}', None]), "text").to_pylist()
    ['a', None, None]
    """
    values = _array(values)
    if len(values) == 0:
        return pa.array([], type=pa.string())
    texts = pc.fill_null(values, "{}") if values.null_count else values
    # One object a line: a line break between the tokens of a text makes lines that do not parse or
    # more rows than texts (JSON strings hold no raw line break), and the slow way then.
    block = concatenated(pc.binary_join_element_wise(texts, "\n", ""))
    try:
        table = pajson.read_json(
            pa.BufferReader(block),
            read_options=pajson.ReadOptions(use_threads=False, block_size=len(block) + 1),
            parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema([(name, pa.string())]), unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = None
    if table is not None and table.num_rows == len(values):
        return table.column(0).combine_chunks()
    found: list[str | None] = []
    for text in values.to_pylist():
        try:
            parsed = orjson.loads(text) if text is not None else None
        except orjson.JSONDecodeError:
            parsed = None
        value = parsed.get(name) if isinstance(parsed, dict) else None
        found.append(value if isinstance(value, str) else None)
    return pa.array(found, type=pa.string())
