"""Data layer of the pages: snapshot tables filtered by the viewer, and display-ready aggregates.

No streamlit here (the UI glue, caching and widgets are in `dashboard/ui.py`). Two kinds of function:

* **Scoped readers** — `scoped_grids`, `scoped_cases`, `scoped_metrics`, `scoped_alerts`,
  `scoped_grid_stats`, `scoped_leader_cases`, `scoped_supervisions`, `scoped_inspections`,
  `restricted_texts`: `(viewer, snap, …)` → a DataFrame that never holds a row outside the viewer's
  grid scope (SPEC §9). For a grid worker that means rows of their grids only, and no aggregates of larger
  units (their township's or the county's rows of metrics.parquet). Optional tables
  (alerts, grid_stats, from newer pipelines) come back empty, with their columns, when absent.
* **Views** — `unit_options`, `kpis`, `trend`, `categories`, `map_data`, `top_alerts`,
  `leader_summary`, `supervision_summary`: `(viewer, snap, settings, *args)` → small,
  display-ready values. Pages call them through `ui.cached_view(fn, ctx, *args)`, which caches
  them with `st.cache_data` keyed by (function, snapshot version, `viewer.cache_key`,
  config hash, args); args must be hashable values or objects with a `.key()` (e.g. `Filters`).

Small counts (SPEC §9): for a viewer without point access (`suppression.threshold_for`) the views that
count cases — `kpis`, `trend`, `categories`, `map_data`, `leader_summary`, `leader_board`,
`supervision_summary`, `supervision_board`, `light_board`, `rate_ranking` — return each count
0 < n < threshold as the text "<5", and each rate computed from such a count as "样本<5"; zeros and larger
counts stay numbers, and viewers with point access get numbers only. `exact=True` (reports, which
suppress their own tables) skips this; `ui.cached_view` passes no keywords, so pages cannot.

Parquet reads go through `read_table`, a small in-process LRU of *shared* frames: never mutate
what it returns (filtering and `.assign` make copies; in-place edits would corrupt the cache).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np
import pandas as pd
import shapely

from dashboard import maplayers, palette
from dashboard.filters import Filters, Period, Unit
from dashboard.formatting import fmt_count, fmt_delta_pct, fmt_rate, rate_help
from dashboard.settings import Settings
from dashboard.snapshots import Snapshot
from dashboard.suppression import (count_text, is_small, order_key, shown_count, small_mask, suppress_frame,
                                   suppressed_rate_text, suppressed_text, threshold_for)
from dashboard.texts import TEXTS, t
from dashboard.viewer import RESTRICTED_ROLES, Viewer
from geo.deadlines import DEADLINE_COLUMNS, GREEN, RED, YELLOW
from geo.metrics import METRIC_COLUMNS, RATE_NAMES, combine_periods, compute_metrics, rate_label
from loaders.enums import LEADER_STAGE, OPEN_STATUSES, SUPERVISION_STATUS, TIER

GRID_COLUMNS = ("grid_id", "grid_name", "community_id", "community_name", "township_id", "township_name")
UNIT_COLUMN = {"township": "township_id", "community": "community_id", "grid": "grid_id"}
CHILD_TYPE = {"county": "township", "township": "community", "community": "grid", "grid": "grid"}
# alerts.parquet (SPEC §4 plus the app DB lifecycle columns); township_id / grid_ids when the
# pipeline adds them (they make grid-worker scoping exact for case-level alerts).
ALERT_COLUMNS = ("alert_id", "detector", "level", "scope", "scope_id", "title", "evidence", "first_seen",
                 "last_seen", "state", "is_open", "condition_active")
GRID_STATS_COLUMNS = ("grid_id", "window", "cases", "open_cases", "red_cases", "rate_per_10k", "gi_z", "gi_p",
                      "hotspot_bin", "trend_class")
MEASURES: tuple[str, ...] = ("cases", "open", "red", "rate")
MAP_LEVELS: tuple[str, ...] = ("township", "grid")
_METRIC_CASE_COLUMNS = ("case_id", "status", "category", "received_at", "accepted_at", "replied_at", "closed_at",
                        "review_requested_at", "level_visited", "people_count", "petitioner_key", "grid_id",
                        "community_id", "township_id", "updated_at", "satisfaction", "evaluated_at",
                        *DEADLINE_COLUMNS)
_LEADER_DONE = LEADER_STAGE.with_flag("resolved")
_SUPERVISION_OPEN = SUPERVISION_STATUS.with_flag("open")


# --- reading ---------------------------------------------------------------------------------------

Where = tuple[tuple[str, str, Any], ...]


@lru_cache(maxsize=24)
def _read(path: str, columns: tuple[str, ...] | None, where: Where | None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    filters = [(c, op, list(v) if isinstance(v, tuple) else v) for c, op, v in where] if where else None
    geo = json.loads(meta[b"geo"]).get("columns", {}) if b"geo" in meta else {}
    if geo and (columns is None or set(columns) & set(geo)):
        import geopandas as gpd

        return gpd.read_parquet(path, columns=list(columns) if columns else None, filters=filters)
    return pd.read_parquet(path, columns=list(columns) if columns else None, filters=filters)


def has_table(snap: Snapshot, name: str) -> bool:
    return snap.file(f"{name}.parquet").exists()


def read_table(snap: Snapshot, name: str, columns: Sequence[str] | None = None, *,
               where: Where | None = None) -> pd.DataFrame:
    """A snapshot table, shared between callers (never mutate it). `where` is a pyarrow filter,
    e.g. (("unit_type", "==", "county"),); missing optional columns are left out, not an error."""
    path = snap.file(f"{name}.parquet")
    if columns is not None:
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        columns = tuple(c for c in dict.fromkeys(columns) if c in names)
    return _read(str(path), tuple(columns) if columns is not None else None, where)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


# --- dates ---------------------------------------------------------------------------------------------

def as_of(snap: Snapshot, settings: Settings) -> pd.Timestamp:
    """The time the snapshot's data refer to (its refresh), in the configured time zone."""
    stamp = snap.manifest.get("as_of") or snap.manifest.get("created_at")
    ts = pd.Timestamp(stamp) if stamp else pd.Timestamp.now(tz="UTC")
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts).tz_convert(settings.timezone)


def snapshot_today(snap: Snapshot, settings: Settings) -> dt.date:
    """The snapshot's local date: "today" of every period."""
    return as_of(snap, settings).date()


def earliest_day(snap: Snapshot, settings: Settings) -> dt.date:
    """First date a custom period may start on (the metrics' history)."""
    return snapshot_today(snap, settings) - dt.timedelta(days=settings.metrics.history_days)


def in_days(values: pd.Series, start: dt.date, end: dt.date, tz: str) -> np.ndarray:
    """Mask of timestamps on local dates start..end (inclusive); naive timestamps are local time.

    Compares with the two day boundaries instead of converting a million timestamps to dates.
    """
    ts = pd.to_datetime(values)
    if getattr(ts.dt, "tz", None) is None:
        ts = ts.dt.tz_localize(tz)
    lo = pd.Timestamp(start).tz_localize(tz)
    hi = pd.Timestamp(end + dt.timedelta(days=1)).tz_localize(tz)
    return ((ts >= lo) & (ts < hi)).fillna(False).to_numpy(dtype=bool)


# --- units ---------------------------------------------------------------------------------------------

def unit_table(viewer: Viewer, snap: Snapshot) -> pd.DataFrame:
    """grid → community → township ids and names of the grids in the viewer's scope (sorted by grid_id)."""
    grids = read_table(snap, "grids", GRID_COLUMNS)
    grids = pd.DataFrame(grids.drop(columns="geometry", errors="ignore"))
    out = grids[viewer.in_scope(grids["grid_id"]).to_numpy()]
    return out.sort_values("grid_id", kind="stable").reset_index(drop=True)


def unit_grids(units: pd.DataFrame, unit: Unit) -> pd.Series:
    """Mask of `units` rows (unit_table) inside `unit`."""
    if unit.is_county:
        return pd.Series(True, index=units.index)
    return (units[UNIT_COLUMN[unit.type]].astype("str") == unit.id).fillna(False)


def unit_known(units: pd.DataFrame) -> Callable[[str, str], bool]:
    """known(type, id): whether a unit holds at least one grid of the viewer (for filters.parse)."""
    ids = {kind: frozenset(units[col].dropna().astype("str")) for kind, col in UNIT_COLUMN.items()}
    return lambda kind, unit_id: unit_id in ids.get(kind, frozenset())


def unit_label(units: pd.DataFrame, unit: Unit, *, jurisdiction: str, lang: str = "zh") -> str:
    """Display name of a unit, e.g. 迎新路街道 · 胜利社区 · 第3网格; the jurisdiction for the county."""
    if unit.is_county:
        return jurisdiction or t("whole_jurisdiction", lang)
    row = units[units[UNIT_COLUMN[unit.type]].astype("str") == unit.id]
    if row.empty:
        return unit.id
    r = row.iloc[0]
    parts = [r["township_name"]]
    if unit.type in ("community", "grid"):
        parts.append(r["community_name"])
    if unit.type == "grid":
        parts.append(r["grid_name"])
    return " · ".join(str(p) for p in parts if isinstance(p, str) and p)


@dataclass(frozen=True)
class UnitOptions:
    """Choices of the drill-path selectors: (id, name) per level, children keyed by parent id."""

    townships: tuple[tuple[str, str], ...]
    communities: dict[str, tuple[tuple[str, str], ...]]
    grids: dict[str, tuple[tuple[str, str], ...]]

    def name(self, unit: Unit) -> str:
        pools = {"township": self.townships, "community": [c for v in self.communities.values() for c in v],
                 "grid": [g for v in self.grids.values() for g in v]}
        return dict(pools.get(unit.type, ())).get(unit.id, unit.id)


def unit_options(viewer: Viewer, snap: Snapshot, settings: Settings) -> UnitOptions:
    """The drill path a viewer may choose from: only units holding grids of their scope."""
    units = unit_table(viewer, snap)

    def pairs(frame: pd.DataFrame, id_col: str, name_col: str) -> tuple[tuple[str, str], ...]:
        sub = frame[[id_col, name_col]].dropna(subset=[id_col]).drop_duplicates(id_col).sort_values(id_col)
        return tuple((str(i), str(n) if isinstance(n, str) else str(i)) for i, n in sub.itertuples(index=False))

    return UnitOptions(
        townships=pairs(units, "township_id", "township_name"),
        communities={str(k): pairs(g, "community_id", "community_name")
                     for k, g in units.groupby("township_id", sort=True)},
        grids={str(k): pairs(g, "grid_id", "grid_name") for k, g in units.groupby("community_id", sort=True)},
    )


# --- scoped readers ------------------------------------------------------------------------------------

def scoped_grids(viewer: Viewer, snap: Snapshot, columns: Sequence[str] | None = None, *,
                 unit: Unit | None = None) -> pd.DataFrame:
    """Grids (GeoDataFrame with geometry when asked for) in the viewer's scope and `unit`."""
    need = None if columns is None else tuple(dict.fromkeys([*columns, *GRID_COLUMNS]))
    grids = read_table(snap, "grids", need)
    mask = viewer.in_scope(grids["grid_id"])
    if unit is not None:
        mask &= unit_grids(grids, unit)
    out = grids[mask.to_numpy()]
    return out if columns is None else out[[c for c in columns if c in out.columns]]


