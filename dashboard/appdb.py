"""App database (SPEC §2, §8, §9): alert lifecycle with append-only history, 复盘 reviews, audit log.

SQLAlchemy Core on SQLite (default `<data_dir>/app.sqlite`) or PostgreSQL; the schema is managed by the
Alembic migrations in `dashboard/migrations/`, applied by `open_app_db`. Never imports streamlit.

Alert ids: `"A" + sha256(fingerprint)[:10] + "-" + episode`. An episode of a fingerprint continues while
the detector keeps firing, and also when it fires again within `quiet_hours` of the refresh that first
found it cleared; after a longer quiet a new episode (new id) starts. Ids therefore depend only on the
sequence of detected frames and refresh times, never on what users did with the alerts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard.settings import Settings
from loaders.errors import GridwatchError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_FILE = "app.sqlite"
SYSTEM_USER = "system"  # `who` of the events reconcile writes
_WRITE = "gridwatch_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
_PG_MIGRATION_LOCK = 0x67726964  # pg_advisory_xact_lock key: one process migrates at a time


class AppDBError(GridwatchError):
    """The app database cannot be opened, migrated or reached."""

    exit_code = 8


class AlertError(GridwatchError):
    """An alert action or a detected-alerts frame is invalid; the message says what to change."""

    exit_code = 9


class AlertNotFound(AlertError):
    """No alert has the given alert_id."""


class InvalidTransition(AlertError):
    """The action is not allowed from the alert's current state (or another user changed it first)."""


# --- states, actions and kinds are data ------------------------------------------------------------

