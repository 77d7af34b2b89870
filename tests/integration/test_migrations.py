"""The Alembic migrations create exactly the schema of ``store/tables.py``, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from labelloop.store.engine import HEAD_REVISION, MIGRATIONS_DIR, Store
from labelloop.store.tables import metadata


def test_head_revision_constant_is_the_scripts_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    store = Store(db_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == HEAD_REVISION
            assert compare_metadata(context, metadata) == []
    finally:
        store.dispose()


def test_migrating_twice_is_a_no_op(db_url: str) -> None:
    Store(db_url).dispose()
    store = Store(db_url)
    try:
        with store.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD_REVISION
    finally:
        store.dispose()
