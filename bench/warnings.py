"""Seconds for the early-warning detectors against a full refresh, and Gi* against esda (1M cases, 10k grids).

Run: .venv/bin/python bench/warnings.py [--cases N] [--grids N] [--demo-dir DIR] [--skip-refresh]

1. Gi* for all 52 weekly windows at once (geo.hotspots.gi_star on a grids × 52 matrix, weights
   included) against one esda.G_Local(star=True, permutations=0) call for a single week, same
   grids and neighbours; target ratio ≤ 0.2.
2. All detectors (geo.warnings.run_detectors, contiguity weights included) on synthetic numpy
   cases (52 weeks on a square-grid jurisdiction).
3. A full refresh (dashboard.pipeline.refresh) of a demo built with build_demo(cases, grids), then all
   detectors on that snapshot's cases and grids; target: detectors ≤ 25 % of the refresh.
The demo is built in --demo-dir (default /tmp/gridwatch-bench-<cases>-<grids>) and reused when present.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import warnings as py_warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/warnings.py ≠ stdlib
sys.path.insert(0, str(ROOT))

from dashboard.settings import WarningSettings  # noqa: E402
from geo.hotspots import gi_star  # noqa: E402
from geo.warnings import grid_weights, run_detectors  # noqa: E402
from loaders.enums import CATEGORY_NAMES  # noqa: E402

TZ = "Asia/Shanghai"
NOW = pd.Timestamp("2026-11-20 23:00", tz=TZ)
T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    assert out is not None
    return best, out


def square_grids(n: int) -> pd.DataFrame:
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    r, c = i // side, i % side
    geoms = shapely.box(111.5 + c * 0.005, 40.7 + r * 0.005, 111.5 + (c + 1) * 0.005, 40.7 + (r + 1) * 0.005)
    comm, town = i // 12, i // 600
    return pd.DataFrame({
        "grid_id": [f"G{k:06d}" for k in i], "grid_name": [f"第{k % 12 + 1}网格" for k in i],
        "community_id": [f"C{k:05d}" for k in comm], "community_name": [f"{k}社区" for k in comm],
        "township_id": [f"T{k:03d}" for k in town], "township_name": [f"{k}街道" for k in town],
        "population": 1200, "geometry": geoms,
    })


def synthetic_cases(grids: pd.DataFrame, n: int, *, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One year of cases with realistic rates of collective visits, 越级, repeats and red lights."""
    rng = np.random.default_rng(seed)
    w = rng.lognormal(0, 0.5, len(grids))
    g = rng.choice(len(grids), n, p=w / w.sum())
    secs = np.sort(rng.integers(0, 364 * 86_400, n))
    received = (NOW - pd.Timedelta(days=364)).normalize() + pd.to_timedelta(secs, unit="s")
    people = np.where(rng.random(n) < 0.01, rng.integers(5, 40, n), 1)
    people[rng.random(n) < 0.0002] = 60
    level = rng.choice(np.array(["township", "county", "city", "province", "national"], dtype=object), n,
                       p=[0.2, 0.7, 0.0985, 0.001, 0.0005])
    pool = int(n * 0.8)
    key = rng.integers(0, pool, n)
    open_ = rng.random(n) < 0.06
    red = open_ & (rng.random(n) < 0.1)
    cases = pd.DataFrame({
        "case_id": pd.array([f"X{k:08d}" for k in range(n)], dtype="str"),
        "grid_id": pd.array(grids["grid_id"].to_numpy()[g], dtype="str"),
        "community_id": pd.array(grids["community_id"].to_numpy()[g], dtype="str"),
        "township_id": pd.array(grids["township_id"].to_numpy()[g], dtype="str"),
        "received_at": received.astype("datetime64[us, Asia/Shanghai]"),
        "category": pd.array(np.array(CATEGORY_NAMES, dtype=object)[rng.integers(0, 17, n)], dtype="str"),
        "subcategory": pd.array([None] * n, dtype="str"),
        "status": pd.array(np.where(open_, "handling", "closed"), dtype="str"),
        "people_count": pd.array(people, dtype="Int64"),
        "level_visited": pd.array(level, dtype="str"),
        "petitioner_key": pd.array([f"P{k:08d}" for k in key], dtype="str"),
    })
    deadlines = pd.DataFrame({"light": pd.array(np.where(red, "red", np.where(open_, "green", "none")), dtype="str"),
                              "is_backlog": red & (rng.random(n) < 0.5), "next_due": pd.NaT}, index=cases.index)
    return cases, deadlines


