"""The ``labelloop`` command."""
