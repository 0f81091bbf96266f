"""Small-count suppression in the aggregate views and pages (#6 item 4, SPEC §9): for roles without point access
(leader, discipline) every count 0 < n < 5 is "<5", and so is every rate computed from one; zeros and larger
counts stay exact; roles with point access (office) get the numbers. The exact figures are the office viewer's
(tests/test_pages_leaders.py and tests/test_views.py check those against the snapshot's own tables)."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, views
from dashboard.filters import Filters, Unit
from dashboard.formatting import fmt_count, fmt_rate, rate_help
from dashboard.settings import Settings, settings_from_dict
from dashboard.suppression import holds_suppressed, order_key, suppress_frame
from dashboard.texts import t
from dashboard.viewer import Viewer, make_viewer
from view_fixtures import app_test, build_view_site, open_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
LEADERS = "pages/leaders.py"
SUPERVISION = "pages/supervision.py"
HIDDEN = "<5"
RATE_HIDDEN = "样本<5"  # a rate from a suppressed count (a bare "<5" would read as a percentage)
NOTE = t("rp_note_suppressed", "zh").format(n=5)
OFFICE = make_viewer(["office"])
COUNT_KPIS = ("kpi_today", "kpi_week", "kpi_open", "kpi_red", "kpi_yellow", "kpi_skip", "kpi_collective",
              "stat_cases", "ld_kpi_open", "stat_overdue", "ld_kpi_new", "ld_kpi_resolved_new", "sv_kpi_total",
              "stat_open", "stat_sup_overdue", "stat_reminders", "sv_kpi_new")
RATE_KPIS = ("kpi_timely", "kpi_on_time", "kpi_satisfaction", "kpi_resolution")
RATE_SOURCES = {col: (f"{r}_num", f"{r}_den") for r in views.THREE_RATES for col in (r, f"{r}_text", f"{r}_label")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("suppression"))


@pytest.fixture(scope="module")
def data(site: Path) -> tuple[Settings, snapshots.Snapshot]:
    return open_site(site)


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def small(value: Any) -> bool:
    return not isinstance(value, str) and not pd.isna(value) and 0 < float(value) < 5


def units_of(data: tuple[Settings, snapshots.Snapshot]) -> list[Unit]:
    """The county, a township, its first community and that community's first grid."""
    settings, snap = data
    opts = views.unit_options(OFFICE, snap, settings)
    town = opts.townships[0][0]
    comm = opts.communities[town][0][0]
    return [Unit(), Unit("township", town), Unit("community", comm), Unit("grid", opts.grids[comm][0][0])]


# --- checks of one view's cells --------------------------------------------------------------------------------

def check_cells(shown: pd.DataFrame, exact: pd.DataFrame, key: Sequence[str], counts: Sequence[str],
                rates: Mapping[str, Sequence[str]] | None = None) -> int:
    """`shown` (suppressed) against `exact` (office) row by row (joined on `key`): a count of 1-4 is "<5", others
    are the same number; a rate is "样本<5" when one of its counts is 1-4, else the same. Returns the cells hidden."""
    merged = exact.merge(shown, on=list(key), suffixes=("", "__shown"), how="inner")
    assert len(merged) == len(exact) == len(shown), (len(merged), len(exact), len(shown))
    hidden = 0
    for col in counts:
        for want, got in zip(merged[col], merged[f"{col}__shown"], strict=True):
            if small(want):
                assert got == HIDDEN, (col, want, got)
                hidden += 1
            elif pd.isna(want):
                assert pd.isna(got), (col, got)
            else:
                assert not isinstance(got, str) and got == want, (col, want, got)
    for col, parts in (rates or {}).items():
        for i, (want, got) in enumerate(zip(merged[col], merged[f"{col}__shown"], strict=True)):
            if any(small(merged[p].iloc[i]) for p in parts):
                assert got == RATE_HIDDEN, (col, want, got)
                hidden += 1
            else:
                assert got == want or (pd.isna(want) and pd.isna(got)), (col, want, got)
    return hidden


