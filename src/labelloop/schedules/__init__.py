"""Schedules: the jobs ``labelloop worker`` runs (ingestion cadences, aggregation, agreement, training,
queue top-up, releases), each run recorded and never run twice for one fire time."""
