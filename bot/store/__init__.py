"""Storage: SQLAlchemy (async) tables, the `Database` that owns the engine, and Alembic migrations.

Migrations run from code at start (`await Database(url).migrate()`); no alembic.ini is needed.
"""
