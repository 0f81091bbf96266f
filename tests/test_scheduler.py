"""Scheduled refresh: status from history, the scheduler lock, retries with backoff, the worker, the stale banner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashboard import scheduler, snapshots
from dashboard.settings import Settings, settings_from_dict

APP = str(Path(__file__).resolve().parent.parent / "app.py")
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)


def make_settings(tmp_path: Path, **refresh: object) -> Settings:
    """Settings whose sources do not exist (every refresh fails fast with SourceError)."""
    return settings_from_dict({
        "data_dir": "data",
        "sources": {"grid": {"url": "sqlite:///missing/grid.sqlite"}, "case": {"url": "sqlite:///missing/case.sqlite"}},
        "refresh": {"interval_minutes": 5, **refresh},
    }, base_dir=tmp_path)


def write_history(settings: Settings, *entries: tuple[bool, datetime]) -> None:
    for ok, when in entries:
        entry = {"started_at": when.isoformat(), "finished_at": when.isoformat(), "ok": ok}
        entry.update({"version": f"v-{when:%H%M}"} if ok else {"error": "数据源 case: cannot connect"})
        snapshots.record_history(settings.data_path, entry)


# --- status from history.jsonl ------------------------------------------------------------------

def test_status_fresh_after_a_recent_success(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    write_history(s, (False, NOW - timedelta(minutes=8)), (True, NOW - timedelta(minutes=2)))
    with open(snapshots.snapshots_dir(s.data_path) / snapshots.HISTORY, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")  # a torn line is skipped
    st = scheduler.refresh_status(s, now=NOW)
    assert not st.stale and st.stale_reason is None and st.last_attempt_ok is True
    assert st.last_success_at == NOW - timedelta(minutes=2) and st.last_success_version == "v-0758"
    assert st.last_error_at == NOW - timedelta(minutes=8) and "cannot connect" in (st.last_error or "")
    assert not st.scheduler_running and not st.this_process and st.next_run_at is None


def test_status_stale_when_last_attempt_failed(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    write_history(s, (True, NOW - timedelta(minutes=1)), (False, NOW))
    st = scheduler.refresh_status(s, now=NOW)
    assert st.stale and st.stale_reason == "failed" and st.last_attempt_ok is False
    assert st.last_error_at == NOW and st.last_success_at == NOW - timedelta(minutes=1)


@pytest.mark.parametrize(("minutes", "stale"), [(14, False), (16, True)])
def test_status_stale_after_three_intervals(tmp_path: Path, minutes: int, stale: bool) -> None:
    s = make_settings(tmp_path)  # 3 × 5 min
    write_history(s, (True, NOW - timedelta(minutes=minutes)))
    st = scheduler.refresh_status(s, now=NOW)
    assert st.stale is stale and st.stale_reason == ("old" if stale else None)
    assert st.age_minutes == pytest.approx(minutes)


def test_status_without_any_refresh(tmp_path: Path) -> None:
    st = scheduler.refresh_status(make_settings(tmp_path), now=NOW)
    assert not st.stale and st.last_attempt_ok is None and st.last_success_at is None


# --- one attempt: retries, backoff, RefreshBusy -------------------------------------------------

def test_backoff_is_bounded() -> None:
    s = settings_from_dict({"refresh": {"interval_minutes": 1, "retries": 3, "retry_backoff_seconds": 10}})
    assert scheduler.backoff_delays(s) == [10, 30, 30]  # capped at half an interval
    s = settings_from_dict({"refresh": {"retries": 3}})
    assert scheduler.backoff_delays(s) == [10, 30, 90]


def test_failed_refresh_asks_for_retries_then_gives_up(tmp_path: Path) -> None:
    s = make_settings(tmp_path, retries=2, retry_backoff_seconds=0.01)
    results = [scheduler.refresh_once(s, attempt=a) for a in range(3)]
    assert [r.outcome for r in results] == ["failed"] * 3
    assert [r.retry_in_s for r in results] == [0.01, 0.03, None]
    assert "file not found" in (results[0].error or "")
    history = snapshots.read_history(s.data_path)
    assert [e["ok"] for e in history] == [False, False, False]


def test_refresh_busy_is_not_a_failure(tmp_path: Path) -> None:
    from dashboard.pipeline import refresh_lock

    s = make_settings(tmp_path, retries=2, retry_backoff_seconds=0.01)
    with refresh_lock(s.data_path):
        result = scheduler.refresh_once(s)
    assert result.outcome == "busy" and result.retry_in_s is None and result.error is None
    assert snapshots.read_history(s.data_path) == []
    assert not scheduler.refresh_status(s).stale


def test_scheduled_job_retries_with_backoff(tmp_path: Path) -> None:
    s = make_settings(tmp_path, first_run_delay_seconds=0, retries=2, retry_backoff_seconds=0.05)
    handle = scheduler.start_scheduler(s)
    try:
        assert handle.is_scheduler
        deadline = time.monotonic() + 30
        while len(snapshots.read_history(s.data_path)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # no fourth attempt before the next interval
        history = snapshots.read_history(s.data_path)
        assert [e["ok"] for e in history] == [False, False, False]
        assert handle.last_result is not None and handle.last_result.retry_in_s is None
        st = scheduler.refresh_status(s)
        assert st.stale and st.stale_reason == "failed" and st.this_process and st.scheduler_running
        assert st.next_run_at is not None and st.next_run_at > datetime.now(timezone.utc)
    finally:
        handle.shutdown()


# --- one scheduler per data_dir -----------------------------------------------------------------

def test_only_one_scheduler_per_data_dir(tmp_path: Path) -> None:
    s = make_settings(tmp_path, first_run_delay_seconds=3600)
    first = scheduler.start_scheduler(s)
    second = scheduler.start_scheduler(s)  # a second lock handle, as another process would hold
    try:
        assert first.is_scheduler and not second.is_scheduler
        assert f"pid {os.getpid()}" in second.holder
        doc = json.loads((s.data_path / scheduler.STATUS_NAME).read_text(encoding="utf-8"))
        assert doc["pid"] == os.getpid() and doc["next_run"]
        st = scheduler.refresh_status(s)
        assert st.scheduler_running and st.this_process and st.scheduler_pid == os.getpid()
        assert st.next_run_at is not None
    finally:
        second.shutdown()
        first.shutdown()
    assert not scheduler.scheduler_running(s.data_path)
    third = scheduler.start_scheduler(s)
    try:
        assert third.is_scheduler
    finally:
        third.shutdown()


def test_in_app_scheduler_switches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scheduler.NO_SCHEDULER_ENV, raising=False)
    assert scheduler.in_app_enabled(make_settings(tmp_path))
    assert not scheduler.in_app_enabled(make_settings(tmp_path, in_app_scheduler=False))
    monkeypatch.setenv(scheduler.NO_SCHEDULER_ENV, "1")
    assert not scheduler.in_app_enabled(make_settings(tmp_path))


# --- gridwatch worker ---------------------------------------------------------------------------

def worker_config(tmp_path: Path, **refresh: object) -> Path:
    cfg = tmp_path / "gridwatch.toml"
    extra = "".join(f"{k} = {v}\n" for k, v in refresh.items())
    cfg.write_text('[sources.grid]\nurl = "sqlite:///missing/grid.sqlite"\n'
                   '[sources.case]\nurl = "sqlite:///missing/case.sqlite"\n'
                   f"[refresh]\n{extra}", encoding="utf-8")
    return cfg


def test_worker_help() -> None:
    from typer.testing import CliRunner

    from dashboard.cli import app

    res = CliRunner().invoke(app, ["worker", "--help"])
    assert res.exit_code == 0 and "--config" in res.output and "SIGTERM" in res.output


def test_worker_refuses_when_another_scheduler_runs(tmp_path: Path) -> None:
    cfg = worker_config(tmp_path)
    held = scheduler._acquire_lock(tmp_path / "data")  # as a running app or worker holds it
    assert held is not None
    try:
        res = subprocess.run([sys.executable, "-m", "dashboard.cli", "worker", "--config", str(cfg)],
                             capture_output=True, text=True, timeout=120)
    finally:
        held.close()
    assert res.returncode == scheduler.SchedulerBusy.exit_code
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "another scheduler already runs" in lines[0] and "Traceback" not in res.stderr


def test_worker_runs_until_sigterm(tmp_path: Path) -> None:
    cfg = worker_config(tmp_path, first_run_delay_seconds=3600)
    log = tmp_path / "worker.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "worker", "--config", str(cfg)],
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while "scheduler started" not in log.read_text(encoding="utf-8"):
                assert proc.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.1)
            assert scheduler.scheduler_running(tmp_path / "data")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text(encoding="utf-8")
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "stopped" in log.read_text(encoding="utf-8")
    assert not scheduler.scheduler_running(tmp_path / "data")


# --- the stale banner on the page ---------------------------------------------------------------

def test_stale_banner_after_failed_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from dashboard.demo_data import build_demo
    from dashboard.pipeline import refresh
    from dashboard.settings import load_settings

    build_demo(tmp_path / "data" / "demo", cases=1000, grids=40)
    cfg = tmp_path / "gridwatch.toml"
    cfg.write_text("[demo]\nenabled = true\n", encoding="utf-8")
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(cfg))
    s = load_settings(cfg)
    refresh(s)

    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]
    assert any("定时刷新未运行" in c.value for c in at.sidebar.caption)  # tests never start a scheduler

    snapshots.record_history(s.data_path, {
        "started_at": datetime.now(timezone.utc).isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
        "ok": False, "error": "数据源 case: 无法连接 / cannot connect to 10.1.2.4:3306"})
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "最近一次刷新失败" in errors[0] and "cannot connect to 10.1.2.4:3306" in errors[0]
    assert "正在显示" in errors[0]
    assert any("示例数据" in w.value for w in at.warning)
    assert not scheduler.scheduler_running(s.data_path)
