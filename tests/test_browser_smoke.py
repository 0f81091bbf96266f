"""Smoke test of the browser harness on a tiny app: offline map style, WebGL polygons, CJK text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser import canvas_nonblank, outside_requests, platform_fonts, streamlit_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

TITLE = "网格信访态势监测"
BLANK_STYLE = {"version": 8, "sources": {},
               "layers": [{"id": "bg", "type": "background",
                           "paint": {"background-color": "#0b1a2b"}}]}
APP = '''
import pydeck as pdk
import streamlit as st

st.title("%s")
square = [[116.38, 39.89], [116.41, 39.89], [116.41, 39.92], [116.38, 39.92], [116.38, 39.89]]
geojson = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
           "geometry": {"type": "Polygon", "coordinates": [square]}}]}
layer = pdk.Layer("GeoJsonLayer", geojson, filled=True, get_fill_color=[230, 60, 60, 220])
# A relative URL works: the map fetches it from the page's own origin (Streamlit static serving).
st.pydeck_chart(pdk.Deck(layers=[layer], map_style="/app/static/blank-style.json",
                         initial_view_state=pdk.ViewState(longitude=116.395, latitude=39.905,
                                                          zoom=11)), height=400)
''' % TITLE


def _write_app(root: Path) -> Path:
    (root / ".streamlit").mkdir()
    (root / ".streamlit" / "config.toml").write_text("[server]\nenableStaticServing = true\n")
    (root / "static").mkdir()
    (root / "static" / "blank-style.json").write_text(json.dumps(BLANK_STYLE))
    app = root / "app.py"
    app.write_text(APP, encoding="utf-8")
    return app


def test_map_renders_offline_with_chinese_text(tmp_path: Path, browser_page: Page) -> None:
    app = _write_app(tmp_path)
    with streamlit_server(app, env={}, cwd=tmp_path) as base_url:
        page = browser_page
        page.goto(base_url)
        title = page.get_by_role("heading", name=TITLE)
        title.wait_for(timeout=30_000)
        page.wait_for_selector("#deckgl-overlay", timeout=30_000)
        assert canvas_nonblank(page, "#deckgl-overlay", timeout=20), "deck.gl drew nothing"
        page.screenshot(path=str(tmp_path / "smoke.png"))

        assert "WenQuanYi Micro Hei" in platform_fonts(page, "h1"), "no CJK font for the title"
        assert f"{base_url}/app/static/blank-style.json" in page.requests_seen
        assert any(u.startswith("ws://127.0.0.1") for u in page.requests_seen)
        assert outside_requests(page) == []
