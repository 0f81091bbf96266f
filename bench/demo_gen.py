"""Benchmark: build the embedded demo sources (grid DB, case DB, truth file) at scale.

Budget: 1,000,000 cases on 10,000 grids in ≤ 90 s wall clock, SQLite writing included.
Run: .venv/bin/python bench/demo_gen.py [--cases 1000000] [--grids 10000] [--seed 20261122]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.demo_data import build_demo  # noqa: E402

BUDGET_S = 90.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="synthetic cases (default 1000000)")
    parser.add_argument("--grids", type=int, default=10_000, help="synthetic grids (default 10000)")
    parser.add_argument("--seed", type=int, default=20261122, help="random seed")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None,
                        help="last day of the window, YYYY-MM-DD (default today, Asia/Shanghai)")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds allowed (default 90)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gridwatch-demo-bench-") as tmp:
        t0 = time.perf_counter()
        info = build_demo(Path(tmp) / "demo", cases=args.cases, grids=args.grids, seed=args.seed,
                          end=args.end)
        total = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size / 1e6 for p in (info.grid_db, info.case_db, info.truth_path)}

    print(f"demo build: {args.cases:,} cases, {args.grids:,} grids, {info.district_name}, end {info.end}")
    for phase, seconds in info.timings.items():
        print(f"  {phase:<22}{seconds:8.2f} s")
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in info.counts.items()))
    print("  files: " + ", ".join(f"{k} {v:.1f} MB" for k, v in sizes.items()))
    verdict = "OK" if total <= args.budget else "OVER BUDGET"
    print(f"total {total:.2f} s (budget {args.budget:.0f} s): {verdict}")
    return 0 if total <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
