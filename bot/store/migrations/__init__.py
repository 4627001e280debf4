"""Alembic environment and revisions; run them through `bot.store.db` (`Database.migrate`, `alembic_config`)."""
