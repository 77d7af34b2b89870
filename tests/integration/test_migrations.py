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


def test_0015_records_the_model_versions_already_imported(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = conn
            command.upgrade(config, "0014")
            conn.execute(text("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', 0)"))
            rows = [(10, "m", "1", 5.0), (11, "m", "1", 7.0), (10, "m", "2", 6.0), (10, "n", "1", 1.0)]
            for record_id, model, version, at in rows:
                conn.execute(
                    text(
                        "INSERT INTO predictions (project_id, record_id, model, model_version, probs, created_at)"
                        " VALUES (1, :r, :m, :v, '{}', :at)"
                    ),
                    {"r": record_id, "m": model, "v": version, "at": at},
                )
    finally:
        engine.dispose()
    store = Store(db_url)
    try:
        with store.read() as conn:
            found = conn.execute(
                text("SELECT model, model_version, last_at FROM model_versions ORDER BY model, model_version")
            ).all()
        assert [tuple(r) for r in found] == [("m", "1", 7.0), ("m", "2", 6.0), ("n", "1", 1.0)]
    finally:
        store.dispose()
