"""AppTest smoke test of the overview map page on a snapshot built from the canonical fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from canonical import fixture_site
from dashboard.pipeline import refresh
from dashboard.settings import load_settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def snapshot_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = fixture_site(tmp_path)
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(cfg))
    refresh(load_settings(cfg))
    return cfg


def deck_json(at: AppTest) -> dict:
    return json.loads(at.get("deck_gl_json_chart")[0].proto.json)


def test_map_page_renders_grids_offline(snapshot_config: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert "测试区" in at.title[0].value and "网格信访态势监测" in at.title[0].value
    assert any("示例数据" in w.value for w in at.warning)
    deck = deck_json(at)
    assert deck["mapStyle"].endswith("/app/static/blank-style.json")
    layers = {layer["id"]: layer for layer in deck["layers"]}
    grids = layers["grids"]["data"]["features"]
    assert len(grids) == 6
    by_name = {f["properties"]["grid_name"]: f["properties"] for f in grids}
    assert by_name["第1网格"]["cases"] == 1 and by_name["第2网格"]["cases"] == 1
    assert by_name["第6网格"]["cases"] == 1 and by_name["第5网格"]["cases"] == 1  # C004 by grid code
    assert by_name["第4网格"]["cases"] == 0
    assert len(layers["townships"]["data"]["features"]) == 2
    names = layers["township-names"]
    assert "迎新路街道" in json.dumps(names, ensure_ascii=False)
    # pydeck turns bare strings and lists into JS expressions; these must stay literal strings
    assert not names["characterSet"].startswith("@@=") and "迎" in names["characterSet"]
    assert not names["fontFamily"].startswith("@@=")
    tooltip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    assert "{grid_name}" in tooltip["html"]


def test_measure_switch_keeps_map_view(snapshot_config: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    before = deck_json(at)["initialViewState"]
    at.session_state["map_view"].zoom = 13.5  # as if the user had zoomed in
    at.segmented_control(key="measure").set_value("measure_rate").run()
    assert not at.exception
    assert deck_json(at)["initialViewState"]["zoom"] == 13.5
    assert before["longitude"] == deck_json(at)["initialViewState"]["longitude"]


def test_no_snapshot_shows_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "gridwatch.toml"
    cfg.write_text('[sources.grid]\nurl = "sqlite:///grid.sqlite"\n', encoding="utf-8")
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(cfg))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("gridwatch refresh" in i.value for i in at.info)
