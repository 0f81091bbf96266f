"""geo.metrics: every count and rate checked against numbers worked out by hand in the docstrings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geo.deadlines import compute_deadlines
from geo.metrics import (METRIC_COLUMNS, METRICS, RATE_NAMES, combine_periods, compute_metrics,
                         flag_repeats, mean_label, rate_label)
from test_deadlines import TZ, make_cases

NOW = pd.Timestamp("2026-11-21 14:00", tz=TZ)  # a Saturday; the current ISO week starts Mon 11-16
ACCEPTED = {"received_at": "2026-09-01 10:00", "accepted_at": "2026-09-02 10:00"}


def leader_table(*rows: tuple[str, str, str, str | None, str | None]) -> pd.DataFrame:
    """(case_id, leader_id, assigned local time, stage, resolved local time) rows as canonical dtypes."""
    def stamps(values: list[str | None]) -> Any:
        return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").dt.tz_localize(
            TZ).astype(f"datetime64[us, {TZ}]").array

    return pd.DataFrame({
        "case_id": pd.array([r[0] for r in rows], dtype="str"),
        "leader_id": pd.array([r[1] for r in rows], dtype="str"),
        "assigned_at": stamps([r[2] for r in rows]),
        "stage": pd.array([r[3] for r in rows], dtype="str"),
        "due_at": stamps([None] * len(rows)),
        "resolved_at": stamps([r[4] for r in rows]),
        "followed_up_at": stamps([None] * len(rows)),
    })


def run(cases: pd.DataFrame, leader_cases: pd.DataFrame | None = None, **options: Any) -> pd.DataFrame:
    deadlines = compute_deadlines(cases, now=NOW)
    return compute_metrics(cases, deadlines, leader_table() if leader_cases is None else leader_cases,
                           now=NOW, **options)


def row(metrics: pd.DataFrame, period: str, start: str, unit_type: str = "county",
        unit_id: str = "county") -> pd.Series:
    hit = metrics[(metrics["unit_type"] == unit_type) & (metrics["unit_id"] == unit_id)
                  & (metrics["period"] == period)
                  & (metrics["period_start"] == dt.date.fromisoformat(start))]
    assert len(hit) == 1, (unit_type, unit_id, period, start, len(hit))
    return hit.iloc[0]


def rate(r: pd.Series, name: str) -> tuple[int, int]:
    return int(r[f"{name}_num"]), int(r[f"{name}_den"])


def test_on_time_conclusion_rate() -> None:
    """Due in the week of 11-02: A (due 11-03, replied 11-02) and B (due 11-05, closed 11-05) on
    time, C (due 11-07, closed 11-10) late → 2/3. D (due 11-12, still open) → 0/1 in the week of
    11-09. E (due 11-25) is not yet decided and counts nowhere. November: 2/4."""
    cases = make_cases(
        {**ACCEPTED, "status": "closed", "due_at": "2026-11-03 00:00", "replied_at": "2026-11-02 10:00"},
        {**ACCEPTED, "status": "closed", "due_at": "2026-11-05 00:00", "closed_at": "2026-11-05 18:00"},
        {**ACCEPTED, "status": "closed", "due_at": "2026-11-07 00:00", "closed_at": "2026-11-10 09:00"},
        {**ACCEPTED, "status": "handling", "due_at": "2026-11-12 00:00"},
        {**ACCEPTED, "status": "handling", "due_at": "2026-11-25 00:00"},
    )
    m = run(cases)
    week = row(m, "week", "2026-11-02")
    assert rate(week, "on_time_conclusion") == (2, 3)
    assert week["on_time_conclusion"] == pytest.approx(2 / 3)
    assert week["closed"] == 2  # A and B were concluded that week; C the week after
    assert rate(row(m, "week", "2026-11-09"), "on_time_conclusion") == (0, 1)
    assert rate(row(m, "month", "2026-11-01"), "on_time_conclusion") == (2, 4)


def test_timely_acceptance_rate() -> None:
    """Acceptance due in the week of 11-02: P (received 10-20, due 11-04, accepted 10-25) on time;
    Q (due 11-06, accepted 11-08) late; R (due 11-07, never accepted) late → 1/3. S (due 11-14,
    accepted 11-01) → 1/1 in the week of 11-09. T (received 11-15, due 11-30) undecided. Nov: 2/4."""
    cases = make_cases(
        {"status": "handling", "received_at": "2026-10-20 09:00", "accepted_at": "2026-10-25 09:00"},
        {"status": "handling", "received_at": "2026-10-22 09:00", "accepted_at": "2026-11-08 09:00"},
        {"status": "registered", "received_at": "2026-10-23 09:00"},
        {"status": "handling", "received_at": "2026-10-30 09:00", "accepted_at": "2026-11-01 09:00"},
        {"status": "registered", "received_at": "2026-11-15 09:00"},
    )
    m = run(cases)
    assert rate(row(m, "week", "2026-11-02"), "timely_acceptance") == (1, 3)
    assert rate(row(m, "week", "2026-11-09"), "timely_acceptance") == (1, 1)
    assert rate(row(m, "month", "2026-11-01"), "timely_acceptance") == (2, 4)
    assert row(m, "month", "2026-11-01")["accepted"] == 2  # Q on 11-08, S on 11-01
    assert row(m, "month", "2026-10-01")["received"] == 4


def test_participation_and_satisfaction() -> None:
    """Concluded in October: a (evaluated 满意 10-10), b (evaluated 不满意 11-02), c (closed 10-05,
    never evaluated, 47 days ago > 30: counts), d (closed 10-25, 27 days ago: not yet) → 参评率
    October 2/3. e (closed 11-01, evaluated 基本满意 11-03) → November 1/1. 满意率 by evaluation
    date: October a → 1/1; November b, e → 1/2."""
    closed = {**ACCEPTED, "status": "closed"}
    cases = make_cases(
        {**closed, "closed_at": "2026-10-05 10:00", "evaluated_at": "2026-10-10 10:00",
         "satisfaction": "satisfied"},
        {**closed, "closed_at": "2026-10-06 10:00", "evaluated_at": "2026-11-02 10:00",
         "satisfaction": "unsatisfied"},
        {**closed, "closed_at": "2026-10-05 10:00"},
        {**closed, "closed_at": "2026-10-25 10:00"},
        {**closed, "closed_at": "2026-11-01 10:00", "evaluated_at": "2026-11-03 10:00",
         "satisfaction": "basic"},
    )
    m = run(cases)
    october, november = row(m, "month", "2026-10-01"), row(m, "month", "2026-11-01")
    assert rate(october, "participation") == (2, 3)
    assert rate(november, "participation") == (1, 1)
    assert rate(october, "satisfaction") == (1, 1)
    assert rate(november, "satisfaction") == (1, 2) and november["satisfaction"] == 0.5
    assert rate(run(cases, evaluation_window_days=20).pipe(row, "month", "2026-10-01"),
                "participation") == (2, 4)  # d is now 27 > 20 days past conclusion


def test_repeat_rate() -> None:
    """Week of 11-02: (P1, 城乡建设) on 11-02, 11-03*, 11-06*; (P1, 民政) 11-04; (P2, 城乡建设) 11-05;
    no petitioner 11-06; (P3, 民政) 11-07*, whose earlier case (2026-01-10) lies before the
    emitted history but still makes it a repeat → 3 repeats of 7 cases."""
    cases = make_cases(
        {"petitioner_key": "P1", "received_at": "2026-11-02 09:00"},
        {"petitioner_key": "P1", "received_at": "2026-11-03 09:00"},
        {"petitioner_key": "P1", "received_at": "2026-11-04 09:00", "category": "民政"},
        {"petitioner_key": "P2", "received_at": "2026-11-05 09:00"},
        {"petitioner_key": "P1", "received_at": "2026-11-06 09:00"},
        {"received_at": "2026-11-06 09:00"},
        {"petitioner_key": "P3", "received_at": "2026-01-10 09:00", "category": "民政",
         "status": "closed", "closed_at": "2026-02-01 09:00"},
        {"petitioner_key": "P3", "received_at": "2026-11-07 09:00", "category": "民政"},
    )
    assert flag_repeats(cases).tolist() == [False, True, False, False, True, False, False, True]
    m = run(cases, history_days=60)
    week = row(m, "week", "2026-11-02")
    assert week["repeat_cases"] == 3 and rate(week, "repeat_rate") == (3, 7)
    assert m["period_start"].min() >= dt.date(2026, 9, 21)  # nothing emitted before the window
    everything = run(cases, history_days=None)
    assert row(everything, "month", "2026-01-01")["received"] == 1
    assert row(everything, "week", "2026-11-02")["repeat_cases"] == 3


def test_skip_level_split_province_national() -> None:
    """Visits at county, city, province, national, national, township. County jurisdiction: 越级 is
    above city → 3 (赴省 1, 进京 2). City jurisdiction: above province → 2 (进京 2)."""
    levels = ["county", "city", "province", "national", "national", "township"]
    cases = make_cases(*({"level_visited": lv, "received_at": "2026-11-10 09:00"} for lv in levels))
    county = row(run(cases), "week", "2026-11-09")
    assert (county["skip_level"], county["skip_level_province"], county["skip_level_national"]) == (3, 1, 2)
    city = row(run(cases, jurisdiction_level="city"), "week", "2026-11-09")
    assert (city["skip_level"], city["skip_level_province"], city["skip_level_national"]) == (2, 0, 2)
    assert row(run(cases, jurisdiction_level="province"), "week", "2026-11-09")["skip_level"] == 0
    with pytest.raises(ValueError, match="jurisdiction_level"):
        run(cases, jurisdiction_level="village")


def test_collective_cases_and_people() -> None:
    """People 1, 5, 12, 4, missing. Threshold 5: 2 cases (件次), 17 people (人次); threshold 4: 3, 21."""
    cases = make_cases(*({"people_count": p, "received_at": "2026-11-10 09:00"}
                         for p in (1, 5, 12, 4, None)))
    week = row(run(cases), "week", "2026-11-09")
    assert (week["collective_cases"], week["collective_people"]) == (2, 17)
    week4 = row(run(cases, collective_min_people=4), "week", "2026-11-09")
    assert (week4["collective_cases"], week4["collective_people"]) == (3, 21)


def test_leader_resolution_and_area_resolution() -> None:
    """包案 assigned in November: L1 holds C1 (resolved_at 11-10), C2 (stage followed_up) and C3
    (mediating) → 2/3; L2 shares C3 → 0/1; a duplicated L1–C1 row counts once. Areas use resolved
    ÷ concluded: C1 (status resolved, closed 11-10) and C2 (closed 11-12) concluded → 1/2."""
    cases = make_cases(
        {"case_id": "C1", **ACCEPTED, "status": "resolved", "closed_at": "2026-11-10 09:00"},
        {"case_id": "C2", **ACCEPTED, "status": "closed", "closed_at": "2026-11-12 09:00"},
        {"case_id": "C3", **ACCEPTED, "status": "handling", "due_at": "2026-12-30 00:00"},
    )
    leaders = leader_table(
        ("C1", "L1", "2026-11-02 09:00", "resolved", "2026-11-10 09:00"),
        ("C1", "L1", "2026-11-02 09:00", "resolved", "2026-11-10 09:00"),
        ("C2", "L1", "2026-11-03 09:00", "followed_up", None),
        ("C3", "L1", "2026-11-04 09:00", "mediating", None),
        ("C3", "L2", "2026-11-04 09:00", "mediating", None),
        ("C9", "L2", "2026-10-04 09:00", "resolved", None),  # case not in `cases`: still a 包案
    )
    m = run(cases, leaders)
    l1 = row(m, "month", "2026-11-01", "leader", "L1")
    assert rate(l1, "resolution") == (2, 3) and l1["resolution"] == pytest.approx(2 / 3)
    assert l1["closed"] == 2 and l1["open_end"] == 1  # the leader's cases, as for any unit
    assert rate(row(m, "month", "2026-11-01", "leader", "L2"), "resolution") == (0, 1)
    assert rate(row(m, "month", "2026-10-01", "leader", "L2"), "resolution") == (1, 1)
    assert rate(row(m, "month", "2026-11-01"), "resolution") == (1, 2)


def test_week_and_month_buckets_on_local_boundaries() -> None:
    """Sat 10-31 23:59 and Sun 11-01 00:00 fall in the ISO week of Mon 10-26 but in different months;
    Sun 11-15 23:30 is in the week of 11-09, Mon 11-16 00:10 in the week of 11-16. The same
    instants given in UTC land in the same local buckets."""
    times = ["2026-10-31 23:59", "2026-11-01 00:00", "2026-11-15 23:30", "2026-11-16 00:10"]
    cases = make_cases(*({"received_at": t, "status": "registered"} for t in times))
    as_utc = cases.assign(received_at=cases["received_at"].dt.tz_convert("UTC"))
    for frame in (cases, as_utc):
        m = run(frame)
        received = m[(m["unit_type"] == "county") & (m["received"] > 0)]
        weeks = received[received["period"] == "week"].set_index("period_start")["received"]
        assert weeks.to_dict() == {dt.date(2026, 10, 26): 2, dt.date(2026, 11, 9): 1,
                                   dt.date(2026, 11, 16): 1}
        months = received[received["period"] == "month"].set_index("period_start")["received"]
        assert months.to_dict() == {dt.date(2026, 10, 1): 1, dt.date(2026, 11, 1): 3}
        days = received[received["period"] == "day"]["period_start"].tolist()
        assert days == [dt.date(2026, 10, 31), dt.date(2026, 11, 1), dt.date(2026, 11, 15),
                        dt.date(2026, 11, 16)]
    assert all(d.weekday() == 0 for d in m.loc[m["period"] == "week", "period_start"])
    assert all(d.day == 1 for d in m.loc[m["period"] == "month", "period_start"])


def test_units_day_rows_and_sparse_output() -> None:
    """A case in grid G1 (community M1, township T1) and one placed only on township T2: grid and
    community rows exist for G1/M1 only; day rows only for the `day_units`; a grid whose single
    case was closed in March has rows only in the months where something about it happened."""
    cases = make_cases(
        {"received_at": "2026-11-10 09:00", "status": "registered"},
        {"received_at": "2026-11-11 09:00", "status": "registered", "grid_id": None,
         "community_id": None, "township_id": "T2"},
        {"received_at": "2026-03-02 09:00", "accepted_at": "2026-03-03 09:00", "status": "closed",
         "closed_at": "2026-03-20 09:00", "grid_id": "G2", "community_id": "M2"},
    )
    m = run(cases)
    nov = m[m["period_start"] == dt.date(2026, 11, 1)]
    assert set(zip(nov["unit_type"], nov["unit_id"])) == {
        ("county", "county"), ("township", "T1"), ("township", "T2"), ("community", "M1"), ("grid", "G1")}
    assert set(m.loc[m["period"] == "day", "unit_type"]) == {"county", "township"}
    g2 = m[(m["unit_type"] == "grid") & (m["unit_id"] == "G2") & (m["period"] == "month")]
    # March: received and closed; May: its conclusion deadline (03-03 + 60 = 05-02) was met.
    assert g2["period_start"].tolist() == [dt.date(2026, 3, 1), dt.date(2026, 5, 1)]
    assert rate(g2.iloc[1], "on_time_conclusion") == (1, 1) and g2.iloc[1]["closed"] == 0
    only = run(cases, periods=("month",), day_units=("grid",))
    assert set(only["period"]) == {"month"}
    with pytest.raises(ValueError, match="periods"):
        run(cases, periods=("quarter",))


def test_open_overdue_and_backlog_at_period_ends() -> None:
    """X: received 08-01, accepted 08-02, due 10-01, still open (red from 10-02; 积案 from 10-31).
    Y: received 09-01, accepted 09-02, due 11-01, closed 11-10. Z: received 11-18, registered.
    Month ends: Aug open 1; Sep open 2, overdue 0, backlog 0; Oct open 2, overdue 1 (X), backlog 1.
    Week ending Sun 11-08: open 2, overdue 2 (X, Y); ending 11-15: open 1, overdue 1.
    Current month/week (as of now): open X, Z = 2; overdue = red lights = 1; backlog 1."""
    cases = make_cases(
        {"received_at": "2026-08-01 09:00", "accepted_at": "2026-08-02 09:00", "due_at": "2026-10-01 00:00"},
        {"received_at": "2026-09-01 09:00", "accepted_at": "2026-09-02 09:00", "due_at": "2026-11-01 00:00",
         "status": "closed", "closed_at": "2026-11-10 09:00"},
        {"received_at": "2026-11-18 09:00", "status": "registered"},
    )
    m = run(cases)

    def state(period: str, start: str) -> tuple[int, int, int]:
        r = row(m, period, start)
        return int(r["open_end"]), int(r["overdue"]), int(r["backlog"])

    assert state("month", "2026-08-01") == (1, 0, 0)
    assert state("month", "2026-09-01") == (2, 0, 0)
    assert state("month", "2026-10-01") == (2, 1, 1)
    assert state("week", "2026-11-02") == (2, 2, 1)
    assert state("week", "2026-11-09") == (1, 1, 1)
    assert state("month", "2026-11-01") == (2, 1, 1)
    assert state("week", "2026-11-16") == (2, 1, 1)
    assert state("day", "2026-10-30") == (2, 1, 0) and state("day", "2026-10-31") == (2, 1, 1)


def test_average_handling_days() -> None:
    """Concluded in the week of 11-09: 10 days (11-02 10:00 → 11-12 10:00) and 20.5 days
    (10-20 10:00 → 11-09 22:00) → sum 30.5, count 2, mean 15.25."""
    cases = make_cases(
        {"received_at": "2026-11-01 09:00", "accepted_at": "2026-11-02 10:00", "status": "replied",
         "replied_at": "2026-11-12 10:00"},
        {"received_at": "2026-10-19 09:00", "accepted_at": "2026-10-20 10:00", "status": "closed",
         "closed_at": "2026-11-09 22:00"},
    )
    week = row(run(cases), "week", "2026-11-09")
    assert week["avg_handling_days_num"] == pytest.approx(30.5)
    assert week["avg_handling_days_den"] == 2 and week["avg_handling_days"] == pytest.approx(15.25)


def test_empty_input_gives_all_columns() -> None:
    cases = make_cases()
    m = compute_metrics(cases, compute_deadlines(cases, now=NOW), leader_table(), now=NOW)
    assert len(m) == 0 and tuple(m.columns) == METRIC_COLUMNS
    assert str(m["period_start"].dtype) == "date32[day][pyarrow]"
    assert str(m["unit_type"].dtype) == "str" and m["received"].dtype == np.int32
    assert m["timely_acceptance"].dtype == np.float64


def test_output_shape_and_rates_are_num_over_den() -> None:
    cases = make_cases(
        {**ACCEPTED, "status": "closed", "due_at": "2026-11-03 00:00", "closed_at": "2026-11-04 10:00"},
        {"received_at": "2026-11-10 09:00", "status": "registered"},
    )
    before = cases.copy()
    m = run(cases)
    pd.testing.assert_frame_equal(cases, before)
    assert tuple(m.columns) == METRIC_COLUMNS
    for name in RATE_NAMES:
        den = m[f"{name}_den"]
        expected = np.where(den > 0, m[f"{name}_num"] / den.where(den > 0, 1), np.nan)
        np.testing.assert_allclose(m[name].to_numpy(), expected, equal_nan=True)
    assert m["timely_acceptance"].isna().any()  # 0/0 is NaN, not 0
    assert (m["unit_type"].iloc[0], m["period"].iloc[0]) == ("county", "day")


def test_custom_period_from_day_rows() -> None:
    """Summing the day rows of the week of 11-09 gives the week row's flows and rates."""
    cases = make_cases(
        {**ACCEPTED, "status": "closed", "due_at": "2026-11-10 00:00", "closed_at": "2026-11-09 10:00"},
        {**ACCEPTED, "status": "closed", "due_at": "2026-11-12 00:00", "closed_at": "2026-11-14 10:00"},
        {"received_at": "2026-11-11 09:00", "status": "registered"},
    )
    m = run(cases)
    days = m[(m["unit_type"] == "county") & (m["period"] == "day")
             & (m["period_start"] >= dt.date(2026, 11, 9)) & (m["period_start"] <= dt.date(2026, 11, 15))]
    combined = combine_periods(days)
    week = row(m, "week", "2026-11-09")
    for col in ("received", "closed", "on_time_conclusion_num", "on_time_conclusion_den", "open_end"):
        assert combined[col] == week[col], col
    assert combined["on_time_conclusion"] == pytest.approx(0.5)


