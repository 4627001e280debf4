"""Alembic environment, run by `Database.migrate` (which passes its connection) or by `alembic_config(url)`."""

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, TypeDecorator, create_engine

from bot.store.db import normalize_url
from bot.store.tables import Base


def render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    # Autogenerate writes a TypeDecorator as the type it stores, so revisions never import bot code.
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
url = context.config.attributes.get("url")
if connection is not None:
    run_migrations(connection)
elif url is not None:
    engine = create_engine(normalize_url(url, sync=True))
    with engine.begin() as connection:
        run_migrations(connection)
    engine.dispose()
else:
    raise RuntimeError("run migrations through bot.store.db: Database.migrate() or alembic_config(url)")
