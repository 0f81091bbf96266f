"""AppTest of the 指挥大屏 and 数据质量 pages on a small demo snapshot (3,000 cases, 80 grids)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, views
from dashboard.formatting import fmt_count, fmt_rate
from dashboard.settings import Settings, load_settings
from view_fixtures import app_test, build_view_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
QUALITY = "pages/data_quality.py"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("pages"))


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def settings_and_snapshot(cfg: Path) -> tuple[Settings, snapshots.Snapshot]:
    settings = load_settings(cfg)
    return settings, snapshots.open_current(settings.data_path)


def kpis(at: AppTest) -> dict[str, tuple[str, str]]:
    """KPI label (without the colour dot) -> (value, help)."""
    return {m.label.split("] ", 1)[-1]: (m.value, m.proto.help) for m in at.metric}


def day_rows(snap: snapshots.Snapshot, unit_type: str, unit_id: str) -> pd.DataFrame:
    m = pd.read_parquet(snap.file("metrics.parquet"))
    rows = m[(m["unit_type"] == unit_type) & (m["unit_id"] == unit_id) & (m["period"] == "day")].copy()
    rows["date"] = pd.to_datetime(rows["period_start"].astype("datetime64[s]")).dt.date
    return rows


def test_command_screen_kpis_equal_county_metrics(app: AppTest, site: Path) -> None:
    at = app.run()
    assert not at.exception, at.exception
    settings, snap = settings_and_snapshot(site)
    today = views.snapshot_today(snap, settings)
    days = day_rows(snap, "county", "county")
    now = days[days["date"] == today].iloc[0]
    span = days[days["date"] >= today - dt.timedelta(days=29)]
    shown = kpis(at)
    assert list(shown) == ["今日新增", "本周", "在办", "红灯", "黄灯", "及时受理率", "按期办结率", "满意率", "化解率",
                           "越级访", "集体访"]
    assert shown["今日新增"][0] == fmt_count(now["received"])
    assert shown["在办"][0] == fmt_count(now["open_end"]) and shown["红灯"][0] == fmt_count(now["overdue"])
    for label, name in (("及时受理率", "timely_acceptance"), ("按期办结率", "on_time_conclusion"),
                        ("满意率", "satisfaction"), ("化解率", "resolution")):
        num, den = span[f"{name}_num"].sum(), span[f"{name}_den"].sum()
        assert shown[label][0] == fmt_rate(num, den)
        assert f"（{num:,}/{den:,}）" in shown[label][1] and "分母" in shown[label][1]
    assert shown["越级访"][0] == fmt_count(span["skip_level"].sum())
    assert shown["集体访"][0] == fmt_count(span["collective_cases"].sum())

    page = "\n".join(h.value for h in at.html)
    assert "新城区信访态势" in page and any("示例数据" in w.value for w in at.warning)
    alerts = pd.read_parquet(snap.file("alerts.parquet"))
    top = alerts.sort_values("level", key=lambda s: s.map(views.palette.level_rank)).iloc[0]
    assert top["title"].removeprefix("新城区").strip() in page
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert deck["mapStyle"].endswith("/app/static/blank-style.json")
    layers = {layer["id"] for layer in deck["layers"]}
    assert {"grids", "townships", "township-names", "hotspots"} <= layers
    assert len(at.get("vega_lite_chart")) == 4  # trend, categories, 包案, 灭红灯


def test_screen_mode_hides_sidebar_and_navigation(app: AppTest) -> None:
    app.query_params["screen"] = "1"
    at = app.run()
    assert not at.exception, at.exception
    css = [h.value for h in at.html if "stSidebar" in h.value]
    assert css and "display: none" in css[0] and "stToolbar" in css[0]
    assert at.metric  # the content itself is there
    assert not at.warning and any("示例数据" in h.value for h in at.html)  # the demo marker is in the title bar


def test_filters_come_from_the_url_and_bad_values_fall_back(app: AppTest, site: Path) -> None:
    settings, snap = settings_and_snapshot(site)
    today = views.snapshot_today(snap, settings)
    town = pd.read_parquet(snap.file("townships.parquet"), columns=["township_id"])["township_id"].iloc[0]
    app.query_params["period"] = "7d"
    app.query_params["unit"] = f"township:{town}"
    at = app.run()
    assert not at.exception, at.exception
    days = day_rows(snap, "township", town)
    span = days[days["date"] >= today - dt.timedelta(days=6)]
    num, den = span["on_time_conclusion_num"].sum(), span["on_time_conclusion_den"].sum()
    assert kpis(at)["按期办结率"][0] == fmt_rate(num, den)
    assert at.selectbox(key="gw_period").value == "7d" and at.selectbox(key="gw_township").value == town
    assert at.query_params["period"] == "7d" and at.query_params["unit"] == f"township:{town}"

    at.selectbox(key="gw_period").set_value("30d").run()  # back to the default: the parameter leaves the URL
    assert "period" not in at.query_params and at.query_params["unit"] == f"township:{town}"

    bad = AppTest.from_file(APP, default_timeout=90)
    for key, value in (("period", "forever"), ("unit", "grid:nope"), ("from", "2026-13-45"), ("lang", "fr")):
        bad.query_params[key] = value
    bad.run()
    assert not bad.exception, bad.exception
    assert bad.selectbox(key="gw_period").value == "30d" and bad.selectbox(key="gw_township").value == ""
    assert not any(k in bad.query_params for k in ("period", "unit", "from", "lang"))


def test_map_view_survives_reruns(app: AppTest) -> None:
    at = app.run()
    saved = at.session_state["cmd_views"]
    (key, view), = saved.items()
    view.zoom = 13.5  # as if the wall's view had been zoomed
    at.segmented_control(key="cmd_measure").set_value("red").run()
    assert not at.exception, at.exception
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert deck["initialViewState"]["zoom"] == 13.5


def test_english_switch(app: AppTest) -> None:
    at = app.run()
    at.segmented_control(key="gw_lang").set_value("en").run()
    assert not at.exception, at.exception
    assert "New today" in kpis(at) and "Timely" in kpis(at)
    assert at.query_params["lang"] == "en"


def test_data_quality_lists_the_demo_dirty_rows(app: AppTest, site: Path) -> None:
    at = app.run()
    at.switch_page(QUALITY).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "数据质量"
    _, snap = settings_and_snapshot(site)
    reasons = set(pd.read_parquet(snap.file("rejected.parquet"))["reason"])
    assert len(reasons) >= 5
    shown = set()
    for frame in (d.value for d in at.dataframe):
        if "原因" in frame.columns:
            shown |= set(frame["原因"])
    assert reasons <= shown
    assert any("坐标为0" in str(v) for d in at.dataframe for v in d.value.to_numpy().ravel())


def test_grid_worker_sees_only_their_scope(app: AppTest, site: Path) -> None:
    at = app.run()
    at.selectbox(key="gw_role").set_value("grid_worker").run()
    assert not at.exception, at.exception
    settings, snap = settings_and_snapshot(site)
    worker = at.selectbox(key="gw_worker").value
    links = pd.read_parquet(snap.file("worker_grids.parquet"))
    grids = set(links.loc[links["worker_id"] == worker, "grid_id"])
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    areas = next(layer for layer in deck["layers"] if layer["id"] == "grids")["data"]["features"]
    names = pd.read_parquet(snap.file("grids.parquet"), columns=["grid_id", "grid_name"])
    assert len(areas) == len(grids) and {f["properties"]["name"] for f in areas} == set(
        names.loc[names["grid_id"].isin(grids), "grid_name"])
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=["grid_id", "status"])
    mine = cases[cases["grid_id"].isin(grids)]
    assert kpis(at)["在办"][0] == fmt_count(mine["status"].isin(sorted(views.OPEN_STATUSES)).sum())
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(QUALITY)  # not in a grid worker's navigation


def test_title_bar_shows_the_sensitive_period(app: AppTest, site: Path) -> None:
    _, snap = settings_and_snapshot(site)
    path = snap.file(snapshots.MANIFEST)
    original = path.read_text(encoding="utf-8")
    try:
        snapshots.write_manifest(snap.path, {**json.loads(original), "sensitive_period": "春节"})
        at = app.run()
        assert not at.exception, at.exception
        assert any("【重点时期】春节" in h.value for h in at.html)
    finally:
        path.write_text(original, encoding="utf-8")


def test_page_url_paths_differ_from_file_stems() -> None:
    """AppTest (and legacy multipage apps) would run pages/<stem>.py without app.py otherwise."""
    import re

    source = Path(APP).read_text(encoding="utf-8")
    specs = re.findall(r'PageSpec\("pages/([^"]+)\.py", "[^"]+", "[^"]+", "[^"]+", "([^"]+)"', source)
    assert len(specs) == source.count('PageSpec("pages/') >= 6  # every registered page matched
    assert all(stem != url for stem, url in specs), specs
