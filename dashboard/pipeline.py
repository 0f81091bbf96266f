"""Refresh pipeline (SPEC §4): load → validate → WGS-84 → assign → deadlines → metrics → snapshot.

Incremental by default: the grid side is reused when the grid tables' content hash is unchanged,
and only cases with `updated_at` at or after the previous watermark (minus an overlap window) are
read and merged into the previous snapshot's cases. `full=True` rebuilds everything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import resource
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboard import appdb, locks, snapshots
from dashboard.settings import Settings
from geo.areas import fill_area_geometry
from geo.assign import FAR_REASON, assign_cases
from geo.deadlines import DEADLINE_COLUMNS, compute_deadlines
from geo.gridcheck import grid_issues
from geo.metrics import METRIC_INPUT_COLUMNS, apply_metric_deltas, compute_metrics, flag_repeats
from geo.warnings import CASE_COLUMNS as WARNING_CASE_COLUMNS
from geo.warnings import empty_alerts, empty_grid_stats, run_detectors, sensitive_period_in_force
from geo.privacy import mask_id_numbers, mask_names, mask_phones
from loaders.errors import GridwatchError, SnapshotError
from loaders.load import read_raw, source_tables, validate_raw
from loaders.sql import release_arrow_memory
from loaders.schema import ACTION_VALUE_CLEARED, CASES
from loaders.validate import (
    Rejections,
    check_parents,
    clear_unknown_codes,
    empty_rejected,
    isin_strings,
)

log = logging.getLogger(__name__)
LOCK_NAME = "refresh.lock"
WGS84_LIKE = ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490")
GRID_SIDE_TABLES = ("grids", "communities", "townships", "grid_issues", "grid_workers", "worker_grids",
                    "inspections")
CASE_SIDE_TABLES = ("leaders", "leader_areas", "leader_cases", "supervisions")
# Columns of a snapshot case row that come from the case itself (kept across incremental merges);
# everything else (leader_id, deadlines, lights) is derived afresh on every refresh.
CORE_EXTRA = ("coord_issue", "source_grid_id", "source_township_id", "grid_id", "community_id", "township_id",
              "assign_method")
CORE_COLUMNS = list(dict.fromkeys([*CASES.names, *CORE_EXTRA]))
RESTRICTED = "restricted/accusations"
RESTRICTED_COLUMNS = ["case_id", "summary", "subcategory", "address"]


@dataclass
class StepTimer:
    """Collects the duration of each named step, in seconds."""

    durations: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, int] = field(default_factory=dict)  # process peak so far, after each step

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.durations[name] = round(self.durations.get(name, 0.0) + time.perf_counter() - t0, 4)
            self.peak_rss_mb[name] = peak_rss_mb()


def peak_rss_mb() -> int:
    """This process's peak resident memory in MB (VmHWM; ru_maxrss would include a parent's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class RefreshBusy(GridwatchError):
    """Another refresh holds the lock."""

    exit_code = 6


@contextmanager
def refresh_lock(data_dir: Path, *, wait_s: float = 0.0) -> Iterator[None]:
    """Cross-process lock so only one refresh writes at a time; raises RefreshBusy after `wait_s`."""
    fh = locks.acquire(data_dir / LOCK_NAME, wait_s=wait_s, poll_s=0.2)
    if fh is None:
        raise RefreshBusy(
            f"另一个刷新正在进行 / another refresh is running (lock {data_dir / LOCK_NAME}). "
            f"Wait for it to finish, or pass --wait SECONDS.")
    try:
        yield
    finally:
        fh.close()


def refresh(settings: Settings, *, wait_s: float = 0.0, now: datetime | None = None,
            full: bool = False) -> snapshots.Snapshot:
    """Build and publish a new snapshot. On failure the previous snapshot stays current and the
    failure is appended to the history; the error is re-raised."""
    data_dir = settings.data_path
    started = datetime.now(timezone.utc)
    with refresh_lock(data_dir, wait_s=wait_s):
        snapshots.prune(data_dir, keep=settings.refresh.keep_versions)  # also clears a killed run's temp dir
        timer = StepTimer()
        try:
            version = _build(settings, timer, now=now, full=full)
        except BaseException as exc:
            snapshots.record_history(data_dir, {
                "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
                "ok": False, "error": str(exc) or type(exc).__name__, "durations": timer.durations,
            })
            raise
        snapshots.record_history(data_dir, {
            "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
            "ok": True, "version": version, "durations": timer.durations,
        })
    return snapshots.open_current(data_dir)


# --- orchestration ------------------------------------------------------------------------------

