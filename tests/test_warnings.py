"""Early-warning detectors: each rule on tiny hand-built frames, sensitive periods, the planted patterns of a
demo build, and the false-alarm rate on a homogeneous Poisson background."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dashboard.settings import WarningSettings, settings_from_dict
from geo.warnings import (
    ALERT_COLUMNS, GRID_STATS_COLUMNS, LEVEL_BY_CODE, LEVELS, grid_weights, raise_level, run_detectors,
    sensitive_period_in_force, surge_test, window_counts,
)
from warning_fixtures import TZ, lattice_grids, make_cases, poisson_background, quiet_deadlines

NOW = pd.Timestamp("2026-11-20 20:00", tz=TZ)
GRIDS = lattice_grids(6, 10, grids_per_community=10, communities_per_township=3)  # T000 rows 0–2, T001 rows 3–5
DEFAULT = WarningSettings()


def ago(days: float, hour: int = 10) -> pd.Timestamp:
    return (NOW - pd.Timedelta(days=days)).normalize() + pd.Timedelta(hours=hour)


def run(cases: pd.DataFrame, *, settings: WarningSettings = DEFAULT, now: pd.Timestamp = NOW,
        deadlines: pd.DataFrame | None = None, **kw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    dl = quiet_deadlines(cases) if deadlines is None else deadlines
    return run_detectors(cases, dl, GRIDS, now=now, settings=settings, jurisdiction_name="新城区", **kw)


def only(alerts: pd.DataFrame, detector: str) -> pd.DataFrame:
    return alerts[alerts["detector"] == detector].reset_index(drop=True)


def evidence(alerts: pd.DataFrame, i: int = 0) -> dict[str, Any]:
    return json.loads(alerts["evidence"].iloc[i])


def visits(days: list[float], *, grid: int = 0, people: list[int] | int = 8, category: str | list[str] = "国土资源",
           sub: str = "征地拆迁", **columns: Any) -> pd.DataFrame:
    n = len(days)
    ppl = people if isinstance(people, list) else [people] * n
    cats = category if isinstance(category, list) else [category] * n
    return make_cases(GRIDS, [grid] * n, [ago(d) for d in days], people_count=ppl, category=cats,
                      subcategory=[sub] * n, channel="visit", **columns)


# --- frame shape, determinism, purity ------------------------------------------------------------------

def test_output_frames_have_the_documented_columns() -> None:
    alerts, stats = run(visits([5, 3, 1]))
    assert tuple(alerts.columns) == ALERT_COLUMNS
    assert tuple(stats.columns) == GRID_STATS_COLUMNS
    assert set(stats["window"]) == {"7d", "30d", "12w", *[f"w-{k}" for k in range(1, 12)], "w0"}
    assert len(stats) == len(GRIDS) * 15
    assert str(alerts["first_seen"].dtype) == f"datetime64[us, {TZ}]"
    assert (alerts["first_seen"] <= alerts["last_seen"]).all()
    for ev in alerts["evidence"]:
        doc = json.loads(ev)
        assert doc["text"] and doc["rule"]
    assert set(alerts["level"]) <= {lv.code for lv in LEVELS}


def test_no_cases_no_alerts() -> None:
    alerts, stats = run(make_cases(GRIDS, [], []))
    assert alerts.empty and tuple(alerts.columns) == ALERT_COLUMNS
    assert (stats["cases"] == 0).all() and (stats["trend_class"] == "none").all()


def test_fingerprints_are_deterministic_and_inputs_untouched() -> None:
    cases = pd.concat([visits([5, 3, 1]), visits([2], people=60, grid=35)], ignore_index=True)
    cases["case_id"] = [f"K{i}" for i in range(len(cases))]
    before, grids_before = cases.copy(), GRIDS.copy()
    a1, s1 = run(cases)
    a2, s2 = run(cases.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(cases, before)
    pd.testing.assert_frame_equal(GRIDS, grids_before)
    assert a1["fingerprint"].tolist() == a2["fingerprint"].tolist()
    assert a1["fingerprint"].is_unique
    pd.testing.assert_frame_equal(s1, s2)


def test_cases_after_now_are_ignored() -> None:
    alerts, _ = run(visits([5, 3, 1]), now=ago(2, hour=23))
    assert only(alerts, "repeated_collective").empty
    assert len(only(alerts, "collective_size")) == 2


# --- 1. repeated collective visits -------------------------------------------------------------------------

def test_repeated_collective_visits_red_with_checkable_evidence() -> None:
    cases = visits([5, 3, 1], people=[8, 12, 6])
    alerts = only(run(cases)[0], "repeated_collective")
    assert len(alerts) == 1
    row = alerts.iloc[0]
    assert (row["level"], row["scope"], row["scope_id"]) == ("red", "township", "T000")
    assert row["fingerprint"] == "repeated_collective|township|T000|国土资源"
    ev = evidence(alerts)
    assert ev["text"] == ("新城区迎新路街道 7日内集体访3次（同一事项：国土资源/征地拆迁），11-15至11-19共3次26人次，"
                          "阈值3次/7日")
    assert ev["visits_in_window"] == 3 and ev["people"] == 26
    assert ev["case_ids"] == cases["case_id"].tolist()
    assert ev["threshold"] == {"visits": 3, "days": 7, "collective_min_people": 5}
    assert row["first_seen"] == ago(5) and row["last_seen"] == ago(1)
    assert row["grid_ids"] == ["G00000"]


@pytest.mark.parametrize(("days", "kw"), [
    ([3, 1], {}),                                                    # only two visits
    ([12, 8, 1], {}),                                                # not within 7 days
    ([5, 3, 1], {"category": ["国土资源", "国土资源", "城乡建设"]}),  # not the same issue
    ([5, 3, 1], {"people": 4}),                                      # not collective visits
    ([20, 18, 16], {}),                                              # episode ended before the lookback
])
def test_repeated_collective_visits_quiet(days: list[float], kw: dict[str, Any]) -> None:
    assert only(run(visits(days, **kw))[0], "repeated_collective").empty


def test_repeated_collective_same_issue_in_two_townships_is_two_issues() -> None:
    cases = pd.concat([visits([5, 1], grid=0), visits([3], grid=40)], ignore_index=True)
    cases["case_id"] = ["A", "B", "C"]
    assert only(run(cases)[0], "repeated_collective").empty
    key = DEFAULT.model_copy(update={"repeated_collective_key": ["category"]})
    county = only(run(cases, settings=key)[0], "repeated_collective")
    assert county["scope"].tolist() == ["county"] and county["scope_id"].tolist() == ["county"]
    with pytest.raises(ValueError, match="issue_key"):
        run(cases, settings=DEFAULT.model_copy(update={"repeated_collective_key": ["issue_key"]}))


# --- 2. 越级访 -------------------------------------------------------------------------------------------

def test_skip_level_orange_province_red_national_listed_per_case() -> None:
    cases = visits([1, 1, 1, 30], people=1, grid=35, level_visited=["city", "province", "national", "national"])
    cases["case_id"] = ["S-city", "S-prov", "S-nat", "S-old"]
    alerts = only(run(cases)[0], "skip_level")
    assert alerts[["fingerprint", "level", "scope_id"]].values.tolist() == [
        ["skip_level|township|T001|S-nat", "red", "T001"], ["skip_level|township|T001|S-prov", "orange", "T001"]]
    texts = [evidence(alerts, i)["text"] for i in range(2)]
    assert "进京访1件（案件S-nat" in texts[0] and "需全链条复盘" in texts[0]
    assert "赴省访1件" in texts[1] and "高于本级（县级）上一级" in texts[1]
    assert alerts["title"].tolist() == ["新城区东街街道 进京访 1件", "新城区东街街道 赴省访 1件"]
    city = only(run(cases, jurisdiction_level="city")[0], "skip_level")
    assert city["fingerprint"].tolist() == ["skip_level|township|T001|S-nat"]


# --- 3. collective size ---------------------------------------------------------------------------------

def test_collective_size_yellow_from_5_red_from_50() -> None:
    cases = visits([2, 2, 2, 2], people=[4, 5, 49, 50], grid=3)
    cases["case_id"] = ["P4", "P5", "P49", "P50"]
    alerts = only(run(cases)[0], "collective_size").set_index("fingerprint")
    assert alerts["level"].to_dict() == {"collective_size|township|T000|P50": "red",
                                         "collective_size|township|T000|P5": "yellow",
                                         "collective_size|township|T000|P49": "yellow"}
    assert alerts.loc["collective_size|township|T000|P50", "title"] == "新城区迎新路街道 规模性集体访50人"
    ev = json.loads(alerts.loc["collective_size|township|T000|P50", "evidence"])
    assert "规模性集体访50人（案件P50，国土资源/征地拆迁），阈值50人" in ev["text"]


# --- 4. repeat petitioner ---------------------------------------------------------------------------------

def test_repeat_petitioner_three_cases_in_thirty_days() -> None:
    keys = ["P1", "P1", "P1", "P2", "P2", "P2", "P3", "P3"]
    days = [25, 10, 2, 40, 20, 2, 5, 1]
    grids = [0, 0, 45, 1, 1, 1, 2, 2]
    cases = make_cases(GRIDS, grids, [ago(d) for d in days], petitioner_key=keys)
    alerts = only(run(cases)[0], "repeat_petitioner")
    assert alerts["fingerprint"].tolist() == ["repeat_petitioner|township|T001|P1"]  # township of the latest case
    row = alerts.iloc[0]
    assert row["level"] == "yellow" and row["first_seen"] == ago(25) and row["last_seen"] == ago(2)
    ev = evidence(alerts)
    assert ev["cases_in_window"] == 3 and ev["case_ids"] == cases["case_id"][:3].tolist()
    assert ev["text"].startswith("信访人P1 30日内3件（城乡建设），10-26至11-18，最近一次在新城区东街街道")


# --- 5. surge --------------------------------------------------------------------------------------------

def surge_cases(today: int, *, per_day: int = 2) -> pd.DataFrame:
    t001 = np.arange(30, 60)
    rng = np.random.default_rng(0)
    days = np.repeat(np.arange(1, 36), per_day)
    grid = rng.choice(t001, len(days))
    spike_grid = 30 + np.arange(today) % 10  # all in community C003
    times = [ago(d, hour=9) for d in days] + [NOW.normalize() + pd.Timedelta(hours=8, minutes=i) for i in range(today)]
    return make_cases(GRIDS, np.concatenate([grid, spike_grid]), times)


def test_surge_today_against_own_baseline() -> None:
    alerts = only(run(surge_cases(16))[0], "surge").set_index("scope")
    assert set(alerts.index) == {"township", "community"}
    town = alerts.loc["township"]
    assert (town["scope_id"], town["level"]) == ("T001", "red")
    ev = json.loads(town["evidence"])
    day = ev["windows"]["day"]
    assert day["count"] == 16 and day["fires"] and ev["baseline"]["cases"] == 56
    assert day["expected"] == pytest.approx(56.5 / 28, abs=0.01) and day["ratio"] == pytest.approx(16 / (56.5 / 28), abs=0.01)
    assert ev["text"].startswith("新城区东街街道 今日16件，基线期望2件，为×7.9")
    assert town["title"] == "新城区东街街道 今日激增×7.9"
    assert town["first_seen"] == NOW.normalize()
    assert only(run(surge_cases(0))[0], "surge").empty


def test_surge_test_is_a_conditional_binomial_tail() -> None:
    from scipy.stats import binom

    t = surge_test(np.array([0, 3, 16]), np.array([56, 56, 56]), window_days=1, baseline_days=28)
    assert t.p[0] == 1.0
    assert t.p[1] == pytest.approx(binom.sf(2, 59, 1 / 29), rel=1e-10)
    assert t.p[2] == pytest.approx(binom.sf(15, 72, 1 / 29), rel=1e-10)


# --- 6. spatial hotspot -----------------------------------------------------------------------------------

BLOCK = [12, 13, 14, 22, 23, 24, 32, 33, 34]  # 3×3 grids in rows 1–3, columns 2–4


def background(weeks: int, seed: int = 3) -> pd.DataFrame:
    return poisson_background(GRIDS, weeks=weeks, per_grid_week=1.0, end=str(NOW.date()), seed=seed)


def with_extra(base: pd.DataFrame, grids: list[int], days: list[int], per: int) -> pd.DataFrame:
    g = np.repeat(grids, per * len(days))
    d = np.tile(np.repeat(days, per), len(grids))
    extra = make_cases(GRIDS, g, [ago(x, hour=11) for x in d])
    out = pd.concat([base, extra], ignore_index=True)
    out["case_id"] = [f"H{i:06d}" for i in range(len(out))]
    return out


def test_hotspot_block_detected_at_grid_scope() -> None:
    cases = with_extra(background(8), BLOCK, [1, 2, 3, 4, 5, 6], per=1)
    alerts, stats = run(cases)
    hot = only(alerts, "hotspot")
    assert "G00023" in set(hot["scope_id"])  # the block's centre
    assert set(hot["scope_id"]) <= {f"G{i:05d}" for i in range(60)} - {"G00059"}
    near = {f"G{g + dr * 10 + dc:05d}" for g in BLOCK for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
    assert set(hot["scope_id"]) <= near
    centre = stats[(stats["grid_id"] == "G00023") & (stats["window"] == "7d")].iloc[0]
    assert centre["hotspot_bin"] >= 2 and centre["gi_z"] > 3 and centre["cases"] >= 6
    ev = evidence(hot[hot["scope_id"] == "G00023"])
    assert ev["windows"]["7d"]["fires"] and "Gi* z=" in ev["text"] and "置信热点" in ev["text"]
    clusters = {json.loads(e)["cluster"]["id"] for e in hot["evidence"]}
    assert len(clusters) == 1 and json.loads(hot["evidence"].iloc[0])["cluster"]["grids"] == len(hot)
    assert (hot["scope"] == "grid").all() and hot["fingerprint"].str.startswith("hotspot|grid|G").all()


def test_no_hotspot_alert_below_the_neighbourhood_minimum() -> None:
    cases = with_extra(background(8), BLOCK, [1, 2, 3, 4, 5, 6], per=1)
    strict = DEFAULT.model_copy(update={"hotspot_min_cases": 10_000})
    assert only(run(cases, settings=strict)[0], "hotspot").empty


def test_long_standing_hotspot_stays_on_the_map_without_daily_alerts() -> None:
    cases = with_extra(background(16), BLOCK, list(range(0, 16 * 7)), per=1)  # hot for 16 weeks
    alerts, stats = run(cases)
    centre = stats[(stats["grid_id"] == "G00023") & (stats["window"] == "30d")].iloc[0]
    assert centre["hotspot_bin"] >= 2
    assert only(alerts, "hotspot").empty
    classes = stats[stats["grid_id"].isin(["G00023", "G00013"]) & (stats["window"] == "12w")]["trend_class"]
    assert set(classes) <= {"persistent_hot", "intensifying_hot", "diminishing_hot"}
    every = only(run(cases, settings=DEFAULT.model_copy(update={"hotspot_min_growth": 0.0}))[0], "hotspot")
    assert "G00023" in set(every["scope_id"])


# --- 7. emerging hotspot ----------------------------------------------------------------------------------

def test_emerging_consecutive_hotspot() -> None:
    recent = [d for d in range(0, 28)]  # hot in each of the last 4 weeks
    cases = with_extra(background(14), BLOCK, recent, per=1)
    alerts, stats = run(cases)
    centre = stats[(stats["grid_id"] == "G00023") & (stats["window"] == "12w")].iloc[0]
    assert centre["trend_class"] == "consecutive_hot"
    weekly = stats[(stats["grid_id"] == "G00023") & stats["window"].str.startswith("w")]
    assert (weekly["hotspot_bin"] >= 1).tolist() == [False] * 8 + [True] * 4
    em = only(alerts, "emerging_hotspot").set_index("scope_id")
    assert em.loc["G00023", "level"] == "yellow"
    ev = json.loads(em.loc["G00023", "evidence"])
    assert ev["trend_class"] == "consecutive_hot" and ev["final_run"] == 4 and len(ev["weeks"]) == 12
    assert "分类：连续热点" in ev["text"]


# --- 8. backlog -------------------------------------------------------------------------------------------

def test_backlog_by_township() -> None:
    old = [ago(120 + i % 30) for i in range(85)]
    cases = make_cases(GRIDS, [0] * 25 + [40] * 60, old, status="handling")
    dl = quiet_deadlines(cases, light="red", backlog=True)
    dl.loc[:9, "is_backlog"] = False
    dl["next_due"] = pd.Series([dt.date(2026, 7, 1)] * len(cases), index=cases.index)
    alerts = only(run(cases, deadlines=dl)[0], "backlog").set_index("scope_id")
    assert alerts["level"].to_dict() == {"T001": "orange", "T000": "yellow"}
    ev = json.loads(alerts.loc["T000", "evidence"])
    assert (ev["red_cases"], ev["backlog_cases"]) == (25, 15)
    assert ev["text"].startswith("新城区迎新路街道 红灯（超期）25件、积案15件；阈值：红灯≥20件黄")
    assert alerts.loc["T000", "first_seen"] == pd.Timestamp("2026-07-02", tz=TZ)


# --- sensitive periods --------------------------------------------------------------------------------------

def period(start: str, end: str, factor: float = 1.0) -> WarningSettings:
    return settings_from_dict({"warnings": {"sensitive_periods": [
        {"name": "春节", "start": start, "end": end, "threshold_factor": factor}]}}).warnings


def test_sensitive_period_raises_every_level_one_step() -> None:
    s = period("2026-11-19", "2026-11-21")
    assert sensitive_period_in_force(NOW, s) == "春节"
    assert sensitive_period_in_force(NOW + pd.Timedelta(days=2), s) is None
    assert sensitive_period_in_force(NOW, DEFAULT) is None
    cases = visits([5, 3, 1], people=[8, 12, 60])
    base = run(cases)[0].set_index("fingerprint")["level"]
    raised = run(cases, settings=s)[0].set_index("fingerprint")
    assert raised["level"].to_dict() == {fp: raise_level(lv) for fp, lv in base.items()}
    assert set(base.index) == set(raised.index) and {"yellow", "red"} <= set(base)
    ev = json.loads(raised["evidence"][raised["level"] == "orange"].iloc[0])
    assert ev["sensitive_period"]["level_before"] == "yellow"
    assert ev["text"].endswith("（重点时期“春节”：预警等级由黄色预警上调为橙色预警）")


def test_sensitive_period_lowers_count_thresholds() -> None:
    cases = visits([3, 1], people=[8, 30])
    assert only(run(cases)[0], "repeated_collective").empty
    alerts = run(cases, settings=period("2026-11-01", "2026-11-30", factor=0.6))[0]
    rc = only(alerts, "repeated_collective")
    assert len(rc) == 1 and rc["level"].iloc[0] == "red"  # two visits now suffice; red cannot go higher
    ev = evidence(rc)
    assert ev["threshold"]["visits"] == 2 and ev["threshold"]["collective_min_people"] == 5
    assert "计数阈值×0.6" in ev["text"]
    size = only(alerts, "collective_size").set_index("fingerprint")["level"]
    assert sorted(size) == ["orange", "red"]  # 30 people ≥ ceil(50 × 0.6) = 30: 规模性 (red); 8: yellow → orange
    assert run(visits([1], people=4), settings=period("2026-11-01", "2026-11-30", factor=0.6))[0].empty


def test_levels_are_data() -> None:
    assert [lv.label for lv in LEVELS] == ["红", "橙", "黄", "蓝"]
    assert LEVEL_BY_CODE["orange"].colour.startswith("#") and raise_level("blue") == "yellow"
    assert raise_level("red") == "red"


def test_window_counts() -> None:
    g = np.array([0, 0, 0, 1, 0])
    t = np.array([0, 5, 10, 10, 16])
    assert window_counts(g, t, 10).tolist() == [1, 2, 2, 1, 2]


# --- planted patterns of a demo build -------------------------------------------------------------------------

DEMO_END = dt.date(2026, 11, 20)
DETECTORS_OF = {
    "township_surge": ("surge",), "spatial_cluster": ("hotspot",),
    # in its first week a new hot spot is reported by the 7-day hotspot alert (its trend class is new_hot,
    # which raises no alert of its own); from the second week on the emerging classes alert as well
    "emerging_hotspot": ("hotspot", "emerging_hotspot"),
    "repeated_collective_visits": ("repeated_collective",), "large_collective_visit": ("collective_size",),
    "level_skipping": ("skip_level",), "repeat_petitioner": ("repeat_petitioner",), "overdue_backlog": ("backlog",),
}
DETECTION_DAYS = 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from dashboard import snapshots
    from dashboard.demo_data import build_demo
    from dashboard.pipeline import refresh

    root = tmp_path_factory.mktemp("warn_demo")
    info = build_demo(root / "demo", cases=20000, grids=300, seed=20261122, end=DEMO_END)
    settings = settings_from_dict({"data_dir": "data", "sources": {
        "grid": {"url": "sqlite:///demo/grid.sqlite"}, "case": {"url": "sqlite:///demo/case.sqlite"}}},
        base_dir=root)
    snap = refresh(settings, now=info.as_of, full=True)
    cases = snapshots.read_table(snap, "cases")
    grids = snapshots.read_table(snap, "grids")
    truth = json.loads(info.truth_path.read_text(encoding="utf-8"))
    return {"cases": cases, "grids": grids, "truth": truth, "weights": grid_weights(grids, DEFAULT),
            "as_of": pd.Timestamp(truth["as_of"], tz=TZ), "runs": {}}


def demo_run(demo: dict[str, Any], now: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All detectors as of `now`, with the deadlines (red lights, 积案) recomputed as of `now`: the
    snapshot's own deadline columns are as of the end of the build."""
    from geo.deadlines import compute_deadlines

    if now not in demo["runs"]:
        deadlines = compute_deadlines(demo["cases"], now=now, timezone=TZ)
        demo["runs"][now] = run_detectors(demo["cases"], deadlines, demo["grids"], now=now, settings=DEFAULT,
                                          weights=demo["weights"], jurisdiction_name="新城区")
    return demo["runs"][now]


