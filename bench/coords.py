"""Milliseconds per 1,000,000 points: GCJ-02/BD-09 libraries called point by point vs geo.coords.

Run: .venv/bin/python bench/coords.py [--points N] [--sample N]
Library loops run on a sample and are scaled to 1M points. coordtransform (C batch, one-step
inverse) is timed only when it happens to be installed; it is not a project dependency.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.coords import distance_m, from_wgs84, to_wgs84  # noqa: E402

PER = 1_000_000


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(name: str, seconds: float, points: int, note: str = "") -> None:
    print(f"{name:52s} {seconds / points * PER * 1000:10.0f} ms/1M  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=PER, help="points for the vectorised runs")
    parser.add_argument("--sample", type=int, default=20_000, help="points for per-point loops")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n, m = args.points, args.sample
    # inside every library's out-of-China box, so that only the formulas are compared
    lon, lat = rng.uniform(74.0, 134.5, n), rng.uniform(18.0, 53.0, n)
    glon, glat = from_wgs84(lon, lat, "gcj02")
    blon, blat = from_wgs84(lon, lat, "bd09")
    mixed = rng.choice(np.array(["wgs84", "gcj02", "bd09"]), size=n, p=[0.97, 0.02, 0.01])
    mlon = np.where(mixed == "gcj02", glon, np.where(mixed == "bd09", blon, lon))
    mlat = np.where(mixed == "gcj02", glat, np.where(mixed == "bd09", blat, lat))
    s_lon, s_lat, s_glon, s_glat = lon[:m], lat[:m], glon[:m], glat[:m]
    s_blon, s_blat = blon[:m], blat[:m]

    print(f"geo.coords (numpy), {n:,} points")
    row("  WGS-84 -> GCJ-02", timed(lambda: from_wgs84(lon, lat, "gcj02")), n)
    row("  GCJ-02 -> WGS-84 (iterative)", timed(lambda: to_wgs84(glon, glat, "gcj02")), n)
    row("  BD-09 -> WGS-84 (iterative)", timed(lambda: to_wgs84(blon, blat, "bd09")), n)
    row("  mixed per-row array (97% wgs84, 2% gcj02, 1% bd09)",
        timed(lambda: to_wgs84(mlon, mlat, mixed)), n)
    wlon, wlat = to_wgs84(glon, glat, "gcj02")
    print(f"  max GCJ-02 round-trip error {distance_m(lon, lat, wlon, wlat).max():.2e} m")

    import geocoordinates_ffi as gc

    print(f"geocoordinates-rs (scalar FFI), loop over {m:,} points")
    row("  WGS-84 -> GCJ-02", timed(lambda: [gc.wgs84_to_gcj02(gc.Wgs84(lat=b, lon=a))
                                            for a, b in zip(s_lon, s_lat)], 1), m)
    row("  GCJ-02 -> WGS-84 (refined)", timed(lambda: [gc.gcj02_to_wgs84_refined(gc.Gcj02(lat=b, lon=a))
                                                      for a, b in zip(s_glon, s_glat)], 1), m)
    row("  BD-09 -> WGS-84 (refined)", timed(lambda: [gc.bd09_to_wgs84_refined(gc.Bd09(lat=b, lon=a))
                                                     for a, b in zip(s_blon, s_blat)], 1), m)

    import fast_geocn.coord as fg

    print(f"fast-geocn (pure Python), loop over {m:,} points")
    row("  WGS-84 -> GCJ-02", timed(lambda: [fg.wgs84_to_gcj02(a, b) for a, b in zip(s_lon, s_lat)], 1), m)
    row("  GCJ-02 -> WGS-84 (5 iterations)",
        timed(lambda: [fg.gcj02_to_wgs84(a, b) for a, b in zip(s_glon, s_glat)], 1), m)

    try:
        import coordTransform as ct
    except ImportError:
        print("coordtransform: not installed, skipped")
        return
    print(f"coordtransform (C batch, returns lists), {n:,} points")
    row("  WGS-84 -> GCJ-02", timed(lambda: [np.asarray(v) for v in ct.wgs84_to_gcj02(lon, lat)]), n)
    row("  GCJ-02 -> WGS-84 (one step)",
        timed(lambda: [np.asarray(v) for v in ct.gcj02_to_wgs84(glon, glat)]), n)
    clon, clat = (np.asarray(v) for v in ct.gcj02_to_wgs84(glon, glat))
    print(f"  max GCJ-02 round-trip error {distance_m(lon, lat, clon, clat).max():.2e} m")


if __name__ == "__main__":
    main()
