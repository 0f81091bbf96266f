"""Legal deadlines, lights (灭红灯) and on-time flags per case, on local calendar dates (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from loaders.enums import OPEN_STATUSES, STATUS

# DOMAIN.md §Time limits (《信访工作条例》), in calendar days. The day of the event is not counted:
# received on 11-01, acceptance is due by the end of 11-16 and the case is red from 11-17.
ACCEPTANCE_DAYS = 15
CONCLUSION_DAYS = 60
EXTENSION_MAX_DAYS = 30
REVIEW_DAYS = 30


@dataclass(frozen=True)
class Light:
    """One light of the 灭红灯 board: code, Chinese label, colour (hex and RGB), urgency rank."""

    code: str
    label: str
    colour: str
    rgb: tuple[int, int, int]
    rank: int


LIGHTS: tuple[Light, ...] = (
    Light("red", "红灯", "#d7263d", (215, 38, 61), 0),
    Light("yellow", "黄灯", "#f2b705", (242, 183, 5), 1),
    Light("green", "绿灯", "#2e9e5b", (46, 158, 91), 2),
    Light("none", "无", "#8a94a6", (138, 148, 166), 3),
)
LIGHT_BY_CODE: dict[str, Light] = {light.code: light for light in LIGHTS}
RED, YELLOW, GREEN, NO_LIGHT = (light.code for light in LIGHTS)

# Which deadline `next_due` is (column `next_due_kind`).
DEADLINE_KINDS: dict[str, str] = {
    "acceptance": "受理期限",
    "conclusion": "办结期限",
    "review": "复查/复核期限",
}

# Why an open case has no light (column `deadline_issue`); shown on the data-quality page.
ISSUE_NO_RECEIVED = "缺少登记时间，无法计算受理期限"
ISSUE_NO_ACCEPTED = "缺少受理时间（也无办理期限），无法计算办结期限"
ISSUE_NO_REVIEW_REQUEST = "缺少复查/复核申请时间，无法计算复查/复核期限"

DEADLINE_COLUMNS: tuple[str, ...] = (
    "acceptance_due", "conclusion_due", "extension_capped", "review_due", "next_due",
    "next_due_kind", "days_left", "light", "deadline_issue", "accepted_on_time",
    "concluded_on_time", "handling_days", "is_backlog",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "status", "received_at", "accepted_at", "due_at", "extended_due_at", "replied_at", "closed_at",
    "review_requested_at",
)

_AWAITING = STATUS.with_flag("awaiting_acceptance")
_IN_REVIEW = STATUS.with_flag("in_review")
# Decided without being accepted (不予受理, 转送): the decision ends the acceptance step.
_NOT_TAKEN = STATUS.with_flag("finished") - STATUS.with_flag("accepted")
_NAT = np.datetime64("NaT", "D")
DATE32 = pd.ArrowDtype(pa.date32())
_NULL_DAY = np.iinfo(np.int32).min

Days = NDArray[np.datetime64]


def local_days(values: pd.Series, timezone: str) -> Days:
    """Calendar dates (numpy datetime64[D], NaT when missing) of timestamps in `timezone`.

    Tz-aware values are converted; naive values are taken as local wall time; dates stay dates.
    """
    s = values
    if s.dtype == DATE32:
        chunks = s.array.__arrow_array__()
        ints = pc.cast(chunks, pa.int32()).fill_null(_NULL_DAY).to_numpy().astype("int64")
        return np.where(ints == _NULL_DAY, np.int64(np.iinfo(np.int64).min), ints).view("datetime64[D]")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(timezone).dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(s.dtype):
        if len(s) == 0 or s.isna().all():
            return np.full(len(s), _NAT)
        s = pd.to_datetime(s)
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert(timezone).dt.tz_localize(None)
    out: Days = s.to_numpy(dtype="datetime64[us]").astype("datetime64[D]")
    return out


def utc_micros(values: pd.Series, timezone: str) -> NDArray[np.datetime64]:
    """Instants as numpy datetime64[us] in UTC (naive values are taken as local wall time)."""
    s = values
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s)
        if not isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    out: NDArray[np.datetime64] = s.to_numpy(dtype="datetime64[us]")
    return out


def local_today(now: pd.Timestamp, timezone: str) -> np.datetime64:
    """The local calendar date of `now` (a naive `now` is local wall time)."""
    ts = pd.Timestamp(now)
    ts = ts.tz_localize(timezone) if ts.tzinfo is None else ts.tz_convert(timezone)
    return np.datetime64(ts.date(), "D")


def to_date32(days: Days) -> pd.arrays.ArrowExtensionArray:
    """Numpy datetime64[D] (NaT = missing) as a pandas Arrow date32 array (Parquet `date32`)."""
    return pd.arrays.ArrowExtensionArray(pa.array(days.astype("datetime64[D]"), type=pa.date32(),
                                                  from_pandas=True))


def status_in(cases: pd.DataFrame, codes: frozenset[str]) -> NDArray[np.bool_]:
    """Boolean array: the case's status is one of `codes` (missing status: False)."""
    out: NDArray[np.bool_] = cases["status"].isin(sorted(codes)).to_numpy(dtype=bool)
    return out


