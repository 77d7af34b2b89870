"""Fast conversions of Arrow columns to Python values (pure, no I/O)."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["fixed_binary_list"]


def fixed_binary_list(column: pa.ChunkedArray | pa.Array) -> list[bytes]:
    """The values of a non-null fixed-size binary column as bytes, sliced from its buffer.

    ``to_pylist`` took 0.68 us a value here, slicing one bytes object 0.1 us.
    """
    out: list[bytes] = []
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if chunk.null_count:
            out.extend(chunk.to_pylist())
            continue
        width = chunk.type.byte_width
        data = chunk.buffers()[1].to_pybytes()
        start = chunk.offset * width
        out.extend(data[i : i + width] for i in range(start, start + len(chunk) * width, width))
    return out
