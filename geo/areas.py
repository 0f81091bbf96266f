"""Township and community outlines derived from their grids when the source has none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely


def dissolve(geoms: pd.Series, groups: pd.Series) -> pd.Series:
    """Union of `geoms` per value of `groups` (coverage union: the grids tile without overlap)."""
    out: dict[str, object] = {}
    frame = pd.DataFrame({"g": geoms.to_numpy(dtype=object), "k": groups.to_numpy()})
    frame = frame[frame["g"].notna() & frame["k"].notna()]
    for key, part in frame.groupby("k", sort=False):
        arr = np.asarray(part["g"].to_numpy(), dtype=object)
        try:
            merged = shapely.coverage_union_all(arr)
        except shapely.errors.GEOSException:
            merged = shapely.union_all(arr)
        if not shapely.is_valid(merged):
            merged = shapely.union_all(arr)
        out[str(key)] = merged
    return pd.Series(out, dtype=object)


def fill_area_geometry(*, grids: pd.DataFrame, communities: pd.DataFrame | None,
                       townships: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Communities and townships with missing geometry filled by the union of their grids.

    Returns new frames under the keys "communities" and "townships" (only those given).
    """
    out: dict[str, pd.DataFrame] = {}
    if communities is None:
        return out
    comm = communities.copy()
    missing = comm["geometry"].isna()
    if missing.any():
        unions = dissolve(grids["geometry"], grids["community_id"])
        comm.loc[missing, "geometry"] = comm.loc[missing, "community_id"].map(unions)
    out["communities"] = comm
    if townships is not None:
        town = townships.copy()
        missing = town["geometry"].isna()
        if missing.any():
            grid_town = grids["community_id"].map(comm.set_index("community_id")["township_id"])
            unions = dissolve(grids["geometry"], grid_town)
            town.loc[missing, "geometry"] = town.loc[missing, "township_id"].map(unions)
        out["townships"] = town
    return out
