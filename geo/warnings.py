"""Early-warning detectors (SPEC §8): one function per detector, each returning rows of the alerts frame.

`run_detectors` runs them all as of `now` and returns the detected alerts (no lifecycle state: the
app DB maps each `fingerprint` to a stable alert_id) and the per-grid statistics (grid_stats).
Pure functions: no I/O, inputs never mutated. Evidence is Chinese text plus the numbers a person
needs to check it, as JSON.
"""

from __future__ import annotations

import json
from collections import Counter
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from scipy.special import betainc

from geo.deadlines import (
    DATE32, RED, local_days, local_today, require_columns, status_in, to_date32, utc_micros,
)
from geo.hotspots import (
    TREND_CLASS_BY_CODE, EmergingHotspots, Weights, contiguity_weights, emerging_hotspots, gi_star, hotspot_bins,
)
from geo.metrics import COUNTY_ID, skip_levels
from loaders.enums import LEVEL_VISITED, OPEN_STATUSES

if TYPE_CHECKING:
    from dashboard.settings import SensitivePeriod, WarningSettings

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]
DAY_S = 86_400


# --- levels, detectors and scopes as data ---------------------------------------------------------

@dataclass(frozen=True)
class Level:
    """An alert level (emergency-response convention): code, short and long Chinese label, colour, rank."""

    code: str
    label: str
    name: str
    colour: str
    rgb: tuple[int, int, int]
    rank: int


LEVELS: tuple[Level, ...] = (
    Level("red", "红", "红色预警", "#d7263d", (215, 38, 61), 4),
    Level("orange", "橙", "橙色预警", "#f28c28", (242, 140, 40), 3),
    Level("yellow", "黄", "黄色预警", "#f2b705", (242, 183, 5), 2),
    Level("blue", "蓝", "蓝色预警", "#2f74d0", (47, 116, 208), 1),
)
LEVEL_BY_CODE: dict[str, Level] = {lv.code: lv for lv in LEVELS}
_BY_RANK: dict[int, str] = {lv.rank: lv.code for lv in LEVELS}


def raise_level(code: str) -> str:
    """One step up (blue → yellow → orange → red); red stays red."""
    return _BY_RANK[min(LEVEL_BY_CODE[code].rank + 1, 4)]


@dataclass(frozen=True)
class Detector:
    """A detector: stable code (in fingerprints and the alerts frame), Chinese label, rule in words."""

    code: str
    label: str
    rule: str


DETECTORS: tuple[Detector, ...] = (
    Detector("repeated_collective", "同一事项重复集体访", "同一事项（类别+乡镇）7日内集体访≥3次：红色"),
    Detector("skip_level", "越级访", "来访层级高于本级上一级：橙色；进京：红色；逐件全链条复盘"),
    Detector("collective_size", "集体访规模", "人数≥5：黄色；≥50（规模性集体访）：红色"),
    Detector("repeat_petitioner", "重复信访", "同一信访人30日内≥3件：黄色"),
    Detector("surge", "案件激增", "单位今日或近7日案件数显著高于自身基线（泊松率检验），按倍数定级"),
    Detector("hotspot", "空间热点", "网格近7日/30日 Getis-Ord Gi* 热点（FDR校正）"),
    Detector("emerging_hotspot", "新兴热点", "近12周每周Gi*与Mann-Kendall趋势（ArcGIS时空热点分类）"),
    Detector("backlog", "超期积案", "单位红灯（超期）或积案件数超过阈值：黄色/橙色"),
)
DETECTOR_BY_CODE: dict[str, Detector] = {d.code: d for d in DETECTORS}
SCOPES: tuple[str, ...] = ("grid", "community", "township", "county")
UNIT_COLUMN: dict[str, str] = {"grid": "grid_id", "community": "community_id", "township": "township_id"}

ALERT_COLUMNS: tuple[str, ...] = (
    "fingerprint", "detector", "level", "scope", "scope_id", "township_id", "title", "evidence",
    "first_seen", "last_seen", "grid_ids",
)
GRID_STATS_COLUMNS: tuple[str, ...] = (
    "grid_id", "window", "window_start", "window_end", "cases", "open_cases", "red_cases", "rate_per_10k",
    "gi_z", "gi_p", "hotspot_bin", "trend_class", "trend_tau", "trend_p",
)
CASE_COLUMNS: tuple[str, ...] = (
    "case_id", "grid_id", "community_id", "township_id", "received_at", "category", "status",
    "people_count", "level_visited", "petitioner_key",
)
_SKIP_NAMES = {"city": "赴市访", "province": "赴省访", "national": "进京访"}


# --- sensitive periods -------------------------------------------------------------------------------

def active_sensitive_period(now: pd.Timestamp, settings: WarningSettings, *,
                            timezone: str = "Asia/Shanghai") -> SensitivePeriod | None:
    """The configured sensitive period (重点时期) whose local dates contain `now`, else None (first wins)."""
    today = str(local_today(now, timezone))
    for period in settings.sensitive_periods:
        if period.start <= today <= period.end:
            return period
    return None


def sensitive_period_in_force(now: pd.Timestamp, settings: WarningSettings, *,
                              timezone: str = "Asia/Shanghai") -> str | None:
    """Name of the sensitive period in force at `now` (for the page banner), else None."""
    period = active_sensitive_period(now, settings, timezone=timezone)
    return None if period is None else period.name


# collective_yellow_people is not lowered: 5 people is what makes a visit collective (条例 Art 20).
_COUNT_THRESHOLDS = (
    "repeated_collective_count", "collective_red_people", "repeat_petitioner_count",
    "surge_min_day", "surge_min_week", "hotspot_min_cases", "backlog_red_yellow", "backlog_red_orange",
    "backlog_old_yellow", "backlog_old_orange",
)


def lowered_thresholds(settings: WarningSettings, factor: float) -> WarningSettings:
    """Settings with the count thresholds multiplied by `factor` and rounded up (never below 1; the
    repeat counts and the 规模性 size never below 2). The 5-person collective-visit size stays."""
    if factor >= 1.0:
        return settings
    update = {}
    for name in _COUNT_THRESHOLDS:
        floor = 2 if name in ("repeated_collective_count", "repeat_petitioner_count", "collective_red_people") \
            else (0 if name == "hotspot_min_cases" else 1)
        update[name] = max(floor, math.ceil(getattr(settings, name) * factor - 1e-9))
    return settings.model_copy(update=update)


# --- names and helpers ---------------------------------------------------------------------------------