def end_of_day(ts: pd.Timestamp, cap: pd.Timestamp) -> pd.Timestamp:
    return min(ts.normalize() + pd.Timedelta(hours=23, minutes=59, seconds=59), cap)


def planted_alerts(p: dict[str, Any], alerts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The alerts that report pattern `p` at its scope, and how many are needed to call it detected."""
    hits = alerts[alerts["detector"].isin(DETECTORS_OF[p["type"]])]
    last = pd.Series(hits["fingerprint"].str.split("|").str[-1], index=hits.index)
    if p["type"] in ("spatial_cluster", "emerging_hotspot"):
        found = hits[(hits["scope"] == "grid") & hits["scope_id"].isin(p["scope_ids"])]
        return found, len(p["scope_ids"]) // 2 if p["type"] == "spatial_cluster" else 1
    if p["type"] in ("large_collective_visit", "level_skipping"):
        at_scope = (hits["scope"] == "township") & hits["scope_id"].isin(p["scope_ids"])
        return hits[last.isin(p["case_ids"]) & at_scope], 1
    if p["type"] == "repeat_petitioner":
        return hits[last == p["scope_ids"][0]], 1
    return hits[(hits["scope"] == "township") & hits["scope_id"].isin(p["scope_ids"])], 1


def test_every_planted_pattern_is_detected_at_its_scope(demo: dict[str, Any]) -> None:
    """Each planted pattern is found at its scope within 7 days of its onset: the detectors run as of the
    end of each day from the onset on (never past the end of the build) until they report it.

    Onset (demo_truth.json `onset`, rule in `onset_rule`): for a rule, the day it first holds (repeat
    petitioner: the 3rd case in 30 days; repeated collective visits: the 3rd in 7 days; 越级访 and the
    规模性 visit: the visit itself); for a statistical pattern (township surge, spatial cluster,
    emerging hot spot) the first day of the planted excess; for the backlog the first day on which the
    detector's yellow threshold of planted cases (20) are red (overdue) or 积案.
    """
    report = []
    for p in demo["truth"]["patterns"]:
        onset = pd.Timestamp(p["onset"], tz=TZ)
        assert onset <= demo["as_of"], p["type"]
        for d in range(DETECTION_DAYS + 1):
            now = end_of_day(onset + pd.Timedelta(days=d), demo["as_of"])
            alerts, stats = demo_run(demo, now)
            found, need = planted_alerts(p, alerts)
            if len(found) >= need or now == demo["as_of"]:
                break
        days = (now.normalize() - onset).days
        report.append(f"{p['type']}: {len(found)} alert(s) {sorted(set(found['detector']))} "
                      f"{sorted(set(found['level']))} {days} days after onset {p['onset']}")
        assert len(found) >= need, f"{p['type']} not detected by {now}: {found}"
        assert days <= DETECTION_DAYS
        if p["type"] == "level_skipping":
            assert found["level"].iloc[0] == ("red" if p["level_visited"] == "national" else "orange")
        if p["type"] == "large_collective_visit":
            assert found["level"].iloc[0] == "red"
        if p["type"] == "emerging_hotspot":  # Gi* marks the block hot at once
            week = stats[stats["grid_id"].isin(found["scope_id"]) & (stats["window"] == "12w")]["trend_class"]
            assert week.str.endswith("_hot").all(), week.tolist()
    print("\nplanted patterns (detectors run at the end of each day from the onset):\n  " + "\n  ".join(report))


def test_emerging_demo_grids_get_a_hot_trend_class(demo: dict[str, Any]) -> None:
    """Two weeks into the planted rise the emerging-hotspot detector itself alerts (consecutive hot
    spot); at the end of the build the class is still a hot one."""
    planted = next(p for p in demo["truth"]["patterns"] if p["type"] == "emerging_hotspot")
    second_week = end_of_day(pd.Timestamp(planted["onset"], tz=TZ) + pd.Timedelta(days=13), demo["as_of"])
    alerts, _ = demo_run(demo, second_week)
    em = alerts[(alerts["detector"] == "emerging_hotspot") & alerts["scope_id"].isin(planted["scope_ids"])]
    assert "consecutive_hot" in {json.loads(e)["trend_class"] for e in em["evidence"]}
    _, stats = demo_run(demo, demo["as_of"])
    classes = stats[stats["grid_id"].isin(planted["scope_ids"]) & (stats["window"] == "12w")]["trend_class"]
    assert classes.str.endswith("_hot").any(), classes.tolist()
    print(f"\nemerging hot spot at the end of the build: {sorted(classes)}")


# --- false alarms on a homogeneous Poisson background -----------------------------------------------------------

def test_false_alarm_rate_on_homogeneous_poisson_background() -> None:
    """52 weeks × 600 grids, no planted pattern, detectors run every day of the last 40 weeks (after 12
    weeks of history); an alert counts once per week in which its fingerprint fires."""
    grids = lattice_grids(20, 30)
    cases = poisson_background(grids, weeks=52, per_grid_week=1.0, end="2026-11-20", seed=2026)
    deadlines = quiet_deadlines(cases)
    weights = grid_weights(grids, DEFAULT)
    end = pd.Timestamp("2026-11-20 23:59:59", tz=TZ)
    weeks = 40
    fired: dict[tuple[int, str], str] = {}
    for k in range(weeks * 7):
        now = end - pd.Timedelta(days=weeks * 7 - 1 - k)
        alerts, _ = run_detectors(cases, deadlines, grids, now=now, settings=DEFAULT, weights=weights,
                                  detectors=["surge", "hotspot", "emerging_hotspot"])
        for fp, det in zip(alerts["fingerprint"], alerts["detector"], strict=True):
            fired.setdefault((k // 7, fp), det)
    per = pd.Series(list(fired.values()), dtype="str").value_counts() / weeks
    rate = len(fired) / weeks
    print(f"\nfalse-alarm rate on a homogeneous Poisson background (600 grids, {len(cases)} cases in 52 weeks, "
          f"daily runs over {weeks} weeks): {rate:.3f} alerts/week "
          f"({', '.join(f'{k} {v:.3f}' for k, v in per.items()) or 'none'})")
    assert rate <= 1.0
