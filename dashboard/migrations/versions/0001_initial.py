"""Alert lifecycle, append-only alert history, 复盘 reviews with 三项建议, and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("alert_events", "audit_log")


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.String(512), nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(128), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("condition_active", sa.Boolean, nullable=False),
        _ts("last_fired_at"),
        _ts("cleared_at", nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("state_changed_at"),
        sa.Column("state_changed_by", sa.String(128), nullable=False),
        sa.Column("reopened_count", sa.Integer, nullable=False),
        sa.Column("dispatched_to_kind", sa.String(16), nullable=True),
        sa.Column("dispatched_to", sa.String(256), nullable=True),
        _ts("due_at", nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
        sa.UniqueConstraint("fingerprint", "episode", name="uq_alerts_fingerprint_episode"),
    )
    op.create_index("ix_alerts_condition_active", "alerts", ["condition_active"])
    op.create_index("ix_alerts_state", "alerts", ["state"])

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(40), nullable=False),
        _ts("at"),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], name="fk_alert_events_alert_id_alerts"),
    )
    op.create_index("ix_alert_events_alert_id_id", "alert_events", ["alert_id", "id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        _ts("at"),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(256), nullable=False),
        sa.Column("details", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_object_type_object_id", "audit_log", ["object_type", "object_id"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        _ts("at"),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], name="fk_reviews_alert_id_alerts"),
        sa.ForeignKeyConstraint(["event_id"], ["alert_events.id"], name="fk_reviews_event_id_alert_events"),
    )
    op.create_index("ix_reviews_alert_id", "reviews", ["alert_id"])
    op.create_index("ix_reviews_at", "reviews", ["at"])

    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("review_id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.String(40), nullable=False),
        _ts("at"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recommendations"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name="fk_recommendations_review_id_reviews"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], name="fk_recommendations_alert_id_alerts"),
    )
    op.create_index("ix_recommendations_at", "recommendations", ["at"])

    _append_only_triggers()


def _append_only_triggers() -> None:
    """History and audit rows can be added, never changed or deleted (enforced by the database)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    elif dialect == "postgresql":
        op.execute("CREATE FUNCTION gridwatch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION gridwatch_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    for table in ("recommendations", "reviews", "audit_log", "alert_events", "alerts"):
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gridwatch_append_only()")