@dataclass
class Built:
    """Everything one refresh produces, before it is written."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejected: list[pd.DataFrame] = field(default_factory=list)
    reused: dict[str, Path] = field(default_factory=dict)  # table -> parquet of the previous version
    manifest: dict[str, Any] = field(default_factory=dict)
    # Same-day incremental refresh: unchanged cases keep their deadlines and their share of the
    # metrics; only the changed cases (old and new versions) are recomputed. None otherwise.
    same_day: SameDay | None = None
    previous_rejected: pd.DataFrame | None = None  # read once; both the grid and the case side use it
    # Same-day refreshes: the previous grids, townships, rejected rows, cases (the columns a same-day
    # refresh reads) and metrics, decoded on a background thread from the start of the refresh, while
    # the sources are read.
    prefetched: dict[str, Any] = field(default_factory=dict)

    def previous_table(self, prev: snapshots.Snapshot, name: str) -> pd.DataFrame:
        """A table of the previous snapshot: prefetched when it was, else read now."""
        ahead = self.prefetched.pop(name, None)
        if ahead is not None and ahead.exception() is None:
            return ahead.result()
        return snapshots.read_table(prev, name)

    def rejected_before(self, prev: snapshots.Snapshot) -> pd.DataFrame:
        """The previous snapshot's rejected rows (read on first use)."""
        if self.previous_rejected is None:
            self.previous_rejected = self.previous_table(prev, "rejected")
        return self.previous_rejected


@dataclass
class SameDay:
    """What a same-day incremental refresh reuses from the previous snapshot."""

    prev: snapshots.Snapshot
    base_len: int                 # the first base_len merged cases are unchanged previous rows
    base_deadlines: Any           # their deadline columns as the previous refresh computed them (pyarrow Table)
    old_changed: pd.DataFrame     # previous versions (core + deadline columns) of the re-read cases
    # Which previous snapshot rows are unchanged (Arrow boolean mask over the previous cases.parquet):
    # they are copied into the new file row group by row group on the writer thread, as they were
    # written (same deadlines, same 包案 table), never converted to pandas or recomputed.
    keep: Any = None
    previous_metrics: Any = None  # Future of the previous metrics.parquet, read while the merge goes on
    # The re-read cases with all their columns (the merged frame holds only what metrics and detectors
    # read): their deadlines and their rows of the new cases.parquet come from here.
    batch: pd.DataFrame | None = None


def _build(settings: Settings, timer: StepTimer, *, now: datetime | None, full: bool) -> str:
    as_of = _as_of(now, settings.timezone)
    prev = None if full else _previous(settings)
    built = Built()
    # The name for titles and alert evidence (the demo's comes from its outline file: read it once).
    named = prev is not None and prev.manifest.get("jurisdiction_name") is not None
    built.manifest["jurisdiction_name"] = prev.manifest["jurisdiction_name"] if named else _jurisdiction_name(settings)
    since = None
    if prev is not None:
        wm = pd.Timestamp(prev.manifest["watermarks"]["cases.updated_at"])
        since = wm - timedelta(minutes=settings.refresh.overlap_minutes)
    if prev is not None and _same_local_day(prev, as_of, settings.timezone):
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        # in the order they are needed; the grid side's are used when the grid tables did not change
        built.prefetched = {name: reader.submit(snapshots.read_table, prev, name)
                            for name in ("grids", "townships", "rejected")}
        built.prefetched.update({
            "cases": reader.submit(snapshots.read_arrow, prev, "cases", same_day_read_columns(settings)),
            "metrics": reader.submit(snapshots.read_table, prev, "metrics")})
        reader.shutdown(wait=False)
    version = snapshots.new_version()
    with snapshots.writing(settings.data_path, version) as folder, TableWriter(folder, built) as writer:
        # The case database is read (mostly I/O and Arrow, outside the GIL) while the grid side is
        # processed, and each table is written in the background as soon as it is final: the
        # refresh keeps both cores busy.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-case") as pool:
            t0 = time.perf_counter()
            pending = pool.submit(lambda: {t: read_raw(settings, "case", t, since=since if t == "cases" else None)
                                           for t in source_tables("case")})
            grids_reused = _grid_side(settings, prev, built, timer, as_of)
            writer.submit(*GRID_SIDE_TABLES)
            if not grids_reused:
                release_arrow_memory()
            with timer.step("read_case_wait"):
                raw_case = pending.result()
            if since is None:  # a whole case table was read; an incremental batch is small
                release_arrow_memory()
            timer.durations["read_case"] = round(time.perf_counter() - t0, 4)
        _case_side(settings, prev, since, raw_case, built, timer, as_of, reassign_base=not grids_reused)
        writer.submit(*CASE_SIDE_TABLES, RESTRICTED)
        cases = built.tables["cases"]
        with timer.step("deadlines"):
            deadlines = _deadlines(settings, built, cases, as_of)
        with timer.step("tables"):  # final now: encoded and written while metrics and detectors run
            built.tables["cases"] = _snapshot_table(built, cases, deadlines)
            writer.submit("cases")
        # Detectors and metrics only read the merged frame: run the detectors alongside.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warnings") as side:
            t_w = time.perf_counter()
            pending_warnings = side.submit(_warnings, settings, built, cases, deadlines, as_of)
            with timer.step("metrics"):
                metrics = _metrics(settings, built, cases, deadlines, as_of)
            with timer.step("warnings_wait"):
                detected = pending_warnings.result()
            timer.durations["warnings"] = round(time.perf_counter() - t_w, 4)
        built.tables["metrics"] = metrics
        writer.submit("metrics")
        built.same_day = None  # free the previous rows
        writer.submit("grid_stats")
        del cases, deadlines
        with timer.step("alerts"):
            built.tables["alerts"] = _alert_lifecycle(settings, detected, as_of)
        writer.submit("alerts")
        rejected = [r for r in built.rejected if len(r)]
        built.tables["rejected"] = (pd.concat(rejected, ignore_index=True) if rejected else empty_rejected())
        writer.submit("rejected")
        with timer.step("write_wait"):
            writer.wait()
        snapshots.write_manifest(folder, _manifest(settings, version, built, timer, as_of))
    snapshots.publish(settings.data_path, version, keep=settings.refresh.keep_versions)
    return version


