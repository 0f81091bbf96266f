"""Counts and rates (三率 and the rest) per unit and period, vectorised, from cases and deadlines (SPEC §7)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.deadlines import RED, local_days, local_today, require_columns, status_in, to_date32
from loaders.enums import LEADER_STAGE, LEVEL_VISITED, OPEN_STATUSES, SATISFACTION, STATUS
from loaders.validate import isin_strings

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I32 = NDArray[np.int32]  # period indices: half the memory of int64 at 1M rows
B = NDArray[np.bool_]
W = F64 | B  # a weight per row: 0/1 flags stay boolean to save memory

UNIT_TYPES: tuple[str, ...] = ("county", "township", "community", "grid", "leader")
PERIODS: tuple[str, ...] = ("day", "week", "month")
COUNTY_ID = "county"  # unit_id of the whole jurisdiction


@dataclass(frozen=True)
class Metric:
    """One metric as shown in the UI: label, what is counted, and which date puts a case in a period.

    `kind` is "count" (one column), "rate" (`<name>_num`, `<name>_den`, `<name>` = num/den) or
    "mean" (same three columns; the value is a mean in `unit`).
    """

    name: str
    label: str
    kind: Literal["count", "rate", "mean"]
    numerator: str
    denominator: str | None
    dated_by: str
    unit: str = "件"


_M = Metric
METRICS: dict[str, Metric] = {m.name: m for m in (
    _M("received", "新增", "count", "本期登记的事项", None, "登记时间"),
    _M("accepted", "受理", "count", "本期受理的事项", None, "受理时间"),
    _M("closed", "办结", "count", "本期办结（答复或办结，取较早者）的事项", None, "办结时间"),
    _M("open_end", "在办", "count", "期末（本期为当前时刻）仍在办理的事项", None, "期末状态"),
    _M("overdue", "超期（红灯）", "count", "期末（本期为当前时刻）已超过当前法定期限仍在办的事项", None,
       "期末状态"),
    _M("backlog", "积案", "count", "期末仍在办且登记已超过积案天数（默认90天）的事项", None, "期末状态"),
    _M("repeat_cases", "重复访", "count", "本期登记、同一信访人同一类别此前已有事项的", None, "登记时间"),
    _M("skip_level", "越级访", "count", "本期登记、来访层级高于本级上一级的事项", None, "登记时间"),
    _M("skip_level_province", "赴省访", "count", "越级访中到省级的", None, "登记时间"),
    _M("skip_level_national", "进京访", "count", "越级访中到国家级的", None, "登记时间"),
    _M("collective_cases", "集体访（件次）", "count", "本期登记、人数达到集体访人数（默认5人）的事项", None,
       "登记时间"),
    _M("collective_people", "集体访（人次）", "count", "上述集体访事项的人数合计", None, "登记时间", "人"),
    _M("timely_acceptance", "及时受理率", "rate", "在登记后15日内受理（或作出不予受理、转送决定）的事项",
       "受理期限在本期且已能判定的事项（到期未受理的计入）", "受理期限"),
    _M("on_time_conclusion", "按期办结率", "rate", "在办结期限（含不超过30日的延期）内办结的事项",
       "办结期限在本期且已能判定的事项（逾期办结和逾期未办结的计入）", "办结期限"),
    _M("participation", "群众参评率", "rate", "已评价的事项",
       "已评价 + 办结已超过评价期（默认30天）仍未评价的事项", "办结时间"),
    _M("satisfaction", "群众满意率", "rate", "满意 + 基本满意", "满意 + 基本满意 + 不满意", "评价时间"),
    _M("resolution", "化解率", "rate", "已化解的事项（包案领导：已化解或已回访的包案）",
       "办结的事项（包案领导：交办给该领导的包案）", "办结时间（包案：包案时间）"),
    _M("repeat_rate", "重复信访率", "rate", "重复访事项", "本期登记的全部事项", "登记时间"),
    _M("avg_handling_days", "平均办理时长", "mean", "办结时间 − 受理时间（天）之和", "有受理和办结时间的办结事项",
       "办结时间", "天"),
)}
COUNT_COLUMNS: tuple[str, ...] = tuple(m.name for m in METRICS.values() if m.kind == "count")
RATE_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS.values() if m.kind != "count")
KEY_COLUMNS: tuple[str, ...] = ("unit_type", "unit_id", "period", "period_start")
METRIC_COLUMNS: tuple[str, ...] = KEY_COLUMNS + COUNT_COLUMNS + tuple(
    col for r in RATE_NAMES for col in (f"{r}_num", f"{r}_den", r))
_STATE = ("open_end", "overdue", "backlog")
CASE_COLUMNS: tuple[str, ...] = (
    "case_id", "status", "category", "received_at", "accepted_at", "replied_at", "closed_at",
    "review_requested_at", "level_visited", "people_count", "petitioner_key", "grid_id",
    "community_id", "township_id")
# Every case column compute_metrics reads (CASE_COLUMNS are required; the others count as missing
# values when absent, so a caller that narrows the frame must keep them all).
METRIC_INPUT_COLUMNS: tuple[str, ...] = CASE_COLUMNS + ("updated_at", "satisfaction", "evaluated_at")
DEADLINE_INPUTS: tuple[str, ...] = (
    "acceptance_due", "conclusion_due", "review_due", "light", "accepted_on_time",
    "concluded_on_time", "handling_days", "is_backlog")
_FLOAT_SUMS = ("avg_handling_days_num",)

_AWAITING = STATUS.with_flag("awaiting_acceptance")
_IN_REVIEW = STATUS.with_flag("in_review")
_ACCEPTED = STATUS.with_flag("accepted")
_RESOLVED = STATUS.with_flag("resolved")
_POSITIVE = SATISFACTION.with_flag("positive")
_NEGATIVE = SATISFACTION.with_flag("negative")
_LEADER_RESOLVED = LEADER_STAGE.with_flag("resolved")


# --- labels -----------------------------------------------------------------------------------------

def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def rate_label(num: float, den: float, *, digits: int = 1) -> str:
    """Hover text of a rate: "98.2%（491/500）"; "—（0/0）" when the denominator is 0 or missing."""
    if den is None or pd.isna(den) or den == 0 or num is None or pd.isna(num):
        return f"—（{_number(0 if num is None or pd.isna(num) else num)}/0）"
    return f"{100.0 * num / den:.{digits}f}%（{_number(num)}/{_number(den)}）"


def mean_label(total: float, count: float, *, unit: str = "天", digits: int = 1) -> str:
    """Hover text of a mean: "14.6天（共 500 件）"; "—" when there is nothing to average."""
    if count is None or pd.isna(count) or count == 0:
        return "—"
    return f"{total / count:.{digits}f}{unit}（共 {_number(count)} 件）"


def combine_periods(rows: pd.DataFrame) -> pd.Series:
    """One unit's rows (e.g. the days of a custom period) combined into one row of counts and rates.

    Flows, numerators and denominators are summed; the state counts (open_end, overdue, backlog)
    are those of the latest period; rates are recomputed (NaN when the denominator is 0).
    """
    flows = [c for c in COUNT_COLUMNS if c not in _STATE]
    parts = [f"{r}_{p}" for r in RATE_NAMES for p in ("num", "den")]
    out = rows[flows + parts].sum()
    latest = rows.sort_values("period_start").iloc[-1] if len(rows) else None
    for col in _STATE:
        out[col] = 0 if latest is None else latest[col]
    for r in RATE_NAMES:
        den = out[f"{r}_den"]
        out[r] = out[f"{r}_num"] / den if den else np.nan
    return out[list(COUNT_COLUMNS) + [c for r in RATE_NAMES for c in (f"{r}_num", f"{r}_den", r)]]


# --- case flags ---------------------------------------------------------------------------------------

def flag_repeats(cases: pd.DataFrame) -> B:
    """True for a case when an earlier case (by received_at) has the same petitioner_key and category."""
    n = len(cases)
    out = np.zeros(n, dtype=bool)
    key_codes, keys = pd.factorize(cases["petitioner_key"])
    cat_codes, cats = pd.factorize(cases["category"])
    ok = (key_codes >= 0) & (cat_codes >= 0)
    if not ok.any():
        return out
    pair = key_codes.astype(np.int64) * max(len(cats), 1) + cat_codes
    when = cases["received_at"].to_numpy(dtype="datetime64[us]").view("int64")
    rows = np.flatnonzero(ok)
    order = rows[np.lexsort((when[rows], pair[rows]))]
    same = pair[order][1:] == pair[order][:-1]
    out[order[1:][same]] = True
    return out


def skip_levels(level_visited: pd.Series, *, jurisdiction_level: str) -> tuple[B, B, B]:
    """越级访 flags: any level above jurisdiction + 1, and the 赴省 / 进京 parts of it."""
    if jurisdiction_level not in LEVEL_VISITED.codes:
        raise ValueError(f"`jurisdiction_level` was {jurisdiction_level!r} but is expected to be one "
                         f"of {LEVEL_VISITED.codes}")
    limit = LEVEL_VISITED.rank_of(jurisdiction_level) + 1
    above = sorted(m.code for m in LEVEL_VISITED.members if m.rank > limit)
    skip = level_visited.isin(above).to_numpy(dtype=bool)
    province = skip & (level_visited == "province").to_numpy(dtype=bool, na_value=False)
    national = skip & (level_visited == "national").to_numpy(dtype=bool, na_value=False)
    return skip, province, national


# --- calendar -----------------------------------------------------------------------------------------

def _as_float_days(days: NDArray[np.datetime64]) -> F64:
    out = days.astype("datetime64[D]").astype("int64").astype("float64")
    out[np.isnat(days)] = np.nan
    return out


def _absolute(period: str, days: F64) -> F64:
    """Absolute period number of local day numbers (days since 1970-01-01); NaN/inf pass through."""
    if period == "day":
        return days.copy()
    if period == "week":  # ISO weeks: 1969-12-29 (day -3) was a Monday
        return np.floor((days + 3.0) / 7.0)
    out = days.copy()
    finite = np.isfinite(days)
    months = days[finite].astype("int64").astype("datetime64[D]").astype("datetime64[M]")
    out[finite] = months.astype("int64")
    return out


def _start_day(period: str, absolute: I64) -> NDArray[np.datetime64]:
    if period == "day":
        return absolute.astype("datetime64[D]")
    if period == "week":
        return (absolute * 7 - 3).astype("datetime64[D]")
    return absolute.astype("datetime64[M]").astype("datetime64[D]")


@dataclass(frozen=True)
class _Calendar:
    """Periods `first` .. `first + size - 1` (absolute numbers); the last one contains today."""

    period: str
    first: int
    size: int

    def index(self, days: F64) -> I32:
        """Period index of each day, -1 when missing or outside the calendar."""
        rel = _absolute(self.period, days) - self.first
        ok = np.isfinite(rel) & (rel >= 0) & (rel < self.size)
        return np.where(ok, np.nan_to_num(rel, nan=-1.0, posinf=-1.0, neginf=-1.0), -1).astype(np.int32)

    def span(self, start: F64, end: F64) -> tuple[I32, I32]:
        """First and last past period whose end (last day) lies in [start, end); last < first: none.

        The current period is excluded: its state is taken from the case's status as of now.
        """
        a = _absolute(self.period, start) - self.first
        b = _absolute(self.period, end) - self.first - 1
        ok = np.isfinite(a) & ~np.isnan(b)
        first = np.where(ok, np.maximum(np.nan_to_num(a, nan=0.0, posinf=self.size, neginf=0.0), 0), 1)
        last = np.where(ok, np.minimum(np.nan_to_num(b, nan=-1.0, posinf=self.size, neginf=-1.0),
                                       self.size - 2), 0)
        return first.astype(np.int32), last.astype(np.int32)


def _calendar(period: str, *, today: float, first_day: float) -> _Calendar:
    now_abs = int(_absolute(period, np.array([today]))[0])
    first = int(_absolute(period, np.array([first_day]))[0])
    return _Calendar(period, first, max(now_abs - first + 1, 0))


# --- the case table as arrays ---------------------------------------------------------------------------

@dataclass
class _Events:
    """Per-case arrays: dated weights (flows, numerators, denominators) and state intervals."""

    dates: dict[str, F64]                  # date kind -> local day number per row
    weights: dict[str, tuple[str, W | None]]  # column -> (date kind, weight per row; None = 1)
    intervals: dict[str, list[tuple[F64, F64]]]  # state column -> [(start day, end day excl.)]
    now_flags: dict[str, B]                # state column -> flag as of now (current period)

    def on(self, cal: _Calendar) -> _Placed:
        """The rows placed on `cal` (computed once per calendar, shared by every unit type)."""
        return _Placed(
            {k: cal.index(v) for k, v in self.dates.items()}, self.weights,
            {k: [cal.span(a, b) for a, b in v] for k, v in self.intervals.items()}, self.now_flags)


@dataclass
class _Placed:
    """Rows on one calendar: period index per date kind (-1: none) and period spans per state."""

    idx: dict[str, I32]
    weights: dict[str, tuple[str, W | None]]
    spans: dict[str, list[tuple[I32, I32]]]
    now_flags: dict[str, B]

    def take(self, pos: I64) -> _Placed:
        """The rows at `pos` (e.g. one row per leader case)."""
        return _Placed(
            {k: v[pos] for k, v in self.idx.items()},
            {k: (d, None if w is None else w[pos]) for k, (d, w) in self.weights.items()},
            {k: [(a[pos], b[pos]) for a, b in v] for k, v in self.spans.items()},
            {k: v[pos] for k, v in self.now_flags.items()},
        )


def _case_events(cases: pd.DataFrame, deadlines: pd.DataFrame, *, today: float, timezone: str,
                 jurisdiction_level: str, evaluation_window_days: int, collective_min_people: int,
                 backlog_days: int, repeat_flags: B | None = None) -> _Events:
    def day(frame: pd.DataFrame, col: str) -> F64:
        if col not in frame.columns:
            return np.full(len(frame), np.nan)
        return _as_float_days(local_days(frame[col], timezone))

    received, accepted = day(cases, "received_at"), day(cases, "accepted_at")
    concluded = np.fmin(day(cases, "replied_at"), day(cases, "closed_at"))
    updated, requested = day(cases, "updated_at"), day(cases, "review_requested_at")
    acc_due, con_due = day(deadlines, "acceptance_due"), day(deadlines, "conclusion_due")
    rev_due = day(deadlines, "review_due")

    is_open = status_in(cases, OPEN_STATUSES)
    awaiting = status_in(cases, _AWAITING) & is_open
    in_review = status_in(cases, _IN_REVIEW) & is_open
    accepted_status = status_in(cases, _ACCEPTED)
    resolved = status_in(cases, _RESOLVED)
    has = ~np.isnan(concluded)

    satisfaction = cases["satisfaction"] if "satisfaction" in cases.columns else pd.Series(
        pd.NA, index=cases.index, dtype="str")
    positive = satisfaction.isin(sorted(_POSITIVE)).to_numpy(dtype=bool)
    negative = satisfaction.isin(sorted(_NEGATIVE)).to_numpy(dtype=bool)
    evaluated_day = day(cases, "evaluated_at")
    evaluated = ~np.isnan(evaluated_day) | satisfaction.notna().to_numpy(dtype=bool)
    evaluated_day = np.where(np.isnan(evaluated_day), concluded, evaluated_day)

    acc_ok = deadlines["accepted_on_time"]
    con_ok = deadlines["concluded_on_time"]
    handling = deadlines["handling_days"].to_numpy(dtype="float64", na_value=np.nan)
    repeat = flag_repeats(cases) if repeat_flags is None else np.asarray(repeat_flags, dtype=bool)
    skip, province, national = skip_levels(cases["level_visited"], jurisdiction_level=jurisdiction_level)
    people = cases["people_count"].to_numpy(dtype="float64", na_value=np.nan)
    collective = people >= collective_min_people

    weights: dict[str, tuple[str, W | None]] = {
        "received": ("R", None),
        "accepted": ("A", None),
        "closed": ("C", None),
        "repeat_cases": ("R", repeat),
        "skip_level": ("R", skip),
        "skip_level_province": ("R", province),
        "skip_level_national": ("R", national),
        "collective_cases": ("R", collective),
        "collective_people": ("R", np.where(collective, people, 0.0)),
        "timely_acceptance_num": ("Dacc", acc_ok.fillna(False).to_numpy(dtype=bool)),
        "timely_acceptance_den": ("Dacc", acc_ok.notna().to_numpy(dtype=bool)),
        "on_time_conclusion_num": ("Dcon", con_ok.fillna(False).to_numpy(dtype=bool)),
        "on_time_conclusion_den": ("Dcon", con_ok.notna().to_numpy(dtype=bool)),
        "participation_num": ("C", evaluated),
        "participation_den": ("C", evaluated | (today - concluded > evaluation_window_days)),
        "satisfaction_num": ("Ev", positive),
        "satisfaction_den": ("Ev", positive | negative),
        "resolution_num": ("C", resolved),
        "resolution_den": ("C", None),
        "repeat_rate_num": ("R", repeat),
        "repeat_rate_den": ("R", None),
        "avg_handling_days_num": ("C", np.nan_to_num(handling, nan=0.0)),
        "avg_handling_days_den": ("C", ~np.isnan(handling)),
    }
    dates = {"R": received, "A": accepted, "C": concluded, "Dacc": acc_due, "Dcon": con_due,
             "Ev": evaluated_day}

    inf = np.inf
    # When the case stopped being open: its conclusion; still open: never; finished without a
    # conclusion date (不予受理, 转送): its last update.
    end_open = np.where(is_open & ~in_review, inf,
                        np.where(has, concluded, np.where(in_review, inf, np.fmax(
                            np.where(np.isnan(updated), received, updated), received))))
    reopened = in_review & has & ~np.isnan(requested)
    review_start = np.where(reopened, requested, np.nan)
    end_accept = np.where(~np.isnan(accepted), accepted,
                          np.where(awaiting, inf, np.where(accepted_status, -inf, end_open)))
    start_conclusion = np.where(~np.isnan(accepted), np.maximum(con_due + 1, accepted),
                                np.where(accepted_status, con_due + 1, np.nan))
    backlog_from = received + backlog_days + 1
    never = np.full(len(cases), inf)
    intervals = {
        "open_end": [(received, end_open), (review_start, never)],
        "overdue": [(acc_due + 1, np.fmin(end_accept, end_open)),
                    (start_conclusion, np.where(has, concluded, end_open)),
                    (np.where(in_review, rev_due + 1, np.nan), never)],
        "backlog": [(backlog_from, end_open), (np.maximum(review_start, backlog_from), never)],
    }
    now_flags = {
        "open_end": is_open,
        "overdue": (deadlines["light"] == RED).to_numpy(dtype=bool, na_value=False),
        "backlog": deadlines["is_backlog"].to_numpy(dtype=bool, na_value=False),
    }
    return _Events(dates, weights, intervals, now_flags)


def _leader_rows(cases: pd.DataFrame, leader_cases: pd.DataFrame, *, timezone: str
                 ) -> tuple[I64, pd.Series, F64, B]:
    """Position in `cases` (-1 when absent), leader id, assigned day and resolved weight per 包案."""
    lc = leader_cases.drop_duplicates(["case_id", "leader_id"])
    lc = lc[lc["leader_id"].notna()]
    owned = np.flatnonzero(isin_strings(cases["case_id"], lc["case_id"]).to_numpy(dtype=bool))
    found = pd.Index(cases["case_id"].iloc[owned]).get_indexer(lc["case_id"])
    pos = np.where(found >= 0, owned[np.maximum(found, 0)] if len(owned) else -1, -1).astype(np.int64)
    assigned = _as_float_days(local_days(lc["assigned_at"], timezone))
    done = np.zeros(len(lc), dtype=bool)
    if "resolved_at" in lc.columns:
        done |= lc["resolved_at"].notna().to_numpy(dtype=bool)
    if "stage" in lc.columns:
        done |= lc["stage"].isin(sorted(_LEADER_RESOLVED)).to_numpy(dtype=bool)
    return pos, lc["leader_id"].reset_index(drop=True), assigned, done


# --- aggregation ----------------------------------------------------------------------------------------

def _aggregate(rows: _Placed, code: I64, n_units: int, size: int, *, skip: Iterable[str] = ()
               ) -> dict[str, F64]:
    """Dense unit × period sums (flattened, unit-major) of every column; state counts by spans."""
    cells = n_units * size
    out: dict[str, F64] = {}
    keys: dict[str, tuple[I64, B]] = {}
    for kind, idx in rows.idx.items():
        ok = (idx >= 0) & (code >= 0)
        keys[kind] = (code[ok] * size + idx[ok], ok)
    skipped = set(skip)
    for col, (kind, weight) in rows.weights.items():
        if col in skipped:
            continue
        key, ok = keys[kind]
        out[col] = np.bincount(key, weights=None if weight is None else weight[ok], minlength=cells
                               ).astype("float64")
    width = size + 1
    for col, spans in rows.spans.items():
        diff = np.zeros(n_units * width, dtype=np.int64)
        for first, last in spans:
            ok = (code >= 0) & (last >= first)
            diff += np.bincount(code[ok] * width + first[ok], minlength=n_units * width)
            diff -= np.bincount(code[ok] * width + last[ok] + 1, minlength=n_units * width)
        state = np.cumsum(diff.reshape(n_units, width), axis=1)[:, :size]
        flag = rows.now_flags[col] & (code >= 0)
        state[:, size - 1] = np.bincount(code[flag], minlength=n_units)
        out[col] = state.reshape(-1).astype("float64")
    return out


def _frame(unit_type: str, unit_ids: NDArray[np.object_], cal: _Calendar, sums: dict[str, F64]
           ) -> pd.DataFrame:
    active = np.zeros(len(unit_ids) * cal.size, dtype=bool)
    for values in sums.values():
        active |= values != 0
    sel = np.flatnonzero(active)
    unit, idx = sel // cal.size, sel % cal.size
    k = len(sel)
    data: dict[str, object] = {
        "unit_type": pd.array(np.full(k, unit_type, dtype=object), dtype="str"),
        "unit_id": pd.array(unit_ids[unit], dtype="str"),
        "period": pd.array(np.full(k, cal.period, dtype=object), dtype="str"),
        "period_start": to_date32(_start_day(cal.period, idx + cal.first)),
    }
    for col in COUNT_COLUMNS:
        data[col] = np.rint(sums[col][sel]).astype(np.int32)
    for r in RATE_NAMES:
        num, den = sums[f"{r}_num"][sel], sums[f"{r}_den"][sel]
        data[f"{r}_num"] = num if f"{r}_num" in _FLOAT_SUMS else np.rint(num).astype(np.int32)
        data[f"{r}_den"] = np.rint(den).astype(np.int32)
        with np.errstate(divide="ignore", invalid="ignore"):
            data[r] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return pd.DataFrame(data)


def empty_metrics() -> pd.DataFrame:
    """A metrics frame with no rows and every column in its dtype."""
    cal = _Calendar("day", 0, 0)
    return _frame("county", np.array([], dtype=object), cal,
                  {c: np.zeros(0) for c in METRIC_COLUMNS if c not in KEY_COLUMNS})


def compute_metrics(cases: pd.DataFrame, deadlines: pd.DataFrame, leader_cases: pd.DataFrame, *,
                    now: pd.Timestamp, jurisdiction_level: str = "county",
                    periods: Sequence[str] = ("day", "week", "month"), timezone: str = "Asia/Shanghai",
                    evaluation_window_days: int = 30, collective_min_people: int = 5,
                    day_units: Sequence[str] = ("county", "township"), backlog_days: int = 90,
                    history_days: int | None = 400, repeat_flags: B | None = None) -> pd.DataFrame:
    """Counts and rates per unit and period as one wide frame (columns METRIC_COLUMNS; see METRICS).

    `cases` is the canonical frame with grid_id, community_id, township_id assigned; `deadlines`
    is `compute_deadlines(cases, now=now, ...)` (same index, same `backlog_days`); `leader_cases`
    the canonical 包案 table. Periods are local calendar days, ISO weeks (Monday start) and months;
    `period_start` is the first local date (Arrow date32). Day rows only for `day_units`. Only
    periods starting within `history_days` days before `now` (None: since the first receipt) and
    none after the current period are emitted, and only unit × period cells with any non-zero
    count, numerator or denominator. State counts (open_end, overdue, backlog) are as at the end
    of each past period and as of `now` for the current one. A rate is `<name>_num / <name>_den`,
    NaN when the denominator is 0. `repeat_flags` (one per row) replaces `flag_repeats(cases)`
    when the frame is a part of the cases whose flags were computed on a larger frame.
    """
    require_columns(cases, CASE_COLUMNS, hint="pass the canonical cases with grid_id, community_id "
                    "and township_id from geo.assign.assign_cases")
    require_columns(deadlines, DEADLINE_INPUTS, name="deadlines",
                    hint="pass geo.deadlines.compute_deadlines(cases, now=now)")
    require_columns(leader_cases, ("case_id", "leader_id", "assigned_at"), name="leader_cases")
    for option, value in (("evaluation_window_days", evaluation_window_days),
                          ("backlog_days", backlog_days), ("history_days", history_days or 0)):
        if value < 0:
            raise ValueError(f"`{option}` was {value} but must be 0 or more (days)")
    unknown = [p for p in periods if p not in PERIODS]
    if unknown:
        raise ValueError(f"`periods` had {unknown} but is expected to hold values of {PERIODS}")
    bad_units = [u for u in day_units if u not in UNIT_TYPES]
    if bad_units:
        raise ValueError(f"`day_units` had {bad_units} but is expected to hold values of {UNIT_TYPES}")
    if not deadlines.index.equals(cases.index):
        raise ValueError("`deadlines` must be aligned with `cases` (same index): pass "
                         "compute_deadlines(cases, ...) for the same frame")
    skip_levels(pd.Series([], dtype="str"), jurisdiction_level=jurisdiction_level)  # validates
    if len(cases) == 0:
        return empty_metrics()
    today = float(local_today(now, timezone).astype("int64"))
    events = _case_events(cases, deadlines, today=today, timezone=timezone,
                          jurisdiction_level=jurisdiction_level,
                          evaluation_window_days=evaluation_window_days,
                          collective_min_people=collective_min_people, backlog_days=backlog_days,
                          repeat_flags=repeat_flags)
    received = events.dates["R"]
    if history_days is not None:
        first_day = today - history_days
    elif np.isfinite(received).any():
        first_day = float(np.nanmin(received))
    else:
        return empty_metrics()

    units: dict[str, tuple[I64, NDArray[np.object_]]] = {
        "county": (np.zeros(len(cases), dtype=np.int64), np.array([COUNTY_ID], dtype=object))}
    for unit_type in ("township", "community", "grid"):
        codes, uniques = pd.factorize(cases[f"{unit_type}_id"], sort=True)
        units[unit_type] = (codes.astype(np.int64), np.asarray(uniques, dtype=object))
    pos, leader_ids, assigned, done = _leader_rows(cases, leader_cases, timezone=timezone)
    leader_codes, leader_uniques = pd.factorize(leader_ids, sort=True)
    leader_codes = leader_codes.astype(np.int64)
    leader_case_code = np.where(pos >= 0, leader_codes, -1)
    by_assignment = _Events({"LA": assigned}, {"resolution_num": ("LA", done),
                                               "resolution_den": ("LA", None)}, {}, {})

    frames: dict[tuple[str, str], pd.DataFrame] = {}
    for period in periods:
        cal = _calendar(period, today=today, first_day=first_day)
        if cal.size == 0:
            continue
        placed = events.on(cal)
        for unit_type in UNIT_TYPES:
            if period == "day" and unit_type not in day_units:
                continue
            if unit_type == "leader":
                sums = _aggregate(placed.take(np.maximum(pos, 0)), leader_case_code,
                                  len(leader_uniques), cal.size,
                                  skip=("resolution_num", "resolution_den"))
                sums.update(_aggregate(by_assignment.on(cal), leader_codes, len(leader_uniques),
                                       cal.size))
                uniques = np.asarray(leader_uniques, dtype=object)
            else:
                code, uniques = units[unit_type]
                sums = _aggregate(placed, code, len(uniques), cal.size)
            frames[unit_type, period] = _frame(unit_type, uniques, cal, sums)
    ordered = [frames[u, p] for u in UNIT_TYPES for p in PERIODS if (u, p) in frames]
    if not ordered:
        return empty_metrics()
    return pd.concat(ordered, ignore_index=True)


def apply_metric_deltas(previous: pd.DataFrame, plus: pd.DataFrame, minus: pd.DataFrame) -> pd.DataFrame:
    """`previous` + `plus` − `minus`, cell by cell: every count, numerator and denominator is a sum
    over cases, so a refresh that changed a few cases can update the metrics of all the others.

    All three frames come from `compute_metrics` with the same settings and the same local day
    (state counts and "can be decided" depend on the day). Rates are recomputed from the summed
    numerators and denominators; cells that end up all zero are dropped, as compute_metrics would
    not emit them; rows come back in compute_metrics' order.

    Only the cells `plus` and `minus` touch are worked on: the net change per cell is summed first,
    then added to `previous` in place of its rows (found by binary search, since `previous` is in
    compute_metrics' order), with new cells inserted where they belong.
    """
    delta = sum_metric_cells([(plus, 1.0), (minus, -1.0)])
    if not len(previous):
        return delta
    if not len(delta):
        return previous
    prev_key, delta_key = _CellKeys.of([previous, delta]).keys
    if len(prev_key) > 1 and not bool(np.all(prev_key[1:] > prev_key[:-1])):  # not in canonical order
        return sum_metric_cells([(previous, 1.0), (plus, 1.0), (minus, -1.0)])
    pos = np.searchsorted(prev_key, delta_key)
    found = pos < len(prev_key)
    found[found] = prev_key[pos[found]] == delta_key[found]
    at = pos[found]
    summed = {}
    emptied = np.ones(len(at), dtype=bool)
    for name in _VALUE_COLUMNS:
        values = previous[name].to_numpy()[at] + delta[name].to_numpy()[found]
        if name in _FLOAT_SUMS:  # integer sums are exact; only these can leave residue
            values[np.abs(values) < 1e-9] = 0.0
        emptied &= values == 0
        summed[name] = values
    added = delta[~found]
    # Where each previous row and each new cell goes: kept previous rows keep their order, a new
    # cell goes before the first previous row with a larger key, emptied cells are left out.
    kept = np.ones(len(previous), dtype=bool)
    kept[at[emptied]] = False
    kept_rows = np.flatnonzero(kept)
    new_at = np.searchsorted(prev_key[kept_rows], delta_key[~found]) + np.arange(len(added))
    size = len(kept_rows) + len(added)
    is_new = np.zeros(size, dtype=bool)
    is_new[new_at] = True
    dest = np.full(len(previous), -1, dtype=np.int64)
    dest[kept_rows] = np.flatnonzero(~is_new)
    update_at, update = dest[at[~emptied]], ~emptied
    same_rows = size == len(previous)
    old_dest = slice(None) if same_rows else np.flatnonzero(~is_new)
    new_ids = len(previous) + np.arange(len(added))
    touched = np.concatenate([update_at, new_at])
    if same_rows:  # the key columns only move when cells come or go
        out = previous.copy(deep=False)
    else:
        order = np.empty(size, dtype=np.int64)
        order[old_dest] = kept_rows
        order[new_at] = new_ids
        out = pd.DataFrame({name: pd.concat([previous[name], added[name]], ignore_index=True).array.take(order)
                            for name in KEY_COLUMNS})
    columns: dict[str, NDArray[np.generic]] = {}
    for name in (*_VALUE_COLUMNS, *RATE_NAMES):
        old = previous[name].to_numpy()
        column = np.empty(size, dtype=old.dtype)
        column[old_dest] = old if same_rows else old[kept_rows]
        if name in summed:
            column[update_at] = summed[name][update]
            column[new_at] = added[name].to_numpy()
        columns[name] = column
    for r in RATE_NAMES:
        num, den = columns[f"{r}_num"][touched], columns[f"{r}_den"][touched]
        with np.errstate(divide="ignore", invalid="ignore"):
            columns[r][touched] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    for name, column in columns.items():  # as Series: set without another copy
        out[name] = pd.Series(column, index=out.index, copy=False)
    return out[list(METRIC_COLUMNS)]


_VALUE_COLUMNS: tuple[str, ...] = tuple(c for c in METRIC_COLUMNS if c not in KEY_COLUMNS and c not in RATE_NAMES)


@dataclass(frozen=True)
class _CellKeys:
    """One int64 per row of each frame, equal for the same cell (unit type, unit id, period, period start)
    in every frame and sorting like compute_metrics' rows; `decode` turns keys back into those columns."""

    keys: list[I64]
    unit_ids: NDArray[np.object_]  # sorted, so their codes order like the strings
    first_day: int
    n_days: int

    @classmethod
    def of(cls, frames: Sequence[pd.DataFrame]) -> _CellKeys:
        import pyarrow as pa

        ids = pd.concat([f["unit_id"] for f in frames], ignore_index=True)
        id_codes, id_uniques = pd.factorize(ids, sort=True)
        starts = [np.asarray(pa.array(f["period_start"].array).cast(pa.int32())).astype(np.int64) for f in frames]
        first = min(int(s.min()) for s in starts)
        n_days = max(int(s.max()) for s in starts) - first + 1
        n_ids = len(id_uniques)
        keys, offset = [], 0
        for f, start in zip(frames, starts, strict=True):
            kind = _rank(f["unit_type"], UNIT_TYPES) * len(PERIODS) + _rank(f["period"], PERIODS)
            code = id_codes[offset:offset + len(f)].astype(np.int64)
            offset += len(f)
            keys.append((kind * n_ids + code) * n_days + (start - first))
        return cls(keys, np.asarray(id_uniques, dtype=object), first, n_days)

    def decode(self, keys: I64) -> pd.DataFrame:
        """The key columns (unit_type, unit_id, period, period_start) of `keys`."""
        rest, start = np.divmod(keys, self.n_days)
        kind, code = np.divmod(rest, len(self.unit_ids))
        unit_rank, period_rank = np.divmod(kind, len(PERIODS))
        return pd.DataFrame({
            "unit_type": pd.array(np.asarray(UNIT_TYPES, dtype=object)[unit_rank], dtype="str"),
            "unit_id": pd.array(self.unit_ids[code], dtype="str"),
            "period": pd.array(np.asarray(PERIODS, dtype=object)[period_rank], dtype="str"),
            "period_start": to_date32((start + self.first_day).astype("datetime64[D]")),
        })


def _rank(values: pd.Series, order: tuple[str, ...]) -> I64:
    codes, uniques = pd.factorize(values)
    return np.array([order.index(u) for u in uniques], dtype=np.int64)[codes]


def sum_metric_cells(frames: Sequence[tuple[pd.DataFrame, float]]) -> pd.DataFrame:
    """The signed sum of metric frames cell by cell (every value column times its frame's sign), rates
    recomputed from the summed numerators and denominators, cells that sum to all zero dropped, rows
    in compute_metrics' order."""
    frames = [(f, sign) for f, sign in frames if len(f)]
    if not frames:
        return empty_metrics()
    cells = _CellKeys.of([f for f, _ in frames])
    groups, inverse = np.unique(np.concatenate(cells.keys), return_inverse=True)  # in compute_metrics' order
    sign = np.concatenate([np.full(len(f), s) for f, s in frames])
    col: dict[str, F64] = {}
    active = np.zeros(len(groups), dtype=bool)
    for name in _VALUE_COLUMNS:
        column = np.concatenate([f[name].to_numpy(dtype="float64") for f, _ in frames])
        summed = np.bincount(inverse, weights=column * sign, minlength=len(groups))
        if name in _FLOAT_SUMS:  # integer sums are exact in float64; only these can leave residue
            summed[np.abs(summed) < 1e-9] = 0.0
        active |= summed != 0
        col[name] = summed
    groups = groups[active]
    col = {name: values_[active] for name, values_ in col.items()}
    frame = cells.decode(groups)
    for name in COUNT_COLUMNS:
        frame[name] = np.rint(col[name]).astype(np.int32)
    for r in RATE_NAMES:
        num, den = col[f"{r}_num"], col[f"{r}_den"]
        frame[f"{r}_num"] = num if f"{r}_num" in _FLOAT_SUMS else np.rint(num).astype(np.int32)
        frame[f"{r}_den"] = np.rint(den).astype(np.int32)
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[r] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return frame[list(METRIC_COLUMNS)]