def rate_parts(help_or_label: str) -> tuple[int, int] | None:
    """(numerator, denominator) of "72.6%（29/40）" in a label or a rate KPI's help."""
    found = re.search(r"（([\d,]+)/([\d,]+)）", help_or_label)
    return None if found is None else (int(found[1].replace(",", "")), int(found[2].replace(",", "")))


def check_kpis(shown: Iterable[views.Kpi], exact: Iterable[views.Kpi]) -> int:
    """KPI tiles: a count of 1-4 (or a rate from one) is "<5" with no raw value and no delta; the rest equal."""
    mine = {k.key: k for k in shown}
    hidden = 0
    for want in exact:
        got = mine[want.key]
        parts = rate_parts(want.help) if want.key in RATE_KPIS else None
        hide = small(want.raw) if want.key in COUNT_KPIS else parts is not None and any(small(p) for p in parts)
        if hide:
            assert (got.value, got.raw, got.delta) == (HIDDEN if parts is None else RATE_HIDDEN, None, None), got
            if parts is not None:  # the help must not tell them either
                assert f"{parts[0]:,}/{parts[1]:,}" not in got.help and RATE_HIDDEN in got.help
            hidden += 1
        else:
            assert (got.value, got.raw) == (want.value, want.raw), (got, want)
    return hidden


def check_all_views(viewer: Viewer, settings: Settings, snap: snapshots.Snapshot, unit: Unit) -> dict[str, int]:
    """Every aggregate view of `unit` for `viewer` against the office viewer's; cells hidden per view."""
    f = Filters(unit=unit)
    out: dict[str, int] = {}

    out["kpis"] = check_kpis(views.kpis(viewer, snap, settings, f), views.kpis(OFFICE, snap, settings, f))
    out["trend"] = check_cells(views.trend(viewer, snap, settings, unit), views.trend(OFFICE, snap, settings, unit),
                               ["date", "series"], ["cases"])
    out["categories"] = check_cells(views.categories(viewer, snap, settings, f, 50),
                                    views.categories(OFFICE, snap, settings, f, 50), ["category"], ["cases"],
                                    {"share": ("cases",)})

    mine, theirs = views.leader_summary(viewer, snap, settings, unit, 500), views.leader_summary(
        OFFICE, snap, settings, unit, 500)
    totals = [(getattr(mine, a), getattr(theirs, a)) for a in ("cases", "resolved", "overdue")]
    assert all(got == (HIDDEN if small(want) else want) for got, want in totals) and mine.leaders == theirs.leaders
    unique = theirs.per_leader.drop_duplicates(["leader", "status"], keep=False)  # two leaders may share a name
    out["leader_summary"] = sum(small(want) for _, want in totals) + check_cells(
        mine.per_leader.merge(unique[["leader", "status"]]), unique, ["leader", "status"], ["cases"])

    mine_s, theirs_s = (views.supervision_summary(v, snap, settings, unit) for v in (viewer, OFFICE))
    pairs = [(g, w) for (_, *gs), (_, *ws) in zip(mine_s.by_tier, theirs_s.by_tier, strict=True)
             for g, w in zip(gs, ws, strict=True)]
    pairs += [(getattr(mine_s, a), getattr(theirs_s, a)) for a in ("open", "overdue", "reminders")]
    assert all(got == (HIDDEN if small(want) else want) for got, want in pairs), pairs
    out["supervision_summary"] = sum(small(w) for _, w in pairs) + check_cells(
        mine_s.red_by_unit, theirs_s.red_by_unit, ["unit_id"], ["red", "red_7d_ago"])

    mine_l, theirs_l = (views.light_board(v, snap, settings, unit) for v in (viewer, OFFICE))
    assert mine_l.unplaced == (HIDDEN if small(theirs_l.unplaced) else theirs_l.unplaced)
    out["light_board"] = check_cells(mine_l.rows, theirs_l.rows, ["unit_id"],
                                     ["red", "yellow", "green", "open", "red_7d_ago"], {"red_share": ("red", "open")})

    hidden = 0
    for by in views.THREE_RATES:
        mine_r, theirs_r = (views.rate_ranking(v, snap, settings, f, by).rows for v in (viewer, OFFICE))
        hidden += check_cells(mine_r.drop(columns="rank"), theirs_r.drop(columns="rank"), ["unit_id"],
                              ["received", *(p for r in views.THREE_RATES for p in (f"{r}_num", f"{r}_den"))],
                              RATE_SOURCES)
        # a unit whose rate is suppressed is unranked and listed after the ranked ones (its place would tell it)
        unranked = mine_r[by] == RATE_HIDDEN
        assert mine_r.loc[unranked, "rank"].isna().all()
        assert not (unranked.cumsum().gt(0) & mine_r["rank"].notna()).any()
    out["rate_ranking"] = hidden

    mine_b, theirs_b = (views.leader_board(v, snap, settings, f) for v in (viewer, OFFICE))
    lc = ["cases", "open", "resolved", "overdue", "new", "resolved_new"]
    lc_rates = {"rate": ("resolved", "cases"), "rate_label": ("resolved", "cases")}
    hidden = check_kpis(mine_b.kpis, theirs_b.kpis)
    hidden += check_cells(mine_b.leaders, theirs_b.leaders, ["leader_id"], lc, lc_rates)
    hidden += check_cells(mine_b.levels, theirs_b.levels, ["level"], [*lc, "pending"], lc_rates)
    if len(theirs_b.areas):
        labels = [f"{r}_label" for r in views.THREE_RATES]
        hidden += check_cells(mine_b.areas.drop(columns=labels), theirs_b.areas.drop(columns=labels), ["township_id"],
                              ["open", "red", "yellow", "received", "lc_open", "lc_overdue"])
        for col in labels:
            for want, got in zip(theirs_b.areas.sort_values("township_id")[col],
                                 mine_b.areas.sort_values("township_id")[col], strict=True):
                parts = rate_parts(want)
                assert got == (RATE_HIDDEN if parts is not None and any(small(p) for p in parts) else want)
    out["leader_board"] = hidden

    mine_v, theirs_v = (views.supervision_board(v, snap, settings, f) for v in (viewer, OFFICE))
    out["supervision_board"] = check_kpis(mine_v.kpis, theirs_v.kpis) + check_cells(
        mine_v.by_tier, theirs_v.by_tier, ["tier"],
        ["issued", "answered", "closed", "total", "open", "overdue", "reminders", "new"])
    return out


