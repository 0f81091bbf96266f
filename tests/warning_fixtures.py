"""Frames built in code for the early-warning tests: a square-grid jurisdiction and a homogeneous Poisson background."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

TZ = "Asia/Shanghai"
LON0, LAT0, CELL = 111.70, 40.80, 0.01  # near Hohhot; 0.01° ≈ 0.85 km × 1.1 km
TOWN_NAMES = ("迎新路街道", "东街街道", "锡林路街道", "保合少镇", "西街街道", "东风路街道")


def lattice_grids(rows: int, cols: int, *, grids_per_community: int = 10,
                  communities_per_township: int = 6) -> pd.DataFrame:
    """rows × cols square grids (WGS-84), numbered row by row, grouped into communities and townships."""
    n = rows * cols
    i = np.arange(n)
    r, c = i // cols, i % cols
    geoms = shapely.box(LON0 + c * CELL, LAT0 + r * CELL, LON0 + (c + 1) * CELL, LAT0 + (r + 1) * CELL)
    comm = i // grids_per_community
    town = comm // communities_per_township
    return pd.DataFrame({
        "grid_id": [f"G{k:05d}" for k in i], "grid_name": [f"第{k % grids_per_community + 1}网格" for k in i],
        "community_id": [f"C{k:04d}" for k in comm], "community_name": [f"{k}社区" for k in comm],
        "township_id": [f"T{k:03d}" for k in town], "township_name": [TOWN_NAMES[k % len(TOWN_NAMES)] for k in town],
        "households": 400, "population": 1000, "geometry": geoms,
    })


def make_cases(grids: pd.DataFrame, grid_index: Sequence[int] | np.ndarray, times: Sequence[Any] | pd.Series,
               **columns: Any) -> pd.DataFrame:
    """A canonical-enough case frame: one row per (grid, local time); other columns by keyword."""
    g = grids.iloc[np.asarray(grid_index, dtype=np.intp)].reset_index(drop=True)
    t = pd.to_datetime(pd.Series(times))
    t = t.dt.tz_localize(TZ) if t.dt.tz is None else t.dt.tz_convert(TZ)
    n = len(g)
    base: dict[str, Any] = {
        "case_id": [f"X{k:07d}" for k in range(n)], "grid_id": g["grid_id"], "community_id": g["community_id"],
        "township_id": g["township_id"], "received_at": t.astype("datetime64[us, Asia/Shanghai]"),
        "category": "城乡建设", "subcategory": pd.NA, "status": "closed", "kind": "petition", "channel": "online",
        "people_count": pd.array([1] * n, dtype="Int64"), "level_visited": "county",
        "petitioner_key": [f"P{k:07d}" for k in range(n)],
    }
    for key, value in columns.items():
        base[key] = value
    frame = pd.DataFrame(base)
    frame["people_count"] = pd.array(frame["people_count"], dtype="Int64")
    return frame


def quiet_deadlines(cases: pd.DataFrame, *, light: str = "none", backlog: bool = False) -> pd.DataFrame:
    """A deadlines frame with the same light and 积案 flag for every case."""
    return pd.DataFrame({"light": [light] * len(cases), "is_backlog": [backlog] * len(cases),
                         "next_due": pd.NaT}, index=cases.index)


def poisson_background(grids: pd.DataFrame, *, weeks: int, per_grid_week: float, end: str,
                       seed: int) -> pd.DataFrame:
    """Homogeneous Poisson cases: every grid and every day the same rate; uniform time of day."""
    rng = np.random.default_rng(seed)
    days = weeks * 7
    counts = rng.poisson(per_grid_week / 7.0, size=(len(grids), days))
    g, d = np.nonzero(counts)
    reps = counts[g, d]
    g, d = np.repeat(g, reps), np.repeat(d, reps)
    first = pd.Timestamp(end) - pd.Timedelta(days=days - 1)
    seconds = rng.integers(0, 86_400, len(g))
    times = first.normalize() + pd.to_timedelta(d, unit="D") + pd.to_timedelta(seconds, unit="s")
    order = np.argsort(times.to_numpy(), kind="stable")
    return make_cases(grids, g[order], times[order])
