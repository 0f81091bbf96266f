"""Benchmark the refresh pipeline at N cases × M grids, side by side with the reference operations.

Budgets (issue #3), all measured in the same run:
- full refresh from the SQLite demo ≤ 1.0× pandas.read_sql (SQLAlchemy) of the cases table alone;
- assignment step ≤ 0.8× geopandas.sjoin(predicate="within") of the same points and grids;
- incremental refresh with 1 % of cases changed ≤ 0.3× the full refresh (aim 0.1×);
- peak RSS of the refresh process ≤ 2.5 GB at 1M.
Run: .venv/bin/python bench/refresh.py [--cases 1000000] [--grids 10000] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs in a fresh interpreter so that its peak RSS is the refresh's own.
CHILD = """
import json, sys, time
from dashboard.pipeline import refresh
from dashboard.settings import load_settings
settings = load_settings(sys.argv[1])
t0 = time.perf_counter()
snap = refresh(settings, full=sys.argv[2] == "full", wait_s=600)
seconds = time.perf_counter() - t0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve, so a child would report its parent's peak.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_rss_mb": hwm / 1024,
                  "durations": snap.manifest["durations"], "batch_rows": snap.manifest.get("batch_rows"),
                  "incremental": snap.manifest.get("incremental"), "version": snap.version}))
"""


def run_refresh(config: Path, kind: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(config), kind], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"refresh failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_read_sql(db: Path) -> float:
    engine = sa.create_engine(f"sqlite:///{db}")
    t0 = time.perf_counter()
    with engine.connect() as conn:
        frame = pd.read_sql("SELECT * FROM cases", conn)
    seconds = time.perf_counter() - t0
    engine.dispose()
    del frame
    return seconds


def time_assignment(data_dir: Path) -> tuple[float, float, int]:
    """Our assign step vs geopandas.sjoin(within) on the snapshot's points and grids."""
    import geopandas as gpd

    from dashboard import snapshots
    from geo.assign import assign_cases

    snap = snapshots.open_current(data_dir)
    grids = snapshots.read_table(snap, "grids")
    cases = snapshots.read_table(snap, "cases", ["lon", "lat", "source_grid_id", "source_township_id"])
    cases = cases.rename(columns={"source_grid_id": "grid_id", "source_township_id": "township_id"})
    t0 = time.perf_counter()
    assign_cases(cases, grids)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(cases["lon"], cases["lat"]), crs="EPSG:4326")
    gpd.sjoin(pts, grids[["grid_id", "geometry"]], predicate="within", how="left")
    theirs = time.perf_counter() - t0
    return ours, theirs, len(cases)


def change_one_percent(db: Path) -> int:
    """Advance 1 % of cases (status and updated_at), as a day of work in the source system would."""
    stamp = pd.Timestamp.now(tz="Asia/Shanghai").strftime("%Y-%m-%d %H:%M:%S")
    con = sqlite3.connect(db)
    n = con.execute("UPDATE cases SET status = CASE WHEN status = 'handling' THEN 'replied' ELSE status END, "
                    "updated_at = ? WHERE rowid % 100 = 7", (stamp,)).rowcount
    con.commit()
    con.close()
    return n


def demo_site(data: Path, *, cases: int, grids: int) -> Path:
    """`data`/demo holding demo sources of the given size (built when absent) and `data`/gridwatch.toml
    pointing at them; returns the config path. Shared by the benchmarks."""
    from dashboard.demo_data import build_demo, demo_exists

    demo = data / "demo"
    if not demo_exists(demo):
        t0 = time.perf_counter()
        build_demo(demo, cases=cases, grids=grids)
        print(f"built demo sources in {time.perf_counter() - t0:.1f}s")
    config = data / "gridwatch.toml"
    config.write_text('data_dir = "data"\n[demo]\nenabled = true\nlive_feed = false\n'
                      '[sources.grid]\nurl = "sqlite:///demo/grid.sqlite"\n'
                      '[sources.case]\nurl = "sqlite:///demo/case.sqlite"\n', encoding="utf-8")
    return config


def line(label: str, value: float, budget: float, unit: str = "×") -> str:
    verdict = "within" if value <= budget else "OVER"
    return f"{label:<48} {value:8.3f}{unit}  budget ≤ {budget}{unit}  {verdict}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--data", type=Path, help="folder to build into / reuse (default: a temp dir)")
    args = ap.parse_args()
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridwatch-bench-")
        args.data = Path(tmp.name)
    config = demo_site(args.data, cases=args.cases, grids=args.grids)
    demo = args.data / "demo"
    case_db = demo / "case.sqlite"

    read_sql = time_read_sql(case_db)
    full = run_refresh(config, "full")
    ours, sjoin, n_points = time_assignment(args.data / "data")
    changed = change_one_percent(case_db)
    inc = run_refresh(config, "incremental")
    if not inc["incremental"]:
        raise SystemExit("the second refresh was not incremental")

    print(f"\n{args.cases:,} cases × {args.grids:,} grids")
    print(f"pandas.read_sql of cases        {read_sql:7.2f}s")
    print(f"full refresh                    {full['seconds']:7.2f}s  peak RSS {full['peak_rss_mb']:,.0f} MB")
    print("  steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in full["durations"].items()))
    print(f"assignment ({n_points:,} points)      ours {ours:6.2f}s   geopandas.sjoin(within) {sjoin:6.2f}s")
    print(f"incremental ({changed:,} changed, {inc['batch_rows']:,} rows read) {inc['seconds']:7.2f}s  "
          f"peak RSS {inc['peak_rss_mb']:,.0f} MB")
    print("  steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in inc["durations"].items()))
    print()
    print(line("full refresh / pandas.read_sql(cases)", full["seconds"] / read_sql, 1.0))
    print(line("assignment / geopandas.sjoin(within)", ours / sjoin, 0.8))
    print(line("incremental (1 % changed) / full refresh", inc["seconds"] / full["seconds"], 0.3))
    print(line("peak RSS of the full refresh (GB)", full["peak_rss_mb"] / 1024, 2.5, " GB"))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
