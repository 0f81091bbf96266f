"""The data layer of the pages: viewer scoping (SPEC §9), KPIs against metrics.parquet, filters, formatting."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import filters as flt
from dashboard import snapshots, views
from dashboard.formatting import fmt_count, fmt_delta_pct, fmt_rate
from dashboard import quality
from dashboard.quality import rejected_groups
from dashboard.settings import Settings, load_settings
from dashboard.texts import TEXTS
from dashboard.viewer import AccessDenied, grids_of_worker, make_viewer
from view_fixtures import build_view_site, drop_optional_tables
from loaders.enums import OPEN_STATUSES


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, snapshots.Snapshot]:
    cfg = build_view_site(tmp_path_factory.mktemp("views"))
    settings = load_settings(cfg)
    return settings, snapshots.open_current(settings.data_path)


@pytest.fixture(scope="module")
def raw(site: tuple[Settings, snapshots.Snapshot]) -> dict[str, pd.DataFrame]:
    _, snap = site
    return {name: pd.read_parquet(snap.file(f"{name}.parquet"))
            for name in ("cases", "metrics", "worker_grids", "alerts", "leader_cases", "supervisions")}


@pytest.fixture(scope="module")
def worker(site: tuple[Settings, snapshots.Snapshot], raw: dict[str, pd.DataFrame]) -> tuple[str, frozenset[str]]:
    """The grid worker of the grid with a hotspot alert (so their scope holds an alert)."""
    alerts = raw["alerts"]
    hot_grid = alerts.loc[alerts["scope"] == "grid", "scope_id"].iloc[0]
    links = raw["worker_grids"]
    worker_id = str(links.loc[links["grid_id"] == hot_grid, "worker_id"].iloc[0])
    return worker_id, grids_of_worker(worker_id, links)


def test_grid_worker_gets_only_their_grids(site: tuple[Settings, snapshots.Snapshot], raw: dict[str, pd.DataFrame],
                                           worker: tuple[str, frozenset[str]]) -> None:
    settings, snap = site
    worker_id, grids = worker
    viewer = make_viewer(["grid_worker"], name=worker_id, grids=grids)
    assert not viewer.sees_all and viewer.can_see_points

    cases = views.scoped_cases(viewer, snap, ["case_id", "grid_id", "lon"])
    expected = raw["cases"][raw["cases"]["grid_id"].isin(sorted(grids))]
    assert len(cases) == len(expected) > 0
    assert set(cases["grid_id"]) <= grids
    assert set(views.scoped_grids(viewer, snap, ["grid_id"])["grid_id"]) == grids

    metrics = views.scoped_metrics(viewer, snap)
    assert len(metrics) > 0 and set(metrics["unit_type"]) == {"grid"} and set(metrics["unit_id"]) <= grids

    alerts = views.scoped_alerts(viewer, snap)
    # every alert concerns their grids only: grid alerts by their scope, case-level alerts of a larger scope
    # (a repeat petitioner's township) by the grids of their cases
    assert len(alerts) >= 1
    for scope, scope_id, grid_ids in zip(alerts["scope"], alerts["scope_id"], alerts["grid_ids"], strict=True):
        assert scope_id in grids if scope == "grid" else len(grid_ids) > 0 and set(grid_ids) <= grids

    case_ids = set(expected["case_id"])
    assert set(views.scoped_leader_cases(viewer, snap)["case_id"]) <= case_ids
    assert set(views.scoped_supervisions(viewer, snap)["case_id"]) <= case_ids
    assert set(views.scoped_grid_stats(viewer, snap)["grid_id"]) <= grids
    assert set(views.scoped_inspections(viewer, snap)["grid_id"]) <= grids

    # Other units are empty for them, and the map is always their grids (no township aggregate).
    other = raw["cases"].loc[~raw["cases"]["township_id"].isin(expected["township_id"]), "township_id"].dropna()
    assert views.scoped_cases(viewer, snap, ["case_id"], unit=flt.Unit("township", str(other.iloc[0]))).empty
    data = views.map_data(viewer, snap, settings, flt.Filters(), "township", "open")
    assert data.level == "grid" and len(data.areas["features"]) == len(grids)
    options = views.unit_options(viewer, snap, settings)
    assert {g for v in options.grids.values() for g, _ in v} == grids

    # KPIs are their grids' totals, computed from their own cases.
    kpis = {k.key: k for k in views.kpis(viewer, snap, settings, flt.Filters())}
    assert kpis["kpi_open"].raw == expected["status"].isin(sorted(OPEN_STATUSES)).sum()
    assert kpis["kpi_red"].raw == (expected["light"] == "red").sum()
    assert kpis["kpi_yellow"].raw == (expected["light"] == "yellow").sum()


def test_points_only_for_point_roles(site: tuple[Settings, snapshots.Snapshot]) -> None:
    _, snap = site
    leader = views.scoped_cases(make_viewer(["leader"]), snap, ["case_id", "lon", "lat"])
    office = views.scoped_cases(make_viewer(["office"]), snap, ["case_id", "lon", "lat"])
    assert leader["lon"].isna().all() and leader["lat"].isna().all()
    assert office["lon"].notna().sum() > 0.9 * len(office)


def test_restricted_texts_only_for_discipline(site: tuple[Settings, snapshots.Snapshot]) -> None:
    _, snap = site
    with pytest.raises(AccessDenied):
        views.restricted_texts(make_viewer(["office", "leader", "admin"]), snap)
    assert len(views.restricted_texts(make_viewer(["discipline"]), snap)) > 0
    with pytest.raises(AccessDenied):
        rejected_groups(make_viewer(["grid_worker"], grids=[]), snap, load_settings_for(snap))


def load_settings_for(snap: snapshots.Snapshot) -> Settings:
    return load_settings(snap.root.parent.parent / "gridwatch.toml")


def test_county_kpis_equal_metrics_rows(site: tuple[Settings, snapshots.Snapshot],
                                        raw: dict[str, pd.DataFrame]) -> None:
    settings, snap = site
    today = views.snapshot_today(snap, settings)
    m = raw["metrics"]
    days = m[(m["unit_type"] == "county") & (m["period"] == "day")].copy()
    days["date"] = pd.to_datetime(days["period_start"].astype("datetime64[s]")).dt.date
    for code, first in (("30d", today - dt.timedelta(days=29)), ("7d", today - dt.timedelta(days=6)),
                        ("month", today.replace(day=1))):
        # office: exact numbers (a leader's counts of 1-4 are "<5", tests/test_privacy_suppression.py)
        kpis = {k.key: k for k in views.kpis(make_viewer(["office"]), snap, settings, flt.Filters(flt.Period(code)))}
        span = days[(days["date"] >= first) & (days["date"] <= today)]
        now = days[days["date"] == today].iloc[0]
        monday = today - dt.timedelta(days=today.weekday())
        assert kpis["kpi_today"].value == fmt_count(now["received"])
        assert kpis["kpi_week"].value == fmt_count(days.loc[days["date"] >= monday, "received"].sum())
        assert kpis["kpi_open"].value == fmt_count(now["open_end"])
        assert kpis["kpi_red"].value == fmt_count(now["overdue"])
        assert kpis["kpi_yellow"].raw == (raw["cases"]["light"] == "yellow").sum()
        for name, key in views.KPI_RATES:
            num, den = span[f"{name}_num"].sum(), span[f"{name}_den"].sum()
            assert kpis[key].value == fmt_rate(num, den), (code, name)
            assert f"{num:,}/{den:,}" in kpis[key].help
        assert kpis["kpi_skip"].raw == span["skip_level"].sum()
        assert kpis["kpi_collective"].raw == span["collective_cases"].sum()


def test_unit_days_computed_from_cases_match_metrics(site: tuple[Settings, snapshots.Snapshot],
                                                     raw: dict[str, pd.DataFrame]) -> None:
    """Communities have no day rows: their days come from compute_metrics on the unit's cases, and
    summed over last month they equal the community's month row of metrics.parquet."""
    settings, snap = site
    today = views.snapshot_today(snap, settings)
    last = today.replace(day=1) - dt.timedelta(days=1)
    first = last.replace(day=1)
    cases = raw["cases"]
    community = cases["community_id"].value_counts().index[0]
    days = views.unit_days(make_viewer(["office"]), snap, settings, flt.Unit("community", community), first, last)
    m = raw["metrics"]
    month = m[(m["unit_type"] == "community") & (m["unit_id"] == community) & (m["period"] == "month")]
    row = month[pd.to_datetime(month["period_start"].astype("datetime64[s]")).dt.date == first].iloc[0]
    for col in ("received", "accepted", "closed", "skip_level", "collective_cases", "timely_acceptance_num",
                "timely_acceptance_den", "on_time_conclusion_num", "on_time_conclusion_den", "satisfaction_num",
                "satisfaction_den", "resolution_num", "resolution_den"):
        assert days[col].sum() == row[col], col
    for col in ("open_end", "overdue", "backlog"):
        assert days.loc[last, col] == row[col], col


