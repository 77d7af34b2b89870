"""Names fixed by the public contract (../shared/DESIGN.md), spelled out here on purpose.

Tests compare against these literals, not against the package's own constants,
so a rename inside labelloop cannot silently change the contract.
"""

INGEST_KEYS = frozenset(
    {"run_id", "read", "new", "exact_duplicates", "near_duplicates", "quarantined", "redacted", "consent_dropped"}
)
KPI_KEYS = frozenset(
    {"records", "labeled", "coverage", "completeness", "freshness_s", "label_latency_p50_s", "label_latency_p95_s"}
)
RECORD_KEYS = frozenset({"id", "source", "source_key", "status", "duplicate_of", "reasons"})