def test_labels_and_metric_table() -> None:
    assert rate_label(491, 500) == "98.2%（491/500）"
    assert rate_label(2, 3, digits=0) == "67%（2/3）"
    assert rate_label(0, 0) == "—（0/0）"
    assert mean_label(30.5, 2) == "15.2天（共 2 件）" or mean_label(30.5, 2) == "15.3天（共 2 件）"
    assert mean_label(0, 0) == "—"
    assert {m.label for m in METRICS.values()} >= {"及时受理率", "按期办结率", "群众参评率", "群众满意率",
                                                   "化解率", "重复信访率", "平均办理时长", "越级访"}
    for metric in METRICS.values():
        assert metric.label and metric.numerator and metric.dated_by
        assert (metric.denominator is None) == (metric.kind == "count")
    data_columns = {c for c in METRIC_COLUMNS if c not in ("unit_type", "unit_id", "period", "period_start")}
    named = {m.name for m in METRICS.values() if m.kind == "count"} | {
        f"{m.name}{s}" for m in METRICS.values() if m.kind != "count" for s in ("", "_num", "_den")}
    assert named == data_columns


def test_metric_deltas_equal_a_rebuild() -> None:
    """previous(A ∪ B) − metrics(B) + metrics(C) = metrics(A ∪ C), cell for cell and in compute_metrics'
    order: cells change, cells of units only B had go away, cells of units only C has are inserted."""
    from bench.metrics import synthetic_cases
    from geo.metrics import apply_metric_deltas, sum_metric_cells

    cases, leaders = synthetic_cases(3000, grids=40, leaders=5, seed=3)
    cases["petitioner_key"] = cases["case_id"]  # repeat flags of one case's petitioner stay put
    later, _ = synthetic_cases(300, grids=60, leaders=5, seed=4)
    later["case_id"] = later["case_id"].str.replace("C", "N")
    later["grid_id"] = "X" + later["grid_id"]  # grids no previous case was in
    later["petitioner_key"] = later["case_id"]
    gone = cases["grid_id"].isin(["G3", "G7"]) | (np.arange(len(cases)) % 50 == 0)
    a, b = cases[~gone], cases[gone]

    def metrics(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.reset_index(drop=True)
        return compute_metrics(frame, compute_deadlines(frame, now=NOW), leaders, now=NOW)

    previous, minus, plus = metrics(cases), metrics(b), metrics(later)
    expected = metrics(pd.concat([a, later]))
    got = apply_metric_deltas(previous, plus, minus)
    pd.testing.assert_frame_equal(got, expected)
    assert not got["unit_id"].isin(["G3", "G7"]).any() and got["unit_id"].isin(["XG45"]).any()
    pd.testing.assert_frame_equal(sum_metric_cells([(previous, 1.0), (plus, 1.0), (minus, -1.0)]), expected)
    pd.testing.assert_frame_equal(apply_metric_deltas(previous, plus.iloc[:0], minus.iloc[:0]), previous)
    pd.testing.assert_frame_equal(apply_metric_deltas(previous.iloc[:0], plus, minus.iloc[:0]), metrics(later))