def test_optional_tables_absent_give_empty_state(tmp_path: Path) -> None:
    cfg = build_view_site(tmp_path, cases=1000, grids=30, seed=3)
    settings = load_settings(cfg)
    snap = snapshots.open_current(settings.data_path)
    drop_optional_tables(snap)
    snap = snapshots.open_current(settings.data_path)
    viewer = make_viewer(["office"])
    assert snap.version and not snap.skipped
    assert views.scoped_alerts(viewer, snap).empty and list(views.scoped_alerts(viewer, snap).columns)
    assert views.scoped_grid_stats(viewer, snap).empty
    assert views.top_alerts(viewer, snap, settings, flt.Unit()).available is False
    assert views.map_data(viewer, snap, settings, flt.Filters(), "grid", "cases").hot is None


def test_grid_issues_for_the_small_map(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    cfg = build_view_site(tmp_path, cases=1000, grids=30, seed=5)
    settings = load_settings(cfg)
    snap = snapshots.open_current(settings.data_path)
    grids = gpd.read_parquet(snap.file("grids.parquet"))
    a, b = grids.iloc[0], grids.iloc[1]
    overlap = shapely.buffer(a.geometry.boundary, 1e-4).intersection(b.geometry)
    gpd.GeoDataFrame({"kind": ["overlap"], "grid_ids": [[a.grid_id, b.grid_id]], "area_m2": [123.4]},
                     geometry=[overlap], crs="EPSG:4326").to_parquet(snap.file("grid_issues.parquet"))
    issues = quality.grid_issues(make_viewer(["admin"]), snap, settings)
    assert issues.table.iloc[0].tolist() == ["重叠", f"{a.grid_id}, {b.grid_id}", 123.4]
    assert len(issues.issues["features"]) == 1 and len(issues.grids["features"]) == len(grids)


def test_filters_parse_and_fall_back() -> None:
    today, earliest = dt.date(2026, 11, 22), dt.date(2025, 10, 18)
    known = {("township", "150102001"), ("grid", "150102001001001")}.__contains__

    def parse(params: dict[str, str]) -> flt.Filters:
        return flt.parse(params, today=today, earliest=earliest, known=lambda k, i: known((k, i)))

    assert parse({}) == flt.Filters()
    f = parse({"period": "custom", "from": "2026-11-01", "to": "2026-11-15", "unit": "township:150102001",
               "lang": "en"})
    assert f.period.dates(today) == (dt.date(2026, 11, 1), dt.date(2026, 11, 15))
    assert f.unit == flt.Unit("township", "150102001") and f.lang == "en"
    assert parse(f.to_params()) == f
    for bad in ({"period": "forever"}, {"period": "custom", "from": "2026-11-15", "to": "2026-11-01"},
                {"period": "custom", "from": "2020-01-01", "to": "2026-11-01"},
                {"period": "custom", "from": "2026-13-01", "to": "x"}, {"unit": "grid:nope"},
                {"unit": "county:county"}, {"unit": "township"}, {"lang": "fr"}):
        assert parse(bad) == flt.Filters(), bad
    assert flt.Period("7d").dates(today) == (dt.date(2026, 11, 16), today)
    assert flt.Period("month").dates(today) == (dt.date(2026, 11, 1), today)
    assert flt.Filters().to_params() == {}


def test_number_formatting() -> None:
    assert fmt_count(1032) == "1,032" and fmt_count(99_999) == "99,999"
    assert fmt_count(123_456) == "12.3万" and fmt_count(250_000_000) == "2.5亿"
    assert fmt_count(1_234_567, "en") == "1.2M" and fmt_count(None) == "—"
    assert fmt_rate(491, 500) == "98.2%" and fmt_rate(0, 0) == "—" and fmt_rate(1, np.nan) == "—"
    assert fmt_delta_pct(112, 100) == "+12%" and fmt_delta_pct(5, 0) == "+5" and fmt_delta_pct(0, 0) is None


def test_texts_have_both_languages_with_the_same_placeholders() -> None:
    fields = string.Formatter()
    for key, entry in TEXTS.items():
        assert entry.get("zh") and entry.get("en"), key
        zh = {f for _, f, _, _ in fields.parse(entry["zh"]) if f}
        en = {f for _, f, _, _ in fields.parse(entry["en"]) if f}
        assert zh == en, key
        assert not re.search(r"[\u4e00-\u9fff]", entry["en"]) or key == "lang_label", key


def test_large_county_map_is_coloured_by_community(site: tuple[Settings, snapshots.Snapshot]) -> None:
    """More grids than map.max_polygons: the county map sends community outlines, the hot-spot map
    only grids with a finding; a township's map still shows its grids."""
    settings, snap = site
    viewer = make_viewer(["office"])
    small = settings.model_copy(update={"map": settings.map.model_copy(update={"max_polygons": 10})})
    grids = pd.read_parquet(snap.file("grids.parquet"), columns=["grid_id", "community_id", "township_id"])
    full = views.map_data(viewer, snap, settings, flt.Filters(), "grid", "cases")
    capped = views.map_data(viewer, snap, small, flt.Filters(), "grid", "cases")
    assert full.level == "grid" and len(full.areas["features"]) == len(grids)
    assert capped.level == "community"
    assert len(capped.areas["features"]) == grids["community_id"].nunique()
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=["community_id"])
    shown = {f["properties"]["name"]: f["properties"]["value"] for f in capped.areas["features"]}
    assert sum(shown.values()) <= cases["community_id"].notna().sum()
    town = str(grids["township_id"].iloc[0])
    one = views.map_data(viewer, snap, small, flt.Filters(unit=flt.Unit("township", town)), "grid", "cases")
    assert one.level == "community" or len(one.areas["features"]) == (grids["township_id"] == town).sum()
    hot_all = views.hotspot_map(viewer, snap, settings, flt.Unit("county", ""), "30d")
    hot_capped = views.hotspot_map(viewer, snap, small, flt.Unit("county", ""), "30d")
    stats = pd.read_parquet(snap.file("grid_stats.parquet"))
    stats = stats[stats["window"] == "30d"]
    marked = (stats["hotspot_bin"].fillna(0) != 0) | (stats["trend_class"].fillna("none") != "none")
    assert len(hot_capped.areas["features"]) == marked.sum() < len(hot_all.areas["features"])