def _same_local_day(prev: snapshots.Snapshot, as_of: pd.Timestamp, tz: str) -> bool:
    prev_as_of = pd.Timestamp(prev.manifest["as_of"]) if prev.manifest.get("as_of") else None
    return prev_as_of is not None and prev_as_of.tz_convert(tz).date() == as_of.tz_convert(tz).date()


def _same_day_eligible(prev: snapshots.Snapshot, built: Built, as_of: pd.Timestamp, tz: str, *,
                       reassign_base: bool) -> bool:
    """Whether unchanged cases keep their deadlines and metric shares: same local day, same grids,
    same 包案 table, and a previous snapshot that has metrics."""
    return (not reassign_base and _same_local_day(prev, as_of, tz)
            and prev.manifest.get("leader_hash") == built.manifest.get("leader_hash")
            and prev.file("metrics.parquet").exists())


def _deadlines(settings: Settings, built: Built, cases: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Deadlines and lights of every case; on a same-day incremental refresh unchanged cases keep theirs."""
    d = settings.deadlines

    def deadlines_of(frame: pd.DataFrame) -> pd.DataFrame:
        return compute_deadlines(frame, now=as_of, timezone=settings.timezone, yellow_days=d.yellow_days,
                                 backlog_days=d.backlog_days)

    same = built.same_day
    if same is None:
        return deadlines_of(cases)
    deadlines = _append_to_arrow(same.base_deadlines, deadlines_of(same.batch))
    deadlines.index = cases.index
    return deadlines


def _metrics(settings: Settings, built: Built, cases: pd.DataFrame, deadlines: pd.DataFrame,
             as_of: pd.Timestamp) -> pd.DataFrame:
    """Metrics; on a same-day incremental refresh the previous metrics plus the changed cases' new
    versions minus their old ones (metrics are sums over cases)."""
    m = settings.metrics

    def metrics_of(frame: pd.DataFrame, dl: pd.DataFrame, flags: np.ndarray | None = None) -> pd.DataFrame:
        return compute_metrics(
            frame, dl, built.tables["leader_cases"], now=as_of, jurisdiction_level=settings.jurisdiction_level,
            timezone=settings.timezone, evaluation_window_days=m.evaluation_window_days,
            collective_min_people=m.collective_min_people, day_units=tuple(m.day_units),
            backlog_days=settings.deadlines.backlog_days, history_days=m.history_days, repeat_flags=flags)

    same = built.same_day
    if same is None:
        return metrics_of(cases, deadlines)
    base, batch = cases.iloc[:same.base_len], cases.iloc[same.base_len:]
    # Repeat flags link cases of one petitioner: recompute all of theirs on both sides.
    keys = pd.concat([same.old_changed["petitioner_key"], batch["petitioner_key"]]).dropna().unique()
    kin = np.flatnonzero(isin_strings(base["petitioner_key"], keys).to_numpy())
    core = [c for c in cases.columns if c in METRIC_INPUT_COLUMNS]
    kin_rows, kin_dl = base[core].iloc[kin], deadlines.iloc[kin]
    plus = pd.concat([kin_rows, batch[core]], ignore_index=True)
    plus_dl = pd.concat([kin_dl, deadlines.iloc[same.base_len:]], ignore_index=True)
    minus = pd.concat([kin_rows, same.old_changed.reindex(columns=core)], ignore_index=True)
    minus_dl = pd.concat([kin_dl, same.old_changed[list(DEADLINE_COLUMNS)]], ignore_index=True)
    # A kin row whose repeat flag is the same on both sides adds exactly what it takes away: leave it
    # out of both, keeping the flags computed with it (they depend on the petitioner's earlier cases).
    plus_flags, minus_flags = flag_repeats(plus), flag_repeats(minus)
    n = len(kin)
    keep_plus = np.ones(len(plus), dtype=bool)
    keep_plus[:n] = plus_flags[:n] != minus_flags[:n]
    keep_minus = np.ones(len(minus), dtype=bool)
    keep_minus[:n] = keep_plus[:n]
    plus, plus_dl, plus_flags = plus[keep_plus], plus_dl[keep_plus], plus_flags[keep_plus]
    minus, minus_dl, minus_flags = minus[keep_minus], minus_dl[keep_minus], minus_flags[keep_minus]
    previous = same.previous_metrics.result()
    built.manifest["same_day_update"] = {"recomputed_cases": len(plus) + len(minus), "kin_cases": n}
    return apply_metric_deltas(previous, metrics_of(plus, plus_dl, plus_flags),
                               metrics_of(minus, minus_dl, minus_flags))


def _warnings(settings: Settings, built: Built, cases: pd.DataFrame, deadlines: pd.DataFrame,
              as_of: pd.Timestamp) -> pd.DataFrame:
    """Run the early-warning detectors (SPEC §8); grid_stats goes into the snapshot, alerts are returned."""
    w = settings.warnings
    if w.enabled:
        detected, grid_stats = run_detectors(
            cases, deadlines, built.tables["grids"], now=as_of, settings=w,
            jurisdiction_level=settings.jurisdiction_level, jurisdiction_name=built.manifest["jurisdiction_name"],
            timezone=settings.timezone, collective_min_people=settings.metrics.collective_min_people)
    else:
        detected, grid_stats = empty_alerts(settings.timezone), empty_grid_stats()
    built.tables["grid_stats"] = grid_stats
    built.manifest["sensitive_period"] = sensitive_period_in_force(as_of, w, timezone=settings.timezone)
    return detected


def _alert_lifecycle(settings: Settings, detected: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Give detected alerts their stable ids and lifecycle state from the app DB (alerts.parquet).

    The refresh lock makes this the only writer reconciling; user actions may run concurrently.
    Drill-down columns the detectors add (township_id, grid_ids) are joined back by fingerprint.
    """
    with appdb.open_app_db(settings) as db:
        if settings.warnings.enabled:
            alerts = appdb.reconcile(db, detected, now=as_of, quiet_hours=settings.alerts.quiet_hours,
                                     closed_visible_days=settings.alerts.closed_visible_days)
        else:  # reconciling an empty frame would mark every alert cleared
            alerts = appdb.current_alerts(db, now=as_of, closed_visible_days=settings.alerts.closed_visible_days)
    extra = [c for c in ("township_id", "grid_ids") if c in detected.columns]
    if extra and len(alerts):
        alerts = alerts.merge(detected[["fingerprint", *extra]], on="fingerprint", how="left")
    return alerts


def _jurisdiction_name(settings: Settings) -> str:
    """The configured name, else the demo district's name (for titles and alert evidence)."""
    if settings.jurisdiction_name or not settings.demo.enabled:
        return settings.jurisdiction_name
    try:
        from dashboard.demo_data import load_outline

        return load_outline(settings.demo.district_code)[0]
    except GridwatchError:
        return ""


def _as_of(now: datetime | None, tz: str) -> pd.Timestamp:
    ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz=tz)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _previous(settings: Settings) -> snapshots.Snapshot | None:
    """The current snapshot if an incremental refresh may build on it (same config, complete)."""
    try:
        snap = snapshots.open_current(settings.data_path)
    except SnapshotError:
        return None
    m = snap.manifest
    if m.get("config_hash") != settings.config_hash() or not m.get("watermarks", {}).get("cases.updated_at"):
        return None
    if m.get("pipeline") != PIPELINE_VERSION:
        return None
    built_full = pd.Timestamp(m.get("last_full_at") or m["created_at"])
    if datetime.now(timezone.utc) - built_full.to_pydatetime() > timedelta(hours=settings.refresh.full_every_hours):
        return None  # a periodic full rebuild picks up deletions and rows without updated_at
    return snap


