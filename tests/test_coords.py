"""geo.coords: published coordinate pairs, round trips, agreement with geocoordinates-rs, pyproj CRSs."""

from __future__ import annotations

import math

import geocoordinates_ffi as gc
import numpy as np
import pyproj
import pytest
import shapely

from geo import coords
from geo.coords import distance_m, from_wgs84, geometries_to_wgs84, to_wgs84

# eviltransform's test pairs, as (lat, lng): WGS-84 -> GCJ-02.
PUBLISHED_GCJ02 = [
    pytest.param((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215), id="shanghai"),
    pytest.param((22.543847, 113.912316), (22.540796131694766, 113.9171764808363), id="shenzhen"),
    pytest.param((39.911954, 116.377817), (39.91334545536069, 116.38404722455657), id="beijing"),
]
# wandergis/coordtransform's README example, (lng, lat): GCJ-02 -> BD-09 and WGS-84 -> GCJ-02;
# coordtransform-rs gives the WGS-84 -> BD-09 value for the same input (as quoted by
# geocoordinates-rs's test vectors).
EXAMPLE = (116.404, 39.915)
EXAMPLE_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
EXAMPLE_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
EXAMPLE_WGS_TO_BD = (116.41662724378733, 39.922699552216216)

DEG_TOL = 1e-9


