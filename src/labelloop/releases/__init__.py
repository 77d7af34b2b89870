"""Releases: immutable, content-addressed dataset snapshots of the final labels, their splits, diffs and exports."""