PIPELINE_VERSION = 3  # bump when snapshot contents change meaning, to force a full rebuild


# --- grid side ----------------------------------------------------------------------------------

def _grid_side(settings: Settings, prev: snapshots.Snapshot | None, built: Built, timer: StepTimer,
               as_of: pd.Timestamp) -> bool:
    """Load the grid database. Returns True when the previous snapshot's grid side was reused."""
    with timer.step("read_grid"):
        raw = {t: read_raw(settings, "grid", t) for t in source_tables("grid")}
        digest = content_hash({t: r[0] for t, r in raw.items()})
    built.manifest["grid_hash"] = digest
    built.manifest["coord_sys"] = {t: r[2] for t, r in raw.items()}
    built.manifest["read_methods"] = {t: r[1] for t, r in raw.items()}
    built.manifest["rows_read"] = {t: len(r[0]) for t, r in raw.items()}
    if prev is not None and prev.manifest.get("grid_hash") == digest:
        with timer.step("reuse_grid"):
            for name in GRID_SIDE_TABLES:  # hard-linked into the new version; only grids and townships are used
                built.tables[name] = (built.previous_table(prev, name) if name in ("grids", "townships")
                                      else ReusedTable(prev.file(f"{name}.parquet")))
                built.reused[name] = prev.file(f"{name}.parquet")
            old = built.rejected_before(prev)
            built.rejected.append(old[old["table"].isin(source_tables("grid"))])
        return True
    rej = Rejections()
    with timer.step("validate_grid"):
        tables = validate_raw(settings, "grid", raw, now=as_of, rej=rej)
        tables = check_parents(tables, rej)
        tables.update(fill_area_geometry(grids=tables["grids"], communities=tables["communities"],
                                         townships=tables["townships"]))
    with timer.step("coordinates"):
        areas = _areas_to_wgs84(tables, built.manifest["coord_sys"])
    with timer.step("grid_checks"):
        issues = grid_issues(areas["grids"])
    grids = areas["grids"].rename(columns={"name": "grid_name"})
    grid_cols = ["grid_id", "grid_name", "community_id", "community_name", "township_id",
                 "township_name", "households", "population", "geometry"]
    built.tables["grids"] = gpd.GeoDataFrame(grids[grid_cols], geometry="geometry", crs="EPSG:4326")
    built.tables["communities"] = gpd.GeoDataFrame(areas["communities"], geometry="geometry", crs="EPSG:4326")
    built.tables["townships"] = gpd.GeoDataFrame(areas["townships"], geometry="geometry", crs="EPSG:4326")
    built.tables["grid_issues"] = gpd.GeoDataFrame(issues, geometry="geometry", crs="EPSG:4326")
    built.tables["grid_workers"] = tables["grid_workers"].assign(phone=mask_phones(tables["grid_workers"]["phone"]))
    built.tables["worker_grids"] = tables["worker_grids"]
    built.tables["inspections"] = tables["inspections"]
    built.rejected.append(rej.frame())
    return False


