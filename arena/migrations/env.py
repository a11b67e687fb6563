"""Alembic environment: migrates the database that `upgrade_database(url)` names (or `sqlalchemy.url` of an
alembic.ini, when the alembic command is used directly), through `make_engine` so SQLite gets its PRAGMAs."""

from alembic import context

from arena.db import Base, make_engine

engine = make_engine(context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url"))
try:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
