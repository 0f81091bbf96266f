"""排查 cadence per level from the config ([inspections]), and the due dates the 网格工作台 shows from it."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, views
from dashboard.settings import load_settings, settings_from_dict
from view_fixtures import build_view_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
WORKBENCH = "pages/workbench.py"
CHECK = re.compile(r"<b>(?P<grid>[^<]*)</b> <span class=\"m\">[^<]*<br/>上次 (?P<last>\S+) · 每 (?P<days>\d+) 天 · "
                   r".*?期限 (?P<due>\d{4}-\d\d-\d\d)")


def test_level_and_cadence_follow_the_config() -> None:
    s = settings_from_dict({"inspections": {"village_days": 7, "township_units": ["T1"], "district_units": ["C9"]}})
    level = views.inspection_level
    assert level(s, grid_id="G1", community_id="C1", township_id="T2") == "village"
    assert level(s, grid_id="G1", community_id="C1", township_id="T1") == "township"  # by its township
    assert level(s, grid_id="G1", community_id="C9", township_id="T1") == "district"  # district wins
    assert level(s, grid_id="C9", community_id=None, township_id=float("nan")) == "district"
    assert [views.inspection_cadence(s, lv) for lv in views.INSPECTION_LEVELS] == [7, 15, 30]
    defaults = settings_from_dict({})
    assert [views.inspection_cadence(defaults, lv) for lv in views.INSPECTION_LEVELS] == [10, 15, 30]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("inspections"))  # its own: the test rewrites the config


def shown_checks(at: AppTest) -> dict[str, tuple[str, int, str]]:
    """grid name -> (last 排查, cadence days, due date) as the 排查到期 cards show them."""
    out = {}
    for block in (h.value for h in at.html):
        for m in CHECK.finditer(block):
            out[html.unescape(m["grid"])] = (m["last"], int(m["days"]), m["due"])
    return out


def test_changing_the_config_changes_the_due_dates(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    settings = load_settings(site)
    snap = snapshots.open_current(settings.data_path)
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.selectbox(key="gw_role").set_value("grid_worker").run()
    at.switch_page(WORKBENCH).run()
    assert not at.exception, at.exception
    worker = at.selectbox(key="gw_worker").value
    links = pd.read_parquet(snap.file("worker_grids.parquet"))
    grids = pd.read_parquet(snap.file("grids.parquet"), columns=["grid_id", "grid_name"])
    mine = grids[grids["grid_id"].isin(set(links.loc[links["worker_id"] == worker, "grid_id"]))]
    assert len(mine) >= 2 and mine["grid_name"].is_unique
    done = pd.read_parquet(snap.file("inspections.parquet"), columns=["grid_id", "inspected_at"])
    local = pd.to_datetime(done["inspected_at"], utc=True).dt.tz_convert(settings.timezone).dt.date
    last = local.groupby(done["grid_id"]).max()

    def due(grid_id: str, days: int) -> str:
        return str(last[grid_id] + dt.timedelta(days=days))

    shown = shown_checks(at)
    assert set(shown) == set(mine["grid_name"])
    for gid, name in zip(mine["grid_id"], mine["grid_name"], strict=True):  # default: every grid is 村/社区 level
        assert shown[name] == (str(last[gid]), 10, due(gid, 10))

    first, second = mine.iloc[0], mine.iloc[1]
    with site.open("a", encoding="utf-8") as cfg:
        cfg.write(f'[inspections]\nvillage_days = 7\ndistrict_units = ["{second["grid_id"]}"]\n')
    at.run()  # the config is read again on every run
    assert not at.exception, at.exception
    shown = shown_checks(at)
    assert shown[first["grid_name"]] == (str(last[first["grid_id"]]), 7, due(first["grid_id"], 7))
    assert shown[second["grid_name"]] == (str(last[second["grid_id"]]), 30, due(second["grid_id"], 30))
    overdue = sum(1 for gid in mine["grid_id"] for days in [7 if gid != second["grid_id"] else 30]
                  if dt.date.fromisoformat(due(gid, days)) <= views.snapshot_today(snap, settings))
    assert any(f"排查 {overdue} 个网格" in m.value for m in at.markdown)  # the header's due count follows
