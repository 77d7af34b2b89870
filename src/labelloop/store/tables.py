"""The relational schema, the same on SQLite and PostgreSQL.

Hot tables hold ids, hashes, statuses and small columns; times are float epoch
seconds. Records are immutable once written apart from their ``status``;
lineage events are append-only. Migrations in ``store/migrations`` create
exactly this schema (a test checks they agree).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "annotation_table",
    "api_tokens",
    "audit_log",
    "consent_withdrawals",
    "content_keys",
    "counters",
    "drift_alerts",
    "final_labels",
    "gold_checks",
    "ingest_batches",
    "ingest_runs",
    "job_runs",
    "label_error_flags",
    "leases",
    "lineage_events",
    "metadata",
    "model_versions",
    "near_dup_index",
    "predictions",
    "projects",
    "quality_runs",
    "quarantine",
    "record_flags",
    "records",
    "release_rows",
    "releases",
    "reviews",
    "run_stats",
    "schema_versions",
    "skips",
    "source_cursors",
    "sources",
    "tasks",
    "users",
    "web_sessions",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")

projects = Table(
    "projects",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    # The validated labelloop.yaml, so one server can serve every project of its store.
    Column("config", Text, nullable=True),
)

sources = Table(
    "sources",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

source_cursors = Table(
    "source_cursors",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", Id, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("mtime_ns", BigInteger, nullable=False, server_default="0"),
    Column("head_len", Integer, nullable=False, server_default="0"),
    Column("head_sha256", String(64), nullable=True),
    Column("position", BigInteger, nullable=False, server_default="0"),
    Column("line_no", BigInteger, nullable=False, server_default="0"),
    Column("complete", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("source_id", "key"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("source_name", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("heartbeat_at", Float, nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("counts", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index(None, "project_id", "id"),
)

ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("run_id", Id, ForeignKey("ingest_runs.id"), nullable=False),
    Column("source_id", Id, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("cursor_key", Text, nullable=False),
    Column("start_position", BigInteger, nullable=False),
    Column("end_position", BigInteger, nullable=False),
    Column("start_line", BigInteger, nullable=False),
    Column("end_line", BigInteger, nullable=False),
    Column("first_record_id", BigInteger, nullable=True),
    Column("last_record_id", BigInteger, nullable=True),
    Column("counts", Text, nullable=False),
    Column("stages", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index(None, "run_id"),
)

records = Table(
    "records",
    metadata,
    # Ids are allocated in blocks by the bulk writer (a sequence on PostgreSQL, MAX+1 under
    # SQLite's write lock), so one batch needs no per-row RETURNING.
    Column("id", Id, Sequence("records_id_seq"), primary_key=True, autoincrement=False),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("source_id", Id, nullable=False),
    Column("batch_id", Id, nullable=True),
    Column("source_key", Text, nullable=False),
    Column("external_id", Text, nullable=True),
    Column("content_hash", LargeBinary(16), nullable=True),
    Column("subject_id", Text, nullable=True),
    Column("consent", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("duplicate_of", BigInteger, nullable=True),
    Column("payload", Text, nullable=True),
    Column("blob_ref", String(80), nullable=True),
    Column("event_time", Float, nullable=True),
    Column("ingested_at", Float, nullable=False),
    Column("reasons", Text, nullable=True),
    # Quality flags (JSON list of {code, by}) of a record stored despite them; see record_flags.
    Column("flags", Text, nullable=True),
    # Near-duplicates: Jaccard similarity of shingle sets with ``duplicate_of``.
    Column("similarity", Float, nullable=True),
    # Listing by the rare statuses; accepted rows are paged by primary key.
    Index(
        "ix_records_project_status",
        "project_id",
        "status",
        "id",
        sqlite_where=text("status <> 'accepted'"),
        postgresql_where=text("status <> 'accepted'"),
    ),
    # A data subject's records (consent withdrawal, erasure); most rows have none.
    Index(
        "ix_records_project_subject",
        "project_id",
        "subject_id",
        sqlite_where=text("subject_id IS NOT NULL"),
        postgresql_where=text("subject_id IS NOT NULL"),
    ),
)

# The persisted LSH index of near-duplicate detection: the band keys of every cluster
# root (a record that is no near-duplicate), loaded into memory by a writer and kept
# current by reading rows with a higher record id.
near_dup_index = Table(
    "near_dup_index",
    metadata,
    Column("record_id", Id, primary_key=True, autoincrement=False),
    Column("project_id", Id, nullable=False),
    Column("params", String(64), nullable=False),
    Column("band_keys", LargeBinary, nullable=False),
    Index(None, "project_id", "params", "record_id"),
)

# Flags of stored records, one row each, so that listing by flag is an index scan.
record_flags = Table(
    "record_flags",
    metadata,
    Column("project_id", Id, primary_key=True, autoincrement=False),
    Column("flag", String(64), primary_key=True),
    Column("record_id", BigInteger, primary_key=True),
)

# Per source and run: the figures anomaly checks compare, and their verdict.
run_stats = Table(
    "run_stats",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("source_id", Id, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("stats", Text, nullable=False),
    Column("anomalies", Text, nullable=True),
    Column("held", Boolean, nullable=False, server_default=text("false")),
    Column("decision", String(16), nullable=True),
    Column("created_at", Float, nullable=False),
    Index(None, "source_id", "id"),
    Index(None, "project_id", "run_id"),
)

# Consent withdrawn by a data subject for a purpose (the audit log says who recorded it).
consent_withdrawals = Table(
    "consent_withdrawals",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("subject_id", Text, nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("records", Integer, nullable=False),
    Index(None, "project_id", "subject_id"),
)

# The exact-dedup index. A B-tree index on the records' random 16-byte hashes cost
# ~10 us a row to maintain at 1M rows here; an integer-keyed table costs a third of it.
# Keys are 64-bit: ``content_key`` (project, content) -> the first record with that
# content; ``occurrence_key`` (source, source key, content) -> a duplicate row, so a
# re-sent duplicate is recognised too. Every hit is verified against the record's
# full hash and key, so a 64-bit collision can only cost a missed match, never a
# wrong one.
content_keys = Table(
    "content_keys",
    metadata,
    Column("key", Id, primary_key=True, autoincrement=False),
    Column("record_id", BigInteger, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("source_id", Id, nullable=False),
    Column("run_id", BigInteger, nullable=True),
    Column("reason", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("raw", LargeBinary, nullable=True),
    Column("raw_blob_ref", String(80), nullable=True),
    Column("position", BigInteger, nullable=True),
    Column("line_no", BigInteger, nullable=True),
    Column("decision", String(16), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", Float, nullable=True),
    Index(None, "project_id", "decision", "record_id"),
)

lineage_events = Table(
    "lineage_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("record_id", BigInteger, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("stage", String(64), nullable=True),
    Column("stage_version", String(16), nullable=True),
    Column("run_id", BigInteger, nullable=True),
    Column("batch_id", BigInteger, nullable=True),
    Column("actor", String(64), nullable=True),
    Column("at", Float, nullable=False),
    Column("details", Text, nullable=True),
    Index(None, "record_id", "id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    # Set when gold checks pause an annotator (no new leases until a steward resumes them).
    Column("paused_at", Float, nullable=True),
    Column("paused_reason", Text, nullable=True),
    UniqueConstraint("project_id", "name"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
)

#: Web app sessions: the cookie holds a random token, only its SHA-256 is stored, with the
#: session's CSRF token. Logout or a password change revokes them.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=True),
    Column("at", Float, nullable=False),
    Column("details", Text, nullable=True),
    # Hash chain: each entry holds the previous entry's hash and its own (see domain.audit).
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index(None, "project_id", "id"),
)

# Figures kept with the writes so that status pages never COUNT(*) the big tables.
counters = Table(
    "counters",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False, server_default="0"),
)


# -- labeling ---------------------------------------------------------------------------------------

# Published label-schema versions: immutable; a new version states its change from the previous.
schema_versions = Table(
    "schema_versions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("schema", Text, nullable=False),
    Column("guidelines", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("guidelines_digest", String(64), nullable=False),
    Column("change", Text, nullable=True),
    Column("published_at", Float, nullable=False),
    Column("published_by", String(64), nullable=False),
    UniqueConstraint("project_id", "version"),
)

# A task asks ``overlap`` people (up to ``k_max`` when they disagree) to label one record. It holds ids,
# counts and state, never the record's data. ``rank`` is -priority so that one ascending index serves
# "priority first, then age".
tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("overlap", Integer, nullable=False),
    Column("k_max", Integer, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("leased", Integer, nullable=False, server_default="0"),
    Column("is_gold", Boolean, nullable=False, server_default=text("false")),
    Column("gold_value", Text, nullable=True),
    Column("selection", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("completed_at", Float, nullable=True),
    Column("answers_digest", String(64), nullable=True),
    Index(
        "ix_tasks_queue",
        "project_id",
        "rank",
        "id",
        sqlite_where=text("state = 'open'"),
        postgresql_where=text("state = 'open'"),
    ),
    Index(None, "record_id"),
)

# A lease lends a task to one person until ``expires_at``; its id is the fencing token a submit must
# present. States: active, submitted, expired, released, rejected.
leases = Table(
    "leases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("task_id", BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    # One live lease (or submitted answer) per person and task: the store itself refuses a second.
    Index(
        "uq_leases_task_user_live",
        "task_id",
        "user_id",
        unique=True,
        sqlite_where=text("state IN ('active', 'submitted')"),
        postgresql_where=text("state IN ('active', 'submitted')"),
    ),
    Index(
        "ix_leases_active_expiry",
        "project_id",
        "expires_at",
        sqlite_where=text("state = 'active'"),
        postgresql_where=text("state = 'active'"),
    ),
    Index(None, "user_id", "state"),
)

annotation_table = Table(
    "annotations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("task_id", BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("lease_id", BigInteger, nullable=True),
    Column("value", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("guidelines_version", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=True),
    Column("idempotency_key", String(128), nullable=True),
    Column("status", String(16), nullable=False),
    Column("supersedes", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    # Each task's answers form a hash chain (domain.audit.annotation_hash); the task keeps its head.
    Column("prev_digest", String(64), nullable=True),
    Column("digest", String(64), nullable=True),
    UniqueConstraint("user_id", "idempotency_key"),
    Index(None, "task_id"),
    Index(None, "project_id", "id"),
    Index(None, "user_id", "created_at"),
)

skips = Table(
    "skips",
    metadata,
    Column("task_id", BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", Float, nullable=False),
)

# A reviewer's decision on an annotation: accept, reject (with a reason code from the project's
# taxonomy), fix (the corrected value is a new annotation that supersedes the original), escalate.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("annotation_id", BigInteger, nullable=False),
    Column("task_id", BigInteger, nullable=False),
    Column("reviewer_id", BigInteger, nullable=False),
    Column("author_id", BigInteger, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason_code", String(64), nullable=True),
    Column("comment", Text, nullable=True),
    Column("fixed_by", BigInteger, nullable=True),
    Column("at", Float, nullable=False),
    Index(None, "annotation_id"),
    Index(None, "project_id", "id"),
)

# The outcome of every answer to a gold item: the per-annotator accuracy comes from here.
gold_checks = Table(
    "gold_checks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("annotation_id", BigInteger, nullable=False),
    Column("task_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("at", Float, nullable=False),
    Index(None, "project_id", "user_id"),
)

# Quality (issue 5). A task's final label per question: derived, recomputed by each aggregation
# run (which ``run_id`` names); releases snapshot them, so they may be replaced here.
final_labels = Table(
    "final_labels",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("task_id", BigInteger, nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("question", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("method", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("annotation_ids", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("run_id", BigInteger, nullable=True),
    Column("computed_at", Float, nullable=False),
    UniqueConstraint("task_id", "question"),
    Index(None, "project_id", "record_id"),
)
# One row per quality computation (aggregation, agreement snapshot, label-error scan, drift report):
# its parameters and its JSON summary; the history of agreement and drift comes from here.
quality_runs = Table(
    "quality_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("params", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Index(None, "project_id", "kind", "id"),
)
drift_alerts = Table(
    "drift_alerts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("feature", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("slice", String(256), nullable=True),
    Column("severity", String(8), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("enqueued", Integer, nullable=False, server_default="0"),
    Column("at", Float, nullable=False),
    Index(None, "project_id", "run_id"),
)
# A suspected label error: a re-review item in the reviewers' queue until someone decides it
# (confirmed: the label was wrong and was fixed; dismissed: the label stands).
label_error_flags = Table(
    "label_error_flags",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("task_id", BigInteger, nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("question", String(64), nullable=False),
    Column("given", Text, nullable=False),
    Column("suggested", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", BigInteger, nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("annotation_id", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    Index(None, "project_id", "status", "id"),
    Index(None, "task_id"),
)

# -- releases ---------------------------------------------------------------------------------------

# An immutable, content-addressed dataset release: ``manifest_sha256`` hashes its split parameters and
# every row's hash (see ``releases.manifest``), so the same state cut twice gives the same hash.
releases = Table(
    "releases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("params", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("project_id", "name"),
)
# A release's rows: the snapshot of each record's final labels (they may be recomputed later), its split
# and its row hash (the manifest). Record data and ingest lineage are immutable and joined on export.
release_rows = Table(
    "release_rows",
    metadata,
    Column("release_id", Id, ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True),
    Column("record_id", BigInteger, primary_key=True),
    Column("split", String(16), nullable=False),
    Column("label", Text, nullable=True),
    Column("labels", Text, nullable=False),
    Column("aggregation", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("row_sha256", String(64), nullable=False),
    # Derived from ``aggregation`` when the release is cut (the main question's), so exports need not parse it.
    Column("method", String(16), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("annotation_ids", Text, nullable=False),
    # Why the item was labeled: its task's selection record (strategy, model version, score); not hashed.
    Column("selection", Text, nullable=True),
    # Every release that holds a record (its lineage).
    Index(None, "record_id"),
)
# A model's output per record (issue 6): class probabilities and an optional embedding (float32 bytes),
# per model name and version; the selection strategies read the newest version unless told otherwise.
predictions = Table(
    "predictions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("model", String(128), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("probs", Text, nullable=False),
    Column("embedding", LargeBinary, nullable=True),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "model", "model_version", "record_id"),
    Index(None, "project_id", "model", "created_at"),
)
# One row per model version that has predictions in a project (migration 0015), kept by every
# prediction import: the newest model and its versions are read here, not grouped from the
# predictions table (a scan of every prediction: 270 ms at 1M on SQLite, 620 ms on PostgreSQL).
model_versions = Table(
    "model_versions",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(128), primary_key=True),
    Column("model_version", String(64), primary_key=True),
    Column("last_at", Float, nullable=False),
    Index(None, "project_id", "last_at"),
)
# Every run of a scheduled job (issue 6). A job's fire time is claimed by inserting its row first: a
# second worker, a retry or a restart finds the row and does not run that fire time again.
job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("job", String(160), nullable=False),
    Column("scheduled_for", Float, nullable=False),
    Column("worker", String(128), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
    Column("result", Text, nullable=True),
    UniqueConstraint("project_id", "job", "scheduled_for"),
    Index(None, "project_id", "id"),
)
