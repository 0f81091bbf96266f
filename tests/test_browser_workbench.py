"""The 网格工作台 on a phone (390×844) in headless Chromium, as a grid worker picked in the demo sidebar;
and the 指挥大屏 map keeping the user's zoom when the period filter changes. Screenshots go to
$GRIDWATCH_SCREENSHOTS or the test's temp dir."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser import _HIDE_MAP_OVERLAYS, canvas_nonblank, outside_requests, platform_fonts, streamlit_server
from view_fixtures import build_view_site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parent.parent
PHONE = {"width": 390, "height": 844}
SLACK_PX = 4  # sub-pixel rounding of scrollbars and borders
MAP = "#deckgl-overlay"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg = build_view_site(tmp_path_factory.mktemp("wb-site"))
    with streamlit_server(ROOT / "app.py", env={"GRIDWATCH_CONFIG": str(cfg)}, cwd=ROOT) as url:
        yield url


def shots_dir(tmp_path: Path) -> Path:
    path = Path(os.environ.get("GRIDWATCH_SCREENSHOTS", tmp_path))
    path.mkdir(parents=True, exist_ok=True)
    return path


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def full_screenshot(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside stMain, so the viewport is made as tall as the content."""
    size = page.viewport_size or PHONE
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(int(height), 12_000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def wider_than(page: Page, width: int) -> list[str]:
    """Elements of the app reaching past `width` px (test id or class, and their right edge)."""
    return page.evaluate("""(width) => [...document.querySelectorAll('[data-testid="stMain"] *')]
        .filter(e => e.getBoundingClientRect().right > width)
        .map(e => (e.getAttribute('data-testid') || e.className || e.tagName) + ' @' +
                  Math.round(e.getBoundingClientRect().right))""", width)


def test_workbench_on_a_phone_as_a_grid_worker(tmp_path: Path, browser_page: Page, base_url: str) -> None:
    page = browser_page
    page.set_viewport_size(PHONE)
    errors = collect_errors(page)
    page.goto(f"{base_url}/")
    # No URL picks the demo identity: open the sidebar (collapsed on a phone) and pick 网格员 there.
    page.get_by_test_id("stExpandSidebarButton").click()
    side = page.get_by_test_id("stSidebar")
    side.locator(".st-key-gw_role [data-testid='stSelectbox']").click()
    page.get_by_role("option", name="网格员").click()
    side.get_by_text(re.compile(r"可见范围：\d+ 个网格")).wait_for(timeout=30_000)  # their grids, not 全辖区
    side.get_by_test_id("stSidebarNavLink").filter(has_text="网格工作台").click()
    page.get_by_role("heading", name="网格工作台").wait_for(timeout=30_000)
    if not page.get_by_test_id("stExpandSidebarButton").is_visible():
        side.get_by_test_id("stSidebarCollapseButton").locator("button").click()
    page.get_by_test_id("stExpandSidebarButton").wait_for(timeout=10_000)  # the sidebar is out of the way

    page.wait_for_selector(MAP, timeout=30_000)
    assert canvas_nonblank(page, MAP, timeout=20), "the map drew no grids"
    for text in ("我的网格：", "今日到期：", "在办事项", "排查到期"):
        page.get_by_text(text).first.wait_for(timeout=10_000)
    assert page.locator(".gw-card").count() > 0  # the case cards
    page.wait_for_timeout(1000)
    shots = shots_dir(tmp_path)
    page.screenshot(path=str(shots / "workbench_390x844.png"))
    full_screenshot(page, shots / "workbench_390_full.png")

    assert "WenQuanYi Micro Hei" in platform_fonts(page, "h1")  # Chinese drawn with a CJK font, not boxes
    map_box = page.locator(MAP).bounding_box()
    assert map_box is not None and map_box["width"] <= PHONE["width"]
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"] + SLACK_PX
    assert page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollWidth") <= PHONE["width"] + SLACK_PX
    assert wider_than(page, PHONE["width"] + SLACK_PX) == []
    assert errors == []
    assert f"{base_url}/app/static/blank-style.json" in page.requests_seen  # type: ignore[attr-defined]
    assert outside_requests(page) == []


def background_share(page: Page) -> tuple[float, bytes]:
    """Share of the map's pixels in the basemap's colour (taken at a corner), and the screenshot."""
    from PIL import Image

    png = page.locator(MAP).first.screenshot(animations="disabled", style=_HIDE_MAP_OVERLAYS)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img = img.crop((12, 12, img.width - 12, img.height - 12))  # rounded corners
    background = img.getpixel((0, 0))
    counts = dict((colour, n) for n, colour in img.getcolors(maxcolors=img.width * img.height) or [])
    return counts.get(background, 0) / (img.width * img.height), png


def test_map_keeps_its_zoom_when_the_period_changes(tmp_path: Path, browser_page: Page, base_url: str) -> None:
    page = browser_page
    errors = collect_errors(page)
    page.goto(f"{base_url}/")
    page.wait_for_selector(MAP, timeout=60_000)
    assert canvas_nonblank(page, MAP, timeout=20)
    page.wait_for_timeout(1500)
    fitted, _ = background_share(page)
    assert fitted > 0.2, "the district should leave blank basemap around it before zooming in"

    box = page.locator(MAP).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(2):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(400)
    page.wait_for_timeout(1200)
    zoomed, before = background_share(page)
    assert zoomed < fitted / 2, "the wheel did not zoom the map in"

    page.get_by_test_id("stSidebar").locator(".st-key-gw_period [data-testid='stSelectbox']").click()
    page.get_by_role("option", name="近7日").click()
    page.wait_for_function("() => location.search.includes('period=7d')", timeout=20_000)
    page.get_by_text("近7日（").first.wait_for(timeout=20_000)  # the page has rerun with the new period
    page.wait_for_timeout(2000)
    kept, after = background_share(page)
    shots = shots_dir(tmp_path)
    (shots / "command_zoomed.png").write_bytes(before)
    (shots / "command_zoomed_7d.png").write_bytes(after)
    assert before != after, "the map should show the new period's counts"
    assert abs(kept - zoomed) < 0.05 and kept < fitted / 2, "the period change reset the map's view"
    assert errors == []
    assert outside_requests(page) == []
