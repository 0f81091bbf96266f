"""The 指挥大屏 wall display in headless Chromium at 1920×1080 (?screen=1) on a small demo snapshot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser import canvas_nonblank, outside_requests, platform_fonts, streamlit_server
from view_fixtures import build_view_site

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parent.parent


def test_command_screen_wall_display(tmp_path: Path, browser_page: Page) -> None:
    cfg = build_view_site(tmp_path / "site")
    page = browser_page
    page.set_viewport_size({"width": 1920, "height": 1080})
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with streamlit_server(ROOT / "app.py", env={"GRIDWATCH_CONFIG": str(cfg)}, cwd=ROOT) as base_url:
        page.goto(f"{base_url}/?screen=1")
        page.get_by_role("heading", name="新城区信访态势").wait_for(timeout=60_000)
        page.wait_for_selector("#deckgl-overlay", timeout=30_000)
        assert canvas_nonblank(page, "#deckgl-overlay", timeout=20), "the map drew no grids"
        page.get_by_text("及时受理率").first.wait_for(timeout=10_000)
        page.get_by_text("示例数据").first.wait_for(timeout=10_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                               timeout=20_000)
        page.wait_for_timeout(1500)  # let the charts finish their first draw
        shot = Path(os.environ.get("GRIDWATCH_SCREENSHOTS", tmp_path)) / "command_screen_1920x1080.png"
        page.screenshot(path=str(shot))

        assert "WenQuanYi Micro Hei" in platform_fonts(page, "h1")
        assert not page.locator('[data-testid="stSidebar"]').is_visible()  # wall display: no chrome
        assert not page.locator('[data-testid="stToolbar"]').is_visible()
        # Everything fits on one 1080-pixel screen: the last panel ends above the fold.
        bottom = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
            '[data-testid="stVegaLiteChart"]')].map(e => e.getBoundingClientRect().bottom))""")
        assert bottom <= 1080, f"content runs below the screen ({bottom:.0f} px)"
        assert errors == []
        assert f"{base_url}/app/static/blank-style.json" in page.requests_seen
        assert outside_requests(page) == []
