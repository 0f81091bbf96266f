"""Scheduled refresh (SPEC §4): one APScheduler per installation behind a cross-process lock; status for pages."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

from dashboard import locks, snapshots
from dashboard.settings import Settings
from loaders.errors import ConfigError, GridwatchError, SchemaError

log = logging.getLogger(__name__)

LOCK_NAME = "scheduler.lock"
STATUS_NAME = "scheduler.json"
NO_SCHEDULER_ENV = "GRIDWATCH_NO_SCHEDULER"
REFRESH_JOB = "refresh"
RETRY_JOB = "refresh-retry"
FEED_JOB = "demo-feed"
FEED_LEAD_S = 5.0        # the demo feed runs this long before each refresh, so the refresh sees its rows
BACKOFF_FACTOR = 3       # retry waits: b, 3b, 9b … (each capped at half an interval)
LOCK_WAIT_S = 0.5        # a status probe holds the lock for microseconds; do not lose the start to one
_TAIL_BYTES = 64 * 1024  # history read from the end (~150 attempts); older successes: the snapshot's own time

Outcome = Literal["ok", "busy", "failed"]
StaleReason = Literal["failed", "old"]


class SchedulerBusy(GridwatchError):
    """Another process already runs the refresh scheduler for this data_dir."""

    exit_code = 7


# --------------------------------------------------------------------------------------------
# One refresh attempt
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobResult:
    """What one scheduled refresh attempt did. `retry_in_s` is set when another attempt should follow."""

    outcome: Outcome
    attempt: int = 0
    version: str | None = None
    cases: int | None = None
    seconds: float = 0.0
    error: str | None = None
    retry_in_s: float | None = None


def backoff_delays(settings: Settings) -> list[float]:
    """Seconds to wait before each retry: retry_backoff_seconds × 3^i, each at most half an interval."""
    r = settings.refresh
    cap = r.interval_minutes * 60 / 2
    return [min(r.retry_backoff_seconds * BACKOFF_FACTOR ** i, cap) for i in range(r.retries)]


def refresh_once(settings: Settings, *, attempt: int = 0) -> JobResult:
    """Run one refresh without waiting for the refresh lock; never raises.

    Another process refreshing (RefreshBusy) is "busy", not a failure, and not retried. A failure is
    already in history.jsonl (the pipeline records it); config and schema errors need a person, so
    only the others are retried, after `backoff_delays`.
    """
    t0 = time.monotonic()
    try:
        from dashboard.pipeline import RefreshBusy, refresh
    except Exception as exc:  # noqa: BLE001 - a broken install must show as a failed refresh, not vanish
        error = _one_line(f"cannot load the refresh pipeline: {exc}")
        now = datetime.now(timezone.utc).isoformat()
        snapshots.record_history(settings.data_path, {"started_at": now, "finished_at": now, "ok": False,
                                                      "error": error, "durations": {}})
        return JobResult("failed", attempt=attempt, error=error)
    try:
        snap = refresh(settings, wait_s=0)
    except RefreshBusy:
        return JobResult("busy", attempt=attempt, seconds=time.monotonic() - t0)
    except Exception as exc:  # noqa: BLE001 - a scheduled job must survive any failure and report it
        delays = backoff_delays(settings)
        retry = None if isinstance(exc, (ConfigError, SchemaError)) or attempt >= len(delays) else delays[attempt]
        return JobResult("failed", attempt=attempt, seconds=time.monotonic() - t0,
                         error=_one_line(str(exc) or type(exc).__name__), retry_in_s=retry)
    cases = snap.manifest.get("row_counts", {}).get("cases")
    return JobResult("ok", attempt=attempt, version=snap.version, cases=cases, seconds=time.monotonic() - t0)


def _one_line(text: str, limit: int = 300) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The scheduler lock
# --------------------------------------------------------------------------------------------

def _acquire_lock(data_dir: Path, *, wait_s: float = LOCK_WAIT_S) -> IO[str] | None:
    """The exclusive scheduler lock (held until the file is closed), or None when another holds it."""
    return locks.acquire(data_dir / LOCK_NAME, wait_s=wait_s, poll_s=0.05)


def scheduler_running(data_dir: Path) -> bool:
    """True while some process (this one included) holds the scheduler lock of `data_dir`."""
    path = Path(data_dir) / LOCK_NAME
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def lock_holder(data_dir: Path) -> str:
    """Who holds the scheduler lock, as written by the holder ("pid 123 on host")."""
    try:
        return (Path(data_dir) / LOCK_NAME).read_text(encoding="utf-8").strip() or "unknown process"
    except OSError:
        return "unknown process"


def in_app_enabled(settings: Settings) -> bool:
    """Whether the Streamlit process should try to run the scheduler (setting, unless $GRIDWATCH_NO_SCHEDULER)."""
    if os.environ.get(NO_SCHEDULER_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    return settings.refresh.in_app_scheduler


# --------------------------------------------------------------------------------------------
# The scheduler
# --------------------------------------------------------------------------------------------

@dataclass
class SchedulerHandle:
    """A started scheduler (`is_scheduler`), or a note that another process runs it (`holder`)."""

    settings: Settings
    is_scheduler: bool
    holder: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    _scheduler: Any = None
    _lock: IO[str] | None = None
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    last_result: JobResult | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.data_path

    def next_run(self) -> datetime | None:
        """Next refresh attempt (a pending retry if it comes first), UTC; None when not scheduling."""
        if not self.is_scheduler or self._scheduler is None:
            return None
        now = datetime.now(timezone.utc)
        times = []
        for job_id in (REFRESH_JOB, RETRY_JOB):
            job = self._scheduler.get_job(job_id)
            if job is None:
                continue
            when = job.next_run_time
            if when is not None and when < now and job_id == REFRESH_JOB:
                when = job.trigger.get_next_fire_time(None, now)  # the running one is not "next"
            if when is not None:
                times.append(when.astimezone(timezone.utc))
        return min(times) if times else None

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop scheduling (waiting for a running refresh when `wait`), then release the lock."""
        sched, self._scheduler = self._scheduler, None
        if sched is not None and sched.running:
            sched.shutdown(wait=wait)
        with self._mutex:  # no status write after this point
            if self._lock is not None:
                try:
                    (self.data_dir / STATUS_NAME).unlink(missing_ok=True)
                except OSError:
                    pass
                self._lock.close()
                self._lock = None
            self.is_scheduler = False

    # -- jobs (run in the scheduler's threads; never touch Streamlit) --

    def run_refresh(self, attempt: int = 0) -> JobResult:
        try:
            result = refresh_once(self.settings, attempt=attempt)
            self.last_result = result
            self._log(result)
            sched = self._scheduler
            if sched is not None:
                if result.retry_in_s is not None:
                    when = datetime.now(timezone.utc) + timedelta(seconds=result.retry_in_s)
                    sched.add_job(self.run_refresh, "date", run_date=when, args=[attempt + 1], id=RETRY_JOB,
                                  replace_existing=True, name="refresh retry")
                elif result.outcome == "ok":
                    self._drop_retry()
            return result
        finally:
            self.write_status()

    def run_feed(self) -> dict[str, int]:
        from dashboard.livefeed import feed_once

        try:
            counts = feed_once(self.settings)
        except Exception as exc:  # noqa: BLE001 - the demo feed must never stop the schedule
            log.warning("示例数据新增失败 / demo feed failed: %s", _one_line(str(exc) or type(exc).__name__))
            return {}
        log.info("示例数据 / demo feed: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
        return counts

    def _drop_retry(self) -> None:
        from apscheduler.jobstores.base import JobLookupError

        try:
            if self._scheduler is not None:
                self._scheduler.remove_job(RETRY_JOB)
        except JobLookupError:
            pass

    def _log(self, r: JobResult) -> None:
        tries = len(backoff_delays(self.settings)) + 1
        if r.outcome == "ok":
            log.info("刷新完成 / refresh ok: snapshot %s, %s cases, %.1f s", r.version, r.cases, r.seconds)
        elif r.outcome == "busy":
            log.info("跳过：另一进程正在刷新 / skipped: another process is refreshing")
        elif r.retry_in_s is not None:
            log.warning("刷新失败 / refresh failed (attempt %d of %d): %s — retry in %.0f s",
                        r.attempt + 1, tries, r.error, r.retry_in_s)
        else:
            log.warning("刷新失败 / refresh failed (attempt %d of %d): %s — giving up until the next "
                        "scheduled run", r.attempt + 1, tries, r.error)

    def write_status(self) -> None:
        """Write `<data_dir>/scheduler.json` (pid, host, started_at, interval, next_run) atomically."""
        with self._mutex:
            if not self.is_scheduler:
                return
            nxt = self.next_run()
            doc = {
                "pid": os.getpid(), "host": socket.gethostname(),
                "started_at": self.started_at.isoformat(),
                "interval_minutes": self.settings.refresh.interval_minutes,
                "next_run": nxt.isoformat() if nxt else None,
                "demo_feed": feed_enabled(self.settings),
                "updated_at": datetime.now(timezone.utc).isoformat(),
            }
            path = self.data_dir / STATUS_NAME
            tmp = path.with_name(f".{STATUS_NAME}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, path)


def feed_enabled(settings: Settings) -> bool:
    return settings.demo.enabled and settings.demo.live_feed


def start_scheduler(settings: Settings) -> SchedulerHandle:
    """Start the refresh schedule in background threads if no other process runs it for this data_dir.

    One interval job (`refresh.interval_minutes`; coalesce, one instance at a time, misfire grace),
    first run `refresh.first_run_delay_seconds` after start; failures are retried with backoff by a
    one-off job. In demo mode with `demo.live_feed`, a feed job runs FEED_LEAD_S before each refresh.
    When another process holds the scheduler lock the handle says so (`is_scheduler` False) and nothing
    runs here.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    data_dir = settings.data_path
    lock = _acquire_lock(data_dir)
    if lock is None:
        return SchedulerHandle(settings=settings, is_scheduler=False, holder=lock_holder(data_dir))
    r = settings.refresh
    tz = ZoneInfo(settings.timezone)
    handle = SchedulerHandle(settings=settings, is_scheduler=True, _lock=lock)
    # The scheduling process cleans up after a refresh that was killed earlier (a no-op while a
    # refresh holds its lock; readers never see the leftovers either way).
    left = snapshots.recover(data_dir)
    if left:
        log.info("removed leftovers of an interrupted refresh: %s", ", ".join(left))
    try:
        sched = BackgroundScheduler(
            timezone=tz, executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": r.misfire_grace_seconds})
        first = datetime.now(tz) + timedelta(seconds=r.first_run_delay_seconds)
        # next_run_time is explicit: a trigger whose start_date passed while the scheduler started
        # would otherwise skip straight to start_date + interval.
        if feed_enabled(settings):
            sched.add_job(handle.run_feed, IntervalTrigger(minutes=r.interval_minutes, start_date=first, timezone=tz),
                          next_run_time=first, id=FEED_JOB, name="demo live feed")
            first += timedelta(seconds=FEED_LEAD_S)
        sched.add_job(handle.run_refresh, IntervalTrigger(minutes=r.interval_minutes, start_date=first, timezone=tz),
                      next_run_time=first, id=REFRESH_JOB, name="refresh")
        handle._scheduler = sched
        sched.start()
        handle.write_status()
    except BaseException:
        handle.shutdown(wait=False)
        raise
    log.info("定时刷新已启动 / scheduler started: every %d min, first run at %s (pid %d)",
             r.interval_minutes, first.strftime("%H:%M:%S"), os.getpid())
    return handle


def run_worker(settings: Settings) -> None:
    """Run the schedule in the foreground until SIGTERM or SIGINT; raises SchedulerBusy if another runs it."""
    handle = start_scheduler(settings)
    if not handle.is_scheduler:
        raise SchedulerBusy(
            f"另一个定时刷新进程已在运行 / another scheduler already runs for {settings.data_path} "
            f"({handle.holder}; lock {settings.data_path / LOCK_NAME}). Stop it first, or set "
            f"refresh.in_app_scheduler = false so the app leaves scheduling to this worker.")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
        log.info("正在停止 / stopping (waiting for a running refresh to finish) …")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        handle.shutdown(wait=True)
    log.info("已停止 / stopped")


# --------------------------------------------------------------------------------------------
# Status for pages (any process)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefreshStatus:
    """Refresh health, from history.jsonl and scheduler.json; times are UTC-aware.

    `stale` is True when the last attempt failed or the last success is older than
    `refresh.stale_after_intervals` × `refresh.interval_minutes`; `stale_reason` says which.
    """

    interval_minutes: int
    last_success_at: datetime | None = None
    last_success_version: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_attempt_ok: bool | None = None
    next_run_at: datetime | None = None
    scheduler_running: bool = False
    scheduler_pid: int | None = None
    scheduler_host: str | None = None
    this_process: bool = False
    stale: bool = False
    stale_reason: StaleReason | None = None
    age_minutes: float | None = None


def refresh_status(settings: Settings, *, now: datetime | None = None) -> RefreshStatus:
    """The refresh status of `settings.data_path`, readable from any process (cheap: reads two small files)."""
    now = now or datetime.now(timezone.utc)
    data_dir = settings.data_path
    entries = read_history_tail(data_dir)
    ok = [e for e in entries if e.get("ok")]
    failed = [e for e in entries if not e.get("ok")]
    last_ok_at = _parse_time(ok[-1].get("finished_at")) if ok else None
    last_ok_version = ok[-1].get("version") if ok else None
    if last_ok_at is None:
        last_ok_at, last_ok_version = _current_snapshot_time(data_dir)
    last_attempt_ok = bool(entries[-1].get("ok")) if entries else (True if last_ok_at else None)

    running = scheduler_running(data_dir)
    info = read_scheduler_file(data_dir) if running else {}
    pid = info.get("pid") if isinstance(info.get("pid"), int) else None
    host = info.get("host")
    this = running and pid == os.getpid() and host == socket.gethostname()

    age = (now - last_ok_at).total_seconds() / 60 if last_ok_at else None
    limit = settings.refresh.stale_after_intervals * settings.refresh.interval_minutes
    reason: StaleReason | None = None
    if last_attempt_ok is False:
        reason = "failed"
    elif age is not None and age > limit:
        reason = "old"
    return RefreshStatus(
        interval_minutes=settings.refresh.interval_minutes,
        last_success_at=last_ok_at, last_success_version=last_ok_version,
        last_error=failed[-1].get("error") if failed else None,
        last_error_at=_parse_time(failed[-1].get("finished_at")) if failed else None,
        last_attempt_ok=last_attempt_ok,
        next_run_at=_parse_time(info.get("next_run")),
        scheduler_running=running, scheduler_pid=pid, scheduler_host=host if isinstance(host, str) else None,
        this_process=this, stale=reason is not None, stale_reason=reason, age_minutes=age,
    )


def read_history_tail(data_dir: Path, *, max_bytes: int = _TAIL_BYTES) -> list[dict[str, Any]]:
    """The newest refresh attempts of history.jsonl, oldest first, reading at most `max_bytes` from its end."""
    path = snapshots.snapshots_dir(data_dir) / snapshots.HISTORY
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - max_bytes)
            fh.seek(start)
            blob = fh.read()
    except FileNotFoundError:
        return []
    lines = blob.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line is cut
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def read_scheduler_file(data_dir: Path) -> dict[str, Any]:
    try:
        doc = json.loads((Path(data_dir) / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _current_snapshot_time(data_dir: Path) -> tuple[datetime | None, str | None]:
    """created_at and version of the current snapshot (when history.jsonl has no success in its tail)."""
    from loaders.errors import SnapshotError

    try:
        snap = snapshots.open_current(data_dir)
    except SnapshotError:
        return None, None
    return _parse_time(snap.manifest.get("created_at")), snap.version
