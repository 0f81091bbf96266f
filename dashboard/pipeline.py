"""Refresh pipeline: load → WGS-84 → assign → snapshot tables → write → publish (SPEC §4)."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashboard import snapshots
from dashboard.settings import Settings
import geopandas as gpd

from geo.assign import FAR_REASON, assign_cases
from geo.gridcheck import grid_issues
from geo.privacy import mask_id_numbers, mask_names, mask_phones
from loaders.errors import GridwatchError, SnapshotError
from loaders.load import LoadResult, load_sources
from loaders.schema import ACTION_VALUE_CLEARED, CASES, PERSONAL_COLUMNS
from loaders.validate import Rejections

log = logging.getLogger(__name__)
LOCK_NAME = "refresh.lock"


@dataclass
class StepTimer:
    """Collects the duration of each named step, in seconds."""

    durations: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.durations[name] = round(time.perf_counter() - t0, 4)


class RefreshBusy(GridwatchError):
    """Another refresh holds the lock."""

    exit_code = 6


@contextmanager
def refresh_lock(data_dir: Path, *, wait_s: float = 0.0) -> Iterator[None]:
    """Cross-process lock so only one refresh writes at a time; raises RefreshBusy after `wait_s`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(data_dir / LOCK_NAME, "a+")
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RefreshBusy(
                        f"另一个刷新正在进行 / another refresh is running (lock {data_dir / LOCK_NAME}). "
                        f"Wait for it to finish, or pass --wait SECONDS.") from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


def refresh(settings: Settings, *, wait_s: float = 0.0, now: datetime | None = None) -> snapshots.Snapshot:
    """Build and publish a new snapshot. On failure the previous snapshot stays current and the
    failure is appended to the history; the error is re-raised."""
    data_dir = settings.data_path
    started = datetime.now(timezone.utc)
    with refresh_lock(data_dir, wait_s=wait_s):
        timer = StepTimer()
        try:
            version = _build(settings, timer, now=now)
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


def _build(settings: Settings, timer: StepTimer, *, now: datetime | None) -> str:
    with timer.step("load"):
        loaded = load_sources(settings, now=now)
    with timer.step("coordinates"):
        areas = _areas_to_wgs84(loaded)
        cases = _cases_to_wgs84(loaded.tables["cases"])
    with timer.step("assign"):
        placed = assign_cases(cases, areas["grids"], tolerance_m=settings.assignment.nearest_tolerance_m,
                              outside_km=settings.assignment.outside_jurisdiction_km)
        cases = _drop_far_coordinates(cases, placed, loaded)
    with timer.step("grid_checks"):
        issues = grid_issues(areas["grids"])
    with timer.step("tables"):
        tables = snapshot_tables(loaded, areas, cases, placed.drop(columns="far_outside"))
        tables["grid_issues"] = gpd.GeoDataFrame(issues, geometry="geometry", crs="EPSG:4326")
    version = snapshots.new_version()
    with timer.step("write"), snapshots.writing(settings.data_path, version) as folder:
        _write_tables(folder, tables)
        snapshots.write_manifest(folder, _manifest(settings, version, loaded, tables, timer))
    snapshots.publish(settings.data_path, version, keep=settings.refresh.keep_versions)
    return version


def _drop_far_coordinates(cases: pd.DataFrame, placed: pd.DataFrame, loaded: LoadResult) -> pd.DataFrame:
    """Clear coordinates far outside the jurisdiction and report them with the row (SPEC §5)."""
    far = placed["far_outside"].to_numpy()
    if not far.any():
        return cases
    out = cases.copy()
    shown = out["lon"].round(6).astype("str") + "," + out["lat"].round(6).astype("str")
    rej = Rejections()
    rej.add("cases", out.loc[far, "case_id"], "lon/lat", FAR_REASON, ACTION_VALUE_CLEARED, shown[far])
    loaded.rejected = pd.concat([loaded.rejected, rej.frame()], ignore_index=True)
    out.loc[far, ["lon", "lat"]] = np.nan
    out.loc[far, "coord_issue"] = FAR_REASON
    return out


def _areas_to_wgs84(loaded: LoadResult) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("grids", "communities", "townships"):
        frame = loaded.tables[name].copy()
        geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
        cs = loaded.coord_sys.get(name, "wgs84")
        if cs not in ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490"):
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


