"""AppTest of the 网格工作台 and 热点追踪 pages on a small demo snapshot (3,000 cases, 80 grids)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import appdb, snapshots, views
from dashboard.settings import load_settings
from view_fixtures import app_test, build_view_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
WORKBENCH = "pages/workbench.py"
HOTSPOTS = "pages/hotspots.py"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("work"))


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def page_text(at: AppTest) -> str:
    parts = [h.value for h in at.html] + [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.label for e in at.expander] + [t.value for t in at.title] + [s.value for s in at.subheader]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_workbench_is_the_grid_workers_page_and_stays_in_their_grids(app: AppTest, site: Path) -> None:
    at = app.run()
    at.selectbox(key="gw_role").set_value("grid_worker").run()
    at.switch_page(WORKBENCH).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "网格工作台"
    settings = load_settings(site)
    snap = snapshots.open_current(settings.data_path)
    worker = at.selectbox(key="gw_worker").value
    links = pd.read_parquet(snap.file("worker_grids.parquet"))
    grids = set(links.loc[links["worker_id"] == worker, "grid_id"])
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=["case_id", "grid_id", "status"])
    mine = cases[cases["grid_id"].isin(grids)]
    others = set(cases.loc[~cases["grid_id"].isin(grids), "case_id"])

    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    points = next(layer for layer in deck["layers"] if layer["id"] == "cases")["data"]
    shown_ids = {p["case_id"] for p in points}
    assert shown_ids and shown_ids <= set(mine["case_id"])
    areas = next(layer for layer in deck["layers"] if layer["id"] == "grids")["data"]["features"]
    assert len(areas) == len(grids)
    text = page_text(at) + at.get("deck_gl_json_chart")[0].proto.json
    assert not [c for c in others if c in text]
    open_mine = mine["status"].isin(sorted(views.OPEN_STATUSES)).sum()
    assert any(f"在办事项（{open_mine} 件）" == s.value for s in at.subheader)
    assert any("排查到期" == s.value for s in at.subheader)

    # the page a grid worker starts on
    fresh = AppTest.from_file(APP, default_timeout=90)
    fresh.session_state["gw_role"] = "grid_worker"
    fresh.run()
    assert not fresh.exception, fresh.exception
    assert fresh.title[0].value == "网格工作台"


def test_hotspots_acknowledge_changes_the_state_and_history(app: AppTest, site: Path) -> None:
    at = app.run()
    at.switch_page(HOTSPOTS).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "热点追踪"
    assert at.dataframe and at.get("deck_gl_json_chart")
    settings = load_settings(site)
    db = appdb.open_app_db(settings)
    try:
        new = appdb.current_alerts(db)
        new = new[new["state"] == "new"]
        assert len(new)
        at.multiselect(key="hs_state").set_value(["new"]).run()
        alert_id = at.selectbox(key="hs_pick").value
        assert alert_id in set(new["alert_id"])
        at.button(key="hs_acknowledge").click().run()
        assert not at.exception, at.exception
        assert appdb.get_alert(db, alert_id)["state"] == "acknowledged"
        assert [e.action for e in appdb.history(db, alert_id)][-1] == "acknowledge"
        at.multiselect(key="hs_state").set_value([]).run()
        at.selectbox(key="hs_pick").set_value(alert_id).run()
        assert not at.exception, at.exception
        shown = next(d.value for d in at.dataframe if "动作" in d.value.columns)
        assert "签收" in set(shown["动作"])
        assert any("已签收" in m.value for m in at.markdown)
        assert at.get("button") and not any(b.key == "hs_acknowledge" for b in at.button)
    finally:
        db.close()
