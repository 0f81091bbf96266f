"""Data-quality views (SPEC §10 数据质量): refresh history, row counts, rejected rows, placement, grid checks.

Same conventions as dashboard/views.py: `(viewer, snap, settings, *args)` → small display-ready values,
cached by `ui.cached_view`; no streamlit here. Every view requires a data-quality role (admin, office):
rejected rows and source keys span every unit, so a grid worker never gets them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dashboard import maplayers, snapshots
from dashboard.settings import Settings
from dashboard.snapshots import Snapshot
from dashboard.texts import TEXTS, t
from dashboard.viewer import QUALITY_ROLES, Viewer
from dashboard.views import has_table, read_table, scoped_cases, scoped_grids
from loaders.enums import OPEN_STATUSES
from loaders.schema import TABLES

EXAMPLES = 20  # rows shown per rejected-row reason


def _local(values: pd.Series, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> pd.Series:
    ts = pd.to_datetime(values, utc=True, errors="coerce")
    return ts.dt.tz_convert(tz).dt.strftime(fmt).fillna("")


def table_label(name: str, lang: str) -> str:
    """A table's Chinese label with its canonical name (cases → 信访事项（cases）)."""
    if name in TABLES and lang == "zh":
        return f"{TABLES[name].label}（{name}）"
    return name


def refresh_history(viewer: Viewer, snap: Snapshot, settings: Settings, limit: int = 30) -> pd.DataFrame:
    """The latest refresh attempts, newest first: started, result, seconds, version, error.

    Read from history.jsonl on every call (failed attempts do not make a new snapshot version, so a
    cache keyed by version would hide them); the same holds for failures_since and step_durations."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    entries = snapshots.read_history(settings.data_path, limit=limit)[::-1]
    if not entries:
        return pd.DataFrame(columns=["started", "result", "seconds", "version", "error"])
    frame = pd.DataFrame(entries)
    started = pd.to_datetime(frame.get("started_at"), utc=True, errors="coerce")
    finished = pd.to_datetime(frame.get("finished_at"), utc=True, errors="coerce")
    ok = frame.get("ok", pd.Series(False, index=frame.index)).fillna(False).astype(bool)
    return pd.DataFrame({
        t("col_started", lang): started.dt.tz_convert(settings.timezone).dt.strftime("%m-%d %H:%M:%S"),
        t("col_result", lang): np.where(ok, t("result_ok", lang), t("result_failed", lang)),
        t("col_seconds", lang): (finished - started).dt.total_seconds().round(1),
        t("col_version", lang): frame.get("version", pd.Series("", index=frame.index)).fillna(""),
        t("col_error", lang): frame.get("error", pd.Series("", index=frame.index)).fillna(""),
    })


def failures_since(viewer: Viewer, snap: Snapshot, settings: Settings, hours: float = 24) -> int:
    """Failed refresh attempts in the last `hours` hours (history.jsonl; changes between snapshots: uncached)."""
    viewer.require(QUALITY_ROLES)
    cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=hours)
    n = 0
    for e in snapshots.read_history(settings.data_path, limit=500):
        when = pd.to_datetime(e.get("started_at"), utc=True, errors="coerce")
        n += int(not e.get("ok") and pd.notna(when) and when >= cutoff)
    return n


def step_durations(viewer: Viewer, snap: Snapshot, settings: Settings, limit: int = 15) -> pd.DataFrame:
    """Seconds per pipeline step of the latest successful refreshes (long form: started, step, seconds)."""
    viewer.require(QUALITY_ROLES)
    entries = [e for e in snapshots.read_history(settings.data_path, limit=200) if e.get("ok")][-limit:]
    rows = []
    for e in entries:
        when = pd.Timestamp(e.get("started_at")).tz_convert(settings.timezone).strftime("%m-%d %H:%M")
        for step, seconds in (e.get("durations") or {}).items():
            if step.endswith("_wait"):  # waiting for a parallel step: not time of its own
                continue
            label = t(f"step_{step}", viewer.lang) if f"step_{step}" in TEXTS else step
            rows.append({"started": when, "step": label, "seconds": round(float(seconds), 3)})
    return pd.DataFrame(rows, columns=["started", "step", "seconds"])


def table_rows(viewer: Viewer, snap: Snapshot, settings: Settings) -> pd.DataFrame:
    """Per table: rows read from the source, rows in the snapshot, rows rejected, reused from the last version."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    m = snap.manifest
    read, counts = m.get("rows_read", {}), m.get("row_counts", {})
    rejected, reused = m.get("rejected_counts", {}), set(m.get("reused_tables", []))
    names = list(dict.fromkeys([*read, *counts]))
    return pd.DataFrame({
        t("col_table", lang): [table_label(n, lang) for n in names],
        t("col_rows_read", lang): [read.get(n) for n in names],
        t("col_rows_snapshot", lang): [counts.get(n) for n in names],
        t("col_rejected", lang): [int(rejected.get(n, 0)) for n in names],
        t("col_reused", lang): ["✓" if n in reused else "" for n in names],
    })


