"""The real app in headless Chromium (1280×800, with sidebar): the command screen's map draws polygons, Chinese
text renders, nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser import canvas_nonblank, outside_requests, platform_fonts, streamlit_server
from canonical import fixture_site
from dashboard.pipeline import refresh
from dashboard.settings import load_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parent.parent


def test_command_screen_map_in_chromium(tmp_path: Path, browser_page: Page) -> None:
    cfg = fixture_site(tmp_path)
    refresh(load_settings(cfg))
    with streamlit_server(ROOT / "app.py", env={"GRIDWATCH_CONFIG": str(cfg)}, cwd=ROOT) as base_url:
        page = browser_page
        page.goto(base_url)
        page.get_by_role("heading", name="测试区信访态势").wait_for(timeout=30_000)
        page.wait_for_selector("#deckgl-overlay", timeout=30_000)
        assert canvas_nonblank(page, "#deckgl-overlay", timeout=20), "the map drew no polygons"
        page.get_by_text("示例数据").first.wait_for(timeout=10_000)
        shot = Path(os.environ.get("GRIDWATCH_SCREENSHOTS", tmp_path)) / "command_screen_1280.png"
        page.screenshot(path=str(shot))
        assert "WenQuanYi Micro Hei" in platform_fonts(page, "h1")
        assert f"{base_url}/app/static/blank-style.json" in page.requests_seen
        assert outside_requests(page) == []