def bench_gi_star(grids: pd.DataFrame, settings: WarningSettings, *, weeks: int = 52) -> None:
    import esda
    import libpysal

    weights = grid_weights(grids, settings)
    rng = np.random.default_rng(1)
    x = rng.poisson(2.0, (len(grids), weeks)).astype(float)
    ours, (z, _) = best_of(lambda: gi_star(x, weights), 3)
    neigh = weights.neighbours
    w_ps = libpysal.weights.WSP(neigh.tocsr()).to_W(silence_warnings=True)
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")
        ref_r, _ = best_of(lambda: esda.G_Local(x[:, -1], w_ps, star=True, permutations=0), 3)
        ref_b, g_b = best_of(lambda: esda.G_Local(x[:, -1], w_ps, transform="B", star=True, permutations=0), 3)
    err = float(np.abs(z[:, -1] - g_b.Zs).max())
    print(f"Gi*, {len(grids)} grids: gi_star all {weeks} weeks {ours:.4f} s; esda.G_Local one week "
          f"{ref_r:.4f} s (default transform R), {ref_b:.4f} s (B); ratio {ours / ref_r:.3f} "
          f"(vs B {ours / ref_b:.3f}; target ≤ 0.2); max |z − esda| = {err:.1e}")


def bench_synthetic(n_cases: int, grids: pd.DataFrame, settings: WarningSettings) -> None:
    t0 = time.perf_counter()
    cases, deadlines = synthetic_cases(grids, n_cases)
    made = time.perf_counter() - t0
    wt, weights = best_of(lambda: grid_weights(grids, settings), 1)
    secs, (alerts, stats) = best_of(lambda: run_detectors(cases, deadlines, grids, now=NOW, settings=settings,
                                                          weights=weights), 2)
    per = time.perf_counter()
    timings = {}
    for code in ("repeated_collective", "skip_level", "collective_size", "repeat_petitioner", "surge", "backlog"):
        t0 = time.perf_counter()
        run_detectors(cases, deadlines, grids.iloc[:0], now=NOW, settings=settings, detectors=[code])
        timings[code] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_detectors(cases, deadlines, grids, now=NOW, settings=settings, weights=weights,
                  detectors=["hotspot", "emerging_hotspot"])
    timings["spatial (hotspot+emerging+grid_stats)"] = time.perf_counter() - t0
    del per
    print(f"synthetic: {len(cases):,} cases, {len(grids):,} grids (made in {made:.1f} s): weights {wt:.2f} s, "
          f"all detectors {secs:.2f} s → {len(alerts)} alerts, {len(stats):,} grid_stats rows")
    print("  per detector (each run alone, shared preparation included): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))


def bench_refresh(n_cases: int, n_grids: int, demo_dir: Path, settings_w: WarningSettings, *, skip: bool) -> None:
    from dashboard import snapshots
    from dashboard.demo_data import build_demo, demo_exists
    from dashboard.pipeline import refresh
    from dashboard.settings import settings_from_dict

    demo = demo_dir / "demo"
    if not demo_exists(demo):
        t0 = time.perf_counter()
        build_demo(demo, cases=n_cases, grids=n_grids, end=dt.date(2026, 11, 20))
        print(f"demo built in {time.perf_counter() - t0:.1f} s → {demo}")
    settings = settings_from_dict({"data_dir": "data", "sources": {
        "grid": {"url": "sqlite:///demo/grid.sqlite"}, "case": {"url": "sqlite:///demo/case.sqlite"}}},
        base_dir=demo_dir)
    as_of = pd.Timestamp("2026-11-20 23:59:59", tz=TZ)
    if skip:
        snap = snapshots.open_current(settings.data_path)
        refresh_s = float(sum(snap.manifest["durations"].values()))
        print(f"refresh (from the last manifest): {refresh_s:.1f} s")
    else:
        t0 = time.perf_counter()
        snap = refresh(settings, now=as_of.to_pydatetime(), full=True)
        refresh_s = time.perf_counter() - t0
        print(f"full refresh: {refresh_s:.1f} s (steps: {snap.manifest['durations']})")
    cases = snapshots.read_table(snap, "cases")
    grids = snapshots.read_table(snap, "grids")
    t0 = time.perf_counter()
    alerts, stats = run_detectors(cases, cases, grids, now=as_of, settings=settings_w,
                                  jurisdiction_level=settings.jurisdiction_level)
    det = time.perf_counter() - t0
    print(f"detectors on the refreshed demo ({len(cases):,} cases, {len(grids):,} grids, weights included): "
          f"{det:.2f} s → {len(alerts)} alerts; {100 * det / refresh_s:.1f} % of the refresh "
          f"({100 * det / (refresh_s + det):.1f} % of a refresh that includes them; target ≤ 25 %)")
    print("  alerts by detector: " + ", ".join(f"{k} {v}" for k, v in alerts["detector"].value_counts().items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--demo-dir", type=Path, default=None)
    ap.add_argument("--skip-refresh", action="store_true", help="reuse the demo's last snapshot and its durations")
    ap.add_argument("--no-demo", action="store_true", help="only the Gi* and synthetic parts")
    args = ap.parse_args()
    settings = WarningSettings()
    grids = square_grids(args.grids)
    bench_gi_star(grids, settings)
    bench_synthetic(args.cases, grids, settings)
    if not args.no_demo:
        demo_dir = args.demo_dir or Path(f"/tmp/gridwatch-bench-{args.cases}-{args.grids}")
        bench_refresh(args.cases, args.grids, demo_dir, settings, skip=args.skip_refresh)


if __name__ == "__main__":
    main()