def content_hash(frames: dict[str, pd.DataFrame]) -> str:
    """Hash of the raw contents of some tables (column names, order, types and values).

    Each frame goes to Arrow and its IPC stream is hashed (milliseconds for 10,000 grid outlines);
    a frame Arrow cannot take (mixed types in a dirty column) is hashed value by value.
    """
    import pyarrow as pa

    h = hashlib.sha256()
    for name in sorted(frames):
        frame = frames[name]
        h.update(name.encode())
        h.update("\x1f".join(map(str, frame.columns)).encode())
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False).combine_chunks()
        except (pa.ArrowException, TypeError, ValueError):
            for col in frame.columns:
                values = frame[col].map(lambda v: v.hex() if isinstance(v, bytes | bytearray) else v,
                                        na_action="ignore").astype("str")
                h.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
            continue
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        h.update(memoryview(sink.getvalue()))
    return h.hexdigest()[:32]


def _areas_to_wgs84(tables: dict[str, pd.DataFrame], coord_sys: dict[str, str]) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("grids", "communities", "townships"):
        frame = tables[name].copy()
        geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object).copy()
        cs = coord_sys.get(name, "wgs84")
        if cs not in WGS84_LIKE:
            from geo.coords import geometries_to_wgs84

            present = ~pd.isna(geoms)
            geoms[present] = geometries_to_wgs84(geoms[present], cs)
        frame["geometry"] = geoms
        out[name] = frame
    towns = out["townships"].set_index("township_id")["name"]
    comms = out["communities"].set_index("community_id")
    grids = out["grids"]
    grids["township_id"] = grids["community_id"].map(comms["township_id"])
    grids["community_name"] = grids["community_id"].map(comms["name"])
    grids["township_name"] = grids["township_id"].map(towns)
    return out


# --- case side ----------------------------------------------------------------------------------

def _case_side(settings: Settings, prev: snapshots.Snapshot | None, since: pd.Timestamp | None,
               raw: dict[str, tuple[pd.DataFrame, str, str]], built: Built, timer: StepTimer,
               as_of: pd.Timestamp, *, reassign_base: bool) -> None:
    built.manifest["incremental_since"] = None if since is None else since.isoformat()
    built.manifest["coord_sys"].update({t: r[2] for t, r in raw.items()})
    built.manifest["read_methods"].update({t: r[1] for t, r in raw.items()})
    built.manifest["rows_read"].update({t: len(r[0]) for t, r in raw.items()})
    # 包案 rows tie leaders' metrics to cases outside the batch: a same-day update needs them unchanged.
    built.manifest["leader_hash"] = content_hash({"leader_cases": raw["leader_cases"][0]})
    rej = Rejections()
    with timer.step("validate_case"):
        batch_raw = raw["cases"][0]
        raw_ids = (batch_raw["case_id"].astype("str").str.strip().dropna() if "case_id" in batch_raw
                   else pd.Series([], dtype="str"))
        del batch_raw
        tables = validate_raw(settings, "case", raw, now=as_of, rej=rej, consume=True)
        raw.clear()
        if since is None:
            release_arrow_memory()
        grids, towns = built.tables["grids"], built.tables["townships"]
        batch = clear_unknown_codes(tables.pop("cases"), grids=grids, townships=towns, rej=rej)
    with timer.step("coordinates"):
        batch = _cases_to_wgs84(batch)
    with timer.step("assign"):
        batch = _place(batch, grids, settings, rej)
        batch, restricted = _mask(batch)
    base, base_restricted = None, None
    same_day = prev is not None and _same_day_eligible(prev, built, as_of, settings.timezone,
                                                        reassign_base=reassign_base)
    if prev is not None:
        with timer.step("merge"):
            base, base_restricted = _merge_previous(prev, raw_ids, built, same_day=same_day,
                                                    same_day_read=same_day_read_columns(settings))
            if reassign_base:
                base = _place(base.assign(grid_id=base["source_grid_id"], township_id=base["source_township_id"]),
                              grids, settings, rej)
            old = built.rejected_before(prev)
            kept = old[(old["table"] == "cases").to_numpy() & ~isin_strings(old["row_key"], raw_ids).to_numpy()]
            if reassign_base:  # placement problems of the old rows are reported afresh below
                kept = kept[kept["reason"] != FAR_REASON]
            built.rejected.append(kept)
    # Source order for a full refresh, previous order plus the new batch for an incremental one:
    # sorting a million ids costs more than it is worth (readers key on case_id).
    if base is None:
        cases = batch
    elif isinstance(base, pd.DataFrame):
        cases = pd.concat([base, batch], ignore_index=True)
    else:  # same day: the unchanged rows, still in Arrow, take the batch's values of their columns
        built.same_day.batch = batch
        cases = _append_to_arrow(base, batch)
    restricted = restricted if base_restricted is None else pd.concat([base_restricted, restricted],
                                                                       ignore_index=True)
    with timer.step("validate_case"):
        ids = pd.DataFrame({"case_id": cases["case_id"]})
        linked = check_parents({**tables, "cases": ids}, rej, children=CASE_SIDE_TABLES)
    for t in CASE_SIDE_TABLES:
        built.tables[t] = linked[t]
    built.tables["cases"] = cases
    built.tables[RESTRICTED] = restricted.sort_values("case_id", kind="stable").reset_index(drop=True)
    built.rejected.append(rej.frame())
    wm = cases["updated_at"].max()
    built.manifest["watermarks"] = {"cases.updated_at": None if pd.isna(wm) else wm.isoformat()}
    built.manifest["batch_rows"] = len(batch)
    methods = cases["assign_method"].value_counts()
    built.manifest["assign_methods"] = {str(k): int(v) for k, v in methods.items()}


