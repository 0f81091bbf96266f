"""Alembic environment of the app DB.

`dashboard.appdb.migrate` passes an open connection in `config.attributes["connection"]` (inside its
transaction). From the command line (`alembic -c dashboard/migrations/alembic.ini ...`) the URL comes
from `-x url=...`, else from the Gridwatch config ($GRIDWATCH_CONFIG or ./gridwatch.toml).
"""

from __future__ import annotations

from alembic import context

from dashboard.appdb import app_db_url, metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from dashboard.settings import load_settings

    return app_db_url(load_settings())


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=metadata, render_as_batch=True, compare_type=True, **kwargs)


if context.is_offline_mode():  # `alembic upgrade head --sql`: print the DDL for a DBA
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    else:
        import sqlalchemy as sa

        engine = sa.create_engine(_url())
        try:
            with engine.connect() as conn:
                _configure(connection=conn)
                with context.begin_transaction():
                    context.run_migrations()
        finally:
            engine.dispose()
