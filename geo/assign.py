"""Assign case points (WGS-84) to grids: point-in-polygon, then codes, then nearest within a tolerance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import shapely

from geo.coords import distance_m
from loaders.validate import take_strings

METHODS = ("point", "grid_code", "township_code", "nearest", "unassigned")


def spatial_order(lon: np.ndarray, lat: np.ndarray, *, cells: int = 1024, block: int = 16) -> np.ndarray:
    """A permutation that visits points block by block on a cells×cells lattice over their extent.

    Querying the grid tree in this order keeps consecutive queries in the same part of the tree,
    which makes a million-point query several times faster than in source order.
    """
    x0, x1 = float(np.min(lon)), float(np.max(lon))
    y0, y1 = float(np.min(lat)), float(np.max(lat))
    cx = ((lon - x0) / max(x1 - x0, 1e-12) * (cells - 1)).astype(np.int64)
    cy = ((lat - y0) / max(y1 - y0, 1e-12) * (cells - 1)).astype(np.int64)
    per_row = cells // block
    key = ((cy // block) * per_row + cx // block) * block * block + (cy % block) * block + cx % block
    return np.argsort(key, kind="stable")


def points_in_grids(lon: np.ndarray, lat: np.ndarray, geoms: np.ndarray, *, threads: int = 2) -> np.ndarray:
    """Index into `geoms` of the grid each point intersects; -1 if none.

    A point on a shared edge or vertex intersects several grids: the lowest index wins, so pass
    grids sorted by grid_id to get the lowest-grid_id tie-break of SPEC §5.
    """
    out = np.full(len(lon), -1, dtype=np.int64)
    ok = np.flatnonzero(~(np.isnan(lon) | np.isnan(lat)))
    if len(ok) == 0 or len(geoms) == 0:
        return out
    tree = shapely.STRtree(geoms)
    ordered = ok[spatial_order(lon[ok], lat[ok])]

    def query(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pi, gi = tree.query(shapely.points(lon[part], lat[part]), predicate="intersects")
        return part[pi], gi

    parts = np.array_split(ordered, max(1, min(threads, len(ordered) // 50_000)))
    if len(parts) == 1:
        results = [query(parts[0])]
    else:  # shapely releases the GIL: contiguous halves of the sorted points on both cores
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            results = list(pool.map(query, parts))
    best = np.full(len(lon), np.iinfo(np.int64).max, dtype=np.int64)
    for pi, gi in results:
        np.minimum.at(best, pi, gi)
    hit = best != np.iinfo(np.int64).max
    out[hit] = best[hit]
    return out


def nearest_grids(lon: np.ndarray, lat: np.ndarray, geoms: np.ndarray, *, tolerance_m: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest grid within `tolerance_m` metres (-1 if none) and the distance in metres."""
    n = len(lon)
    idx = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    ok = ~(np.isnan(lon) | np.isnan(lat))
    if not ok.any() or len(geoms) == 0 or tolerance_m <= 0:
        return idx, dist
    pts = shapely.points(lon[ok], lat[ok])
    # Search radius in degrees generous enough for longitude shrinkage up to 60°N.
    radius_deg = tolerance_m / 111_000.0 / 0.5
    tree = shapely.STRtree(geoms)
    pi, gi = tree.query_nearest(pts, max_distance=radius_deg, all_matches=False)
    if len(pi) == 0:
        return idx, dist
    line = shapely.shortest_line(pts[pi], geoms[gi])
    coords = shapely.get_coordinates(line).reshape(-1, 2, 2)
    metres = distance_m(coords[:, 0, 0], coords[:, 0, 1], coords[:, 1, 0], coords[:, 1, 1])
    within = metres <= tolerance_m
    where = np.flatnonzero(ok)[pi[within]]
    idx[where] = gi[within]
    dist[where] = metres[within]
    return idx, dist


FAR_REASON = "坐标远离辖区，坐标未使用"


def far_from_grids(lon: np.ndarray, lat: np.ndarray, geoms: np.ndarray, *, outside_km: float) -> np.ndarray:
    """Points farther than `outside_km` outside the bounding box of all grids (cheap, conservative)."""
    if len(geoms) == 0:
        return np.zeros(len(lon), dtype=bool)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    dlat = outside_km / 111.0
    dlon = outside_km / (111.0 * max(np.cos(np.radians((y0 + y1) / 2)), 0.1))
    with np.errstate(invalid="ignore"):
        return ~np.isnan(lon) & ((lon < x0 - dlon) | (lon > x1 + dlon) | (lat < y0 - dlat) | (lat > y1 + dlat))


def assign_cases(cases: pd.DataFrame, grids: pd.DataFrame, *, tolerance_m: float = 200.0,
                 outside_km: float = 20.0) -> pd.DataFrame:
    """grid_id, community_id, township_id and assign_method for each case (WGS-84 lon/lat).

    `grids` needs grid_id, community_id, township_id, geometry. Order of precedence: the point's
    grid (`point`), the case's own grid code (`grid_code`), its township code (`township_code`),
    the nearest grid within `tolerance_m` (`nearest`), else `unassigned`. Returns a new frame
    aligned with `cases` (same index); `far_outside` marks points more than `outside_km` outside
    the grids, whose coordinates were not used.
    """
    g = grids.sort_values("grid_id", kind="stable").reset_index(drop=True)
    geoms = np.asarray(g["geometry"].to_numpy(), dtype=object)
    lon = cases["lon"].to_numpy(dtype="float64", na_value=np.nan).copy()
    lat = cases["lat"].to_numpy(dtype="float64", na_value=np.nan).copy()
    far = far_from_grids(lon, lat, geoms, outside_km=outside_km)
    lon[far] = np.nan  # not used, never moved: the case falls back to its codes
    lat[far] = np.nan
    # Everything below works on integer indices; strings are materialised once, by Arrow, at the end.
    hit = points_in_grids(lon, lat, geoms)
    method = np.where(hit >= 0, 0, 4).astype(np.int64)  # index into METHODS

    code_idx = pd.Index(g["grid_id"]).get_indexer(cases["grid_id"])
    use_code = (hit < 0) & (code_idx >= 0)
    hit = np.where(use_code, code_idx, hit)
    method[use_code] = 1

    towns = pd.Index(g["township_id"].dropna().unique())
    grid_town = towns.get_indexer(g["township_id"])
    town = np.where(hit >= 0, grid_town[np.maximum(hit, 0)], -1)
    own_town = towns.get_indexer(cases["township_id"])
    use_town = (hit < 0) & (own_town >= 0)
    town[use_town] = own_town[use_town]
    method[use_town] = 2

    todo = (hit < 0) & ~use_town & ~np.isnan(lon)
    if todo.any():
        near, _ = nearest_grids(lon[todo], lat[todo], geoms, tolerance_m=tolerance_m)
        pos = np.flatnonzero(todo)
        found = near >= 0
        hit[pos[found]] = near[found]
        method[pos[found]] = 3
        town[pos[found]] = grid_town[near[found]]

    return pd.DataFrame({
        "grid_id": take_strings(g["grid_id"].tolist(), hit, cases.index),
        "community_id": take_strings(g["community_id"].tolist(), hit, cases.index),
        "township_id": take_strings(list(towns), town, cases.index),
        "assign_method": take_strings(METHODS, method, cases.index),
        "far_outside": far,
    }, index=cases.index)
