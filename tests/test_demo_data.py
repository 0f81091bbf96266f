"""Tests of the embedded demo generator: geometry, hierarchy, determinism, mixes, planted patterns, dirty rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from fast_geocn.coord import gcj02_to_wgs84

import dashboard.demo_data as demo
from dashboard.demo_data import DemoInfo, build_demo, demo_exists, load_outline
from geo.coords import from_wgs84
from loaders.enums import (
    DEFAULT_CATEGORY_ALIASES, ENUMERATIONS, STATUS, category_enumeration,
)
from loaders.errors import ConfigError
from loaders.schema import CASE_TABLES, GRID_TABLES, TABLES

END = dt.date(2026, 6, 30)
AS_OF = "2026-06-30 23:59:59"
SMALL = {"cases": 3000, "grids": 120, "seed": 7, "end": END}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DemoInfo:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo", **SMALL)


@pytest.fixture(scope="module")
def truth(built: DemoInfo) -> dict[str, Any]:
    return json.loads(built.truth_path.read_text(encoding="utf-8"))


def read(db: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(db) as conn:
        return pd.read_sql_query(sql, conn)


@pytest.fixture(scope="module")
def cases(built: DemoInfo) -> pd.DataFrame:
    return read(built.case_db, "SELECT rowid, * FROM cases ORDER BY rowid")


@pytest.fixture(scope="module")
def grids(built: DemoInfo) -> pd.DataFrame:
    df = read(built.grid_db, "SELECT * FROM grids")
    df["geom"] = shapely.from_wkb(df["geometry"].to_numpy())
    return df


@pytest.fixture(scope="module")
def hierarchy(built: DemoInfo, grids: pd.DataFrame) -> pd.DataFrame:
    """grid_id -> community_id, township_id."""
    comms = read(built.grid_db, "SELECT community_id, township_id FROM communities")
    return grids[["grid_id", "community_id"]].merge(comms, on="community_id", how="left")


@pytest.fixture(scope="module")
def clean(cases: pd.DataFrame, truth: dict[str, Any]) -> pd.DataFrame:
    """Cases without the planted dirty rows, with each row's township (from grid_id or township_id)."""
    dirty = {d["rowid"] for d in truth["dirty_rows"]}
    return cases[~cases["rowid"].isin(dirty)].copy()


def with_township(df: pd.DataFrame, hierarchy: pd.DataFrame) -> pd.DataFrame:
    out = df.merge(hierarchy[["grid_id", "township_id"]].rename(columns={"township_id": "grid_town"}),
                   on="grid_id", how="left")
    out["town"] = out["grid_town"].fillna(out["township_id"])
    return out


def by_ids(cases: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return cases[cases["case_id"].isin(ids)]


# --- files, schema, counts ------------------------------------------------------------------

def test_files_and_canonical_columns(built: DemoInfo) -> None:
    assert demo_exists(built.grid_db.parent)
    for db, names in ((built.grid_db, GRID_TABLES), (built.case_db, CASE_TABLES)):
        for name in names:
            cols = read(db, f'PRAGMA table_info("{name}")')["name"].tolist()
            assert tuple(cols) == TABLES[name].names, name


def test_counts_match_tables(built: DemoInfo) -> None:
    assert built.district_name == "新城区"
    assert built.counts["cases"] == SMALL["cases"]
    assert built.counts["grids"] == SMALL["grids"]
    assert built.counts["townships"] == 10
    for db, names in ((built.grid_db, GRID_TABLES), (built.case_db, CASE_TABLES)):
        for name in names:
            n = int(read(db, f'SELECT COUNT(*) AS n FROM "{name}"')["n"][0])
            assert n == built.counts[name], name
            assert n > 0, name


def test_case_ids_unique_but_planted_duplicates(cases: pd.DataFrame, truth: dict[str, Any]) -> None:
    dups = [d for d in truth["dirty_rows"] if d["type"] == "duplicate_case_id"]
    assert cases["case_id"].duplicated().sum() == len(dups) > 0
    assert cases["case_id"].str.fullmatch(r"(XF|TJ|RX)\d{8}\d{6,}").all()


def test_indexes_on_cases(built: DemoInfo) -> None:
    idx = read(built.case_db, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cases'")
    text = " ".join(idx["sql"])
    assert '("updated_at")' in text and '("case_id")' in text


# --- geography --------------------------------------------------------------------------------

def test_grids_partition_the_outline(grids: pd.DataFrame) -> None:
    _, outline = load_outline("150102")
    geoms = grids["geom"].to_numpy()
    assert shapely.is_valid(geoms).all()
    assert set(shapely.get_type_id(geoms)) <= {3, 6}
    union = shapely.union_all(geoms)
    assert abs(union.area - outline.area) / outline.area < 1e-9
    assert abs(shapely.area(geoms).sum() - outline.area) / outline.area < 1e-9
    assert shapely.symmetric_difference(union, outline).area / outline.area < 1e-9
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    overlap = shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]])).sum()
    assert overlap / outline.area < 1e-12


