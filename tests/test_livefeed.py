"""Demo live feed: new cases and advanced open ones land in the demo case DB and load cleanly."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from dashboard.demo_data import CASE_DB_NAME, TRUTH_NAME, build_demo
from dashboard.livefeed import NEW_CASES, feed_once
from dashboard.settings import Settings, load_settings
from loaders.errors import SourceError
from loaders.load import load_sources

STEPS = {("registered", "accepted"), ("accepted", "replied"), ("handling", "replied"),
         ("replied", "closed"), ("replied", "resolved"),
         # two feeds may move one case twice
         ("registered", "replied"), ("accepted", "closed"), ("handling", "closed"),
         ("accepted", "resolved"), ("handling", "resolved")}


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    build_demo(out, cases=1000, grids=40)
    return out


def demo_settings(tmp_path: Path, built: Path, *, enabled: bool = True) -> Settings:
    shutil.copytree(built, tmp_path / "data" / "demo")
    cfg = tmp_path / "gridwatch.toml"
    cfg.write_text(f"[demo]\nenabled = {'true' if enabled else 'false'}\n", encoding="utf-8")
    return load_settings(cfg)


def rejected_keys(frame: pd.DataFrame) -> set[tuple[str, ...]]:
    cols = ["table", "row_key", "column", "reason"]
    return set(map(tuple, frame[cols].astype(str).to_numpy()))


def test_feed_adds_and_advances_cases(tmp_path: Path, built_demo: Path) -> None:
    s = demo_settings(tmp_path, built_demo)
    before = load_sources(s)
    tz = ZoneInfo(s.timezone)
    t1 = datetime.now(tz).replace(microsecond=0) + timedelta(minutes=1)
    t2 = t1 + timedelta(minutes=5)
    rng = np.random.default_rng(7)
    c1 = feed_once(s, now=t1, rng=rng)
    c2 = feed_once(s, now=t2, rng=rng)
    after = load_sources(s)

    for c in (c1, c2):
        assert NEW_CASES[0] <= c["added"] <= NEW_CASES[1]
        assert c["updated"] == c["accepted"] + c["replied"] + c["closed"] > 0
    old, new = before.tables["cases"].set_index("case_id"), after.tables["cases"].set_index("case_id")
    added = new.loc[~new.index.isin(old.index)]
    assert len(added) == c1["added"] + c2["added"]
    stamps = {pd.Timestamp(t1), pd.Timestamp(t2)}
    assert set(added["received_at"]) <= stamps and set(added["updated_at"]) <= stamps
    assert added["status"].isin(["registered", "accepted", "replied"]).all()
    assert added["grid_id"].isin(after.tables["grids"]["grid_id"]).all()
    assert added[["lon", "lat"]].notna().all().all()

    both = old.merge(new, left_index=True, right_index=True, suffixes=("_old", ""))
    changed = both[both["status_old"] != both["status"]]
    assert 0 < len(changed) <= c1["updated"] + c2["updated"]
    assert set(zip(changed["status_old"], changed["status"])) <= STEPS
    assert set(changed["updated_at"]) <= stamps
    closed = changed[changed["status"].isin(["closed", "resolved"])]
    assert closed["closed_at"].notna().all()

    truth = json.loads((s.data_path / "demo" / TRUTH_NAME).read_text(encoding="utf-8"))
    planted = {cid for p in truth["patterns"] for cid in p["case_ids"]}
    planted |= {r["case_id"] for r in truth["dirty_rows"]}
    assert not planted & set(changed.index)
    # nothing is rejected or flagged that was not before
    assert rejected_keys(after.rejected) <= rejected_keys(before.rejected)
    assert after.rejected_counts() == before.rejected_counts()


def test_feed_is_off_outside_demo_mode(tmp_path: Path, built_demo: Path) -> None:
    s = demo_settings(tmp_path, built_demo, enabled=False)
    db = s.data_path / "demo" / CASE_DB_NAME
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    assert feed_once(s, rng=np.random.default_rng(1))["added"] == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == n


def test_feed_never_writes_to_a_non_demo_database(tmp_path: Path, built_demo: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(built_demo / CASE_DB_NAME, real / CASE_DB_NAME)
    cfg = tmp_path / "gridwatch.toml"
    cfg.write_text('[demo]\nenabled = true\n[sources.case]\nurl = "sqlite:///real/case.sqlite"\n', encoding="utf-8")
    with pytest.raises(SourceError, match="not a demo build"):
        feed_once(load_settings(cfg), rng=np.random.default_rng(1))