# --- helpers -----------------------------------------------------------------------------------------------------

def test_suppress_frame_hides_counts_and_the_rates_made_of_them() -> None:
    frame = pd.DataFrame({"unit": list("abcde"), "red": [0, 3, 7, 12, 0], "open": [4, 9, 7, 40, 0],
                          "red_share": [0.0, 3 / 9, 1.0, 0.3, None]})
    out = suppress_frame(frame, 5, counts=["red", "open"], rates={"red_share": ("red", "open")})
    assert list(out["red"]) == [0, HIDDEN, 7, 12, 0] and list(out["open"]) == [HIDDEN, 9, 7, 40, 0]
    assert list(out["red_share"])[:4] == [RATE_HIDDEN, RATE_HIDDEN, 1.0, 0.3] and pd.isna(out["red_share"].iloc[4])
    assert frame["red"].dtype == "int64" and suppress_frame(frame, None, counts=["red"]) is frame  # never mutated
    assert list(order_key(out["red"], 5)) == [0, 2.5, 7, 12, 0]  # suppressed counts tie
    assert holds_suppressed([{"x": (out,)}], 5) and not holds_suppressed(frame, 5)
    assert holds_suppressed(pd.DataFrame({"rate": [0.5, RATE_HIDDEN]}), 5)  # a rate alone tells the page too


def test_formatting_passes_suppressed_text_through() -> None:
    assert fmt_count(HIDDEN) == HIDDEN and fmt_rate(HIDDEN, 40) == RATE_HIDDEN and fmt_rate(3, HIDDEN) == RATE_HIDDEN
    assert fmt_rate(HIDDEN, 40, lang="en") == "n<5"
    assert fmt_count(1234) == "1,234" and fmt_rate(29, 40) == "72.5%"
    text = rate_help("satisfaction", 2, 3, shown=RATE_HIDDEN)
    assert RATE_HIDDEN in text and "2/3" not in text and "66.7" not in text