def test_gcj02_tiles_shift_every_layer() -> None:
    """map.tiles_coord_sys = "gcj02" with a tile URL: geometries, points and the view move to GCJ-02
    (the published Beijing pair), so they sit on GCJ-02 tiles; without tiles nothing moves."""
    import json as json_

    import pydeck as pdk
    import shapely

    from dashboard import maplayers

    wgs = (116.377817, 39.911954)
    gcj = (116.38404722455657, 39.91334545536069)

    def layers() -> list[pdk.Layer]:
        square = shapely.box(wgs[0] - 0.001, wgs[1] - 0.001, wgs[0] + 0.001, wgs[1] + 0.001)
        areas = maplayers.feature_collection(np.array([square]), pd.DataFrame({"name": ["a"]}))
        points = pd.DataFrame({"lon": [wgs[0]], "lat": [wgs[1]], "fill": [[1, 2, 3, 255]], "case_id": ["c"]})
        return [maplayers.grid_layer(areas), maplayers.point_layer(points)]

    view = pdk.ViewState(longitude=wgs[0], latitude=wgs[1], zoom=12)
    shifted = json_.loads(maplayers.deck(layers(), view, tooltip_html="", tile_url="http://tiles.local/{z}/{x}/{y}.png",
                                         tiles_coord_sys="gcj02").to_json())
    plain = json_.loads(maplayers.deck(layers(), view, tooltip_html="", tiles_coord_sys="gcj02").to_json())
    by_id = {layer["id"]: layer for layer in shifted["layers"]}
    point = by_id["cases"]["data"][0]
    assert abs(point["lon"] - gcj[0]) < 1e-5 and abs(point["lat"] - gcj[1]) < 1e-5
    ring = by_id["grids"]["data"]["features"][0]["geometry"]["coordinates"][0]
    xs = [c[0] for c in ring]
    assert abs((min(xs) + max(xs)) / 2 - gcj[0]) < 1e-4
    assert abs(shifted["initialViewState"]["longitude"] - gcj[0]) < 1e-5
    plain_point = next(layer for layer in plain["layers"] if layer["id"] == "cases")["data"][0]
    assert plain_point["lon"] == round(wgs[0], 5) or abs(plain_point["lon"] - wgs[0]) < 1e-9
