"""Executors: where stages run (in-process, or in a helper process beside the writer)."""
