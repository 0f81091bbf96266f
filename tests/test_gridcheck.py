"""Grid checks: overlaps and gaps reported with their area in square metres."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from canonical import canonical_tables
from geo.gridcheck import areas_m2, grid_issues, local_metric_crs


def test_clean_partition_has_no_issues() -> None:
    assert grid_issues(canonical_tables()["grids"]).empty


def test_area_of_a_known_cell() -> None:
    # 0.01° × 0.01° at 40.8°N ≈ 1113.2 m × 842.8 m (ellipsoidal) ≈ 938,000 m²
    g = canonical_tables()["grids"]["geometry"].to_numpy()
    a = areas_m2(g[:1], local_metric_crs(g))[0]
    assert a == pytest.approx(0.01 * 111_320 * 0.01 * 111_320 * 0.7570, rel=0.01)


def test_overlap_and_gap_reported_with_area() -> None:
    grids = canonical_tables()["grids"].copy()
    # grid 1 grows 0.001° east into grid 2; grid 5 loses a hole-sized square in its middle
    grids.loc[0, "geometry"] = shapely.box(111.70, 40.80, 111.711, 40.81)
    hole = shapely.box(111.714, 40.814, 111.716, 40.816)
    grids.loc[4, "geometry"] = grids.loc[4, "geometry"].difference(hole)
    issues = grid_issues(grids).set_index("kind")
    assert set(issues.index) == {"overlap", "gap"}
    assert issues.loc["overlap", "grid_ids"] == f"{grids.grid_id[0]},{grids.grid_id[1]}"
    assert issues.loc["overlap", "area_m2"] == pytest.approx(0.001 * 84_280 * 0.01 * 111_050, rel=0.02)
    assert issues.loc["gap", "area_m2"] == pytest.approx(0.002 * 84_280 * 0.002 * 111_050, rel=0.02)


def test_tiny_slivers_below_threshold_ignored() -> None:
    grids = canonical_tables()["grids"].copy()
    grids.loc[0, "geometry"] = shapely.box(111.70, 40.80, 111.7100001, 40.81)  # a ~9 m² sliver
    assert grid_issues(grids, min_area_m2=1000).empty
    assert not grid_issues(grids, min_area_m2=1).empty
    assert isinstance(grid_issues(grids), pd.DataFrame)