@dataclass(frozen=True)
class RejectedGroup:
    """Rejected or flagged rows sharing table, column, reason and action, with example rows."""

    table: str
    column: str
    reason: str
    action: str
    count: int
    examples: pd.DataFrame


def rejected_groups(viewer: Viewer, snap: Snapshot, settings: Settings) -> list[RejectedGroup]:
    """rejected.parquet grouped by (table, column, reason, action), largest first, with up to EXAMPLES rows."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    if not has_table(snap, "rejected"):
        return []
    frame = read_table(snap, "rejected")
    if frame.empty:
        return []
    keys = ["table", "column", "reason", "action"]
    filled = frame.assign(**{k: frame[k].astype("str").fillna("") for k in keys})
    out = []
    for (table, column, reason, action), rows in filled.groupby(keys, sort=False):
        examples = pd.DataFrame({t("col_row_key", lang): rows["row_key"].astype("str").head(EXAMPLES).to_numpy(),
                                 t("col_value", lang): rows["value"].astype("str").fillna("").head(EXAMPLES)
                                 .to_numpy()})
        out.append(RejectedGroup(table_label(str(table), lang), str(column), str(reason),
                                 t(f"action_{action}", lang) if f"action_{action}" in _ACTIONS else str(action),
                                 len(rows), examples))
    return sorted(out, key=lambda g: (-g.count, g.table, g.column, g.reason))


_ACTIONS = {"action_row_rejected", "action_value_cleared", "action_repaired"}


def placement(viewer: Viewer, snap: Snapshot, settings: Settings) -> pd.DataFrame:
    """How the snapshot's cases were placed (point / grid code / township code / nearest / unassigned)."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    methods = snap.manifest.get("assign_methods") or {}
    if not methods:
        counts = read_table(snap, "cases", ("assign_method",))["assign_method"].value_counts()
        methods = {str(k): int(v) for k, v in counts.items()}
    order = ["point", "grid_code", "township_code", "nearest", "unassigned"]
    names = [m for m in order if m in methods] + sorted(set(methods) - set(order))
    return pd.DataFrame({t("col_method", lang): [t(f"method_{m}", lang) if m in order else m for m in names],
                         t("col_count", lang): [int(methods[m]) for m in names]})


def unassigned_cases(viewer: Viewer, snap: Snapshot, settings: Settings, limit: int = 200) -> pd.DataFrame:
    """Cases placed on no grid or township (assign_method = unassigned), newest first."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    cols = ["case_id", "received_at", "assign_method", "source_grid_id", "source_township_id", "coord_issue"]
    cases = scoped_cases(viewer, snap, cols)
    rows = cases[(cases["assign_method"] == "unassigned").fillna(False).to_numpy()]
    rows = rows.sort_values("received_at", ascending=False, kind="stable").head(limit)
    return pd.DataFrame({
        t("col_case", lang): rows["case_id"].astype("str").to_numpy(),
        t("col_received", lang): _local(rows["received_at"], settings.timezone).to_numpy(),
        t("col_source_codes", lang): (rows["source_grid_id"].astype("str").fillna("—") + " / "
                                      + rows["source_township_id"].astype("str").fillna("—")).to_numpy(),
        t("col_issue", lang): rows["coord_issue"].astype("str").fillna("").to_numpy(),
    })


def coordinate_problems(viewer: Viewer, snap: Snapshot, settings: Settings, limit: int = 200) -> pd.DataFrame:
    """Cases whose coordinates were not used (zero, swapped, out of range, far away), with the problem,
    the original value (from rejected.parquet) and how the case was placed instead."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    cases = scoped_cases(viewer, snap, ["case_id", "received_at", "assign_method", "coord_issue"])
    rows = cases[cases["coord_issue"].notna().to_numpy()].sort_values("received_at", ascending=False).head(limit)
    values: dict[str, str] = {}
    if has_table(snap, "rejected"):
        rej = read_table(snap, "rejected")
        coords = rej[(rej["column"] == "lon/lat").fillna(False).to_numpy()]
        values = dict(zip(coords["row_key"].astype("str"), coords["value"].astype("str").fillna(""), strict=True))
    ids = rows["case_id"].astype("str")
    return pd.DataFrame({
        t("col_case", lang): ids.to_numpy(),
        t("col_received", lang): _local(rows["received_at"], settings.timezone).to_numpy(),
        t("col_issue", lang): rows["coord_issue"].astype("str").to_numpy(),
        t("col_value", lang): ids.map(values).fillna("").to_numpy(),
        t("col_method", lang): [t(f"method_{m}", lang) if isinstance(m, str) else "" for m in rows["assign_method"]],
    })


