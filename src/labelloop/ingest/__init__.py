"""Ingestion: sources, cursors and the ingestion run."""
