"""App DB: migrations, alert lifecycle with history, reconcile (ids, episodes, reopen), audit log, 复盘 counts.

Every lifecycle test runs on SQLite (a file under tmp_path) and on PostgreSQL (a fresh schema per test in
the session's throwaway server).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import appdb, snapshots
from dashboard.appdb import (
    AlertError,
    AlertNotFound,
    AppDB,
    InvalidTransition,
    acknowledge,
    dismiss,
    dispatch,
    history,
    reconcile,
    resolve,
)
from dashboard.settings import settings_from_dict

T0 = pd.Timestamp("2026-11-20 09:00", tz="Asia/Shanghai")
QUIET = 72.0


def detected(*rows: tuple[str, str], at: pd.Timestamp = T0) -> pd.DataFrame:
    """A detector frame: one (fingerprint, level) per firing condition, evidence seen in the last day."""
    return pd.DataFrame({
        "fingerprint": [fp for fp, _ in rows],
        "detector": [fp.split("|")[0] for fp, _ in rows],
        "level": [level for _, level in rows],
        "scope": "township",
        "scope_id": [fp.split("|")[-1] for fp, _ in rows],
        "title": [f"{fp} 预警" for fp, _ in rows],
        "evidence": [f'{{"fingerprint": "{fp}", "level": "{level}"}}' for fp, level in rows],
        "first_seen": at - timedelta(days=1),
        "last_seen": at,
    })


SIZE = "collective_size|T01"
SURGE = "surge|T02"


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.db)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty app DB: a SQLite file, or a fresh schema of the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite'}"
        return
    base = request.getfixturevalue("postgis_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[AppDB]:
    with appdb.open_app_db_url(db_url, busy_timeout_seconds=10) as opened:
        yield opened


def events_of(db: AppDB, alert_id: str) -> list[tuple[str, str | None, str | None]]:
    return [(e.action, e.from_state, e.to_state) for e in history(db, alert_id)]


def row(frame: pd.DataFrame, alert_id: str) -> pd.Series:
    hit = frame[frame["alert_id"] == alert_id]
    assert len(hit) == 1, f"{alert_id} not in the alerts frame"
    return hit.iloc[0]


def event_count(db: AppDB) -> int:
    with db.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(appdb.event_table)).scalar_one())


# --- migrations ----------------------------------------------------------------------------------

def test_migrations_create_schema_from_empty_and_are_idempotent(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with appdb.open_app_db_url(db_url) as db:
        assert appdb.schema_revision(db) == appdb.head_revision() is not None
        with db.begin() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"alerts", "alert_events", "audit_log", "reviews", "recommendations",
                    "alembic_version"} <= tables
            # The migrations build exactly the schema the code queries.
            assert compare_metadata(MigrationContext.configure(conn), appdb.metadata) == []
        reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)
    with appdb.open_app_db_url(db_url) as db:  # a second open (restart) migrates nothing and keeps the data
        assert appdb.schema_revision(db) == appdb.head_revision()
        assert list(appdb.current_alerts(db, now=T0)["fingerprint"]) == [SIZE]


def test_history_and_audit_log_are_append_only(db: AppDB) -> None:
    alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    acknowledge(db, alert_id, who="王芳")
    for table in ("alert_events", "audit_log"):
        for stmt in (f"UPDATE {table} SET who = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.begin(write=True) as conn:
                conn.exec_driver_sql(stmt)
    assert [e.who for e in history(db, alert_id)] == ["system", "王芳"]


# --- lifecycle -----------------------------------------------------------------------------------

def test_full_lifecycle_with_history_review_and_audit(db: AppDB) -> None:
    alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    t = T0 + timedelta(hours=1)
    assert [a.code for a in appdb.allowed_actions("new")] == ["acknowledge", "dismiss"]
    acknowledge(db, alert_id, who="联席办 王芳", note="已电话核实", at=t)
    dispatch(db, alert_id, who="联席办 王芳", to_unit="T01 迎新路街道", due_at=t + timedelta(days=3),
             note="请三日内化解", at=t + timedelta(minutes=5))
    dispatch(db, alert_id, who="联席办 王芳", to_leader="L07", due_at=t + timedelta(days=5),
             at=t + timedelta(minutes=6))  # re-dispatch to a leader
    live = appdb.get_alert(db, alert_id)
    assert (live["state"], live["dispatched_to_kind"], live["dispatched_to"]) == ("dispatched", "leader", "L07")
    resolve(db, alert_id, who="李明", note="诉求已解决", review_note="排查不及时",
            recommendations=[("改进工作", "每周走访"), ("improve_policy", "细化补偿标准"), ("追究责任", "约谈")],
            at=t + timedelta(days=2))

    events = history(db, alert_id)
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        ("open", None, "new"), ("acknowledge", "new", "acknowledged"),
        ("dispatch", "acknowledged", "dispatched"), ("dispatch", "dispatched", "dispatched"),
        ("resolve", "dispatched", "resolved")]
    assert [e.who for e in events] == ["system", "联席办 王芳", "联席办 王芳", "联席办 王芳", "李明"]
    assert events[1].note == "已电话核实" and events[1].at == t
    assert events[2].payload == {"to_kind": "unit", "to": "T01 迎新路街道",
                                 "due_at": (t + timedelta(days=3)).tz_convert("UTC").isoformat()}
    assert events[4].label() == "化解" and events[4].label("en") == "Resolve"
    assert [r["kind"] for r in events[4].payload["recommendations"]] == ["improve_work", "improve_policy",
                                                                         "accountability"]
    (review,) = appdb.alert_reviews(db, alert_id)
    assert review["note"] == "排查不及时" and review["who"] == "李明" and len(review["recommendations"]) == 3

    audit = appdb.audit_entries(db, object_type="alert", object_id=alert_id)
    assert list(audit["action"]) == ["resolve", "dispatch", "dispatch", "acknowledge"]  # newest first
    assert audit["details"].iloc[-1] == {"from_state": "new", "to_state": "acknowledged", "note": "已电话核实"}
    assert audit["who"].iloc[0] == "李明"

    frame = appdb.current_alerts(db, now=t + timedelta(days=2))
    r = row(frame, alert_id)
    assert (r["state"], r["is_open"], r["condition_active"]) == ("resolved", False, True)
    assert r["state_changed_by"] == "李明"


def test_dismiss_requires_a_reason(db: AppDB) -> None:
    alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    for reason in ("", "   "):
        with pytest.raises(AlertError, match="requires a reason"):
            dismiss(db, alert_id, who="王芳", reason=reason)
    acknowledge(db, alert_id, who="王芳")
    dismiss(db, alert_id, who="王芳", reason="重复登记，同一批人员")
    last = history(db, alert_id)[-1]
    assert (last.action, last.to_state, last.note) == ("dismiss", "dismissed", "重复登记，同一批人员")
    assert last.payload == {"reason": "重复登记，同一批人员"}


def test_invalid_transitions_fail_clearly(db: AppDB) -> None:
    alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    due = pd.Timestamp.now(tz="Asia/Shanghai") + timedelta(days=3)
    with pytest.raises(InvalidTransition, match="resolve is allowed only from dispatched"):
        resolve(db, alert_id, who="王芳")
    with pytest.raises(InvalidTransition, match="当前为「新」"):
        dispatch(db, alert_id, who="王芳", to_unit="T01", due_at=due)
    acknowledge(db, alert_id, who="王芳")
    with pytest.raises(InvalidTransition):
        acknowledge(db, alert_id, who="王芳")
    with pytest.raises(AlertError, match="exactly one of to_unit or to_leader"):
        dispatch(db, alert_id, who="王芳", to_unit="T01", to_leader="L1", due_at=due)
    with pytest.raises(AlertError, match="must be later"):
        dispatch(db, alert_id, who="王芳", to_unit="T01", due_at=T0 - timedelta(days=1))
    dispatch(db, alert_id, who="王芳", to_unit="T01", due_at=due)
    with pytest.raises(AlertError, match="recommendation kind"):
        resolve(db, alert_id, who="王芳", recommendations=[("表扬", "x")])
    with pytest.raises(AlertError, match="`who` is required"):
        resolve(db, alert_id, who=" ")
    resolve(db, alert_id, who="王芳")
    with pytest.raises(InvalidTransition):
        dismiss(db, alert_id, who="王芳", reason="迟到的误报")
    with pytest.raises(AlertNotFound):
        acknowledge(db, "A0000000000-1", who="王芳")
    with pytest.raises(AlertNotFound):
        history(db, "A0000000000-1")
    # Failed actions left no trace.
    assert [a for a, _, _ in events_of(db, alert_id)] == ["open", "acknowledge", "dispatch", "resolve"]
    assert len(appdb.audit_entries(db)) == 3


# --- reconcile -----------------------------------------------------------------------------------

def test_reconcile_keeps_ids_while_firing_and_is_idempotent(db: AppDB) -> None:
    frame = reconcile(db, detected((SIZE, "yellow"), (SURGE, "orange")), now=T0, quiet_hours=QUIET)
    ids = dict(zip(frame["fingerprint"], frame["alert_id"], strict=True))
    assert ids[SIZE] == appdb.make_alert_id(SIZE, 1) and ids[SIZE].endswith("-1")
    assert list(frame.columns[:9]) == appdb.SPEC_COLUMNS
    assert str(frame["last_seen"].dt.tz) == "Asia/Shanghai"
    assert list(frame["level"]) == ["orange", "yellow"]  # most severe first
    n_events = event_count(db)

    again = reconcile(db, detected((SIZE, "yellow"), (SURGE, "orange")), now=T0, quiet_hours=QUIET)
    pd.testing.assert_frame_equal(again, frame)
    assert event_count(db) == n_events  # nothing changed, nothing recorded

    t1 = T0 + timedelta(hours=6)
    later = reconcile(db, detected((SIZE, "red"), (SURGE, "orange"), at=t1), now=t1, quiet_hours=QUIET)
    assert dict(zip(later["fingerprint"], later["alert_id"], strict=True)) == ids
    size = row(later, ids[SIZE])
    assert size["level"] == "red" and size["last_seen"] == t1
    assert size["first_seen"] == T0 - timedelta(days=1)  # the episode's first evidence is kept
    assert events_of(db, ids[SIZE])[-1] == ("level_change", None, None)
    assert history(db, ids[SIZE])[-1].payload == {"from": "yellow", "to": "red"}


def test_cleared_alert_stays_visible_until_closed(db: AppDB) -> None:
    alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    t1 = T0 + timedelta(hours=1)
    frame = reconcile(db, detected(), now=t1, quiet_hours=QUIET)
    r = row(frame, alert_id)
    assert (r["state"], r["condition_active"], r["cleared_at"]) == ("new", False, t1)
    assert events_of(db, alert_id)[-1] == ("cleared", None, None)
    n_events = event_count(db)
    frame = reconcile(db, detected(), now=T0 + timedelta(days=20), quiet_hours=QUIET)
    assert row(frame, alert_id)["state"] == "new"  # still listed weeks later, nobody closed it
    assert event_count(db) == n_events

    acknowledge(db, alert_id, who="王芳", at=T0 + timedelta(days=20))
    dismiss(db, alert_id, who="王芳", reason="已核实不属实", at=T0 + timedelta(days=20))
    frame = reconcile(db, detected(), now=T0 + timedelta(days=21), quiet_hours=QUIET, closed_visible_days=30)
    assert row(frame, alert_id)["state"] == "dismissed"  # recently closed: still listed
    frame = reconcile(db, detected(), now=T0 + timedelta(days=51), quiet_hours=QUIET, closed_visible_days=30)
    assert alert_id not in set(frame["alert_id"])


def test_new_episode_after_quiet_time(db: AppDB) -> None:
    first = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    cleared = T0 + timedelta(hours=1)
    reconcile(db, detected(), now=cleared, quiet_hours=QUIET)
    # Fires again within the quiet time: the same alert continues.
    t2 = cleared + timedelta(hours=QUIET - 1)
    frame = reconcile(db, detected((SIZE, "red"), at=t2), now=t2, quiet_hours=QUIET)
    assert list(frame["alert_id"]) == [first]
    assert events_of(db, first)[-2:] == [("cleared", None, None), ("refire", None, None)]
    # Quiet for longer than quiet_hours: a new episode with a new id; the old open one stays listed.
    t3 = t2 + timedelta(hours=1)
    reconcile(db, detected(), now=t3, quiet_hours=QUIET)
    t4 = t3 + timedelta(hours=QUIET + 1)
    frame = reconcile(db, detected((SIZE, "red"), at=t4), now=t4, quiet_hours=QUIET)
    second = appdb.make_alert_id(SIZE, 2)
    assert set(frame["alert_id"]) == {first, second}
    assert (row(frame, second)["episode"], row(frame, second)["state"], row(frame, second)["condition_active"]) \
        == (2, "new", True)
    assert (row(frame, first)["state"], row(frame, first)["condition_active"]) == ("new", False)
    assert events_of(db, second) == [("open", None, "new")]


def test_closed_alert_that_fires_again_is_reopened(db: AppDB) -> None:
    alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    acknowledge(db, alert_id, who="王芳", at=T0)
    dispatch(db, alert_id, who="王芳", to_unit="T01", due_at=T0 + timedelta(days=3), at=T0)
    resolve(db, alert_id, who="王芳", at=T0 + timedelta(minutes=10))
    # Still firing on the next refresh (the detector's window has not moved on): it stays resolved.
    t1 = T0 + timedelta(minutes=15)
    frame = reconcile(db, detected((SIZE, "red")), now=t1, quiet_hours=QUIET)
    assert row(frame, alert_id)["state"] == "resolved"
    reconcile(db, detected(), now=t1 + timedelta(hours=1), quiet_hours=QUIET)
    t2 = t1 + timedelta(hours=5)
    frame = reconcile(db, detected((SIZE, "red"), at=t2), now=t2, quiet_hours=QUIET)
    r = row(frame, alert_id)
    assert (r["state"], r["is_open"], r["condition_active"], r["reopened_count"]) == ("new", True, True, 1)
    assert pd.isna(r["dispatched_to"]) and pd.isna(r["due_at"])
    assert events_of(db, alert_id)[-2:] == [("cleared", None, None), ("reopen", "resolved", "new")]
    acknowledge(db, alert_id, who="王芳")  # the lifecycle starts over


def test_ids_are_deterministic_across_fresh_databases(tmp_path: Path) -> None:
    steps = [
        (T0, detected((SIZE, "red"), (SURGE, "yellow"))),
        (T0 + timedelta(hours=1), detected((SURGE, "yellow"))),
        (T0 + timedelta(days=5), detected((SIZE, "orange"), (SURGE, "yellow"))),
        (T0 + timedelta(days=5, hours=1), detected(("backlog|T03", "blue"))),
        (T0 + timedelta(days=9), detected((SURGE, "red"), ("backlog|T03", "blue"))),
    ]
    runs = []
    for name in ("a", "b"):
        with appdb.open_app_db_url(f"sqlite:///{tmp_path / name}.sqlite") as db:
            out = []
            for i, (now, frame) in enumerate(steps):
                out.append(sorted(reconcile(db, frame, now=now, quiet_hours=QUIET)["alert_id"]))
                if name == "b" and i == 0:  # what users do never changes ids
                    acknowledge(db, out[0][0], who="王芳", at=now)
            runs.append(out)
    assert runs[0] == runs[1]
    assert appdb.make_alert_id(SIZE, 2) in runs[0][2] and appdb.make_alert_id(SURGE, 2) in runs[0][4]


def test_reconcile_rejects_malformed_detector_frames(tmp_path: Path) -> None:
    with appdb.open_app_db_url(f"sqlite:///{tmp_path / 'app.sqlite'}") as db:
        good = detected((SIZE, "red"))
        bad = {
            "lack column": good.drop(columns="evidence"),
            "more than once": pd.concat([good, good]),
            "`level` was": good.assign(level="purple"),
            "no time zone": good.assign(last_seen=T0.tz_localize(None)),
            "non-empty fingerprint": good.assign(fingerprint=""),
        }
        for message, frame in bad.items():
            with pytest.raises(AlertError, match=message):
                reconcile(db, frame, now=T0, quiet_hours=QUIET)
        assert len(reconcile(db, pd.DataFrame(), now=T0, quiet_hours=QUIET)) == 0


# --- concurrency, audit, tracker, settings -----------------------------------------------------------

def test_two_processes_acting_on_one_alert(db_url: str) -> None:
    with appdb.open_app_db_url(db_url, busy_timeout_seconds=10) as db:
        alert_id = reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=QUIET)["alert_id"][0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(who: str) -> None:
        with appdb.open_app_db_url(db_url, busy_timeout_seconds=10) as own:  # own engine, as another process
            barrier.wait()
            try:
                acknowledge(own, alert_id, who=who)
                outcomes.append("ok")
            except InvalidTransition as exc:
                outcomes.append(str(exc))

    threads = [threading.Thread(target=act, args=(who,)) for who in ("王芳", "李明")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(outcomes) == 2 and outcomes.count("ok") == 1
    assert "当前为「已签收」" in next(o for o in outcomes if o != "ok")  # the loser sees the winner's state
    with appdb.open_app_db_url(db_url) as db:
        assert [a for a, _, _ in events_of(db, alert_id)] == ["open", "acknowledge"]
        assert len(appdb.audit_entries(db)) == 1


def test_audit_rows_for_exports(db: AppDB) -> None:
    row_id = appdb.audit(db, user="王芳", action="export", object_type="report", object_id="周通报 2026-W47",
                         details={"format": "xlsx", "rows": 214, "as_of": T0})
    entries = appdb.audit_entries(db, object_type="report")
    assert list(entries["id"]) == [row_id]
    assert entries["details"][0] == {"format": "xlsx", "rows": 214, "as_of": T0.isoformat()}
    assert entries["at"][0] > pd.Timestamp.now(tz="UTC") - timedelta(minutes=1)
    with pytest.raises(AlertError, match="`who` is required"):
        appdb.audit(db, user="", action="export", object_type="report", object_id="x")


def test_recommendation_counts_per_period(db: AppDB) -> None:
    fps = [f"repeat_petitioner|T0{i}" for i in range(4)]
    frame = reconcile(db, detected(*[(fp, "yellow") for fp in fps]), now=T0, quiet_hours=QUIET)
    ids = dict(zip(frame["fingerprint"], frame["alert_id"], strict=True))
    # 2026-11-20 is a Friday (ISO week 47); resolutions on Sun 11-22 (W47), Mon 11-23 (W48), Tue 12-01 (W49).
    plan = [(fps[0], "2026-11-22 23:30", [("改进工作", "a"), ("追究责任", "b")]),
            (fps[1], "2026-11-23 00:30", [("改进工作", "c"), ("完善政策", "d"), ("完善政策", "e")]),
            (fps[2], "2026-12-01 10:00", []),  # a review without recommendations
            (fps[3], "2026-12-01 11:00", None)]  # no review at all
    for fp, when, recs in plan:
        at = pd.Timestamp(when, tz="Asia/Shanghai")
        acknowledge(db, ids[fp], who="王芳", at=T0)
        dispatch(db, ids[fp], who="王芳", to_unit="T01", due_at=T0 + timedelta(days=20), at=T0)
        resolve(db, ids[fp], who="王芳", review_note=None if recs is None else "复盘", recommendations=recs or [],
                at=at)
    weekly = appdb.recommendation_counts(db, period="week", since=T0, until=pd.Timestamp("2026-12-02", tz="UTC"))
    assert list(weekly["period"]) == ["2026-W47", "2026-W48", "2026-W49"]
    assert weekly["period_start"][1] == pd.Timestamp("2026-11-23", tz="Asia/Shanghai")
    assert weekly[["reviews", "improve_work", "improve_policy", "accountability", "total"]].values.tolist() == [
        [1, 1, 0, 1, 2], [1, 1, 2, 0, 3], [1, 0, 0, 0, 0]]
    monthly = appdb.recommendation_counts(db, period="month", since=T0 - timedelta(days=30),
                                          until=pd.Timestamp("2026-12-02", tz="UTC"))
    assert list(monthly["period"]) == ["2026-10", "2026-11", "2026-12"]
    assert list(monthly["total"]) == [0, 5, 0] and list(monthly["reviews"]) == [0, 2, 1]
    with pytest.raises(AlertError, match="`period`"):
        appdb.recommendation_counts(db, period="year", since=T0)  # type: ignore[arg-type]


def test_open_app_db_from_settings_survives_pruning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the migrations are found from any working directory
    settings = settings_from_dict({"data_dir": "data"}, base_dir=tmp_path)
    assert appdb.app_db_url(settings) == f"sqlite:///{tmp_path / 'data' / 'app.sqlite'}"
    with appdb.open_app_db(settings) as db:
        reconcile(db, detected((SIZE, "red")), now=T0, quiet_hours=settings.alerts.quiet_hours)
    snapshots.prune(tmp_path / "data", keep=2)
    with appdb.open_app_db(settings) as db:
        assert len(appdb.current_alerts(db, now=T0)) == 1
    rel = settings_from_dict({"app_db": {"url": "sqlite:///state/gw.sqlite"}}, base_dir=tmp_path)
    assert appdb.app_db_url(rel) == f"sqlite:///{tmp_path / 'state' / 'gw.sqlite'}"
    assert (settings.alerts.quiet_hours, settings.app_db.busy_timeout_seconds) == (72.0, 30.0)


def test_head_revision_constant_matches_the_migrations() -> None:
    """appdb.migrate skips Alembic when the DB is at HEAD_REVISION: it must be the real head."""
    assert appdb.HEAD_REVISION == appdb.head_revision()
