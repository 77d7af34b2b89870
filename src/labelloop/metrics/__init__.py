"""Figures about the labeling program for dashboards: backlog, throughput, coverage, freshness, agreement."""
