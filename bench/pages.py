"""Benchmark the pages at N cases × M grids (issue #5).

Budgets:
- server-side time of each page's warm rerun ≤ 0.3 s (AppTest: the second run of the same session,
  caches warm; AppTest's own overhead is included, so this is an upper bound);
- deck JSON sent for the county map (指挥大屏) ≤ 2 MB;
- reported: first-map-paint time in headless Chromium (navigation → a non-blank map canvas) against
  the time a plain Streamlit page takes to show its title, same run, same machine.
Run: .venv/bin/python bench/pages.py [--cases 1000000] [--grids 10000] [--data DIR] [--no-browser]
(--data reuses the folder of bench/refresh.py when it already holds a snapshot.)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # browser helpers (Streamlit server, Chromium)

APP = ROOT / "app.py"
# The role each page is measured for: the one it is built for.
ROLE_OF = {"pages/workbench.py": "grid_worker", "pages/data_quality.py": "admin", "pages/audit.py": "admin"}
WARM_BUDGET_S = 0.3
DECK_BUDGET_MB = 2.0


def page_files() -> list[str]:
    """The registered pages, in navigation order (read from app.py's PAGES)."""
    return re.findall(r'PageSpec\("(pages/[^"]+\.py)"', APP.read_text(encoding="utf-8"))


def prepare(args: argparse.Namespace) -> Path:
    """A config whose data folder holds a current snapshot of the demo at the requested size."""
    from dashboard import snapshots
    from dashboard.pipeline import refresh
    from dashboard.settings import load_settings
    from refresh import demo_site  # bench/refresh.py

    config = demo_site(args.data, cases=args.cases, grids=args.grids)
    settings = load_settings(config)
    try:
        snapshots.open_current(settings.data_path)
    except Exception:  # noqa: BLE001 - no snapshot yet: build one
        t0 = time.perf_counter()
        refresh(settings, wait_s=600)
        print(f"refreshed in {time.perf_counter() - t0:.1f}s")
    return config


def time_pages(config: Path) -> list[tuple[str, str, float, float, int]]:
    """(page, role, cold s, warm s, deck JSON bytes) per page, each in its own AppTest session."""
    from streamlit.testing.v1 import AppTest

    os.environ["GRIDWATCH_CONFIG"] = str(config)
    rows = []
    for page in page_files():
        role = ROLE_OF.get(page, "office")
        at = AppTest.from_file(str(APP), default_timeout=600)
        at.session_state["gw_role"] = role
        at.switch_page(page)
        t0 = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t0
        if at.exception:
            raise SystemExit(f"{page} as {role} raised: {at.exception}")
        t0 = time.perf_counter()
        at.run()
        warm = time.perf_counter() - t0
        decks = at.get("deck_gl_json_chart")
        deck_bytes = max((len(d.proto.json.encode()) for d in decks), default=0)
        rows.append((page, role, cold, warm, deck_bytes))
    return rows


PLAIN_APP = 'import streamlit as st\nst.title("普通页面")\nst.write("没有地图的 Streamlit 页面。")\n'


def first_paint(config: Path) -> tuple[float, float, float]:
    """Seconds to a non-blank map on the command screen (first visit, then a second visit) and to
    the title of a plain Streamlit page, in headless Chromium."""
    import browser as b

    env = {"GRIDWATCH_CONFIG": str(config), "GRIDWATCH_NO_SCHEDULER": "1"}
    gen = b.launch_browser()
    chromium = next(gen)
    try:
        with b.streamlit_server(APP, env=env, cwd=ROOT) as url:
            times = []
            for _ in range(2):
                page_gen = b.open_page(chromium)
                page = next(page_gen)
                page.set_viewport_size({"width": 1920, "height": 1080})
                t0 = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.wait_for_selector("[data-testid='stDeckGlJsonChart'] canvas", timeout=600_000)
                if not b.canvas_nonblank(page, "[data-testid='stDeckGlJsonChart']", timeout=600):
                    raise SystemExit("the command screen's map stayed blank")
                times.append(time.perf_counter() - t0)
                page_gen.close()
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "plain.py"
            plain.write_text(PLAIN_APP, encoding="utf-8")
            with b.streamlit_server(plain) as url:
                page_gen = b.open_page(chromium)
                page = next(page_gen)
                t0 = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.get_by_text("普通页面").first.wait_for(timeout=120_000)
                plain_s = time.perf_counter() - t0
                page_gen.close()
    finally:
        gen.close()
    return times[0], times[1], plain_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--data", type=Path, help="folder to build into / reuse (default: a temp dir)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium first-paint measurement")
    args = ap.parse_args()
    os.environ["GRIDWATCH_NO_SCHEDULER"] = "1"
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridwatch-bench-")
        args.data = Path(tmp.name)
    config = prepare(args)
    rows = time_pages(config)
    paint = None if args.no_browser else first_paint(config)

    print(f"\npages on the snapshot in {config.parent / 'data'}")
    print(f"{'page':<30} {'role':<12} {'cold':>7} {'warm':>7}  {'deck JSON':>10}")
    for page, role, cold, warm, deck in rows:
        verdict = "within" if warm <= WARM_BUDGET_S else "OVER"
        print(f"{page:<30} {role:<12} {cold:6.2f}s {warm:6.3f}s  {deck / 1e6:8.2f} MB   warm ≤ {WARM_BUDGET_S}s {verdict}")
    county = next(deck for page, _, _, _, deck in rows if page == "pages/command_screen.py")
    verdict = "within" if county / 1e6 <= DECK_BUDGET_MB else "OVER"
    print(f"\ndeck JSON of the county map (指挥大屏) {county / 1e6:.2f} MB  budget ≤ {DECK_BUDGET_MB} MB  {verdict}")
    if paint is not None:
        first, second, plain = paint
        print(f"first map paint in Chromium: first visit {first:.2f}s, second visit {second:.2f}s; "
              f"plain Streamlit page {plain:.2f}s (ratio {second / plain:.1f}× on the second visit)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
