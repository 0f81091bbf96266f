"""Alembic migrations of the app DB (applied by `dashboard.appdb.open_app_db`)."""