def deadline_problems(viewer: Viewer, snap: Snapshot, settings: Settings) -> pd.DataFrame:
    """Open cases whose next deadline cannot be computed, grouped by the missing date (deadline_issue)."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    cases = scoped_cases(viewer, snap, ["case_id", "status", "deadline_issue"])
    rows = cases[cases["deadline_issue"].notna().to_numpy() & cases["status"].isin(sorted(OPEN_STATUSES)).to_numpy()]
    groups = rows.groupby(rows["deadline_issue"].astype("str"))["case_id"].agg(
        ["size", lambda ids: "、".join(ids.astype("str").head(10))])
    groups.columns = [t("col_count", lang), t("col_case", lang)]
    return groups.rename_axis(t("col_issue", lang)).reset_index()


@dataclass(frozen=True)
class GridIssues:
    """Grid overlaps and gaps: a table and, for the small map, GeoJSON of the issues and of the grids."""

    table: pd.DataFrame
    issues: dict[str, Any]
    grids: dict[str, Any]
    bounds: tuple[float, float, float, float]


def grid_issues(viewer: Viewer, snap: Snapshot, settings: Settings) -> GridIssues:
    """grid_issues.parquet (kind overlap/gap, grid_ids, area_m2, geometry), largest first."""
    viewer.require(QUALITY_ROLES)
    lang = viewer.lang
    empty = {"type": "FeatureCollection", "features": []}
    grids = scoped_grids(viewer, snap, ["grid_id", "geometry"])
    bounds = tuple(float(v) for v in grids.total_bounds) if len(grids) else (np.nan,) * 4
    if not has_table(snap, "grid_issues"):
        return GridIssues(pd.DataFrame(), empty, empty, bounds)  # type: ignore[arg-type]
    issues = read_table(snap, "grid_issues")
    if issues.empty:
        return GridIssues(pd.DataFrame(), empty, empty, bounds)  # type: ignore[arg-type]
    issues = issues.assign(_area=pd.to_numeric(issues["area_m2"], errors="coerce")).sort_values(
        "_area", ascending=False, kind="stable")
    ids = [", ".join(map(str, g)) if isinstance(g, (list, tuple, np.ndarray)) else str(g)
           for g in issues["grid_ids"]]
    kinds = [t(f"issue_{k}", lang) if k in ("overlap", "gap") else str(k) for k in issues["kind"]]
    table = pd.DataFrame({t("col_kind", lang): kinds, t("col_grids", lang): ids,
                          t("col_area", lang): issues["_area"].round(1).to_numpy()})
    colour = [[215, 38, 61, 200] if k == "overlap" else [47, 116, 208, 200] for k in issues["kind"]]
    props = pd.DataFrame({"kind": kinds, "grids": ids, "area": issues["_area"].round(1).to_numpy(), "fill": colour})
    issue_fc = maplayers.feature_collection(maplayers.simplified(issues.geometry.to_numpy()), props)
    grid_fc = maplayers.feature_collection(maplayers.simplified(grids.geometry.to_numpy()),
                                           pd.DataFrame({"grid_id": grids["grid_id"].astype("str").to_numpy()}))
    return GridIssues(table, issue_fc, grid_fc, bounds)  # type: ignore[arg-type]


def snapshot_summary(viewer: Viewer, snap: Snapshot, settings: Settings) -> dict[str, Any]:
    """Version, kind (full/incremental), creation time and per-step seconds of the current snapshot."""
    viewer.require(QUALITY_ROLES)
    m = snap.manifest
    created = pd.Timestamp(m.get("created_at")).tz_convert(settings.timezone) if m.get("created_at") else None
    return {"version": snap.version, "incremental": bool(m.get("incremental")),
            "created": created.strftime("%Y-%m-%d %H:%M:%S") if created is not None else "",
            "durations": json.loads(json.dumps(m.get("durations") or {}))}