def test_the_threshold_is_part_of_what_views_are_cached_by() -> None:
    """ui.cached_view keys on viewer.cache_key (point permission) and the config hash (the threshold)."""
    assert make_viewer(["leader"]).cache_key != make_viewer(["office"]).cache_key
    assert make_viewer(["leader"]).cache_key != make_viewer(["discipline"]).cache_key
    five, three = settings_from_dict({}), settings_from_dict({"privacy": {"small_count_threshold": 3}})
    assert five.config_hash() != three.config_hash()


# --- views -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["leader", "discipline"])
def test_views_suppress_small_counts_for_roles_without_points(data: tuple[Settings, snapshots.Snapshot],
                                                              role: str) -> None:
    settings, snap = data
    viewer = make_viewer([role])
    hidden: dict[str, int] = {}
    for unit in units_of(data):
        for name, n in check_all_views(viewer, settings, snap, unit).items():
            hidden[name] = hidden.get(name, 0) + n
    # the fixture exercises the suppression of every view (county to grid: there are 1-4s everywhere)
    assert all(n > 0 for n in hidden.values()), hidden


def test_office_gets_exact_numbers(data: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = data
    for unit in units_of(data):
        f = Filters(unit=unit)
        shown = [views.kpis(OFFICE, snap, settings, f), views.trend(OFFICE, snap, settings, unit),
                 views.categories(OFFICE, snap, settings, f), views.leader_summary(OFFICE, snap, settings, unit),
                 views.supervision_summary(OFFICE, snap, settings, unit), views.light_board(OFFICE, snap, settings, unit),
                 views.rate_ranking(OFFICE, snap, settings, f), views.leader_board(OFFICE, snap, settings, f),
                 views.supervision_board(OFFICE, snap, settings, f)]
        assert not holds_suppressed(shown, 5), unit
        board = views.light_board(OFFICE, snap, settings, unit).rows
        assert all(pd.api.types.is_integer_dtype(board[c]) for c in ("red", "yellow", "green", "open"))
        assert pd.api.types.is_integer_dtype(views.trend(OFFICE, snap, settings, unit)["cases"])


def test_reports_read_exact_views(data: tuple[Settings, snapshots.Snapshot]) -> None:
    """exact=True (what dashboard/reports.py asks for, before it suppresses its own tables) gives the numbers."""
    settings, snap = data
    leader = make_viewer(["leader"])
    unit = units_of(data)[2]
    mine = views.light_board(leader, snap, settings, unit, exact=True).rows
    pd.testing.assert_frame_equal(mine, views.light_board(OFFICE, snap, settings, unit).rows)
    assert (views.light_board(leader, snap, settings, unit).rows["green"] == HIDDEN).any()


def test_report_tables_hide_rates_of_suppressed_counts(data: tuple[Settings, snapshots.Snapshot]) -> None:
    """Exports: a rate or change next to a suppressed count is "<5" too, and the ranking is the page's."""
    from dashboard import reports

    settings, snap = data
    period = reports.report_period("week", today=views.snapshot_today(snap, settings))
    report = reports.build_report(make_viewer(["leader"]), snap, settings, reports.ReportRequest(period,
                                                                                                include_map=False))
    checked = 0
    for key, rates in (("categories", {"share": ("cases",), "change": ("cases", "previous")}),
                       ("lights", {"red_share": ("red", "open")}),
                       ("ranking", {r: (f"{r}_num", f"{r}_den") for r in views.THREE_RATES})):
        rows = report.table(key).rows
        for col, parts in rates.items():
            hidden = rows[list(parts)].apply(lambda row: any(v == HIDDEN for v in row), axis=1)
            assert (rows.loc[hidden, col] == RATE_HIDDEN).all(), (key, col)
            checked += int(hidden.sum())
    assert checked
    ranking = report.table("ranking").rows
    assert ranking.loc[ranking["timely_acceptance"] == RATE_HIDDEN, "rank"].isna().all()


def test_threshold_is_configurable(data: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = data
    three = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"small_count_threshold": 3})})
    unit = units_of(data)[2]
    exact = views.light_board(OFFICE, snap, three, unit).rows.set_index("unit_id")
    shown = views.light_board(make_viewer(["leader"]), snap, three, unit).rows.set_index("unit_id")
    values = [(want, shown.loc[uid, col]) for uid in exact.index for col in ("red", "yellow", "green", "open")
              for want in [exact.loc[uid, col]]]
    assert any(0 < w < 3 for w, _ in values) and any(3 <= w < 5 for w, _ in values)
    assert all(got == ("<3" if 0 < want < 3 else want) for want, got in values)
    off = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"small_count_threshold": 1})})
    assert not holds_suppressed(views.light_board(make_viewer(["leader"]), snap, off, unit), 1)