def _append_to_arrow(base: Any, batch: pd.DataFrame) -> pd.DataFrame:
    """A same-day refresh's merged frame: the unchanged rows (a pyarrow Table of the columns that were
    read) then the batch's values of the same columns, converted to pandas once (no million-row concat)."""
    import pyarrow as pa

    columns = batch.reindex(columns=base.column_names)
    try:
        fresh = pa.Table.from_pandas(columns, schema=base.schema, preserve_index=False)
        return pa.concat_tables([base, fresh]).to_pandas()
    except (pa.ArrowException, TypeError, ValueError) as exc:  # a value the previous file's types cannot hold
        log.info("re-read cases do not fit the previous columns' types (%s); merging in pandas", exc)
        return pd.concat([base.to_pandas(), columns], ignore_index=True)


def same_day_read_columns(settings: Settings) -> list[str]:
    """The columns a same-day refresh reads from the previous cases.parquet for its unchanged rows: what
    the metrics, the detectors and the refresh itself compute with, then the deadline columns. The
    other columns of those rows are never needed — the rows are written back from the previous file."""
    used = {*METRIC_INPUT_COLUMNS, *WARNING_CASE_COLUMNS, "subcategory", *settings.warnings.repeated_collective_key,
            *CORE_EXTRA, "case_id", "updated_at"}
    return [c for c in CORE_COLUMNS if c in used] + list(DEADLINE_COLUMNS)


def _merge_previous(prev: snapshots.Snapshot, raw_ids: pd.Series, built: Built, *, same_day: bool,
                    same_day_read: list[str] | None = None) -> tuple[Any, pd.DataFrame]:
    """The previous snapshot's cases that were not re-read (core columns; on a same-day refresh the
    columns it reads, as a pyarrow Table) and their restricted rows.

    Filtering is done in Arrow (multi-threaded C++). On a same-day refresh the free-text and personal
    columns are not read at all: the unchanged rows go to the new file straight from the previous one.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    deadline_cols = list(DEADLINE_COLUMNS)
    previous_metrics = None
    if same_day:
        wanted = list(same_day_read or [])
        ahead = built.prefetched.get("cases")
        table = ahead.result() if ahead is not None and ahead.exception() is None else None
        if table is not None and table.schema.names == wanted:
            previous_metrics = built.prefetched["metrics"]
        else:
            table = snapshots.read_arrow(prev, "cases", wanted)
            reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-metrics")
            previous_metrics = reader.submit(snapshots.read_table, prev, "metrics")
            reader.shutdown(wait=False)
    else:
        table = snapshots.read_arrow(prev, "cases", CORE_COLUMNS)
    built.prefetched = {}
    changed_ids = pa.array(raw_ids.drop_duplicates().to_numpy(dtype=object), type=pa.string())
    changed = pc.fill_null(pc.is_in(table["case_id"].cast(pa.string()), value_set=changed_ids), False)
    keep = pc.invert(changed)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="merge") as pool:  # Arrow releases the GIL
        base_table = pa.table(list(pool.map(lambda col: pc.filter(col, keep), table.columns)), schema=table.schema)
    if same_day:
        core = [c for c in wanted if c not in deadline_cols]
        built.same_day = SameDay(prev=prev, base_len=base_table.num_rows,
                                 base_deadlines=base_table.select(deadline_cols),
                                 old_changed=table.filter(changed).to_pandas(), keep=keep,
                                 previous_metrics=previous_metrics)
        base = base_table.select(core)  # joined with the batch in Arrow (see _append_to_arrow)
    else:
        base = base_table.to_pandas()
    del table, base_table
    restricted = pd.read_parquet(prev.file(f"{RESTRICTED}.parquet"))
    restricted = restricted[~isin_strings(restricted["case_id"], raw_ids).to_numpy()].reset_index(drop=True)
    return base, restricted


def _cases_to_wgs84(cases: pd.DataFrame) -> pd.DataFrame:
    out = cases.copy(deep=False)
    lon = out["lon"].to_numpy(dtype="float64", na_value=np.nan).copy()
    lat = out["lat"].to_numpy(dtype="float64", na_value=np.nan).copy()
    cs = out["coord_sys"].to_numpy(dtype=object)
    need = ~np.isin(cs, list(WGS84_LIKE)) & ~np.isnan(lon)
    if need.any():
        from geo.coords import to_wgs84

        lon[need], lat[need] = to_wgs84(lon[need], lat[need], cs[need].astype(str))
    out["lon"], out["lat"] = lon, lat
    return out


def _place(cases: pd.DataFrame, grids: pd.DataFrame, settings: Settings, rej: Rejections) -> pd.DataFrame:
    """Assign cases to grids; coordinates far outside the jurisdiction are cleared and reported."""
    placed = assign_cases(cases, grids, tolerance_m=settings.assignment.nearest_tolerance_m,
                          outside_km=settings.assignment.outside_jurisdiction_km)
    out = cases.drop(columns=[c for c in ("grid_id", "township_id", "community_id", "assign_method",
                                          "source_grid_id", "source_township_id") if c in cases.columns])
    out["source_grid_id"] = cases["grid_id"]
    out["source_township_id"] = cases["township_id"]
    far = placed["far_outside"].to_numpy()
    if far.any():
        shown = out["lon"][far].round(6).astype("str") + "," + out["lat"][far].round(6).astype("str")
        rej.add("cases", out.loc[far, "case_id"], "lon/lat", FAR_REASON, ACTION_VALUE_CLEARED, shown)
        out.loc[far, ["lon", "lat"]] = np.nan
        out.loc[far, "coord_issue"] = FAR_REASON
    return pd.concat([out, placed.drop(columns="far_outside")], axis=1)


def _mask(cases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Personal columns masked; accusation texts moved to the restricted table (SPEC §9)."""
    out = cases.copy(deep=False)
    out["petitioner_name"] = mask_names(cases["petitioner_name"])
    out["petitioner_phone"] = mask_phones(cases["petitioner_phone"])
    out["petitioner_id_no"] = mask_id_numbers(cases["petitioner_id_no"])
    accusation = out["is_accusation"].fillna(False).astype(bool).to_numpy()
    restricted = out.loc[accusation, RESTRICTED_COLUMNS].reset_index(drop=True)
    out.loc[accusation, ["summary", "subcategory", "address"]] = pd.NA
    return out, restricted


