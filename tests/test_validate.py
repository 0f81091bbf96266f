"""Validation: each bad input is rejected or flagged with a reason; good rows are never dropped."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import shapely

from canonical import canonical_tables
from loaders.errors import SchemaError
from loaders.validate import (
    Rejections,
    ValidationContext,
    check_references,
    coordinate_problems,
    parse_geometry,
    validate_table,
)

NOW = datetime(2026, 11, 22, 12, 0, 0)


def ctx(**kw: object) -> ValidationContext:
    return ValidationContext(source="case", now=NOW, **kw)  # type: ignore[arg-type]


def cases_with(**changes: dict[int, object]) -> pd.DataFrame:
    """The canonical cases with some cells replaced: column=... {row: value}."""
    cases = canonical_tables()["cases"].astype(object)
    for col, cells in changes.items():
        for row, value in cells.items():
            cases.loc[row, col] = value
    return cases


def reasons(rej: Rejections, column: str | None = None) -> list[str]:
    frame = rej.frame()
    if column:
        frame = frame[frame["column"] == column]
    return frame["reason"].tolist()


def test_clean_fixture_passes_unchanged() -> None:
    for name, raw in canonical_tables().items():
        out, rej = validate_table(raw, name, ctx())
        assert len(out) == len(raw), name
        assert len(rej) == 0, (name, rej.frame())


def test_missing_required_column_names_table_column_and_config_key() -> None:
    raw = canonical_tables()["cases"].drop(columns=["received_at"])
    with pytest.raises(SchemaError) as err:
        validate_table(raw, "cases", ctx())
    msg = str(err.value)
    assert "cases" in msg and "received_at" in msg
    assert "sources.case.queries.cases" in msg and "sources.case.columns.cases" in msg


def test_unknown_enumeration_value_rejects_row_only() -> None:
    out, rej = validate_table(cases_with(status={1: "weird"}, channel={2: "carrier pigeon"}), "cases", ctx())
    assert set(out["case_id"]) == {"C001", "C004"}
    frame = rej.frame()
    assert set(frame["row_key"]) == {"C002", "C003"}
    assert (frame["action"] == "row_rejected").all()
    assert any("unknown value for status" in r for r in frame["reason"])


def test_chinese_labels_and_aliases_are_accepted() -> None:
    out, rej = validate_table(cases_with(status={1: "办理中"}, channel={1: "来访"}, category={1: "自然资源"}),
                              "cases", ctx(category_aliases={"自然资源": "国土资源"}))
    row = out.set_index("case_id").loc["C002"]
    assert (row["status"], row["channel"], row["category"]) == ("handling", "visit", "国土资源")
    assert len(rej) == 0


def test_unknown_category_points_to_alias_config() -> None:
    out, rej = validate_table(cases_with(category={0: "外星事务"}), "cases", ctx())
    assert "C001" not in set(out["case_id"])
    assert "categories.aliases" in reasons(rej, "category")[0]


def test_duplicate_ids_keep_latest_updated_at() -> None:
    raw = cases_with()
    dup = raw.iloc[[1]].copy()
    dup["updated_at"] = "2026-11-20 10:00:00"
    dup["status"] = "replied"
    raw = pd.concat([dup, raw], ignore_index=True)  # the newer copy comes first in source order
    out, rej = validate_table(raw, "cases", ctx())
    assert len(out) == 4
    assert out.set_index("case_id").loc["C002", "status"] == "replied"
    frame = rej.frame()
    assert frame["row_key"].tolist() == ["C002"] and "重复" in frame["reason"][0]


def test_unparsable_and_future_dates() -> None:
    out, rej = validate_table(
        cases_with(received_at={0: "2026-13-45"}, accepted_at={1: "next tuesday"},
                   closed_at={2: "2027-06-01 00:00:00"}, due_at={3: "2027-06-01"}),
        "cases", ctx())
    kept = out.set_index("case_id")
    assert "C001" not in kept.index  # required date unparsable: row rejected
    assert pd.isna(kept.loc["C002", "accepted_at"])  # optional: value cleared, row kept
    assert pd.isna(kept.loc["C003", "closed_at"])  # future event: cleared
    assert kept.loc["C004", "due_at"] == pd.Timestamp("2027-06-01", tz="Asia/Shanghai")  # deadlines may be future
    frame = rej.frame().set_index("row_key")
    assert frame.loc["C001", "action"] == "row_rejected"
    assert "未来" in frame.loc["C003", "reason"]


def test_impossible_calendar_dates_rejected_not_rolled_over() -> None:
    out, rej = validate_table(cases_with(received_at={0: "2026-02-30 10:00:00", 1: "2026-09-31"}), "cases", ctx())
    assert set(out["case_id"]) == {"C003", "C004"}
    assert set(rej.frame()["row_key"]) == {"C001", "C002"}


def test_date_formats_from_old_systems() -> None:
    out, _ = validate_table(
        cases_with(received_at={0: "2026年10月1日", 1: "2026/10/05 10:00", 2: 46000.5,
                                3: "2026-11-15T09:15:00+08:00"}), "cases", ctx())
    got = out.set_index("case_id")["received_at"]
    assert got["C001"] == pd.Timestamp("2026-10-01", tz="Asia/Shanghai")
    assert got["C002"] == pd.Timestamp("2026-10-05 10:00", tz="Asia/Shanghai")
    assert got["C003"] == pd.Timestamp("2025-12-09 12:00", tz="Asia/Shanghai")  # Excel serial 46000.5
    assert got["C004"] == pd.Timestamp("2026-11-15 09:15", tz="Asia/Shanghai")


def test_closed_before_received_is_cleared_and_flagged() -> None:
    out, rej = validate_table(cases_with(closed_at={0: "2026-09-01 00:00:00"}), "cases", ctx())
    assert len(out) == 4
    assert pd.isna(out.set_index("case_id").loc["C001", "closed_at"])
    assert reasons(rej, "closed_at") == ["办结时间 早于登记时间"]


@pytest.mark.parametrize(("lon", "lat", "reason"), [
    (np.nan, 40.8, "缺一"),
    (0.0, 0.0, "为0"),
    (111.7, 0.0, "为0"),
    (200.0, 40.8, "超出取值范围"),
    (40.805, 111.705, "颠倒"),
    (2.35, 48.85, "不在辖区"),
])
def test_bad_coordinates_are_dropped_row_kept(lon: float, lat: float, reason: str) -> None:
    out, rej = validate_table(cases_with(lon={0: lon}, lat={0: lat}), "cases", ctx())
    row = out.set_index("case_id").loc["C001"]
    assert len(out) == 4
    assert np.isnan(row["lon"]) and np.isnan(row["lat"])
    assert reason in row["coord_issue"]
    flagged = rej.frame()
    assert flagged["row_key"].tolist() == ["C001"] and (flagged["action"] == "value_cleared").all()


def test_coordinate_problems_vectorised() -> None:
    lon = np.array([111.7, np.nan, 0.0, 40.8])
    lat = np.array([40.8, np.nan, 40.8, 111.7])
    got = coordinate_problems(lon, lat, bounds=(73, 3, 136, 54))
    assert got[0] == "" and got[1] == "" and "为0" in got[2] and "颠倒" in got[3]


def test_unknown_row_coord_sys_is_flagged_and_default_applies() -> None:
    out, rej = validate_table(cases_with(coord_sys={0: "mercator?", 1: "GCJ-02", 2: None}), "cases",
                              ctx(coord_sys="bd09"))
    cs = out.set_index("case_id")["coord_sys"]
    assert cs["C002"] == "gcj02" and cs["C003"] == "bd09" and cs["C001"] == "bd09"
    assert np.isnan(out.set_index("case_id").loc["C001", "lon"])
    assert reasons(rej, "coord_sys")


def test_geometry_forms_parse_alike() -> None:
    poly = shapely.box(111.7, 40.8, 111.71, 40.81)
    values = pd.Series([shapely.to_wkb(poly), shapely.to_wkb(poly, hex=True), poly.wkt,
                        shapely.to_geojson(poly), "SRID=4326;" + poly.wkt,
                        shapely.to_wkb(poly, include_srid=True, hex=True), "not a shape", None], dtype=object)
    geoms, bad = parse_geometry(values)
    assert all(shapely.equals(g, poly) for g in geoms[:6])
    assert bad.tolist() == [False] * 6 + [True, False]


def test_invalid_polygon_repaired_and_reported() -> None:
    grids = canonical_tables()["grids"].copy()
    bowtie = shapely.from_wkt("POLYGON((111.70 40.80, 111.71 40.81, 111.71 40.80, 111.70 40.81, 111.70 40.80))")
    grids.loc[0, "geometry"] = bowtie
    out, rej = validate_table(grids, "grids", ctx())
    assert len(out) == 6
    fixed = out.loc[0, "geometry"]
    assert shapely.is_valid(fixed) and fixed.area == pytest.approx(bowtie.buffer(0).area + 0.5e-4, rel=0.5) \
        and shapely.get_type_id(fixed) in (3, 6)
    frame = rej.frame()
    assert frame["action"].tolist() == ["repaired"] and "Self-intersection" in frame["reason"][0]


def test_empty_or_missing_grid_geometry_rejects_the_grid() -> None:
    grids = canonical_tables()["grids"].copy().astype(object)
    grids.loc[0, "geometry"] = shapely.Polygon()
    grids.loc[1, "geometry"] = None
    grids.loc[2, "geometry"] = shapely.Point(111.7, 40.8)
    out, rej = validate_table(grids, "grids", ctx())
    assert len(out) == 3
    assert sorted(rej.frame()["reason"].str.slice(0, 4)) == sorted(["几何为空", "必需字段", "几何不是"])


def test_grid_whose_community_does_not_exist_is_rejected() -> None:
    tables = canonical_tables()
    tables["grids"].loc[0, "community_id"] = "999999999999"
    clean = {name: validate_table(raw, name, ctx())[0] for name, raw in tables.items()}
    rej = Rejections()
    out = check_references(clean, rej)
    assert len(out["grids"]) == 5
    frame = rej.frame()
    assert frame["table"][0] == "grids" and "999999999999" in frame["reason"][0]
    # what hung on the rejected grid goes with it, each with its own reason
    assert set(frame["table"][1:]) == {"worker_grids", "inspections"}


def test_case_codes_that_do_not_exist_are_cleared() -> None:
    tables = canonical_tables()
    tables["cases"].loc[3, "grid_id"] = "000"
    clean = {name: validate_table(raw, name, ctx())[0] for name, raw in tables.items()}
    rej = Rejections()
    out = check_references(clean, rej)
    assert len(out["cases"]) == 4 and pd.isna(out["cases"].set_index("case_id").loc["C004", "grid_id"])
    assert rej.frame()["action"].tolist() == ["value_cleared"]


def test_personal_values_never_copied_into_rejected() -> None:
    raw = cases_with(petitioner_phone={0: object()})  # unconvertible value in a personal column
    _, rej = validate_table(raw, "cases", ctx())
    assert "13812341234" not in rej.frame().to_string()


def test_excel_float_ids_and_ints() -> None:
    grids = canonical_tables()["grids"].copy()
    grids["households"] = grids["households"].astype(float)
    raw = canonical_tables()["townships"].copy()
    raw["township_id"] = [150102001.0, 150102002.0]
    out, _ = validate_table(raw, "townships", ctx())
    assert out["township_id"].tolist() == ["150102001", "150102002"]
    g, _ = validate_table(grids, "grids", ctx())
    assert str(g["households"].dtype) == "Int64"


def test_input_frame_not_mutated() -> None:
    raw = cases_with(lon={0: 0.0})
    before = raw.copy()
    validate_table(raw, "cases", ctx())
    pd.testing.assert_frame_equal(raw, before)