def test_hierarchy_is_consistent(built: DemoInfo, grids: pd.DataFrame, hierarchy: pd.DataFrame) -> None:
    towns = read(built.grid_db, "SELECT * FROM townships")
    comms = read(built.grid_db, "SELECT * FROM communities")
    assert towns["geometry"].isna().all() and comms["geometry"].isna().all()
    assert hierarchy["township_id"].notna().all()
    assert set(comms["township_id"]) == set(towns["township_id"])  # no empty township
    assert set(grids["community_id"]) == set(comms["community_id"])  # no empty community
    assert grids["grid_id"].is_unique and comms["community_id"].is_unique
    assert all(len(t) == 9 and t.startswith("150102") for t in towns["township_id"])
    assert all(c.startswith(t) and len(c) == 12 for c, t in zip(comms["community_id"], comms["township_id"]))
    assert all(g.startswith(c) and len(g) == 15 for g, c in zip(grids["grid_id"], grids["community_id"]))
    assert {"迎新路街道", "东街街道", "保合少镇"} <= set(towns["name"])
    assert all(n.endswith(("社区", "村")) for n in comms["name"])
    assert all(re.fullmatch(r"第\d+网格", n) for n in grids["name"])
    assert grids["households"].between(300, 500).all()
    ratio = grids["population"] / grids["households"]
    assert ratio.between(2.0, 3.2).all() and abs(ratio.mean() - 2.6) < 0.1


