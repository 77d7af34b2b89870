"""Repository functions of releases: the release rows, the pages a release is cut from, exported and
diffed by. Each takes an open connection and never commits. Bulk reads go through the driver's
cursor (a SQLAlchemy row object per row was most of an export's time) and page by keyset; an
export reads Arrow batches (:func:`export_pages`)."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, func, insert, select, update

from labelloop.errors import StorageError
from labelloop.store.repo import driver_cursor
from labelloop.store.tables import ingest_batches, release_rows, releases

__all__ = [
    "ERASED_STATUSES",
    "EXPORT_SCHEMA",
    "LIVE_STATUSES",
    "ROW_COLUMNS",
    "ExportPage",
    "add_release",
    "add_release_rows",
    "analyze_rows",
    "batch_lineage",
    "diff_page",
    "export_page",
    "export_pages",
    "finish_release",
    "get_release",
    "label_page",
    "list_releases",
    "moved_into_train",
    "release_row",
    "release_splits",
    "releases_of_record",
]

#: The columns of ``release_rows`` in the order :func:`add_release_rows` takes them.
ROW_COLUMNS = (
    "release_id", "record_id", "split", "label", "labels", "aggregation", "schema_version", "row_sha256", "method",
    "confidence", "annotation_ids", "selection",
)  # fmt: skip

#: Records a release may hold (not deleted, withdrawn, held or quarantined).
LIVE_STATUSES = ("accepted", "duplicate", "near_duplicate")
#: Statuses of a released record whose content was erased since (an export leaves its row out).
ERASED_STATUSES = ("deleted",)


def _mark(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


def _fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cursor = driver_cursor(conn)
    try:
        cursor.execute(sql.replace("?", _mark(conn)), tuple(params))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def get_release(conn: Connection, project_id: int, name: str) -> dict[str, Any] | None:
    """The release ``name`` of the project, or None."""
    row = (
        conn.execute(select(releases).where(releases.c.project_id == project_id, releases.c.name == name))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def list_releases(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's releases, oldest first."""
    stmt = select(releases).where(releases.c.project_id == project_id).order_by(releases.c.id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def add_release(conn: Connection, **values: Any) -> int:
    """Insert a release row; returns its id."""
    return int(conn.execute(insert(releases).values(**values).returning(releases.c.id)).scalar_one())


def add_release_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert release rows given as tuples in :data:`ROW_COLUMNS` order (COPY on PostgreSQL)."""
    if not rows:
        return
    cursor = driver_cursor(conn)
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY release_rows ({', '.join(ROW_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["?"] * len(ROW_COLUMNS))
        cursor.executemany(f"INSERT INTO release_rows ({', '.join(ROW_COLUMNS)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


_LABEL_SQL = (
    "SELECT fl.record_id, fl.task_id, fl.question, fl.value, fl.method, fl.confidence, fl.annotation_ids, "
    "fl.schema_version, fl.run_id, r.external_id, r.payload, r.blob_ref, r.source_id, r.source_key, r.batch_id, "
    "t.selection "
    "FROM final_labels fl JOIN tasks t ON t.id = fl.task_id JOIN records r ON r.id = fl.record_id "
    "WHERE fl.project_id = ? AND fl.record_id > ? AND t.state = 'complete' "
    f"AND r.status IN ({', '.join(repr(s) for s in LIVE_STATUSES)}) "
    "ORDER BY fl.record_id, fl.task_id, fl.question LIMIT ?"
)


def label_page(conn: Connection, project_id: int, *, after: int, limit: int) -> list[tuple[Any, ...]]:
    """Final labels of complete tasks of live records after record ``after``, by record, task, question.

    Each: record_id, task_id, question, value, method, confidence, annotation_ids, schema_version,
    run_id, external_id, payload, blob_ref, source_id, source_key, batch_id, selection (the task's). A page
    may end inside
    a record: the caller drops the last record of a full page and starts the next page before it.
    """
    return _fetch(conn, _LABEL_SQL, (project_id, after, limit))


def batch_lineage(conn: Connection, batch_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """Batch id -> (ingest run id, stages JSON text) for ``batch_ids``."""
    found: dict[int, tuple[int, str]] = {}
    ids = sorted(set(batch_ids))
    for start in range(0, len(ids), 500):
        stmt = select(ingest_batches.c.id, ingest_batches.c.run_id, ingest_batches.c.stages).where(
            ingest_batches.c.id.in_(ids[start : start + 500])
        )
        for row in conn.execute(stmt):
            found[int(row[0])] = (int(row[1]), str(row[2]))
    return found


#: The columns of an export page (:func:`export_page`, :func:`export_pages`): the hashed ones first, in
#: ``releases.manifest.HASHED_COLUMNS`` order, then the row hash, the derived columns kept in the release
#: and what says whether the record is still there (``blob_ref``: its payload is in the blob store;
#: ``status``: None when its row is gone). The record's text field is not read here: Arrow reads it out
#: of a page's payloads at once (in SQL it cost more than the rest of the row on PostgreSQL).
EXPORT_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("external_id", pa.string()),
        ("payload", pa.string()),
        ("split", pa.string()),
        ("labels", pa.string()),
        ("aggregation", pa.string()),
        ("source", pa.string()),
        ("source_key", pa.string()),
        ("ingest_run_id", pa.int64()),
        ("batch_id", pa.int64()),
        ("stages", pa.string()),
        ("schema_version", pa.int32()),
        ("row_sha256", pa.string()),
        ("label", pa.string()),
        ("method", pa.string()),
        ("confidence", pa.float64()),
        ("annotation_ids", pa.string()),
        ("blob_ref", pa.string()),
        ("selection", pa.string()),
        ("status", pa.string()),
    ]
)

_EXPORT_SELECT = (
    "SELECT rr.record_id, r.external_id, r.payload, rr.split, rr.labels, rr.aggregation, s.name, r.source_key, "
    "b.run_id, r.batch_id, b.stages, rr.schema_version, rr.row_sha256, rr.label, rr.method, rr.confidence, "
    "rr.annotation_ids, r.blob_ref, rr.selection, r.status "
    "FROM release_rows rr LEFT JOIN records r ON r.id = rr.record_id LEFT JOIN sources s ON s.id = r.source_id "
    "LEFT JOIN ingest_batches b ON b.id = r.batch_id "
)
_EXPORT_SQL = _EXPORT_SELECT + "WHERE rr.release_id = ? AND rr.record_id > ? ORDER BY rr.record_id LIMIT ?"
# PostgreSQL streams the whole release out of one ordered query, as CSV through COPY that Arrow's
# CSV reader parses: keyset pages of a four-table join were planned as a scan of the records per
# page (1M rows: 99 s), and a server-side cursor spent ~3 us a row turning values into Python objects.
_STREAM_SQL_PG = _EXPORT_SELECT + "WHERE rr.release_id = %s ORDER BY rr.record_id"
_EXPORT_CACHE_KIB = -4096  # SQLite's page cache while a release is exported (negative: KiB)
_CSV_PARSE = pacsv.ParseOptions(newlines_in_values=True)
# PostgreSQL's CSV: NULL is an empty unquoted field, an empty string is "".
_CSV_CONVERT = pacsv.ConvertOptions(
    column_types=EXPORT_SCHEMA, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
)


def _export_batch(rows: Sequence[tuple[Any, ...]]) -> pa.RecordBatch:
    """Driver rows in :data:`EXPORT_SCHEMA` order as one Arrow batch."""
    if not rows:
        return pa.RecordBatch.from_pylist([], schema=EXPORT_SCHEMA)
    try:
        by_column = zip(*rows, strict=True)
        columns = [pa.array(values, type=f.type) for values, f in zip(by_column, EXPORT_SCHEMA, strict=True)]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise StorageError(f"a release row holds a value of an unexpected type: {exc}") from exc
    return pa.RecordBatch.from_arrays(columns, schema=EXPORT_SCHEMA)


def export_page(conn: Connection, release_id: int, *, after: int, limit: int) -> pa.RecordBatch:
    """Rows of a release after record ``after`` with their records' data and lineage, as :data:`EXPORT_SCHEMA`.

    The record's columns are None when its row is gone.
    """
    return _export_batch(_fetch(conn, _EXPORT_SQL, (release_id, after, limit)))


class ExportPage(NamedTuple):
    """A page of an export: its rows as Arrow, and as the driver's tuples when the driver made them anyway."""

    batch: pa.RecordBatch
    rows: list[tuple[Any, ...]] | None


def export_pages(conn: Connection, release_id: int, *, page_size: int) -> Generator[ExportPage, None, None]:
    """Every row of a release (as :func:`export_page` gives them) in pages of ``page_size``, by record id.

    SQLite pages by keyset through its driver (``rows`` holds the driver's tuples); PostgreSQL
    streams one ordered query as CSV (``COPY ... TO STDOUT``) that Arrow parses a page at a time,
    without a Python object per value (``rows`` is None). Close the generator before the
    transaction ends.
    """
    if conn.dialect.name != "postgresql":
        # Each page is read once: the store's 32 MB page cache (for the working set of the other
        # queries) would only fill with pages never read again, a third of the export's memory.
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size={_EXPORT_CACHE_KIB}")
        try:
            after = 0
            while True:
                rows = _fetch(conn, _EXPORT_SQL, (release_id, after, page_size))
                if rows:
                    yield ExportPage(_export_batch(rows), rows)
                if len(rows) < page_size:
                    return
                after = int(rows[-1][0])
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
    raw: Any = conn.connection.dbapi_connection
    if raw is None:  # pragma: no cover - only after the connection was invalidated
        raise StorageError("the database connection was closed")
    cursor = raw.cursor()
    try:
        cursor.execute("SET LOCAL extra_float_digits = 1")  # floats as their shortest exact text (the default)
        with cursor.copy(f"COPY ({_STREAM_SQL_PG}) TO STDOUT WITH (FORMAT csv)", (release_id,)) as copy:
            lines: list[bytes] = []
            for line in copy:  # one row per message
                lines.append(bytes(line))
                if len(lines) == page_size:
                    yield ExportPage(_csv_batch(lines), None)
                    lines = []
            if lines:
                yield ExportPage(_csv_batch(lines), None)
    finally:
        cursor.close()


def _csv_batch(lines: list[bytes]) -> pa.RecordBatch:
    """Rows of PostgreSQL's CSV (one a line) as one Arrow batch of :data:`EXPORT_SCHEMA`."""
    block = b"".join(lines)
    read = pacsv.ReadOptions(
        column_names=EXPORT_SCHEMA.names, use_threads=False, block_size=max(len(block) + 1, 1 << 20)
    )
    table = pacsv.read_csv(
        pa.BufferReader(block), read_options=read, parse_options=_CSV_PARSE, convert_options=_CSV_CONVERT
    )
    if table.num_rows != len(lines):  # pragma: no cover - COPY sends one row per message
        raise StorageError(f"COPY sent {len(lines)} rows that parse as {table.num_rows}")
    return table.combine_chunks().to_batches()[0]


_SPLITS_SQL = (
    "SELECT rr.record_id, r.external_id, rr.split FROM release_rows rr LEFT JOIN records r ON r.id = rr.record_id "
    "WHERE rr.release_id = ? AND rr.record_id > ? ORDER BY rr.record_id LIMIT ?"
)


def release_splits(conn: Connection, release_id: int, page_size: int) -> Iterator[tuple[int, str | None, str]]:
    """Every row of a release as ``(record_id, external_id, split)``, by record id (external_id None once erased)."""
    after = 0
    while True:
        page = _fetch(conn, _SPLITS_SQL, (release_id, after, page_size))
        for r in page:
            yield int(r[0]), r[1], str(r[2])
        if len(page) < page_size:
            return
        after = int(page[-1][0])


_DIFF_SQL = (
    "SELECT rr.record_id, r.external_id, rr.label, rr.labels, rr.split "
    "FROM release_rows rr LEFT JOIN records r ON r.id = rr.record_id "
    "WHERE rr.release_id = ? AND rr.record_id > ? ORDER BY rr.record_id LIMIT ?"
)


def diff_page(conn: Connection, release_id: int, *, after: int, limit: int) -> list[tuple[Any, ...]]:
    """record_id, external_id, label, labels, split of a release's rows after ``after``."""
    return _fetch(conn, _DIFF_SQL, (release_id, after, limit))


def release_row(conn: Connection, release_id: int, record_id: int) -> dict[str, Any] | None:
    """One row of a release, or None."""
    row = (
        conn.execute(
            select(release_rows).where(release_rows.c.release_id == release_id, release_rows.c.record_id == record_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def releases_of_record(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    """Every release holding the record (oldest first): name, id, split, label, row hash, time."""
    stmt = (
        select(
            releases.c.id,
            releases.c.name,
            releases.c.created_at,
            releases.c.manifest_sha256,
            release_rows.c.split,
            release_rows.c.label,
            release_rows.c.labels,
            release_rows.c.row_sha256,
        )
        .join(releases, releases.c.id == release_rows.c.release_id)
        .where(release_rows.c.record_id == record_id)
        .order_by(releases.c.id)
    )
    return [
        {
            "kind": "released",
            "release_id": int(r.id),
            "release": r.name,
            "at": r.created_at,
            "manifest_sha256": r.manifest_sha256,
            "split": r.split,
            "label": r.label,
            "labels": orjson.loads(r.labels),
            "row_sha256": r.row_sha256,
        }
        for r in conn.execute(stmt)
    ]


def moved_into_train(conn: Connection, new_release: int, old_release: int) -> int:
    """Records in ``old_release``'s validation or test split that ``new_release`` puts in train."""
    new, old = release_rows.alias("n"), release_rows.alias("o")
    stmt = (
        select(func.count())
        .select_from(new.join(old, old.c.record_id == new.c.record_id))
        .where(
            new.c.release_id == new_release,
            old.c.release_id == old_release,
            new.c.split == "train",
            old.c.split != "train",
        )
    )
    return int(conn.execute(stmt).scalar_one())


def analyze_rows(conn: Connection) -> None:
    """Refresh the planner's statistics of ``release_rows`` after a release was added (PostgreSQL only).

    Without them the planner took a new release for a few rows and exported a million of them
    through a parallel hash join and a sort spilled to disk; with them it reads them in order.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE release_rows")


def finish_release(conn: Connection, release_id: int, **values: Any) -> None:
    """Set the manifest hash, row count and summary of a release being cut (same transaction)."""
    conn.execute(update(releases).where(releases.c.id == release_id).values(**values))
