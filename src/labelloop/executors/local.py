"""Local executors: run a producer of batches in this process, or in a helper process.

The single writer of a store (SQLite allows one) should never wait for parsing.
:func:`stream` runs a *producer* - a module-level generator function yielding
tuples that may hold ``pyarrow.Table`` objects - either here, or in a helper
process that computes the next batches while this one writes: on 2 cores this
overlaps the two halves of ingestion (measured in ``bench/ingest_bench.py``).
Tables travel as Arrow IPC buffers through a bounded queue, so memory stays
flat however large the input.

Stages hold no hidden state, so a producer that builds its stages from
picklable parameters gives the same result in either place.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from labelloop.errors import StageExecutionError

__all__ = ["stream"]

QUEUE_DEPTH = 2
Producer = Callable[..., Iterator[tuple[Any, ...]]]


class _Ipc:
    """A table in flight: Arrow IPC stream bytes."""

    def __init__(self, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        self.data = bytes(sink.getvalue())

    def table(self) -> pa.Table:
        return pa.ipc.open_stream(pa.py_buffer(self.data)).read_all()


def _pack(item: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_Ipc(x) if isinstance(x, pa.Table) else x for x in item)


def _unpack(item: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(x.table() if isinstance(x, _Ipc) else x for x in item)


def _run_producer(producer: Producer, args: tuple[Any, ...], out: Any, parent: int) -> None:  # pragma: no cover
    """Body of the helper process (coverage does not follow spawned processes)."""

    def put(message: tuple[Any, ...]) -> bool:
        while True:
            if os.getppid() != parent:  # the writer died (e.g. kill -9): stop, leave nothing behind
                return False
            try:
                out.put(message, timeout=1.0)
                return True
            except queue.Full:
                continue

    try:
        for item in producer(*args):
            if not put(("item", _pack(item))):
                return
        put(("done",))
    except BaseException as exc:
        put(("error", f"{type(exc).__name__}: {exc}"))


def _in_helper(producer: Producer, args: tuple[Any, ...], what: str) -> Iterator[tuple[Any, ...]]:
    ctx = mp.get_context("spawn")  # not fork: pyarrow's thread pools do not survive a fork
    channel = ctx.Queue(maxsize=QUEUE_DEPTH)
    helper = ctx.Process(
        target=_run_producer, args=(producer, args, channel, os.getpid()), daemon=True, name="labelloop-reader"
    )
    helper.start()
    try:
        while True:
            try:
                message = channel.get(timeout=1.0)
            except queue.Empty:
                if not helper.is_alive():
                    raise StageExecutionError(
                        f"the helper process for {what} stopped (exit code {helper.exitcode})", stage=what
                    ) from None
                continue
            if message[0] == "done":
                return
            if message[0] == "error":
                raise StageExecutionError(f"{what} failed: {message[1]}", stage=what)
            yield _unpack(message[1])
    finally:
        if helper.is_alive():
            helper.terminate()
        helper.join(timeout=5)
        channel.close()


def stream(producer: Producer, *args: Any, parallel: bool = False, what: str = "reading") -> Iterator[tuple[Any, ...]]:
    """The items of ``producer(*args)``, in order; computed in a helper process when ``parallel``.

    ``producer`` must be a module-level function (the helper imports it) and its
    arguments picklable. An error in the helper is raised here as a
    :class:`StageExecutionError` naming ``what``.
    """
    if parallel and (os.cpu_count() or 1) > 1:
        return _in_helper(producer, args, what)
    return producer(*args)
