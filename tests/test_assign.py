"""Assignment: point-in-grid with the lowest-grid_id tie-break, codes, nearest within a tolerance.

The reference is PostGIS: ST_Intersects with the same tie-break must agree on every point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from canonical import canonical_tables
from dashboard.demo_data import build_demo
from dashboard.settings import settings_from_dict
from geo.assign import assign_cases, nearest_grids, points_in_grids
from loaders.load import load_sources


def grids_frame() -> pd.DataFrame:
    grids = canonical_tables()["grids"].copy()
    grids["township_id"] = grids["community_id"].str.slice(0, 9)
    return grids


def cases_at(points: list[tuple[float, float]], **cols: list[object]) -> pd.DataFrame:
    n = len(points)
    frame = pd.DataFrame({"lon": [p[0] for p in points], "lat": [p[1] for p in points],
                          "grid_id": [None] * n, "township_id": [None] * n})
    for k, v in cols.items():
        frame[k] = v
    return frame


def test_shared_vertex_and_edge_go_to_lowest_grid_id() -> None:
    grids = grids_frame()
    # exact coordinates of grid 1's top-right corner (40.80 + 0.01 is not 40.81 in floating point)
    x1, y1 = shapely.get_coordinates(grids["geometry"][0]).max(axis=0)
    got = assign_cases(cases_at([(x1, y1), (x1, 40.805), (111.705, y1), (111.705, 40.805)]), grids)
    ids = grids["grid_id"].tolist()
    # the corner of grids 1, 2, 4, 5; the edge of 1|2; the edge of 1|4; inside grid 1
    assert got["grid_id"].tolist() == [ids[0], ids[0], ids[0], ids[0]]
    assert (got["assign_method"] == "point").all()


def test_fallbacks_in_order() -> None:
    grids = grids_frame()
    ids = grids["grid_id"].tolist()
    cases = cases_at([(np.nan, np.nan), (np.nan, np.nan), (111.7301, 40.805), (111.80, 40.90), (np.nan, np.nan)],
                     grid_id=[ids[3], None, None, None, None],
                     township_id=[None, "150102002", None, None, "999"])
    got = assign_cases(cases, grids, tolerance_m=200)
    assert got["assign_method"].tolist() == ["grid_code", "township_code", "nearest", "unassigned", "unassigned"]
    assert got["grid_id"][0] == ids[3] and got["township_id"][1] == "150102002"
    assert got["grid_id"][2] == ids[2]  # ~8 m east of grid 3


def test_nearest_tolerance_is_in_metres() -> None:
    geoms = grids_frame()["geometry"].to_numpy()
    # 0.0023° of longitude at 40.8°N ≈ 194 m; 0.0025° ≈ 211 m
    idx, dist = nearest_grids(np.array([111.7323, 111.7325]), np.array([40.805, 40.805]), geoms, tolerance_m=200)
    assert idx.tolist()[0] >= 0 and idx.tolist()[1] == -1
    assert dist[0] == pytest.approx(194, abs=2)


def test_far_outside_points_are_not_used() -> None:
    got = assign_cases(cases_at([(116.4, 39.9)], township_id=["150102001"]), grids_frame(), outside_km=20)
    assert bool(got["far_outside"][0]) and got["assign_method"][0] == "township_code"


@pytest.fixture(scope="module")
def demo_grids(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("assign")
    build_demo(root / "demo", cases=1000, grids=600, seed=5)
    settings = settings_from_dict({"sources": {"grid": {"url": f"sqlite:///{root}/demo/grid.sqlite"},
                                               "case": {"url": f"sqlite:///{root}/demo/case.sqlite"}}})
    grids = load_sources(settings, sources=("grid",)).tables["grids"]
    return grids.sort_values("grid_id").reset_index(drop=True)


def probe_points(grids: pd.DataFrame, n: int = 100_000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Random points over the district plus every grid vertex and points on shared edges."""
    rng = np.random.default_rng(seed)
    geoms = grids["geometry"].to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pts = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    vertices = np.unique(shapely.get_coordinates(geoms), axis=0)
    rings = shapely.get_exterior_ring(geoms)
    coords = [shapely.get_coordinates(r) for r in rings]
    on_edges = np.vstack([c[:-1] + (c[1:] - c[:-1]) * 0.5 for c in coords])
    allp = np.vstack([pts, vertices, on_edges])
    return allp[:, 0], allp[:, 1]


@pytest.mark.db
def test_assignment_equals_postgis(postgis_url: str, demo_grids: pd.DataFrame) -> None:
    lon, lat = probe_points(demo_grids)
    ours = points_in_grids(lon, lat, demo_grids["geometry"].to_numpy())
    engine = sa.create_engine(postgis_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS t_grids, t_points")
        conn.exec_driver_sql("CREATE TABLE t_grids (grid_id text, geom geometry(Geometry, 4326))")
        conn.exec_driver_sql("CREATE TABLE t_points (id int, geom geometry(Point, 4326))")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy("COPY t_grids (grid_id, geom) FROM STDIN") as copy:
                for gid, g in zip(demo_grids["grid_id"], demo_grids["geometry"]):
                    copy.write_row((gid, shapely.to_wkb(g, hex=True, include_srid=False)))
            with cur.copy("COPY t_points (id, geom) FROM STDIN") as copy:
                for i, w in enumerate(shapely.to_wkb(shapely.points(lon, lat), hex=True)):
                    copy.write_row((i, w))
        conn.exec_driver_sql("UPDATE t_grids SET geom = ST_SetSRID(geom, 4326)")
        conn.exec_driver_sql("CREATE INDEX ON t_grids USING gist (geom)")
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT ON (p.id) p.id, g.grid_id FROM t_points p JOIN t_grids g "
            "ON ST_Intersects(g.geom, p.geom) ORDER BY p.id, g.grid_id").fetchall()
    engine.dispose()
    theirs = np.full(len(lon), None, dtype=object)
    for pid, gid in rows:
        theirs[pid] = gid
    ids = demo_grids["grid_id"].to_numpy(dtype=object)
    ours_ids = np.where(ours >= 0, ids[np.maximum(ours, 0)], None)
    differ = np.flatnonzero(ours_ids != theirs)
    on_shared = len(lon) - 100_000
    print(f"\n{len(lon):,} points ({on_shared:,} on grid vertices/edges): {len(differ)} differences from PostGIS")
    assert len(differ) == 0, [(lon[i], lat[i], ours_ids[i], theirs[i]) for i in differ[:5]]
    assert (ours[100_000:] >= 0).mean() > 0.95  # the probes really hit grids (outline edges may miss)
