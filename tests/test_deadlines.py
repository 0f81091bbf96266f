"""geo.deadlines: one test per legal rule of DOMAIN.md §Time limits, on tiny frames built here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from geo.deadlines import (DEADLINE_COLUMNS, ISSUE_NO_ACCEPTED, ISSUE_NO_RECEIVED,
                           ISSUE_NO_REVIEW_REQUEST, LIGHTS, compute_deadlines)

TZ = "Asia/Shanghai"
TIME_COLUMNS = ("received_at", "accepted_at", "due_at", "extended_due_at", "replied_at", "closed_at",
                "evaluated_at", "review_requested_at", "updated_at")
TEXT_DEFAULTS: dict[str, str | None] = {
    "status": "handling", "category": "城乡建设", "satisfaction": None, "review_stage": "none",
    "level_visited": "county", "petitioner_key": None, "kind": "petition", "channel": "visit",
    "grid_id": "G1", "community_id": "M1", "township_id": "T1",
}


def make_cases(*rows: dict[str, Any], index: list[Any] | None = None) -> pd.DataFrame:
    """Cases in the canonical dtypes from dicts; times are local "YYYY-MM-DD HH:MM" text."""
    data: dict[str, Any] = {
        "case_id": pd.array([r.get("case_id", f"C{i + 1}") for i, r in enumerate(rows)], dtype="str")}
    for col in TIME_COLUMNS:
        values = pd.Series([r.get(col) for r in rows], dtype=object)
        data[col] = pd.to_datetime(values, format="ISO8601").dt.tz_localize(TZ).astype(
            f"datetime64[us, {TZ}]").array
    for col, default in TEXT_DEFAULTS.items():
        data[col] = pd.array([r.get(col, default) for r in rows], dtype="str")
    data["people_count"] = pd.array([r.get("people_count", 1) for r in rows], dtype="Int64")
    data["is_accusation"] = pd.array([r.get("is_accusation", False) for r in rows], dtype="boolean")
    return pd.DataFrame(data, index=index)


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ)


def one(row: dict[str, Any], now: str, **options: Any) -> pd.Series:
    return compute_deadlines(make_cases(row), now=at(now), **options).iloc[0]


def test_columns_dtypes_and_alignment() -> None:
    cases = make_cases({"status": "registered", "received_at": "2026-11-01 09:00"},
                       {"status": "closed", "received_at": "2026-10-01 09:00"}, index=[7, 3])
    before = cases.copy()
    out = compute_deadlines(cases, now=at("2026-11-05 12:00"))
    assert tuple(out.columns) == DEADLINE_COLUMNS
    assert list(out.index) == [7, 3]
    assert str(out["acceptance_due"].dtype) == "date32[day][pyarrow]"
    assert str(out["light"].dtype) == "str" and str(out["days_left"].dtype) == "Int64"
    assert str(out["accepted_on_time"].dtype) == "boolean"
    pd.testing.assert_frame_equal(cases, before)  # input not mutated
    assert set(out["light"]) <= {light.code for light in LIGHTS}
    assert [light.label for light in LIGHTS] == ["红灯", "黄灯", "绿灯", "无"]


def test_acceptance_due_15_days_after_receipt() -> None:
    """Received 11-01 → due 11-16: day 15 (11-16, even 23:59) not red, day 16 (11-17 00:00) red."""
    row = {"status": "registered", "received_at": "2026-11-01 09:00"}
    day15 = one(row, "2026-11-16 23:59")
    assert day15["acceptance_due"] == dt.date(2026, 11, 16)
    assert day15["next_due_kind"] == "acceptance"
    assert day15["days_left"] == 0 and day15["light"] == "yellow"
    assert pd.isna(day15["accepted_on_time"])  # undecided, not yet due
    day16 = one(row, "2026-11-17 00:00")
    assert day16["days_left"] == -1 and day16["light"] == "red"
    assert day16["accepted_on_time"] is not pd.NA and not day16["accepted_on_time"]


def test_acceptance_on_time_flags() -> None:
    """Accepted on day 15 on time, on day 16 late; a 不予受理 decision counts as the decision."""
    out = compute_deadlines(make_cases(
        {"received_at": "2026-10-01 09:00", "accepted_at": "2026-10-16 17:00"},
        {"received_at": "2026-10-01 09:00", "accepted_at": "2026-10-17 08:00"},
        {"status": "not_accepted", "received_at": "2026-10-01 09:00", "closed_at": "2026-10-10 09:00"},
        {"status": "forwarded", "received_at": "2026-10-01 09:00"},  # decision date unknown
    ), now=at("2026-11-20 12:00"))
    assert out["accepted_on_time"].tolist() == [True, False, True, pd.NA]


def test_conclusion_due_60_days_after_acceptance() -> None:
    """Accepted 09-02 → conclusion due 11-01; a source due_at is used as it is."""
    row = {"status": "handling", "received_at": "2026-09-01 10:00", "accepted_at": "2026-09-02 10:00"}
    plain = one(row, "2026-10-20 12:00")
    assert plain["conclusion_due"] == dt.date(2026, 11, 1)
    assert plain["next_due"] == dt.date(2026, 11, 1) and plain["next_due_kind"] == "conclusion"
    assert plain["days_left"] == 12 and plain["light"] == "green"
    assert one(row, "2026-11-02 00:01")["light"] == "red"
    own_due = one({**row, "due_at": "2026-10-15 00:00"}, "2026-10-20 12:00")
    assert own_due["conclusion_due"] == dt.date(2026, 10, 15) and own_due["light"] == "red"


def test_extension_within_30_days_is_used() -> None:
    """Base 11-01; extended to 11-20 (19 days) and to 12-01 (exactly 30 days): both accepted."""
    row = {"received_at": "2026-09-01 10:00", "accepted_at": "2026-09-02 10:00"}
    short = one({**row, "extended_due_at": "2026-11-20 18:00"}, "2026-11-10 12:00")
    assert short["conclusion_due"] == dt.date(2026, 11, 20) and not short["extension_capped"]
    full = one({**row, "extended_due_at": "2026-12-01 00:00"}, "2026-11-10 12:00")
    assert full["conclusion_due"] == dt.date(2026, 12, 1) and not full["extension_capped"]
    assert full["light"] == "green"


def test_extension_beyond_30_days_is_capped_and_flagged() -> None:
    """Base 11-01 + at most 30 = 12-01; an extension to 12-30 counts only to 12-01."""
    out = one({"received_at": "2026-09-01 10:00", "accepted_at": "2026-09-02 10:00",
               "extended_due_at": "2026-12-30 00:00"}, "2026-12-05 12:00")
    assert out["conclusion_due"] == dt.date(2026, 12, 1)
    assert out["extension_capped"]
    assert out["light"] == "red" and out["days_left"] == -4
    with_due = one({"received_at": "2026-09-01 10:00", "accepted_at": "2026-09-02 10:00",
                    "due_at": "2026-10-15 00:00", "extended_due_at": "2026-12-30 00:00"}, "2026-11-01")
    assert with_due["conclusion_due"] == dt.date(2026, 11, 14) and with_due["extension_capped"]


def test_late_closing_counts_against_on_time_conclusion() -> None:
    """Due 11-01: replied 11-01 on time; closed 11-05 late; open past due False; open before due NA."""
    base = {"received_at": "2026-09-01 10:00", "accepted_at": "2026-09-02 10:00"}
    out = compute_deadlines(make_cases(
        {**base, "status": "closed", "replied_at": "2026-11-01 23:00", "closed_at": "2026-11-03 10:00"},
        {**base, "status": "closed", "closed_at": "2026-11-05 10:00"},
        {**base, "status": "handling"},
        {**base, "status": "handling", "accepted_at": "2026-10-20 10:00"},
    ), now=at("2026-11-20 12:00"))
    assert out["concluded_on_time"].tolist() == [True, False, False, pd.NA]
    assert out["light"].tolist() == ["none", "none", "red", "green"]


def test_review_and_rereview_decided_within_30_days() -> None:
    """复查 requested 11-10 → due 12-10; 复核 requested 10-01 → due 10-31 (red on 11-20)."""
    base = {"received_at": "2026-06-01 10:00", "accepted_at": "2026-06-02 10:00",
            "replied_at": "2026-07-01 10:00", "closed_at": "2026-07-02 10:00"}
    out = compute_deadlines(make_cases(
        {**base, "status": "review", "review_stage": "review", "review_requested_at": "2026-11-10 09:00"},
        {**base, "status": "rereview", "review_stage": "rereview",
         "review_requested_at": "2026-10-01 09:00"},
        {**base, "status": "closed", "review_stage": "review", "review_requested_at": "2026-08-01 09:00"},
    ), now=at("2026-11-20 12:00"))
    assert out["review_due"].tolist()[:2] == [dt.date(2026, 12, 10), dt.date(2026, 10, 31)]
    assert out["next_due_kind"].tolist()[:2] == ["review", "review"]
    assert out["days_left"].tolist()[:2] == [20, -20]
    assert out["light"].tolist() == ["green", "red", "none"]  # the decided review is closed
    assert pd.isna(out["review_due"].iloc[2])
    assert out["concluded_on_time"].tolist() == [True, True, True]  # the reply counts, not the review


@pytest.mark.parametrize(("yellow_days", "days_left", "light"), [
    (5, 0, "yellow"), (5, 5, "yellow"), (5, 6, "green"), (7, 6, "yellow"), (0, 0, "yellow"),
    (0, 1, "green"), (5, -1, "red"),
])
def test_yellow_window_boundary(yellow_days: int, days_left: int, light: str) -> None:
    """Acceptance due 11-16; `now` chosen so that the deadline is `days_left` days ahead."""
    now = pd.Timestamp("2026-11-16 10:00", tz=TZ) - pd.Timedelta(days=days_left)
    out = compute_deadlines(make_cases({"status": "registered", "received_at": "2026-11-01 09:00"}),
                            now=now, yellow_days=yellow_days).iloc[0]
    assert out["days_left"] == days_left and out["light"] == light


@pytest.mark.parametrize("status", ["closed", "replied", "not_accepted", "forwarded", "terminated",
                                    "resolved"])
def test_cases_not_open_have_no_light(status: str) -> None:
    out = one({"status": status, "received_at": "2026-01-01 09:00", "accepted_at": "2026-01-02 09:00"},
              "2026-11-20 12:00")
    assert out["light"] == "none"
    assert pd.isna(out["next_due"]) and pd.isna(out["days_left"]) and pd.isna(out["deadline_issue"])
    assert not out["is_backlog"]


def test_missing_times_are_explained_not_fatal() -> None:
    out = compute_deadlines(make_cases(
        {"status": "registered"},                                       # no received_at
        {"status": "handling", "received_at": "2026-11-01 09:00"},        # no accepted_at, no due_at
        {"status": "handling", "received_at": "2026-11-01 09:00", "due_at": "2026-12-20 00:00"},
        {"status": "review", "received_at": "2026-06-01 09:00", "accepted_at": "2026-06-02 09:00",
         "closed_at": "2026-07-01 09:00"},                              # no review_requested_at
    ), now=at("2026-11-20 12:00"))
    assert out["light"].tolist() == ["none", "none", "green", "none"]
    assert out["deadline_issue"].tolist()[:2] == [ISSUE_NO_RECEIVED, ISSUE_NO_ACCEPTED]
    assert pd.isna(out["deadline_issue"].iloc[2])
    assert out["deadline_issue"].iloc[3] == ISSUE_NO_REVIEW_REQUEST
    assert "受理时间" in ISSUE_NO_ACCEPTED
    assert pd.isna(out["accepted_on_time"].iloc[0]) and pd.isna(out["handling_days"].iloc[1])


def test_timezone_day_boundary() -> None:
    """00:30 local on 11-01 is 16:30 UTC on 10-31: the local date counts, for events and for `now`."""
    local = make_cases({"status": "registered", "received_at": "2026-11-01 00:30"})
    as_utc = local.assign(received_at=local["received_at"].dt.tz_convert("UTC"))
    for frame in (local, as_utc):
        out = compute_deadlines(frame, now=pd.Timestamp("2026-11-16 23:30", tz=TZ)).iloc[0]
        assert out["acceptance_due"] == dt.date(2026, 11, 16) and out["light"] == "yellow"
    # 16:30 UTC on 11-16 is already 00:30 on 11-17 in Shanghai: red, though the UTC date is the 16th.
    late = compute_deadlines(local, now=pd.Timestamp("2026-11-16 16:30", tz="UTC")).iloc[0]
    assert late["light"] == "red" and late["days_left"] == -1
    naive = compute_deadlines(local, now=pd.Timestamp("2026-11-16 23:30")).iloc[0]  # naive = local
    assert naive["light"] == "yellow"
    # 23:30 local on 11-01 is still 11-01 (15:30 UTC): the same deadline.
    evening = compute_deadlines(make_cases({"status": "registered", "received_at": "2026-11-01 23:30"}),
                                now=at("2026-11-17 00:00")).iloc[0]
    assert evening["acceptance_due"] == dt.date(2026, 11, 16) and evening["light"] == "red"


def test_handling_days_and_backlog() -> None:
    """Handling = earliest of reply/close − acceptance, in days; 积案 = open and > 90 days old."""
    out = compute_deadlines(make_cases(
        {"status": "closed", "received_at": "2026-11-01 08:00", "accepted_at": "2026-11-01 10:00",
         "replied_at": "2026-11-13 22:00", "closed_at": "2026-11-15 10:00"},
        {"status": "handling", "received_at": "2026-08-21 09:00", "accepted_at": "2026-08-22 09:00"},
        {"status": "handling", "received_at": "2026-08-22 09:00", "accepted_at": "2026-08-23 09:00"},
        {"status": "closed", "received_at": "2026-01-01 09:00", "accepted_at": "2026-01-02 09:00",
         "closed_at": "2026-01-01 08:00"},  # closed before accepted: no handling time
    ), now=at("2026-11-20 12:00"))
    assert out["handling_days"].iloc[0] == pytest.approx(12.5)
    assert pd.isna(out["handling_days"].iloc[1]) and pd.isna(out["handling_days"].iloc[3])
    assert out["is_backlog"].tolist() == [False, True, False, False]  # 91 and 90 days old
    wider = compute_deadlines(make_cases({"status": "handling", "received_at": "2026-08-21 09:00"}),
                              now=at("2026-11-20 12:00"), backlog_days=120)
    assert not wider["is_backlog"].iloc[0]


def test_bad_options_and_missing_columns_say_what_to_do() -> None:
    cases = make_cases({"status": "registered", "received_at": "2026-11-01 09:00"})
    with pytest.raises(ValueError, match="yellow_days"):
        compute_deadlines(cases, now=at("2026-11-02"), yellow_days=-1)
    with pytest.raises(ValueError, match="accepted_at"):
        compute_deadlines(cases.drop(columns=["accepted_at"]), now=at("2026-11-02"))


def test_empty_frame() -> None:
    out = compute_deadlines(make_cases(), now=at("2026-11-02"))
    assert len(out) == 0 and tuple(out.columns) == DEADLINE_COLUMNS
