"""Reading one file from its cursor into normalized batches (runs in any process)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from labelloop.config import StagesSpec
from labelloop.domain.records import RecordShape
from labelloop.executors.local import stream
from labelloop.ingest.sources import Chunk, read_file
from labelloop.stages.chain import PreStoreChain
from labelloop.stages.normalize import NormalizeResult, NormalizeStage

__all__ = ["PROCESS_THRESHOLD_BYTES", "FileJob", "normalized_chunks"]

#: Below this many unread bytes a helper process costs more (its start-up) than it saves.
PROCESS_THRESHOLD_BYTES = 32 << 20


@dataclass(frozen=True)
class FileJob:
    """Everything needed to read and normalize one file from its cursor (picklable)."""

    kind: str
    path: Path
    key: str
    start_position: int
    start_line: int
    batch_size: int
    encoding: str
    delimiter: str
    quotechar: str
    shape: RecordShape
    stages: StagesSpec | None = None
    hmac_key: bytes | None = None


def chained(result: NormalizeResult, chain: PreStoreChain) -> NormalizeResult:
    """``result`` after (more of) the content stages: counts, drop events and stage counts add up."""
    out = chain.process(result.kept, result.rejected, result.records)
    counts = dict(result.counts)
    for key, value in out.counts.items():
        counts[key] = counts.get(key, 0) + value
    stages = {**result.stages, **out.stages}
    return NormalizeResult(out.kept, out.rejected, counts, result.dropped + out.dropped, stages, chained=True)


Produced = tuple[Chunk, pa.Table, pa.Table, dict[str, int], list[dict[str, Any]], dict[str, dict[str, Any]]]


def produce(job: FileJob) -> Iterator[Produced]:
    """Read ``job``'s file, normalize each chunk and run the content stages; the rows are not passed on."""
    stage = NormalizeStage(job.shape)
    chain = PreStoreChain(job.shape, job.stages or StagesSpec(), job.hmac_key)
    chunks = read_file(
        job.kind,
        job.path,
        job.key,
        start_position=job.start_position,
        start_line=job.start_line,
        batch_size=job.batch_size,
        encoding=job.encoding,
        delimiter=job.delimiter,
        quotechar=job.quotechar,
    )
    for chunk in chunks:
        result = chained(stage.process_rows(chunk.rows, line_keys=True), chain)
        yield replace(chunk, rows=[]), result.kept, result.rejected, result.counts, result.dropped, result.stages


def normalized_chunks(job: FileJob, *, parallel: bool | None = None) -> Iterator[tuple[Chunk, NormalizeResult]]:
    """Chunks of ``job``'s file with their normalized batches, in file order.

    ``parallel=None`` reads in a helper process when more than
    :data:`PROCESS_THRESHOLD_BYTES` remain to be read.
    """
    if parallel is None:
        try:
            remaining = job.path.stat().st_size - job.start_position
        except OSError:
            remaining = 0
        parallel = remaining >= PROCESS_THRESHOLD_BYTES
    for chunk, kept, rejected, counts, dropped, stages in stream(
        produce, job, parallel=parallel, what=f"reading {job.key}"
    ):
        yield chunk, NormalizeResult(kept, rejected, counts, dropped, stages, chained=True)
