"""Incremental refresh equals a full rebuild on the same data; unchanged grids are not re-processed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dashboard import snapshots
from dashboard.demo_data import build_demo
from dashboard.pipeline import refresh
from dashboard.settings import Settings, settings_from_dict

COMPARED = ("cases", "metrics", "grids", "townships", "leader_cases", "supervisions", "rejected",
            "restricted/accusations", "inspections", "grid_stats", "alerts")
# Alerts come from separate app DBs: compare what the detectors decided, not lifecycle timestamps.
ALERT_COLUMNS = ["alert_id", "fingerprint", "detector", "level", "scope", "scope_id", "title", "evidence",
                 "condition_active"]
KEYS = {"cases": ["case_id"], "grids": ["grid_id"], "townships": ["township_id"],
        "leader_cases": ["case_id", "leader_id"], "supervisions": ["supervision_id"],
        "restricted/accusations": ["case_id"], "inspections": ["grid_id", "inspected_at"],
        "metrics": ["unit_type", "unit_id", "period", "period_start"],
        "rejected": ["table", "row_key", "column", "reason"], "grid_stats": ["grid_id", "window"],
        "alerts": ["alert_id"]}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    build_demo(root / "demo", cases=3000, grids=80, seed=11)
    return root


def settings_for(root: Path, data: str) -> Settings:
    return settings_from_dict({"data_dir": data, "demo": {"enabled": True}, "sources": {
        "grid": {"url": f"sqlite:///{root}/demo/grid.sqlite"},
        "case": {"url": f"sqlite:///{root}/demo/case.sqlite"}}}, base_dir=root)


def table(snap: snapshots.Snapshot, name: str) -> pd.DataFrame:
    frame = pd.read_parquet(snap.file(f"{name}.parquet"))
    if name == "alerts":  # cleared alerts stay listed in an app DB that saw them: compare the firing ones
        frame = frame.loc[frame["condition_active"].astype(bool), ALERT_COLUMNS]
    if "grid_ids" in frame:
        frame["grid_ids"] = frame["grid_ids"].map(lambda v: ",".join(v) if v is not None else None)
    if "geometry" in frame:
        frame["geometry"] = frame["geometry"].map(lambda b: b.hex() if b is not None else None)
    return frame.sort_values(KEYS[name], kind="stable").reset_index(drop=True)


def change_cases(db: Path, stamp: str) -> None:
    """Append two cases, advance two open ones and move one case's grid code — all stamped `stamp`."""
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(cases)")]
    rows = con.execute("SELECT * FROM cases WHERE status = 'closed' LIMIT 2").fetchall()
    for i, row in enumerate(rows):
        rec = dict(zip(cols, row))
        rec.update(case_id=f"NEW{i}", updated_at=stamp)
        con.execute(f"INSERT INTO cases ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                    [rec[c] for c in cols])
    con.execute("UPDATE cases SET status='closed', closed_at=?, replied_at=?, updated_at=? WHERE case_id IN "
                "(SELECT case_id FROM cases WHERE status='handling' LIMIT 2)", (stamp, stamp, stamp))
    con.execute("UPDATE cases SET status='外星状态', updated_at=? WHERE case_id IN "
                "(SELECT case_id FROM cases WHERE status='accepted' LIMIT 1)", (stamp,))
    con.commit()
    con.close()


def assert_snapshots_equal(a: snapshots.Snapshot, b: snapshots.Snapshot) -> None:
    for name in COMPARED:
        pd.testing.assert_frame_equal(table(a, name), table(b, name), obj=name)


def test_incremental_equals_full(demo_dir: Path) -> None:
    s_inc = settings_for(demo_dir, "inc")
    first = refresh(s_inc)
    assert not first.manifest["incremental"]
    stamp = (pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    change_cases(demo_dir / "demo" / "case.sqlite", stamp)
    now = pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(minutes=10)
    inc = refresh(s_inc, now=now)
    assert inc.manifest["incremental"]
    assert inc.manifest["batch_rows"] < 100  # only the overlap window was read
    assert "grids" in inc.manifest["reused_tables"]
    assert 0 < inc.manifest["same_day_update"]["recomputed_cases"] < 200  # metrics updated, not rebuilt
    # unchanged rows written back as they were (all but the overlap window's)
    assert len(table(first, "cases")) - 100 < inc.manifest["reused_case_rows"] < len(table(first, "cases")) - 2
    assert table(inc, "cases").set_index("case_id").loc["NEW0", "status"] == "closed"
    full = refresh(settings_for(demo_dir, "full"), now=now, full=True)
    assert_snapshots_equal(inc, full)
    # the streamed file keeps the types a reader sees (dictionary pages written back as they were)
    inc_schema, full_schema = (pq.read_schema(s.file("cases.parquet")) for s in (inc, full))
    assert inc_schema.equals(full_schema) and b"pandas" in inc_schema.metadata
    # new rejections: the unknown status, and otherwise only rows of the re-read cases (a copied case can
    # bring its own dirty value: the demo data depends on the day it is built)
    key = ["table", "row_key", "column", "reason"]
    added = table(inc, "rejected").merge(table(first, "rejected")[key], on=key, how="left", indicator=True)
    added = added[added["_merge"] == "left_only"]
    assert "外星状态" in set(added["value"])
    assert added["row_key"].str.startswith("NEW").sum() == len(added) - 1


def test_chained_same_day_refreshes_equal_full(demo_dir: Path) -> None:
    """Each same-day refresh streams the previous (itself streamed) cases file: three in a row still
    equal a full rebuild."""
    s_inc = settings_for(demo_dir, "inc5")
    now = pd.Timestamp.now(tz="Asia/Shanghai")
    base = min(now, now.normalize() + pd.Timedelta(hours=23, minutes=50))  # all four on one local day
    refresh(s_inc, now=base)
    for step in (1, 2, 3):
        stamp = (base + pd.Timedelta(minutes=step)).strftime("%Y-%m-%d %H:%M:%S")
        con = sqlite3.connect(demo_dir / "demo" / "case.sqlite")
        con.execute("UPDATE cases SET status = 'replied', replied_at = ?, updated_at = ? WHERE case_id IN "
                    "(SELECT case_id FROM cases WHERE status = 'handling' LIMIT 3)", (stamp, stamp))
        con.commit()
        con.close()
        inc = refresh(s_inc, now=base + pd.Timedelta(minutes=step, seconds=30))
        assert inc.manifest["incremental"] and inc.manifest["reused_case_rows"] > 0
    full = refresh(settings_for(demo_dir, "full5"), now=base + pd.Timedelta(minutes=3, seconds=30), full=True)
    assert_snapshots_equal(inc, full)


def test_next_day_recomputes_every_deadline_and_metric(demo_dir: Path) -> None:
    s_inc = settings_for(demo_dir, "inc4")
    now = pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(minutes=10)
    refresh(s_inc, now=now)
    tomorrow = now + pd.Timedelta(days=1)
    inc = refresh(s_inc, now=tomorrow)
    assert inc.manifest["incremental"] and "same_day_update" not in inc.manifest
    full = refresh(settings_for(demo_dir, "full4"), now=tomorrow, full=True)
    assert_snapshots_equal(inc, full)


def test_grid_change_reprocesses_grid_side(demo_dir: Path) -> None:
    s_inc = settings_for(demo_dir, "inc2")
    refresh(s_inc)
    con = sqlite3.connect(demo_dir / "demo" / "grid.sqlite")
    con.execute("UPDATE grids SET name = name || '（调整）' WHERE rowid = 1")
    con.commit()
    con.close()
    now = pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(minutes=10)
    inc = refresh(s_inc, now=now)
    assert inc.manifest["incremental"] and "grids" not in inc.manifest["reused_tables"]
    assert table(inc, "grids")["grid_name"].str.endswith("（调整）").sum() == 1
    full = refresh(settings_for(demo_dir, "full2"), now=now, full=True)
    assert_snapshots_equal(inc, full)


def test_full_flag_and_config_change_force_full(demo_dir: Path) -> None:
    s = settings_for(demo_dir, "inc3")
    refresh(s)
    assert refresh(s).manifest["incremental"]
    assert not refresh(s, full=True).manifest["incremental"]
    changed = s.model_copy(update={"deadlines": s.deadlines.model_copy(update={"yellow_days": 3})})
    assert not refresh(changed).manifest["incremental"]