def require_columns(frame: pd.DataFrame, needed: tuple[str, ...], *, name: str = "cases",
                    hint: str = "pass the canonical frame from loaders.validate (loaders/schema.py)"
                    ) -> None:
    """Raise ValueError naming the columns of `needed` that `frame` lacks, and what to pass instead."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"`{name}` lacks column(s) {missing}; {hint}")


def _nullable_bool(value: NDArray[np.bool_], known: NDArray[np.bool_]) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(value & known, ~known)


def _blank_to_na(text: NDArray[np.str_]) -> NDArray[np.object_]:
    out = text.astype(object)
    out[text == ""] = None
    return out


def _earliest(a: Days, b: Days) -> Days:
    """Element-wise earliest of two date (or instant) arrays, ignoring NaT."""
    return np.fmin(a, b)


def compute_deadlines(cases: pd.DataFrame, *, now: pd.Timestamp, yellow_days: int = 5,
                      backlog_days: int = 90, timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """Deadlines and lights of every case as of `now`; a new frame aligned on `cases.index`.

    Dates are local calendar dates in `timezone` (Arrow date32); a deadline is met on its own
    date and missed from the next local midnight. Columns (see DEADLINE_COLUMNS):

    - acceptance_due: received date + 15 days.
    - conclusion_due: base = due_at date, else accepted date + 60 days (missing when neither);
      an extended_due_at replaces it but counts at most 30 days beyond the base
      (`extension_capped` True when it had to be cut back).
    - review_due: review_requested_at date + 30 days, for cases whose status is review/rereview.
    - next_due / next_due_kind: the deadline the open case is working to (registered: acceptance;
      accepted/handling: conclusion; review/rereview: review); missing for cases not open.
    - days_left: next_due − today in days (negative when past), Int64.
    - light: red past next_due, yellow when 0 ≤ days_left ≤ `yellow_days`, green otherwise,
      none for cases not open and for open cases without a computable deadline; the reason for
      the latter is in `deadline_issue` (missing otherwise).
    - accepted_on_time: acceptance (or a 不予受理/转送 decision) by acceptance_due; False when still
      registered past it; NA while undecided and not yet due, or when the decision date is unknown.
    - concluded_on_time: earliest of replied_at/closed_at by conclusion_due; False when still
      open past it; NA while open and not yet due, or without a conclusion deadline.
    - handling_days: (earliest of replied_at/closed_at − accepted_at) in days (float), else NaN.
    - is_backlog (积案): open and received more than `backlog_days` days before today.
    """
    require_columns(cases, REQUIRED_COLUMNS)
    if yellow_days < 0:
        raise ValueError(f"`yellow_days` was {yellow_days} but must be 0 or more (days)")
    if backlog_days < 0:
        raise ValueError(f"`backlog_days` was {backlog_days} but must be 0 or more (days)")
    today = local_today(now, timezone)

    def day(col: str) -> Days:
        return local_days(cases[col], timezone)

    received, accepted, due, extended = (day(c) for c in ("received_at", "accepted_at", "due_at",
                                                           "extended_due_at"))
    replied, closed, requested = day("replied_at"), day("closed_at"), day("review_requested_at")
    is_open = status_in(cases, OPEN_STATUSES)
    awaiting = status_in(cases, _AWAITING) & is_open
    in_review = status_in(cases, _IN_REVIEW) & is_open
    handling = is_open & ~awaiting & ~in_review

    acceptance_due = received + np.timedelta64(ACCEPTANCE_DAYS, "D")
    base: Days = np.where(np.isnat(due), accepted + np.timedelta64(CONCLUSION_DAYS, "D"), due)
    cap = base + np.timedelta64(EXTENSION_MAX_DAYS, "D")
    has_ext = ~np.isnat(extended)
    capped = has_ext & ~np.isnat(base) & (extended > cap)
    conclusion_due = np.where(has_ext, np.where(capped, cap, extended), base)
    review_due = np.where(status_in(cases, _IN_REVIEW), requested + np.timedelta64(REVIEW_DAYS, "D"),
                          _NAT)

    next_due = np.select([awaiting, handling, in_review], [acceptance_due, conclusion_due, review_due],
                         _NAT).astype("datetime64[D]")
    has_next = ~np.isnat(next_due)
    kind = np.select([awaiting, handling, in_review], ["acceptance", "conclusion", "review"], "")
    days_left = np.where(has_next, (next_due - today).astype("int64"), 0)
    light = np.select([~has_next, days_left < 0, days_left <= yellow_days], [NO_LIGHT, RED, YELLOW],
                      GREEN)
    no_light = is_open & ~has_next
    issue = np.select(
        [no_light & awaiting, no_light & handling, no_light & in_review],
        [ISSUE_NO_RECEIVED, ISSUE_NO_ACCEPTED, ISSUE_NO_REVIEW_REQUEST], "")

    concluded = _earliest(replied, closed)
    decided = np.where(np.isnat(accepted), np.where(status_in(cases, _NOT_TAKEN), concluded, _NAT),
                       accepted)
    acc_known = ~np.isnat(decided) & ~np.isnat(acceptance_due)
    acc_late_open = np.isnat(decided) & awaiting & (today > acceptance_due)
    con_known = ~np.isnat(concluded) & ~np.isnat(conclusion_due)
    con_late_open = np.isnat(concluded) & is_open & (today > conclusion_due)

    start = utc_micros(cases["accepted_at"], timezone)
    end = _earliest(utc_micros(cases["replied_at"], timezone), utc_micros(cases["closed_at"], timezone))
    handling_days = (end - start).astype("timedelta64[us]").astype("float64") / 86_400e6
    handling_days[np.isnat(start) | np.isnat(end) | (handling_days < 0)] = np.nan

    is_backlog = is_open & (received < today - np.timedelta64(backlog_days, "D"))  # NaT: False

    out = pd.DataFrame({
        "acceptance_due": to_date32(acceptance_due),
        "conclusion_due": to_date32(conclusion_due),
        "extension_capped": capped,
        "review_due": to_date32(review_due),
        "next_due": to_date32(next_due),
        "next_due_kind": pd.array(_blank_to_na(np.where(has_next, kind, "")), dtype="str"),
        "days_left": pd.arrays.IntegerArray(days_left, ~has_next),
        "light": pd.array(light, dtype="str"),
        "deadline_issue": pd.array(_blank_to_na(issue), dtype="str"),
        "accepted_on_time": _nullable_bool(
            np.where(acc_known, decided <= acceptance_due, False), acc_known | acc_late_open),
        "concluded_on_time": _nullable_bool(
            np.where(con_known, concluded <= conclusion_due, False), con_known | con_late_open),
        "handling_days": handling_days,
        "is_backlog": is_backlog,
    }, index=cases.index)
    return out