@dataclass
class ReusedTable:
    """A previous version's table carried over unchanged (hard-linked; never read into memory)."""

    path: Path

    def __len__(self) -> int:
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path).metadata.num_rows


@dataclass
class StreamedCases:
    """cases.parquet of a same-day refresh: the previous file's unchanged rows (`keep`), row group by
    row group, then the re-read cases (`fresh`, already in the previous file's schema)."""

    source: Path
    keep: Any   # pyarrow boolean (Chunked)Array over the source rows
    fresh: Any  # pyarrow Table
    rows: int

    def __len__(self) -> int:
        return self.rows

    def write(self, path: Path) -> None:
        """Columns the previous file dictionary-encoded are read as dictionaries and written back as
        they are (no decoding to text and re-hashing); the previous file's key-value metadata (the
        stored Arrow schema with the dense types, pandas metadata) is written back with them, so
        readers see exactly the types they would in a file written from scratch."""
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(self.source).metadata
        first = meta.row_group(0) if meta.num_row_groups else None
        dictionary = [] if first is None else [
            first.column(i).path_in_schema for i in range(first.num_columns) if first.column(i).has_dictionary_page]
        source = pq.ParquetFile(self.source, read_dictionary=dictionary)
        schema = source.schema_arrow.remove_metadata()
        keep = self.keep.combine_chunks() if hasattr(self.keep, "combine_chunks") else self.keep
        start = 0
        with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=dictionary,
                              store_schema=False) as out:
            for i in range(source.num_row_groups):
                group = source.read_row_group(i)
                mask = keep.slice(start, group.num_rows)
                start += group.num_rows
                out.write_table(group.filter(mask), row_group_size=ROW_GROUP_SIZE)
            out.write_table(self.fresh.cast(schema), row_group_size=ROW_GROUP_SIZE)
            out.add_key_value_metadata(dict(meta.metadata or {}))