def points_in_china(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(73.5, 135.0, n), rng.uniform(18.0, 53.5, n)


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED_GCJ02)
def test_gcj02_forward_matches_published_pairs(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    x, y = from_wgs84(np.array([wgs[1]]), np.array([wgs[0]]), "gcj02")
    assert abs(x[0] - gcj[1]) < DEG_TOL
    assert abs(y[0] - gcj[0]) < DEG_TOL


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED_GCJ02)
def test_gcj02_inverse_of_published_pairs(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    x, y = to_wgs84(np.array([gcj[1]]), np.array([gcj[0]]), "gcj02")
    assert distance_m(x, y, wgs[1], wgs[0])[0] < 0.01


def test_gcj02_round_trip_within_half_metre() -> None:
    lon, lat = points_in_china(10_000, seed=1)
    back = to_wgs84(*from_wgs84(lon, lat, "gcj02"), "gcj02")
    worst = distance_m(lon, lat, *back).max()
    print(f"GCJ-02 -> WGS-84 max round-trip error over 10,000 points: {worst:.2e} m")
    assert worst <= 0.5
    assert worst < 1e-3  # iterative: far better than the 1-2 m of one-step formulas


def test_bd09_round_trip_within_half_metre() -> None:
    lon, lat = points_in_china(10_000, seed=2)
    back = to_wgs84(*from_wgs84(lon, lat, "bd09"), "bd09")
    worst = distance_m(lon, lat, *back).max()
    print(f"BD-09 -> WGS-84 max round-trip error over 10,000 points: {worst:.2e} m")
    assert worst <= 0.5


def test_bd09_published_examples() -> None:
    lon, lat = np.array([EXAMPLE[0]]), np.array([EXAMPLE[1]])
    gx, gy = from_wgs84(lon, lat, "gcj02")
    assert abs(gx[0] - EXAMPLE_WGS_TO_GCJ[0]) < DEG_TOL
    assert abs(gy[0] - EXAMPLE_WGS_TO_GCJ[1]) < DEG_TOL
    bx, by = from_wgs84(lon, lat, "bd09")
    assert abs(bx[0] - EXAMPLE_WGS_TO_BD[0]) < DEG_TOL
    assert abs(by[0] - EXAMPLE_WGS_TO_BD[1]) < DEG_TOL
    cx, cy = coords._gcj02_to_bd09(lon, lat)  # the GCJ-02 -> BD-09 step alone
    assert abs(cx[0] - EXAMPLE_GCJ_TO_BD[0]) < DEG_TOL
    assert abs(cy[0] - EXAMPLE_GCJ_TO_BD[1]) < DEG_TOL
    wx, wy = to_wgs84(np.array([EXAMPLE_WGS_TO_BD[0]]), np.array([EXAMPLE_WGS_TO_BD[1]]), "bd09")
    assert distance_m(wx, wy, lon, lat)[0] < 0.01


def test_agrees_with_geocoordinates_rs() -> None:
    """Known-answer test against the reference library on random points across China."""
    lon, lat = points_in_china(2_000, seed=3)
    gx, gy = from_wgs84(lon, lat, "gcj02")
    bx, by = from_wgs84(lon, lat, "bd09")
    wgx, wgy = to_wgs84(gx, gy, "gcj02")
    wbx, wby = to_wgs84(bx, by, "bd09")
    lib_g = [gc.wgs84_to_gcj02(gc.Wgs84(lat=b, lon=a)) for a, b in zip(lon, lat)]
    lib_b = [gc.wgs84_to_bd09(gc.Wgs84(lat=b, lon=a)) for a, b in zip(lon, lat)]
    lib_wg = [gc.gcj02_to_wgs84_refined(gc.Gcj02(lat=b, lon=a)) for a, b in zip(gx, gy)]
    lib_wb = [gc.bd09_to_wgs84_refined(gc.Bd09(lat=b, lon=a)) for a, b in zip(bx, by)]
    for ours_x, ours_y, lib in [(gx, gy, lib_g), (bx, by, lib_b), (wgx, wgy, lib_wg), (wbx, wby, lib_wb)]:
        assert np.abs(ours_x - [p.lon for p in lib]).max() < DEG_TOL
        assert np.abs(ours_y - [p.lat for p in lib]).max() < DEG_TOL


def test_out_of_china_box_is_the_library_s() -> None:
    lon = np.array([72.003, 72.005, 137.834, 137.836, 100.0, 100.0, 100.0, 100.0, 139.69, -0.1278])
    lat = np.array([40.0, 40.0, 40.0, 40.0, 0.8292, 0.8294, 55.827, 55.8272, 35.69, 51.5074])
    gx, gy = from_wgs84(lon, lat, "gcj02")
    lib = [gc.wgs84_to_gcj02(gc.Wgs84(lat=b, lon=a)) for a, b in zip(lon, lat)]
    np.testing.assert_allclose(gx, [p.lon for p in lib], rtol=0, atol=DEG_TOL)
    np.testing.assert_allclose(gy, [p.lat for p in lib], rtol=0, atol=DEG_TOL)
    outside = [0, 3, 4, 7, 8, 9]
    np.testing.assert_array_equal(gx[outside], lon[outside])
    wx, wy = to_wgs84(lon[outside], lat[outside], "gcj02")  # GCJ-02 outside China: unchanged
    np.testing.assert_array_equal(wx, lon[outside])
    np.testing.assert_array_equal(wy, lat[outside])


def test_per_row_coord_sys_overrides() -> None:
    lon, lat = points_in_china(5, seed=4)
    systems = np.array(["wgs84", "gcj02", "bd09", "cgcs2000", "EPSG:3857"])
    src_x, src_y = lon.copy(), lat.copy()
    for i, cs in enumerate(systems):
        sx, sy = from_wgs84(lon[i:i + 1], lat[i:i + 1], str(cs))
        src_x[i], src_y[i] = sx[0], sy[0]
    x, y = to_wgs84(src_x, src_y, systems)
    for i, cs in enumerate(systems):
        one_x, one_y = to_wgs84(src_x[i:i + 1], src_y[i:i + 1], str(cs))
        assert (x[i], y[i]) == (one_x[0], one_y[0])
    assert distance_m(x, y, lon, lat).max() < 0.01
    assert (src_x[1], src_x[2]) != (lon[1], lon[2])  # the rows really were shifted
    x_obj, _ = to_wgs84(src_x, src_y, systems.astype(object))
    np.testing.assert_array_equal(x_obj, x)


@pytest.mark.parametrize("cs", ["wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:4547"])
def test_nan_in_nan_out(cs: str) -> None:
    x0, y0 = (500_000.0, 3_500_000.0) if cs.startswith("EPSG") else (116.4, 39.9)
    lon = np.array([np.nan, x0, x0, np.inf, x0])
    lat = np.array([y0, np.nan, y0, y0, y0])
    x, y = to_wgs84(lon, lat, cs)
    assert np.isnan(x[:2]).all() and np.isnan(y[:2]).all() and np.isnan([x[3], y[3]]).all()
    assert np.isfinite([x[2], y[2], x[4], y[4]]).all()
    fx, fy = from_wgs84(np.array([np.nan, 116.4]), np.array([39.9, np.nan]), cs)
    assert np.isnan(fx).all() and np.isnan(fy).all()


def test_epsg_4547_central_meridian() -> None:
    """CGCS2000 / 3-degree Gauss-Kruger CM 114E: on the central meridian the northing is the
    meridian arc length of the CGCS2000 ellipsoid (scale factor 1, false easting 500 km)."""
    northing = np.array([2_500_000.0, 3_500_000.0, 4_400_000.0])
    lon, lat = to_wgs84(np.full(3, 500_000.0), northing, "EPSG:4547")
    np.testing.assert_allclose(lon, 114.0, rtol=0, atol=1e-12)
    geod = pyproj.Geod(ellps="GRS80")  # CGCS2000 differs from GRS80 in f by 1e-11
    _, _, arc = geod.inv(np.full(3, 114.0), np.zeros(3), lon, lat)
    np.testing.assert_allclose(arc, northing, rtol=0, atol=1e-3)
    back_x, back_y = from_wgs84(lon, lat, "EPSG:4547")
    np.testing.assert_allclose(back_x, 500_000.0, atol=1e-6)
    np.testing.assert_allclose(back_y, northing, atol=1e-6)


def test_epsg_3857_against_formula() -> None:
    r = 6_378_137.0
    lon, lat = np.array([116.404, 121.47]), np.array([39.915, 31.23])
    x = np.radians(lon) * r
    y = r * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    wx, wy = to_wgs84(x, y, "EPSG:3857")
    np.testing.assert_allclose(wx, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(wy, lat, rtol=0, atol=1e-9)
    fx, fy = from_wgs84(lon, lat, "epsg:3857")
    np.testing.assert_allclose(fx, x, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fy, y, rtol=0, atol=1e-6)


def test_inputs_not_mutated() -> None:
    lon, lat = points_in_china(100, seed=5)
    systems = np.where(np.arange(100) % 2 == 0, "gcj02", "bd09")
    copies = lon.copy(), lat.copy(), systems.copy()
    for arr in (lon, lat, systems):
        arr.setflags(write=False)
    x, y = to_wgs84(lon, lat, systems)
    from_wgs84(lon, lat, "bd09")
    to_wgs84(lon, lat, "wgs84")[0][:] = 0.0  # the result is a copy, even for WGS-84
    assert not np.shares_memory(x, lon)
    np.testing.assert_array_equal(lon, copies[0])
    np.testing.assert_array_equal(lat, copies[1])
    np.testing.assert_array_equal(systems, copies[2])
    geoms = np.array([shapely.box(116.0, 39.0, 116.1, 39.1), None], dtype=object)
    before = shapely.to_wkb(geoms)
    geometries_to_wgs84(geoms, "gcj02")
    np.testing.assert_array_equal(shapely.to_wkb(geoms), before)


@pytest.mark.parametrize(("cs", "polygon"), [
    ("gcj02", shapely.Polygon([(116.30, 39.90), (116.32, 39.90), (116.32, 39.92), (116.30, 39.90)])),
    ("bd09", shapely.Polygon([(121.40, 31.20), (121.45, 31.20), (121.45, 31.25), (121.40, 31.25)],
                             holes=[[(121.42, 31.22), (121.43, 31.22), (121.43, 31.23)]])),
    ("EPSG:4547", shapely.box(440_000.0, 2_490_000.0, 441_000.0, 2_491_000.0)),
])
def test_geometries_move_like_points(cs: str, polygon: shapely.Polygon) -> None:
    geoms = np.array([polygon, None, shapely.Point(polygon.exterior.coords[0])], dtype=object)
    out = geometries_to_wgs84(geoms, cs)
    assert out[1] is None and out[0].is_valid
    before = shapely.get_coordinates(polygon)
    x, y = to_wgs84(before[:, 0], before[:, 1], cs)
    np.testing.assert_array_equal(shapely.get_coordinates(out[0]), np.column_stack([x, y]))
    assert shapely.get_num_interior_rings(out[0]) == shapely.get_num_interior_rings(polygon)
    np.testing.assert_array_equal(shapely.get_coordinates(out[2])[0], [x[0], y[0]])


def test_geometries_already_wgs84_are_kept() -> None:
    geoms = np.array([shapely.box(116.0, 39.0, 116.1, 39.1)], dtype=object)
    out = geometries_to_wgs84(geoms, "cgcs2000")
    assert out is not geoms and shapely.equals_exact(out[0], geoms[0], tolerance=0)


@pytest.mark.parametrize("bad", ["gcj-02", "utm50", "", "EPSG:"])
def test_unknown_coord_sys_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="coord_sys"):
        to_wgs84(np.array([116.4]), np.array([39.9]), bad)


def test_unknown_epsg_code_and_missing_row_value() -> None:
    with pytest.raises(ValueError, match="EPSG:999999"):
        to_wgs84(np.array([1.0]), np.array([2.0]), "EPSG:999999")
    with pytest.raises(ValueError, match="missing"):
        to_wgs84(np.array([116.4, 116.4]), np.array([39.9, 39.9]), np.array(["gcj02", None], dtype=object))


def test_distance_m() -> None:
    one_degree = 6_371_008.8 * math.pi / 180
    d = distance_m(np.array([116.0, 0.0]), np.array([39.0, 0.0]),
                   np.array([116.0, 1.0]), np.array([40.0, 0.0]))
    np.testing.assert_allclose(d, one_degree, rtol=1e-12)
    assert np.isnan(distance_m(np.nan, 0.0, 0.0, 0.0))