def test_workers_and_inspections(built: DemoInfo, grids: pd.DataFrame) -> None:
    workers = read(built.grid_db, "SELECT * FROM grid_workers")
    links = read(built.grid_db, "SELECT * FROM worker_grids")
    insp = read(built.grid_db, "SELECT * FROM inspections")
    assert workers["worker_id"].is_unique and workers["login"].str.fullmatch(r"gw\d{4,}").all()
    assert workers["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert set(links["worker_id"]) == set(workers["worker_id"])
    per_grid = links.groupby("grid_id").size()
    assert set(per_grid.index) == set(grids["grid_id"]) and per_grid.max() <= 3
    assert links.groupby("worker_id").size().max() <= 3
    insp["t"] = pd.to_datetime(insp["inspected_at"])
    assert insp["t"].max() <= pd.Timestamp(AS_OF)
    gaps = insp.sort_values("t").groupby("grid_id")["t"].diff().dt.total_seconds().dropna() / 86400
    assert 7.0 <= gaps.median() <= 12.0
    last = insp.groupby("grid_id")["t"].max()
    assert (last < pd.Timestamp(AS_OF) - pd.Timedelta(days=20)).any()  # some grids overdue
    assert insp["issues_found"].between(0, 6).all()


# --- determinism --------------------------------------------------------------------------------

def table_digest(db: Path, name: str) -> str:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_same_seed_same_content(built: DemoInfo, truth: dict[str, Any], tmp_path: Path) -> None:
    again = build_demo(tmp_path / "again", **SMALL)
    for db_a, db_b, names in ((built.grid_db, again.grid_db, GRID_TABLES),
                              (built.case_db, again.case_db, CASE_TABLES)):
        for name in names:
            assert table_digest(db_a, name) == table_digest(db_b, name), name
    assert json.loads(again.truth_path.read_text(encoding="utf-8")) == truth
    other = build_demo(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    assert table_digest(built.case_db, "cases") != table_digest(other.case_db, "cases")


# --- case mixes and lifecycle -----------------------------------------------------------------------

def test_enumerated_columns_hold_codes(clean: pd.DataFrame) -> None:
    for column in TABLES["cases"].columns:
        if column.enum:
            values = set(clean[column.name].dropna())
            assert values <= set(ENUMERATIONS[column.enum].codes), column.name
    cats = category_enumeration(DEFAULT_CATEGORY_ALIASES)
    assert all(cats.parse(v) for v in clean["category"])
    assert set(clean["category"]) & set(DEFAULT_CATEGORY_ALIASES)  # a few post-2018 names


def test_realistic_mixes(clean: pd.DataFrame) -> None:
    kind = clean["kind"].value_counts(normalize=True)
    assert 0.52 < kind["petition"] < 0.68 and 0.19 < kind["dispute"] < 0.31 and 0.10 < kind["hotline"] < 0.20
    top = {k: clean[clean["kind"] == k]["channel"].value_counts().index[0] for k in kind.index}
    assert top == {"petition": "online", "dispute": "grid", "hotline": "hotline"}
    assert 0.015 < clean["is_accusation"].mean() < 0.05
    assert (clean["is_accusation"] == (clean["purpose"] == "accusation")).all()
    top4 = set(clean["category"].value_counts().index[:5])
    assert {"城乡建设", "劳动和社会保障"} <= top4
    visits = clean[clean["channel"] == "visit"]
    assert 0.01 < (visits["people_count"] >= 5).mean() < 0.06
    assert (clean["people_count"] == 1).mean() > 0.85
    assert clean["level_visited"].value_counts().index[0] == "county"
    assert clean["petitioner_phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert clean["petitioner_key"].str.fullmatch(r"P\d{7}").all()
    ids = clean["petitioner_id_no"].dropna()
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    assert all(id_checksum_ok(v) for v in ids.head(200))
    assert clean["address"].str.startswith("新城区").all()
    received = pd.to_datetime(clean["received_at"])
    weekend = received.dt.day_of_week >= 5
    assert weekend.mean() < 0.22  # fewer on weekends than 2/7


def id_checksum_ok(value: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(value[:17], weights)) % 11] == value[17]


def test_lifecycle_invariants(clean: pd.DataFrame) -> None:
    t = {c: pd.to_datetime(clean[c]) for c in ("received_at", "accepted_at", "due_at", "extended_due_at",
                                                "replied_at", "closed_at", "evaluated_at", "updated_at",
                                                "review_requested_at")}
    for c, values in t.items():
        assert clean[c].dropna().str.match(DATETIME).all(), c
        if c not in ("due_at", "extended_due_at"):  # deadlines may lie ahead; events may not
            assert (values.dropna() <= pd.Timestamp(AS_OF)).all(), c
    acc = t["accepted_at"].notna()
    assert (t["accepted_at"][acc] >= t["received_at"][acc]).all()
    assert ((t["due_at"] - t["accepted_at"])[acc] == pd.Timedelta(days=60)).all()
    ext = t["extended_due_at"].notna()
    assert ((t["extended_due_at"] - t["due_at"])[ext] == pd.Timedelta(days=30)).all()
    rep = t["replied_at"].notna()
    assert (t["replied_at"][rep] >= t["accepted_at"][rep]).all()
    cl = t["closed_at"].notna()
    assert (t["closed_at"][cl] >= t["replied_at"][cl]).all()
    assert (clean["satisfaction"].notna() == t["evaluated_at"].notna()).all()
    latest = pd.concat([v for k, v in t.items() if k not in ("due_at", "extended_due_at")], axis=1).max(axis=1)
    assert (latest <= t["updated_at"]).all()
    delay = (t["accepted_at"] - t["received_at"]).dt.total_seconds() / 86400
    assert 0.001 < (delay > 15).mean() < 0.04  # a few accepted late
    handling = ((t["closed_at"] - t["accepted_at"]).dt.total_seconds() / 86400).dropna()
    assert 10 < handling.mean() < 22
    evaluated = clean["satisfaction"].notna().sum() / clean["status"].isin(["closed", "resolved"]).sum()
    assert 0.55 < evaluated < 0.9
    assert (clean["review_stage"] == "none").mean() > 0.9
    assert (clean["review_stage"] != "none").any()


def test_red_light_backlog_is_realistic(clean: pd.DataFrame) -> None:
    open_ = clean["status"].isin(sorted(STATUS.with_flag("open")))
    deadline = pd.to_datetime(clean["extended_due_at"].fillna(clean["due_at"]))
    red = open_ & (deadline < pd.Timestamp(AS_OF))
    assert 0.03 < red.sum() / open_.sum() < 0.25
    recent = pd.to_datetime(clean["received_at"]) > pd.Timestamp(AS_OF) - pd.Timedelta(days=3)
    assert open_[recent].mean() > 0.5  # recent cases still open


# --- locations ---------------------------------------------------------------------------------------

def test_points_lie_in_their_grids(clean: pd.DataFrame, grids: pd.DataFrame) -> None:
    geom = dict(zip(grids["grid_id"], grids["geom"]))
    rows = clean[clean["grid_id"].notna() & clean["lon"].notna() & (clean["coord_sys"] != "gcj02")]
    assert len(rows) > 500
    inside = shapely.intersects_xy(np.array([geom[g] for g in rows["grid_id"]]),
                                   rows["lon"].to_numpy(), rows["lat"].to_numpy())
    assert inside.all()


def test_location_classes(clean: pd.DataFrame) -> None:
    n = len(clean)
    gcj = (clean["coord_sys"] == "gcj02").mean()
    no_point = clean["lon"].isna()
    grid_only = (no_point & clean["grid_id"].notna()).mean()
    town_only = (no_point & clean["grid_id"].isna() & clean["township_id"].notna()).mean()
    assert 0.03 < gcj < 0.07 and 0.03 < grid_only < 0.07 and 0.003 < town_only < 0.02, n
    assert set(clean["coord_sys"].dropna()) == {"wgs84", "gcj02"}
    assert clean["coord_sys"].isna().any()  # NULL: the source default


def test_gcj02_rows_are_offset_a_few_hundred_metres(clean: pd.DataFrame, grids: pd.DataFrame) -> None:
    geom = dict(zip(grids["grid_id"], grids["geom"]))
    rows = clean[(clean["coord_sys"] == "gcj02") & clean["grid_id"].notna()]
    assert len(rows) > 20
    for lon, lat, grid_id in rows[["lon", "lat", "grid_id"]].itertuples(index=False):
        wlon, wlat = gcj02_to_wgs84(lon, lat)
        metres = math.hypot((lon - wlon) * 111_320 * math.cos(math.radians(lat)), (lat - wlat) * 110_540)
        assert 300 < metres < 900
        assert shapely.intersects_xy(geom[grid_id], wlon, wlat) or \
            shapely.distance(geom[grid_id], shapely.Point(wlon, wlat)) < 1e-6


# --- planted patterns ----------------------------------------------------------------------------------

def patterns(truth: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found = [p for p in truth["patterns"] if p["type"] == kind]
    assert found, kind
    return found


def test_truth_document_shape(truth: dict[str, Any], cases: pd.DataFrame) -> None:
    assert truth["version"] == demo.TRUTH_VERSION and truth["seed"] == SMALL["seed"]
    assert truth["end"] == END.isoformat() and truth["as_of"] == AS_OF
    kinds = {p["type"] for p in truth["patterns"]}
    assert kinds == {"township_surge", "spatial_cluster", "emerging_hotspot", "repeated_collective_visits",
                     "large_collective_visit", "level_skipping", "repeat_petitioner", "overdue_backlog"}
    ids = set(cases["case_id"])
    for p in truth["patterns"]:
        assert {"type", "scope", "scope_ids", "onset", "onset_rule", "first_case", "count", "case_ids"} <= set(p)
        assert p["count"] == len(p["case_ids"]) > 0
        assert set(p["case_ids"]) <= ids
        assert p["onset_rule"] == demo.ONSET_RULES[p["type"]]
        assert dt.date.fromisoformat(p["first_case"]) <= dt.date.fromisoformat(p["onset"]) <= END


@pytest.mark.parametrize("kind", ["repeated_collective_visits", "repeat_petitioner"])
def test_rule_onset_is_the_day_the_rule_first_holds(truth: dict[str, Any], clean: pd.DataFrame, kind: str) -> None:
    for p in patterns(truth, kind):
        received = pd.to_datetime(by_ids(clean, p["case_ids"])["received_at"]).sort_values()
        assert p["onset"] == received.iloc[2].date().isoformat()  # the 3rd case
        assert p["first_case"] == received.iloc[0].date().isoformat()


def test_backlog_onset_is_the_day_the_threshold_is_reached(truth: dict[str, Any], clean: pd.DataFrame) -> None:
    """Counted as geo.deadlines does: red from the day after due_at, 积案 once received > backlog_days ago."""
    (p,) = patterns(truth, "overdue_backlog")
    rows = by_ids(clean, p["case_ids"])
    due = pd.to_datetime(rows["due_at"]).dt.normalize()
    received = pd.to_datetime(rows["received_at"]).dt.normalize()
    onset = pd.Timestamp(p["onset"])

    def reached(day: pd.Timestamp) -> bool:
        red = int((due < day).sum())
        old = int((received < day - pd.Timedelta(days=p["backlog_days"])).sum())
        return red >= p["threshold"]["red_cases"] or old >= p["threshold"]["backlog_cases"]

    assert reached(onset) and not reached(onset - pd.Timedelta(days=1))


def daily_counts(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df["received_at"]).dt.normalize().value_counts()


def test_township_surge(truth: dict[str, Any], clean: pd.DataFrame, hierarchy: pd.DataFrame) -> None:
    (p,) = patterns(truth, "township_surge")
    df = with_township(clean, hierarchy)
    town = df[df["town"] == p["scope_ids"][0]]
    days = daily_counts(town)
    onset = pd.Timestamp(p["onset"])
    recent = days[days.index >= onset].sum() / 5
    baseline = days[(days.index < onset) & (days.index >= onset - pd.Timedelta(days=56))].sum() / 56
    assert recent > 3 * baseline
    rows = by_ids(df, p["case_ids"])
    assert (rows["town"] == p["scope_ids"][0]).all()
    assert (pd.to_datetime(rows["received_at"]) >= onset).all()


def test_spatial_cluster(truth: dict[str, Any], clean: pd.DataFrame, grids: pd.DataFrame) -> None:
    (p,) = patterns(truth, "spatial_cluster")
    block = p["scope_ids"]
    assert 6 <= len(block) <= 8
    geoms = grids.set_index("grid_id").loc[block, "geom"].to_numpy()
    assert shapely.union_all(geoms).geom_type == "Polygon"  # edge-contiguous
    received = pd.to_datetime(clean["received_at"])
    in_block = clean["grid_id"].isin(block)
    onset = pd.Timestamp(p["onset"])
    recent = (in_block & (received >= onset)).sum() / 30
    before = (in_block & (received < onset) & (received >= onset - pd.Timedelta(days=180))).sum() / 180
    assert recent > 2.5 * before


def kendall_s(y: np.ndarray) -> int:
    return int(sum(np.sign(y[j] - y[i]) for i in range(len(y)) for j in range(i + 1, len(y))))


def test_emerging_hotspot(truth: dict[str, Any], clean: pd.DataFrame) -> None:
    """A clear step in the first week of the 12 (so that Gi* marks the block hot at once), then a rise."""
    (p,) = patterns(truth, "emerging_hotspot")
    rows = clean[clean["grid_id"].isin(p["scope_ids"])]
    received = pd.to_datetime(rows["received_at"])
    start = pd.Timestamp(p["onset"])
    week = (received - start).dt.days // 7  # −1 … −12: the 12 weeks before the onset
    weekly = week[(week >= -12) & (week < 12)].value_counts().reindex(range(-12, 12), fill_value=0)
    before, after = weekly.loc[-12:-1], weekly.loc[0:11]
    assert after.loc[0] > 3 * max(before.mean(), 1.0)
    assert after.iloc[-4:].mean() > 1.4 * after.iloc[:4].mean()
    assert kendall_s(after.to_numpy()) > 0.5 * 66  # Kendall tau > 0.5
    assert p["step_factor"] > 1 and p["rise_factor"] > 0
    for series in p["weekly_extra"].values():
        assert series[-1] > series[0] > 0 and kendall_s(np.array(series)) > 0.5 * 66


def test_repeated_collective_visits(truth: dict[str, Any], clean: pd.DataFrame,
                                    hierarchy: pd.DataFrame) -> None:
    (p,) = patterns(truth, "repeated_collective_visits")
    rows = with_township(by_ids(clean, p["case_ids"]), hierarchy)
    assert 3 <= len(rows) <= 4
    assert rows["people_count"].between(8, 30).all()
    assert (rows["channel"] == "visit").all() and rows["category"].nunique() == 1
    assert rows["category"].iloc[0] == p["category"]
    assert (rows["town"] == p["scope_ids"][0]).all()
    received = pd.to_datetime(rows["received_at"])
    assert received.max() - received.min() <= pd.Timedelta(days=7)
    assert received.max() >= pd.Timestamp(AS_OF) - pd.Timedelta(days=14)


def test_large_collective_visit(truth: dict[str, Any], clean: pd.DataFrame) -> None:
    (p,) = patterns(truth, "large_collective_visit")
    rows = by_ids(clean, p["case_ids"])
    assert len(rows) == 1 and rows["people_count"].iloc[0] == p["people"] >= 50


def test_level_skipping(truth: dict[str, Any], clean: pd.DataFrame) -> None:
    found = {p["level_visited"]: p for p in patterns(truth, "level_skipping")}
    assert set(found) == {"province", "national"}
    assert 2 <= found["province"]["count"] <= 4 and 1 <= found["national"]["count"] <= 2
    for level, p in found.items():
        assert (by_ids(clean, p["case_ids"])["level_visited"] == level).all()


def test_repeat_petitioners(truth: dict[str, Any], clean: pd.DataFrame) -> None:
    found = patterns(truth, "repeat_petitioner")
    assert len(found) >= 3
    for p in found:
        rows = clean[clean["petitioner_key"] == p["scope_ids"][0]]
        assert set(p["case_ids"]) <= set(rows["case_id"]) and len(p["case_ids"]) >= 3
        planted = by_ids(rows, p["case_ids"])
        span = pd.to_datetime(planted["received_at"]).agg(["min", "max"])
        assert span["max"] - span["min"] <= pd.Timedelta(days=30)
        assert planted["category"].nunique() == 1 and planted["grid_id"].nunique() == 1


def test_overdue_backlog(truth: dict[str, Any], clean: pd.DataFrame, hierarchy: pd.DataFrame) -> None:
    (p,) = patterns(truth, "overdue_backlog")
    df = with_township(clean, hierarchy)
    rows = by_ids(df, p["case_ids"])
    assert len(rows) == p["count"] >= 40
    assert rows["status"].isin(["accepted", "handling"]).all()
    assert (pd.to_datetime(rows["due_at"]) < pd.Timestamp(AS_OF)).all()
    open_ = df["status"].isin(sorted(STATUS.with_flag("open")))
    deadline = pd.to_datetime(df["extended_due_at"].fillna(df["due_at"]))
    red = df[open_ & (deadline < pd.Timestamp(AS_OF))]
    assert red["town"].value_counts().index[0] == p["scope_ids"][0]


# --- dirty rows ---------------------------------------------------------------------------------------

def test_dirty_rows_are_present(truth: dict[str, Any], cases: pd.DataFrame) -> None:
    dirty = truth["dirty_rows"]
    kinds = {d["type"] for d in dirty}
    assert kinds == {"unknown_status", "unparsable_received_at", "future_received_at",
                     "closed_before_received", "swapped_lon_lat", "zero_coordinates",
                     "duplicate_case_id", "missing_category", "unknown_category"}
    assert 20 <= len(dirty) <= 40
    row = cases.set_index("rowid")
    cats = category_enumeration(DEFAULT_CATEGORY_ALIASES)
    for d in dirty:
        r = row.loc[d["rowid"]]
        assert r["case_id"] == d["case_id"]
        if d["type"] == "unknown_status":
            assert r["status"] == d["value"] and STATUS.parse(r["status"]) is None
        elif d["type"] == "unparsable_received_at":
            assert pd.isna(pd.to_datetime(r["received_at"], errors="coerce", format="%Y-%m-%d %H:%M:%S"))
        elif d["type"] == "future_received_at":
            assert r["received_at"] > "2030"
        elif d["type"] == "closed_before_received":
            assert r["closed_at"] < r["received_at"]
        elif d["type"] == "swapped_lon_lat":
            assert r["lat"] > 90 and 35 < r["lon"] < 45
        elif d["type"] == "zero_coordinates":
            assert r["lon"] == 0 and r["lat"] == 0
        elif d["type"] == "missing_category":
            assert pd.isna(r["category"])
        elif d["type"] == "unknown_category":
            assert r["category"] == d["value"] and cats.parse(r["category"]) is None
        elif d["type"] == "duplicate_case_id":
            same = cases[cases["case_id"] == d["case_id"]]
            assert len(same) == 2 and sorted(same["updated_at"]) == d["updated_at"]
            a, b = (same.drop(columns=["rowid", "updated_at"]).iloc[i] for i in (0, 1))
            assert a.equals(b)


# --- leaders and supervisions -----------------------------------------------------------------------

def test_leaders_and_areas(built: DemoInfo) -> None:
    leaders = read(built.case_db, "SELECT * FROM leaders")
    areas = read(built.case_db, "SELECT * FROM leader_areas")
    towns = read(built.grid_db, "SELECT township_id FROM townships")
    assert leaders["leader_id"].is_unique
    level = leaders["level"].value_counts()
    assert level["county"] == 28 and level["township"] == 20 and level["village"] >= 10
    assert set(areas["township_id"]) == set(towns["township_id"])
    lv = areas.merge(leaders, on="leader_id")
    per_town = lv.groupby(["township_id", "level"]).size().unstack()
    assert (per_town["county"] == 3).all() and (per_town["township"] == 2).all()  # "3+2"
    assert leaders["post"].str.contains("区委副书记").any() and leaders["post"].str.contains("镇党委书记").any()


def test_leader_cases(built: DemoInfo, cases: pd.DataFrame, truth: dict[str, Any]) -> None:
    lc = read(built.case_db, "SELECT * FROM leader_cases")
    leaders = read(built.case_db, "SELECT leader_id FROM leaders")
    assert 0.01 <= len(lc) / len(cases) <= 0.02
    assert set(lc["leader_id"]) <= set(leaders["leader_id"])
    assert set(lc["case_id"]) <= set(cases["case_id"])
    assert set(lc["stage"]) <= set(ENUMERATIONS["leader_stage"].codes)
    resolved = lc["stage"].isin(["resolved", "followed_up"])
    assert (lc["resolved_at"].notna() == resolved).all()
    assert (lc.loc[lc["followed_up_at"].notna(), "stage"] == "followed_up").all()
    assert (lc["assigned_at"] <= lc["due_at"]).all()
    for kind in ("repeated_collective_visits", "large_collective_visit", "level_skipping"):
        for p in patterns(truth, kind):
            assert set(p["case_ids"]) <= set(lc["case_id"]), kind
    # preferring hard cases: collective visits are over-represented
    hard = cases[cases["case_id"].isin(lc["case_id"])]
    assert (hard["people_count"] >= 5).mean() > 3 * (cases["people_count"] >= 5).mean()


def test_supervisions(built: DemoInfo, cases: pd.DataFrame) -> None:
    sv = read(built.case_db, "SELECT * FROM supervisions")
    assert 0.007 <= len(sv) / len(cases) <= 0.013 and sv["supervision_id"].is_unique
    tiers = sv["tier"].value_counts()
    assert set(tiers.index) == {"交办", "督办", "挂牌督办"}
    assert tiers["交办"] > tiers["督办"] > tiers["挂牌督办"]
    assert set(sv["status"]) <= set(ENUMERATIONS["supervision_status"].codes)
    days = (pd.to_datetime(sv["due_at"]) - pd.to_datetime(sv["issued_at"])).dt.days
    assert days.between(7, 15).all()
    assert sv["reminders"].between(0, 3).all()
    overdue = (sv["status"] == "issued") & (sv["due_at"] < AS_OF)
    assert overdue.any()
    assert set(sv["case_id"]) <= set(cases["case_id"])


# --- writing -----------------------------------------------------------------------------------------

def test_rebuild_replaces_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"
    assert not demo_exists(out)
    first = build_demo(out, **SMALL)
    digest = table_digest(first.case_db, "cases")

    def fail(path: Path, tables: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(demo, "_write_sqlite", fail)
    with pytest.raises(OSError):
        build_demo(out, **{**SMALL, "seed": 99})
    assert demo_exists(out) and table_digest(out / demo.CASE_DB_NAME, "cases") == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no temp dirs left
    monkeypatch.undo()
    build_demo(out, **{**SMALL, "seed": 99})
    assert demo_exists(out) and table_digest(out / demo.CASE_DB_NAME, "cases") != digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_demo_exists_needs_all_files(tmp_path: Path) -> None:
    (tmp_path / demo.GRID_DB_NAME).write_bytes(b"")
    (tmp_path / demo.CASE_DB_NAME).write_bytes(b"")
    assert not demo_exists(tmp_path)
    (tmp_path / demo.TRUTH_NAME).write_text("{not json", encoding="utf-8")
    assert not demo_exists(tmp_path)


def test_bad_arguments_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cases"):
        build_demo(tmp_path / "x", cases=10)
    with pytest.raises(ConfigError, match="grids"):
        build_demo(tmp_path / "x", grids=5)
    with pytest.raises(ConfigError, match="district_code"):
        build_demo(tmp_path / "x", cases=1000, grids=20, district_code="999999")
    assert not (tmp_path / "x").exists()


def test_default_end_is_today_without_future_events(tmp_path: Path) -> None:
    info = build_demo(tmp_path / "today", cases=1000, grids=20, seed=3)
    now = dt.datetime.now(demo.SHANGHAI).replace(tzinfo=None)
    assert info.end == now.date()
    latest = read(info.case_db, "SELECT MAX(updated_at) AS m FROM cases WHERE received_at < '2030'")["m"][0]
    assert latest <= now.strftime("%Y-%m-%d %H:%M:%S")
