"""Labeling: label schemas and versions, tasks, the queue and its leases, annotations."""
