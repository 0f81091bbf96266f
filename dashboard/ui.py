"""Shared Streamlit helpers: settings, the current snapshot (cached by version), scheduler, banners, errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import scheduler, snapshots
from dashboard.settings import Settings, load_settings
from dashboard.texts import t
from loaders.errors import GridwatchError


def settings() -> Settings:
    """Settings of this run (a small TOML parse; re-read so a changed config applies on the next rerun)."""
    return load_settings()


def current_snapshot() -> snapshots.Snapshot:
    return snapshots.open_current(settings().data_path)


@st.cache_data(show_spinner=False, max_entries=32)
def read_table(data_dir: str, version: str, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A snapshot table; cached by (version, name, columns) so reruns do not re-read Parquet."""
    snap = snapshots.Snapshot(root=snapshots.snapshots_dir(Path(data_dir)), version=version, manifest={})
    return snapshots.read_table(snap, name, list(columns) if columns else None)


def table(snap: snapshots.Snapshot, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    return read_table(str(settings().data_path), snap.version, name, columns)


def start_background_refresh() -> scheduler.SchedulerHandle | None:
    """Run the refresh schedule in this process if configured and no other process runs it (app.py).

    Off with refresh.in_app_scheduler = false or $GRIDWATCH_NO_SCHEDULER=1 (tests). When the process
    that held the scheduler lock has gone, this process takes over on its next rerun.
    """
    try:
        s = settings()
    except GridwatchError:
        return None  # the page shows the configuration error
    if not scheduler.in_app_enabled(s):
        return None
    handle = _scheduler_for(str(s.data_path))
    if not handle.is_scheduler and not scheduler.scheduler_running(s.data_path):
        _scheduler_for.clear()
        handle = _scheduler_for(str(s.data_path))
    return handle


@st.cache_resource(show_spinner=False)
def _scheduler_for(data_dir: str) -> scheduler.SchedulerHandle:
    """One scheduler per process and data_dir (shared object: callers only read it; jobs never call st.*)."""
    return scheduler.start_scheduler(settings())


def refresh_status() -> scheduler.RefreshStatus | None:
    """Last success, last error, next run and staleness of the refresh (None when the config is invalid)."""
    try:
        return scheduler.refresh_status(settings())
    except GridwatchError:
        return None


def format_time(when: datetime | None, tz: str) -> str:
    """HH:MM today, MM-DD HH:MM otherwise, in the configured time zone."""
    if when is None:
        return t("never")
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == datetime.now(zone).date() else f"{local:%m-%d %H:%M}"


def stale_message(status: scheduler.RefreshStatus, snap: snapshots.Snapshot | None, tz: str) -> str:
    """The stale-data banner text: the failed refresh (when, why) or how long the data has not changed."""
    if status.stale_reason == "failed":
        error = (status.last_error or "").strip()
        error = _escape_markdown(error if len(error) <= 160 else error[:159] + "…")
        created = snap.manifest.get("created_at") if snap is not None else None
        if created:
            shown = format_time(pd.Timestamp(created).to_pydatetime(), tz)
            return t("stale_failed").format(when=format_time(status.last_error_at, tz), error=error, shown=shown)
        return t("stale_failed_no_data").format(when=format_time(status.last_error_at, tz), error=error)
    return t("stale_old").format(minutes=int(status.age_minutes or 0),
                                 shown=format_time(status.last_success_at, tz))


def _escape_markdown(text: str) -> str:
    """Source error texts (paths, SQL) shown literally, not as Markdown or LaTeX."""
    return "".join("\\" + ch if ch in "\\`*_[]<>$~#|" else ch for ch in text)


def banners(snap: snapshots.Snapshot | None) -> None:
    """Banners at the top of every page: stale data (last refresh failed or too old), then 示例数据."""
    try:
        s: Settings | None = settings()
    except GridwatchError:
        s = None
    if s is not None:
        status = scheduler.refresh_status(s)
        if status.stale:
            st.error(stale_message(status, snap, s.timezone), icon="⚠️")
    if snap is not None and snap.skipped:  # corrupted newer versions were passed over (snapshots.open_current)
        st.warning(t("snapshot_skipped").format(shown=snap.version,
                                                 skipped=_escape_markdown("; ".join(snap.skipped))), icon="⚠️")
    if (s is not None and s.demo.enabled) or (snap is not None and snap.manifest.get("demo")):
        st.warning(t("demo_banner"), icon="🧪")


def refresh_sidebar() -> None:
    """Refresh status in the sidebar of every page: interval, last success/failure, next run, who schedules."""
    try:
        s = settings()
    except GridwatchError:
        return
    status = scheduler.refresh_status(s)
    tz = s.timezone
    lines = [f"**{t('refresh_heading')}** · {t('refresh_every').format(minutes=status.interval_minutes)}",
             t("refresh_last_ok").format(when=format_time(status.last_success_at, tz))]
    if status.last_attempt_ok is False:
        lines.append(t("refresh_last_error").format(when=format_time(status.last_error_at, tz)))
    if status.next_run_at is not None:
        lines.append(t("refresh_next").format(when=format_time(status.next_run_at, tz)))
    if status.this_process:
        lines.append(t("refresh_by_this"))
    elif status.scheduler_running:
        holder = f"PID {status.scheduler_pid}" if status.scheduler_pid else scheduler.lock_holder(s.data_path)
        lines.append(t("refresh_by_other").format(holder=holder))
    else:
        lines.append(t("refresh_no_scheduler"))
    st.sidebar.caption("  \n".join(lines))


def show_error(exc: GridwatchError) -> None:
    st.error(f"{t('error_prefix')}: {exc}")
