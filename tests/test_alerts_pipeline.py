"""Alerts through the pipeline: stable ids in alerts.parquet, lifecycle state surviving refreshes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dashboard import appdb, snapshots
from dashboard.demo_data import build_demo
from dashboard.pipeline import refresh
from dashboard.settings import Settings, settings_from_dict


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("alerts")
    build_demo(root / "demo", cases=6000, grids=120, seed=3)
    return settings_from_dict({"data_dir": "data", "demo": {"enabled": True}, "refresh": {"keep_versions": 2},
                               "sources": {"grid": {"url": "sqlite:///demo/grid.sqlite"},
                                           "case": {"url": "sqlite:///demo/case.sqlite"}}}, base_dir=root)


def test_alerts_and_grid_stats_in_snapshot(site: Settings) -> None:
    snap = refresh(site)
    alerts = snapshots.read_table(snap, "alerts")
    stats = snapshots.read_table(snap, "grid_stats")
    assert len(alerts) > 0 and alerts["alert_id"].is_unique
    assert {"alert_id", "detector", "level", "scope", "scope_id", "title", "evidence", "first_seen",
            "last_seen", "state"} <= set(alerts.columns)
    assert set(alerts["level"]) <= {"red", "orange", "yellow", "blue"}
    assert {"grid_id", "window", "gi_z", "gi_p", "hotspot_bin", "trend_class"} <= set(stats.columns)
    assert snap.manifest["jurisdiction_name"] == "新城区"
    assert alerts["title"].str.contains("新城区|街道|镇|网格|社区").all()


def test_action_survives_refreshes_and_pruning(site: Settings) -> None:
    first = snapshots.read_table(refresh(site), "alerts")
    target = first.iloc[0]["alert_id"]
    with appdb.open_app_db(site) as db:
        appdb.acknowledge(db, target, who="联席办-张", note="已签收，安排核查")
    for _ in range(3):  # more refreshes than keep_versions: old snapshots are pruned
        latest = refresh(site)
    after = snapshots.read_table(latest, "alerts").set_index("alert_id")
    assert set(first["alert_id"]) <= set(after.index)  # ids are stable
    assert after.loc[target, "state"] == "acknowledged"
    with appdb.open_app_db(site) as db:
        events = appdb.history(db, target)
    assert [e.action for e in events][-1] == "acknowledge" and events[-1].who == "联席办-张"
    assert pd.Timestamp(after.loc[target, "last_seen"]) >= pd.Timestamp(first.set_index("alert_id").loc[target, "last_seen"])
