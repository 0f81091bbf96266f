"""AppTest of the 领导包案 and 督办督查 pages on a small demo snapshot (3,000 cases, 80 grids).

Every figure is recomputed here from the snapshot's own tables (leader_cases, leaders, leader_areas,
supervisions, cases, metrics) with plain pandas, not through dashboard.views.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, views
from dashboard.filters import Filters, Unit
from dashboard.formatting import fmt_rate
from dashboard.settings import Settings, load_settings
from dashboard.viewer import grids_of_worker, make_viewer
from geo.metrics import rate_label
from loaders.enums import LEADER_STAGE, OPEN_STATUSES, SUPERVISION_STATUS
from view_fixtures import app_test, build_view_site, open_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
LEADERS = "pages/leaders.py"
SUPERVISION = "pages/supervision.py"
RATES = {"timely_acceptance": "及时受理率", "on_time_conclusion": "按期办结率", "satisfaction": "满意率"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("leaders"))


@pytest.fixture(scope="module")
def snap(site: Path) -> tuple[Settings, snapshots.Snapshot]:
    return open_site(site)


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def table(s: snapshots.Snapshot, name: str) -> pd.DataFrame:
    return pd.read_parquet(s.file(f"{name}.parquet"))


def now_of(s: snapshots.Snapshot) -> pd.Timestamp:
    return pd.Timestamp(s.manifest["as_of"]).tz_convert("UTC")


def today_of(s: snapshots.Snapshot, settings: Settings) -> dt.date:
    return pd.Timestamp(s.manifest["as_of"]).tz_convert(settings.timezone).date()


def open_page(app: AppTest, page: str, role: str = "office") -> AppTest:
    if role != "office":  # office is the demo picker's default
        app.session_state["gw_role"] = role
    at = app.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first st.dataframe on the page that has `column`."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0].reset_index(drop=True)


def kpis(at: AppTest) -> dict[str, str]:
    return {m.label.split("] ", 1)[-1]: m.value for m in at.metric}


def leader_facts(s: snapshots.Snapshot) -> pd.DataFrame:
    """One row per 包案 with done / overdue as the domain defines them, the leader's name, post, level and
    the case's township."""
    lc = table(s, "leader_cases").drop_duplicates(["case_id", "leader_id"])
    done = lc["stage"].isin(sorted(LEADER_STAGE.with_flag("resolved"))) | lc["resolved_at"].notna()
    overdue = ~done & (pd.to_datetime(lc["due_at"], utc=True) < now_of(s))
    leaders = table(s, "leaders")
    cases = table(s, "cases")[["case_id", "township_id"]]
    return (lc.assign(done=done.to_numpy(), overdue=overdue.to_numpy())
            .merge(leaders, on="leader_id", how="left").merge(cases, on="case_id", how="left"))


def period_sums(s: snapshots.Snapshot, unit_type: str, start: dt.date, end: dt.date, period: str = "day"
                ) -> pd.DataFrame:
    """metrics.parquet rows of `unit_type` with period_start in start..end, summed per unit."""
    m = table(s, "metrics")
    m = m[(m["unit_type"] == unit_type) & (m["period"] == period)]
    days = pd.to_datetime(m["period_start"].astype("datetime64[s]")).dt.date
    m = m[(days >= start) & (days <= end)]
    cols = [f"{r}_{p}" for r in RATES for p in ("num", "den")] + ["received"]
    return m.groupby("unit_id")[cols].sum()


# --- who sees the pages ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("page", "role", "title"), [
    (LEADERS, "office", "领导包案"), (LEADERS, "leader", "领导包案"), (LEADERS, "admin", "领导包案"),
    (SUPERVISION, "office", "督办督查"), (SUPERVISION, "leader", "督办督查"), (SUPERVISION, "admin", "督办督查"),
    (SUPERVISION, "discipline", "督办督查"),
])
def test_pages_render_for_each_role(app: AppTest, page: str, role: str, title: str) -> None:
    at = open_page(app, page, role)
    assert at.title[0].value == title
    assert len(at.dataframe) >= 3 and at.metric
    assert any("示例数据" in w.value for w in at.warning)


@pytest.mark.parametrize(("page", "role"), [(LEADERS, "grid_worker"), (SUPERVISION, "grid_worker"),
                                            (LEADERS, "discipline")])