@dataclass(frozen=True)
class AlertState:
    """A lifecycle state: the code stored in the DB, its labels, and whether it is open or closed."""

    code: str
    zh: str
    en: str
    category: Literal["open", "closed"]

    @property
    def is_open(self) -> bool:
        return self.category == "open"

    @property
    def is_closed(self) -> bool:
        return self.category == "closed"

    def label(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


STATES: dict[str, AlertState] = {s.code: s for s in (
    AlertState("new", "新", "New", "open"),
    AlertState("acknowledged", "已签收", "Acknowledged", "open"),
    AlertState("dispatched", "已交办", "Dispatched", "open"),
    AlertState("resolved", "已化解", "Resolved", "closed"),
    AlertState("dismissed", "误报", "Dismissed", "closed"),
)}
OPEN_STATES = tuple(code for code, s in STATES.items() if s.is_open)
CLOSED_STATES = tuple(code for code, s in STATES.items() if s.is_closed)


@dataclass(frozen=True)
class AlertAction:
    """Something that happens to an alert. User actions move it between states; system events
    (by reconcile) record what the detectors saw. `to_state` None means the state stays."""

    code: str
    zh: str
    en: str
    from_states: tuple[str, ...]
    to_state: str | None
    by_user: bool

    def allowed_from(self, state: str) -> bool:
        return state in self.from_states

    def label(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


ACTIONS: dict[str, AlertAction] = {a.code: a for a in (
    AlertAction("acknowledge", "签收", "Acknowledge", ("new",), "acknowledged", True),
    # Dispatching again (another unit, a new due date) is allowed while the alert is dispatched.
    AlertAction("dispatch", "交办", "Dispatch", ("acknowledged", "dispatched"), "dispatched", True),
    AlertAction("resolve", "化解", "Resolve", ("dispatched",), "resolved", True),
    AlertAction("dismiss", "误报", "Dismiss", OPEN_STATES, "dismissed", True),
    AlertAction("open", "产生预警", "Raised", (), "new", False),
    AlertAction("reopen", "再次触发，重新打开", "Fired again, reopened", CLOSED_STATES, "new", False),
    AlertAction("refire", "再次触发", "Fired again", (), None, False),
    AlertAction("level_change", "级别变化", "Level changed", (), None, False),
    AlertAction("cleared", "条件已消除", "Condition cleared", (), None, False),
)}

LEVEL_ORDER: dict[str, int] = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}  # SPEC §4, most severe first
SCOPES = ("grid", "community", "township", "county")
DISPATCH_TARGETS = ("unit", "leader")


@dataclass(frozen=True)
class RecommendationKind:
    """One of the 三项建议 a 复盘 (review) may produce."""

    code: str
    zh: str
    en: str

    def label(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


RECOMMENDATION_KINDS: dict[str, RecommendationKind] = {k.code: k for k in (
    RecommendationKind("improve_work", "改进工作", "Improve work"),
    RecommendationKind("improve_policy", "完善政策", "Improve policy"),
    RecommendationKind("accountability", "追究责任", "Hold accountable"),
)}


def allowed_actions(state: str) -> list[AlertAction]:
    """The user actions offered for an alert in `state` (for the action buttons)."""
    return [a for a in ACTIONS.values() if a.by_user and a.allowed_from(state)]


def recommendation_kind(value: str) -> str:
    """The code of a recommendation kind given as code (improve_work) or label (改进工作)."""
    for kind in RECOMMENDATION_KINDS.values():
        if value in (kind.code, kind.zh, kind.en):
            return kind.code
    allowed = ", ".join(f"{k.code} ({k.zh})" for k in RECOMMENDATION_KINDS.values())
    raise AlertError(f"三项建议类别 {value!r} 无效 / recommendation kind {value!r} is unknown; "
                     f"expected one of {allowed}.")


# --- schema (the migrations create it; this is what the queries use) ---------------------------------

class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Time-zone-aware timestamps stored as UTC; SQLite (which has no time zones) gets them back aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise AlertError(f"timestamp {value} has no time zone; pass an aware datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)

alert_table = sa.Table(
    "alerts", metadata,
    sa.Column("alert_id", sa.String(40), primary_key=True),
    sa.Column("fingerprint", sa.String(512), nullable=False),
    sa.Column("episode", sa.Integer, nullable=False),
    sa.Column("detector", sa.String(64), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("scope_id", sa.String(128), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("condition_active", sa.Boolean, nullable=False),
    sa.Column("last_fired_at", UTCDateTime, nullable=False),
    sa.Column("cleared_at", UTCDateTime, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_changed_at", UTCDateTime, nullable=False),
    sa.Column("state_changed_by", sa.String(128), nullable=False),
    sa.Column("reopened_count", sa.Integer, nullable=False),
    sa.Column("dispatched_to_kind", sa.String(16), nullable=True),
    sa.Column("dispatched_to", sa.String(256), nullable=True),
    sa.Column("due_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("fingerprint", "episode"),
    sa.Index(None, "condition_active"),
    sa.Index(None, "state"),
)

event_table = sa.Table(
    "alert_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(40), sa.ForeignKey("alerts.alert_id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("who", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=True),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("payload", sa.JSON, nullable=True),
    sa.Index(None, "alert_id", "id"),
)

audit_table = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("who", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(256), nullable=False),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Index(None, "at"),
    sa.Index(None, "object_type", "object_id"),
)

review_table = sa.Table(
    "reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(40), sa.ForeignKey("alerts.alert_id"), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("alert_events.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("who", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index(None, "alert_id"),
    sa.Index(None, "at"),
)

recommendation_table = sa.Table(
    "recommendations", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.id"), nullable=False),
    sa.Column("alert_id", sa.String(40), sa.ForeignKey("alerts.alert_id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index(None, "at"),
)


# --- opening -------------------------------------------------------------------------------------

@dataclass
class AppDB:
    """An open app database (thread-safe; share one per process and `close()` it at the end)."""

    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The URL with any password hidden (for messages)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction. `write=True` takes SQLite's write lock at the start (BEGIN IMMEDIATE), so
        two writers queue on the busy timeout instead of failing to upgrade a read lock."""
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as exc:
            raise AppDBError(f"应用数据库不可用 / app DB {self.url}: {exc.orig}. Check [app_db] url, that the "
                             f"server is running, and for SQLite that no process holds the file locked.") from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AppDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def app_db_url(settings: Settings) -> str:
    """The configured app DB URL; default sqlite:///<data_dir>/app.sqlite (relative to the config file)."""
    url = settings.app_db.url
    if url:
        return settings.resolve_url(url)
    return f"sqlite:///{settings.data_path / DEFAULT_FILE}"


def open_app_db(settings: Settings) -> AppDB:
    """Open the configured app DB and upgrade its schema to the newest migration. Raises AppDBError."""
    return open_app_db_url(app_db_url(settings), busy_timeout_seconds=settings.app_db.busy_timeout_seconds)


def open_app_db_url(url: str, *, busy_timeout_seconds: float = 30.0) -> AppDB:
    """Open an app DB by SQLAlchemy URL and upgrade it to head (creating the SQLite file's folder)."""
    try:
        engine = _create_engine(url, busy_timeout_s=busy_timeout_seconds)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise AppDBError(f"app DB url {url!r} is not usable: {exc}. Check [app_db] url "
                         f"(e.g. postgresql+psycopg://user:${{PASS}}@host/gridwatch).") from exc
    db = AppDB(engine)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def _create_engine(url: str, *, busy_timeout_s: float) -> Engine:
    u = sa.make_url(url)
    ms = int(busy_timeout_s * 1000)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, connect_args={"timeout": busy_timeout_s})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # pysqlite must not BEGIN on its own: _sqlite_begin does
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={ms}")
            cur.execute("PRAGMA journal_mode=WAL")  # pages keep reading while a refresh writes
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

        return engine
    engine = sa.create_engine(u, pool_pre_ping=True)
    if u.get_backend_name() == "postgresql":
        @sa.event.listens_for(engine, "connect")
        def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"SET lock_timeout = {ms}")  # a blocked row lock fails after the busy timeout
            cur.close()
            dbapi_conn.commit()  # the pool's rollback-on-return would undo an uncommitted SET

    return engine


def _alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def migrate(db: AppDB) -> None:
    """Upgrade the schema to the newest migration (a no-op when it is current); one process at a time."""
    if _revision_of(db) == HEAD_REVISION:  # the common case: skip loading Alembic (half a second)
        return
    from alembic import command
    from alembic.util import CommandError

    cfg = _alembic_config()
    with db.begin(write=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except CommandError as exc:
            raise AppDBError(f"app DB {db.url}: cannot migrate ({exc}). The database may come from a newer "
                             f"Gridwatch version; upgrade Gridwatch or point [app_db] url elsewhere.") from exc


# The newest migration in dashboard/migrations/versions (a test keeps it equal to Alembic's head).
HEAD_REVISION = "0001"


def _revision_of(db: AppDB) -> str | None:
    """alembic_version.version_num read directly, None when the table is missing or not single-headed."""
    try:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    except sa.exc.DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def schema_revision(db: AppDB) -> str | None:
    """The migration revision the database is at (None when it has no schema)."""
    from alembic.runtime.migration import MigrationContext

    with db.begin() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest migration revision shipped with this version of Gridwatch."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


# --- audit log -------------------------------------------------------------------------------------

def audit(db: AppDB, *, user: str, action: str, object_type: str, object_id: str,
          details: Mapping[str, Any] | None = None, at: datetime | None = None) -> int:
    """Append one row to the audit log (exports, alert actions) and return its id."""
    with db.begin(write=True) as conn:
        return _audit(conn, at=_when(at), who=_who(user), action=action, object_type=object_type,
                      object_id=object_id, details=details)


def _audit(conn: Connection, *, at: datetime, who: str, action: str, object_type: str, object_id: str,
           details: Mapping[str, Any] | None) -> int:
    if not action or not object_type:
        raise AlertError("audit rows need an action and an object_type")
    res = conn.execute(sa.insert(audit_table).values(
        at=at, who=who, action=action, object_type=object_type, object_id=str(object_id),
        details=_jsonable(details) if details is not None else None))
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def audit_entries(db: AppDB, *, since: datetime | None = None, object_type: str | None = None,
                  object_id: str | None = None, limit: int = 1000, until: datetime | None = None,
                  action: str | None = None, who_contains: str | None = None) -> pd.DataFrame:
    """Audit rows, newest first: id, at (UTC), who, action, object_type, object_id, details (dict).

    Every filter is a bound parameter (`who_contains` a LIKE with its wildcards escaped). The audit log has
    no update or delete function: it is append-only, also in the database (triggers, migration 0001).
    """
    q = sa.select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
    if since is not None:
        q = q.where(audit_table.c.at >= _aware(since, "since"))
    if until is not None:
        q = q.where(audit_table.c.at < _aware(until, "until"))
    if action is not None:
        q = q.where(audit_table.c.action == action)
    if who_contains:
        q = q.where(audit_table.c.who.contains(who_contains, autoescape=True))
    if object_type is not None:
        q = q.where(audit_table.c.object_type == object_type)
    if object_id is not None:
        q = q.where(audit_table.c.object_id == str(object_id))
    with db.begin() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    frame = pd.DataFrame(rows, columns=[c.name for c in audit_table.columns])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


# --- user actions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertEvent:
    """One row of an alert's append-only history."""

    id: int
    alert_id: str
    at: datetime
    who: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str
    payload: dict[str, Any] = field(default_factory=dict)

    def label(self, lang: str = "zh") -> str:
        action = ACTIONS.get(self.action)
        return action.label(lang) if action else self.action


def acknowledge(db: AppDB, alert_id: str, *, who: str, note: str = "", at: datetime | None = None) -> AlertEvent:
    """新 → 已签收. Records who acknowledged, when, and an optional note."""
    return _transition(db, alert_id, "acknowledge", who=who, note=note, at=at)


def dispatch(db: AppDB, alert_id: str, *, who: str, due_at: datetime, to_unit: str | None = None,
             to_leader: str | None = None, note: str = "", at: datetime | None = None) -> AlertEvent:
    """已签收 → 已交办 to one unit or one leader (an id or name), due by `due_at` (aware datetime).
    Dispatching a dispatched alert again re-assigns it."""
    targets = [(kind, str(v).strip()) for kind, v in (("unit", to_unit), ("leader", to_leader))
               if v is not None and str(v).strip()]
    if len(targets) != 1:
        raise AlertError("交办需指定一个单位或一位领导 / dispatch needs exactly one of to_unit or to_leader.")
    when = _when(at)
    due = _aware(due_at, "due_at")
    if due <= when:
        raise AlertError(f"办理期限须晚于当前时间 / due_at {due.isoformat()} must be later than "
                         f"{when.isoformat()}.")
    kind, target = targets[0]
    return _transition(db, alert_id, "dispatch", who=who, note=note, at=when,
                       fields={"dispatched_to_kind": kind, "dispatched_to": target, "due_at": due},
                       payload={"to_kind": kind, "to": target, "due_at": due.isoformat()})


def resolve(db: AppDB, alert_id: str, *, who: str, note: str = "", review_note: str | None = None,
            recommendations: Iterable[tuple[str, str]] = (), at: datetime | None = None) -> AlertEvent:
    """已交办 → 已化解, optionally with a 复盘 note and its 三项建议 as (kind, text) pairs; kind is
    improve_work / improve_policy / accountability or 改进工作 / 完善政策 / 追究责任."""
    recs = [(recommendation_kind(str(kind)), str(text).strip()) for kind, text in recommendations]
    if any(not text for _, text in recs):
        raise AlertError("每条建议须有内容 / every recommendation needs a text.")
    review = (review_note or "").strip()
    payload: dict[str, Any] = {}
    if review or recs:
        payload = {"review_note": review, "recommendations": [{"kind": k, "text": t} for k, t in recs]}

    def add_review(conn: Connection, event_id: int, when: datetime, who_: str) -> None:
        if not payload:
            return
        res = conn.execute(sa.insert(review_table).values(alert_id=alert_id, event_id=event_id, at=when, who=who_,
                                                     note=review))
        review_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        if recs:
            conn.execute(sa.insert(recommendation_table), [
                {"review_id": review_id, "alert_id": alert_id, "at": when, "kind": k, "text": t} for k, t in recs])

    return _transition(db, alert_id, "resolve", who=who, note=note, at=at, payload=payload, after=add_review)


def dismiss(db: AppDB, alert_id: str, *, who: str, reason: str, at: datetime | None = None) -> AlertEvent:
    """Any open state → 误报. The reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise AlertError("标记误报须填写原因 / dismissing an alert requires a reason.")
    return _transition(db, alert_id, "dismiss", who=who, note=reason, at=at, payload={"reason": reason})


def _transition(db: AppDB, alert_id: str, code: str, *, who: str, note: str, at: datetime | None,
                fields: Mapping[str, Any] | None = None, payload: Mapping[str, Any] | None = None,
                after: Any = None) -> AlertEvent:
    """Apply a user action: state check under a row lock, guarded update, event and audit row, one
    transaction. Raises AlertNotFound or InvalidTransition."""
    action = ACTIONS[code]
    who = _who(who)
    when = _when(at)
    note = (note or "").strip()
    assert action.to_state is not None
    with db.begin(write=True) as conn:
        # FOR UPDATE makes a concurrent action on PostgreSQL wait and then see the new state;
        # on SQLite the write transaction (BEGIN IMMEDIATE) already serialises writers.
        state = conn.execute(sa.select(alert_table.c.state).where(alert_table.c.alert_id == alert_id)
                             .with_for_update()).scalar_one_or_none()
        if state is None:
            raise AlertNotFound(f"没有预警 {alert_id} / no alert {alert_id!r}; it may be from another "
                                f"installation. Reload the alert list.")
        if not action.allowed_from(state):
            allowed = "、".join(STATES[s].zh for s in action.from_states)
            raise InvalidTransition(
                f"预警 {alert_id} 当前为「{STATES[state].zh}」，不能{action.zh}（仅限：{allowed}） / alert "
                f"{alert_id} is {state}; {code} is allowed only from {', '.join(action.from_states)}.")
        res = conn.execute(
            sa.update(alert_table).where(alert_table.c.alert_id == alert_id, alert_table.c.state == state)
            .values(state=action.to_state, state_changed_at=when, state_changed_by=who, **(fields or {})))
        if res.rowcount != 1:
            raise InvalidTransition(f"预警 {alert_id} 已被他人更新 / alert {alert_id} was changed by someone else "
                                    f"meanwhile; reload it and try again.")
        body = _jsonable(dict(payload or {}))
        event_id = _event(conn, alert_id=alert_id, at=when, who=who, action=code, from_state=state,
                          to_state=action.to_state, note=note, payload=body)
        if after is not None:
            after(conn, event_id, when, who)
        _audit(conn, at=when, who=who, action=code, object_type="alert", object_id=alert_id,
               details={"from_state": state, "to_state": action.to_state, "note": note, **body})
    return AlertEvent(event_id, alert_id, when, who, code, state, action.to_state, note, body)


def _event(conn: Connection, **values: Any) -> int:
    res = conn.execute(sa.insert(event_table).values(**values))
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def history(db: AppDB, alert_id: str) -> list[AlertEvent]:
    """Every event of an alert, oldest first. Raises AlertNotFound."""
    with db.begin() as conn:
        exists = conn.execute(sa.select(alert_table.c.alert_id).where(alert_table.c.alert_id == alert_id)).first()
        if exists is None:
            raise AlertNotFound(f"没有预警 {alert_id} / no alert {alert_id!r}.")
        rows = conn.execute(sa.select(event_table).where(event_table.c.alert_id == alert_id)
                            .order_by(event_table.c.id)).mappings().all()
    return [AlertEvent(id=r["id"], alert_id=r["alert_id"], at=r["at"], who=r["who"], action=r["action"],
                       from_state=r["from_state"], to_state=r["to_state"], note=r["note"],
                       payload=dict(r["payload"] or {})) for r in rows]


def get_alert(db: AppDB, alert_id: str) -> dict[str, Any]:
    """The live row of one alert (state as of now, not as of the last refresh). Raises AlertNotFound."""
    with db.begin() as conn:
        row = conn.execute(sa.select(alert_table).where(alert_table.c.alert_id == alert_id)).mappings().first()
    if row is None:
        raise AlertNotFound(f"没有预警 {alert_id} / no alert {alert_id!r}.")
    return dict(row)


def alert_reviews(db: AppDB, alert_id: str) -> list[dict[str, Any]]:
    """The 复盘 reviews of an alert, oldest first, each with its `recommendations` [(kind, text)]."""
    with db.begin() as conn:
        revs = [dict(r) for r in conn.execute(
            sa.select(review_table).where(review_table.c.alert_id == alert_id).order_by(review_table.c.id)).mappings()]
        recs = conn.execute(sa.select(recommendation_table).where(recommendation_table.c.alert_id == alert_id)
                            .order_by(recommendation_table.c.id)).mappings().all()
    for rev in revs:
        rev["recommendations"] = [(r["kind"], r["text"]) for r in recs if r["review_id"] == rev["id"]]
    return revs


# --- reconcile detected alerts with the lifecycle ----------------------------------------------------

DETECTED_COLUMNS = ("fingerprint", "detector", "level", "scope", "scope_id", "title", "evidence",
                    "first_seen", "last_seen")
SPEC_COLUMNS = ["alert_id", "detector", "level", "scope", "scope_id", "title", "evidence", "first_seen",
                "last_seen"]
LIFECYCLE_COLUMNS = ["state", "is_open", "condition_active", "cleared_at", "last_fired_at", "reopened_count",
                     "state_changed_at", "state_changed_by", "dispatched_to_kind", "dispatched_to", "due_at",
                     "dispatch_overdue", "fingerprint", "episode", "created_at"]
ALERT_COLUMNS = SPEC_COLUMNS + LIFECYCLE_COLUMNS
_TIME_COLUMNS = ("first_seen", "last_seen", "cleared_at", "last_fired_at", "state_changed_at", "due_at",
                 "created_at")
_CONTENT = ("detector", "level", "scope", "scope_id", "title", "evidence")


def make_alert_id(fingerprint: str, episode: int) -> str:
    """The alert_id of an episode of a fingerprint, e.g. A3f9c2b1d07-1 (deterministic)."""
    return f"A{hashlib.sha256(fingerprint.encode('utf-8')).hexdigest()[:10]}-{episode}"


def reconcile(db: AppDB, detected: pd.DataFrame, *, now: datetime, quiet_hours: float,
              closed_visible_days: int = 30) -> pd.DataFrame:
    """Merge one refresh's detected alerts into the lifecycle and return the alerts.parquet frame.

    `detected` has one row per firing condition: fingerprint, detector, level, scope, scope_id, title,
    evidence (JSON text), first_seen, last_seen (aware). A fingerprint continues its latest episode while
    it keeps firing or fires again within `quiet_hours` (hours) of the refresh that found it cleared (a
    closed alert is then reopened); otherwise it starts a new episode with a new alert_id. Alerts that
    stopped firing keep their state with condition_active false. Reconciling the same frame again
    changes nothing. Returned: every firing or open alert and closed ones closed within
    `closed_visible_days`, timestamps in `now`'s time zone. Run by one writer at a time (the refresh lock).
    """
    now_utc = _aware(now, "now")
    rows = _detected_rows(detected, now_utc)
    quiet = timedelta(hours=quiet_hours)
    with db.begin(write=True) as conn:
        latest = _latest_episodes(conn, [r["fingerprint"] for r in rows])
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        reopen: list[tuple[str, str]] = []
        firing: set[str] = set()
        for det in rows:
            cur = latest.get(det["fingerprint"])
            if cur is None or (not cur["condition_active"] and cur["cleared_at"] is not None
                               and now_utc - cur["cleared_at"] > quiet):
                episode = 1 if cur is None else cur["episode"] + 1
                alert_id = make_alert_id(det["fingerprint"], episode)
                firing.add(alert_id)
                inserts.append({**det, "alert_id": alert_id, "episode": episode, "condition_active": True,
                                "last_fired_at": now_utc, "cleared_at": None, "state": "new",
                                "state_changed_at": now_utc, "state_changed_by": SYSTEM_USER, "reopened_count": 0,
                                "dispatched_to_kind": None, "dispatched_to": None, "due_at": None,
                                "created_at": now_utc})
                events.append(_system_event(alert_id, now_utc, "open", to_state="new",
                                            payload={"level": det["level"], "episode": episode}))
                continue
            alert_id = cur["alert_id"]
            firing.add(alert_id)
            new = {c: det[c] for c in _CONTENT}
            new["first_seen"] = min(cur["first_seen"], det["first_seen"])
            new["last_seen"] = max(cur["last_seen"], det["last_seen"])
            new["last_fired_at"] = max(cur["last_fired_at"], now_utc)
            new["condition_active"], new["cleared_at"] = True, None
            if det["level"] != cur["level"]:
                events.append(_system_event(alert_id, now_utc, "level_change",
                                            payload={"from": cur["level"], "to": det["level"]}))
            if not cur["condition_active"]:
                if STATES[cur["state"]].is_closed:
                    reopen.append((alert_id, cur["state"]))
                else:
                    events.append(_system_event(alert_id, now_utc, "refire",
                                                payload={"cleared_at": cur["cleared_at"].isoformat()}))
            if any(new[k] != cur[k] for k in new):
                updates.append({"b_alert_id": alert_id, **{f"b_{k}": v for k, v in new.items()}})
        active = conn.execute(sa.select(alert_table.c.alert_id).where(alert_table.c.condition_active.is_(True)))
        for (alert_id,) in active.all():
            if alert_id not in firing:
                updates.append({"b_alert_id": alert_id, "b_condition_active": False, "b_cleared_at": now_utc})
                events.append(_system_event(alert_id, now_utc, "cleared"))
        if inserts:
            conn.execute(sa.insert(alert_table), inserts)
        _bulk_update(conn, updates)
        for alert_id, closed_state in reopen:
            # Guarded by the closed state, so a concurrent action is never overwritten.
            res = conn.execute(sa.update(alert_table)
                               .where(alert_table.c.alert_id == alert_id, alert_table.c.state == closed_state)
                               .values(state="new", state_changed_at=now_utc, state_changed_by=SYSTEM_USER,
                                       reopened_count=alert_table.c.reopened_count + 1, dispatched_to_kind=None,
                                       dispatched_to=None, due_at=None))
            if res.rowcount == 1:
                events.append(_system_event(alert_id, now_utc, "reopen", from_state=closed_state, to_state="new"))
        if events:
            conn.execute(sa.insert(event_table), events)
        frame = _alerts_frame(conn, now=now_utc, closed_visible_days=closed_visible_days)
    log.info("reconcile: %d firing, %d new, %d updated, %d events", len(rows), len(inserts), len(updates),
             len(events))
    return _localise(frame, now)


def _bulk_update(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """One executemany per set of changed columns (firing alerts share one, cleared ones another)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for u in updates:
        groups.setdefault(tuple(sorted(k for k in u if k != "b_alert_id")), []).append(u)
    for keys, params in groups.items():
        stmt = (sa.update(alert_table).where(alert_table.c.alert_id == sa.bindparam("b_alert_id"))
                .values({k[2:]: sa.bindparam(k) for k in keys}))
        conn.execute(stmt, params)


def _system_event(alert_id: str, at: datetime, action: str, *, from_state: str | None = None,
                  to_state: str | None = None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"alert_id": alert_id, "at": at, "who": SYSTEM_USER, "action": action, "from_state": from_state,
            "to_state": to_state, "note": "", "payload": payload}


def _latest_episodes(conn: Connection, fingerprints: Sequence[str]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for i in range(0, len(fingerprints), 500):  # bounded IN lists
        chunk = fingerprints[i:i + 500]
        for row in conn.execute(sa.select(alert_table).where(alert_table.c.fingerprint.in_(chunk))).mappings():
            prev = latest.get(row["fingerprint"])
            if prev is None or row["episode"] > prev["episode"]:
                latest[row["fingerprint"]] = dict(row)
    return latest


def _detected_rows(detected: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """Validated detector rows as dicts (sorted by fingerprint, so event order is deterministic)."""
    if len(detected) == 0:
        return []
    missing = [c for c in DETECTED_COLUMNS if c not in detected.columns]
    if missing:
        raise AlertError(f"detected alerts lack column(s) {missing}; expected {list(DETECTED_COLUMNS)}.")
    frame = detected.loc[:, list(DETECTED_COLUMNS)]
    fp = frame["fingerprint"]
    if fp.isna().any() or (fp.astype("str").str.strip() == "").any():
        raise AlertError("every detected alert needs a non-empty fingerprint.")
    dup = fp[fp.duplicated()].astype("str").unique().tolist()
    if dup:
        raise AlertError(f"fingerprint(s) {dup[:5]} occur more than once in the detected alerts; a detector "
                         f"must emit one row per firing condition.")
    for col, allowed in (("level", tuple(LEVEL_ORDER)), ("scope", SCOPES)):
        bad = sorted(set(frame[col].astype("str")) - set(allowed))
        if bad:
            raise AlertError(f"`{col}` was {bad[:5]} but is expected to be in {list(allowed)}.")
    times = {}
    for col in ("first_seen", "last_seen"):
        try:
            ts = pd.to_datetime(frame[col])
        except (ValueError, TypeError) as exc:
            raise AlertError(f"`{col}` of the detected alerts is not a timestamp column ({exc}).") from exc
        if ts.dt.tz is None:
            raise AlertError(f"`{col}` of the detected alerts has no time zone; localise it (e.g. Asia/Shanghai).")
        times[col] = ts.dt.tz_convert("UTC").dt.floor("us")
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        first, last = times["first_seen"].iloc[i], times["last_seen"].iloc[i]
        first = now if pd.isna(first) else first.to_pydatetime()
        last = now if pd.isna(last) else last.to_pydatetime()
        out.append({"fingerprint": str(row.fingerprint), "detector": str(row.detector), "level": str(row.level),
                    "scope": str(row.scope), "scope_id": "" if pd.isna(row.scope_id) else str(row.scope_id),
                    "title": str(row.title), "evidence": _evidence_text(row.evidence),
                    "first_seen": first, "last_seen": last})
    return sorted(out, key=lambda r: r["fingerprint"])


def _evidence_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "{}"
    return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)


def current_alerts(db: AppDB, *, now: datetime | None = None, closed_visible_days: int = 30) -> pd.DataFrame:
    """The alerts.parquet frame from the live app DB (states as of now), for pages after an action."""
    when = _when(now)
    with db.begin() as conn:
        frame = _alerts_frame(conn, now=when, closed_visible_days=closed_visible_days)
    return _localise(frame, now if now is not None else when)


def _alerts_frame(conn: Connection, *, now: datetime, closed_visible_days: int) -> pd.DataFrame:
    cutoff = now - timedelta(days=closed_visible_days)
    t = alert_table.c
    q = sa.select(alert_table).where(sa.or_(t.condition_active.is_(True), t.state.in_(OPEN_STATES),
                                            t.state_changed_at >= cutoff))
    rows = [dict(r) for r in conn.execute(q).mappings()]
    frame = pd.DataFrame(rows, columns=[c.name for c in alert_table.columns])
    for col in _TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
    frame["is_open"] = frame["state"].isin(OPEN_STATES).astype(bool)
    frame["condition_active"] = frame["condition_active"].astype(bool)
    frame["dispatch_overdue"] = ((frame["state"] == "dispatched") & (frame["due_at"] < pd.Timestamp(now))
                                 ).fillna(False).astype(bool)
    for col in ("episode", "reopened_count"):
        frame[col] = frame[col].astype("int64")
    frame["_rank"] = frame["level"].map(LEVEL_ORDER).fillna(len(LEVEL_ORDER))
    frame = frame.sort_values(["is_open", "_rank", "last_seen", "alert_id"], ascending=[False, True, False, True],
                              kind="stable")
    return frame[ALERT_COLUMNS].reset_index(drop=True)


def _localise(frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    tz = pd.Timestamp(now).tz
    out = frame.copy()
    if tz is not None:
        for col in _TIME_COLUMNS:
            out[col] = out[col].dt.tz_convert(tz)
    return out


# --- 复盘 tracker ------------------------------------------------------------------------------------

def recommendation_counts(db: AppDB, *, period: Literal["week", "month"], since: datetime,
                          until: datetime | None = None, timezone_name: str = "Asia/Shanghai") -> pd.DataFrame:
    """三项建议 per period from `since` to `until` (default now), zero-filled: one row per week (Monday
    start) or month in `timezone_name`, with period (2026-W47 / 2026-11), period_start, reviews,
    improve_work, improve_policy, accountability, total (recommendations)."""
    if period not in ("week", "month"):
        raise AlertError(f'`period` was "{period}" but is expected to be in ["week", "month"].')
    start, end = _aware(since, "since"), _when(until)
    with db.begin() as conn:
        rc, rv = recommendation_table.c, review_table.c
        recs = conn.execute(sa.select(rc.at, rc.kind).where(rc.at >= start, rc.at <= end)).all()
        revs = conn.execute(sa.select(rv.at).where(rv.at >= start, rv.at <= end)).all()
    freq = "W-SUN" if period == "week" else "M"

    def periods(times: Iterable[datetime]) -> pd.PeriodIndex:
        ts = pd.DatetimeIndex(pd.to_datetime(list(times), utc=True))
        return ts.tz_convert(timezone_name).tz_localize(None).to_period(freq)

    bounds = periods([start, end])
    index = pd.period_range(bounds[0], bounds[1], freq=freq)
    kinds = list(RECOMMENDATION_KINDS)
    counts = pd.DataFrame(0, index=index, columns=["reviews", *kinds], dtype="int64")
    if revs:
        counts["reviews"] = pd.Series(1, index=periods(r.at for r in revs)).groupby(level=0).sum() \
            .reindex(index, fill_value=0).astype("int64")
    if recs:
        rec = pd.DataFrame({"period": periods(r.at for r in recs), "kind": [r.kind for r in recs]})
        table = rec.groupby(["period", "kind"]).size().unstack(fill_value=0)
        for kind in kinds:
            if kind in table.columns:
                counts[kind] = table[kind].reindex(index, fill_value=0).astype("int64")
    counts["total"] = counts[kinds].sum(axis=1).astype("int64")
    starts = index.start_time.tz_localize(timezone_name)
    labels = [f"{s.isocalendar()[0]}-W{s.isocalendar()[1]:02d}" if period == "week" else s.strftime("%Y-%m")
              for s in starts]
    out = counts.reset_index(drop=True)
    out.insert(0, "period_start", starts)
    out.insert(0, "period", labels)
    return out


# --- helpers ---------------------------------------------------------------------------------------

def _who(who: str) -> str:
    who = (who or "").strip()
    if not who:
        raise AlertError("操作人不能为空 / `who` is required: pass the signed-in user's name or id.")
    if len(who) > 128:
        raise AlertError(f"`who` is {len(who)} characters; at most 128 are stored.")
    return who


def _aware(value: datetime, name: str) -> datetime:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise AlertError(f"`{name}` was {value!r} without a time zone; pass an aware datetime.")
    return ts.tz_convert("UTC").floor("us").to_pydatetime()  # databases keep microseconds


def _when(at: datetime | None) -> datetime:
    return datetime.now(timezone.utc) if at is None else _aware(at, "at")


def _jsonable(value: Any) -> Any:
    """Plain JSON types (timestamps as ISO text), so payloads store on every backend."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)