class _Names:
    """Chinese display names of units, read from the snapshot grids table on first use."""

    def __init__(self, grids: pd.DataFrame, jurisdiction: str) -> None:
        self._grids = grids
        self.jurisdiction = jurisdiction

    def _pairs(self, key: str, value: str) -> dict[str, str]:
        grids = self._grids
        if key not in grids.columns or value not in grids.columns:
            return {}
        sub = grids[[key, value]].dropna().drop_duplicates(key)
        return dict(zip(sub[key].astype(str).tolist(), sub[value].astype(str).tolist(), strict=True))

    @cached_property
    def township(self) -> dict[str, str]:
        return self._pairs("township_id", "township_name")

    @cached_property
    def community(self) -> dict[str, str]:
        return self._pairs("community_id", "community_name")

    @cached_property
    def grid(self) -> dict[str, str]:
        return self._pairs("grid_id", "grid_name")

    @cached_property
    def community_township(self) -> dict[str, str]:
        return self._pairs("community_id", "township_id")

    @cached_property
    def grid_community(self) -> dict[str, str]:
        return self._pairs("grid_id", "community_id")

    def label(self, scope: str, unit_id: str | None) -> str:
        """E.g. 新城区迎新路街道 / 新城区迎新路街道胜利社区 / …第3网格; the id when the name is unknown."""
        if scope == "county" or unit_id is None:
            return self.jurisdiction or "全辖区"
        if scope == "township":
            return f"{self.jurisdiction}{self.township.get(unit_id, unit_id)}"
        if scope == "community":
            town = self.community_township.get(unit_id)
            prefix = self.label("township", town) if town else self.jurisdiction
            return f"{prefix}{self.community.get(unit_id, unit_id)}"
        comm = self.grid_community.get(unit_id)
        prefix = self.label("community", comm) if comm else self.jurisdiction
        return f"{prefix}{self.grid.get(unit_id, unit_id)}"

    def township_of(self, scope: str, unit_id: str | None) -> str | None:
        if unit_id is None or scope == "county":
            return None
        if scope == "township":
            return unit_id
        if scope == "community":
            return self.community_township.get(unit_id)
        comm = self.grid_community.get(unit_id)
        return None if comm is None else self.community_township.get(comm)


@dataclass(frozen=True)
class _Cases:
    """The columns every detector reads, as numpy arrays over the usable cases (received ≤ now)."""

    frame: pd.DataFrame       # the usable rows of `cases` (a view; never modified)
    t: I64                    # received_at, seconds since the epoch (UTC)
    day: I64                  # local calendar day number of received_at
    people: F64               # people_count, NaN when missing
    is_open: B
    red: B
    backlog: B
    next_due_day: I64         # local day number of the deadline the open case is working to (min int: none)


@dataclass(frozen=True)
class _Ctx:
    """What every detector needs besides the cases."""

    now: pd.Timestamp
    now_s: int
    today: int
    timezone: str
    settings: WarningSettings
    names: _Names
    jurisdiction_level: str
    collective_min_people: int


def _fmt_time(seconds: int | np.integer[Any], tz: str, *, with_time: bool = True) -> str:
    ts = pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(tz)
    return str(ts.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d"))


def _md(seconds: int | np.integer[Any], tz: str) -> str:
    return str(pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(tz).strftime("%m-%d"))


def _day_start(day: int, tz: str) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(int(day), "D")).tz_localize(tz)


def _stamp(seconds: int | np.integer[Any], tz: str) -> pd.Timestamp:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(tz)


