"""The first refresh pipeline: sources → snapshot in the SPEC §4 layout, CURRENT switched atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from canonical import canonical_tables, write_sqlalchemy
from dashboard import snapshots
from dashboard.pipeline import RefreshBusy, refresh, refresh_lock
from dashboard.settings import Settings, settings_from_dict
from loaders.errors import SourceError
from loaders.schema import TABLES


def sqlite_settings(tmp_path: Path) -> Settings:
    tables = canonical_tables()
    write_sqlalchemy(f"sqlite:///{tmp_path}/grid.sqlite", {k: v for k, v in tables.items()
                                                          if TABLES[k].source == "grid"})
    write_sqlalchemy(f"sqlite:///{tmp_path}/case.sqlite", {k: v for k, v in tables.items()
                                                          if TABLES[k].source == "case"})
    return settings_from_dict({"data_dir": "data", "sources": {
        "grid": {"url": "sqlite:///grid.sqlite"}, "case": {"url": "sqlite:///case.sqlite"}}},
        base_dir=tmp_path)


def test_refresh_writes_spec_layout(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    snap = refresh(settings)
    root = tmp_path / "data" / "snapshots"
    assert (root / "CURRENT").read_text().strip() == snap.version
    for name in ("manifest.json", "grids.parquet", "cases.parquet", "rejected.parquet"):
        assert (root / snap.version / name).exists(), name
    manifest = json.loads((root / snap.version / "manifest.json").read_text())
    for key in ("version", "created_at", "durations", "row_counts", "watermarks", "rejected_counts",
                "config_hash"):
        assert key in manifest
    grids = snapshots.read_table(snap, "grids")
    assert list(grids.columns) == ["grid_id", "grid_name", "community_id", "community_name", "township_id",
                                   "township_name", "households", "population", "geometry"]
    assert grids.crs.to_epsg() == 4326
    cases = snapshots.read_table(snap, "cases").set_index("case_id")
    # C001-C003 by point, C004 has no coordinates but a grid code
    assert cases["assign_method"].to_dict() == {"C001": "point", "C002": "point", "C003": "point",
                                                "C004": "grid_code"}
    assert cases.loc["C001", "grid_id"] == "150102001001001"
    assert cases.loc["C001", "petitioner_name"] == "张*"
    assert cases.loc["C001", "petitioner_phone"] == "138****1234"
    assert set(cases["petitioner_id_no"]) == {"*" * 18}
    assert pd.isna(cases.loc["C003", "summary"])  # accusation text is restricted
    restricted = pd.read_parquet(root / snap.version / "restricted" / "accusations.parquet")
    assert restricted["case_id"].tolist() == ["C003"]


def test_failed_refresh_keeps_previous_snapshot(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    first = refresh(settings)
    (tmp_path / "case.sqlite").unlink()
    with pytest.raises(SourceError):
        refresh(settings)
    assert snapshots.current_version(settings.data_path) == first.version
    history = snapshots.read_history(settings.data_path)
    assert [h["ok"] for h in history] == [True, False]
    assert "case.sqlite" in history[-1]["error"]


def test_second_refresh_while_locked_exits_with_message(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    with refresh_lock(settings.data_path):
        with pytest.raises(RefreshBusy, match="another refresh is running"):
            refresh(settings)


def test_old_versions_pruned(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    settings = settings.model_copy(update={"refresh": settings.refresh.model_copy(update={"keep_versions": 2})})
    for _ in range(3):
        last = refresh(settings)
    assert len(snapshots.versions(settings.data_path)) == 2
    assert snapshots.current_version(settings.data_path) == last.version