def test_pages_not_in_navigation_for_other_roles(app: AppTest, page: str, role: str) -> None:
    app.session_state["gw_role"] = role
    at = app.run()
    assert not at.exception, at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)


@pytest.mark.parametrize(("page", "title", "column"), [(LEADERS, "Leader case ownership", "Post"),
                                                     (SUPERVISION, "Supervision", "Answered")])
def test_english(app: AppTest, page: str, title: str, column: str) -> None:
    at = open_page(app, page)
    at.session_state["gw_lang"] = "en"  # what the sidebar's language switch sets
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == title and "Overdue" in frame_with(at, column).columns


# --- 领导包案 -------------------------------------------------------------------------------------------

def test_leader_figures_equal_the_snapshot(app: AppTest, snap: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, s = snap
    at = open_page(app, LEADERS)
    facts = leader_facts(s)
    assert facts["overdue"].sum() >= 2 and facts["done"].sum() >= 2  # the fixture can exercise the order

    shown = kpis(at)
    assert shown["包案件数"] == f"{len(facts):,}" and shown["包案领导"] == str(facts["leader_id"].nunique())
    assert shown["逾期未化解"] == str(int(facts["overdue"].sum()))
    assert shown["化解率"] == fmt_rate(facts["done"].sum(), len(facts))

    per = facts.groupby(["name", "post"]).agg(cases=("case_id", "size"), resolved=("done", "sum"),
                                              overdue=("overdue", "sum"), leader_id=("leader_id", "first"))
    leaders = frame_with(at, "职务")
    assert len(leaders) == len(per)
    for row in leaders.itertuples(index=False):
        expect = per.loc[(row.包案领导, row.职务)]
        assert (row.包案, row.逾期, row.在办) == (expect["cases"], expect["overdue"],
                                               expect["cases"] - expect["resolved"]), row
        assert row.化解率 == rate_label(expect["resolved"], expect["cases"])
    # overdue first: the 逾期 column never increases down the table
    assert leaders["逾期"].is_monotonic_decreasing and leaders["逾期"].iloc[0] == per["overdue"].max()

    # per-leader 化解率 equals the leader rows of metrics.parquet (by assignment month, all months)
    m = table(s, "metrics")
    m = m[(m["unit_type"] == "leader") & (m["period"] == "month")].groupby("unit_id")[
        ["resolution_num", "resolution_den"]].sum()
    for (name, post), expect in per.iterrows():
        num, den = m.loc[expect["leader_id"]]
        shown_rate = leaders.loc[(leaders["包案领导"] == name) & (leaders["职务"] == post), "化解率"].iloc[0]
        assert shown_rate == rate_label(num, den)

    # 三级代办: people of each level, cases, resolved
    levels = frame_with(at, "人数").set_index("层级")
    all_leaders = table(s, "leaders")
    for level, label in (("village", "村级"), ("township", "乡镇级"), ("county", "县级")):
        mine = facts[facts["level"] == level]
        assert levels.loc[label, "人数"] == (all_leaders["level"] == level).sum()
        assert (levels.loc[label, "包案"], levels.loc[label, "已化解"]) == (len(mine), mine["done"].sum())
    assert levels.loc["合计", "包案"] == len(facts)

    # the 包案 list: every 包案, overdue first with the most days over first
    cases = frame_with(at, "事项编号")
    assert len(cases) == len(facts) and set(cases["事项编号"]) == set(facts["case_id"])
    n_over = int(facts["overdue"].sum())
    head = cases["期限状态"].head(n_over)
    assert head.str.startswith("逾期").all() and not cases["期限状态"].iloc[n_over:].str.startswith("逾期").any()
    days = head.str.extract(r"(\d+)")[0].astype(int)
    assert days.is_monotonic_decreasing


def test_leader_areas_show_their_townships_figures(app: AppTest, snap: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, s = snap
    at = open_page(app, LEADERS)
    areas = frame_with(at, "包抓领导").set_index("乡镇（街道）")
    towns = table(s, "townships").set_index("township_id")["name"]
    la = table(s, "leader_areas").merge(table(s, "leaders"), on="leader_id")
    cases = table(s, "cases")
    today = today_of(s, settings)
    sums = period_sums(s, "township", today - dt.timedelta(days=29), today)
    assert len(areas) == len(towns)
    for town_id, name in towns.items():
        row = areas.loc[name]
        assert set(row["包抓领导"].split("、")) == set(la.loc[la["township_id"] == town_id, "name"])
        mine = cases[cases["township_id"] == town_id]
        assert row["红灯"] == (mine["light"] == "red").sum()
        assert row["在办事项"] == mine["status"].isin(sorted(OPEN_STATUSES)).sum()
        for rate, label in RATES.items():
            assert row[label] == rate_label(sums.loc[town_id, f"{rate}_num"], sums.loc[town_id, f"{rate}_den"])
    assert areas["红灯"].is_monotonic_decreasing


def test_leaders_follow_the_unit_filter(app: AppTest, snap: tuple[Settings, snapshots.Snapshot]) -> None:
    _, s = snap
    facts = leader_facts(s)
    town = facts["township_id"].value_counts().index[0]
    app.query_params["unit"] = f"township:{town}"
    at = open_page(app, LEADERS)
    mine = facts[facts["township_id"] == town]
    assert 0 < len(mine) < len(facts)
    assert kpis(at)["包案件数"] == str(len(mine))
    assert set(frame_with(at, "事项编号")["事项编号"]) == set(mine["case_id"])
    assert len(frame_with(at, "包抓领导")) == 1  # only the chosen township

    # one leader's cases
    leaders = frame_with(at, "职务")
    first = leaders.iloc[0]
    leader_id = mine.loc[(mine["name"] == first["包案领导"]) & (mine["post"] == first["职务"]), "leader_id"].iloc[0]
    at.selectbox(key="ld_leader").set_value(leader_id).run()
    assert not at.exception, at.exception
    assert set(frame_with(at, "事项编号")["事项编号"]) == set(mine.loc[mine["leader_id"] == leader_id, "case_id"])


# --- 督办督查 -------------------------------------------------------------------------------------------

def test_supervision_figures_equal_the_snapshot(app: AppTest, snap: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, s = snap
    at = open_page(app, SUPERVISION)
    sup = table(s, "supervisions")
    is_open = sup["status"].isin(sorted(SUPERVISION_STATUS.with_flag("open")))
    overdue = is_open & sup["answered_at"].isna() & (pd.to_datetime(sup["due_at"], utc=True) < now_of(s))
    assert overdue.sum() >= 1 and (is_open & ~overdue).sum() >= 1

    shown = kpis(at)
    assert (shown["督办件"], shown["在办督办"], shown["逾期未反馈"]) == (str(len(sup)), str(is_open.sum()),
                                                                 str(overdue.sum()))
    assert shown["催办"] == str(int(sup.loc[is_open, "reminders"].sum()))

    tiers = frame_with(at, "已下发").set_index("层级")
    for tier in ("交办", "督办", "挂牌督办"):
        mine = sup[sup["tier"] == tier]
        assert tiers.loc[tier, "合计"] == len(mine)
        for code, label in (("issued", "已下发"), ("answered", "已反馈"), ("closed", "已办结")):
            assert tiers.loc[tier, label] == (mine["status"] == code).sum()
        assert tiers.loc[tier, "逾期未反馈"] == overdue[sup["tier"] == tier].sum()
    assert tiers.loc["合计", "合计"] == len(sup)

    # the order list: open orders, overdue ones first
    orders = frame_with(at, "督办编号")
    assert set(orders["督办编号"]) == set(sup.loc[is_open, "supervision_id"])
    n_over = int(overdue.sum())
    assert set(orders["督办编号"].head(n_over)) == set(sup.loc[overdue, "supervision_id"])
    assert orders["期限状态"].head(n_over).str.startswith("逾期").all()
    at.segmented_control(key="sv_show").set_value("all").run()
    assert len(frame_with(at, "督办编号")) == len(sup)

    # the command screen's 督办 summary tells the same numbers
    summary = views.supervision_summary(make_viewer(["office"]), s, settings, Unit())
    assert (summary.open, summary.overdue) == (is_open.sum(), overdue.sum())


def test_light_board_counts_and_drill_down(app: AppTest, snap: tuple[Settings, snapshots.Snapshot]) -> None:
    _, s = snap
    at = open_page(app, SUPERVISION)
    cases = table(s, "cases")
    grids = table(s, "grids")

    def expected(col: str, rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"红灯": rows.groupby(col)["light"].apply(lambda v: (v == "red").sum()),
                             "黄灯": rows.groupby(col)["light"].apply(lambda v: (v == "yellow").sum()),
                             "绿灯": rows.groupby(col)["light"].apply(lambda v: (v == "green").sum()),
                             "在办": rows.groupby(col)["status"].apply(
                                 lambda v: v.isin(sorted(OPEN_STATUSES)).sum())})

    board = frame_with(at, "红灯占比").set_index("单位")
    names = table(s, "townships").set_index("township_id")["name"]
    want = expected("township_id", cases).rename(index=names)
    assert len(board) == len(names)
    for name, row in want.iterrows():
        assert tuple(board.loc[name, ["红灯", "黄灯", "绿灯", "在办"]]) == tuple(row), name
    assert board["红灯"].is_monotonic_decreasing

    town = want["红灯"].idxmax()
    town_id = names[names == town].index[0]
    at.selectbox(key="sv_drill_township").set_value(town_id).run()
    assert not at.exception, at.exception
    board = frame_with(at, "红灯占比").set_index("单位")
    comm_names = grids.drop_duplicates("community_id").set_index("community_id")["community_name"]
    want = expected("community_id", cases[cases["township_id"] == town_id]).rename(index=comm_names)
    assert set(board.index) == set(grids.loc[grids["township_id"] == town_id, "community_name"])
    for name, row in want.iterrows():
        assert tuple(board.loc[name, ["红灯", "黄灯", "绿灯", "在办"]]) == tuple(row), name

    community = want["红灯"].idxmax()
    community_id = comm_names[comm_names == community].index[0]
    at.selectbox(key="sv_drill_community").set_value(community_id).run()
    assert not at.exception, at.exception
    board = frame_with(at, "红灯占比")
    assert set(board["单位"]) == set(grids.loc[grids["community_id"] == community_id, "grid_name"])
    assert board["红灯"].sum() == (cases.loc[cases["community_id"] == community_id, "light"] == "red").sum()


def test_rate_ranking_equals_metrics_day_rows(app: AppTest, snap: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, s = snap
    at = open_page(app, SUPERVISION)
    today = today_of(s, settings)
    sums = period_sums(s, "township", today - dt.timedelta(days=29), today)
    names = table(s, "townships").set_index("township_id")["name"]
    ranking = frame_with(at, "排名")
    assert len(ranking) == len(names)
    for row in ranking.to_dict("records"):
        town_id = names[names == row["单位"]].index[0]
        for rate, label in RATES.items():
            num, den = sums.loc[town_id, f"{rate}_num"], sums.loc[town_id, f"{rate}_den"]
            assert row[f"{label} 分子/分母"] == f"{num:,}/{den:,}"
            assert row[label] == pytest.approx(100 * num / den)
    # ranked by 及时受理率, highest first; ties share a rank
    assert ranking["及时受理率"].is_monotonic_decreasing and ranking["排名"].iloc[0] == 1
    assert (ranking["排名"].diff().dropna() >= 0).all()

    at.segmented_control(key="sv_rank_by").set_value("satisfaction").run()
    assert not at.exception, at.exception
    ranking = frame_with(at, "排名")
    assert ranking["满意率"].is_monotonic_decreasing
    # the chart's hover shows numerator/denominator
    spec = json.loads(at.get("vega_lite_chart")[-1].proto.spec)
    tips = [tip.get("title") for layer in spec["layer"] for tip in layer["encoding"].get("tooltip", [])]
    assert {"按期办结率", "满意率", "及时受理率"} <= set(tips)


def test_rate_ranking_of_a_past_month_equals_its_month_rows(app: AppTest,
                                                           snap: tuple[Settings, snapshots.Snapshot]) -> None:
    """A whole past month: townships (day rows) and communities (computed from cases) equal the month rows."""
    settings, s = snap
    today = today_of(s, settings)
    end = today.replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    app.query_params.update({"period": "custom", "from": start.isoformat(), "to": end.isoformat()})
    at = open_page(app, SUPERVISION)
    assert any(f"{start:%m-%d} 至 {end:%m-%d}" in c.value for c in at.caption)  # the custom period applies
    months = period_sums(s, "township", start, start, period="month")
    names = table(s, "townships").set_index("township_id")["name"]
    ranking = frame_with(at, "排名")
    for row in ranking.to_dict("records"):
        town_id = names[names == row["单位"]].index[0]
        for rate, label in RATES.items():
            assert row[f"{label} 分子/分母"] == (f"{months.loc[town_id, f'{rate}_num']:,}/"
                                             f"{months.loc[town_id, f'{rate}_den']:,}")

    town = months["timely_acceptance_den"].idxmax()
    fresh = AppTest.from_file(APP, default_timeout=90)
    fresh.query_params.update({"period": "custom", "from": start.isoformat(), "to": end.isoformat(),
                               "unit": f"township:{town}"})
    at = open_page(fresh, SUPERVISION)
    months = period_sums(s, "community", start, start, period="month")
    grids = table(s, "grids")
    comm = grids.drop_duplicates("community_id").set_index("community_id")["community_name"]
    ranking = frame_with(at, "排名")
    assert set(ranking["单位"]) == set(grids.loc[grids["township_id"] == town, "community_name"])
    for row in ranking.to_dict("records"):
        comm_id = comm[comm == row["单位"]].index[0]
        for rate, label in RATES.items():
            num, den = (months.loc[comm_id, f"{rate}_num"], months.loc[comm_id, f"{rate}_den"]) \
                if comm_id in months.index else (0, 0)
            assert row[f"{label} 分子/分母"] == f"{num:,}/{den:,}", (row["单位"], rate)


# --- scope in the data layer -----------------------------------------------------------------------------

def test_grid_worker_gets_nothing_from_other_grids(snap: tuple[Settings, snapshots.Snapshot]) -> None:
    """The pages are not in a grid worker's navigation; the views still return only their grids' rows."""
    settings, s = snap
    cases = table(s, "cases")
    links = table(s, "worker_grids")
    lc, sup = table(s, "leader_cases"), table(s, "supervisions")
    grid_of = cases.set_index("case_id")["grid_id"]
    busy = pd.concat([grid_of.reindex(lc["case_id"]), grid_of.reindex(sup["case_id"])]).dropna()
    worker = links.loc[links["grid_id"].isin(busy), "worker_id"].value_counts().index[0]
    grids = grids_of_worker(worker, links)
    viewer = make_viewer(["grid_worker"], name=worker, grids=grids)
    mine = set(cases.loc[cases["grid_id"].isin(grids), "case_id"])
    f = Filters()

    board = views.leader_board(viewer, s, settings, f)
    listing = views.leader_cases_list(viewer, s, settings, f)
    orders = views.supervision_orders(viewer, s, settings, f, "all")
    assert len(listing.rows) + len(orders.rows) > 0  # the worker's grids hold 包案 or 督办
    assert set(listing.rows["case_id"]) == set(lc.loc[lc["case_id"].isin(mine), "case_id"])
    assert set(orders.rows["case_id"]) == set(sup.loc[sup["case_id"].isin(mine), "case_id"])
    assert board.areas.empty  # no township aggregates
    assert board.levels["cases"].iloc[-1] == lc["case_id"].isin(mine).sum()
    assert views.supervision_board(viewer, s, settings, f).by_tier["total"].iloc[-1] == sup["case_id"].isin(mine).sum()

    lights = views.light_board(viewer, s, settings, Unit())
    assert lights.unit_type == "grid" and set(lights.rows["unit_id"]) == set(grids)
    assert lights.rows["red"].sum() == (cases.loc[cases["grid_id"].isin(grids), "light"] == "red").sum()
    ranking = views.rate_ranking(viewer, s, settings, f)
    assert ranking.unit_type == "grid" and set(ranking.rows["unit_id"]) == set(grids)
    other = cases.loc[~cases["grid_id"].isin(grids), "township_id"].dropna().iloc[0]
    assert views.leader_cases_list(viewer, s, settings, Filters(unit=Unit("township", other))).rows.empty


def test_leader_board_of_a_unit_without_leader_cases(site: Path) -> None:
    """A grid with no 包案 (but a township with 包抓 leaders) gives an empty per-leader table, not an error."""
    from dashboard import filters as flt
    from dashboard.viewer import make_viewer

    settings = load_settings(site)
    snap = snapshots.open_current(settings.data_path)
    lc = pd.read_parquet(snap.file("leader_cases.parquet"), columns=["case_id"])
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=["case_id", "grid_id"])
    grids = pd.read_parquet(snap.file("grids.parquet"), columns=["grid_id"])
    owned = set(cases.loc[cases["case_id"].isin(lc["case_id"]), "grid_id"].dropna())
    free = next(g for g in grids["grid_id"] if g not in owned)
    board = views.leader_board(make_viewer(["office"]), snap, settings,
                               flt.Filters(unit=flt.Unit("grid", str(free))))
    assert board.leaders.empty