def _cases_to_wgs84(cases: pd.DataFrame) -> pd.DataFrame:
    out = cases.copy()
    lon = out["lon"].to_numpy(dtype="float64", na_value=np.nan).copy()
    lat = out["lat"].to_numpy(dtype="float64", na_value=np.nan).copy()
    cs = out["coord_sys"].to_numpy(dtype=object)
    need = ~np.isin(cs, ["wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490"]) & ~np.isnan(lon)
    if need.any():
        from geo.coords import to_wgs84

        lon[need], lat[need] = to_wgs84(lon[need], lat[need], cs[need].astype(str))
    out["lon"], out["lat"] = lon, lat
    return out


def snapshot_tables(loaded: LoadResult, areas: dict[str, pd.DataFrame], cases: pd.DataFrame,
                    placed: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The frames written to a snapshot. Personal columns only masked; accusation text restricted."""
    import geopandas as gpd

    grids = areas["grids"].rename(columns={"name": "grid_name"})
    grid_cols = ["grid_id", "grid_name", "community_id", "community_name", "township_id",
                 "township_name", "households", "population", "geometry"]
    out: dict[str, pd.DataFrame] = {
        "grids": gpd.GeoDataFrame(grids[grid_cols], geometry="geometry", crs="EPSG:4326"),
        "communities": gpd.GeoDataFrame(areas["communities"], geometry="geometry", crs="EPSG:4326"),
        "townships": gpd.GeoDataFrame(areas["townships"], geometry="geometry", crs="EPSG:4326"),
    }
    c = cases.drop(columns=["grid_id", "township_id"]).copy()
    c["source_grid_id"] = cases["grid_id"]
    c["source_township_id"] = cases["township_id"]
    c = pd.concat([c, placed], axis=1)
    c["petitioner_name"] = mask_names(cases["petitioner_name"])
    c["petitioner_phone"] = mask_phones(cases["petitioner_phone"])
    c["petitioner_id_no"] = mask_id_numbers(cases["petitioner_id_no"])
    accusation = c["is_accusation"].fillna(False).astype(bool)
    out["restricted/accusations"] = c.loc[accusation, ["case_id", "summary", "subcategory", "address"]]
    c.loc[accusation, ["summary", "subcategory", "address"]] = pd.NA
    lead = loaded.tables["leader_cases"].sort_values("assigned_at").drop_duplicates("case_id", keep="last")
    c["leader_id"] = c["case_id"].map(lead.set_index("case_id")["leader_id"])
    c["light"] = "none"  # deadlines and lights: refresh pipeline issue #3
    order = ["case_id", "grid_id", "community_id", "township_id", "assign_method", "lon", "lat",
             "received_at", "category", "status", "light", "leader_id"]
    rest = [col for col in c.columns if col not in order]
    out["cases"] = c[order + rest]
    assert not set(PERSONAL_COLUMNS) - set(CASES.names)
    for name in ("grid_workers", "worker_grids", "inspections", "leaders", "leader_areas",
                 "leader_cases", "supervisions"):
        out[name] = loaded.tables[name]
    out["grid_workers"] = out["grid_workers"].assign(phone=mask_phones(out["grid_workers"]["phone"]))
    out["rejected"] = loaded.rejected
    return out


def _write_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name, frame in tables.items():
        path = folder / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False, compression="zstd")  # GeoDataFrames write GeoParquet


def _manifest(settings: Settings, version: str, loaded: LoadResult, tables: dict[str, pd.DataFrame],
              timer: StepTimer) -> dict[str, Any]:
    cases = loaded.tables["cases"]
    watermark = cases["updated_at"].max()
    methods = tables["cases"]["assign_method"].value_counts().to_dict()
    return {
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "config_hash": settings.config_hash(),
        "demo": settings.demo.enabled,
        "jurisdiction_name": settings.jurisdiction_name,
        "durations": {**timer.durations, **{k: round(v, 4) for k, v in loaded.durations.items()}},
        "row_counts": {name: int(len(f)) for name, f in tables.items()},
        "rows_read": loaded.rows_read,
        "read_methods": loaded.methods,
        "rejected_counts": loaded.rejected_counts(),
        "flagged_counts": {str(k): int(v) for k, v in
                           loaded.rejected.groupby("action").size().items()} if len(loaded.rejected) else {},
        "watermarks": {"cases.updated_at": None if pd.isna(watermark) else watermark.isoformat()},
        "assign_methods": {str(k): int(v) for k, v in methods.items()},
        "coord_sys": loaded.coord_sys,
    }


def current_or_none(data_dir: Path) -> snapshots.Snapshot | None:
    try:
        return snapshots.open_current(data_dir)
    except SnapshotError:
        return None
