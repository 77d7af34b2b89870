"""Storage: SQLAlchemy engine and tables, Alembic migrations, bulk writes, blob store."""
