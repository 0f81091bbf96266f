"""The same canonical fixture written to PostGIS, MariaDB, SQLite and files reads back identically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from canonical import canonical_tables, mariadb_queries, write_files, write_mariadb, write_postgis, write_sqlalchemy
from dashboard.settings import Settings, settings_from_dict
from loaders.load import LoadResult, load_sources
from loaders.schema import TABLES

GRID = [t for t in TABLES if TABLES[t].source == "grid"]
CASE = [t for t in TABLES if TABLES[t].source == "case"]
LEADER_HEADERS = {"leaders": {"领导编号": "leader_id", "姓名": "name", "职务": "post", "层级": "level"}}


def _settings(grid: dict, case: dict, base: Path) -> Settings:
    return settings_from_dict({"sources": {"grid": grid, "case": case}}, base_dir=base)


def _reset_schema(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name in TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    engine.dispose()


def normalised(result: LoadResult) -> dict[str, pd.DataFrame]:
    """Frames comparable across backends: geometry as normalised WKT, rows sorted by key."""
    out = {}
    for name, frame in result.tables.items():
        f = frame.copy()
        if "geometry" in f:
            f["geometry"] = [None if g is None else shapely.to_wkt(shapely.normalize(g), rounding_precision=9)
                             for g in f["geometry"]]
        out[name] = f.sort_values(list(TABLES[name].key)).reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("sqlite")
    tables = canonical_tables()
    write_sqlalchemy(f"sqlite:///{base}/grid.sqlite", {t: tables[t] for t in GRID})
    write_sqlalchemy(f"sqlite:///{base}/case.sqlite", {t: tables[t] for t in CASE}, geometry="wkt")
    result = load_sources(_settings({"url": "sqlite:///grid.sqlite"}, {"url": "sqlite:///case.sqlite"}, base))
    assert result.rejected.empty, result.rejected
    assert set(result.methods.values()) == {"adbc"}
    return normalised(result)


def assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert set(got) == set(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=True, obj=name)


def test_reference_has_every_table(reference: dict[str, pd.DataFrame]) -> None:
    assert set(reference) == set(TABLES)
    assert all(len(f) > 0 for f in reference.values())
    assert reference["townships"]["geometry"].notna().all()  # derived from the grids


def test_sqlite_plain_sqlalchemy_path_matches(tmp_path: Path, reference: dict[str, pd.DataFrame]) -> None:
    tables = canonical_tables()
    write_sqlalchemy(f"sqlite:///{tmp_path}/grid.sqlite", {t: tables[t] for t in GRID}, geometry="wkt")
    write_sqlalchemy(f"sqlite:///{tmp_path}/case.sqlite", {t: tables[t] for t in CASE})
    result = load_sources(_settings({"url": "sqlite:///grid.sqlite", "fast_path": False},
                                    {"url": "sqlite:///case.sqlite", "fast_path": False}, tmp_path))
    assert set(result.methods.values()) == {"sqlalchemy"}
    assert_same(normalised(result), reference)


@pytest.mark.db
@pytest.mark.parametrize("fast_path", [True, False], ids=["adbc", "sqlalchemy"])
def test_postgis_matches(postgis_url: str, tmp_path: Path, reference: dict[str, pd.DataFrame],
                         fast_path: bool) -> None:
    _reset_schema(postgis_url)
    write_postgis(postgis_url, canonical_tables())
    src = {"url": postgis_url, "fast_path": fast_path}
    result = load_sources(_settings(src, src, tmp_path))
    assert set(result.methods.values()) == {"adbc" if fast_path else "sqlalchemy"}
    assert result.rejected.empty, result.rejected
    assert_same(normalised(result), reference)


@pytest.mark.db
def test_mariadb_matches(mariadb_url: str, tmp_path: Path, reference: dict[str, pd.DataFrame]) -> None:
    _reset_schema(mariadb_url)
    tables = canonical_tables()
    write_mariadb(mariadb_url, tables)
    queries = mariadb_queries(tables)
    result = load_sources(_settings({"url": mariadb_url, "queries": {t: q for t, q in queries.items() if t in GRID}},
                                    {"url": mariadb_url}, tmp_path))
    assert result.rejected.empty, result.rejected
    assert_same(normalised(result), reference)


def test_geopackage_and_xlsx_files_match(tmp_path: Path, reference: dict[str, pd.DataFrame]) -> None:
    tables = canonical_tables()
    files = write_files(tmp_path / "files", tables, headers=LEADER_HEADERS)
    grid = {"url": None, "files": {t: files[t] for t in GRID}}
    case = {"url": None, "files": {t: files[t] for t in CASE}, "columns": LEADER_HEADERS}
    result = load_sources(_settings(grid, case, tmp_path))
    assert result.methods["grids"] == "file" and files["grids"].endswith(".gpkg")
    assert files["leaders"].endswith(".xlsx")
    assert result.rejected.empty, result.rejected
    assert_same(normalised(result), reference)


def test_csv_in_gb18030_and_geojson(tmp_path: Path, reference: dict[str, pd.DataFrame]) -> None:
    tables = canonical_tables()
    files = write_files(tmp_path / "files", tables)
    csv = tmp_path / "files" / "leaders.csv"
    tables["leaders"].to_csv(csv, index=False, encoding="gb18030")
    import geopandas as gpd

    gj = tmp_path / "files" / "grids.geojson"
    gpd.GeoDataFrame(tables["grids"], geometry="geometry", crs="EPSG:4326").to_file(gj, driver="GeoJSON")
    files.update({"leaders": str(csv), "grids": str(gj)})
    result = load_sources(_settings({"url": None, "files": {t: files[t] for t in GRID}},
                                    {"url": None, "files": {t: files[t] for t in CASE}}, tmp_path))
    assert result.rejected.empty, result.rejected
    got = normalised(result)
    pd.testing.assert_frame_equal(got["leaders"], reference["leaders"])
    pd.testing.assert_frame_equal(got["grids"], reference["grids"])


def test_dirty_sqlite_column_keeps_fast_path(tmp_path: Path) -> None:
    """Text in a REAL column makes ADBC's typed read fail; the text fallback still uses Arrow."""
    tables = canonical_tables()
    write_sqlalchemy(f"sqlite:///{tmp_path}/grid.sqlite", {t: tables[t] for t in GRID})
    write_sqlalchemy(f"sqlite:///{tmp_path}/case.sqlite", {t: tables[t] for t in CASE})
    engine = sa.create_engine(f"sqlite:///{tmp_path}/case.sqlite")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE cases SET lon = 'east' WHERE case_id = 'C001'")
    engine.dispose()
    result = load_sources(_settings({"url": "sqlite:///grid.sqlite"}, {"url": "sqlite:///case.sqlite"}, tmp_path))
    assert result.methods["cases"] == "adbc"
    cases = result.tables["cases"].set_index("case_id")
    assert len(cases) == 4 and pd.isna(cases.loc["C001", "lon"]) and cases.loc["C002", "lon"] == 111.715
    reasons = result.rejected.loc[result.rejected["row_key"] == "C001", "reason"].tolist()
    assert "经度 不是数字" in reasons