def _num(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if math.isfinite(value) else "—"


def _alert(ctx: _Ctx, *, detector: str, level: str, scope: str, scope_id: str | None, title: str, text: str,
           evidence: dict[str, Any], first_seen: pd.Timestamp, last_seen: pd.Timestamp,
           grid_ids: Iterable[Any] = (), key: str | None = None) -> dict[str, Any]:
    sid = COUNTY_ID if scope == "county" or scope_id is None else str(scope_id)
    parts = [detector, scope, sid] + ([key] if key else [])
    doc = {"text": text, "detector": detector, "rule": DETECTOR_BY_CODE[detector].rule, **evidence}
    grids = sorted({str(g) for g in grid_ids if isinstance(g, str) and g})
    return {
        "fingerprint": "|".join(parts), "detector": detector, "level": level, "scope": scope, "scope_id": sid,
        "township_id": ctx.names.township_of(scope, sid if scope != "county" else None),
        "title": title, "evidence": doc, "first_seen": first_seen, "last_seen": last_seen, "grid_ids": grids,
    }


def _case_ids(frame: pd.DataFrame, rows: NDArray[np.intp], cap: int) -> dict[str, Any]:
    ids = frame["case_id"].take(np.asarray(rows[:cap], dtype=np.intp)).astype(str).tolist()
    return {"case_count": int(len(rows)), "case_ids": ids, "case_ids_truncated": bool(len(rows) > cap)}


def _records(c: _Cases, rows: NDArray[np.intp]) -> list[dict[str, Any]]:
    """The selected cases as dicts with plain Python values (None for missing)."""
    cols = [col for col in ("case_id", "grid_id", "township_id", "category", "subcategory", "level_visited")
            if col in c.frame.columns]
    sub = c.frame[cols].take(np.asarray(rows, dtype=np.intp)).astype(object)
    recs: list[dict[str, Any]] = sub.where(sub.notna(), None).to_dict("records")
    return recs


def _str_values(frame: pd.DataFrame, column: str) -> NDArray[np.object_]:
    out: NDArray[np.object_] = frame[column].astype(object).where(frame[column].notna(), None).to_numpy(dtype=object)
    return out


# --- sliding windows over groups -------------------------------------------------------------------------

def window_counts(group: I64, t: I64, window_s: int) -> I64:
    """For each row, how many rows of the same group have a time in (t_i − window_s, t_i]."""
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((t, group))
    g, tt = group[order], t[order] - t.min()
    span = int(tt.max()) + window_s + 1
    key = g.astype(np.int64) * span + tt
    lo = np.searchsorted(key, key - window_s, side="right")
    hi = np.searchsorted(key, key, side="right")
    out = np.empty(len(t), dtype=np.int64)
    out[order] = hi - lo
    return out


@dataclass(frozen=True)
class _Episode:
    """One group's qualifying cases: row positions (time order) and the largest count in one window."""

    group: int
    rows: NDArray[np.intp]
    peak: int


def _episodes(group: I64, t: I64, *, window_s: int, threshold: int, since_s: int) -> list[_Episode]:
    """Groups with ≥ `threshold` rows in some window (t_i − window_s, t_i] whose end t_i ≥ `since_s`;
    the episode holds every row inside the union of those windows."""
    counts = window_counts(group, t, window_s)
    qual = (counts >= threshold) & (t >= since_s)
    if not qual.any():
        return []
    q_groups = group[qual]
    lo = pd.Series(t[qual] - window_s).groupby(q_groups).min()
    hi = pd.Series(t[qual]).groupby(q_groups).max()
    peak = pd.Series(counts[qual]).groupby(q_groups).max()
    member = np.isin(group, lo.index.to_numpy())
    rows = np.flatnonzero(member)
    lo_r = lo.reindex(group[rows]).to_numpy()
    hi_r = hi.reindex(group[rows]).to_numpy()
    inside = rows[(t[rows] > lo_r) & (t[rows] <= hi_r)]
    inside = inside[np.lexsort((t[inside], group[inside]))]
    cuts = np.flatnonzero(np.diff(group[inside])) + 1
    return [_Episode(int(group[chunk[0]]), chunk, int(peak[group[chunk[0]]]))
            for chunk in np.split(inside, cuts) if len(chunk)]


# --- detectors 1–4: case rules ----------------------------------------------------------------------------

def detect_repeated_collective(c: _Cases, ctx: _Ctx) -> list[dict[str, Any]]:
    """Detector 1: ≥ N collective visits on the same issue within W days (red)."""
    s = ctx.settings
    key_cols = list(s.repeated_collective_key)
    missing = [k for k in key_cols if k not in c.frame.columns]
    if missing:
        raise ValueError(f"warnings.repeated_collective_key names column(s) {missing} that the cases lack; "
                         f"use columns of cases.parquet such as township_id, category, subcategory")
    window_s = s.repeated_collective_days * DAY_S
    since = ctx.now_s - s.event_lookback_days * DAY_S
    coll = (c.people >= ctx.collective_min_people) & (c.t > since - window_s)
    keys = c.frame[key_cols][coll]
    ok = keys.notna().all(axis=1).to_numpy()
    rows = np.flatnonzero(coll)[ok]
    if len(rows) == 0:
        return []
    codes = keys[ok].astype(str).groupby(key_cols, sort=True).ngroup().to_numpy(dtype=np.int64)
    scope = next((sc for sc in ("grid", "community", "township") if UNIT_COLUMN[sc] in key_cols), "county")
    out = []
    for ep in _episodes(codes, c.t[rows], window_s=window_s, threshold=s.repeated_collective_count, since_s=since):
        sel = rows[ep.rows]
        f = c.frame.iloc[sel]
        unit = None if scope == "county" else str(f[UNIT_COLUMN[scope]].iloc[0])
        issue = {k: str(f[k].iloc[0]) for k in key_cols}
        topic = "/".join(v for k, v in issue.items() if k not in UNIT_COLUMN.values())
        if "subcategory" in f.columns and "subcategory" not in key_cols:
            subs = f["subcategory"].dropna().unique()
            if len(subs) == 1:
                topic = f"{topic}/{subs[0]}" if topic else str(subs[0])
        people = int(np.nansum(c.people[sel]))
        t0, t1 = int(c.t[sel].min()), int(c.t[sel].max())
        name = ctx.names.label(scope, unit)
        n = len(sel)
        text = (f"{name} {s.repeated_collective_days}日内集体访{ep.peak}次（同一事项：{topic}），"
                f"{_md(t0, ctx.timezone)}至{_md(t1, ctx.timezone)}共{n}次{people}人次，"
                f"阈值{s.repeated_collective_count}次/{s.repeated_collective_days}日")
        evidence = {
            "issue": issue, "visits_in_window": ep.peak, "visits": n, "people": people,
            "people_per_visit": [int(v) for v in c.people[sel]],
            "threshold": {"visits": s.repeated_collective_count, "days": s.repeated_collective_days,
                          "collective_min_people": ctx.collective_min_people},
            "window": {"start": _fmt_time(t0, ctx.timezone), "end": _fmt_time(t1, ctx.timezone)},
            **_case_ids(c.frame, sel, s.max_case_ids),
        }
        out.append(_alert(ctx, detector="repeated_collective", level="red", scope=scope, scope_id=unit,
                          title=f"{ctx.names.label(scope, unit)} 同一事项集体访{ep.peak}次/{s.repeated_collective_days}日",
                          text=text, evidence=evidence, first_seen=_stamp(t0, ctx.timezone),
                          last_seen=_stamp(t1, ctx.timezone), grid_ids=f["grid_id"].tolist(),
                          key="/".join(v for k, v in issue.items() if k != UNIT_COLUMN.get(scope))))
    return out


def _case_alert_scope(town: Any) -> tuple[str, str | None]:
    return ("township", str(town)) if isinstance(town, str) and town else ("county", None)


def detect_skip_level(c: _Cases, ctx: _Ctx) -> list[dict[str, Any]]:
    """Detector 2: every recent case visited above the jurisdiction's level + 1 (orange; national red)."""
    s = ctx.settings
    skip, _, national = skip_levels(c.frame["level_visited"], jurisdiction_level=ctx.jurisdiction_level)
    rows = np.flatnonzero(skip & (c.t >= ctx.now_s - s.event_lookback_days * DAY_S))
    own = LEVEL_VISITED.label_of(ctx.jurisdiction_level)
    out = []
    rows = rows[np.argsort(c.t[rows], kind="stable")]
    for i, rec in zip(rows, _records(c, rows), strict=True):
        scope, unit = _case_alert_scope(rec["township_id"])
        lv = str(rec["level_visited"])
        kind = _SKIP_NAMES.get(lv, "越级访")
        case_id = str(rec["case_id"])
        when = int(c.t[i])
        name = ctx.names.label(scope, unit)
        text = (f"{name} {_fmt_time(when, ctx.timezone)} {kind}1件（案件{case_id}，{rec['category']}），"
                f"来访层级{LEVEL_VISITED.label_of(lv)}级高于本级（{own}级）上一级，需全链条复盘")
        evidence = {
            "case_id": case_id, "level_visited": lv, "jurisdiction_level": ctx.jurisdiction_level,
            "rule": f"level_visited above {ctx.jurisdiction_level} + 1", "category": rec["category"],
            "grid_id": rec["grid_id"], "received_at": _fmt_time(when, ctx.timezone), "whole_chain_review": True,
            "case_count": 1, "case_ids": [case_id], "case_ids_truncated": False,
        }
        out.append(_alert(ctx, detector="skip_level", level="red" if national[i] else "orange", scope=scope,
                          scope_id=unit, title=f"{ctx.names.label(scope, unit)} {kind} 1件", text=text,
                          evidence=evidence, first_seen=_stamp(when, ctx.timezone),
                          last_seen=_stamp(when, ctx.timezone), grid_ids=[rec["grid_id"]], key=case_id))
    return out


def detect_collective_size(c: _Cases, ctx: _Ctx) -> list[dict[str, Any]]:
    """Detector 3: every recent visit with ≥ 5 people (yellow) or ≥ 50 (red, 规模性集体访)."""
    s = ctx.settings
    rows = np.flatnonzero((c.people >= s.collective_yellow_people)
                          & (c.t >= ctx.now_s - s.event_lookback_days * DAY_S))
    out = []
    rows = rows[np.argsort(c.t[rows], kind="stable")]
    for i, rec in zip(rows, _records(c, rows), strict=True):
        scope, unit = _case_alert_scope(rec["township_id"])
        people = int(c.people[i])
        red = people >= s.collective_red_people
        case_id = str(rec["case_id"])
        when = int(c.t[i])
        kind = "规模性集体访" if red else "集体访"
        topic = str(rec["category"])
        sub = rec.get("subcategory")
        if isinstance(sub, str) and sub:
            topic = f"{topic}/{sub}"
        limit = s.collective_red_people if red else s.collective_yellow_people
        text = (f"{ctx.names.label(scope, unit)} {_fmt_time(when, ctx.timezone)} {kind}{people}人（案件{case_id}，"
                f"{topic}），阈值{limit}人")
        evidence = {
            "case_id": case_id, "people": people, "category": rec["category"],
            "threshold": {"yellow_people": s.collective_yellow_people, "red_people": s.collective_red_people},
            "received_at": _fmt_time(when, ctx.timezone), "grid_id": rec["grid_id"],
            "case_count": 1, "case_ids": [case_id], "case_ids_truncated": False,
        }
        out.append(_alert(ctx, detector="collective_size", level="red" if red else "yellow", scope=scope,
                          scope_id=unit, title=f"{ctx.names.label(scope, unit)} {kind}{people}人", text=text,
                          evidence=evidence, first_seen=_stamp(when, ctx.timezone),
                          last_seen=_stamp(when, ctx.timezone), grid_ids=[rec["grid_id"]], key=case_id))
    return out


def detect_repeat_petitioner(c: _Cases, ctx: _Ctx) -> list[dict[str, Any]]:
    """Detector 4: one petitioner_key with ≥ 3 cases within 30 days (yellow); scope = township of the
    latest case."""
    s = ctx.settings
    window_s = s.repeat_petitioner_days * DAY_S
    since = ctx.now_s - s.event_lookback_days * DAY_S
    keys = c.frame["petitioner_key"]
    cand = (c.t > since - window_s) & keys.notna().to_numpy()
    rows = np.flatnonzero(cand)
    if len(rows) == 0:
        return []
    codes, uniques = pd.factorize(keys.iloc[rows])
    # Hundreds of episodes at a million cases: read their columns once as plain arrays.
    sub = c.frame[["case_id", "township_id", "category", "grid_id"]].take(rows)
    town, cat, grid = (_str_values(sub, col) for col in ("township_id", "category", "grid_id"))
    out = []
    for ep in _episodes(codes.astype(np.int64), c.t[rows], window_s=window_s,
                        threshold=s.repeat_petitioner_count, since_s=since):
        sel = rows[ep.rows]
        key = str(uniques[ep.group])
        scope, unit = _case_alert_scope(town[ep.rows[-1]])
        cats = pd.Series(Counter(str(v) for v in cat[ep.rows] if v is not None), dtype="int64")
        cats = cats.sort_values(ascending=False, kind="stable")
        t0, t1 = int(c.t[sel].min()), int(c.t[sel].max())
        text = (f"信访人{key} {s.repeat_petitioner_days}日内{ep.peak}件（{'、'.join(cats.index[:3])}），"
                f"{_md(t0, ctx.timezone)}至{_md(t1, ctx.timezone)}，最近一次在{ctx.names.label(scope, unit)}，"
                f"阈值{s.repeat_petitioner_count}件/{s.repeat_petitioner_days}日")
        evidence = {
            "petitioner_key": key, "cases_in_window": ep.peak, "categories": {str(k): int(v) for k, v in cats.items()},
            "threshold": {"cases": s.repeat_petitioner_count, "days": s.repeat_petitioner_days},
            "window": {"start": _fmt_time(t0, ctx.timezone), "end": _fmt_time(t1, ctx.timezone)},
            **_case_ids(sub, ep.rows, s.max_case_ids),
        }
        out.append(_alert(ctx, detector="repeat_petitioner", level="yellow", scope=scope, scope_id=unit,
                          title=f"{ctx.names.label(scope, unit)} 重复信访：同一信访人{ep.peak}件/{s.repeat_petitioner_days}日",
                          text=text, evidence=evidence, first_seen=_stamp(t0, ctx.timezone),
                          last_seen=_stamp(t1, ctx.timezone), grid_ids=grid[ep.rows].tolist(), key=key))
    return out


# --- detector 5: surge --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SurgeTest:
    """Poisson rate test of recent counts against a unit's own baseline, for many units (and days) at once.

    The latest count c over `window` days and the baseline count b over `baseline` days are two
    Poisson counts; under "no change" c given c + b is Binomial(c + b, window / (window + baseline)),
    so p = P(X ≥ c) needs no baseline mean estimate and stays valid for sparse units.
    Attributes: count, baseline, expected = (b + 0.5) · window / baseline (half a case added so a
    zero baseline gives a finite ratio), ratio = count / expected, p.
    """

    count: F64
    baseline: F64
    expected: F64
    ratio: F64
    p: F64


def surge_test(count: F64 | I64, baseline: F64 | I64, *, window_days: int, baseline_days: int) -> SurgeTest:
    """Vectorised `SurgeTest` of `count` (cases in the latest `window_days`) against `baseline`."""
    c = np.asarray(count, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    q = window_days / (window_days + baseline_days)
    with np.errstate(invalid="ignore"):
        p = np.where(c > 0, betainc(np.maximum(c, 1.0), b + 1.0, q), 1.0)
    expected = (b + 0.5) * window_days / baseline_days
    return SurgeTest(c, b, expected, c / expected, p)


def surge_levels(test: SurgeTest, *, min_count: int, alpha: float, ratios: tuple[float, float, float]
                 ) -> NDArray[np.object_]:
    """Per unit: "red"/"orange"/"yellow" by ratio (thresholds yellow, orange, red), or "" (no alert)."""
    fire = (test.count >= min_count) & (test.p < alpha) & (test.ratio >= ratios[0])
    lv = np.select([test.ratio >= ratios[2], test.ratio >= ratios[1]], ["red", "orange"], "yellow")
    return np.where(fire, lv, "").astype(object)


def unit_daily_counts(codes: I64, day: I64, *, n_units: int, first_day: int, n_days: int) -> I64:
    """Cases per unit (rows) and local day (columns first_day … first_day + n_days − 1); code −1 skipped."""
    keep = (codes >= 0) & (day >= first_day) & (day < first_day + n_days)
    flat = codes[keep] * n_days + (day[keep] - first_day)
    return np.bincount(flat, minlength=n_units * n_days).reshape(n_units, n_days)


def detect_surge(c: _Cases, ctx: _Ctx) -> list[dict[str, Any]]:
    """Detector 5: a unit's cases today or in the last 7 days against the `surge_baseline_days` before
    the latest week (Poisson rate test, minimum count guard); level by count ÷ expected."""
    s = ctx.settings
    base_days = s.surge_baseline_days
    n_days = base_days + 7
    first = ctx.today - n_days + 1
    ratios = (s.surge_ratio_yellow, s.surge_ratio_orange, s.surge_ratio_red)
    out = []
    for scope in s.surge_units:
        if scope == "county":
            codes = np.zeros(len(c.t), dtype=np.int64)
            uniques: NDArray[Any] = np.array([None], dtype=object)
        else:
            fc, u = pd.factorize(c.frame[UNIT_COLUMN[scope]])
            codes, uniques = fc.astype(np.int64), np.asarray(u, dtype=object)
        daily = unit_daily_counts(codes, c.day, n_units=len(uniques), first_day=first, n_days=n_days)
        base = daily[:, :base_days].sum(axis=1)
        day_test = surge_test(daily[:, -1], base, window_days=1, baseline_days=base_days)
        week_test = surge_test(daily[:, -7:].sum(axis=1), base, window_days=7, baseline_days=base_days)
        lv_day = surge_levels(day_test, min_count=s.surge_min_day, alpha=s.surge_alpha, ratios=ratios)
        lv_week = surge_levels(week_test, min_count=s.surge_min_week, alpha=s.surge_alpha, ratios=ratios)
        recent = np.flatnonzero((c.day > ctx.today - 7) & (c.day <= ctx.today))
        recent_codes = codes[recent]
        for u_i in np.flatnonzero((lv_day != "") | (lv_week != "")):
            unit = None if scope == "county" else str(uniques[u_i])
            levels = [lv for lv in (lv_day[u_i], lv_week[u_i]) if lv]
            level = max(levels, key=lambda code: LEVEL_BY_CODE[code].rank)
            name = ctx.names.label(scope, unit)
            parts, windows, title_bits = [], {}, []
            for label, test, lv, wd, mn in (("今日", day_test, lv_day[u_i], 1, s.surge_min_day),
                                            ("近7日", week_test, lv_week[u_i], 7, s.surge_min_week)):
                cnt, exp, ratio, p = (int(test.count[u_i]), float(test.expected[u_i]), float(test.ratio[u_i]),
                                      float(test.p[u_i]))
                windows["day" if wd == 1 else "week"] = {
                    "count": cnt, "expected": round(exp, 2), "ratio": round(ratio, 2), "p": p,
                    "fires": bool(lv), "level": lv or None, "min_count": mn}
                if lv:
                    parts.append(f"{label}{cnt}件，基线期望{_num(exp)}件，为×{_num(ratio)}（p={p:.1e}）")
                    title_bits.append(f"{label}激增×{_num(ratio)}")
            text = (f"{name} " + "；".join(parts) + f"。基线：最近一周之前{base_days}日共{int(base[u_i])}件；"
                    f"阈值：今日≥{s.surge_min_day}件或近7日≥{s.surge_min_week}件，且≥×{_num(ratios[0])}、"
                    f"p<{s.surge_alpha:g}（×{_num(ratios[1])}橙、×{_num(ratios[2])}红）")
            rows = recent[recent_codes == u_i]
            rows = rows[np.argsort(c.t[rows], kind="stable")]
            fires_day = bool(lv_day[u_i])
            start_day = ctx.today if fires_day and not lv_week[u_i] else ctx.today - 6
            evidence = {
                "unit": {"scope": scope, "id": unit}, "windows": windows,
                "baseline": {"days": base_days, "cases": int(base[u_i]),
                             "start": str(np.datetime64(first, "D")),
                             "end": str(np.datetime64(first + base_days - 1, "D"))},
                "daily_last_7": [int(v) for v in daily[u_i, -7:]],
                "threshold": {"alpha": s.surge_alpha, "ratio_yellow": ratios[0], "ratio_orange": ratios[1],
                              "ratio_red": ratios[2], "min_day": s.surge_min_day, "min_week": s.surge_min_week},
                **_case_ids(c.frame, rows[::-1], s.max_case_ids),
            }
            last = int(c.t[rows].max()) if len(rows) else ctx.now_s
            out.append(_alert(ctx, detector="surge", level=level, scope=scope, scope_id=unit,
                              title=f"{name} " + "，".join(title_bits), text=text, evidence=evidence,
                              first_seen=_day_start(start_day, ctx.timezone), last_seen=_stamp(last, ctx.timezone),
                              grid_ids=[unit] if scope == "grid" else ()))
    return out


# --- detectors 6–7: spatial hotspots and emerging hotspots ---------------------------------------------

@dataclass(frozen=True)
class _Spatial:
    """Gi* results over the grids: the windows (columns), bins and emerging classes."""

    windows: list[tuple[str, int, int]]   # (name, first day, last day)
    counts: F64                            # grids × windows
    measure: F64
    codes: I64                             # grid row of each usable case (−1: not on a known grid)
    neighbourhood: F64                     # cases in grid + neighbours, per window
    neighbourhood_expected: F64            # the same from the baseline before each hotspot window
    z: F64
    p: F64
    bins: NDArray[np.int8]
    emerging: EmergingHotspots
    n_fixed: int                           # number of leading fixed windows (7d, 30d, …, 12w)


def _spatial(c: _Cases, ctx: _Ctx, ids: NDArray[np.object_], grids: pd.DataFrame, weights: Weights) -> _Spatial:
    s = ctx.settings
    codes = pd.Index(ids).get_indexer(pd.Index(c.frame["grid_id"])).astype(np.int64)
    weeks = s.emerging_weeks
    n_days = max(max(s.hotspot_windows_days) + s.hotspot_baseline_days, 7 * weeks)
    first = ctx.today - n_days + 1
    daily = unit_daily_counts(codes, c.day, n_units=len(ids), first_day=first, n_days=n_days)
    cum = np.concatenate([np.zeros((len(ids), 1), dtype=np.int64), np.cumsum(daily, axis=1)], axis=1)
    windows = [(f"{d}d", ctx.today - d + 1, ctx.today) for d in s.hotspot_windows_days]
    windows.append((f"{weeks}w", ctx.today - 7 * weeks + 1, ctx.today))
    n_fixed = len(windows)
    windows += [(f"w{-k}" if k else "w0", ctx.today - 7 * k - 6, ctx.today - 7 * k) for k in range(weeks - 1, -1, -1)]
    counts = np.column_stack([cum[:, hi - first + 1] - cum[:, lo - first] for _, lo, hi in windows]).astype(np.float64)
    measure = counts
    if s.hotspot_measure == "anscombe":
        measure = anscombe(counts)
    elif s.hotspot_measure == "rate_per_10k":
        pop = pd.to_numeric(grids["population"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        known = np.isfinite(pop) & (pop > 0)
        overall = counts[known].sum(axis=0) / max(pop[known].sum(), 1.0) * 1e4
        with np.errstate(divide="ignore", invalid="ignore"):
            measure = np.where(known[:, None], counts / pop[:, None] * 1e4, overall[None, :])
    star = weights.star(transform="B")
    gi = gi_star(measure, star)
    bins = hotspot_bins(gi.z, gi.p, fdr=s.hotspot_fdr)
    neighbourhood = np.asarray(star @ counts)
    base_days = s.hotspot_baseline_days
    base = np.column_stack([cum[:, max(lo - first, 0)] - cum[:, max(lo - base_days - first, 0)]
                            for _, lo, _ in windows[: len(s.hotspot_windows_days)]]).astype(np.float64)
    lengths = np.array([d for d in s.hotspot_windows_days], dtype=np.float64)
    expected = (np.asarray(star @ base) + 0.5) * lengths / base_days
    emerging = emerging_hotspots(gi.z[:, n_fixed:], gi.p[:, n_fixed:], fdr=s.hotspot_fdr,
                                 min_bin=s.emerging_min_bin, trend_alpha=s.emerging_trend_alpha)
    return _Spatial(windows, counts, measure, codes, neighbourhood, expected, gi.z, gi.p, bins, emerging, n_fixed)


def anscombe(counts: F64) -> F64:
    """Anscombe's variance-stabilising transform 2·sqrt(x + 3/8) of Poisson counts.

    Sparse grid counts (about one case a week) are strongly right-skewed, so Gi*'s normal p-values
    on raw counts flag far too many hot spots under no clustering at all (on a homogeneous Poisson
    background: 16 % of days with a 95 % FDR hot spot instead of ≤ 5 %). On the transformed counts
    the sums Gi* compares are close to normal and the bins keep their nominal error rates.
    """
    out: F64 = 2.0 * np.sqrt(np.asarray(counts, dtype=np.float64) + 0.375)
    return out


_BIN_LEVEL = {3: "orange", 2: "yellow", 1: "blue"}
_CONF = {3: "99%", 2: "95%", 1: "90%"}


def detect_hotspots(sp_: _Spatial, ctx: _Ctx, grid_ids: NDArray[Any], weights: Weights) -> list[dict[str, Any]]:
    """Detector 6: grids that are Gi* hot spots (bin ≥ `hotspot_min_bin`) in a recent window, with at
    least `hotspot_min_cases` cases in the grid and its neighbours, and that neighbourhood at least
    `hotspot_min_growth` times its own level in the `hotspot_baseline_days` before the window (a
    long-standing high-volume area stays on the map and in the emerging classes, but raises no
    alert every day); level by the highest bin."""
    s = ctx.settings
    k = len(s.hotspot_windows_days)
    bins = sp_.bins[:, :k]
    growth = sp_.neighbourhood[:, :k] / sp_.neighbourhood_expected
    ok = ((bins >= s.hotspot_min_bin) & (sp_.neighbourhood[:, :k] >= s.hotspot_min_cases)
          & (growth >= s.hotspot_min_growth))
    firing = np.flatnonzero(ok.any(axis=1))
    # adjacent firing grids form one cluster (a township-wide surge lights up hundreds of grids):
    # the evidence names the cluster so that pages can group its alerts
    sub = sp.csr_array(weights.neighbours[firing][:, firing])
    n_comp, comp = connected_components(sub, directed=False)
    comp_size = np.bincount(comp, minlength=n_comp)
    comp_id = pd.Series(grid_ids[firing].astype(str)).groupby(comp).transform("min").to_numpy()
    out = []
    for pos, g in enumerate(firing):
        gid = str(grid_ids[g])
        name = ctx.names.label("grid", gid)
        best = int(bins[g][ok[g]].max())
        parts, wins = [], {}
        for j in range(k):
            label, lo, hi = sp_.windows[j]
            b = int(bins[g, j])
            wins[label] = {"start": str(np.datetime64(lo, "D")), "end": str(np.datetime64(hi, "D")),
                           "cases": int(sp_.counts[g, j]), "neighbourhood_cases": int(sp_.neighbourhood[g, j]),
                           "neighbourhood_expected": round(float(sp_.neighbourhood_expected[g, j]), 2),
                           "growth": round(float(growth[g, j]), 2), "gi_z": round(float(sp_.z[g, j]), 3), "gi_p": float(sp_.p[g, j]), "hotspot_bin": b,
                           "fires": bool(ok[g, j])}
            if ok[g, j]:
                parts.append(f"近{label[:-1]}日{int(sp_.counts[g, j])}件（含相邻网格{int(sp_.neighbourhood[g, j])}件，"
                             f"为此前{s.hotspot_baseline_days}日同期水平的×{_num(float(growth[g, j]))}），"
                             f"Gi* z={sp_.z[g, j]:.2f}，p={sp_.p[g, j]:.1e}，{_CONF[b]}置信热点")
        lo_day = min(sp_.windows[j][1] for j in range(k) if ok[g, j])
        text = (f"{name} " + "；".join(parts) + f"（FDR校正{'开' if s.hotspot_fdr else '关'}，"
                f"告警阈值：{_CONF[s.hotspot_min_bin]}置信、邻域≥{s.hotspot_min_cases}件且≥×{_num(s.hotspot_min_growth)}）")
        evidence = {"grid_id": gid, "windows": wins, "measure": s.hotspot_measure, "fdr": s.hotspot_fdr,
                    "cluster": {"id": str(comp_id[pos]), "grids": int(comp_size[comp[pos]])},
                    "threshold": {"min_bin": s.hotspot_min_bin, "min_cases": s.hotspot_min_cases,
                                  "min_growth": s.hotspot_min_growth, "baseline_days": s.hotspot_baseline_days}}
        out.append(_alert(ctx, detector="hotspot", level=_BIN_LEVEL[best], scope="grid", scope_id=gid,
                          title=f"{name} 空间热点（{_CONF[best]}置信）", text=text, evidence=evidence,
                          first_seen=_day_start(lo_day, ctx.timezone), last_seen=ctx.now, grid_ids=[gid]))
    return out


def detect_emerging(sp_: _Spatial, ctx: _Ctx, grid_ids: NDArray[Any]) -> list[dict[str, Any]]:
    """Detector 7: grids whose emerging-hotspot class is listed in `emerging_alert_levels`."""
    s = ctx.settings
    em = sp_.emerging
    levels = s.emerging_alert_levels
    out = []
    weeks = sp_.windows[sp_.n_fixed:]
    for g in np.flatnonzero(np.isin(em.classes, list(levels))):
        gid = str(grid_ids[g])
        cls = TREND_CLASS_BY_CODE[str(em.classes[g])]
        name = ctx.names.label("grid", gid)
        n_hot = int(em.hot[g].sum())
        tau, p = float(em.trend.tau[g]), float(em.trend.p[g])
        text = (f"{name} 近{len(weeks)}周中{n_hot}周为Gi*显著热点（最近连续{int(em.run[g])}周），"
                f"Mann-Kendall趋势 τ={tau:.2f}，p={p:.2g}；分类：{cls.label}")
        first_hot = int(np.argmax(em.hot[g])) if n_hot else len(weeks) - 1
        evidence = {
            "grid_id": gid, "trend_class": cls.code, "trend_label": cls.label, "arcgis": cls.arcgis,
            "weeks": [{"start": str(np.datetime64(lo, "D")), "end": str(np.datetime64(hi, "D")),
                       "cases": int(sp_.counts[g, sp_.n_fixed + j]), "gi_z": round(float(sp_.z[g, sp_.n_fixed + j]), 3),
                       "hotspot_bin": int(em.bins[g, j])} for j, (_, lo, hi) in enumerate(weeks)],
            "hot_weeks": n_hot, "final_run": int(em.run[g]), "mann_kendall": {"tau": round(tau, 4), "p": p},
            "threshold": {"min_bin": s.emerging_min_bin, "trend_alpha": s.emerging_trend_alpha},
        }
        out.append(_alert(ctx, detector="emerging_hotspot", level=levels[cls.code], scope="grid", scope_id=gid,
                          title=f"{name} {cls.label}", text=text, evidence=evidence,
                          first_seen=_day_start(weeks[first_hot][1], ctx.timezone), last_seen=ctx.now,
                          grid_ids=[gid]))
    return out


# --- detector 8: backlog ----------------------------------------------------------------------------------

def detect_backlog(c: _Cases, ctx: _Ctx) -> list[dict[str, Any]]:
    """Detector 8: a unit's red-light (overdue) open cases or 积案 at or above the thresholds."""
    s = ctx.settings
    out = []
    for scope in s.backlog_units:
        if scope == "county":
            codes = np.zeros(len(c.t), dtype=np.int64)
            uniques: NDArray[Any] = np.array([None], dtype=object)
        else:
            fc, u = pd.factorize(c.frame[UNIT_COLUMN[scope]])
            codes, uniques = fc.astype(np.int64), np.asarray(u, dtype=object)
        ok = codes >= 0
        red = np.bincount(codes[ok & c.red], minlength=len(uniques))
        old = np.bincount(codes[ok & c.backlog], minlength=len(uniques))

        def level(n: I64, yellow: int, orange: int) -> NDArray[np.object_]:
            return np.select([n >= orange, n >= yellow], ["orange", "yellow"], "").astype(object)

        lv_red = level(red, s.backlog_red_yellow, s.backlog_red_orange)
        lv_old = level(old, s.backlog_old_yellow, s.backlog_old_orange)
        for u_i in np.flatnonzero((lv_red != "") | (lv_old != "")):
            unit = None if scope == "county" else str(uniques[u_i])
            lv = max((x for x in (lv_red[u_i], lv_old[u_i]) if x), key=lambda code: LEVEL_BY_CODE[code].rank)
            mine = codes == u_i
            rows = np.flatnonzero(mine & (c.red | c.backlog))
            rows = rows[np.argsort(c.t[rows], kind="stable")]  # oldest first
            red_rows = np.flatnonzero(mine & c.red)
            overdue_since = c.next_due_day[red_rows]
            overdue_since = overdue_since[overdue_since > np.iinfo(np.int64).min]
            first_day = int(overdue_since.min()) + 1 if len(overdue_since) else ctx.today
            name = ctx.names.label(scope, unit)
            text = (f"{name} 红灯（超期）{int(red[u_i])}件、积案{int(old[u_i])}件；阈值：红灯≥{s.backlog_red_yellow}件黄、"
                    f"≥{s.backlog_red_orange}件橙，积案≥{s.backlog_old_yellow}件黄、≥{s.backlog_old_orange}件橙")
            evidence = {
                "unit": {"scope": scope, "id": unit}, "red_cases": int(red[u_i]), "backlog_cases": int(old[u_i]),
                "threshold": {"red_yellow": s.backlog_red_yellow, "red_orange": s.backlog_red_orange,
                              "backlog_yellow": s.backlog_old_yellow, "backlog_orange": s.backlog_old_orange},
                "oldest_received": _fmt_time(int(c.t[rows[0]]), ctx.timezone) if len(rows) else None,
                **_case_ids(c.frame, rows, s.max_case_ids),
            }
            out.append(_alert(ctx, detector="backlog", level=lv, scope=scope, scope_id=unit,
                              title=f"{name} 红灯{int(red[u_i])}件、积案{int(old[u_i])}件", text=text,
                              evidence=evidence, first_seen=_day_start(min(first_day, ctx.today), ctx.timezone),
                              last_seen=ctx.now, grid_ids=[unit] if scope == "grid" else ()))
    return out


# --- grid_stats ------------------------------------------------------------------------------------------

def _grid_stats(sp_: _Spatial, c: _Cases, ids: NDArray[np.object_], grids: pd.DataFrame) -> pd.DataFrame:
    n, k = sp_.counts.shape
    codes = sp_.codes
    ok = codes >= 0
    open_ = np.bincount(codes[ok & c.is_open], minlength=n)
    red = np.bincount(codes[ok & c.red], minlength=n)
    pop = pd.to_numeric(grids["population"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan) \
        if "population" in grids.columns else np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where((pop > 0)[:, None], sp_.counts / pop[:, None] * 1e4, np.nan)
    names = [w[0] for w in sp_.windows]
    trend = sp_.emerging.trend

    def text(values: NDArray[Any]) -> pd.arrays.ArrowStringArray:
        return pd.array(values, dtype="str")

    return pd.DataFrame({
        "grid_id": text(np.repeat(ids, k)),
        "window": text(np.tile(np.array(names, dtype=object), n)),
        "window_start": to_date32(np.tile(np.array([np.datetime64(w[1], "D") for w in sp_.windows]), n)),
        "window_end": to_date32(np.tile(np.array([np.datetime64(w[2], "D") for w in sp_.windows]), n)),
        "cases": sp_.counts.ravel().astype(np.int64),
        "open_cases": np.repeat(open_, k).astype(np.int64),
        "red_cases": np.repeat(red, k).astype(np.int64),
        "rate_per_10k": rate.ravel(),
        "gi_z": sp_.z.ravel(),
        "gi_p": sp_.p.ravel(),
        "hotspot_bin": sp_.bins.ravel().astype(np.int8),
        "trend_class": text(np.repeat(sp_.emerging.classes, k)),
        "trend_tau": np.repeat(np.asarray(trend.tau, dtype=np.float64), k),
        "trend_p": np.repeat(np.asarray(trend.p, dtype=np.float64), k),
    })


def empty_grid_stats() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(GRID_STATS_COLUMNS, (
        "str", "str", DATE32, DATE32, "int64", "int64", "int64", "float64", "float64",
        "float64", "int8", "str", "float64", "float64"), strict=True)})


def empty_alerts(timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    ts = f"datetime64[us, {timezone}]"
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(ALERT_COLUMNS, (
        "str", "str", "str", "str", "str", "str", "str", "str", ts, ts, "object"), strict=True)})


# --- driver --------------------------------------------------------------------------------------------

def _one_chunk(values: pd.Series) -> pd.Series:
    """An Arrow-backed column as one chunk: taking a few rows of a many-chunk column read from Parquet
    costs milliseconds each, of a single chunk microseconds."""
    if not hasattr(values.array, "__arrow_array__") or not isinstance(values.dtype, pd.StringDtype | pd.ArrowDtype):
        return values
    chunked = values.array.__arrow_array__()
    if getattr(chunked, "num_chunks", 1) <= 1:
        return values
    return pd.Series(pd.array(chunked.combine_chunks(), dtype=values.dtype), index=values.index, name=values.name)


def _prepare(cases: pd.DataFrame, deadlines: pd.DataFrame, now_s: int, timezone: str,
             columns: set[str]) -> _Cases:
    t_all = utc_micros(cases["received_at"], timezone)
    valid = ~np.isnat(t_all)
    t_sec = np.where(valid, t_all.astype("datetime64[s]").astype(np.int64), np.iinfo(np.int64).min)
    use = valid & (t_sec <= now_s)
    rows = np.flatnonzero(use)
    frame = cases[[col for col in cases.columns if col in columns]]
    if len(rows) < len(cases):
        frame = frame.iloc[rows]
    frame = pd.DataFrame({col: _one_chunk(frame[col]) for col in frame.columns}, index=frame.index)
    day = local_days(frame["received_at"], timezone).astype(np.int64)
    people = pd.to_numeric(frame["people_count"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    dl = deadlines[[col for col in ("light", "is_backlog", "next_due") if col in deadlines.columns]]
    if len(rows) < len(cases):
        dl = dl.iloc[rows]
    red = (dl["light"] == RED).to_numpy(dtype=bool, na_value=False)
    backlog = dl["is_backlog"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    if "next_due" in dl.columns:
        nd = local_days(dl["next_due"], timezone)
        next_due = np.where(np.isnat(nd), np.iinfo(np.int64).min, nd.astype("datetime64[D]").astype(np.int64))
    else:
        next_due = np.full(len(rows), np.iinfo(np.int64).min)
    return _Cases(frame=frame, t=t_sec[rows], day=day, people=people,
                  is_open=status_in(frame, OPEN_STATUSES), red=red, backlog=backlog,
                  next_due_day=next_due.astype(np.int64))


def _finish(rows: list[dict[str, Any]], ctx: _Ctx, period: SensitivePeriod | None) -> pd.DataFrame:
    if not rows:
        return empty_alerts(ctx.timezone)
    for r in rows:
        ev = r["evidence"]
        if period is not None:
            before = r["level"]
            r["level"] = raise_level(before)
            ev["sensitive_period"] = {"name": period.name, "start": period.start, "end": period.end,
                                      "threshold_factor": period.threshold_factor, "level_before": before}
            note = (f"（重点时期“{period.name}”：预警等级由{LEVEL_BY_CODE[before].name}上调为"
                    f"{LEVEL_BY_CODE[r['level']].name}")
            note += f"，计数阈值×{_num(period.threshold_factor, 2)}）" if period.threshold_factor < 1 else "）"
            ev["text"] = ev["text"] + note
        r["evidence"] = json.dumps(ev, ensure_ascii=False, default=str)
    frame = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    frame["rank"] = frame["level"].map(lambda code: -LEVEL_BY_CODE[code].rank)
    order = {d.code: i for i, d in enumerate(DETECTORS)}
    frame["d"] = frame["detector"].map(order)
    frame = frame.sort_values(["rank", "d", "scope_id", "fingerprint"], kind="stable").drop(columns=["rank", "d"])
    frame = frame.drop_duplicates("fingerprint", keep="first").reset_index(drop=True)
    ts = f"datetime64[us, {ctx.timezone}]"
    return frame.astype({"fingerprint": "str", "detector": "str", "level": "str", "scope": "str", "scope_id": "str",
                         "township_id": "str", "title": "str", "evidence": "str", "first_seen": ts, "last_seen": ts})


DetectorFn = Callable[[_Cases, _Ctx], list[dict[str, Any]]]
CASE_DETECTORS: tuple[tuple[str, DetectorFn], ...] = (
    ("repeated_collective", detect_repeated_collective),
    ("skip_level", detect_skip_level),
    ("collective_size", detect_collective_size),
    ("repeat_petitioner", detect_repeat_petitioner),
    ("surge", detect_surge),
    ("backlog", detect_backlog),
)


def _grid_ids(grids: pd.DataFrame) -> NDArray[np.object_]:
    out: NDArray[np.object_] = np.asarray(grids["grid_id"].astype(str).to_numpy(dtype=object), dtype=object)
    return out


def grid_weights(grids: pd.DataFrame, settings: WarningSettings) -> Weights:
    """Queen contiguity weights of the snapshot grids (WGS-84), islands → k nearest (from settings)."""
    geoms = grids["geometry"].to_numpy(dtype=object)
    if len(geoms) and isinstance(geoms[0], bytes | bytearray):
        import shapely

        geoms = shapely.from_wkb(geoms)
    return contiguity_weights(geoms, ids=_grid_ids(grids),
                              tolerance_m=settings.contiguity_tolerance_m, k=settings.island_neighbours)


def run_detectors(cases: pd.DataFrame, deadlines: pd.DataFrame, grids: pd.DataFrame, *, now: pd.Timestamp,
                  settings: WarningSettings, jurisdiction_level: str = "county", jurisdiction_name: str = "",
                  timezone: str = "Asia/Shanghai", collective_min_people: int = 5,
                  weights: Weights | None = None,
                  detectors: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All detectors as of `now`: (alerts, grid_stats).

    `cases` is the merged case frame (CASE_COLUMNS; received_at tz-aware or local wall time),
    `deadlines` its compute_deadlines frame (light, is_backlog, next_due; same index), `grids` the
    snapshot grids (grid_id, names, population, geometry in WGS-84). Cases received after `now` are
    ignored. `weights` may be passed to reuse contiguity weights built from the same grids (in the
    same order); `detectors` limits which detector codes run (default all).

    alerts: ALERT_COLUMNS, one row per fingerprint (detector|scope|scope_id[|issue key /
    petitioner_key / case_id]); evidence is JSON text whose "text" is the Chinese sentence.
    During a sensitive period every level is one step higher and count thresholds are lowered.
    grid_stats: GRID_STATS_COLUMNS, one row per grid and window ("7d", "30d", "12w" = the emerging
    period, then the weekly windows "w-11" … "w0").
    """
    require_columns(cases, CASE_COLUMNS)
    require_columns(deadlines, ("light", "is_backlog"), name="deadlines",
                    hint="pass the frame returned by geo.deadlines.compute_deadlines for the same cases")
    require_columns(grids, ("grid_id", "geometry"), name="grids", hint="pass the snapshot grids table")
    if len(deadlines) != len(cases):
        raise ValueError(f"`deadlines` has {len(deadlines)} rows but `cases` has {len(cases)}; compute it from the same frame")
    known = {d.code for d in DETECTORS}
    wanted = set(known if detectors is None else detectors)
    if wanted - known:
        raise ValueError(f"`detectors` has unknown code(s) {sorted(wanted - known)}; expected some of {sorted(known)}")
    ts = pd.Timestamp(now)
    ts = ts.tz_localize(timezone) if ts.tzinfo is None else ts.tz_convert(timezone)
    period = active_sensitive_period(ts, settings, timezone=timezone)
    eff = lowered_thresholds(settings, period.threshold_factor) if period is not None else settings
    now_s = int(ts.tz_convert("UTC").value // 1_000_000_000)
    ctx = _Ctx(now=ts, now_s=now_s, today=int(local_today(ts, timezone).astype(np.int64)), timezone=timezone,
               settings=eff, names=_Names(grids, jurisdiction_name),
               jurisdiction_level=jurisdiction_level, collective_min_people=collective_min_people)
    c = _prepare(cases, deadlines, now_s, timezone,
                 {*CASE_COLUMNS, "subcategory", *eff.repeated_collective_key})
    rows: list[dict[str, Any]] = []
    for code, fn in CASE_DETECTORS:
        if code in wanted:
            rows.extend(fn(c, ctx))
    if len(grids):
        w = weights if weights is not None else grid_weights(grids, eff)
        if w.n != len(grids):
            raise ValueError(f"`weights` covers {w.n} units but `grids` has {len(grids)} rows; rebuild them")
        ids = _grid_ids(grids)
        sp_ = _spatial(c, ctx, ids, grids, w)
        if "hotspot" in wanted:
            rows.extend(detect_hotspots(sp_, ctx, ids, w))
        if "emerging_hotspot" in wanted:
            rows.extend(detect_emerging(sp_, ctx, ids))
        stats = _grid_stats(sp_, c, ids, grids)
    else:
        stats = empty_grid_stats()
    return _finish(rows, ctx, period), stats
