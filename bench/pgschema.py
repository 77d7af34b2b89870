"""A fresh PostgreSQL schema per benchmark run, dropped after (shared by the bench scripts)."""

from __future__ import annotations

import uuid


def _conninfo(admin: str) -> str:
    return admin.replace("postgresql+psycopg://", "postgresql://")


def pg_schema_url(admin: str) -> tuple[str, str]:
    """Create a schema on the server of ``admin`` (a SQLAlchemy URL); return the URL that uses it, and its name."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in admin else "?"
    return f"{admin}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(admin: str, schema: str) -> None:
    """Drop a schema made by :func:`pg_schema_url` with everything in it."""
    import psycopg

    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