def _snapshot_table(built: Built, cases: pd.DataFrame, deadlines: pd.DataFrame) -> pd.DataFrame | StreamedCases:
    """cases.parquet as a frame; on a same-day refresh the previous file's unchanged rows plus the
    re-read cases (their schema cast to the previous file's), written by streaming."""
    leader_cases = built.tables["leader_cases"]
    same = built.same_day
    if same is None or same.keep is None:
        return _snapshot_cases(cases, deadlines, leader_cases)
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = same.prev.file("cases.parquet")
    schema = pq.read_schema(source)
    fresh = _snapshot_cases(same.batch, deadlines.iloc[same.base_len:].set_axis(same.batch.index), leader_cases)
    try:
        fresh_table = pa.Table.from_pandas(fresh[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowException, KeyError, TypeError, ValueError) as exc:  # a type the previous file did not have
        log.info("cases of this refresh do not fit the previous file's schema (%s); converting all rows", exc)
        base = snapshots.read_arrow(same.prev, "cases").filter(same.keep).to_pandas()
        return pd.concat([base, fresh], ignore_index=True)
    built.manifest["reused_case_rows"] = same.base_len  # written back without conversion
    return StreamedCases(source, same.keep, fresh_table, same.base_len + len(fresh_table))


def _snapshot_cases(cases: pd.DataFrame, deadlines: pd.DataFrame, leader_cases: pd.DataFrame) -> pd.DataFrame:
    """cases.parquet: identity and placement first, then light and deadlines, then the case columns."""
    lead = leader_cases.sort_values(["assigned_at", "leader_id"], kind="stable").drop_duplicates("case_id", keep="last")
    c = cases.copy(deep=False)
    c["leader_id"] = c["case_id"].map(lead.set_index("case_id")["leader_id"]).astype("str")
    c = c.join(deadlines)
    first = ["case_id", "grid_id", "community_id", "township_id", "assign_method", "lon", "lat",
             "received_at", "category", "status", "light", *[d for d in deadlines.columns if d != "light"],
             "leader_id"]
    return c[first + [col for col in c.columns if col not in first]]


# --- writing --------------------------------------------------------------------------------------

# Row groups of this many rows let readers decode a large table on every core.
ROW_GROUP_SIZE = 128 * 1024
# A row group's worth: grid ids (10,000 in a county) repeat within 128k rows, but hardly within 20k.
DICTIONARY_SAMPLE = ROW_GROUP_SIZE


def dictionary_columns(frame: pd.DataFrame | Any) -> list[str]:
    """Text columns worth dictionary-encoding in Parquet: few distinct values in a sample of rows.

    Dictionary pages of near-unique columns (case ids, addresses) overflow and fall back to plain
    encoding after the work is done; leaving them out writes cases.parquet ~30 % faster and makes it
    smaller and about twice as fast to read.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    sample = frame.head(DICTIONARY_SAMPLE) if isinstance(frame, pd.DataFrame) else frame.slice(0, DICTIONARY_SAMPLE)
    if isinstance(sample, pd.DataFrame):
        sample = pa.Table.from_pandas(sample.drop(columns="geometry", errors="ignore"), preserve_index=False)
    out = []
    for name, column in zip(sample.column_names, sample.columns, strict=True):
        kind = column.type
        if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind)) \
                and pc.count_distinct(column).as_py() <= max(len(column) // 4, 1):
            out.append(name)
    return out


class TableWriter:
    """Writes snapshot tables to Parquet on a background thread as they become final.

    Parquet encoding runs outside the GIL, so writing overlaps the computation of later tables.
    Tables unchanged since the previous version are hard-linked instead of rewritten.
    """

    def __init__(self, folder: Path, built: Built) -> None:
        self.folder = folder
        self.built = built
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write")
        # a streamed cases file takes seconds: the tables finished after it do not wait for it
        self.stream_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-stream")
        self.futures: list[Any] = []

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.stream_pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, *names: str) -> None:
        for name in names:
            frame = self.built.tables[name]
            pool = self.stream_pool if isinstance(frame, StreamedCases) else self.pool
            self.futures.append(pool.submit(self._write, name, frame))

    def wait(self) -> None:
        for future in self.futures:
            future.result()  # re-raises a write error (e.g. disk full) in the refresh

    def _write(self, name: str, frame: pd.DataFrame) -> None:
        path = self.folder / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        source = self.built.reused.get(name)
        if source is not None and source.exists():
            try:
                os.link(source, path)  # unchanged since the previous version: no rewrite
            except OSError:
                shutil.copyfile(source, path)
            return
        if isinstance(frame, StreamedCases):
            frame.write(path)
        else:  # GeoDataFrames write GeoParquet
            frame.to_parquet(path, index=False, compression="zstd", row_group_size=ROW_GROUP_SIZE,
                             use_dictionary=dictionary_columns(frame))


def _manifest(settings: Settings, version: str, built: Built, timer: StepTimer, as_of: pd.Timestamp
              ) -> dict[str, Any]:
    tables = built.tables
    rejected = tables["rejected"]
    rows = rejected[rejected["action"] == "row_rejected"]
    incremental = built.manifest.get("incremental_since") is not None
    prev_full = None
    if incremental:
        try:
            prev_full = snapshots.open_current(settings.data_path).manifest.get("last_full_at")
        except SnapshotError:
            prev_full = None
    created = datetime.now(timezone.utc).isoformat()
    return {
        "version": version,
        "created_at": created,
        "as_of": as_of.isoformat(),
        "pipeline": PIPELINE_VERSION,
        "config_hash": settings.config_hash(),
        "demo": settings.demo.enabled,
        "incremental": incremental,
        "last_full_at": prev_full if incremental and prev_full else created,
        "durations": timer.durations,
        "peak_rss_mb": timer.peak_rss_mb,
        "row_counts": {name: int(len(f)) for name, f in tables.items()},
        "rejected_counts": {str(k): int(v) for k, v in rows.groupby("table").size().items()},
        "flagged_counts": {str(k): int(v) for k, v in rejected.groupby("action").size().items()},
        "reused_tables": sorted(built.reused),
        **built.manifest,
    }