# --- pages -------------------------------------------------------------------------------------------------------

def chart_frames(at: AppTest) -> list[tuple[dict[str, Any], list[pd.DataFrame]]]:
    """(Vega-Lite spec, data frames) of every chart on the page."""
    out = []
    for chart in at.get("vega_lite_chart"):
        frames = [pa.ipc.open_stream(io.BytesIO(ds.data.data)).read_pandas() for ds in chart.proto.datasets]
        if chart.proto.data.data:
            frames.append(pa.ipc.open_stream(io.BytesIO(chart.proto.data.data)).read_pandas())
        out.append((json.loads(chart.proto.spec), frames))
    return out


def assert_charts_hold_no_small_count(at: AppTest, columns: Sequence[str]) -> int:
    """No chart's data holds a count of 1-4 in `columns` (a suppressed bar is NaN: not drawn, no tooltip) nor
    inline in its spec. Returns the number of suppressed (NaN) values."""
    missing = 0
    for spec, frames in chart_frames(at):
        assert "values" not in json.dumps(spec.get("data", {}))  # the data travel as the datasets checked here
        for frame in frames:
            for col in (c for c in columns if c in frame.columns):
                values = pd.to_numeric(frame[col], errors="coerce")
                assert not values.map(small).any(), (col, list(values))
                missing += int(values.isna().sum())
    return missing


def page_text(at: AppTest) -> str:
    return "\n".join([*(html.unescape(h.value) for h in at.html), *(c.value for c in at.caption),
                      *(m.value for m in at.markdown)])


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label.split("] ", 1)[-1]: (m.value, m.proto.help) for m in at.metric}


def open_as(app: AppTest, role: str, unit: Unit, page: str | None = None) -> AppTest:
    app.session_state["gw_role"] = role
    app.query_params["unit"] = f"{unit.type}:{unit.id}"
    at = app.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def pick_community(data: tuple[Settings, snapshots.Snapshot], fits: Any) -> Unit:
    """The first community whose office figures `fits(unit)` accepts."""
    settings, snap = data
    opts = views.unit_options(OFFICE, snap, settings)
    for comms in opts.communities.values():
        for comm, _ in comms:
            if fits(Unit("community", comm)):
                return Unit("community", comm)
    raise AssertionError("the fixture has no community with such small figures")


