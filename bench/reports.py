"""Benchmark the county weekly bulletin (周通报) at N cases (issue #7).

Budget: building the county 周通报 DOCX from the current snapshot — the report model, the choropleth map
image and the Word file — in ≤ 5 s with cold caches (a fresh process, as `gridwatch export` runs).
Also reported: the same report as XLSX, and the monthly analysis (月分析) DOCX.

Run: .venv/bin/python bench/reports.py [--data DIR] [--cases 1000000] [--grids 10000]
--data reuses a folder holding gridwatch.toml and a current snapshot (e.g. /tmp/gwbench from
bench/refresh.py); without a snapshot there, the demo is built and refreshed at the given size first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_S = 5.0


def prepare(args: argparse.Namespace) -> Path:
    """A config whose data folder holds a current snapshot (built at the requested size when missing)."""
    from dashboard import snapshots
    from dashboard.demo_data import build_demo, demo_exists
    from dashboard.pipeline import refresh
    from dashboard.settings import load_settings
    from loaders.errors import GridwatchError

    config = args.data / "gridwatch.toml"
    if not config.exists():
        config.write_text('data_dir = "data"\n[demo]\nenabled = true\nlive_feed = false\n'
                          '[refresh]\nin_app_scheduler = false\n'
                          '[sources.grid]\nurl = "sqlite:///demo/grid.sqlite"\n'
                          '[sources.case]\nurl = "sqlite:///demo/case.sqlite"\n', encoding="utf-8")
    settings = load_settings(config)
    try:
        snapshots.open_current(settings.data_path)
        return config
    except GridwatchError:
        pass
    demo = args.data / "demo"
    if not demo_exists(demo):
        t0 = time.perf_counter()
        build_demo(demo, cases=args.cases, grids=args.grids)
        print(f"built demo sources in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    refresh(settings, full=True)
    print(f"refreshed in {time.perf_counter() - t0:.1f}s")
    return config


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    dt_s = time.perf_counter() - t0
    print(f"  {label:<34}{dt_s:7.2f} s")
    return out, dt_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder with gridwatch.toml and a snapshot")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None, help="folder for the files (default: a temp folder)")
    args = parser.parse_args()
    args.data = args.data or Path(tempfile.mkdtemp(prefix="gw-reports-"))
    config = prepare(args)

    from dashboard import reports, snapshots, views
    from dashboard.settings import load_settings
    from dashboard.viewer import make_viewer

    settings = load_settings(config)
    snap = snapshots.open_current(settings.data_path)
    cases = snap.manifest.get("row_counts", {}).get("cases", 0)
    grids = snap.manifest.get("row_counts", {}).get("grids", 0)
    print(f"snapshot {snap.version}: {cases:,} cases, {grids:,} grids")
    today = views.snapshot_today(snap, settings)
    office = make_viewer(["office"], name="bench")
    out = args.out or Path(tempfile.mkdtemp(prefix="gw-report-files-"))

    print("county 周通报 (cold caches):")
    week = reports.ReportRequest(reports.report_period("week", today=today))
    t_total = time.perf_counter()
    report, t_model = timed("model incl. map image", lambda: reports.build_report(office, snap, settings, week))
    data, t_docx = timed("DOCX", lambda: reports.write_docx(report, settings=settings))
    total = time.perf_counter() - t_total
    (out / report.filename("docx")).write_bytes(data)
    _, t_map = timed("(map image alone, warm)", lambda: reports.render_map(
        office, snap, settings, week.unit, week.period.start, week.period.end))
    xlsx, t_xlsx = timed("XLSX of the same report", lambda: reports.write_xlsx(report))
    (out / report.filename("xlsx")).write_bytes(xlsx)
    month = reports.ReportRequest(reports.report_period("month", today=today))
    monthly, _ = timed("county 月分析 model (warm)", lambda: reports.build_report(office, snap, settings, month))
    timed("月分析 DOCX", lambda: reports.write_docx(monthly, settings=settings))
    verdict = "OK" if total <= BUDGET_S else "OVER BUDGET"
    print(f"county weekly bulletin DOCX incl. map: {total:.2f} s (budget {BUDGET_S:.0f} s) {verdict}; "
          f"{len(data):,} bytes → {out}")
    return 0 if total <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