def scoped_cases(viewer: Viewer, snap: Snapshot, columns: Sequence[str] | None = None, *,
                 unit: Unit | None = None, received: tuple[dt.date, dt.date] | None = None,
                 timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """Cases of the viewer's grids (all cases, also those placed only on a township, for `sees_all`).

    `unit` limits to a township/community/grid; `received` to local receipt dates (inclusive).
    Without `can_see_points` the lon/lat columns come back empty (NaN): aggregates only (SPEC §9).
    Addresses are cut after the community name unless `viewer.full_address`; accusation cases (检举控告)
    carry no summary, address or petitioner unless `viewer.sees_accusations` (see `protect_cases`).
    """
    keys = ["grid_id"] + ([UNIT_COLUMN[unit.type]] if unit is not None and not unit.is_county else [])
    keys += ["received_at"] if received is not None else []
    if columns is not None and set(columns) & set(ACCUSATION_COLUMNS):
        keys += ["is_accusation", "community_id"]
    need = None if columns is None else tuple(dict.fromkeys([*columns, *keys]))
    cases = read_table(snap, "cases", need)
    mask = viewer.in_scope(cases["grid_id"])
    if unit is not None and not unit.is_county:
        mask &= (cases[UNIT_COLUMN[unit.type]].astype("str") == unit.id).fillna(False)
    if received is not None:
        mask &= in_days(cases["received_at"], received[0], received[1], timezone)
    out = protect_cases(viewer, snap, cases[mask.to_numpy()])
    if columns is not None:
        out = out[[c for c in columns if c in out.columns]]
    if not viewer.can_see_points and {"lon", "lat"} & set(out.columns):
        out = out.assign(**{c: np.nan for c in ("lon", "lat") if c in out.columns})
    return out


# Case columns that identify a person or tell an accusation's content (masked further by protect_cases).
ACCUSATION_COLUMNS = ("summary", "subcategory", "address", "petitioner_name", "petitioner_phone", "petitioner_id_no")


def protect_cases(viewer: Viewer, snap: Snapshot, cases: pd.DataFrame) -> pd.DataFrame:
    """Case rows as `viewer` may get them (the snapshot already masks names, phones and ID numbers):
    accusation cases (is_accusation) without summary, subcategory, address or petitioner for every role
    but discipline (they stay countable), and addresses cut after the community name unless
    `viewer.full_address`. Returns `cases` itself when nothing changes, else a copy."""
    touched = [c for c in ACCUSATION_COLUMNS if c in cases.columns]
    if not touched:
        return cases
    out = cases
    if not viewer.sees_accusations and "is_accusation" in cases.columns:
        accused = cases["is_accusation"].fillna(False).astype(bool).to_numpy()
        if accused.any():
            out = out.copy()
            for col in touched:
                out[col] = out[col].astype("object").where(~accused, None)
    if "address" in out.columns and not viewer.full_address:
        names = _community_names(snap)
        comm = (out["community_id"].astype("str").map(names) if "community_id" in out.columns
                else pd.Series(None, index=out.index, dtype="object"))
        cut = [None if pd.isna(a) or pd.isna(c) else _address_to_community(a, c)  # no community: no address
               for a, c in zip(out["address"], comm, strict=True)]
        out = out.assign(address=pd.Series(cut, index=out.index, dtype="object"))
    return out


def _community_names(snap: Snapshot) -> pd.Series:
    grids = read_table(snap, "grids", ("community_id", "community_name"))
    return grids.drop_duplicates("community_id").set_index(grids.drop_duplicates("community_id")["community_id"]
                                                           .astype("str"))["community_name"]


def scoped_metrics(viewer: Viewer, snap: Snapshot, *, unit_type: str | None = None,
                   unit_ids: Sequence[str] | None = None, period: str | None = None,
                   start: dt.date | None = None, end: dt.date | None = None,
                   columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of metrics.parquet (geo.metrics.METRIC_COLUMNS) the viewer may see.

    A viewer with a grid scope sees only grid rows of their own grids (day rows exist only for
    `metrics.day_units`; use `unit_days` for their day-by-day totals).
    """
    where: list[tuple[str, str, Any]] = []
    if unit_type is not None:
        where.append(("unit_type", "==", unit_type))
    if period is not None:
        where.append(("period", "==", period))
    if unit_ids is not None:
        where.append(("unit_id", "in", tuple(sorted(str(u) for u in unit_ids))))
    need = None if columns is None else ("unit_type", "unit_id", "period", "period_start", *columns)
    frame = read_table(snap, "metrics", need, where=tuple(where) or None)
    mask = pd.Series(True, index=frame.index)
    if not viewer.sees_all:
        mask &= (frame["unit_type"] == "grid") & viewer.in_scope(frame["unit_id"])
    if start is not None or end is not None:
        days = pd.to_datetime(frame["period_start"].astype("datetime64[s]")).dt.date
        if start is not None:
            mask &= days >= start
        if end is not None:
            mask &= days <= end
    return frame[mask.to_numpy()]


def _alert_in_scope(alerts: pd.DataFrame, viewer: Viewer, units: pd.DataFrame, unit: Unit | None) -> pd.Series:
    """An alert is visible when every grid it concerns is in the viewer's scope and in `unit`.

    The grids of an alert: its `grid_ids` when the table has them (case-level alerts name the grid
    of their case), else the grids of its scope unit. County-wide alerts concern every grid.
    """
    allowed = units[unit_grids(units, unit or Unit())]
    allowed_grids = frozenset(allowed["grid_id"].astype("str"))
    all_grids = viewer.sees_all and (unit is None or unit.is_county)
    by_unit = {kind: frozenset(allowed[col].dropna().astype("str")) for kind, col in UNIT_COLUMN.items()}
    out = []
    for scope, scope_id, grid_ids in zip(alerts["scope"].astype("str"), alerts["scope_id"].astype("str"),
                                         alerts["grid_ids"] if "grid_ids" in alerts.columns
                                         else [None] * len(alerts), strict=True):
        if all_grids:
            out.append(True)
            continue
        ids = [str(g) for g in grid_ids] if isinstance(grid_ids, (list, tuple, np.ndarray)) else []
        if ids:
            out.append(all(g in allowed_grids for g in ids))
        elif scope == "county":
            out.append(False)
        elif scope == "grid":
            out.append(scope_id in allowed_grids)
        elif viewer.sees_all:  # a township/community alert inside the chosen unit
            out.append(scope_id in by_unit.get(scope, frozenset()) and _covers(units, scope, scope_id, unit))
        else:  # aggregates of larger units are not shown to grid workers
            out.append(False)
    return pd.Series(out, index=alerts.index, dtype=bool)


def _covers(units: pd.DataFrame, scope: str, scope_id: str, unit: Unit | None) -> bool:
    """Whether the scope unit lies inside `unit` (not merely overlaps it)."""
    if unit is None or unit.is_county:
        return True
    order = ("township", "community", "grid")
    if order.index(scope) < order.index(unit.type):
        return False
    return scope_id in frozenset(units.loc[unit_grids(units, unit), UNIT_COLUMN[scope]].dropna().astype("str"))


def scoped_alerts(viewer: Viewer, snap: Snapshot, *, unit: Unit | None = None,
                  open_only: bool = False) -> pd.DataFrame:
    """Alerts (alerts.parquet) the viewer may see; empty with ALERT_COLUMNS when the table is absent.

    `open_only` keeps alerts still firing or not yet closed (state new/acknowledged/dispatched).
    """
    if not has_table(snap, "alerts"):
        return _empty(ALERT_COLUMNS)
    alerts = read_table(snap, "alerts")
    units = unit_table(viewer, snap)
    out = alerts[_alert_in_scope(alerts, viewer, units, unit).to_numpy()]
    if open_only:
        keep = pd.Series(False, index=out.index)
        if "is_open" in out.columns:
            keep |= out["is_open"].fillna(False).astype(bool)
        if "condition_active" in out.columns:
            keep |= out["condition_active"].fillna(False).astype(bool)
        if "is_open" not in out.columns and "condition_active" not in out.columns:
            keep[:] = True
        out = out[keep.to_numpy()]
    return out


def scoped_grid_stats(viewer: Viewer, snap: Snapshot, *, window: str | None = None,
                      unit: Unit | None = None) -> pd.DataFrame:
    """grid_stats.parquet rows of the viewer's grids (and `unit`); empty when the table is absent."""
    if not has_table(snap, "grid_stats"):
        return _empty(GRID_STATS_COLUMNS)
    stats = read_table(snap, "grid_stats", where=(("window", "==", window),) if window else None)
    units = unit_table(viewer, snap)
    allowed = units.loc[unit_grids(units, unit or Unit()), "grid_id"].astype("str")
    return stats[stats["grid_id"].astype("str").isin(allowed).to_numpy()]


def _scoped_by_case(viewer: Viewer, snap: Snapshot, table: str, unit: Unit | None) -> pd.DataFrame:
    frame = read_table(snap, table)
    if viewer.sees_all and (unit is None or unit.is_county):
        return frame
    ids = scoped_cases(viewer, snap, ["case_id"], unit=unit)["case_id"]
    return frame[frame["case_id"].isin(ids).to_numpy()]


def scoped_leader_cases(viewer: Viewer, snap: Snapshot, *, unit: Unit | None = None) -> pd.DataFrame:
    """包案 rows (leader_cases) whose case the viewer may see."""
    return _scoped_by_case(viewer, snap, "leader_cases", unit)


def scoped_supervisions(viewer: Viewer, snap: Snapshot, *, unit: Unit | None = None) -> pd.DataFrame:
    """督办 orders (supervisions) whose case the viewer may see."""
    return _scoped_by_case(viewer, snap, "supervisions", unit)


def scoped_inspections(viewer: Viewer, snap: Snapshot, *, unit: Unit | None = None) -> pd.DataFrame:
    """排查 records (inspections: grid_id, inspected_at, worker_id, issues_found) of the viewer's grids."""
    frame = read_table(snap, "inspections")
    units = unit_table(viewer, snap)
    allowed = units.loc[unit_grids(units, unit or Unit()), "grid_id"].astype("str")
    if viewer.sees_all and (unit is None or unit.is_county):
        return frame
    return frame[frame["grid_id"].astype("str").isin(allowed).to_numpy()]


def restricted_texts(viewer: Viewer, snap: Snapshot) -> pd.DataFrame:
    """Accusation texts (检举控告, restricted file): only for the discipline role, else AccessDenied."""
    viewer.require(RESTRICTED_ROLES)
    frame = read_table(snap, "restricted/accusations")
    if viewer.sees_all:
        return frame
    ids = scoped_cases(viewer, snap, ["case_id"])["case_id"]
    return frame[frame["case_id"].isin(ids).to_numpy()]


def accusation_list(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit) -> pd.DataFrame:
    """检举控告 of the unit with their content, newest first — for the discipline role only (AccessDenied
    otherwise): case_id, received_at (local), township, community, category, status, summary,
    subcategory, address."""
    texts = restricted_texts(viewer, snap)
    cases = scoped_cases(viewer, snap, ["case_id", "received_at", "township_id", "community_id", "category",
                                        "status"], unit=unit)
    frame = cases.merge(texts, on="case_id", how="inner").sort_values(["received_at", "case_id"],
                                                                     ascending=[False, True], kind="stable")
    units = unit_table(viewer, snap)
    towns = units.drop_duplicates("township_id").set_index("township_id")["township_name"]
    comms = units.drop_duplicates("community_id").set_index("community_id")["community_name"]
    received = pd.to_datetime(frame["received_at"], utc=True).dt.tz_convert(settings.timezone)
    return pd.DataFrame({
        "case_id": frame["case_id"].astype("str").to_numpy(),
        "received_at": received.dt.strftime("%Y-%m-%d %H:%M").to_numpy(),
        "township": frame["township_id"].map(towns).fillna("").astype("str").to_numpy(),
        "community": frame["community_id"].map(comms).fillna("").astype("str").to_numpy(),
        "category": frame["category"].fillna("").astype("str").to_numpy(),
        "status": frame["status"].fillna("").astype("str").to_numpy(),
        "summary": frame["summary"].fillna("").astype("str").to_numpy(),
        "subcategory": frame["subcategory"].fillna("").astype("str").to_numpy(),
        "address": frame["address"].fillna("").astype("str").to_numpy(),
    })


# --- metrics per day of one unit --------------------------------------------------------------------------

def _has_day_rows(snap: Snapshot, unit_type: str) -> bool:
    probe = read_table(snap, "metrics", ("unit_type",), where=(("unit_type", "==", unit_type),
                                                               ("period", "==", "day")))
    return len(probe) > 0


def _day_metrics_from_cases(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, start: dt.date,
                            unit_type: str) -> pd.DataFrame:
    """Day rows of `unit_type` computed from the viewer's own cases in `unit` since `start` (for scopes
    and unit types without day rows in metrics.parquet; no 包案, so no leader rows)."""
    cases = scoped_cases(viewer, snap, _METRIC_CASE_COLUMNS, unit=unit).reset_index(drop=True)
    today = snapshot_today(snap, settings)
    m = settings.metrics
    empty_lc = pd.DataFrame({"case_id": pd.Series(dtype="str"), "leader_id": pd.Series(dtype="str"),
                             "assigned_at": pd.Series(dtype=f"datetime64[us, {settings.timezone}]")})
    rows = compute_metrics(
        cases, cases, empty_lc, now=as_of(snap, settings), jurisdiction_level=settings.jurisdiction_level,
        periods=("day",), timezone=settings.timezone, evaluation_window_days=m.evaluation_window_days,
        collective_min_people=m.collective_min_people, day_units=(unit_type,),
        backlog_days=settings.deadlines.backlog_days, history_days=max((today - start).days + 1, 1))
    return rows[((rows["unit_type"] == unit_type) & (rows["period"] == "day")).to_numpy()]


def unit_days(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, start: dt.date,
              end: dt.date) -> pd.DataFrame:
    """Day rows (counts, numerators, denominators; METRIC_COLUMNS) of `unit` for start..end, one per date.

    From metrics.parquet when it has day rows of the unit type and the viewer sees the whole
    jurisdiction; otherwise computed with `geo.metrics.compute_metrics` from the viewer's own
    cases in the unit (for a grid worker: their grids' totals; 重复信访 then counts repeats
    within those cases only). Days without activity are zero rows; index = local date.
    """
    if viewer.sees_all and unit.type in ("county", "township") and _has_day_rows(snap, unit.type):
        rows = read_table(snap, "metrics", where=(("unit_type", "==", unit.type), ("unit_id", "==", unit.id),
                                                  ("period", "==", "day")))
    else:
        rows = _day_metrics_from_cases(viewer, snap, settings, unit, start, "county")
    values = [c for c in METRIC_COLUMNS if c not in ("unit_type", "unit_id", "period", "period_start")]
    days = pd.to_datetime(rows["period_start"].astype("datetime64[s]")).dt.date
    frame = pd.DataFrame(rows[values].to_numpy(), columns=values, index=pd.Index(days, name="date"))
    frame = frame[(frame.index >= start) & (frame.index <= end)]
    full = pd.Index([start + dt.timedelta(days=i) for i in range((end - start).days + 1)], name="date")
    frame = frame.reindex(full)
    counts = [c for c in values if c not in RATE_NAMES]
    frame[counts] = frame[counts].fillna(0)
    return frame.astype({c: "float64" for c in values})


# --- KPIs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kpi:
    """One KPI tile: `value` is display text, `raw` the number behind it, `help` the hover text.

    A suppressed count (SPEC §9) has `value` "<5", a rate from one "样本<5"; neither has `raw` or `delta`
    (both would tell it)."""

    key: str
    label: str
    value: str
    help: str
    raw: float | None = None
    delta: str | None = None
    delta_color: str = "off"  # normal | inverse | off (st.metric)
    tone: str = ""            # red | yellow | "" (colour of the label)


KPI_RATES = (("timely_acceptance", "kpi_timely"), ("on_time_conclusion", "kpi_on_time"),
             ("satisfaction", "kpi_satisfaction"), ("resolution", "kpi_resolution"))


def _count_kpi(key: str, value: float, help_text: str, *, lang: str, threshold: int | None, **kw: Any) -> Kpi:
    """A count tile; "<5" without raw value or delta when the count is suppressed (threshold None: never)."""
    if is_small(value, threshold=threshold):
        kw.pop("delta", None)
        return Kpi(key, t(key, lang), count_text(value, threshold, lang), help_text, **kw)
    return Kpi(key, t(key, lang), fmt_count(value, lang), help_text, raw=float(value), **kw)


def _rate_kpi(key: str, name: str, num: float, den: float, *, lang: str, threshold: int | None,
              period: str = "") -> Kpi:
    """A rate tile (num ÷ den; numerator and denominator in the help); "样本<5" when either count is suppressed."""
    if threshold is not None and is_small(num, den, threshold=threshold):
        hidden = suppressed_rate_text(threshold, lang)
        return Kpi(key, t(key, lang), hidden, rate_help(name, num, den, lang=lang, period=period, shown=hidden))
    return Kpi(key, t(key, lang), fmt_rate(num, den), rate_help(name, num, den, lang=lang, period=period),
               raw=num / den if den else None)


def period_label(period: Period, today: dt.date, lang: str = "zh") -> str:
    """E.g. "近30日（10-24 至 11-22）"."""
    start, end = period.dates(today)
    name = t(f"period_{period.code}", lang)
    span = f"{start:%m-%d}" if start == end else f"{start:%m-%d} {t('to', lang)} {end:%m-%d}"
    if start.year != end.year or start.year != today.year:
        span = f"{start:%Y-%m-%d} {t('to', lang)} {end:%Y-%m-%d}"
    return f"{name}（{span}）" if lang == "zh" else f"{name} ({span})"


def kpis(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters) -> list[Kpi]:
    """The command-screen KPI row for the filters' unit: today (vs yesterday until the same time), this week,
    open, red, yellow, then over the filters' period 及时受理率, 按期办结率, 满意率, 化解率, 越级访, 集体访.

    Counts and rates are those of metrics.parquet day rows (county/township) so they equal the
    snapshot's metrics; numerators and denominators are in each tile's help.
    """
    lang = viewer.lang
    today = snapshot_today(snap, settings)
    start, end = filters.period.dates(today)
    monday = today - dt.timedelta(days=today.weekday())
    first = min(start, monday, today - dt.timedelta(days=1))
    days = unit_days(viewer, snap, settings, filters.unit, first, max(end, today))
    now = days.loc[today]
    yesterday = days.loc[today - dt.timedelta(days=1)]
    clock = as_of(snap, settings)
    day_before = today - dt.timedelta(days=1)
    received = scoped_cases(viewer, snap, ["received_at"], unit=filters.unit, received=(day_before, day_before),
                            timezone=settings.timezone)["received_at"]
    local = pd.to_datetime(received).dt.tz_convert(settings.timezone) if len(received) else received
    same_time = int((local.dt.time <= clock.time()).sum()) if len(received) else 0
    span = combine_periods(days.loc[start:end].reset_index().rename(columns={"date": "period_start"}))
    week = days.loc[monday:today, "received"].sum()
    pl = period_label(filters.period, today, lang)
    yellow = scoped_cases(viewer, snap, ["light"], unit=filters.unit)
    n_yellow = int((yellow["light"] == YELLOW).sum())
    threshold = threshold_for(viewer, settings)

    def number(value: float) -> str:
        return count_text(value, threshold, lang)

    count = partial(_count_kpi, lang=lang, threshold=threshold)

    # a change against a suppressed count would tell it
    today_delta = None if is_small(now["received"], same_time, threshold=threshold) else \
        fmt_delta_pct(now["received"], same_time)
    out = [
        count("kpi_today", now["received"], t("kpi_today_help", lang).format(
            same=number(same_time), time=f"{clock:%H:%M}", yesterday=number(yesterday["received"])),
            delta=today_delta, delta_color="inverse"),
        count("kpi_week", week, t("kpi_week_help", lang).format(since=f"{monday:%m-%d}")),
        count("kpi_open", now["open_end"], t("kpi_open_help", lang)),
        count("kpi_red", now["overdue"], t("kpi_red_help", lang), tone="red"),
        count("kpi_yellow", n_yellow, t("kpi_yellow_help", lang).format(days=settings.deadlines.yellow_days),
              tone="yellow"),
    ]
    for name, key in KPI_RATES:
        num, den = float(span[f"{name}_num"]), float(span[f"{name}_den"])
        out.append(_rate_kpi(key, name, num, den, lang=lang, threshold=threshold, period=pl))
    out.append(count("kpi_skip", span["skip_level"], t("kpi_skip_help", lang).format(
        province=number(span["skip_level_province"]), national=number(span["skip_level_national"]), period=pl)))
    out.append(count("kpi_collective", span["collective_cases"], t("kpi_collective_help", lang).format(
        people=number(span["collective_people"]), period=pl)))
    return out


# --- charts -----------------------------------------------------------------------------------------------

def trend(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, days: int = 30) -> pd.DataFrame:
    """New (received) and concluded (closed) cases per day for the last `days` days: date, series, cases
    (int64; object with "<5" for the suppressed days of a viewer without point access)."""
    today = snapshot_today(snap, settings)
    rows = unit_days(viewer, snap, settings, unit, today - dt.timedelta(days=days - 1), today)
    lang = viewer.lang
    out = pd.DataFrame({"date": pd.to_datetime(pd.Series(rows.index)),
                        t("series_received", lang): rows["received"].to_numpy(),
                        t("series_closed", lang): rows["closed"].to_numpy()})
    out = out.melt(id_vars="date", var_name="series", value_name="cases").astype({"cases": "int64"})
    return suppress_frame(out, threshold_for(viewer, settings), counts=["cases"])


def categories(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters, top: int = 8, *,
               exact: bool = False) -> pd.DataFrame:
    """Cases received in the period by category, largest first; the rest summed as one row: category, cases,
    share (0..1). Suppressed counts are "<5" and their shares "样本<5" unless `exact`."""
    today = snapshot_today(snap, settings)
    cases = scoped_cases(viewer, snap, ["category"], unit=filters.unit, received=filters.period.dates(today),
                         timezone=settings.timezone)
    counts = cases["category"].fillna(t("unknown", viewer.lang)).astype("str").value_counts()
    head = counts.head(top)
    if len(counts) > top:
        head = pd.concat([head, pd.Series({t("other_categories", viewer.lang): counts.iloc[top:].sum()})])
    total = max(int(counts.sum()), 1)
    out = pd.DataFrame({"category": head.index.astype(str), "cases": head.to_numpy(dtype="int64"),
                        "share": (head.to_numpy() / total).round(4)})
    threshold = threshold_for(viewer, settings)
    if exact or threshold is None:
        return out
    # suppressed rows in name order after the shown counts: ranked by their counts, they would tell them apart
    out = out.assign(_k=order_key(out["cases"], threshold), _rest=out["category"] == t("other_categories", viewer.lang))
    out = out.sort_values(["_rest", "_k", "category"], ascending=[True, False, True], kind="stable")
    out = out.drop(columns=["_k", "_rest"]).reset_index(drop=True)
    return suppress_frame(out, threshold, counts=["cases"], rates={"share": ("cases",)}, lang=viewer.lang)


# --- map --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MapData:
    """Everything a choropleth map needs, display-ready (GeoJSON dicts, small frames)."""

    level: str
    measure: str
    areas: dict[str, Any]
    outlines: dict[str, Any]
    labels: pd.DataFrame
    hot: dict[str, Any] | None
    columns: pd.DataFrame
    bounds: tuple[float, float, float, float]
    legend: list[tuple[str, str]] = field(default_factory=list)
    hot_window: str | None = None


def _hotspot_window(period: Period) -> str:
    return "7d" if period.code in ("today", "7d") else "30d"


def map_data(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters, level: str,
             measure: str) -> MapData:
    """Grids (or townships) of the filters' unit coloured by `measure` (MEASURES), with township outlines,
    names one level below the unit, hot-spot grid outlines from grid_stats, and 3-D column data.

    cases / rate count cases received in the period; open / red are the current state. A viewer
    with a grid scope always gets the grid level (no township aggregates).
    """
    lang = viewer.lang
    unit = filters.unit
    if level not in MAP_LEVELS or not unit.is_county or not viewer.sees_all:
        level = "grid"
    measure = measure if measure in MEASURES else "cases"
    today = snapshot_today(snap, settings)
    grids = scoped_grids(viewer, snap, [*GRID_COLUMNS, "population", "geometry"], unit=unit)
    if level == "grid" and viewer.sees_all and len(grids) > settings.map.max_polygons:
        level = "community"  # too many grid outlines for one browser page: colour their communities
    cases = scoped_cases(viewer, snap, ["grid_id", "community_id", "township_id", "status", "light", "received_at"],
                         unit=unit)
    start, end = filters.period.dates(today)
    in_period = in_days(cases["received_at"], start, end, settings.timezone)
    is_open = cases["status"].isin(sorted(OPEN_STATUSES)).to_numpy()
    is_red = (cases["light"] == RED).fillna(False).to_numpy()
    key = f"{level}_id"
    flags = {"cases": in_period, "open": is_open, "red": is_red, "rate": in_period}
    counted = cases.loc[flags[measure], key].astype("str").value_counts()

    if level == "grid":
        shapes = grids
        ids = grids["grid_id"].astype("str")
        pop = pd.to_numeric(grids["population"], errors="coerce")
        props = pd.DataFrame({"name": grids["grid_name"].astype("str"), "community_name": grids["community_name"],
                              "township_name": grids["township_name"]})
    elif level == "community":
        comms = read_table(snap, "communities")
        comms = comms[comms["community_id"].astype("str").isin(set(grids["community_id"].dropna().astype("str")))
                      .to_numpy()].reset_index(drop=True)
        shapes = comms
        ids = comms["community_id"].astype("str")
        pop = ids.map(pd.to_numeric(grids["population"], errors="coerce").groupby(
            grids["community_id"].astype("str")).sum(min_count=1))
        firsts = grids.drop_duplicates("community_id")
        town_names = firsts.set_index(firsts["community_id"].astype("str"))["township_name"]
        props = pd.DataFrame({"name": comms["name"].astype("str"), "community_name": "",
                              "township_name": ids.map(town_names).fillna("").astype("str")})
    else:
        towns = read_table(snap, "townships")
        shapes = towns
        ids = towns["township_id"].astype("str")
        pop = ids.map(pd.to_numeric(grids["population"], errors="coerce").groupby(
            grids["township_id"].astype("str")).sum(min_count=1))
        props = pd.DataFrame({"name": towns["name"].astype("str"), "community_name": "", "township_name": ""})
    value = ids.map(counted).fillna(0).astype("float64").to_numpy()
    if measure == "rate":
        p = pop.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(p > 0, np.round(value / p * 1e4, 1), np.nan)
    shown = [fmt_count(v, lang) if measure != "rate" else ("—" if np.isnan(v) else f"{v:.1f}") for v in value]
    threshold = threshold_for(viewer, settings)
    # Small counts (and rates from them) of units, for viewers without point access: "<5" in the tooltip, one
    # colour of their own, and left out of the class breaks (the colour class or a legend edge would tell them).
    small = small_mask(ids.map(counted).fillna(0).to_numpy(dtype="float64"), threshold)
    shown = [suppressed_text(threshold) if sm else sh for sm, sh in zip(small, shown, strict=True)]
    value = np.where(small, np.nan, value)
    breaks = maplayers.class_breaks(value)
    fill = maplayers.colours(value, breaks)
    for i in np.flatnonzero(small):
        fill[i] = [*palette.SUPPRESSED, fill[i][3]]
    props = props.reset_index(drop=True).assign(value=value, shown=shown, fill=fill)
    geoms = maplayers.simplified(shapes.geometry.to_numpy())
    areas = maplayers.feature_collection(geoms, props)

    towns = read_table(snap, "townships")
    town_ids = set(grids["township_id"].dropna().astype("str"))
    towns = towns[towns["township_id"].astype("str").isin(town_ids).to_numpy()]
    outlines = maplayers.feature_collection(maplayers.simplified(towns.geometry.to_numpy()),
                                            pd.DataFrame({"name": towns["name"].astype("str")}))
    labels = _child_labels(grids, towns, unit if viewer.sees_all or not unit.is_county else Unit("community", ""))

    window = _hotspot_window(filters.period)
    stats = scoped_grid_stats(viewer, snap, window=window, unit=unit)
    hot = None
    if len(stats):
        bins = stats.set_index(stats["grid_id"].astype("str"))["hotspot_bin"].astype("int64")
        hot_ids = bins[bins > 0]
        if len(hot_ids):
            sel = grids[grids["grid_id"].astype("str").isin(hot_ids.index).to_numpy()]
            b = sel["grid_id"].astype("str").map(hot_ids).to_numpy()
            line = [[*palette.HOTSPOT_RGB[int(x)], 255] for x in b]
            hot = maplayers.feature_collection(maplayers.simplified(sel.geometry.to_numpy()),
                                               pd.DataFrame({"bin": b, "line": line}))
    rep = shapes.geometry.representative_point()
    columns = pd.DataFrame({"lon": rep.x.round(5).to_numpy(), "lat": rep.y.round(5).to_numpy(),
                            "value": np.nan_to_num(value), "fill": fill, "name": props["name"].to_numpy(),
                            "shown": props["shown"].to_numpy()})
    columns = columns[columns["value"] > 0].reset_index(drop=True)
    framing = grids if len(grids) else read_table(snap, "townships")
    bounds = tuple(float(v) for v in framing.total_bounds)
    return MapData(level=level, measure=measure, areas=areas, outlines=outlines, labels=labels, hot=hot,
                   columns=columns, bounds=bounds,  # type: ignore[arg-type]
                   legend=maplayers.legend(breaks, measure == "rate", lang=lang,
                                           suppressed=threshold if small.any() else None),
                   hot_window=window if hot is not None else None)


def _child_labels(grids: pd.DataFrame, towns: pd.DataFrame, unit: Unit) -> pd.DataFrame:
    """Names one level below the unit at representative points (townships for the county; a grid
    worker's map passes a community-level unit so that their grids are named)."""
    if unit.is_county:
        parts, names = towns, towns["name"].astype("str")
    else:
        child = CHILD_TYPE[unit.type]
        col, name_col = UNIT_COLUMN[child], f"{child}_name"
        parts = grids.dissolve(by=col) if child != "grid" else grids.set_index(col)
        names = parts[name_col].astype("str")
    rep = parts.geometry.representative_point()
    return pd.DataFrame({"name": names.to_numpy(), "lon": rep.x.round(5).to_numpy(),
                         "lat": rep.y.round(5).to_numpy(), "weight": shapely.area(parts.geometry.to_numpy())})


# --- alerts -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertList:
    """Top alerts for a panel: rows (display-ready), counts of open alerts per level, table present?"""

    rows: pd.DataFrame
    counts: dict[str, int]
    available: bool


def top_alerts(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, limit: int = 8) -> AlertList:
    """Open or still-firing alerts in the unit, red and orange first, newest first within a level."""
    from dashboard.appdb import STATES
    from geo.warnings import DETECTOR_BY_CODE, LEVEL_BY_CODE

    lang = viewer.lang
    if not has_table(snap, "alerts"):
        return AlertList(_empty(("alert_id", "level", "title")), {}, False)
    alerts = scoped_alerts(viewer, snap, unit=unit, open_only=True)
    counts = {lv: int(n) for lv, n in alerts["level"].value_counts().items()}
    if alerts.empty:
        return AlertList(_empty(("alert_id", "level", "title")), counts, True)
    frame = alerts.assign(_rank=alerts["level"].map(palette.level_rank),
                          _seen=pd.to_datetime(alerts["last_seen"], utc=True))
    frame = frame.sort_values(["_rank", "_seen", "alert_id"], ascending=[True, False, True], kind="stable")
    frame = frame.head(limit)
    tz = settings.timezone
    rows = pd.DataFrame({
        "alert_id": frame["alert_id"].astype("str").to_numpy(),
        "level": frame["level"].astype("str").to_numpy(),
        "level_label": [LEVEL_BY_CODE[lv].label if lang == "zh" and lv in LEVEL_BY_CODE else
                        t(f"level_{lv}", lang) for lv in frame["level"].astype("str")],
        "title": frame["title"].astype("str").to_numpy(),
        "detector": [DETECTOR_BY_CODE[d].label if lang == "zh" and d in DETECTOR_BY_CODE
                     else t(f"det_{d}", lang) if f"det_{d}" in TEXTS else d for d in frame["detector"].astype("str")],
        "state": [STATES[s].label(lang) if s in STATES else str(s)
                  for s in (frame["state"] if "state" in frame.columns else ["new"] * len(frame))],
        "last_seen": frame["_seen"].dt.tz_convert(tz).dt.strftime("%m-%d %H:%M").to_numpy(),
        "summary": [_evidence_text(e) for e in frame["evidence"]],
    })
    return AlertList(rows, counts, True)


def _evidence_text(evidence: Any) -> str:
    try:
        doc = json.loads(evidence) if isinstance(evidence, str) else dict(evidence)
    except (TypeError, ValueError):
        return ""
    text = doc.get("text", "") if isinstance(doc, dict) else ""
    return str(text)


# --- 包案 and 督办 --------------------------------------------------------------------------------------

# 三率 of the rankings: which three varies by locality (DOMAIN.md §Metrics); these are the commonest and the
# ones of the command screen's KPI row.
THREE_RATES: tuple[str, ...] = ("timely_acceptance", "on_time_conclusion", "satisfaction")
THREE_RATE_KEYS: dict[str, str] = {"timely_acceptance": "kpi_timely", "on_time_conclusion": "kpi_on_time",
                                   "satisfaction": "kpi_satisfaction"}
LEADER_LEVELS: tuple[str, ...] = ("village", "township", "county")  # 三级代办, bottom up as in DOMAIN.md
LIST_ROWS = 500  # rows of the 包案 and 督办 lists sent to the page; the rest are counted
ORDER_SHOW: tuple[str, ...] = ("open", "period", "all")
_DAY = pd.Timedelta(days=1)
_EPOCH = pd.Timestamp(0, tz="UTC")


def _leader_flags(lc: pd.DataFrame, now: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """(done, overdue) per 包案 row: done = stage 已化解/已回访 or a resolved_at (as geo.metrics counts 化解);
    overdue = not done and past its 包案 due_at as of `now`."""
    done = (lc["stage"].isin(sorted(_LEADER_DONE)).fillna(False).to_numpy(dtype=bool)
            | lc["resolved_at"].notna().to_numpy(dtype=bool))
    due = pd.to_datetime(lc["due_at"], utc=True)
    overdue = ~done & (due < now.tz_convert("UTC")).fillna(False).to_numpy(dtype=bool)
    return done, overdue


def _supervision_flags(sup: pd.DataFrame, now: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """(open, overdue) per 督办 order: open = status 已下发/已反馈 (not yet 销号); overdue (逾期未反馈) = open,
    no feedback yet (answered_at empty) and past its due_at as of `now`."""
    is_open = sup["status"].isin(sorted(_SUPERVISION_OPEN)).fillna(False).to_numpy(dtype=bool)
    due = pd.to_datetime(sup["due_at"], utc=True)
    late = (due < now.tz_convert("UTC")).fillna(False).to_numpy(dtype=bool)
    return is_open, is_open & sup["answered_at"].isna().to_numpy(dtype=bool) & late


@dataclass(frozen=True)
class LeaderSummary:
    """领导包案 totals and the leaders with most cases (per_leader: leader, status, cases); counts are "<5"
    where suppressed (SPEC §9)."""

    leaders: int
    cases: int | str
    resolved: int | str
    overdue: int | str
    per_leader: pd.DataFrame


def leader_summary(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, top: int = 8) -> LeaderSummary:
    """包案 of the cases in the unit: leaders with cases, cases, resolved (已化解/已回访), overdue
    (not resolved and past the 包案 due date as of the snapshot)."""
    lc = scoped_leader_cases(viewer, snap, unit=unit)
    if lc.empty:
        return LeaderSummary(0, 0, 0, 0, pd.DataFrame(columns=["leader", "status", "cases"]))
    done, overdue = _leader_flags(lc, as_of(snap, settings))
    frame = pd.DataFrame({"leader_id": lc["leader_id"].astype("str").to_numpy(), "done": done, "overdue": overdue})
    leaders = read_table(snap, "leaders")
    names = leaders.set_index(leaders["leader_id"].astype("str"))["name"].astype("str")
    per = frame.groupby("leader_id").agg(cases=("done", "size"), resolved=("done", "sum"), overdue=("overdue", "sum"))
    threshold = threshold_for(viewer, settings)
    # suppressed counts tie (then leader_id): ranked by their counts, they would tell them apart
    per = per.assign(_c=order_key(per["cases"], threshold), _o=order_key(per["overdue"], threshold)).sort_values(
        ["_c", "_o"], ascending=False, kind="stable").head(top).drop(columns=["_c", "_o"])
    lang = viewer.lang
    per["leader"] = [names.get(i, i) for i in per.index]
    per["pending"] = per["cases"] - per["resolved"] - per["overdue"]
    long = per.melt(id_vars="leader", value_vars=["resolved", "pending", "overdue"], var_name="status",
                    value_name="n")
    long["status"] = long["status"].map({"resolved": t("leader_resolved", lang), "pending": t("leader_pending", lang),
                                         "overdue": t("leader_overdue", lang)})
    long = long.rename(columns={"n": "cases"}).astype({"cases": "int64"})
    return LeaderSummary(leaders=int(frame["leader_id"].nunique()), cases=shown_count(len(frame), threshold),
                         resolved=shown_count(int(done.sum()), threshold),
                         overdue=shown_count(int(overdue.sum()), threshold),
                         per_leader=suppress_frame(long.reset_index(drop=True), threshold, counts=["cases"]))


@dataclass(frozen=True)
class SupervisionSummary:
    """督办 orders by tier (total, open), open and overdue counts, and red lights per child unit; counts are
    "<5" where suppressed (SPEC §9)."""

    by_tier: list[tuple[str, int | str, int | str]]
    open: int | str
    overdue: int | str
    reminders: int | str
    red_by_unit: pd.DataFrame
    red_unit_type: str


def supervision_summary(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit) -> SupervisionSummary:
    """督办 in the unit (tiers 交办/督办/挂牌督办), and 灭红灯: red lights now per unit one level down
    (with the count 7 days earlier from metrics day rows where the snapshot has them)."""
    sup = scoped_supervisions(viewer, snap, unit=unit)
    is_open, overdue = _supervision_flags(sup, as_of(snap, settings))
    threshold = threshold_for(viewer, settings)
    by_tier: list[tuple[str, int | str, int | str]] = []
    for member in sorted(TIER.members, key=lambda m: m.rank):
        sel = (sup["tier"] == member.code).fillna(False).to_numpy()
        by_tier.append((member.code if viewer.lang == "zh" else t(f"tier_{member.rank}", viewer.lang),
                        shown_count(int(sel.sum()), threshold), shown_count(int((sel & is_open).sum()), threshold)))
    reminders = int(pd.to_numeric(sup["reminders"], errors="coerce").fillna(0)[is_open].sum()) if len(sup) else 0
    board = light_board(viewer, snap, settings, unit, exact=True)
    frame = board.rows[["unit_id", "name", "red", "red_7d_ago"]]
    frame = frame.assign(_k=order_key(frame["red"], threshold)).sort_values(
        ["_k", "name"], ascending=[False, True], kind="stable").drop(columns="_k").reset_index(drop=True)
    return SupervisionSummary(by_tier=by_tier, open=shown_count(int(is_open.sum()), threshold),
                              overdue=shown_count(int(overdue.sum()), threshold),
                              reminders=shown_count(reminders, threshold),
                              red_by_unit=suppress_frame(frame, threshold, counts=["red", "red_7d_ago"]),
                              red_unit_type=board.unit_type)


# --- 灭红灯 board -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LightBoard:
    """Lights now per unit one level below `unit` (a grid worker's county view: their grids); counts are "<5"
    where suppressed and red_share then "样本<5" (SPEC §9)."""

    unit_type: str       # township | community | grid: the type of the rows
    rows: pd.DataFrame   # unit_id, name, red, yellow, green, open, red_share, red_7d_ago; most red first
    unplaced: int | str  # open cases in scope that have no unit of that type (e.g. placed on a township only)


def light_board(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, *, exact: bool = False) -> LightBoard:
    """灭红灯: red / yellow / green lights and open cases per child unit of `unit`, every child listed
    (zeros included), with the red count 7 days earlier for townships where metrics day rows exist.
    Small counts are suppressed unless `exact` (see the module docstring)."""
    child = "grid" if not viewer.sees_all and unit.is_county else CHILD_TYPE[unit.type]
    col = UNIT_COLUMN[child]
    cases = scoped_cases(viewer, snap, ["status", "light", col], unit=unit)
    light = cases["light"].fillna("none").astype("str")
    flags = pd.DataFrame({"unit_id": cases[col].astype("str").where(cases[col].notna()).to_numpy(),
                          "red": (light == RED).to_numpy(), "yellow": (light == YELLOW).to_numpy(),
                          "green": (light == GREEN).to_numpy(),
                          "open": cases["status"].isin(sorted(OPEN_STATUSES)).fillna(False).to_numpy(dtype=bool)})
    per = flags.groupby("unit_id").sum()
    units = unit_table(viewer, snap)
    first = units.drop_duplicates(col)
    names = first.set_index(first[col].astype("str"))[f"{child}_name"]
    children = units.loc[unit_grids(units, unit), col].dropna().astype("str").unique()
    frame = pd.DataFrame({"unit_id": children})
    frame["name"] = frame["unit_id"].map(names.astype("str")).fillna(frame["unit_id"])
    for name in ("red", "yellow", "green", "open"):
        frame[name] = frame["unit_id"].map(per[name]).fillna(0).astype("int64")
    frame["red_share"] = np.where(frame["open"] > 0, frame["red"] / frame["open"].where(frame["open"] > 0), np.nan)
    frame["red_7d_ago"] = pd.NA
    if viewer.sees_all and child == "township" and _has_day_rows(snap, "township"):
        week_ago = snapshot_today(snap, settings) - dt.timedelta(days=7)
        past = scoped_metrics(viewer, snap, unit_type="township", period="day", start=week_ago, end=week_ago,
                              columns=("overdue",))
        frame["red_7d_ago"] = frame["unit_id"].map(past.set_index(past["unit_id"].astype("str"))["overdue"]
                                                   ).fillna(0).astype("int64")
    threshold = None if exact else threshold_for(viewer, settings)
    # suppressed counts tie (then by name): ranked by their counts, the rows would tell them apart
    frame = frame.assign(_r=order_key(frame["red"], threshold), _y=order_key(frame["yellow"], threshold))
    frame = frame.sort_values(["_r", "_y", "name"], ascending=[False, False, True], kind="stable")
    rows = suppress_frame(frame.drop(columns=["_r", "_y"]).reset_index(drop=True), threshold,
                          counts=["red", "yellow", "green", "open", "red_7d_ago"], rates={"red_share": ("red", "open")},
                          lang=viewer.lang)
    unplaced = int((flags["open"] & flags["unit_id"].isna()).sum())
    return LightBoard(unit_type=child, rows=rows, unplaced=shown_count(unplaced, threshold))


# --- period sums of the 三率 per unit ----------------------------------------------------------------------

_RATE_PARTS: tuple[str, ...] = tuple(f"{r}_{p}" for r in THREE_RATES for p in ("num", "den"))


def _period_sums(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, child: str, start: dt.date,
                 end: dt.date) -> pd.DataFrame:
    """Per unit of type `child` inside `unit` (index: unit_id, every child listed): cases received and the
    numerators/denominators of THREE_RATES over the local dates start..end (inclusive).

    From metrics.parquet day rows when the snapshot has them for `child` and the viewer sees the whole
    jurisdiction (the same rows as the command screen's KPIs); otherwise computed with
    `geo.metrics.compute_metrics` from the viewer's own cases in `unit` (as `unit_days` does).
    """
    cols = ["received", *_RATE_PARTS]
    units = unit_table(viewer, snap)
    children = pd.Index(units.loc[unit_grids(units, unit), UNIT_COLUMN[child]].dropna().astype("str").unique(),
                        name="unit_id")
    if viewer.sees_all and _has_day_rows(snap, child):
        rows = scoped_metrics(viewer, snap, unit_type=child, period="day", start=start, end=end, columns=cols)
    else:
        rows = _day_metrics_from_cases(viewer, snap, settings, unit, start, child)
        days = pd.to_datetime(rows["period_start"].astype("datetime64[s]")).dt.date
        rows = rows[((days >= start) & (days <= end)).to_numpy()]
    sums = rows.groupby(rows["unit_id"].astype("str"))[cols].sum()
    return sums.reindex(children, fill_value=0).astype("int64")


# Each rate's columns (value, text, label) and the counts it is computed from, for suppress_frame.
_RATE_SOURCES: dict[str, tuple[str, str]] = {col: (f"{r}_num", f"{r}_den") for r in THREE_RATES
                                             for col in (r, f"{r}_text", f"{r}_label")}


def _rate_cells(sums: pd.DataFrame) -> dict[str, Any]:
    """rate value (0..1, NaN without a denominator), display text and num/den label per rate of THREE_RATES."""
    out: dict[str, Any] = {}
    for r in THREE_RATES:
        num, den = sums[f"{r}_num"].to_numpy(dtype="float64"), sums[f"{r}_den"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            out[r] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        out[f"{r}_num"], out[f"{r}_den"] = num.astype("int64"), den.astype("int64")
        out[f"{r}_text"] = [fmt_rate(n, d) for n, d in zip(num, den, strict=True)]
        out[f"{r}_label"] = [rate_label(n, d) for n, d in zip(num, den, strict=True)]
    return out


def _town_names(viewer: Viewer, snap: Snapshot) -> pd.Series:
    """township_id -> name of the townships the viewer may name (all for `sees_all`, else their grids')."""
    units = unit_table(viewer, snap)
    names = units.drop_duplicates("township_id")
    out = names.set_index(names["township_id"].astype("str"))["township_name"].astype("str")
    if viewer.sees_all:
        towns = read_table(snap, "townships", ("township_id", "name"))
        extra = towns.set_index(towns["township_id"].astype("str"))["name"].astype("str")
        out = pd.concat([out, extra[~extra.index.isin(out.index)]])
    return out


def _date_text(values: pd.Series, tz: str) -> np.ndarray:
    """Local dates as YYYY-MM-DD text ("" when missing)."""
    ts = pd.to_datetime(values, utc=True).dt.tz_convert(tz)
    return ts.dt.strftime("%Y-%m-%d").fillna("").astype("str").to_numpy()


# --- 领导包案 page -----------------------------------------------------------------------------------------

def _leader_case_frame(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, start: dt.date,
                       end: dt.date) -> pd.DataFrame:
    """Scoped 包案 rows (one per case and leader) with their case's township, category and light, and
    done / overdue / days_open / overdue_days / days_left / new_in_period / resolved_in_period."""
    lc = scoped_leader_cases(viewer, snap, unit=unit)
    lc = lc[lc["leader_id"].notna().to_numpy()].drop_duplicates(["case_id", "leader_id"])
    cases = scoped_cases(viewer, snap, ["case_id", "township_id", "category", "light"], unit=unit)
    frame = lc.merge(cases.drop_duplicates("case_id"), on="case_id", how="left")
    frame["leader_id"] = frame["leader_id"].astype("str")
    now = as_of(snap, settings).tz_convert("UTC")
    done, overdue = _leader_flags(frame, now)
    assigned = pd.to_datetime(frame["assigned_at"], utc=True)
    resolved = pd.to_datetime(frame["resolved_at"], utc=True)
    due = pd.to_datetime(frame["due_at"], utc=True)
    ended = resolved.where(pd.Series(done, index=frame.index), now)  # a 化解 without a date has no days open
    tz = settings.timezone
    return frame.assign(
        done=done, overdue=overdue,
        days_open=np.floor((ended - assigned) / _DAY),
        overdue_days=np.ceil((now - due) / _DAY).where(pd.Series(overdue, index=frame.index)),
        days_left=np.floor((due - now) / _DAY).where(pd.Series(~done & ~overdue, index=frame.index)),
        new_in_period=in_days(frame["assigned_at"], start, end, tz),
        resolved_in_period=done & in_days(frame["resolved_at"], start, end, tz),
    )


def _count_block(frame: pd.DataFrame, key: pd.Series | str) -> pd.DataFrame:
    """cases, resolved, open, overdue, new, resolved_new per group of 包案 rows."""
    return frame.groupby(key).agg(cases=("case_id", "size"), resolved=("done", "sum"), overdue=("overdue", "sum"),
                                  new=("new_in_period", "sum"), resolved_new=("resolved_in_period", "sum")
                                  ).assign(open=lambda d: d["cases"] - d["resolved"])


@dataclass(frozen=True)
class LeaderBoard:
    """The 领导包案 page: KPIs, one row per leader (overdue first), 三级代办 by leader level, 包抓 townships."""

    kpis: list[Kpi]
    leaders: pd.DataFrame  # leader_id, name, post, level, areas, cases, open, resolved, overdue, rate, rate_label,
    #                        longest_open, next_due, last_progress, stages, new, resolved_new
    levels: pd.DataFrame   # level, people, cases, resolved, rate, rate_label, open, pending, overdue, new,
    #                        resolved_new (pending = open, not overdue)
    areas: pd.DataFrame    # township_id, township, leaders, open, red, yellow, received, <rate>_label …, lc_open,
    #                        lc_overdue (empty for a viewer with a grid scope: no township aggregates)
    period: str


def leader_board(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters, *,
                 exact: bool = False) -> LeaderBoard:
    """领导包案 of the cases in the filters' unit as of the snapshot; "new" / "resolved_new" count 包案
    assigned / resolved in the filters' period. 化解率 = resolved ÷ 包案 (DOMAIN.md §Metrics).

    Unless `exact`, counts of 包案 and of the 包抓 townships' cases are "<5" where suppressed and the rates
    computed from them "样本<5" (leaders and people, counts of leaders, are not)."""
    lang, tz, unit = viewer.lang, settings.timezone, filters.unit
    threshold = None if exact else threshold_for(viewer, settings)
    today = snapshot_today(snap, settings)
    start, end = filters.period.dates(today)
    frame = _leader_case_frame(viewer, snap, settings, unit, start, end)
    info = read_table(snap, "leaders", ("leader_id", "name", "post", "level"))
    info = info.set_index(info["leader_id"].astype("str")).drop(columns="leader_id")
    info = info[~info.index.duplicated()]
    units = unit_table(viewer, snap)
    towns_in_unit = units.loc[unit_grids(units, unit), "township_id"].dropna().astype("str").unique()
    town_names = _town_names(viewer, snap)
    if viewer.sees_all:
        la = read_table(snap, "leader_areas", ("leader_id", "township_id"))
        la = pd.DataFrame({"leader_id": la["leader_id"].astype("str"), "township_id": la["township_id"].astype("str")})
        la = la[la["township_id"].isin(towns_in_unit).to_numpy()].drop_duplicates()
    else:  # 包抓 townships are aggregates of larger units than a grid worker's grids
        la = pd.DataFrame({"leader_id": pd.Series(dtype="str"), "township_id": pd.Series(dtype="str")})
    la = la.assign(township=la["township_id"].map(town_names).fillna(la["township_id"]))

    # one row per leader with 包案 in scope
    per = _count_block(frame, "leader_id")
    pending = frame[~frame["done"].to_numpy()]
    per["longest_open"] = pending.groupby("leader_id")["days_open"].max()
    per["next_due"] = pd.to_datetime(pending.groupby("leader_id")["due_at"].min(), utc=True)
    per["last_progress"] = pd.to_datetime(frame.groupby("leader_id")["last_progress_at"].max(), utc=True)
    stage_rank = {m.code: m.rank for m in LEADER_STAGE.members}
    stage_counts = frame.groupby(["leader_id", "stage"]).size().reset_index(name="n")
    stage_counts = stage_counts.assign(rank=stage_counts["stage"].map(stage_rank).fillna(99)).sort_values(
        ["leader_id", "rank"], kind="stable")
    stage_counts["text"] = (stage_counts["stage"].map(lambda s: _stage_label(s, lang)) + " "
                            + pd.Series([count_text(n, threshold, lang) for n in stage_counts["n"]],
                                        index=stage_counts.index, dtype="str"))
    sep = t("list_sep", lang)
    per["stages"] = stage_counts.groupby("leader_id")["text"].agg(sep.join)
    per["areas"] = la.groupby("leader_id")["township"].agg(sep.join).reindex(per.index)  # no new rows
    # overdue first (SPEC §10), then most open, most cases; suppressed counts tie (their order would tell them)
    per = per.rename_axis("leader_id").reset_index()
    per = (per.assign(**{f"_{c}": order_key(per[c], threshold) for c in ("overdue", "open", "cases")})
           .sort_values(["_overdue", "_open", "_cases", "leader_id"], ascending=[False, False, False, True],
                        kind="stable").drop(columns=["_overdue", "_open", "_cases"]).set_index("leader_id"))
    ids = per.index.astype("str")
    rates = [fmt_rate(r, c) for r, c in zip(per["resolved"], per["cases"], strict=True)]
    leaders = pd.DataFrame({
        "leader_id": ids.to_numpy(),
        "name": ids.map(info["name"].astype("str")).fillna("").to_numpy() if len(info) else ids.to_numpy(),
        "post": ids.map(info["post"].astype("str")).fillna("").to_numpy() if len(info) else "",
        "level": [_level_label(v, lang) for v in (ids.map(info["level"]) if len(info) else [None] * len(ids))],
        "areas": per["areas"].fillna("").astype("str").to_numpy(),
        "cases": per["cases"].astype("int64").to_numpy(), "open": per["open"].astype("int64").to_numpy(),
        "resolved": per["resolved"].astype("int64").to_numpy(), "overdue": per["overdue"].astype("int64").to_numpy(),
        "rate": rates,
        "rate_label": [rate_label(r, c) for r, c in zip(per["resolved"], per["cases"], strict=True)],
        "longest_open": pd.array(per["longest_open"].to_numpy(dtype="float64"), dtype="Int64"),
        "next_due": _date_text(per["next_due"], tz), "last_progress": _date_text(per["last_progress"], tz),
        "stages": per["stages"].fillna("").astype("str").to_numpy(),
        "new": per["new"].astype("int64").to_numpy(), "resolved_new": per["resolved_new"].astype("int64").to_numpy(),
    })
    lc_counts = ["cases", "open", "resolved", "overdue", "new", "resolved_new"]
    lc_rates = {"rate": ("resolved", "cases"), "rate_label": ("resolved", "cases")}
    leaders = suppress_frame(leaders, threshold, counts=lc_counts, rates=lc_rates, lang=viewer.lang)

    # 三级代办: people = leaders of the level in the unit (whole jurisdiction: every leader of the level;
    # a township or smaller: those with a 包案 or a 包抓 township there; a grid scope: those with a 包案 there)
    level_of = frame["leader_id"].map(info["level"]) if len(info) else pd.Series(pd.NA, index=frame.index)
    by_level = _count_block(frame.assign(level=level_of.to_numpy()), "level")
    if viewer.sees_all and unit.is_county:
        people = info["level"].value_counts()
    else:
        present = pd.Index(frame["leader_id"]).union(pd.Index(la["leader_id"]))
        people = info.loc[info.index.isin(present), "level"].value_counts()
    all_rows = _count_block(frame.assign(level="total"), "level")
    level_rows = []
    for code in (*LEADER_LEVELS, "total"):
        row = (all_rows if code == "total" else by_level).reindex([code]).fillna(0).iloc[0]
        n_people = int(people.sum()) if code == "total" else int(people.get(code, 0))
        level_rows.append({"level": code, "level_label": t("ld_total", lang) if code == "total"
                           else _level_label(code, lang), "people": n_people,
                           **{k: int(row[k]) for k in ("cases", "resolved", "open", "overdue", "new", "resolved_new")},
                           "rate": fmt_rate(row["resolved"], row["cases"]),
                           "rate_label": rate_label(row["resolved"], row["cases"])})
    levels = pd.DataFrame(level_rows)
    levels.insert(levels.columns.get_loc("overdue"), "pending", levels["open"] - levels["overdue"])
    total = levels.iloc[-1]  # the KPIs' numbers, before suppression
    levels = suppress_frame(levels, threshold, counts=[*lc_counts, "pending"], rates=lc_rates, lang=viewer.lang)

    # 包抓 townships with their figures
    if viewer.sees_all and len(towns_in_unit):
        board = light_board(viewer, snap, settings, Unit(), exact=True).rows.set_index("unit_id")
        sums = _period_sums(viewer, snap, settings, Unit(), "township", start, end)
        towns = pd.Series(sorted(towns_in_unit), dtype="str")
        town_lc = _count_block(frame.assign(township_id=frame["township_id"].astype("str")), "township_id")
        cells = _rate_cells(sums.reindex(towns.to_numpy(), fill_value=0))
        leaders_of = (la.assign(name=la["leader_id"].map(info["name"].astype("str")).fillna(la["leader_id"]))
                      .groupby("township_id")["name"].agg(sep.join)) if len(la) else pd.Series(dtype="str")
        areas = pd.DataFrame({
            "township_id": towns.to_numpy(),
            "township": towns.map(town_names).fillna(towns).to_numpy(),
            "leaders": towns.map(leaders_of).fillna("").to_numpy(),
            "open": towns.map(board["open"]).fillna(0).astype("int64").to_numpy(),
            "red": towns.map(board["red"]).fillna(0).astype("int64").to_numpy(),
            "yellow": towns.map(board["yellow"]).fillna(0).astype("int64").to_numpy(),
            "received": sums.reindex(towns.to_numpy(), fill_value=0)["received"].astype("int64").to_numpy(),
            **{f"{r}_label": cells[f"{r}_label"] for r in THREE_RATES},
            "lc_open": towns.map(town_lc["open"]).fillna(0).astype("int64").to_numpy(),
            "lc_overdue": towns.map(town_lc["overdue"]).fillna(0).astype("int64").to_numpy(),
            **{c: cells[c] for c in _RATE_PARTS},  # for the suppression of the labels, dropped below
        })
        areas = areas.assign(_red=order_key(areas["red"], threshold), _over=order_key(areas["lc_overdue"], threshold))
        areas = areas.sort_values(["_red", "_over", "township"], ascending=[False, False, True],
                                  kind="stable").drop(columns=["_red", "_over"]).reset_index(drop=True)
        areas = suppress_frame(areas, threshold, counts=["open", "red", "yellow", "received", "lc_open", "lc_overdue"],
                               rates={f"{r}_label": _RATE_SOURCES[r] for r in THREE_RATES}, lang=viewer.lang)
        areas = areas.drop(columns=list(_RATE_PARTS))
    else:
        areas = _empty(("township_id", "township", "leaders", "open", "red", "yellow", "received",
                        *(f"{r}_label" for r in THREE_RATES), "lc_open", "lc_overdue"))

    pl = period_label(filters.period, today, lang)
    n_leaders = int(frame["leader_id"].nunique())

    count = partial(_count_kpi, lang=lang, threshold=threshold)

    kpis = [
        Kpi("stat_leaders", t("stat_leaders", lang), fmt_count(n_leaders, lang), t("ld_kpi_leaders_help", lang),
            raw=float(n_leaders)),  # a count of leaders, not of cases
        count("stat_cases", total["cases"], t("ld_kpi_cases_help", lang)),
        count("ld_kpi_open", total["open"], t("ld_kpi_open_help", lang)),
        count("stat_overdue", total["overdue"], t("ld_kpi_overdue_help", lang), tone="red"),
        _rate_kpi("kpi_resolution", "resolution", float(total["resolved"]), float(total["cases"]), lang=lang,
                  threshold=threshold),
        count("ld_kpi_new", total["new"], t("ld_kpi_new_help", lang).format(period=pl)),
        count("ld_kpi_resolved_new", total["resolved_new"], t("ld_kpi_resolved_new_help", lang).format(period=pl)),
    ]
    return LeaderBoard(kpis=kpis, leaders=leaders, levels=levels, areas=areas, period=pl)


def _stage_label(code: Any, lang: str) -> str:
    key = f"ld_stage_{code}"
    return t(key, lang) if key in TEXTS else ("—" if pd.isna(code) else str(code))


def _level_label(code: Any, lang: str) -> str:
    key = f"ld_level_{code}"
    return t(key, lang) if key in TEXTS else "—"


@dataclass(frozen=True)
class Listing:
    """Rows of a list for the page (at most LIST_ROWS, in display order) and how many there are in all."""

    rows: pd.DataFrame
    total: int


def leader_cases_list(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters, leader_id: str = "",
                      only_pending: bool = False) -> Listing:
    """The 包案 of the filters' unit (of one leader when `leader_id`), overdue first (most days over first),
    then in progress by due date, then resolved (latest first): leader, case, stage, days open, due …"""
    lang, tz = viewer.lang, settings.timezone
    today = snapshot_today(snap, settings)
    start, end = filters.period.dates(today)
    frame = _leader_case_frame(viewer, snap, settings, filters.unit, start, end)
    if leader_id:
        frame = frame[(frame["leader_id"] == leader_id).to_numpy()]
    if only_pending:
        frame = frame[~frame["done"].to_numpy()]
    group = np.where(frame["overdue"], 0, np.where(frame["done"], 2, 1))
    resolved_days = (pd.to_datetime(frame["resolved_at"], utc=True) - _EPOCH) / _DAY
    within = np.where(group == 0, -frame["overdue_days"].fillna(0),
                      np.where(group == 1, frame["days_left"].fillna(1e9), -resolved_days.fillna(0)))
    frame = frame.assign(_g=group, _w=within).sort_values(["_g", "_w", "case_id", "leader_id"], kind="stable")
    total = len(frame)
    frame = frame.head(LIST_ROWS)
    info = read_table(snap, "leaders", ("leader_id", "name"))
    names = info.set_index(info["leader_id"].astype("str"))["name"].astype("str")
    names = names[~names.index.duplicated()]
    town_names = _town_names(viewer, snap)
    over = frame["overdue_days"]
    left = frame["days_left"]
    state = np.where(frame["overdue"], [t("ld_state_overdue", lang).format(days=int(d)) if pd.notna(d) else ""
                                        for d in over],
                     np.where(frame["done"], t("leader_resolved", lang),
                              [t("ld_state_left", lang).format(days=int(d)) if pd.notna(d) else t("wb_no_due", lang)
                               for d in left]))
    rows = pd.DataFrame({
        "leader_id": frame["leader_id"].to_numpy(),
        "leader": frame["leader_id"].map(names).fillna(frame["leader_id"]).to_numpy(),
        "case_id": frame["case_id"].astype("str").to_numpy(),
        "category": frame["category"].fillna("").astype("str").to_numpy(),
        "township": frame["township_id"].astype("str").map(town_names).fillna("").to_numpy(),
        "stage": [_stage_label(s, lang) for s in frame["stage"]],
        "assigned": _date_text(frame["assigned_at"], tz),
        "days_open": pd.array(frame["days_open"].to_numpy(dtype="float64"), dtype="Int64"),
        "due": _date_text(frame["due_at"], tz),
        "state": state,
        "overdue": frame["overdue"].to_numpy(dtype=bool),
        "overdue_days": pd.array(over.to_numpy(dtype="float64"), dtype="Int64"),
        "last_progress": _date_text(frame["last_progress_at"], tz),
        "light": [t(f"light_{c}", lang) if f"light_{c}" in TEXTS else "—" for c in frame["light"].fillna("none")],
    })
    return Listing(rows=rows, total=total)


# --- 督办督查 page -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SupervisionBoard:
    """The 督办督查 page's order figures: KPIs and orders by tier × state (with overdue, reminders, new)."""

    kpis: list[Kpi]
    by_tier: pd.DataFrame  # tier, tier_label, issued, answered, closed, total, open, overdue, reminders, new


def supervision_board(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters, *,
                      exact: bool = False) -> SupervisionBoard:
    """督办 orders of the cases in the filters' unit as of the snapshot, per tier and state; "new" counts
    orders issued in the filters' period; reminders (催办) are those of the open orders. Counts are "<5"
    where suppressed unless `exact`."""
    lang = viewer.lang
    threshold = None if exact else threshold_for(viewer, settings)
    today = snapshot_today(snap, settings)
    start, end = filters.period.dates(today)
    sup = scoped_supervisions(viewer, snap, unit=filters.unit)
    is_open, overdue = _supervision_flags(sup, as_of(snap, settings))
    flags = pd.DataFrame({
        "tier": sup["tier"].astype("str").to_numpy(), "status": sup["status"].astype("str").to_numpy(),
        "open": is_open, "overdue": overdue,
        "reminders": pd.to_numeric(sup["reminders"], errors="coerce").fillna(0).to_numpy(dtype="int64") * is_open,
        "new": in_days(sup["issued_at"], start, end, settings.timezone)})
    for code in SUPERVISION_STATUS.codes:
        flags[code] = flags["status"] == code
    sums = flags.drop(columns="status").groupby("tier").sum()
    tiers = sorted(TIER.members, key=lambda m: m.rank)
    rows = []
    for member in tiers:
        row = sums.loc[member.code] if member.code in sums.index else pd.Series(0, index=sums.columns)
        rows.append({"tier": member.code, "tier_label": t(f"tier_{member.rank}", lang),
                     **{c: int(row.get(c, 0)) for c in SUPERVISION_STATUS.codes},
                     "total": int(sum(row.get(c, 0) for c in SUPERVISION_STATUS.codes)),
                     **{c: int(row.get(c, 0)) for c in ("open", "overdue", "reminders", "new")}})
    table = pd.DataFrame(rows)
    total = table.drop(columns=["tier", "tier_label"]).sum()
    table = pd.concat([table, pd.DataFrame([{"tier": "total", "tier_label": t("ld_total", lang), **total.to_dict()}])],
                      ignore_index=True)
    pl = period_label(filters.period, today, lang)

    count = partial(_count_kpi, lang=lang, threshold=threshold)

    kpis = [
        count("sv_kpi_total", total["total"], t("sv_kpi_total_help", lang)),
        count("stat_open", total["open"], t("sv_kpi_open_help", lang)),
        count("stat_sup_overdue", total["overdue"], t("sv_kpi_overdue_help", lang), tone="red"),
        count("stat_reminders", total["reminders"], t("sv_kpi_reminders_help", lang)),
        count("sv_kpi_new", total["new"], t("sv_kpi_new_help", lang).format(period=pl)),
    ]
    counts = [*SUPERVISION_STATUS.codes, "total", "open", "overdue", "reminders", "new"]
    return SupervisionBoard(kpis=kpis, by_tier=suppress_frame(table, threshold, counts=counts))


def supervision_orders(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters, show: str = "open",
                       tiers: tuple[str, ...] = ()) -> Listing:
    """督办 orders of the filters' unit: `show` open ones, those issued in the period, or all; `tiers` limits
    the tiers (empty: all). Overdue first (most days over first), then by due date, then closed (latest first)."""
    lang, tz = viewer.lang, settings.timezone
    today = snapshot_today(snap, settings)
    start, end = filters.period.dates(today)
    sup = scoped_supervisions(viewer, snap, unit=filters.unit)
    now = as_of(snap, settings).tz_convert("UTC")
    is_open, overdue = _supervision_flags(sup, now)
    keep = np.ones(len(sup), dtype=bool)
    if show == "open":
        keep &= is_open
    elif show == "period":
        keep &= in_days(sup["issued_at"], start, end, tz)
    if tiers:
        keep &= sup["tier"].isin(list(tiers)).fillna(False).to_numpy(dtype=bool)
    sup = sup[keep].assign(_open=is_open[keep], _overdue=overdue[keep])
    due = pd.to_datetime(sup["due_at"], utc=True)
    issued = pd.to_datetime(sup["issued_at"], utc=True)
    pending = sup["_open"] & sup["answered_at"].isna()  # open and still awaiting feedback
    over_days = np.ceil((now - due) / _DAY).where(sup["_overdue"])
    left_days = np.floor((due - now) / _DAY).where(pending & ~sup["_overdue"])
    # overdue, then awaiting feedback by due date, then answered awaiting 销号, then closed; newest first within
    group = np.where(sup["_overdue"], 0, np.where(pending, 1, np.where(sup["_open"], 2, 3)))
    tier_rank = pd.to_numeric(sup["tier"].map({m.code: m.rank for m in TIER.members}), errors="coerce").fillna(0)
    within = np.where(group == 0, -over_days.fillna(0),
                      np.where(group == 1, left_days.fillna(1e9), -((issued - _EPOCH) / _DAY).fillna(0)))
    sup = sup.assign(_g=group, _w=within, _t=-tier_rank, _over=over_days, _left=left_days)
    sup = sup.sort_values(["_g", "_w", "_t", "supervision_id"], kind="stable")
    total = len(sup)
    sup = sup.head(LIST_ROWS)
    cases = scoped_cases(viewer, snap, ["case_id", "township_id", "category"], unit=filters.unit)
    cases = cases.drop_duplicates("case_id").set_index("case_id")
    town_names = _town_names(viewer, snap)
    over, left = sup["_over"], sup["_left"]
    answered = sup["answered_at"].notna().to_numpy(dtype=bool)
    status = sup["status"].astype("str")
    deadline = [t("ld_state_overdue", lang).format(days=int(o)) if pd.notna(o)
                else t("ld_state_left", lang).format(days=int(lf)) if pd.notna(lf)
                else t(f"sv_state_{s}", lang) if f"sv_state_{s}" in TEXTS else s
                for o, lf, s in zip(over, left, status, strict=True)]
    tier_label = {m.code: t(f"tier_{m.rank}", lang) for m in TIER.members}
    rows = pd.DataFrame({
        "supervision_id": sup["supervision_id"].astype("str").to_numpy(),
        "tier": sup["tier"].map(tier_label).fillna(sup["tier"]).astype("str").to_numpy(),
        "case_id": sup["case_id"].astype("str").to_numpy(),
        "category": sup["case_id"].map(cases["category"]).fillna("").astype("str").to_numpy()
        if len(cases) else "",
        "township": sup["case_id"].map(cases["township_id"]).astype("str").map(town_names).fillna("").to_numpy()
        if len(cases) else "",
        "issuer": sup["issuer"].fillna("").astype("str").to_numpy(),
        "issued": _date_text(sup["issued_at"], tz),
        "due": _date_text(sup["due_at"], tz),
        "state": [t(f"sv_state_{s}", lang) if f"sv_state_{s}" in TEXTS else s for s in status],
        "deadline": deadline,
        "overdue": sup["_overdue"].to_numpy(dtype=bool),
        "overdue_days": pd.array(over.to_numpy(dtype="float64"), dtype="Int64"),
        "answered": answered,
        "reminders": pd.to_numeric(sup["reminders"], errors="coerce").fillna(0).astype("int64").to_numpy(),
    })
    return Listing(rows=rows, total=total)


@dataclass(frozen=True)
class RateRanking:
    """三率 per unit one level below the filters' unit over the filters' period, ranked by one rate."""

    unit_type: str
    by: str
    rows: pd.DataFrame  # rank, unit_id, name, received, and per rate r of THREE_RATES: r, r_num, r_den, r_text,
    #                     r_label ("<5" / "样本<5" where suppressed, SPEC §9)
    period: str


def rate_ranking(viewer: Viewer, snap: Snapshot, settings: Settings, filters: Filters,
                 by: str = "timely_acceptance", *, exact: bool = False) -> RateRanking:
    """三率 (THREE_RATES) of the townships (communities of a township, grids of a community; a grid worker:
    their grids) over the filters' period, ranked by `by` (highest first; units without a denominator last,
    unranked). Sums of metrics.parquet day rows, so a township's figures equal its KPIs on the command screen.

    Unless `exact`, suppressed counts are "<5" and the rates computed from them "样本<5", and a unit whose `by` rate
    is suppressed is unranked and listed last (its place would tell the rate)."""
    lang = viewer.lang
    by = by if by in THREE_RATES else THREE_RATES[0]
    unit = filters.unit
    child = "grid" if not viewer.sees_all and unit.is_county else CHILD_TYPE[unit.type]
    today = snapshot_today(snap, settings)
    start, end = filters.period.dates(today)
    sums = _period_sums(viewer, snap, settings, unit, child, start, end)
    units = unit_table(viewer, snap)
    col = UNIT_COLUMN[child]
    first = units.drop_duplicates(col)
    names = first.set_index(first[col].astype("str"))[f"{child}_name"].astype("str")
    ids = pd.Series(sums.index.to_numpy(), dtype="str")
    rows = pd.DataFrame({"unit_id": ids.to_numpy(), "name": ids.map(names).fillna(ids).to_numpy(),
                         "received": sums["received"].to_numpy(), **_rate_cells(sums)})
    threshold = None if exact else threshold_for(viewer, settings)
    hidden = small_mask(rows[f"{by}_num"], threshold) | small_mask(rows[f"{by}_den"], threshold)
    value = rows[by].where(~hidden)
    rows = rows.assign(_v=value, _d=rows[f"{by}_den"].where(~hidden), _has=value.notna()).sort_values(
        ["_has", "_v", "_d", "name"], ascending=[False, False, False, True], kind="stable")
    rank = rows["_v"].rank(method="min", ascending=False)
    rows = rows.drop(columns=["_v", "_d", "_has"])
    rows.insert(0, "rank", pd.array(rank.to_numpy(dtype="float64"), dtype="Int64"))
    rows = suppress_frame(rows.reset_index(drop=True), threshold, counts=["received", *_RATE_PARTS],
                          rates=_RATE_SOURCES, lang=viewer.lang)
    return RateRanking(unit_type=child, by=by, rows=rows, period=period_label(filters.period, today, lang))


__all__ = [
    "ALERT_COLUMNS", "AlertList", "GRID_STATS_COLUMNS", "Kpi", "LEADER_LEVELS", "LeaderBoard", "LeaderSummary",
    "LightBoard", "Listing", "MAP_LEVELS", "MEASURES", "MapData", "RateRanking", "SupervisionBoard",
    "SupervisionSummary", "THREE_RATES", "UnitOptions", "as_of", "categories", "earliest_day", "has_table", "kpis",
    "leader_board", "leader_cases_list", "leader_summary", "light_board", "map_data", "period_label", "rate_ranking",
    "accusation_list", "read_table", "restricted_texts", "scoped_alerts", "scoped_cases", "scoped_grid_stats",
    "scoped_grids",
    "scoped_inspections", "scoped_leader_cases", "scoped_metrics", "scoped_supervisions", "snapshot_today",
    "supervision_board", "supervision_orders", "supervision_summary", "top_alerts", "trend", "unit_days",
    "unit_known", "unit_label", "unit_options", "unit_table",
]


# --- 网格工作台 -------------------------------------------------------------------------------------------

INSPECTION_LEVELS = ("village", "township", "district")  # 村/社区, 乡镇/街道, 县/区 (settings.inspections)
WORKBENCH_CARDS = 60  # cards listed; the rest are counted


def inspection_level(settings: Settings, *, grid_id: Any, community_id: Any, township_id: Any) -> str:
    """The level whose 排查 cadence a grid follows: district or township when the grid, its community or its
    township is listed in inspections.district_units / township_units (district first), else village (村/社区)."""
    ids = {str(v) for v in (grid_id, community_id, township_id) if not pd.isna(v)}
    if ids & set(settings.inspections.district_units):
        return "district"
    if ids & set(settings.inspections.township_units):
        return "township"
    return "village"


def inspection_cadence(settings: Settings, level: str) -> int:
    """Days between two 排查 of a grid at `level` (inspections.village_days / township_days / district_days)."""
    cfg = settings.inspections
    return {"village": cfg.village_days, "township": cfg.township_days, "district": cfg.district_days}[level]


@dataclass(frozen=True)
class Workbench:
    """The grid worker's day: their grids, open cases by urgency, map data, 排查 due per grid."""

    grid_names: tuple[str, ...]
    cases: pd.DataFrame         # display-ready cards, most urgent first (all open cases)
    areas: dict[str, Any]
    points: pd.DataFrame        # lon, lat, fill, case_id, category, light_label (empty without point permission)
    bounds: tuple[float, float, float, float]
    checks: pd.DataFrame        # grid_name, community_name, last, cadence, days_left, due
    due_cases: int
    due_checks: int


def workbench(viewer: Viewer, snap: Snapshot, settings: Settings) -> Workbench:
    """Everything of the 网格工作台 for `viewer` (scoped: only their grids' cases and inspections)."""
    lang = viewer.lang
    today = snapshot_today(snap, settings)
    grids = scoped_grids(viewer, snap, [*GRID_COLUMNS, "geometry"])
    cols = ["case_id", "grid_id", "status", "light", "category", "days_left", "next_due", "petitioner_name",
            "address", "summary", "lon", "lat", "received_at"]
    cases = scoped_cases(viewer, snap, cols)
    cases = cases[cases["status"].isin(sorted(OPEN_STATUSES)).to_numpy()]
    rank = {code: i for i, code in enumerate(palette.LIGHT_ORDER)}
    left = pd.to_numeric(cases["days_left"], errors="coerce")
    cases = cases.assign(_rank=cases["light"].map(rank).fillna(len(rank)), _left=left.fillna(1e9))
    cases = cases.sort_values(["_rank", "_left", "case_id"], kind="stable")
    names = grids.set_index(grids["grid_id"].astype("str"))
    comm = cases["grid_id"].astype("str").map(names["community_name"]) if len(names) else cases["grid_id"]
    cards = pd.DataFrame({
        "case_id": cases["case_id"].astype("str").to_numpy(),
        "light": cases["light"].fillna("none").astype("str").to_numpy(),
        "light_label": [t(f"light_{c}", lang) if f"light_{c}" in TEXTS else str(c)
                        for c in cases["light"].fillna("none")],
        "category": cases["category"].fillna("").astype("str").to_numpy(),
        "days_left": [None if pd.isna(v) else int(v) for v in left],
        "due": [None if pd.isna(d) else str(d) for d in cases["next_due"]],
        "petitioner": cases["petitioner_name"].fillna("").astype("str").to_numpy(),
        "address": [_address_to_community(a, c) for a, c in zip(cases["address"], comm, strict=True)],
        "summary": cases["summary"].fillna("").astype("str").to_numpy(),
        "grid_name": cases["grid_id"].astype("str").map(names["grid_name"]).fillna("").to_numpy()
        if len(names) else "",
    })
    points = pd.DataFrame(columns=["lon", "lat", "fill", "case_id", "category", "light_label"])
    if viewer.can_see_points:
        placed = cases.dropna(subset=["lon", "lat"])
        points = pd.DataFrame({
            "lon": placed["lon"].round(5).to_numpy(), "lat": placed["lat"].round(5).to_numpy(),
            "fill": [[*palette.light_rgb(str(c)), 230] for c in placed["light"].fillna("none")],
            "case_id": placed["case_id"].astype("str").to_numpy(),
            "category": placed["category"].fillna("").astype("str").to_numpy(),
            "light_label": [t(f"light_{c}", lang) if f"light_{c}" in TEXTS else str(c)
                            for c in placed["light"].fillna("none")],
        })
        # one tooltip serves both layers: each carries the other's fields empty (no raw {placeholders})
        points = points.assign(name="", community_name="")
    props = pd.DataFrame({"name": grids["grid_name"].astype("str").to_numpy(),
                          "community_name": grids["community_name"].astype("str").to_numpy(),
                          "fill": [[*palette.NO_DATA, 90]] * len(grids),
                          "case_id": "", "light_label": "", "category": ""})
    areas = maplayers.feature_collection(maplayers.simplified(grids.geometry.to_numpy()), props)
    bounds = tuple(float(v) for v in grids.total_bounds) if len(grids) else (np.nan,) * 4
    checks = _inspection_due(viewer, snap, settings, grids, today)
    due_cases = int(sum(1 for d in cards["days_left"] if d is not None and d <= 0))
    due_checks = int((checks["days_left"] <= 0).sum()) if len(checks) else 0
    return Workbench(grid_names=tuple(grids["grid_name"].astype("str")), cases=cards, areas=areas, points=points,
                     bounds=bounds, checks=checks, due_cases=due_cases, due_checks=due_checks)  # type: ignore[arg-type]


def _address_to_community(address: Any, community: Any) -> str:
    """The address cut after the community name (no house number), else the community name."""
    text, name = ("" if pd.isna(address) else str(address)), ("" if pd.isna(community) else str(community))
    if name and name in text:
        return text[: text.index(name) + len(name)]
    return name or text


def _inspection_due(viewer: Viewer, snap: Snapshot, settings: Settings, grids: pd.DataFrame,
                    today: dt.date) -> pd.DataFrame:
    cols = ["grid_name", "community_name", "last", "cadence", "days_left", "due"]
    if grids.empty:
        return _empty(cols)
    done = scoped_inspections(viewer, snap)
    last = (pd.to_datetime(done["inspected_at"], utc=True).dt.tz_convert(settings.timezone).dt.date
            .groupby(done["grid_id"].astype("str")).max()) if len(done) else pd.Series(dtype="object")
    rows = []
    for gid, gname, cname, cid, tid in zip(grids["grid_id"].astype("str"), grids["grid_name"].astype("str"),
                                           grids["community_name"].astype("str"), grids["community_id"],
                                           grids["township_id"], strict=True):
        cadence = inspection_cadence(settings, inspection_level(settings, grid_id=gid, community_id=cid,
                                                                township_id=tid))
        prev = last.get(gid)
        due = (prev + dt.timedelta(days=cadence)) if prev is not None and not pd.isna(prev) else today
        rows.append({"grid_name": gname, "community_name": cname, "last": None if due == today and prev is None
                     else str(prev), "cadence": cadence, "days_left": (due - today).days, "due": str(due)})
    return pd.DataFrame(rows, columns=cols).sort_values(["days_left", "grid_name"], kind="stable").reset_index(
        drop=True)


# --- 热点追踪 -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HotspotMap:
    """Grids outlined/filled by Gi* bin, with their emerging class; counts of the classes."""

    areas: dict[str, Any]
    bounds: tuple[float, float, float, float]
    trends: pd.DataFrame  # label, grids
    available: bool


def hotspot_map(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, window: str) -> HotspotMap:
    """Grids of the unit coloured by hot-spot bin (palette.HOTSPOT_RGB) of `window` (7d / 30d)."""
    from geo.hotspots import TREND_CLASS_BY_CODE

    lang = viewer.lang
    grids = scoped_grids(viewer, snap, [*GRID_COLUMNS, "geometry"], unit=unit)
    stats = scoped_grid_stats(viewer, snap, window=window, unit=unit)
    bounds = tuple(float(v) for v in grids.total_bounds) if len(grids) else (np.nan,) * 4
    by_grid = stats.set_index(stats["grid_id"].astype("str"))
    ids = grids["grid_id"].astype("str")
    bins = ids.map(by_grid["hotspot_bin"]).fillna(0).astype("int64") if len(by_grid) else pd.Series(0, index=ids.index)
    trend = ids.map(by_grid["trend_class"]).fillna("none").astype("str") if len(by_grid) and \
        "trend_class" in by_grid else pd.Series("none", index=ids.index)

    def label(code: str) -> str:
        cls = TREND_CLASS_BY_CODE.get(code)
        if cls is None:
            return "—"
        return cls.arcgis if lang == "en" else cls.label

    if len(grids) > settings.map.max_polygons:  # too many outlines for one page: only the grids with a finding
        marked = ((bins != 0) | (trend != "none")).to_numpy()
        grids, bins, trend = grids[marked], bins[marked], trend[marked]
    fill = [[*palette.HOTSPOT_RGB[int(b)], 170] if int(b) in palette.HOTSPOT_RGB else [*palette.NO_DATA, 60]
            for b in bins]
    props = pd.DataFrame({"name": grids["grid_name"].astype("str").to_numpy(),
                          "community_name": grids["community_name"].astype("str").to_numpy(),
                          "township_name": grids["township_name"].astype("str").to_numpy(),
                          "bin": bins.to_numpy(), "trend": [label(c) for c in trend], "fill": fill})
    areas = maplayers.feature_collection(maplayers.simplified(grids.geometry.to_numpy()), props)
    counts = trend[trend != "none"].value_counts()
    trends = pd.DataFrame({t("col_trend", lang): [label(c) for c in counts.index],
                           t("col_grids", lang): counts.to_numpy()})
    return HotspotMap(areas=areas, bounds=bounds, trends=trends, available=bool(len(stats)))  # type: ignore[arg-type]


def alert_registry(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit) -> pd.DataFrame:
    """All alerts of the unit the viewer may see (any state, as of the refresh), display-ready:
    alert_id, level, level_label, detector, detector_label, title, evidence, state, last_seen; red first."""
    from geo.warnings import DETECTOR_BY_CODE, LEVEL_BY_CODE

    lang = viewer.lang
    cols = ("alert_id", "level", "level_label", "detector", "detector_label", "title", "evidence", "state",
            "last_seen")
    alerts = scoped_alerts(viewer, snap, unit=unit)
    if alerts.empty:
        return _empty(cols)
    seen = pd.to_datetime(alerts["last_seen"], utc=True)
    frame = alerts.assign(_rank=alerts["level"].map(palette.level_rank), _seen=seen)
    frame = frame.sort_values(["_rank", "_seen", "alert_id"], ascending=[True, False, True], kind="stable")
    return pd.DataFrame({
        "alert_id": frame["alert_id"].astype("str").to_numpy(),
        "level": frame["level"].astype("str").to_numpy(),
        "level_label": [LEVEL_BY_CODE[lv].label if lang == "zh" and lv in LEVEL_BY_CODE else
                        t(f"level_{lv}", lang) if f"level_{lv}" in TEXTS else lv for lv in frame["level"].astype("str")],
        "detector": frame["detector"].astype("str").to_numpy(),
        "detector_label": [DETECTOR_BY_CODE[d].label if lang == "zh" and d in DETECTOR_BY_CODE
                           else t(f"det_{d}", lang) if f"det_{d}" in TEXTS else d
                           for d in frame["detector"].astype("str")],
        "title": frame["title"].astype("str").to_numpy(),
        "evidence": [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False, default=str)
                     for e in frame["evidence"]],
        "state": (frame["state"] if "state" in frame.columns else pd.Series("new", index=frame.index))
        .fillna("new").astype("str").to_numpy(),
        "last_seen": frame["_seen"].dt.tz_convert(settings.timezone).dt.strftime("%m-%d %H:%M").to_numpy(),
    })