def test_command_screen_of_a_small_unit_as_leader(app: AppTest, site: Path,
                                                  data: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = data

    def fits(unit: Unit) -> bool:  # a count KPI of 2-4, distinct from 0 and 1
        return any(k.key in COUNT_KPIS and k.raw in (2, 3, 4) for k in views.kpis(OFFICE, snap, settings,
                                                                                  Filters(unit=unit)))

    unit = pick_community(data, fits)
    exact = {k.label: k for k in views.kpis(OFFICE, snap, settings, Filters(unit=unit))}
    at = open_as(app, "leader", unit)
    shown = metrics(at)
    hidden = [label for label, k in exact.items() if k.key in COUNT_KPIS and small(k.raw)]
    assert hidden
    for label in hidden:
        assert shown[label][0] == HIDDEN, (label, exact[label].value)
    for label, k in exact.items():
        if k.key in COUNT_KPIS and not small(k.raw):
            assert shown[label][0] == k.value
    assert NOTE in page_text(at)
    assert len(at.get("vega_lite_chart")) >= 3  # trend, categories, 灭红灯 (包案 when the unit has some)
    assert assert_charts_hold_no_small_count(at, ["cases", "red", "at"]) > 0  # some bars / days are dropped

    # the same unit for the office, in the same process (shared st.cache_data): exact numbers, no note
    fresh = AppTest.from_file(APP, default_timeout=90)
    fresh.query_params["unit"] = f"{unit.type}:{unit.id}"
    office = fresh.run()
    assert not office.exception, office.exception
    assert all(metrics(office)[label][0] == exact[label].value for label in hidden)
    assert NOTE not in page_text(office)


@pytest.mark.parametrize("role", ["leader", "discipline"])
def test_supervision_page_of_a_small_unit(app: AppTest, data: tuple[Settings, snapshots.Snapshot],
                                          role: str) -> None:
    settings, snap = data

    def fits(unit: Unit) -> bool:
        total = views.supervision_board(OFFICE, snap, settings, Filters(unit=unit)).by_tier["total"].iloc[-1]
        return 2 <= total <= 4

    unit = pick_community(data, fits)
    at = open_as(app, role, unit, SUPERVISION)
    assert metrics(at)["督办件"][0] == HIDDEN
    tiers = next(d.value for d in at.dataframe if "已下发" in d.value.columns).set_index("层级")
    assert tiers.loc["合计", "合计"] == HIDDEN

    lights = views.light_board(OFFICE, snap, settings, unit).rows.set_index("name")
    board = next(d.value for d in at.dataframe if "红灯占比" in d.value.columns).set_index("单位")
    for name, row in lights.iterrows():
        for col, label in (("red", "红灯"), ("yellow", "黄灯"), ("green", "绿灯"), ("open", "在办")):
            assert str(board.loc[name, label]) == (HIDDEN if small(row[col]) else fmt_count(row[col])), (name, col)
        if small(row["red"]) or small(row["open"]):
            assert board.loc[name, "红灯占比"] == RATE_HIDDEN

    ranking = views.rate_ranking(OFFICE, snap, settings, Filters(unit=unit)).rows.set_index("name")
    table = next(d.value for d in at.dataframe if "排名" in d.value.columns).set_index("单位")
    for name, row in ranking.iterrows():
        assert str(table.loc[name, "本期新增"]) == (HIDDEN if small(row["received"]) else fmt_count(row["received"]))
        num, den = row["timely_acceptance_num"], row["timely_acceptance_den"]
        assert table.loc[name, "及时受理率 分子/分母"] == "/".join(HIDDEN if small(v) else f"{v:,}" for v in (num, den))
        if small(num) or small(den):
            assert table.loc[name, "及时受理率"] == RATE_HIDDEN
    assert assert_charts_hold_no_small_count(at, ["cases"]) > 0
    charted = {n for spec, frames in chart_frames(at) for frame in frames if "shown" in frame.columns
               for n in frame["name"]}
    hidden_rates = {n for n, row in ranking.iterrows()
                    if small(row["timely_acceptance_num"]) or small(row["timely_acceptance_den"])}
    assert not charted & hidden_rates  # a suppressed rate has no bar
    assert NOTE in page_text(at)


def test_leaders_page_of_a_small_unit_as_leader(app: AppTest, data: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = data

    def fits(unit: Unit) -> bool:
        return 2 <= views.leader_board(OFFICE, snap, settings, Filters(unit=unit)).levels["cases"].iloc[-1] <= 4

    unit = pick_community(data, fits)
    exact = views.leader_board(OFFICE, snap, settings, Filters(unit=unit))
    at = open_as(app, "leader", unit, LEADERS)
    shown = metrics(at)
    assert shown["包案件数"][0] == HIDDEN and shown["化解率"][0] == RATE_HIDDEN
    assert rate_parts(shown["化解率"][1]) is None  # no numerator/denominator in the help
    assert shown["包案领导"][0] == str(len(exact.leaders))  # leaders are counted, not suppressed
    leaders = next(d.value for d in at.dataframe if "职务" in d.value.columns)
    assert (leaders["包案"] == HIDDEN).all() and (leaders["化解率"] == RATE_HIDDEN).all()
    levels = next(d.value for d in at.dataframe if "人数" in d.value.columns).set_index("层级")
    assert levels.loc["合计", "包案"] == HIDDEN
    assert_charts_hold_no_small_count(at, ["cases"])
    assert NOTE in page_text(at)
