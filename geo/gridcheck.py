"""Grid layer checks: overlaps between grids and gaps inside the grid cover, with areas in m²."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

ISSUE_COLUMNS = ("kind", "grid_ids", "area_m2", "geometry")


def local_metric_crs(geoms: np.ndarray) -> CRS:
    """An equal-area CRS centred on the geometries (areas in m² within a fraction of a percent)."""
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    lon0, lat0 = (x0 + x1) / 2, (y0 + y1) / 2
    return CRS.from_proj4(f"+proj=laea +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m +no_defs")


def areas_m2(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Area in m² of WGS-84 geometries, measured in `crs`."""
    if len(geoms) == 0:
        return np.array([], dtype="float64")
    tf = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    projected = shapely.transform(geoms, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))
    return shapely.area(projected)


def grid_issues(grids: pd.DataFrame, *, min_area_m2: float = 1.0) -> pd.DataFrame:
    """Overlapping grid pairs and gaps (holes in the union of grids) larger than `min_area_m2`.

    `grids` needs grid_id and WGS-84 polygon geometry. Returns kind (`overlap`/`gap`), grid_ids
    (the pair for overlaps, the bordering grids for gaps), area_m2 and the WGS-84 geometry.
    """
    geoms = np.asarray(grids["geometry"].to_numpy(), dtype=object)
    ids = grids["grid_id"].astype(str).to_numpy()
    if len(geoms) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
    crs = local_metric_crs(geoms)
    tree = shapely.STRtree(geoms)
    rows: list[dict[str, object]] = []

    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if len(left):
        inter = shapely.intersection(geoms[left], geoms[right])
        inter = np.array([_polygonal(g) for g in inter], dtype=object)
        area = areas_m2(inter, crs)
        for i in np.flatnonzero(area > min_area_m2):
            rows.append({"kind": "overlap", "grid_ids": f"{ids[left[i]]},{ids[right[i]]}",
                         "area_m2": float(area[i]), "geometry": inter[i]})

    cover = _union(geoms)
    holes = [shapely.Polygon(ring) for poly in shapely.get_parts(cover) for ring in poly.interiors]
    if holes:
        hole_arr = np.array(holes, dtype=object)
        area = areas_m2(hole_arr, crs)
        for hole, a in zip(hole_arr, area):
            if a > min_area_m2:
                near = tree.query(hole, predicate="touches")
                rows.append({"kind": "gap", "grid_ids": ",".join(sorted(ids[near])), "area_m2": float(a),
                             "geometry": hole})
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
    out = pd.DataFrame(rows, columns=list(ISSUE_COLUMNS))
    return out.sort_values("area_m2", ascending=False, kind="stable").reset_index(drop=True)


def _union(geoms: np.ndarray) -> object:
    try:
        merged = shapely.coverage_union_all(geoms)
        if shapely.is_valid(merged):
            return merged
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(geoms)


def _polygonal(geom: object) -> object:
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
