"""AppTest of the command screen's map on a snapshot built from the canonical fixture (6 grids, 2 townships)."""

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


def test_map_renders_grids_offline(snapshot_config: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    title = "\n".join(h.value for h in at.html)
    assert "<h1>测试区信访态势</h1>" in title and any("示例数据" in w.value for w in at.warning)
    deck = deck_json(at)
    assert deck["mapStyle"].endswith("/app/static/blank-style.json")
    layers = {layer["id"]: layer for layer in deck["layers"]}
    assert len(layers["grids"]["data"]["features"]) == 6
    assert len(layers["townships"]["data"]["features"]) == 2
    names = layers["township-names"]
    assert "迎新路街道" in json.dumps(names, ensure_ascii=False)
    # pydeck turns bare strings and lists into JS expressions; these must stay literal strings
    assert not names["characterSet"].startswith("@@=") and "迎" in names["characterSet"]
    assert not names["fontFamily"].startswith("@@=")
    tooltip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    assert "{name}" in tooltip["html"] and "{shown}" in tooltip["html"]

    at.segmented_control(key="cmd_measure").set_value("open").run()  # open cases: a state, not dated
    assert not at.exception, at.exception
    grids = {f["properties"]["name"]: f["properties"] for f in
             next(x for x in deck_json(at)["layers"] if x["id"] == "grids")["data"]["features"]}
    assert grids["第2网格"]["value"] == 1 and grids["第6网格"]["value"] == 1  # C002 handling, C003 accepted
    assert grids["第5网格"]["value"] == 1  # C004 registered, placed by its grid code
    assert grids["第1网格"]["value"] == 0 and grids["第4网格"]["value"] == 0  # C001 is closed

    at.segmented_control(key="cmd_level").set_value("township").run()
    towns = next(x for x in deck_json(at)["layers"] if x["id"] == "grids")["data"]["features"]
    assert {f["properties"]["name"]: f["properties"]["value"] for f in towns} == {"迎新路街道": 1, "保合少镇": 2}


def test_measure_switch_keeps_map_view(snapshot_config: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    before = deck_json(at)["initialViewState"]
    (view,) = at.session_state["cmd_views"].values()
    view.zoom = 13.5  # as if the user had zoomed in
    at.segmented_control(key="cmd_measure").set_value("rate").run()
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
