"""Stages: named, versioned steps over a batch of records (a ``pyarrow.Table``)."""
