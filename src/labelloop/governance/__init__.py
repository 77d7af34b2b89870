"""Governance: users, roles, API tokens, the audit log."""
